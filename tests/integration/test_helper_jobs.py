"""voxtwilio-helper, the job outbox: NOTIFY pick-up, retries with backoff, final failure,
SKIP LOCKED sharing between helpers, orphaned jobs after kill -9, --once, database
restarts, recording downloads, signals, start-up errors and `voxtwilio-admin jobs list`.

The helpers run against a database of their own in the session's cluster (so a helper
that the session's Apache may spawn never competes for these jobs) and against a stand-in
for the Twilio API of their own that can fail, stall, reject and serve recordings.
Set VT_HELPER_WRAPPER (e.g. "valgrind --error-exitcode=99 -q") to run every helper under
a tool; a non-zero exit then fails the test that stops it.
"""
import itertools
import json
import os
import re
import shlex
import signal
import statistics
import subprocess
import time

import pytest

import pyvt
from pyvt.twilio import random_hex
from pyvt.util import wait_until

_RECORDING = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Recordings/(RE[0-9a-f]{32})"
                        r"\.wav$")
_MEDIA = re.compile(r"^/media/(RE[0-9a-f]{32})\.wav$")
_MSG_MEDIA = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Messages/(MM[0-9a-f]{32})"
                        r"/Media/(ME[0-9a-f]{32})$")
_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Messages\.json$")
_CALLS = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Calls\.json$")
WRAPPER = shlex.split(os.environ.get("VT_HELPER_WRAPPER", ""))
SLOW = 10 if WRAPPER else 1  # timeouts stretch under valgrind
# Stopping the session's PostgreSQL may make a running Apache (and its helper) complain.
DB_DOWN_LOG = pytest.mark.expect_log(r"\[dbd:(error|crit|alert)\]",
                                     r"\[voxtwilio(-helper)?:(error|crit)\]")


# ---------------------------------------------------------------- the API stand-in
class HelperAPI(pyvt.TwilioAPIStandIn):
    """The suite's stand-in plus: N answers of 500 (or always), a delay before answering,
    Twilio's 21211 for chosen To numbers, recordings (optionally behind a redirect)."""

    def __init__(self):
        super().__init__()
        self.fail_next = {}      # account sid -> 500 answers still to give
        self.always_fail = set()
        self.delay = {}          # account sid -> seconds to stall Messages.json
        self.stall_after_accept = {}  # account sid -> seconds to stall once it is created
        self.reject_to = set()
        self.recordings = {}     # RE sid -> bytes
        self.redirect = set()    # RE sids served through a 302
        self.arrivals = []       # (time.time(), account sid, form dict)
        api = self
        base = self.server.RequestHandlerClass

        class Handler(base):
            def _message_media(self):
                m = _MSG_MEDIA.match(self.path)
                if not m:
                    return False
                req = pyvt.standin.RecordedRequest(self.command, self.path, "",
                                                   dict(self.headers.items()), b"")
                with api._lock:
                    api.requests.append(req)
                data = api.recordings.get(m.group(3))
                if not api._authenticated(req, m.group(1)) or data is None:
                    self._reply(404 if data is None else 401, pyvt.standin.AUTH_ERROR)
                    return True
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return True

            def _media(self):
                if self._message_media():
                    return True
                m = _RECORDING.match(self.path) or _MEDIA.match(self.path)
                if not m:
                    return False
                req = pyvt.standin.RecordedRequest(self.command, self.path, "",
                                                   dict(self.headers.items()), b"")
                with api._lock:
                    api.requests.append(req)
                rsid = m.group(m.lastindex)
                if _RECORDING.match(self.path):
                    if not api._authenticated(req, m.group(1)):
                        self._reply(401, pyvt.standin.AUTH_ERROR)
                        return True
                    if rsid in api.redirect:
                        self.send_response(302)
                        self.send_header("Location", "/media/%s.wav" % rsid)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return True
                elif rsid not in api.redirect:
                    self._reply(404, {"code": 20404, "message": "not found", "status": 404})
                    return True
                data = api.recordings.get(rsid)
                if data is None:
                    self._reply(404, {"code": 20404, "message": "The requested resource was "
                                      "not found", "status": 404})
                    return True
                self.send_response(200)
                self.send_header("Content-Type", "audio/x-wav")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return True

            def _handle(self):
                if self.command == "GET" and self._media():
                    return
                base._handle(self)

            do_GET = _handle
            do_POST = _handle

        self.server.RequestHandlerClass = Handler

    def _route(self, req):
        m = _CALLS.match(req.path)
        if m and req.method == "POST" and self.stall_after_accept.get(m.group(1), 0):
            answer = super()._route(req)  # Twilio has it: it dials
            time.sleep(self.stall_after_accept[m.group(1)])
            return answer
        m = _MESSAGES.match(req.path)
        if m and req.method == "POST":
            sid = m.group(1)
            form = dict(req.form)
            with self._lock:
                self.arrivals.append((time.time(), sid, form))
                fail = sid in self.always_fail or self.fail_next.get(sid, 0) > 0
                if self.fail_next.get(sid, 0) > 0:
                    self.fail_next[sid] -= 1
                delay = self.delay.get(sid, 0)
            if delay:
                time.sleep(delay)
            if fail and self._authenticated(req, sid):
                return 500, {"code": 20500, "message": "Internal Server Error", "status": 500}
            if form.get("To") in self.reject_to and self._authenticated(req, sid):
                return 400, {"code": 21211, "message": "The 'To' number %s is not a valid "
                             "phone number." % form.get("To"), "status": 400}
            stall = self.stall_after_accept.get(sid, 0)
            if stall:
                answer = super()._route(req)  # Twilio has it: it will be sent
                time.sleep(stall)
                return answer
        return super()._route(req)

    def posts(self, sid):
        with self._lock:
            return [a for a in self.arrivals if a[1] == sid]


@pytest.fixture(scope="module")
def api():
    s = HelperAPI().start()
    yield s
    s.stop()


# ---------------------------------------------------------------- a database of our own
class HelperDB:
    def __init__(self, pg, dbname):
        self.pg = pg
        self.conninfo = pg.conninfo_for(dbname=dbname)

    def rows(self, sql):
        return self.pg.psql(sql, conninfo=self.conninfo)

    def scalar(self, sql):
        r = self.rows(sql)
        return r[0][0] if r else None

    def job(self, job_id):
        r = self.rows("SELECT status, attempts, max_attempts, last_error, payload::text,"
                      " extract(epoch FROM run_after), extract(epoch FROM created_at)"
                      " FROM jobs WHERE id = %d" % job_id)
        st, att, mx, err, payload, run_after, created = r[0]
        return dict(status=st, attempts=int(att), max_attempts=int(mx), last_error=err,
                    payload=json.loads(payload), run_after=float(run_after),
                    created=float(created))

    def insert(self, kind, company_id, payload, call_sid=None, max_attempts=None, count=1):
        cols = "kind, company_id, call_sid, payload"
        vals = "%s, %s, %s, %s::jsonb" % (lit(kind), company_id if company_id else "NULL",
                                          lit(call_sid), lit(json.dumps(payload)))
        if max_attempts:
            cols += ", max_attempts"
            vals += ", %d" % max_attempts
        if count == 1:
            return int(self.scalar("INSERT INTO jobs (%s) VALUES (%s) RETURNING id" % (cols, vals)))
        # one statement, one transaction: all NOTIFYs arrive together; each body differs
        vals = vals.replace("::jsonb", "::jsonb || jsonb_build_object('body', 'bulk ' || g)")
        rows = self.rows("INSERT INTO jobs (%s) SELECT %s FROM generate_series(1, %d) g"
                         " RETURNING id" % (cols, vals, count))
        return [int(r[0]) for r in rows]

    def wait_status(self, job_id, statuses, timeout):
        statuses = (statuses,) if isinstance(statuses, str) else statuses
        wait_until(lambda: self.scalar("SELECT status FROM jobs WHERE id = %d" % job_id)
                   in statuses, timeout * SLOW, interval=0.05,
                   what="job %d to become %s" % (job_id, "/".join(statuses)))
        return self.job(job_id)


def lit(v):
    if v is None:
        return "NULL"
    return "'" + str(v).replace("'", "''") + "'"


@pytest.fixture(scope="module")
def hdb(pg, paths, key_file, capture):
    name = "vt_helper_" + random_hex(8)
    su = "host=127.0.0.1 port=%d dbname=postgres user=postgres connect_timeout=5" % pg.port
    pg.psql("CREATE DATABASE %s OWNER %s" % (name, pg.user), conninfo=su)
    db = HelperDB(pg, name)
    db.admin = pyvt.Admin(paths.admin_bin, db.conninfo, key_file, None, capture)
    r = db.admin("migrate")
    assert r.rc == 0, r
    return db


class Tenant:
    def __init__(self, **kw):
        self.__dict__.update(kw)


_n = itertools.count(1)


@pytest.fixture
def tenant(hdb, api, capture):
    def make(numbers=2):
        slug = "h%d-%s" % (next(_n), random_hex(6))
        sid, token = pyvt.new_account_sid(), pyvt.new_auth_token()
        nums = [pyvt.new_number() for _ in range(numbers)]
        capture.add_secret("auth token of %s" % slug, token)
        r = hdb.admin("company", "add", slug, "--name", "Helper " + slug)
        assert r.rc == 0, r
        args = ["integration", "add", slug, "--account-sid", sid]
        for num in nums:
            args += ["--number", num]
        r = hdb.admin(*args, input=token + "\n")
        assert r.rc == 0, r
        api.add_account(sid, token)
        cid = int(hdb.scalar("SELECT id FROM companies WHERE slug = %s" % lit(slug)))
        return Tenant(slug=slug, account_sid=sid, token=token, numbers=nums, company_id=cid)
    return make


# ---------------------------------------------------------------- helper processes
class Helper:
    def __init__(self, proc, log):
        self.proc = proc
        self.logfile = log

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        with open(self.logfile, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=10, count=1):
        rx = re.compile(pattern)
        wait_until(lambda: len(rx.findall(self.log())) >= count, timeout * SLOW,
                   what="%r in %s:\n%s" % (pattern, self.logfile, self.log()[-3000:]))

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout * SLOW)


@pytest.fixture
def recordings(workdir):
    d = os.path.join(workdir, "recordings-" + random_hex(6))
    return d


@pytest.fixture
def helper(paths, hdb, key_file, api, workdir, capture, recordings):
    started = []
    counter = itertools.count(1)

    def start(*extra, db=None, key=None, api_base=None, rec=True, ready=True, env=None):
        log = os.path.join(workdir, "helper-%s-%d.log" % (random_hex(4), next(counter)))
        argv = WRAPPER + [os.path.join(paths.builddir, "voxtwilio-helper"),
                          "--db", db or hdb.conninfo, "--key-file", key or key_file,
                          "--api-base", api_base or api.base_url, "--log-level", "debug"]
        if rec:
            argv += ["--recordings-dir", recordings]
        argv += list(extra)
        e = dict(os.environ)
        for k in ("VOXTWILIO_KEY_FILE", "VOXTWILIO_API_BASE", "PGHOST", "PGPORT",
                  "PGDATABASE", "PGUSER"):
            e.pop(k, None)
        e.update(env or {})
        with open(log, "wb") as errf:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=errf, env=e)
        capture.add_log_file(log)
        h = Helper(proc, log)
        started.append(h)
        if ready:
            h.wait_log(r"listening on voxtwilio_jobs")
        return h

    yield start
    for h in started:
        if h.proc.poll() is None:
            h.proc.kill()
            h.proc.wait(10)


def sms(to="+14155550123", body=None):
    return {"to": to, "body": body or "Missed call from +14155550100 " + random_hex(4)}


def new_call_sid():
    return "CA" + random_hex(32)


def assert_clean_exit(h, rc):
    assert rc == 0, "helper exit %r; log:\n%s" % (rc, h.log()[-3000:])
    assert "[voxtwilio-helper:crit]" not in h.log()


# ---------------------------------------------------------------- tests
def test_sms_alert_picked_up_by_notify(helper, hdb, api, tenant):
    t = tenant(numbers=3)
    h = helper()
    time.sleep(0.3)  # past the first look at the table: the next jobs need the NOTIFY
    latencies = []
    for i in range(5):
        call = new_call_sid()
        payload = sms(body="Alert %d: caller wants a callback" % i)
        jid = hdb.insert("sms_alert", t.company_id, payload, call_sid=call)
        job = hdb.wait_status(jid, "done", 5)
        arrival, _, form = api.posts(t.account_sid)[-1]
        latencies.append(arrival - job["created"])
        assert form == {"To": payload["to"], "From": sorted(t.numbers)[0],
                        "Body": payload["body"]}
        assert job["attempts"] == 1 and job["last_error"] is None
        assert re.match(r"^SM[0-9a-f]{32}$", job["payload"]["message_sid"])
        assert call in h.log() and t.slug in h.log()
        time.sleep(0.2)
    req = api.requests_for(t.account_sid + "/Messages.json")[-1]
    assert (req.auth_user, req.auth_password) == (t.account_sid, t.token)
    print("pick-up latency (insert -> POST): median %.1f ms, max %.1f ms"
          % (statistics.median(latencies) * 1000, max(latencies) * 1000))
    # well under the 5 s safety-net poll: the NOTIFY woke it
    assert max(latencies) < 0.5 * SLOW, latencies
    assert_clean_exit(h, h.stop())


def test_retries_with_backoff_then_success(helper, hdb, api, tenant):
    t = tenant()
    api.fail_next[t.account_sid] = 2
    h = helper()
    jid = hdb.insert("sms_alert", t.company_id, sms())
    job = hdb.wait_status(jid, "done", 20)
    posts = api.posts(t.account_sid)
    assert len(posts) == 3 and job["attempts"] == 3
    gap1, gap2 = posts[1][0] - posts[0][0], posts[2][0] - posts[1][0]
    # 2^attempts s with equal jitter: [1, 2] s then [2, 4] s
    assert 0.9 <= gap1 <= 2.6 * SLOW and 1.9 <= gap2 <= 4.6 * SLOW, (gap1, gap2)
    h.wait_log(r"attempt 1/8 failed: HTTP 500, Twilio error 20500: Internal Server Error; "
               r"retrying in")
    assert_clean_exit(h, h.stop())


def test_failed_after_max_attempts(helper, hdb, api, tenant):
    t = tenant()
    api.always_fail.add(t.account_sid)
    h = helper()
    jid = hdb.insert("sms_alert", t.company_id, sms(), max_attempts=3)
    job = hdb.wait_status(jid, "failed", 20)
    assert job["attempts"] == 3 and len(api.posts(t.account_sid)) == 3
    assert "HTTP 500" in job["last_error"]
    h.wait_log(r"failed, no attempt left \(attempt 3/3\)")
    r = hdb.admin("jobs", "list", "--failed")
    assert r.rc == 0, r
    line = [l for l in r.out.splitlines() if l.split()[0] == str(jid)]
    assert line and "sms_alert" in line[0] and "3/3" in line[0] and t.slug in line[0], r.out
    assert_clean_exit(h, h.stop())


def test_permanent_errors_are_not_retried(helper, hdb, api, tenant):
    t = tenant()
    api.reject_to.add("+14155550199")
    h = helper()
    bad_to = hdb.insert("sms_alert", t.company_id, sms(to="4155550123"))
    rejected = hdb.insert("sms_alert", t.company_id, sms(to="+14155550199"))
    unknown = hdb.insert("fax_alert", t.company_id, {})
    no_company = hdb.insert("sms_alert", None, sms())
    for jid, err in ((bad_to, "E.164"), (rejected, "21211"), (unknown, "unknown job kind"),
                     (no_company, "no company")):
        job = hdb.wait_status(jid, "failed", 5)
        assert job["attempts"] == 1 and err in job["last_error"], (jid, job)
    assert len(api.posts(t.account_sid)) == 1  # only the one Twilio rejected
    assert_clean_exit(h, h.stop())


def test_two_helpers_never_run_the_same_job(helper, hdb, api, tenant):
    t = tenant()
    a, b = helper(), helper()
    t0 = time.monotonic()
    payload = {"to": "+14155550123", "body": "replaced per job"}
    ids = hdb.insert("sms_alert", t.company_id, payload, count=50)
    wait_until(lambda: int(hdb.scalar("SELECT count(*) FROM jobs WHERE status = 'done' AND"
                                      " id BETWEEN %d AND %d" % (min(ids), max(ids)))) == 50,
               30 * SLOW, what="50 jobs done")
    took = time.monotonic() - t0
    posts = api.posts(t.account_sid)
    bodies = [p[2]["Body"] for p in posts]
    assert len(posts) == 50 and len(set(bodies)) == 50, sorted(bodies)
    assert int(hdb.scalar("SELECT max(attempts) FROM jobs WHERE id BETWEEN %d AND %d"
                          % (min(ids), max(ids)))) == 1
    by_a = len(re.findall(r"job \d+ \(sms_alert.*: done in", a.log()))
    by_b = len(re.findall(r"job \d+ \(sms_alert.*: done in", b.log()))
    print("50 jobs, 2 helpers: %d POSTs, %d + %d jobs, %.2f s" % (len(posts), by_a, by_b, took))
    assert by_a + by_b == 50
    assert_clean_exit(a, a.stop())
    assert_clean_exit(b, b.stop())


def test_killed_helper_job_is_requeued(helper, hdb, api, tenant):
    t = tenant()
    api.delay[t.account_sid] = 3
    a = helper()
    jid = hdb.insert("sms_alert", t.company_id, sms())
    wait_until(lambda: api.posts(t.account_sid), 5 * SLOW, what="the first POST")
    a.proc.kill()  # SIGKILL mid-request: the job stays 'running'
    a.proc.wait(10)
    assert hdb.job(jid)["status"] == "running"
    api.delay[t.account_sid] = 0
    b = helper("--stale-after", "1")
    job = hdb.wait_status(jid, "done", 10)
    assert job["attempts"] == 2
    b.wait_log(r"job %d \(sms_alert\) was left running by a helper that stopped: requeued" % jid)
    assert_clean_exit(b, b.stop())


def test_killed_after_twilio_accepted_is_not_sent_twice(helper, hdb, api, tenant):
    """The worst moment: Twilio has created the message, the helper dies before it hears so
    (or before it records it). The next attempt finds the message at Twilio and records it
    instead of sending it again."""
    t = tenant()
    api.stall_after_accept[t.account_sid] = 30
    a = helper()
    jid = hdb.insert("sms_alert", t.company_id, sms(body="exactly once"))
    wait_until(lambda: [m for m in api.messages if m["account_sid"] == t.account_sid], 5 * SLOW,
               what="Twilio accepting the message")
    a.proc.kill()  # SIGKILL while the answer is on its way
    a.proc.wait(10)
    assert hdb.job(jid)["status"] == "running"
    b = helper("--stale-after", "1")
    job = hdb.wait_status(jid, "done", 15)
    created = [m for m in api.messages if m["account_sid"] == t.account_sid]
    assert len(created) == 1, created
    assert job["attempts"] == 2 and job["payload"]["message_sid"] == created[0]["sid"]
    b.wait_log(r"was sent by an earlier attempt: not sent again")
    api.stall_after_accept[t.account_sid] = 0
    assert_clean_exit(b, b.stop())


def test_killed_after_twilio_accepted_the_call_does_not_dial_twice(helper, hdb, api, tenant):
    """The same worst moment for an outbound call: Twilio is dialling, the helper dies before
    it hears the sid. The next attempt finds the call at Twilio (Calls.json?To&From) and
    records it; the callee's phone rings once."""
    t = tenant()
    hdb.rows("UPDATE companies SET webhook_url = 'https://calls.example.com/voice/%s'"
             " WHERE id = %d" % (t.slug, t.company_id))
    api.stall_after_accept[t.account_sid] = 30
    a = helper()
    jid = hdb.insert("call_place", t.company_id, {"to": "+14155550163"})
    wait_until(lambda: api.calls_of(t.account_sid), 5 * SLOW, what="Twilio accepting the call")
    a.proc.kill()
    a.proc.wait(10)
    assert hdb.job(jid)["status"] == "running"
    b = helper("--stale-after", "1")
    job = hdb.wait_status(jid, "done", 15)
    (created,) = api.calls_of(t.account_sid)
    assert job["attempts"] == 2 and job["payload"]["call_sid"] == created["sid"]
    assert hdb.scalar("SELECT call_sid FROM jobs WHERE id = %d" % jid) == created["sid"]
    assert hdb.rows("SELECT direction, to_number FROM calls WHERE call_sid = '%s'"
                    % created["sid"]) == [("outbound-api", "+14155550163")]
    b.wait_log(r"was placed by an earlier attempt: not placed again")
    api.stall_after_accept[t.account_sid] = 0
    assert_clean_exit(b, b.stop())


def test_once_runs_due_jobs_and_exits(helper, hdb, api, tenant):
    t = tenant()
    ids = [hdb.insert("sms_alert", t.company_id, sms()) for _ in range(3)]
    later = int(hdb.scalar("INSERT INTO jobs (kind, company_id, payload, run_after) VALUES"
                           " ('sms_alert', %d, %s::jsonb, now() + interval '1 hour')"
                           " RETURNING id" % (t.company_id, lit(json.dumps(sms())))))
    h = helper("--once", ready=False)
    rc = h.proc.wait(20 * SLOW)
    assert_clean_exit(h, rc)
    for jid in ids:
        assert hdb.job(jid)["status"] == "done"
    assert hdb.job(later)["status"] == "pending"
    hdb.rows("DELETE FROM jobs WHERE id = %d" % later)


def test_signal_finishes_the_current_job(helper, hdb, api, tenant):
    t = tenant()
    api.delay[t.account_sid] = 1.5
    h = helper()
    jid = hdb.insert("sms_alert", t.company_id, sms())
    wait_until(lambda: api.posts(t.account_sid), 5 * SLOW, what="the POST")
    h.proc.send_signal(signal.SIGTERM)
    rc = h.proc.wait(10 * SLOW)
    assert_clean_exit(h, rc)
    assert hdb.job(jid)["status"] == "done"
    assert "stopping on signal" in h.log()


def test_parent_pid_gone_stops_the_helper(helper):
    parent = subprocess.Popen(["sleep", "60"])
    h = helper("--parent-pid", str(parent.pid))
    parent.kill()
    parent.wait()
    rc = h.proc.wait(5 * SLOW)
    assert_clean_exit(h, rc)
    assert "parent process %d is gone" % parent.pid in h.log()


@DB_DOWN_LOG
def test_database_restart_reconnects(helper, hdb, pg, api, tenant):
    t = tenant()
    h = helper()
    pg.stop(mode="fast")
    try:
        h.wait_log(r"database connection lost")
        time.sleep(3)  # several reconnect attempts, logged once
    finally:
        pg.start()
    h.wait_log(r"database connection restored after", timeout=15)
    assert len(re.findall(r"database (connection lost|unavailable)", h.log())) == 1, h.log()
    jid = hdb.insert("sms_alert", t.company_id, sms())
    hdb.wait_status(jid, "done", 5)
    assert_clean_exit(h, h.stop())


@DB_DOWN_LOG
def test_result_kept_while_the_database_is_down(helper, hdb, pg, api, tenant):
    """The database goes away while a job's POST is in flight: the outcome is written after
    the reconnect, and the SMS is not sent twice."""
    t = tenant()
    api.delay[t.account_sid] = 2
    h = helper()
    jid = hdb.insert("sms_alert", t.company_id, sms())
    wait_until(lambda: api.posts(t.account_sid), 5 * SLOW, what="the POST")
    pg.stop(mode="fast")
    try:
        h.wait_log(r"result kept until the database is back")
    finally:
        pg.start()
    job = hdb.wait_status(jid, "done", 15)
    assert job["attempts"] == 1 and len(api.posts(t.account_sid)) == 1
    assert_clean_exit(h, h.stop())


def test_database_down_at_start_is_not_a_config_error(helper, pg, hdb, api, tenant):
    dead = "host=127.0.0.1 port=%d dbname=x user=x connect_timeout=1" % pyvt.free_port()
    h = helper(db=dead, ready=False)
    h.wait_log(r"database unavailable")
    time.sleep(2)
    assert h.proc.poll() is None
    assert len(re.findall(r"database unavailable", h.log())) == 1
    assert_clean_exit(h, h.stop())


def test_recording_download(helper, hdb, api, tenant, recordings):
    t = tenant()
    wav = b"RIFF" + os.urandom(40000)
    direct, redirected, missing = ("RE" + random_hex(32) for _ in range(3))
    api.recordings[direct] = wav
    api.recordings[redirected] = wav[::-1]
    api.redirect.add(redirected)
    h = helper()
    base = "%s/2010-04-01/Accounts/%s/Recordings/" % (api.base_url, t.account_sid)
    ids = {}
    for rsid in (direct, redirected, missing):
        ids[rsid] = hdb.insert("recording_download", t.company_id,
                               {"recording_sid": rsid, "url": base + rsid},
                               call_sid=new_call_sid())
    for rsid, data in ((direct, wav), (redirected, wav[::-1])):
        job = hdb.wait_status(ids[rsid], "done", 10)
        path = os.path.join(recordings, t.slug, rsid + ".wav")
        assert job["payload"]["path"] == path and job["payload"]["bytes"] == len(data)
        with open(path, "rb") as f:
            assert f.read() == data
        assert not os.path.exists(path + ".tmp")
    assert os.stat(os.path.join(recordings, t.slug)).st_mode & 0o777 == 0o750
    job = hdb.wait_status(ids[missing], "failed", 10)
    assert job["attempts"] == 1 and "HTTP 404" in job["last_error"]
    assert not os.path.exists(os.path.join(recordings, t.slug, missing + ".wav.tmp"))
    assert_clean_exit(h, h.stop())


def test_message_media_download(helper, hdb, api, tenant, recordings):
    t = tenant()
    msid = "MM" + random_hex(32)
    parts = [("ME" + random_hex(32), os.urandom(3000), "image/jpeg"),
             ("ME" + random_hex(32), os.urandom(500), "application/pdf")]
    media = []
    for me, data, ctype in parts:
        api.recordings[me] = data
        media.append({"url": "%s/2010-04-01/Accounts/%s/Messages/%s/Media/%s"
                      % (api.base_url, t.account_sid, msid, me), "content_type": ctype})
    hdb.scalar("INSERT INTO messages (company_id, message_sid, direction, channel, from_number,"
               " to_number, body, media) VALUES (%d, %s, 'inbound', 'sms', '+14155550100', %s,"
               " '', %s::jsonb) RETURNING id" % (t.company_id, lit(msid), lit(t.numbers[0]),
                                                  lit(json.dumps(media))))
    h = helper()
    jid = hdb.insert("media_download", t.company_id, {"message_sid": msid})
    hdb.wait_status(jid, "done", 10)
    stored = json.loads(hdb.scalar("SELECT media::text FROM messages WHERE message_sid = %s"
                                   % lit(msid)))
    for i, ((me, data, ctype), m) in enumerate(zip(parts, stored)):
        want = os.path.join(recordings, t.slug, "media", "%s-%d.%s" % (
            msid, i, "jpg" if ctype == "image/jpeg" else "pdf"))
        assert m["path"] == want and m["url"] == media[i]["url"]
        with open(want, "rb") as f:
            assert f.read() == data
    # media of another URL get no credentials (as recordings)
    bad = "MM" + random_hex(32)
    hdb.scalar("INSERT INTO messages (company_id, message_sid, direction, channel, body, media)"
               " VALUES (%d, %s, 'inbound', 'sms', '', %s::jsonb) RETURNING id"
               % (t.company_id, lit(bad), lit(json.dumps([{"url": "https://example.com/x",
                                                           "content_type": "image/png"}]))))
    jid = hdb.insert("media_download", t.company_id, {"message_sid": bad})
    assert "neither under the API base" in hdb.wait_status(jid, "failed", 5)["last_error"]
    assert_clean_exit(h, h.stop())


def test_recording_url_elsewhere_gets_no_credentials(helper, hdb, api, tenant):
    t = tenant()
    other = HelperAPI().start()
    try:
        rsid = "RE" + random_hex(32)
        url = "%s/2010-04-01/Accounts/%s/Recordings/%s" % (other.base_url, t.account_sid, rsid)
        wrong = "%s/2010-04-01/Accounts/%s/Recordings/%s" % (api.base_url, t.account_sid,
                                                             "RE" + random_hex(32))
        h = helper()
        j1 = hdb.insert("recording_download", t.company_id, {"recording_sid": rsid, "url": url})
        j2 = hdb.insert("recording_download", t.company_id, {"recording_sid": rsid, "url": wrong})
        assert "neither under the API base" in hdb.wait_status(j1, "failed", 5)["last_error"]
        assert "does not name the recording" in hdb.wait_status(j2, "failed", 5)["last_error"]
        assert other.requests == []
        assert_clean_exit(h, h.stop())
    finally:
        other.stop()


def test_without_recordings_dir_downloads_are_left_alone(helper, hdb, tenant):
    t = tenant()
    h = helper(rec=False)
    rsid = "RE" + random_hex(32)
    rec = hdb.insert("recording_download", t.company_id, {"recording_sid": rsid, "url": "x"})
    # the transcription reads the downloaded file: left to a helper that has it too
    tr = hdb.insert("recording_transcribe", t.company_id, {"recording_sid": rsid},
                    call_sid=new_call_sid())
    msg = hdb.insert("sms_alert", t.company_id, sms())
    hdb.wait_status(msg, "done", 5)
    assert hdb.job(rec)["status"] == "pending" and hdb.job(tr)["status"] == "pending"
    hdb.rows("DELETE FROM jobs WHERE id IN (%d, %d)" % (rec, tr))
    assert_clean_exit(h, h.stop())


@pytest.mark.parametrize("case", ["unknown-option", "no-key-file", "open-key-file", "api-base",
                                  "conninfo", "stale-after"])
def test_configuration_errors_exit_254(helper, workdir, case):
    kw, extra = {}, []
    if case == "unknown-option":
        extra = ["--auth-token=secret-value"]
    elif case == "no-key-file":
        kw["key"] = os.path.join(workdir, "missing.keys")
    elif case == "open-key-file":
        path = pyvt.make_key_file(os.path.join(workdir, "open-%s.keys" % random_hex(4)),
                                  mode=0o644)
        kw["key"] = path
    elif case == "api-base":
        kw["api_base"] = "ftp://example.com"
    elif case == "conninfo":
        kw["db"] = "host=127.0.0.1 port"
    elif case == "stale-after":
        extra = ["--stale-after", "0"]
    h = helper(*extra, ready=False, **kw)
    rc = h.proc.wait(10 * SLOW)
    assert rc == 254, h.log()
    assert "configuration error" in h.log() and "secret-value" not in h.log()


def test_jobs_list(hdb, tenant):
    t = tenant()
    call = new_call_sid()
    jid = hdb.insert("sms_alert", t.company_id, sms(), call_sid=call)
    hdb.rows("UPDATE jobs SET status = 'failed', attempts = 8, last_error = %s WHERE id = %d"
             % (lit("HTTP 500: " + "x" * 200), jid))
    r = hdb.admin("jobs", "list", "--limit", "1")
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[0].split() == ["ID", "KIND", "STATUS", "ATTEMPTS", "RUN_AFTER", "COMPANY",
                                "CALL_SID", "LAST_ERROR"]
    assert len(lines) == 2
    f = lines[1].split()
    assert f[0] == str(jid) and f[1:4] == ["sms_alert", "failed", "8/8"]
    assert f[5:7] == [t.slug, call]
    assert lines[1].endswith("...") and len(lines[1].split("HTTP 500: ")[1]) == 50
    r = hdb.admin("jobs", "list", "--failed")
    assert r.rc == 0 and all(l.split()[2] == "failed" for l in r.out.splitlines()[1:]), r
    for bad in (["--limit", "0"], ["--limit", "x"]):
        r = hdb.admin("jobs", "list", *bad)
        assert r.rc == 1 and len(r.lines) == 1, r
    r = hdb.admin("jobs", "list", "--bogus")
    assert r.rc == 2, r
