"""Status and recording callbacks: stored once per delivery, the call row only moves forward,
a completed recording queues exactly one download job."""
import uuid

from pyvt import checks, param
from pyvt.twilio import random_hex

from test_inbound import INBOUND

STATUS = "/voice/status-callback"
RECORDING = "/voice/recording"


def status_params(t, p, status, seq, **extra):
    q = [kv for kv in p if kv[0] not in ("CallStatus",)]
    q += [("CallStatus", status), ("SequenceNumber", str(seq)),
          ("CallbackSource", "call-progress-events"),
          ("Timestamp", "Tue, 16 Aug 2016 03:45:01 +0000")]
    q += list(extra.items())
    return q


def call_state(pg, call_sid):
    return pg.psql("SELECT status, status_rank, coalesce(duration_s, -1) FROM calls "
                   "WHERE call_sid = '%s'" % call_sid)


def events(pg, call_sid, kind="status"):
    return int(pg.scalar("SELECT count(*) FROM call_events WHERE call_sid = '%s' AND kind = '%s'"
                         % (call_sid, kind)))


def test_status_callbacks_move_the_call_forward(tenant, client, pg):
    t = tenant()
    p = t.params()
    sid = param(p, "CallSid")
    checks.greeting(client.post_signed(INBOUND, p, t.token), t)
    for seq, status in enumerate(["ringing", "in-progress"]):
        r = client.post_signed(STATUS, status_params(t, p, status, seq), t.token)
        assert r.status_code == 204, r.text
    r = client.post_signed(STATUS, status_params(t, p, "completed", 2, CallDuration="42"), t.token)
    assert r.status_code == 204 and r.text == ""
    assert call_state(pg, sid) == [("completed", "4", "42")]
    assert events(pg, sid) == 3


def test_late_and_duplicate_callbacks_change_nothing(tenant, client, pg):
    t = tenant()
    p = t.params()
    sid = param(p, "CallSid")
    checks.greeting(client.post_signed(INBOUND, p, t.token), t)
    done = status_params(t, p, "completed", 2, CallDuration="30")
    token = str(uuid.uuid4())
    assert client.post_signed(STATUS, done, t.token, idempotency_token=token).status_code == 204
    # the same delivery again, and a late `ringing` delivered out of order
    assert client.post_signed(STATUS, done, t.token, idempotency_token=token).status_code == 204
    late = status_params(t, p, "ringing", 0)
    assert client.post_signed(STATUS, late, t.token).status_code == 204
    assert call_state(pg, sid) == [("completed", "4", "30")]
    assert events(pg, sid) == 2  # the duplicate delivery is not stored twice


def test_callback_for_unknown_call_creates_the_row(tenant, client, pg):
    """A status callback may arrive before (or instead of) the inbound webhook's write."""
    t = tenant()
    p = t.params()
    sid = param(p, "CallSid")
    r = client.post_signed(STATUS, status_params(t, p, "in-progress", 1), t.token)
    assert r.status_code == 204
    assert call_state(pg, sid) == [("in-progress", "3", "-1")]


def test_callback_signature_and_tenant_checks(tenant, client, pg):
    t, other = tenant(), tenant()
    p = t.params()
    checks.greeting(client.post_signed(INBOUND, p, t.token), t)
    sp = status_params(t, p, "completed", 2)
    assert client.post_signed(STATUS, sp, other.token).status_code == 403
    # another tenant's account on this tenant's call: never accepted
    foreign = [(k, other.account_sid if k == "AccountSid" else v) for k, v in sp]
    assert client.post_signed(STATUS, foreign, other.token).status_code == 404
    unknown = status_params(t, t.params(to="+15550009999", from_="+15550009998"), "completed", 1)
    assert client.post_signed(STATUS, unknown, t.token).status_code == 404
    assert call_state(pg, param(p, "CallSid"))[0][0] == "ringing"


def test_recording_callback_queues_one_download(tenant, client, pg):
    t = tenant()
    p = t.params()
    sid = param(p, "CallSid")
    checks.greeting(client.post_signed(INBOUND, p, t.token), t)
    rec = "RE" + random_hex(32)
    url = "https://api.twilio.com/2010-04-01/Accounts/%s/Recordings/%s" % (t.account_sid, rec)
    rp = [("AccountSid", t.account_sid), ("CallSid", sid), ("RecordingSid", rec),
          ("RecordingUrl", url), ("RecordingStatus", "completed"), ("RecordingDuration", "17"),
          ("RecordingChannels", "1"), ("RecordingSource", "RecordVerb")]
    for _ in range(2):
        r = client.post_signed(RECORDING, rp, t.token)
        assert r.status_code == 204, r.text
    assert pg.psql("SELECT recording_sid, recording_url, recording_duration_s FROM calls "
                   "WHERE call_sid = '%s'" % sid) == [(rec, url, "17")]
    jobs = pg.psql("SELECT kind, status, payload->>'recording_sid' FROM jobs WHERE call_sid = '%s'"
                   % sid)
    assert jobs == [("recording_download", "pending", rec)]


def test_malformed_callback_is_rejected(tenant, client):
    t = tenant()
    p = [kv for kv in t.params() if kv[0] != "CallSid"] + [("CallSid", "CA123")]
    assert client.post_signed(STATUS, status_params(t, p, "completed", 1), t.token).status_code \
        == 400
