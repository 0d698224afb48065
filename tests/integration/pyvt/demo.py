"""The README's demo: PostgreSQL + Apache with mod_voxtwilio (and its voxtwilio-helper) on
127.0.0.1, demo tenants created with voxtwilio-admin, and a whole simulated call to each,
then the call as `voxtwilio-admin calls show` reports it:
  - acme       the example script assistant over <Gather>: greeting, a question answered
               from the example intents, a request for a human, the transfer;
  - acme-ai    the same over <Gather> with a language model (a local stand-in);
  - acme-live  stream mode, offline: live audio over a Media Stream through
               mod_proxy_wstunnel to the helper, which speaks with espeak-ng, hears the
               caller's words with the offline recognizer (pocketsphinx) and reads the
               caller's keys; both sides of the call are written to .demo/stream-call.wav.

    /usr/bin/python3 tests/integration/pyvt/demo.py start [--build DIR] [--state DIR]
    /usr/bin/python3 tests/integration/pyvt/demo.py stop|status

State (cluster, key file, token, Apache ServerRoot) lives in ./.demo/ so `stop` can stop
what `start` started; running `start` again reuses it (idempotent).
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pyvt  # noqa: E402
from pyvt.util import DEFAULT_SRCDIR, free_port, port_open, user_can_reach  # noqa: E402

SLUG = "acme"
NAME = "Acme Dental"
GREETING = "Thank you for calling Acme Dental. How can I help you today?"
NUMBER = "+15005550006"
CALLER = "+14155550100"
ESCALATION = "+15005550010"
NOTIFY = "+15005550011"
CALLER_SCRIPT = """# what the caller says, one line per <Gather>
Hi, what are your opening hours?
Can I speak to a real person please?
"""
# The second tenant's assistant is a language model: here a local stand-in for an
# OpenAI-compatible endpoint (pyvt/openai_standin.py), started by the demo.
AI_SLUG = "acme-ai"
AI_NAME = "Acme Dental (AI)"
AI_NUMBER = "+15005550007"
AI_MODEL = "demo-model"
AI_CALLER_SCRIPT = """# what the caller says, one line per <Gather>
Hello, are you open on Saturdays?
Where are you located?
I have a problem with my crown, can I talk to a receptionist?
"""
# The third tenant is in stream mode with no realtime model and no speech-to-text endpoint:
# the helper's offline menu, spoken by espeak-ng; the caller speaks (the offline recognizer
# listens for the script's phrases), then presses keys (2: the second intent, opening hours;
# 0: a person).
LIVE_SLUG = "acme-live"
LIVE_NAME = "Acme Dental (live audio)"
LIVE_NUMBER = "+15005550008"
LIVE_CALLER_SCRIPT = """# stream mode: what the caller does, in order, each after the assistant spoke
where are you
dtmf 2
dtmf 0
"""
# The demo has no Twilio: the helper's REST calls (SMS alerts) go to a closed local port
# and wait for a retry instead of travelling to api.twilio.com with a made-up token.
NO_TWILIO = "http://127.0.0.1:9"


def rel(path):
    """path relative to the current directory when it is below it, else absolute."""
    r = os.path.relpath(path)
    return path if r.startswith("..") else r


def say(msg=""):
    print(msg, flush=True)


class Demo:
    def __init__(self, state_dir, build_dir):
        self.state_dir = os.path.abspath(state_dir)
        os.makedirs(self.state_dir, exist_ok=True)
        os.chmod(self.state_dir, 0o755)
        self.state_file = os.path.join(self.state_dir, "state.json")
        self.state = {}
        if os.path.exists(self.state_file):
            with open(self.state_file) as f:
                self.state = json.load(f)
        self.paths = pyvt.Paths(builddir=build_dir or self.state.get("build"),
                                srcdir=DEFAULT_SRCDIR)
        self.key_file = os.path.join(self.state_dir, "voxtwilio.keys")
        self.token_file = os.path.join(self.state_dir, "acme.token")
        self.analyse = None

    def save(self):
        with open(self.state_file, "w") as f:
            json.dump(self.state, f, indent=2)

    # ------------------------------------------------------------ pieces
    def shared_dir(self):
        """Where the postgres and nobody users can go: the state directory when they can
        traverse it, else a directory in /var/tmp named after this checkout (a clone below
        /root, mode 0700, is not reachable for them)."""
        if "shared_dir" in self.state:
            return self.state["shared_dir"]
        d = self.state_dir
        if not (user_can_reach("postgres", d) and user_can_reach("nobody", d)):
            h = hashlib.sha1(self.state_dir.encode()).hexdigest()[:10]
            d = "/var/tmp/voxtwilio-demo-%s" % h
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        self.state["shared_dir"] = d
        return d

    def pg_base(self):
        return self.state.get("pg_base") or os.path.join(self.shared_dir(), "pg")

    def pg(self):
        return pyvt.PgCluster(base_dir=self.pg_base(), port=self.state.get("pg_port"))

    def stream_socket(self):
        """The helper's Media Streams socket, below a directory Apache's user can reach
        (and short enough for a unix socket path)."""
        d = os.path.join(self.shared_dir(), "run")
        if len(d) > 80:
            h = hashlib.sha1(self.state_dir.encode()).hexdigest()[:10]
            d = "/tmp/voxtwilio-demo-%s" % h
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        return os.path.join(d, "voxtwilio", "stream.sock")

    def apache(self, conninfo=""):
        root = os.path.join(self.state_dir, "httpd")
        port = self.state.get("httpd_port")
        # httpd starts and supervises voxtwilio-helper: jobs, the spool, Media Streams.
        return pyvt.Apache(self.paths, conninfo, self.key_file, api_base=NO_TWILIO, root=root,
                           port=port, docroot=os.path.join(self.shared_dir(), "htdocs"),
                           stream_socket=self.stream_socket() if conninfo else None,
                           helper=self.helper_bin() if conninfo else None)

    def helper_bin(self):
        return os.path.join(os.path.dirname(self.paths.admin_bin), "voxtwilio-helper")

    # ------------------------------------------------------------ verbs
    def start(self):
        p = self.paths
        for f in (p.module_so, p.admin_bin):
            if not os.path.exists(f):
                sys.exit("demo: %s is missing: build first (scripts/demo.sh does)" % f)

        say("== PostgreSQL")
        pg = self.pg()
        if pg.running():
            say("   already running on 127.0.0.1:%d (%s)" % (pg.port, pg.datadir))
        else:
            if pg.port and port_open(pg.port):
                pg.port = free_port()
            pg.start()
            say("   started on 127.0.0.1:%d (data in %s)" % (pg.port, pg.datadir))
        self.state.update(pg_base=pg.base, pg_port=pg.port, build=p.builddir)
        self.save()

        admin = pyvt.Admin(p.admin_bin, pg.conninfo, self.key_file)

        def must(*args, **kw):
            r = admin(*args, **kw)
            if r.rc != 0:
                sys.exit("demo: voxtwilio-admin %s failed:\n%s%s" % (
                    " ".join(str(a) for a in args[:2]), r.out, r.err))
            return r

        say("== Schema and key file")
        say("   $ voxtwilio-admin migrate")
        must("migrate")
        if not os.path.exists(self.key_file):
            say("   $ voxtwilio-admin keys generate %s" % self.key_file)
            must("keys", "generate", self.key_file, key_file=None)
        else:
            say("   key file %s exists" % self.key_file)

        say("== Demo tenant '%s'" % SLUG)
        if not pg.psql("SELECT 1 FROM companies WHERE slug = '%s'" % SLUG):
            say('   $ voxtwilio-admin company add %s --name "%s" --greeting "%s"'
                % (SLUG, NAME, GREETING))
            must("company", "add", SLUG, "--name", NAME, "--greeting", GREETING)
        else:
            say("   company %s exists" % SLUG)
            must("company", "enable", SLUG)
        rows = pg.psql("SELECT i.account_sid FROM client_integrations i JOIN companies c "
                       "ON c.id = i.company_id WHERE c.slug = '%s'" % SLUG)
        have_token = os.path.exists(self.token_file)
        if not have_token:
            fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(pyvt.new_auth_token() + "\n")
        if not rows:
            sid = pyvt.new_account_sid()
            say("   $ voxtwilio-admin integration add %s --account-sid %s --number %s "
                "--auth-token-file %s" % (SLUG, sid, NUMBER, self.token_file))
            must("integration", "add", SLUG, "--account-sid", sid, "--number", NUMBER,
                 "--auth-token-file", self.token_file)
        else:
            sid = rows[0][0]
            say("   integration exists (AccountSid %s, number %s)" % (sid, NUMBER))
            if not have_token:
                say("   $ voxtwilio-admin integration set-token %s --auth-token-file %s"
                    % (SLUG, self.token_file))
                must("integration", "set-token", SLUG, "--auth-token-file", self.token_file)
        self.state["account_sid"] = sid
        self.save()
        say("   $ voxtwilio-admin company set %s --escalation-phone %s --notification-phone %s"
            % (SLUG, ESCALATION, NOTIFY))
        must("company", "set", SLUG, "--escalation-phone", ESCALATION,
             "--notification-phone", NOTIFY)
        example = os.path.join(p.srcdir, "docs", "examples", "assistant-dental.json")
        say("   $ voxtwilio-admin assistant import %s %s" % (SLUG, rel(example)))
        must("assistant", "import", SLUG, example)

        say("== Apache with mod_voxtwilio")
        ap = self.apache(conninfo=pg.conninfo)
        if ap.running():
            ap.stop()
            say("   stopped the previous demo Apache")
        if not ap.port or port_open(ap.port):
            ap.port = free_port()
        since = ap.log_size()
        ap.start()
        self.state["httpd_port"] = ap.port
        self.save()
        url = ap.url("/voice/inbound")
        say("   listening on %s (config %s)" % (ap.base_url(), ap.conf_path))
        try:
            pyvt.wait_until(lambda: "streams: listening" in ap.read_log(since), 15,
                            what="voxtwilio-helper")
            say("   voxtwilio-helper started by httpd (Media Streams on unix:%s)"
                % ap.stream_socket)
        except TimeoutError:
            say("demo: voxtwilio-helper did not start; see %s" % ap.error_log)
            return 1

        ok = self.call(admin, ap, sid, CALLER, NUMBER, "caller-script.txt", CALLER_SCRIPT,
                       GREETING)
        ok = self.ai_call(admin, must, ap, pg, sid) and ok
        ok = self.stream_call(admin, must, ap, pg, sid) and ok
        ok = self.sms(must, ap) and ok

        say()
        say("The gateway is running: POST %s (tenant %s, number %s)." % (url, SLUG, NUMBER))
        say("Talk to it yourself:")
        say("  %s --url %s --from %s --to %s --account-sid %s --auth-token-file %s --interactive"
            % (rel(p.sim_bin), url, CALLER, NUMBER, sid, rel(self.token_file)))
        say("Logs: %s   Stop everything: scripts/demo.sh stop" % rel(ap.error_log))
        if not ok:
            say("demo: the simulated call did not go through")
            return 1
        return 0

    def sms(self, must, ap):
        """An inbound SMS, signed as Twilio signs it, answered by one of the tenant's rules."""
        say("== An SMS to %s, answered by one of the tenant's rules" % NUMBER)
        rules = os.path.join(self.paths.srcdir, "docs", "examples", "rules-dental.json")
        say("   $ voxtwilio-admin rules import %s %s" % (SLUG, rel(rules)))
        say("   " + must("rules", "import", SLUG, rules).out.strip())
        with open(self.token_file) as f:
            token = f.read().strip()
        body = "Hi, what are your opening hours?"
        params = pyvt.message_params(self.state["account_sid"], CALLER, NUMBER, body)
        say('   %s texts "%s"' % (CALLER, body))
        r = pyvt.WebhookClient(ap.base_url()).post_signed("/voice/sms", params, token)
        say("   the gateway answers (Messaging TwiML, Twilio sends the <Message>):")
        for line in r.text.strip().splitlines():
            say("     " + line)
        ok = r.status_code == 200 and "<Message>" in r.text
        say("   $ voxtwilio-admin rules runs %s --limit 1" % SLUG)
        for line in must("rules", "runs", SLUG, "--limit", "1").out.splitlines():
            say("     " + line)
        return ok

    def call(self, admin, ap, sid, caller, number, script_name, script_text, greeting,
             sim_args=()):
        """One simulated call with voxtwilio-sim, then `calls show`. True when it went through."""
        p = self.paths
        url = ap.url("/voice/inbound")
        say("== A call comes in: %s calls %s" % (caller, number))
        call_sid = pyvt.new_call_sid()
        script = os.path.join(self.state_dir, script_name)
        with open(script, "w") as f:
            f.write(script_text)
        cmd = [p.sim_bin, "--url", url, "--from", caller, "--to", number,
               "--account-sid", sid, "--auth-token-file", self.token_file,
               "--call-sid", call_sid] + list(sim_args) + [
               "--script", script, "--dial", "answered"]
        say("   $ %s" % " ".join(rel(c) if c.startswith("/") else c for c in cmd))
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, text=True, errors="replace", timeout=90)
        for line in r.stdout.splitlines():
            say("     " + line)
        # A stream call's greeting is audio: the transcript below (calls show) has its text.
        ok = r.returncode == 0 and (greeting in r.stdout or "--stream" in sim_args)
        self.last_call_sid = call_sid
        if self.analyse:
            self.analyse()
        say("== The call log")
        say("   $ voxtwilio-admin calls show %s" % call_sid)
        r = admin("calls", "show", call_sid)
        say("\n".join("     " + l for l in (r.out + r.err).splitlines()))
        return ok and r.rc == 0

    def ai_call(self, admin, must, ap, pg, sid):
        """The second tenant: its turns answered by a model (a local stand-in), the
        transfer through the model's escalate_to_human tool, then the post-call analysis
        that voxtwilio-helper writes."""
        model = pyvt.OpenAIStandIn().start()
        try:
            say("== A second tenant '%s' whose assistant is a language model" % AI_SLUG)
            say("   (the model: a local stand-in for an OpenAI-compatible endpoint at %s)"
                % model.base_url)
            if not pg.psql("SELECT 1 FROM companies WHERE slug = '%s'" % AI_SLUG):
                say('   $ voxtwilio-admin company add %s --name "%s" --escalation-phone %s'
                    % (AI_SLUG, AI_NAME, ESCALATION))
                must("company", "add", AI_SLUG, "--name", AI_NAME, "--escalation-phone",
                     ESCALATION)
                say("   $ voxtwilio-admin integration add %s --account-sid %s --number %s "
                    "--auth-token-file %s" % (AI_SLUG, sid, AI_NUMBER, rel(self.token_file)))
                must("integration", "add", AI_SLUG, "--account-sid", sid, "--number",
                     AI_NUMBER, "--auth-token-file", self.token_file)
            key_file = os.path.join(self.state_dir, "model.key")
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(pyvt.openai_standin.DEMO_KEY + "\n")
            args = ["assistant", "set", AI_SLUG, "--kind", "llm", "--endpoint",
                    model.base_url, "--model", AI_MODEL, "--api-key-file", key_file,
                    "--system-prompt", "You are the friendly receptionist of Acme Dental."]
            say("   $ voxtwilio-admin %s" % " ".join(
                '"%s"' % a if " " in a else rel(a) if a.startswith("/") else a for a in args))
            must(*args)

            def analyse():
                say("   (voxtwilio-helper runs the post-call analysis job: the model reads "
                    "the transcript)")
                q = ("SELECT analysis_source FROM calls WHERE call_sid = '%s'"
                     % self.last_call_sid)
                try:
                    pyvt.wait_until(lambda: pg.psql(q) and pg.psql(q)[0][0], 30,
                                    interval=0.2, what="the post-call analysis")
                except TimeoutError:
                    say("   the analysis is not there yet: see %s" % rel(ap.error_log))

            self.analyse = analyse
            return self.call(admin, ap, sid, CALLER, AI_NUMBER, "ai-caller-script.txt",
                             AI_CALLER_SCRIPT, "How can I help you today?")
        finally:
            self.analyse = None
            model.stop()

    def stream_call(self, admin, must, ap, pg, sid):
        """The third tenant: stream mode with no realtime model. Twilio opens a Media Stream
        (<Connect><Stream>); Apache checks its signature and hands it to the helper, which
        speaks the greeting and a menu of the intents with espeak-ng, hears the caller's
        words with the offline recognizer and reads the caller's keys; at "0" the stream
        ends and the <Connect action> dials a person."""
        say("== A third tenant '%s' in stream mode (live audio, offline: espeak-ng, "
            "pocketsphinx and keys)" % LIVE_SLUG)
        if not pg.psql("SELECT 1 FROM companies WHERE slug = '%s'" % LIVE_SLUG):
            say('   $ voxtwilio-admin company add %s --name "%s" --greeting "%s" '
                '--escalation-phone %s' % (LIVE_SLUG, LIVE_NAME, GREETING, ESCALATION))
            must("company", "add", LIVE_SLUG, "--name", LIVE_NAME, "--greeting", GREETING,
                 "--escalation-phone", ESCALATION)
            say("   $ voxtwilio-admin integration add %s --account-sid %s --number %s "
                "--auth-token-file %s" % (LIVE_SLUG, sid, LIVE_NUMBER, rel(self.token_file)))
            must("integration", "add", LIVE_SLUG, "--account-sid", sid, "--number",
                 LIVE_NUMBER, "--auth-token-file", self.token_file)
        else:
            say("   company %s exists" % LIVE_SLUG)
        example = os.path.join(self.paths.srcdir, "docs", "examples", "assistant-dental.json")
        say("   $ voxtwilio-admin assistant import %s %s" % (LIVE_SLUG, rel(example)))
        must("assistant", "import", LIVE_SLUG, example)
        say("   $ voxtwilio-admin assistant set %s --mode stream" % LIVE_SLUG)
        must("assistant", "set", LIVE_SLUG, "--mode", "stream")
        wav = os.path.join(self.state_dir, "stream-call.wav")
        ok = self.call(admin, ap, sid, CALLER, LIVE_NUMBER, "stream-caller-script.txt",
                       LIVE_CALLER_SCRIPT, GREETING, sim_args=("--stream", "--wav", wav))
        if ok and os.path.exists(wav):
            say("   The call's audio: %s (stereo 8 kHz: left the caller, right the "
                "assistant)" % rel(wav))
        return ok

    def stop(self):
        stopped = False
        ap = self.apache()
        if ap.running():
            ap.stop()
            say("demo Apache stopped")
            stopped = True
        if "pg_base" in self.state:
            pg = self.pg()
            if pg.running():
                pg.stop()
                say("demo PostgreSQL stopped")
                stopped = True
        if not stopped:
            say("the demo is not running")
        return 0

    def status(self):
        ap = self.apache()
        say("Apache:     %s" % ("running on %s" % ap.base_url() if ap.running() else "stopped"))
        if "pg_base" in self.state:
            pg = self.pg()
            say("PostgreSQL: %s" % ("running on 127.0.0.1:%d" % pg.port if pg.running()
                                    else "stopped"))
        else:
            say("PostgreSQL: never started")
        return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("verb", nargs="?", default="start", choices=["start", "stop", "status"])
    ap.add_argument("--build", help="build directory (default: ./build)")
    ap.add_argument("--state", default=".demo", help="state directory (default: ./.demo)")
    a = ap.parse_args(argv)
    build = a.build or (None if a.verb != "start" else os.path.abspath("build"))
    d = Demo(a.state, build)
    return getattr(d, a.verb)()


if __name__ == "__main__":
    sys.exit(main())
