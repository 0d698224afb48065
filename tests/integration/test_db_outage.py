"""PostgreSQL down: callers still get valid TwiML within 2 s, and the module reconnects
(and re-prepares its statements) once the database is back."""
import threading
import time

import pytest

from pyvt import checks, param
from conftest import call_rows
from test_inbound import INBOUND

DB_ERRORS = [r"\[dbd:(error|crit|alert)\]", r"\[voxtwilio:(error|crit)\]"]


def timed_post(client, t, p):
    t0 = time.monotonic()
    r = client.post_signed(INBOUND, p, t.token)
    return r, time.monotonic() - t0


def wait_for_recovery(client, t, pg, timeout=20):
    """Retries signed inbound calls until one is answered with the greeting and written to
    the database (not spooled: a child that has the tenant cached greets during an outage
    too)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        p = t.params()
        r = client.post_signed(INBOUND, p, t.token)
        assert r.status_code < 500, "5xx after the database came back: %d %s" % (
            r.status_code, r.text)
        last = r
        if r.status_code == 200 and "<Gather" in r.text:
            checks.greeting(r, t)
            if pg.psql("SELECT 1 FROM calls WHERE call_sid = '%s'" % param(p, "CallSid"),
                       check=False):
                return p
        time.sleep(0.5)
    pytest.fail("no greeting within %ds after PostgreSQL restarted; last answer: %d %s"
                % (timeout, last.status_code, last.text))


def burst(client_for, apache, t, n_threads=8, per_thread=3):
    """Several concurrent callers, so several pooled connections get used."""
    errors, oks = [], []
    lock = threading.Lock()

    def worker():
        c = client_for(apache)
        for _ in range(per_thread):
            p = t.params()
            r = c.post_signed(INBOUND, p, t.token)
            with lock:
                if r.status_code == 200 and "<Gather" in r.text:
                    oks.append(param(p, "CallSid"))
                else:
                    errors.append("%d %s" % (r.status_code, r.text[:300]))

    ths = [threading.Thread(target=worker) for _ in range(n_threads)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(60)
    return oks, errors


@pytest.mark.expect_log(*DB_ERRORS)
def test_database_down_greeting_or_apology_then_reconnect(tenant, apache, client, client_for,
                                                         pg):
    """During an outage a tenant the children have cached (VoxTwilioTenantCache) is
    greeted as usual (its calls are spooled: test_spool.py replays them); a tenant no child
    knows gets the apology. Both within 2 s."""
    t = tenant()
    # warm up: the pooled connections exist and have their statements prepared, and every
    # child has the tenant's row
    oks, errors = burst(client_for, apache, t, n_threads=6, per_thread=2)
    assert not errors, errors
    stranger = tenant()
    pg.stop()
    try:
        for i in range(5):
            p = t.params()
            r, elapsed = timed_post(client, t, p)
            assert r.status_code < 500, "5xx while the database is down: %d" % r.status_code
            checks.greeting(r, t)
            assert elapsed < 2.0, "greeting took %.2fs (call %d)" % (elapsed, i)
        for who, to in ((stranger, None), (t, "+15550000000")):  # unknown to every child
            r, elapsed = timed_post(client, who, who.params(to=to) if to else who.params())
            checks.apology(r)
            assert elapsed < 2.0
    finally:
        pg.start()
    p = wait_for_recovery(client, t, pg)
    assert call_rows(pg, param(p, "CallSid"))[0][0] == str(t.company_id)
    # every pooled connection works again (lost server-side PREPAREs are re-done)
    oks, errors = burst(client_for, apache, t)
    assert not errors, "after recovery %d of %d calls failed: %s" % (
        len(errors), len(errors) + len(oks), errors[:3])
    for sid in oks:
        assert len(call_rows(pg, sid)) == 1


@pytest.mark.expect_log(*DB_ERRORS)
def test_database_down_when_apache_starts(tenant, apache_factory, client_for, pg):
    t = tenant()
    pg.stop()
    try:
        ap = apache_factory()      # child_init cannot connect: the module must cope
        c = client_for(ap)
        r, elapsed = timed_post(c, t, t.params())
        checks.apology(r)
        assert elapsed < 2.0, "apology took %.2fs" % elapsed
    finally:
        pg.start()
    p = wait_for_recovery(c, t, pg)
    assert len(call_rows(pg, param(p, "CallSid"))) == 1


@pytest.fixture(autouse=True)
def _fresh_session_apache_afterwards(request):
    """Whatever happened, leave the session Apache with fresh connection pools so a
    reconnect bug here does not cascade into other test files."""
    yield
    if "apache" in request.fixturenames:
        ap = request.getfixturevalue("apache")
        if ap.running():
            ap.graceful()
