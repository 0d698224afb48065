"""voxtwilio-sim, the Twilio call simulator: against the real Apache (greeting, call row,
status callbacks, `calls list/show`; the conversation tests run once the `speech` route
exists) and against a small scripted TwiML app in this process (relative actions,
signatures, Redirect, Dial, Twilio's error codes for bad answers)."""
import os
import re
import subprocess
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

import pyvt
from pyvt import TwilioSigner

CALLER = "+14155550100"


# ---------------------------------------------------------------- running the simulator
class SimResult:
    def __init__(self, cp, call_sid):
        self.rc = cp.returncode
        self.out = cp.stdout
        self.err = cp.stderr
        self.call_sid = call_sid

    @property
    def lines(self):
        return [l for l in self.out.splitlines() if l.strip()]

    @property
    def ended(self):
        """The "[call ended: ...]" line (the completed status callback may follow it)."""
        return [l for l in self.lines if l.startswith("[call ended")][-1]

    def __repr__(self):
        return "SimResult(rc=%r)\n--- stdout\n%s--- stderr\n%s" % (self.rc, self.out, self.err)


@pytest.fixture
def sim(paths, capture, tmp_path):
    """sim(url, account_sid, token, to, script=None, *extra) -> SimResult"""
    if not os.path.exists(paths.sim_bin):
        pytest.fail("voxtwilio-sim not built: %s" % paths.sim_bin, pytrace=False)
    counter = iter(range(1000))

    def run(url, account_sid, token, to, *extra, script=None, from_=CALLER, call_sid=None,
            timeout=90):
        n = next(counter)
        token_file = tmp_path / ("token-%d" % n)
        token_file.write_text(token + "\n")
        os.chmod(token_file, 0o600)
        call_sid = call_sid or pyvt.new_call_sid()
        cmd = [paths.sim_bin, "--url", url, "--from", from_, "--to", to,
               "--account-sid", account_sid, "--auth-token-file", str(token_file),
               "--call-sid", call_sid]
        if script is not None:
            script_file = tmp_path / ("script-%d.txt" % n)
            script_file.write_text(script)
            cmd += ["--script", str(script_file)]
        cmd += list(extra)
        cp = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, errors="replace",
                            timeout=timeout)
        capture.add_text("sim stdout %s" % call_sid, cp.stdout)
        capture.add_text("sim stderr %s" % call_sid, cp.stderr)
        return SimResult(cp, call_sid)

    return run


def sim_tenant(sim, apache, t, *extra, **kw):
    return sim(apache.url("/voice/inbound"), t.account_sid, t.token, t.number, *extra, **kw)


def status_events(pg, sid):
    return pg.psql("SELECT call_status, sequence_number FROM call_events WHERE call_sid = '%s' "
                   "AND kind = 'status' ORDER BY sequence_number" % sid)


# ---------------------------------------------------------------- against the real Apache
def test_sim_call_greeting_row_and_status_callbacks(sim, apache, tenant, pg, admin):
    t = tenant()
    r = sim_tenant(sim, apache, t)
    assert r.rc == 0, r
    assert r.lines[0] == "[call %s from %s to %s]" % (r.call_sid, CALLER, t.number), r
    assert "assistant: %s" % t.greeting in r.lines, r
    assert "[caller hangs up]" in r.lines, r
    assert r.ended.startswith("[call ended: completed, 0 turns, "), r
    assert r.err == "", r
    rows = pg.psql("SELECT company_id, from_number, to_number, direction, status, "
                   "duration_s IS NOT NULL FROM calls WHERE call_sid = '%s'" % r.call_sid)
    assert rows == [(str(t.company_id), CALLER, t.number, "inbound", "completed", "t")]
    assert status_events(pg, r.call_sid) == [("ringing", "0"), ("in-progress", "1"),
                                             ("completed", "2")]

    show = admin("calls", "show", r.call_sid)
    assert show.rc == 0, show
    assert re.search(r"^status\s+completed$", show.out, re.M), show
    assert re.search(r"^company\s+%s \(" % re.escape(t.slug), show.out, re.M), show
    assert "status history:" in show.out, show
    hist = [l.split()[1:] for l in show.out.split("status history:")[1].splitlines()
            if re.match(r"\d{4}-", l)]
    assert ["status", "ringing", "0"] in hist, show
    assert ["status", "in-progress", "1"] in hist, show
    assert ["status", "completed", "2"] in hist, show
    assert hist.index(["status", "ringing", "0"]) < hist.index(["status", "completed", "2"])
    assert "transcript:" in show.out, show


def test_sim_calls_list_filters(sim, apache, tenant, admin):
    t, other = tenant(), tenant()
    first = sim_tenant(sim, apache, t)
    second = sim_tenant(sim, apache, t)
    elsewhere = sim_tenant(sim, apache, other)
    assert first.rc == second.rc == elsewhere.rc == 0

    r = admin("calls", "list", t.slug)
    assert r.rc == 0, r
    assert r.lines[0].split() == ["CALL_SID", "COMPANY", "DIRECTION", "FROM", "TO", "STATUS",
                                  "STARTED", "DURATION", "ESCALATED"]
    sids = [l.split()[0] for l in r.lines[1:]]
    assert sids == [second.call_sid, first.call_sid], r  # newest first, this tenant only
    row = r.lines[1].split()
    assert row[1:6] == [t.slug, "inbound", CALLER, t.number, "completed"], r
    assert row[-1] == "no", r

    assert [l.split()[0] for l in admin("calls", "list", t.slug, "--limit", "1").lines[1:]] \
        == [second.call_sid]
    r = admin("calls", "list", "--since", "1h", "--limit", "100000")
    assert r.rc == 0, r
    everyone = r.out
    assert first.call_sid in everyone and elsewhere.call_sid in everyone
    assert second.call_sid in admin("calls", "list", t.slug, "--since=2000-01-01").out
    assert second.call_sid in admin("calls", "list", "--since", "2000-01-01T00:00:00+02:00").out
    assert len(admin("calls", "list", t.slug, "--since", "2999-12-31T23:59:59Z").lines) == 1

    for bad in ("yesterday", "1y", "2024-13-01", "2024-02-30", "-1h"):
        r = admin("calls", "list", "--since", bad)
        assert r.rc in (1, 2) and len(r.err.strip().splitlines()) == 1, (bad, r)
    r = admin("calls", "list", "no-such-company")
    assert r.rc == 1 and "no company" in r.err, r


def test_sim_calls_show_errors(admin):
    r = admin("calls", "show", pyvt.new_call_sid())
    assert r.rc == 1 and r.out == "" and len(r.err.strip().splitlines()) == 1, r
    assert "no call" in r.err
    r = admin("calls", "show", "CAnot-a-sid")
    assert r.rc == 1 and len(r.err.strip().splitlines()) == 1, r
    assert admin("calls", "show").rc == 2
    assert admin("calls", "frobnicate").rc == 2


def test_sim_no_status_leaves_the_status_alone(sim, apache, tenant, pg):
    t = tenant()
    r = sim_tenant(sim, apache, t, "--no-status")
    assert r.rc == 0, r
    assert "[status" not in r.out
    assert status_events(pg, r.call_sid) == []
    assert pg.scalar("SELECT status FROM calls WHERE call_sid = '%s'" % r.call_sid) == "ringing"


def test_sim_wrong_token_is_a_clear_error(sim, apache, tenant, pg):
    t = tenant()
    r = sim(apache.url("/voice/inbound"), t.account_sid, pyvt.new_auth_token(), t.number,
            "--no-status")
    assert r.rc == 1, r
    assert "HTTP 403" in r.err and "Twilio error 11200" in r.err, r
    assert len(r.err.strip().splitlines()) == 1, r


# ---------------------------------------------------------------- conversations (speech route)
@pytest.fixture
def speech_route(apache):
    """Skips the test while the gateway has no `speech` route: an unknown route answers 404,
    a known one 400 for a request without CallSid."""
    r = requests.post(apache.url("/voice/speech"), data="",
                      headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    if r.status_code == 404:
        pytest.skip("the gateway has no speech route yet")
    return True


DENTAL = os.path.join(pyvt.Paths().srcdir, "docs", "examples", "assistant-dental.json")


def dental_tenant(tenant, admin, **kw):
    t = tenant(**kw)
    r = admin("assistant", "import", t.slug, DENTAL)
    assert r.rc == 0, r
    return t


def turns(pg, sid):
    return pg.psql("SELECT role, text FROM call_turns WHERE call_sid = '%s' ORDER BY seq" % sid)


def test_sim_scripted_two_turn_conversation(speech_route, sim, apache, tenant, admin, pg):
    t = dental_tenant(tenant, admin)
    script = ("# a caller with two questions\n"
              "What are your opening hours?\n"
              "\n"
              "Where are you located?\n"
              "Goodbye\n")
    r = sim_tenant(sim, apache, t, "--confidence", "0.87", script=script)
    assert r.rc == 0, r
    lines = r.lines
    asked = lines.index("caller: What are your opening hours?")
    assert lines[asked + 1].startswith("assistant: We are open Monday to Friday"), r
    where = lines.index("caller: Where are you located?")
    assert lines[where + 1].startswith("assistant: We are at 42 Harbour Street"), r
    assert "assistant: Thank you for calling Bright Smile Dental. Goodbye!" in lines, r
    assert "[the gateway hangs up]" in lines, r
    assert r.ended.startswith("[call ended: completed, 3 turns"), r

    said = turns(pg, r.call_sid)
    callers = [text for role, text in said if role == "caller"]
    assert callers[:2] == ["What are your opening hours?", "Where are you located?"], said
    assert pg.scalar("SELECT status FROM calls WHERE call_sid = '%s'" % r.call_sid) \
        == "completed"
    show = admin("calls", "show", r.call_sid)
    assert show.rc == 0, show
    assert "caller: What are your opening hours? (confidence 0.87)" in show.out, show
    assert re.search(r"^assistant: We are open Monday to Friday", show.out, re.M), show


def test_sim_silence_reprompts(speech_route, sim, apache, tenant, admin):
    t = dental_tenant(tenant, admin)
    r = sim_tenant(sim, apache, t, script="<silence>\nWhat are your opening hours?\n")
    assert r.rc == 0, r
    lines = r.lines
    i = lines.index("caller: <silence>")
    assert lines[i + 1] == "assistant: Are you still there? How can I help you?", r
    assert "caller: What are your opening hours?" in lines, r


@pytest.mark.parametrize("outcome", ["answered", "no-answer"])
def test_sim_human_request_then_dial(speech_route, sim, apache, tenant, admin, pg, outcome):
    human = pyvt.new_number()
    t = dental_tenant(tenant, admin, extra_company=["--escalation-phone", human,
                                                    "--notification-phone",
                                                    pyvt.new_number()])
    r = sim_tenant(sim, apache, t, "--dial", outcome, "--dial-duration", "42",
                   script="I would like to talk to a human please\n")
    assert r.rc == 0, r
    lines = r.lines
    assert "caller: I would like to talk to a human please" in lines, r
    dial = [l for l in lines if l.startswith("[dial ") and human in l]
    assert dial and "callerId %s" % t.number in dial[0], r
    if outcome == "answered":
        assert "[dial answered: talked 42 s, hung up]" in lines, r
        assert int(pg.scalar("SELECT duration_s FROM calls WHERE call_sid = '%s'"
                             % r.call_sid)) >= 42
    else:
        assert "[dial no-answer]" in lines, r
        after = lines[lines.index("[dial no-answer]") + 1:]
        assert any(l.startswith("assistant: ") for l in after), r
        assert "[the gateway hangs up]" in after, r
    assert r.ended.startswith("[call ended: completed"), r
    assert pg.scalar("SELECT escalated FROM calls WHERE call_sid = '%s'" % r.call_sid) == "t"
    show = admin("calls", "show", r.call_sid)
    assert re.search(r"^escalated\s+yes", show.out, re.M), show


# ---------------------------------------------------------------- against a scripted app
class App:
    """A TwiML app on 127.0.0.1 that records every request (method, path, params, headers)
    and answers by path: routes[path_without_query] = fn(req) -> (status, headers, body)."""

    def __init__(self, token):
        self.token = token
        self.requests = []
        self.routes = {}
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode("utf-8")
                url = "http://%s%s" % (self.headers["Host"], self.path)
                params = urllib.parse.parse_qsl(body, keep_blank_values=True)
                req = {"method": self.command, "url": url, "path": self.path,
                       "route": urllib.parse.urlsplit(self.path).path, "params": params,
                       "p": dict(params), "headers": dict(self.headers),
                       "signed": TwilioSigner.validate(
                           app.token, url, params if self.command == "POST" else [],
                           self.headers.get("X-Twilio-Signature", ""))}
                app.requests.append(req)
                fn = app.routes.get(req["route"])
                status, headers, out = fn(req) if fn else (404, {}, b"")
                if isinstance(out, str):
                    out = out.encode("utf-8")
                self.send_response(status)
                chunked = headers.pop("chunked", False)
                for k, v in headers.items():
                    self.send_header(k, v)
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(out), out))
                else:
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)

            do_POST = _handle
            do_GET = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.routes["/app/voice/status-callback"] = lambda req: (204, {}, b"")

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def twiml(self, path, body, status=200, ctype="text/xml; charset=utf-8", **headers):
        headers["Content-Type"] = ctype
        self.routes[path] = lambda req: (status, dict(headers), body)

    def hits(self, route):
        return [r for r in self.requests if r["route"] == route]


@pytest.fixture
def app():
    a = App(pyvt.new_auth_token())
    yield a
    a.stop()


def sim_app(sim, app, *extra, **kw):
    return sim(app.url("/app/voice/inbound"), ACCOUNT, app.token, "+15005550006", *extra, **kw)


ACCOUNT = "AC" + "0123456789abcdef" * 2
XML = '<?xml version="1.0" encoding="UTF-8"?>'


def test_sim_plays_a_scripted_app(sim, app):
    app.twiml("/app/voice/inbound",
              XML + '<Response><Gather input="speech" action="speech?t=1" '
              'actionOnEmptyResult="true"><Say voice="Polly.Joanna">Hello &amp; welcome'
              '</Say></Gather></Response>')

    def speech(req):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(req["path"]).query)
        said = req["p"].get("SpeechResult")
        if q["t"] == ["1"]:
            return (200, {"Content-Type": "text/xml"},
                    XML + "<Response><Say>You said %s</Say><Pause length=\"1\"/>"
                    "<Gather input=\"speech\" action=\"speech?t=2\" actionOnEmptyResult=\"true\">"
                    "<Say>Anything else?</Say></Gather></Response>" % said)
        return (200, {"Content-Type": "application/xml"},
                XML + "<Response><Say>Silence heard</Say><Redirect>../voice/next</Redirect>"
                "</Response>")

    app.routes["/app/voice/speech"] = speech
    app.twiml("/app/voice/next",
              XML + '<Response><Dial callerId="+15005550006" action="/app/voice/dialed" '
              'timeout="20"><Number>+14155550199</Number></Dial><Say>unreachable</Say>'
              '</Response>')
    app.routes["/app/voice/dialed"] = lambda req: (
        200, {"Content-Type": "text/xml"},
        XML + "<Response><Say>Dial %s %s</Say><Hangup/><Say>never</Say></Response>"
        % (req["p"].get("DialCallStatus"), req["p"].get("DialCallDuration")))

    r = sim_app(sim, app, "--confidence", "0.75", "--dial-duration", "42",
                script="# two lines\nI need a cleaning\n<silence>\nnever read\n")
    assert r.rc == 0, r
    assert r.lines[1:] == [
        "[status ringing]",
        "[status in-progress]",
        "assistant: Hello & welcome",
        "caller: I need a cleaning",
        "assistant: You said I need a cleaning",
        "[pause 1 s]",
        "assistant: Anything else?",
        "caller: <silence>",
        "assistant: Silence heard",
        "[redirect %s]" % app.url("/app/voice/next"),
        "[dial +14155550199 (callerId +15005550006, timeout 20 s)]",
        "[dial answered: talked 42 s, hung up]",
        "assistant: Dial completed 42",
        "[the gateway hangs up]",
        r.lines[-2],
        "[status completed]",
    ], r
    assert re.match(r"\[call ended: completed, 2 turns, 4\d s\]$", r.lines[-2]), r

    reqs = app.requests
    assert [q["route"] for q in reqs] == [
        "/app/voice/status-callback", "/app/voice/inbound", "/app/voice/status-callback",
        "/app/voice/speech", "/app/voice/speech", "/app/voice/next", "/app/voice/dialed",
        "/app/voice/status-callback"]
    assert all(q["signed"] for q in reqs), [(q["url"], q["headers"]) for q in reqs]
    assert all(q["method"] == "POST" for q in reqs)
    tokens = [q["headers"].get("I-Twilio-Idempotency-Token") for q in reqs]
    assert all(tokens) and len(set(tokens)) == len(tokens)
    assert all(q["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
               for q in reqs)
    assert all(q["p"]["CallSid"] == r.call_sid and q["p"]["AccountSid"] == ACCOUNT
               for q in reqs)
    inbound = reqs[1]["p"]
    assert inbound["CallStatus"] == "ringing" and inbound["Direction"] == "inbound"
    assert inbound["From"] == CALLER and inbound["To"] == "+15005550006"
    s1, s2 = reqs[3], reqs[4]
    assert s1["path"] == "/app/voice/speech?t=1"
    assert s1["p"]["SpeechResult"] == "I need a cleaning" and s1["p"]["Confidence"] == "0.75"
    assert s1["p"]["CallStatus"] == "in-progress"
    assert s2["path"] == "/app/voice/speech?t=2"
    assert s2["p"]["SpeechResult"] == "" and "Confidence" not in s2["p"]
    dialed = reqs[6]["p"]
    assert dialed["DialCallStatus"] == "completed" and dialed["DialCallDuration"] == "42"
    assert dialed["DialBridged"] == "true" and re.match(r"CA[0-9a-f]{32}$",
                                                        dialed["DialCallSid"])
    statuses = [(q["p"]["CallStatus"], q["p"]["SequenceNumber"]) for q in reqs
                if q["route"] == "/app/voice/status-callback"]
    assert statuses == [("ringing", "0"), ("in-progress", "1"), ("completed", "2")]
    done = reqs[-1]["p"]
    assert int(done["CallDuration"]) >= 42
    assert done["CallbackSource"] == "call-progress-events"
    assert re.match(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000$", done["Timestamp"])
    assert "CallDuration" not in reqs[0]["p"]


def test_sim_gather_without_empty_action_and_no_answer_dial(sim, app):
    """Silence without actionOnEmptyResult goes on after </Gather>; a Dial not answered
    posts no DialCallDuration; a Dial without action goes on after </Dial>."""
    app.twiml("/app/voice/inbound",
              XML + '<Response><Gather input="speech"><Say>Speak</Say></Gather>'
              '<Dial>+14155550123</Dial><Dial action="dial-result" method="GET">'
              '<Number>+14155550124</Number></Dial></Response>')
    app.twiml("/app/voice/dial-result", XML + "<Response><Say>Bye</Say></Response>")
    r = sim_app(sim, app, "--dial", "busy", "--no-status", script="<silence>\n")
    assert r.rc == 0, r
    assert r.lines[1:] == [
        "assistant: Speak", "caller: <silence>",
        "[dial +14155550123 (callerId the caller's, timeout 30 s)]", "[dial busy]",
        "[dial +14155550124 (callerId the caller's, timeout 30 s)]", "[dial busy]",
        "assistant: Bye", "[end of TwiML: Twilio hangs up]",
        "[call ended: completed, 1 turn, 0 s]"], r
    res = app.hits("/app/voice/dial-result")
    assert len(res) == 1 and res[0]["method"] == "GET" and res[0]["signed"], res
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(res[0]["path"]).query))
    assert q["DialCallStatus"] == "busy" and "DialCallDuration" not in q
    assert not app.hits("/app/voice/status-callback")


def test_sim_reject_first_is_not_answered(sim, app):
    app.twiml("/app/voice/inbound", XML + '<Response><Reject reason="busy"/></Response>')
    r = sim_app(sim, app)
    assert r.rc == 0, r
    assert "[call rejected: busy]" in r.lines and "[status in-progress]" not in r.lines, r
    statuses = [q["p"]["CallStatus"] for q in app.hits("/app/voice/status-callback")]
    assert statuses == ["ringing", "busy"]
    assert app.hits("/app/voice/status-callback")[-1]["p"]["CallDuration"] == "0"


def test_sim_custom_status_callback_and_slug_url(sim, app):
    app.twiml("/app/voice/acme/inbound", XML + "<Response><Hangup/></Response>")
    app.routes["/elsewhere/status"] = lambda req: (200, {}, b"")
    r = sim(app.url("/app/voice/acme/inbound"), ACCOUNT, app.token, "+15005550006",
            "--status-callback", app.url("/elsewhere/status"))
    assert r.rc == 0, r
    assert len(app.hits("/elsewhere/status")) == 3
    # the default is the inbound URL's last segment replaced
    app.routes["/app/voice/acme/status-callback"] = lambda req: (204, {}, b"")
    r = sim(app.url("/app/voice/acme/inbound"), ACCOUNT, app.token, "+15005550006")
    assert r.rc == 0, r
    assert len(app.hits("/app/voice/acme/status-callback")) == 3


BAD_ANSWERS = [
    ("wrong content type", dict(ctype="text/html"), XML + "<Response/>", "12300"),
    ("no content type", dict(ctype=None), XML + "<Response/>", "12300"),
    ("chunked", dict(chunked=True), XML + "<Response/>", "12100"),
    ("too large", {}, XML + "<Response><Say>" + "a" * 70000 + "</Say></Response>", "11750"),
    ("not well-formed", {}, XML + "<Response><Say>hi</Response>", "12100"),
    ("unknown verb", {}, XML + "<Response><Speak>hi</Speak></Response>", "12200"),
    ("Dial in Gather", {}, XML + "<Response><Gather><Dial>+14155550100</Dial></Gather>"
     "</Response>", "12200"),
    ("bad number", {}, XML + "<Response><Dial><Number>555-0100</Number></Dial></Response>",
     "13223"),
    ("server error", dict(status=500), "oops", "11200"),
]


@pytest.mark.parametrize("what,kw,body,code", BAD_ANSWERS, ids=[b[0] for b in BAD_ANSWERS])
def test_sim_invalid_answers_fail_with_twilio_codes(sim, app, what, kw, body, code):
    kw = dict(kw)
    ctype = kw.pop("ctype", "text/xml")
    status = kw.pop("status", 200)
    headers = {"Content-Type": ctype} if ctype else {}
    if kw.pop("chunked", False):
        headers["chunked"] = True
    app.routes["/app/voice/inbound"] = lambda req: (status, dict(headers), body)
    r = sim_app(sim, app)
    assert r.rc == 1, r
    err = r.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("voxtwilio-sim: error: "), r
    assert "Twilio error %s" % code in err[0], r
    assert "[call ended: application error after 0 turns]" in r.lines, r
    # Twilio ends the call after its application error: the call still completes
    statuses = [q["p"]["CallStatus"] for q in app.hits("/app/voice/status-callback")]
    assert statuses == ["ringing", "completed"], statuses


def test_sim_redirect_loop_is_stopped(sim, app):
    app.twiml("/app/voice/inbound", XML + "<Response><Redirect>inbound</Redirect></Response>")
    r = sim_app(sim, app, "--max-requests", "5", "--no-status")
    assert r.rc == 1 and "more than 5 webhook requests" in r.err, r
    assert len(app.hits("/app/voice/inbound")) == 5


def test_sim_transport_errors(sim, app):
    port = pyvt.free_port()
    r = sim("http://127.0.0.1:%d/voice/inbound" % port, ACCOUNT, app.token, "+15005550006",
            "--no-status")
    assert r.rc == 1 and "Twilio error 11205" in r.err, r
    app.twiml("/app/voice/inbound", XML + "<Response/>")
    app.routes["/app/voice/status-callback"] = lambda req: (503, {}, b"")
    r = sim_app(sim, app)
    assert r.rc == 1 and "status callback 'ringing'" in r.err and "HTTP 503" in r.err, r
    assert not app.hits("/app/voice/inbound")


def test_sim_dtmf_gather(sim, app):
    app.twiml("/app/voice/inbound", XML + '<Response><Gather numDigits="1" action="menu">'
              "<Say>Press 1</Say></Gather></Response>")
    app.twiml("/app/voice/menu", XML + "<Response><Hangup/></Response>")
    r = sim_app(sim, app, "--no-status", script="1\n")
    assert r.rc == 0, r
    assert app.hits("/app/voice/menu")[0]["p"]["Digits"] == "1"
    r = sim_app(sim, app, "--no-status", script="one please\n")
    assert r.rc == 1 and "keypad input only" in r.err, r


def test_sim_usage_errors(sim, app, paths):
    def run(*args):
        return subprocess.run([paths.sim_bin] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)

    assert run("--help").returncode == 0
    assert run().returncode == 2
    base = ["--url", app.url("/app/voice/inbound"), "--from", CALLER, "--to", "+15005550006",
            "--auth-token-file", "/dev/null"]
    assert run(*base, "--account-sid", "ACnope").returncode == 2
    assert run(*base, "--account-sid", ACCOUNT, "--dial", "maybe").returncode == 2
    assert run(*base, "--account-sid", ACCOUNT, "--confidence", "1.5").returncode == 2
    assert run(*base, "--account-sid", ACCOUNT, "--script", "x", "--interactive").returncode \
        == 2
    r = run(*base, "--account-sid", ACCOUNT)
    assert r.returncode == 1 and "no auth token" in r.stderr, r.stderr
    assert not app.requests
