"""The outage spool: webhook requests stored while PostgreSQL was down (VoxTwilioSpoolDir)
are replayed by the supervised voxtwilio-helper once the database is up: each signature is
verified again, each event lands exactly once, and anything unusable or tampered with is
moved to rejected/.

Spool files are written here by hand in the module's format (vtm_spool.h), signed with
the harness's own signer; the end-to-end outage test needs the handler to write them
(vtm_spool_write) and skips until it does.
"""
import base64
import json
import os
import pwd
import re
import time
import uuid

import pytest

import pyvt
from pyvt import checks, param
from pyvt.twilio import TwilioSigner, encode_form, random_hex
from pyvt.util import is_root, wait_until
from test_callbacks import call_state, events, status_params

FORM = "application/x-www-form-urlencoded"
DB_DOWN = [r"\[dbd:(error|crit|alert)\]", r"\[voxtwilio(-helper)?:(error|crit)\]"]


# As in test_helper_jobs: e.g. "valgrind -q --error-exitcode=99" runs the helper under a tool
# (its reports land in the Apache error log).
WRAPPER = os.environ.get("VT_HELPER_WRAPPER", "")


@pytest.fixture
def helper_path(paths, workdir):
    h = os.path.join(paths.builddir, "voxtwilio-helper")
    if not WRAPPER:
        return h
    script = os.path.join(workdir, "helper-wrapped-%s.sh" % random_hex(4))
    with open(script, "w") as f:
        f.write('#!/bin/sh\nexec %s "%s" "$@"\n' % (WRAPPER, h))
    os.chmod(script, 0o755)
    return script


@pytest.fixture
def spool_apache(apache_factory, helper_path, pg):
    """An Apache whose helper (against the session database) replays the default spool."""

    def make(**kw):
        ap = apache_factory(helper=helper_path, **kw)
        wait_until(lambda: "listening on voxtwilio_jobs" in ap.read_log()
                   and "resuming normal operations" in ap.read_log(), 10,
                   what="httpd and the helper in %s" % ap.error_log)
        ap.spool = os.path.join(ap.root, "run", "voxtwilio-spool")
        return ap

    return make


_seq = [0]


def write_spool(d, route, url, params, token=None, signature=None, idem=None, tenant=None,
                body=None, content_type=FORM, raw=None):
    """One spool file as vtm_spool_write() makes it: dot-file, 0600, httpd's User, rename."""
    if body is None:
        body = encode_form(params)
    if signature is None and token:
        signature = TwilioSigner.sign(token, url, params)
    doc = {"version": 1, "route": route, "url": url, "signature": signature,
           "idempotency_token": idem or str(uuid.uuid4()), "content_type": content_type,
           "body": base64.b64encode(body.encode()).decode(),
           "received_at": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())}
    if tenant:
        doc["tenant"] = tenant
    _seq[0] += 1
    name = "%016d-%s.json" % (int(time.time() * 1e6) + _seq[0], random_hex(16))
    tmp = os.path.join(d, ".tmp-" + name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(raw if raw is not None else json.dumps(doc))
    if is_root():
        pw = pwd.getpwnam("nobody")
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
    os.rename(tmp, os.path.join(d, name))
    return name


def pending(d):
    return sorted(n for n in os.listdir(d) if n.endswith(".json"))


def rejected(d):
    r = os.path.join(d, "rejected")
    return sorted(os.listdir(r)) if os.path.isdir(r) else []


def wait_drained(d, timeout=5):
    wait_until(lambda: not pending(d), timeout, interval=0.05,
               what="the spool %s to drain (left: %s)" % (d, pending(d)))


def recording_params(t, p, rec_sid):
    q = [kv for kv in p if kv[0] in ("AccountSid", "CallSid", "From", "To", "ApiVersion")]
    q += [("RecordingSid", rec_sid),
          ("RecordingUrl", "https://api.twilio.com/2010-04-01/Accounts/%s/Recordings/%s"
           % (t.account_sid, rec_sid)),
          ("RecordingStatus", "completed"), ("RecordingDuration", "17"),
          ("RecordingChannels", "1"), ("RecordingSource", "RecordVerb")]
    return q


def test_spooled_requests_are_replayed_exactly_once(tenant, spool_apache, pg):
    t = tenant()
    ap = spool_apache()
    base = ap.base_url() + "/voice/"
    p = t.params()
    sid = param(p, "CallSid")
    rec_sid = "RE" + random_hex(32)
    reqs = [("inbound", p)]
    reqs += [("status-callback", status_params(t, p, s, i, **extra)) for i, (s, extra) in
             enumerate([("ringing", {}), ("in-progress", {}),
                        ("completed", {"CallDuration": "42"})])]
    reqs += [("recording", recording_params(t, p, rec_sid))]
    idems = [str(uuid.uuid4()) for _ in reqs]
    for (route, params), idem in zip(reqs, idems):
        write_spool(ap.spool, route, base + route, params, t.token, idem=idem)
    t0 = time.monotonic()
    wait_drained(ap.spool)
    print("5 spooled requests replayed in %.0f ms" % ((time.monotonic() - t0) * 1000))
    assert rejected(ap.spool) == []
    assert call_state(pg, sid) == [("completed", "4", "42")]
    assert pg.scalar("SELECT company_id FROM calls WHERE call_sid = '%s'" % sid) == \
        str(t.company_id)
    assert (events(pg, sid, "inbound"), events(pg, sid), events(pg, sid, "recording")) == (1, 3, 1)
    assert pg.scalar("SELECT recording_sid FROM calls WHERE call_sid = '%s'" % sid) == rec_sid
    assert pg.scalar("SELECT count(*) FROM jobs WHERE dedup_key = 'recording_download:%s'"
                     % rec_sid) == "1"
    # the same deliveries spooled again (Twilio retried, or a replay was interrupted before
    # its file was removed): they change nothing
    for (route, params), idem in zip(reqs, idems):
        write_spool(ap.spool, route, base + route, params, t.token, idem=idem)
    wait_drained(ap.spool)
    assert (events(pg, sid, "inbound"), events(pg, sid), events(pg, sid, "recording")) == (1, 3, 1)
    assert len(re.findall(r"spool: replayed \S+ \(.*CallSid %s" % sid, ap.read_log())) == 10
    assert rejected(ap.spool) == []


def test_slug_urls_resolve_by_slug(tenant, spool_apache, pg):
    t = tenant()
    ap = spool_apache()
    # a number that is not the tenant's: only the slug can find it
    p = t.params(to="+15550009999")
    sid = param(p, "CallSid")
    url = ap.base_url() + "/voice/%s/status-callback" % t.slug
    write_spool(ap.spool, "status-callback", url, status_params(t, p, "in-progress", 1),
                t.token, tenant=t.slug)
    wait_drained(ap.spool)
    assert rejected(ap.spool) == []
    assert call_state(pg, sid) == [("in-progress", "3", "-1")]


def test_unusable_or_tampered_files_are_rejected(tenant, spool_apache, pg):
    t, other = tenant(), tenant()
    ap = spool_apache()
    url = ap.base_url() + "/voice/status-callback"
    p = t.params()
    good = status_params(t, p, "completed", 2, CallDuration="10")
    tampered = [(k, "99999" if k == "CallDuration" else v) for k, v in good]
    foreign = [(k, other.account_sid if k == "AccountSid" else v) for k, v in good]
    names = {
        "tampered body": write_spool(ap.spool, "status-callback", url, tampered,
                                     signature=TwilioSigner.sign(t.token, url, good)),
        "other tenant's token": write_spool(ap.spool, "status-callback", url, good,
                                            other.token),
        "another URL signed": write_spool(ap.spool, "status-callback", url, good,
                                          signature=TwilioSigner.sign(t.token, url + "x", good)),
        "no signature": write_spool(ap.spool, "status-callback", url, good, signature=None),
        "foreign AccountSid": write_spool(ap.spool, "status-callback", url, foreign, t.token),
        "unknown number": write_spool(ap.spool, "inbound", ap.base_url() + "/voice/inbound",
                                      t.params(to="+15550000001"), t.token),
        "unknown route": write_spool(ap.spool, "escalate", url, good, t.token),
        "not JSON": write_spool(ap.spool, "status-callback", url, good, t.token,
                                raw="{not json"),
        "bad base64": write_spool(ap.spool, "status-callback", url, good, t.token,
                                  raw=json.dumps({"version": 1, "route": "status-callback",
                                                  "url": url, "body": "!!"})),
    }
    wait_drained(ap.spool)
    assert rejected(ap.spool) == sorted(names.values())
    sid = param(p, "CallSid")
    assert events(pg, sid) == 0 and call_state(pg, sid) == []
    log = ap.read_log()
    for why in ("signature does not match", "no signature", "AccountSid does not belong",
                "no enabled tenant for number +15550000001", "route 'escalate' is not replayed",
                "not a JSON object", "body is not base64"):
        assert why in log, why
    assert len(re.findall(r"\[voxtwilio-helper:warn\].*rejected and moved to rejected/", log)) \
        == len(names)
    # the good one still lands
    write_spool(ap.spool, "status-callback", url, good, t.token)
    wait_drained(ap.spool)
    assert call_state(pg, sid) == [("completed", "4", "10")]


def handler_spools(paths):
    with open(os.path.join(paths.srcdir, "mod_voxtwilio", "module", "vtm_handler.c")) as f:
        return "vtm_spool_write" in f.read()


@pytest.mark.expect_log(*DB_DOWN)
def test_outage_50_status_callbacks_and_a_call_land_once(tenant, spool_apache, client_for, pg,
                                                         paths):
    if not handler_spools(paths):
        pytest.skip("vtm_handler.c does not call vtm_spool_write yet: nothing is spooled "
                    "during an outage until the handler does")
    t = tenant()
    ap = spool_apache()
    c = client_for(ap)
    p = t.params()
    sid = param(p, "CallSid")
    checks.greeting(c.post_signed("/voice/inbound", p, t.token), t)
    during = t.params()
    statuses = ["ringing"] + ["in-progress"] * 48 + ["completed"]
    pg.stop()
    try:
        # the child knows the tenant (its row is cached): the caller is greeted as usual
        checks.greeting(c.post_signed("/voice/inbound", during, t.token), t)
        for i, s in enumerate(statuses):
            extra = {"CallDuration": "61"} if s == "completed" else {}
            r = c.post_signed("/voice/status-callback", status_params(t, p, s, i, **extra),
                              t.token)
            assert r.status_code == 204, "callback %d: %d %s" % (i, r.status_code, r.text)
        assert len(pending(ap.spool)) == 51
    finally:
        pg.start()
    t0 = time.monotonic()
    wait_until(lambda: events(pg, sid) == 50 and call_state(pg, param(during, "CallSid")),
               10, interval=0.1, what="50 callbacks and the call replayed")
    print("outage spool replayed in %.1f s after PostgreSQL came back"
          % (time.monotonic() - t0))
    wait_drained(ap.spool)
    time.sleep(1.5)
    assert events(pg, sid) == 50
    assert call_state(pg, sid) == [("completed", "4", "61")]
    assert events(pg, param(during, "CallSid"), "inbound") == 1
    # The call that came in during the outage has its transcript's first turn, the
    # greeting, as one answered in time does (the inbound statement writes it).
    assert pg.psql("SELECT seq, role, text FROM call_turns WHERE call_sid = '%s'"
                   % param(during, "CallSid")) == [("1", "assistant", t.greeting)]
    assert rejected(ap.spool) == []


@pytest.mark.expect_log(*DB_DOWN)
def test_speech_during_outage_asks_again_and_is_kept(tenant, spool_apache, client_for, pg):
    """A Gather result during an outage: the caller hears an apology and a fresh <Gather> for
    the same turn, and the result is written as a `speech` event once the database is back."""
    t = tenant()
    ap = spool_apache()
    c = client_for(ap)
    p = t.params()
    sid = param(p, "CallSid")
    checks.greeting(c.post_signed("/voice/inbound", p, t.token), t)
    said = p + [("SpeechResult", "what are your opening hours"), ("Confidence", "0.9")]
    pg.stop()
    try:
        r = c.post_signed("/voice/speech?t=1&ni=0&nm=0", said, t.token)
        doc = checks.twiml_response(r)
        assert doc.gather is not None and doc.gather.get("action") == "speech?t=1&ni=0&nm=0"
        assert "say that again" in doc.spoken()[0]
    finally:
        pg.start()
    wait_until(lambda: events(pg, sid, "speech") == 1, 10, interval=0.1,
               what="the spooled Gather result replayed")
    assert pg.scalar("SELECT params->>'SpeechResult' FROM call_events WHERE call_sid = '%s' "
                     "AND kind = 'speech'" % sid) == "what are your opening hours"
    wait_drained(ap.spool)
    assert rejected(ap.spool) == []
