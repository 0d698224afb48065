"""Twilio retries: the same CallSid never creates a second calls row."""
import threading
import uuid

from pyvt import TwilioSigner, checks, param
from conftest import call_rows
from test_inbound import INBOUND


def test_identical_retry_creates_one_row(tenant, client, pg):
    t = tenant()
    p = t.params(from_="+14155550111")
    token = str(uuid.uuid4())
    r1 = client.post_signed(INBOUND, p, t.token, idempotency_token=token)
    r2 = client.post_signed(INBOUND, p, t.token, idempotency_token=token)
    checks.greeting(r1, t)
    checks.greeting(r2, t)
    assert r1.content == r2.content
    assert call_rows(pg, param(p, "CallSid")) == [
        (str(t.company_id), "+14155550111", t.number, "inbound")]


def test_resigned_retry_creates_one_row(tenant, client, pg):
    """A retry that differs (new idempotency token, an extra parameter, so a new signature)
    but carries the same CallSid is still the same call."""
    t = tenant()
    p = t.params(from_="+14155550112")
    checks.greeting(client.post_signed(INBOUND, p, t.token), t)
    p2 = p + [("ForwardedFrom", "+14155550000")]
    r = client.post_signed(INBOUND, p2, t.token, idempotency_token=str(uuid.uuid4()))
    checks.greeting(r, t)
    assert TwilioSigner.sign(t.token, client.signed_url(INBOUND), p) != \
        TwilioSigner.sign(t.token, client.signed_url(INBOUND), p2)
    rows = call_rows(pg, param(p, "CallSid"))
    assert rows == [(str(t.company_id), "+14155550112", t.number, "inbound")]


def test_concurrent_retries_create_one_row(tenant, client_for, apache, pg):
    t = tenant()
    p = t.params()
    results = []
    lock = threading.Lock()

    def hit():
        c = client_for(apache)
        r = c.post_signed(INBOUND, p, t.token)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert len(results) == 8
    for r in results:
        checks.greeting(r, t)
    assert len(call_rows(pg, param(p, "CallSid"))) == 1


def test_calls_of_different_callsids_are_separate_rows(tenant, client, pg):
    t = tenant()
    sids = []
    for _ in range(3):
        p = t.params()
        sids.append(param(p, "CallSid"))
        checks.greeting(client.post_signed(INBOUND, p, t.token), t)
    n = pg.scalar("SELECT count(*) FROM calls WHERE company_id = %d" % t.company_id)
    assert int(n) == 3
    for s in sids:
        assert len(call_rows(pg, s)) == 1
