"""Two gateways, one database (docs/deployment-multi-host.md): two Apaches, each with its
own supervised voxtwilio-helper and its own outage spool, on the session's PostgreSQL, with
the same key file and the same VoxTwilioPublicURL, as behind a load balancer.

- the webhooks of one call alternate between the hosts, and Twilio's retries of a webhook
  that land on the other host are recorded once;
- jobs queued through either host are run once, by one of the two helpers;
- an outage of one host's database link is spooled on that host and replayed there by its
  own helper, while the other host goes on writing directly; the spool of a host that is
  gone for good replays on another host once its files are moved there;
- one host stopped mid-load: whatever it answered is in the database, and what failed on it
  and was retried on the other host (as the load balancer and Twilio do) is there once.

Every request is signed for the public URL (https://calls.example.com/voice/...), the one
Twilio would have called, and sent to one gateway's own port: the load balancer's part.
"""
import itertools
import os
import re
import socket
import threading
import time
import uuid

import pytest
import requests

import pyvt
from pyvt import checks, param
from pyvt.apache import scan_log_text
from pyvt.util import wait_until
from conftest import call_rows
from test_callbacks import call_state, events, status_params
from test_conversation import SCRIPT, HOURS, import_script, transcript
from test_spool import DB_DOWN, helper_path, pending, rejected, wait_drained  # noqa: F401

PUBLIC = "https://calls.example.com"
INBOUND = "/voice/inbound"
STATUS = "/voice/status-callback"
BOOKED = "I have sent you a text with our booking link."
BOOKING_SMS = "Book here: https://example.com/book"


class LBClient(pyvt.WebhookClient):
    """Posts to one gateway what the load balancer forwards: Twilio signed the public URL."""

    def __init__(self, gw, capture):
        super().__init__(gw.base_url(), capture)
        self.gw = gw

    def signed_url(self, path, host=None, scheme="http"):
        return PUBLIC + path


@pytest.fixture
def gateways(apache_factory, helper_path, capture):  # noqa: F811
    """make(n=2, conninfo={index: conninfo}) -> [Apache, ...], each with its helper (jobs and
    spool) and VoxTwilioPublicURL PUBLIC, all on the session database and key file."""

    def make(n=2, conninfo=None):
        gws = []
        for i in range(n):
            gw = apache_factory(start=False, helper=helper_path,
                                vhost_extra="    VoxTwilioPublicURL %s" % PUBLIC)
            if conninfo and i in conninfo:
                gw.conninfo = conninfo[i]   # DBDParams and VoxTwilioHelperDB
            gw.name = "AB"[i]
            gw.spool = os.path.join(gw.root, "run", "voxtwilio-spool")
            gw.start()
            gws.append(gw)
        for gw in gws:
            gw.wait_for_helper()
        return gws

    return make


def gw_of(sid_index, clients, step):
    """The gateway of a call's step: calls alternate which host takes inbound."""
    return clients[(sid_index + step) % 2]


def post_twiml(c, path, params, token, idem):
    return checks.twiml_response(c.post_signed(path, params, token, idempotency_token=idem))


def live(p, extra=()):
    """The call's parameters as Twilio sends them once it is answered."""
    return [(k, "in-progress" if k == "CallStatus" else v) for k, v in p] + list(extra)


def speech(p, text, confidence="0.92"):
    return live(p, [("SpeechResult", text), ("Confidence", confidence)])


def calls_of(pg, sids):
    """{CallSid: what the database holds about the call} in four queries (not four per
    call: psql is a process per query)."""
    out = {s: {"calls": [], "events": {}, "turns": [], "jobs": []} for s in sids}
    if not sids:
        return out
    in_ = ", ".join("'%s'" % s for s in sids)
    for r in pg.psql("SELECT call_sid, company_id, from_number, to_number, direction, status, "
                     "status_rank, coalesce(duration_s, -1) FROM calls "
                     "WHERE call_sid IN (%s)" % in_):
        out[r[0]]["calls"].append(tuple(r[1:]))
    for sid, kind, n in pg.psql("SELECT call_sid, kind, count(*) FROM call_events "
                                "WHERE call_sid IN (%s) GROUP BY 1, 2" % in_):
        out[sid]["events"][kind] = int(n)
    for r in pg.psql("SELECT call_sid, seq, role, text FROM call_turns WHERE call_sid IN (%s) "
                     "ORDER BY call_sid, seq" % in_):
        out[r[0]]["turns"].append(tuple(r[1:]))
    for r in pg.psql("SELECT call_sid, kind, dedup_key, status, attempts FROM jobs "
                     "WHERE call_sid IN (%s) ORDER BY call_sid, dedup_key" % in_):
        out[r[0]]["jobs"].append(tuple(r[1:]))
    return out


def start_workers(n, todo, gws, capture, fn, label=str):
    """n threads that take items off todo until it is empty and run fn(item, clients), each
    thread with a client per gateway; returns (threads, errors: one line per failed item)."""
    lock = threading.Lock()
    errors = []

    def worker():
        clients = [LBClient(g, capture) for g in gws]
        while True:
            with lock:
                if not todo:
                    return
                item = todo.pop()
            try:
                fn(item, clients)
            except Exception as e:  # noqa: BLE001
                with lock:
                    errors.append("%s: %r" % (label(item), e))

    ths = [threading.Thread(target=worker) for _ in range(n)]
    for th in ths:
        th.start()
    return ths, errors


def done_lines(gws, kind):
    """{job id: [host, ...]} from the helpers' 'job N (kind, ...): done in' lines."""
    seen = {}
    for gw in gws:
        for jid in re.findall(r"job (\d+) \(%s[^)]*\): done in" % kind, gw.read_log()):
            seen.setdefault(jid, []).append(gw.name)
    return seen


def no_errors(gw, since=0):
    bad = scan_log_text(gw.read_log(since))
    assert not bad, "gateway %s logged errors:\n%s" % (gw.name, "\n".join(bad[:20]))


# ---------------------------------------------------------------- 1. webhooks alternate
def test_calls_alternate_between_gateways_and_retries_land_once(tenant, gateways, admin, pg,
                                                                capture):
    """Ten calls: inbound on one gateway, both speech turns, `in-progress` and `completed`
    on the other one (calls alternate which is which). Each webhook is delivered a second
    time, with the same I-Twilio-Idempotency-Token, to the host that did not get it first
    (a Twilio retry the load balancer sent elsewhere). Each call has exactly its rows."""
    a, b = gateways()
    clients = [LBClient(a, capture), LBClient(b, capture)]
    t = tenant()
    import_script(admin, t.slug, SCRIPT)
    # Both hosts verify the public URL, neither its own.
    for c in clients:
        checks.forbidden(c.post_signed(INBOUND, t.params(), t.token,
                                       sign_url=pyvt.WebhookClient.signed_url(c, INBOUND)), t)
    calls = []
    for i in range(10):
        first, other = gw_of(i, clients, 0), gw_of(i, clients, 1)
        p = t.params(from_=pyvt.new_number())
        sid = param(p, "CallSid")
        steps = [
            (INBOUND, p, "greeting"),
            ("/voice/speech?t=1&ni=0&nm=0", speech(p, "what are your opening hours"), HOURS),
            (STATUS, status_params(t, p, "in-progress", 1), None),
            ("/voice/speech?t=2&ni=0&nm=0", speech(p, "I would like to book an appointment"),
             BOOKED),
            (STATUS, status_params(t, p, "completed", 2, CallDuration="37"), None),
        ]
        for n, (path, params, want) in enumerate(steps):
            c, retry = (first, other) if n == 0 else (other, first)
            idem = str(uuid.uuid4())
            answers = []
            for cc in (c, retry):
                r = cc.post_signed(path, params, t.token, idempotency_token=idem)
                if want is None:
                    assert r.status_code == 204, "%s on %s: %d %s" % (path, cc.gw.name,
                                                                      r.status_code, r.text)
                elif want == "greeting":
                    checks.greeting(r, t)
                else:
                    assert checks.twiml_response(r).spoken() == [want], (cc.gw.name, r.text)
                answers.append(r.content)
            assert answers[0] == answers[1], "a retry on the other host answered differently"
        calls.append((p, sid, first.gw.name))

    sids = [sid for _, sid, _ in calls]
    # The booking text (queued by the turn, on either host) and the analysis (queued by the
    # database when the call completed): one job each per call, run once by one helper.
    wait_until(lambda: pg.scalar("SELECT count(*) FROM jobs WHERE company_id = %d AND "
                                 "status = 'done'" % t.company_id) == "20", 15, interval=0.1,
               what="the calls' 20 jobs done")
    db = calls_of(pg, sids)
    for p, sid, inbound_host in calls:
        where = "call %s (inbound on %s)" % (sid, inbound_host)
        got = db[sid]
        assert got["calls"] == [(str(t.company_id), param(p, "From"), t.number, "inbound",
                                 "completed", "4", "37")], where
        assert got["events"] == {"inbound": 1, "status": 2}, where
        assert got["turns"] == [
            ("1", "assistant", t.greeting),
            ("2", "caller", "what are your opening hours"),
            ("3", "assistant", HOURS),
            ("4", "caller", "I would like to book an appointment"),
            ("5", "assistant", BOOKED),
        ], where
        assert got["jobs"] == [("call_analysis", "call_analysis:" + sid, "done", "1"),
                               ("sms_alert", "sms:%s:2" % sid, "done", "1")], where
    assert pg.psql("SELECT DISTINCT analysis_source FROM calls WHERE company_id = %d"
                   % t.company_id) == [("offline",)]
    no_errors(a)
    no_errors(b)


# ---------------------------------------------------------------- 2. jobs run once
def test_jobs_from_both_gateways_run_exactly_once(tenant, gateways, admin, pg, standin,
                                                  capture):
    """Twenty calls, four at a time, each queueing two texts from two different hosts: the
    booking link to the caller (a speech turn) and the escalation alert to the notification
    phone (the transfer's <Redirect>, delivered to both hosts). Both helpers LISTEN for the
    jobs; every text reaches the Twilio stand-in exactly once."""
    a, b = gateways()
    notify = "+14155550166"
    t = tenant(extra_company=["--escalation-phone", "+14155550199",
                              "--notification-phone", notify])
    import_script(admin, t.slug, SCRIPT)
    sids = {}
    lock = threading.Lock()
    todo = list(range(20))

    def one_call(i, clients):
        first, other = gw_of(i, clients, 0), gw_of(i, clients, 1)
        p = t.params(from_=pyvt.new_number())
        sid = param(p, "CallSid")
        checks.greeting(first.post_signed(INBOUND, p, t.token), t)
        said = speech(p, "I would like to book an appointment")
        idem = str(uuid.uuid4())
        for c in (other, first):   # the turn, and Twilio's retry of it on the other host
            assert post_twiml(c, "/voice/speech?t=1&ni=0&nm=0", said, t.token,
                              idem).spoken() == [BOOKED]
        doc = post_twiml(first, "/voice/speech?t=2&ni=0&nm=0",
                         speech(p, "can I speak to a real person"), t.token, str(uuid.uuid4()))
        assert doc.find("Redirect") is not None and doc.find("Redirect").text == "escalate"
        idem = str(uuid.uuid4())
        for c in (other, first):
            doc = post_twiml(c, "/voice/escalate", live(p), t.token, idem)
            assert doc.find("Dial") is not None, doc
        doc = post_twiml(other, "/voice/escalate",
                         live(p, [("DialCallStatus", "completed"), ("DialCallDuration", "20")]),
                         t.token, str(uuid.uuid4()))
        assert doc.verbs == ["Hangup"]
        r = first.post_signed(STATUS, status_params(t, p, "completed", 3, CallDuration="80"),
                              t.token)
        assert r.status_code == 204, r.text
        with lock:
            sids[sid] = param(p, "From")

    ths, errors = start_workers(4, todo, (a, b), capture, one_call,
                                lambda i: "call %d" % i)
    for th in ths:
        th.join(60)
    assert not errors, errors
    assert len(sids) == 20

    def texts():
        return [m for m in list(standin.messages) if m["account_sid"] == t.account_sid]

    wait_until(lambda: pg.scalar("SELECT count(*) FROM jobs WHERE company_id = %d AND "
                                 "status <> 'done'" % t.company_id) == "0", 10, interval=0.1,
               what="every job of the tenant done")
    jobs = pg.psql("SELECT id, call_sid, dedup_key, status, attempts, payload->>'message_sid' "
                   "FROM jobs WHERE company_id = %d AND kind = 'sms_alert'" % t.company_id)
    msgs = texts()
    assert len(msgs) == 40, "%d texts for 40 jobs" % len(msgs)
    by_sid = {m["sid"]: m for m in msgs}
    assert len(by_sid) == 40
    assert sorted(j[2] for j in jobs) == sorted(
        ["sms:%s:1" % s for s in sids] + ["escalation_alert:%s" % s for s in sids])
    for jid, sid, key, status, attempts, msg_sid in jobs:
        assert (status, attempts) == ("done", "1"), (jid, key, status, attempts)
        m = by_sid.get(msg_sid)
        assert m is not None, "job %s (%s): its message %s is not at the stand-in" % (
            jid, key, msg_sid)
        if key.startswith("sms:"):
            assert (m["to"], m["body"]) == (sids[sid], BOOKING_SMS), (key, m)
        else:
            assert m["to"] == notify and sid in m["body"], (key, m)
    # the helpers' side: each job reported done by exactly one helper
    seen = done_lines([a, b], "sms_alert")
    ids = [j[0] for j in jobs]
    assert all(len(seen.get(jid, [])) == 1 for jid in ids), \
        {jid: seen.get(jid) for jid in ids if len(seen.get(jid, [])) != 1}
    by_host = {h: sum(1 for jid in ids if seen[jid] == [h]) for h in "AB"}
    print("40 texts from 20 calls on 2 gateways: helper A ran %(A)d, helper B %(B)d" % by_host)
    no_errors(a)
    no_errors(b)


# ---------------------------------------------------------------- 3. one host's outage
class DbLink:
    """A TCP relay between one gateway (module and helper) and PostgreSQL. cut() is that host
    losing the database: its open connections break and new ones are closed at once;
    restore() brings it back. The other gateway connects directly and notices nothing."""

    def __init__(self, target_port):
        self.target = target_port
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(128)
        self.port = self.lsock.getsockname()[1]
        self.up = True
        self.closed = False
        self.pairs = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name="dblink").start()

    def conninfo(self, pg):
        return pg.conninfo.replace("port=%d" % pg.port, "port=%d" % self.port)

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            if not self.up:
                c.close()
                continue
            try:
                s = socket.create_connection(("127.0.0.1", self.target), timeout=2)
                s.settimeout(None)
            except OSError:
                c.close()
                continue
            pair = (c, s)
            with self.lock:
                self.pairs.add(pair)
            for src, dst in ((c, s), (s, c)):
                threading.Thread(target=self._pump, args=(src, dst, pair), daemon=True).start()

    def _pump(self, src, dst, pair):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(pair)

    def _drop(self, pair):
        for sock in pair:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self.lock:
            self.pairs.discard(pair)

    def cut(self):
        self.up = False
        with self.lock:
            pairs = list(self.pairs)
        for pair in pairs:
            self._drop(pair)

    def restore(self):
        self.up = True

    def close(self):
        self.closed = True
        self.cut()
        self.lsock.close()


@pytest.fixture
def dblink(pg):
    link = DbLink(pg.port)
    yield link
    link.close()


@pytest.mark.expect_log(*DB_DOWN)
def test_one_hosts_outage_is_spooled_and_replayed_there(tenant, gateways, dblink, pg, capture):
    """Gateway A reaches PostgreSQL through a relay that is cut: A's callers are still
    greeted, its callbacks still get 204, and everything is spooled on A. B writes directly
    all along. When the link is back, A's own helper replays A's spool: every event once."""
    a, b = gateways(conninfo={0: dblink.conninfo(pg)})
    ca, cb = LBClient(a, capture), LBClient(b, capture)
    t = tenant()
    p1 = t.params()
    sid1 = param(p1, "CallSid")
    checks.greeting(ca.post_signed(INBOUND, p1, t.token), t)   # A's child caches the tenant
    b_log = b.log_size()
    dblink.cut()
    try:
        # on A: the call in progress goes on, a new call comes in and says something
        for i, s in enumerate(["in-progress", "completed"], start=1):
            extra = {"CallDuration": "52"} if s == "completed" else {}
            r = ca.post_signed(STATUS, status_params(t, p1, s, i, **extra), t.token)
            assert r.status_code == 204, "A: %d %s" % (r.status_code, r.text)
        p2 = t.params()
        sid2 = param(p2, "CallSid")
        checks.greeting(ca.post_signed(INBOUND, p2, t.token), t)
        doc = checks.twiml_response(ca.post_signed("/voice/speech?t=1&ni=0&nm=0",
                                                   speech(p2, "do you open on saturday"),
                                                   t.token))
        assert doc.gather is not None and "say that again" in doc.spoken()[0], doc
        # on B, at the same time: written at once, nothing spooled
        p3 = t.params()
        sid3 = param(p3, "CallSid")
        checks.greeting(cb.post_signed(INBOUND, p3, t.token), t)
        assert cb.post_signed(STATUS, status_params(t, p3, "completed", 1, CallDuration="9"),
                              t.token).status_code == 204
        assert call_state(pg, sid3) == [("completed", "4", "9")]
        assert len(pending(a.spool)) == 4, pending(a.spool)
        assert pending(b.spool) == []
        # nothing of A's reached the database (the relay is really cut)
        assert call_state(pg, sid1) == [("ringing", "2", "-1")]
        assert call_rows(pg, sid2) == [] and events(pg, sid2, "speech") == 0
    finally:
        dblink.restore()
    wait_until(lambda: events(pg, sid2, "speech") == 1 and call_state(pg, sid1)
               == [("completed", "4", "52")], 15, interval=0.1, what="A's spool replayed")
    wait_drained(a.spool)
    assert rejected(a.spool) == [] and pending(b.spool) == []
    assert (events(pg, sid1, "inbound"), events(pg, sid1, "status")) == (1, 2)
    assert call_rows(pg, sid2) == [(str(t.company_id), "+14155550100", t.number, "inbound")]
    assert events(pg, sid2, "inbound") == 1
    assert transcript(pg, sid2) == [("1", "assistant", t.greeting)]
    assert pg.scalar("SELECT params->>'SpeechResult' FROM call_events WHERE call_sid = '%s' "
                     "AND kind = 'speech'" % sid2) == "do you open on saturday"
    assert (events(pg, sid3, "inbound"), events(pg, sid3, "status")) == (1, 1)
    # A's helper replayed them (B's has no access to A's spool)
    assert len(re.findall(r"spool: replayed \S+ \(", a.read_log())) == 4
    assert "spool: replayed" not in b.read_log()
    no_errors(b, b_log)


# ---------------------------------------------------------------- 4. a host that is gone
@pytest.mark.expect_log(*DB_DOWN)
def test_a_dead_hosts_spool_replays_on_another_host(tenant, gateways, dblink, pg, capture):
    """A host that spooled during its outage and then went away for good: its files, moved
    into another host's spool directory, are replayed by that host's helper. They hold the
    URL Twilio signed (the shared public one), and every host has the same key file."""
    a, b = gateways(conninfo={0: dblink.conninfo(pg)})
    ca = LBClient(a, capture)
    t = tenant()
    p = t.params()
    sid = param(p, "CallSid")
    checks.greeting(ca.post_signed(INBOUND, p, t.token), t)
    dblink.cut()
    for i, s in enumerate(["in-progress", "completed"], start=1):
        extra = {"CallDuration": "33"} if s == "completed" else {}
        r = ca.post_signed(STATUS, status_params(t, p, s, i, **extra), t.token)
        assert r.status_code == 204, "A: %d %s" % (r.status_code, r.text)
    names = pending(a.spool)
    assert len(names) == 2
    a.stop()
    assert pending(a.spool) == names and events(pg, sid, "status") == 0
    for n in names:   # same owner (Apache's User) and mode 0600: what a copy must keep
        os.rename(os.path.join(a.spool, n), os.path.join(b.spool, n))
    wait_drained(b.spool)
    assert rejected(b.spool) == []
    assert call_state(pg, sid) == [("completed", "4", "33")]
    assert (events(pg, sid, "inbound"), events(pg, sid, "status")) == (1, 2)
    assert len(re.findall(r"spool: replayed \S+ \(.*CallSid %s" % sid, b.read_log())) == 2


# ---------------------------------------------------------------- 5. a host stops mid-load
# httpd's event MPM itself, when it is stopped with connections in lingering close.
@pytest.mark.expect_log(r"\[mpm_event:error\].*AH03092: process_lingering_close")
def test_host_stopped_mid_load_loses_nothing(tenant, gateways, admin, pg, capture):
    """100 calls × 4 webhooks (inbound, in-progress, a speech turn, completed), 8 callers
    at a time, round-robin over A and B. A is stopped (apachectl -k stop) after 120 answers.
    A request that fails on A, at connect or after it was sent, is sent again to B with the
    same idempotency token: the load balancer retries what did not connect, Twilio what got
    no answer. Whatever was answered is in the database, every event exactly once."""
    a, b = gateways()
    t = tenant()
    import_script(admin, t.slug, SCRIPT)
    lock = threading.Lock()
    rr = itertools.count()
    down = set()
    stats = {"A": 0, "B": 0, "retried": 0}
    answered = []          # (host, route, CallSid)
    todo = [t.params() for _ in range(100)]
    stop_now = threading.Event()

    def send(clients, path, params, want):
        idem = str(uuid.uuid4())
        with lock:
            order = [clients[next(rr) % 2]]
        order += [c for c in clients if c is not order[0]]
        for attempt, c in enumerate(order):
            if c.gw.name in down and attempt == 0:
                continue
            try:
                r = c.post_signed(path, params, t.token, idempotency_token=idem)
            except requests.ConnectionError:
                with lock:
                    down.add(c.gw.name)
                    stats["retried"] += 1
                continue
            if r.status_code >= 500:
                with lock:
                    stats["retried"] += 1
                continue
            assert r.status_code == want, "%s on %s: %d %s" % (path, c.gw.name,
                                                               r.status_code, r.text)
            with lock:
                stats[c.gw.name] += 1
                answered.append((c.gw.name, path, param(params, "CallSid")))
                if len(answered) >= 120:
                    stop_now.set()
            return r
        raise AssertionError("%s failed on both gateways" % path)

    def one_call(p, clients):
        checks.greeting(send(clients, INBOUND, p, 200), t)
        send(clients, STATUS, status_params(t, p, "in-progress", 1), 204)
        r = send(clients, "/voice/speech?t=1&ni=0&nm=0", speech(p, "when are you open"), 200)
        assert checks.twiml_response(r).spoken() == [HOURS]
        send(clients, STATUS, status_params(t, p, "completed", 2, CallDuration="15"), 204)

    sids = [param(p, "CallSid") for p in todo]
    t0 = time.monotonic()
    ths, errors = start_workers(8, todo, (a, b), capture, one_call,
                                lambda p: param(p, "CallSid"))
    assert stop_now.wait(30), "the load did not get going"
    a_before = stats["A"]
    a.stop()
    for th in ths:
        th.join(60)
    took = time.monotonic() - t0
    print("400 webhooks in %.1f s: A answered %d (%d before its stop began), B %d; "
          "%d retried on B" % (took, stats["A"], a_before, stats["B"], stats["retried"]))
    assert not errors, errors[:5]
    assert len(answered) == 400
    assert stats["A"] > 0 and stats["B"] > stats["A"] and stats["retried"] > 0
    assert not a.running()
    # nothing answered by A waits in A's spool for A to come back: it is all in the database
    assert pending(a.spool) == [] and pending(b.spool) == []
    db = calls_of(pg, sids)
    for sid in sids:
        hosts = sorted(set(h for h, _, s in answered if s == sid))
        where = "call %s (answered by %s)" % (sid, "+".join(hosts))
        got = db[sid]
        assert [c[4:] for c in got["calls"]] == [("completed", "4", "15")], where
        assert got["events"] == {"inbound": 1, "status": 2}, where
        assert got["turns"] == [("1", "assistant", t.greeting),
                                ("2", "caller", "when are you open"),
                                ("3", "assistant", HOURS)], where
    # B's helper finishes the analyses A's can no longer run; each ran once
    wait_until(lambda: pg.scalar("SELECT count(*) FROM jobs WHERE company_id = %d AND "
                                 "kind = 'call_analysis' AND status = 'done'"
                                 % t.company_id) == "100", 15, interval=0.1,
               what="100 call analyses done")
    assert pg.psql("SELECT kind, count(*), max(attempts) FROM jobs WHERE company_id = %d "
                   "GROUP BY kind" % t.company_id) == [("call_analysis", "100", "1")]
