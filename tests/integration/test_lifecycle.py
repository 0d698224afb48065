"""Admin changes reach the running gateway at once (no stale tenant data), the module is
off unless switched on, it works under every MPM, and graceful restarts drop no call."""
import threading
import time

import pytest

import pyvt
from pyvt import checks, param
from conftest import call_rows
from test_inbound import INBOUND, count_calls


def test_company_set_greeting_is_used_on_the_next_call(tenant, admin, client):
    t = tenant()
    checks.greeting(client.post_signed(INBOUND, t.params(), t.token), t)
    t.greeting = "We moved! New greeting for %s." % t.name
    t.voice, t.language = "Polly.Amy", "en-GB"
    r = admin("company", "set", t.slug, "--greeting", t.greeting, "--voice", t.voice,
              "--language", t.language)
    assert r.rc == 0, r
    checks.greeting(client.post_signed(INBOUND, t.params(), t.token), t)


def test_set_token_replaces_the_signing_key(tenant, admin, client, capture):
    t = tenant()
    new = pyvt.new_auth_token()
    capture.add_secret("replaced token of %s" % t.slug, new)
    r = admin("integration", "set-token", t.slug, input=new + "\n")
    assert r.rc == 0, r
    checks.forbidden(client.post_signed(INBOUND, t.params(), t.token), t)
    old, t.token = t.token, new
    checks.greeting(client.post_signed(INBOUND, t.params(), t.token), t)
    assert old not in r.out + r.err and new not in r.out + r.err


def test_integration_disable_and_enable(tenant, admin, client, pg):
    t = tenant()
    r = admin("integration", "disable", t.slug)
    assert r.rc == 0, r
    p = t.params()
    checks.not_in_service(client.post_signed(INBOUND, p, t.token), t)
    assert count_calls(pg, param(p, "CallSid")) == 0
    r = admin("integration", "enable", t.slug)
    assert r.rc == 0, r
    checks.greeting(client.post_signed(INBOUND, t.params(), t.token), t)


def test_integration_remove_frees_the_number(tenant, admin, client, pg):
    a = tenant()
    r = admin("integration", "remove", a.slug)
    assert r.rc == 0, r
    checks.not_in_service(client.post_signed(INBOUND, a.params(), a.token), a)
    # the number can now belong to someone else, whose calls it then reaches
    b = tenant()
    r = admin("integration", "remove", b.slug)
    assert r.rc == 0, r
    r = admin("integration", "add", b.slug, "--account-sid", b.account_sid, "--number",
              a.number, input=b.token + "\n")
    assert r.rc == 0, r
    b.numbers = [a.number]
    p = b.params()
    checks.greeting(client.post_signed(INBOUND, p, b.token), b)
    assert call_rows(pg, param(p, "CallSid"))[0][0] == str(b.company_id)


@pytest.mark.parametrize("setting", ["Off", None], ids=["off", "unset"])
def test_module_is_off_unless_switched_on(tenant, apache_factory, client_for, pg, setting):
    t = tenant()
    ap = apache_factory(voxtwilio=setting)
    p = t.params()
    r = client_for(ap).post_signed(INBOUND, p, t.token)
    checks.status(r, 404)
    assert "<Response" not in r.text
    assert count_calls(pg, param(p, "CallSid")) == 0


@pytest.mark.parametrize("mpm", ["prefork", "worker", "event"])
def test_every_mpm(tenant, apache_factory, client_for, mpm):
    t = tenant()
    ap = apache_factory(mpm=mpm)
    c = client_for(ap)
    for _ in range(3):
        checks.greeting(c.post_signed(INBOUND, t.params(), t.token), t)
    checks.forbidden(c.post_signed(INBOUND, t.params(), pyvt.new_auth_token()), t)


def test_graceful_restart_under_load_drops_no_call(tenant, apache_factory, client_for, pg):
    t = tenant()
    ap = apache_factory()
    stop = threading.Event()
    results, lock = [], threading.Lock()

    def caller():
        c = client_for(ap)
        while not stop.is_set():
            p = t.params()
            try:
                r = c.post_signed(INBOUND, p, t.token, headers={"Connection": "close"})
                ok = r.status_code == 200 and "<Gather" in r.text
                res = (param(p, "CallSid"), ok, "%d %s" % (r.status_code, r.text[:200]))
            except Exception as e:  # noqa: BLE001
                res = (param(p, "CallSid"), False, repr(e))
            with lock:
                results.append(res)

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for th in threads:
        th.start()
    try:
        time.sleep(0.5)
        for _ in range(2):
            ap.graceful()
            time.sleep(0.5)
    finally:
        stop.set()
        for th in threads:
            th.join(30)
    bad = [r for r in results if not r[1]]
    assert len(results) > 20, "too few calls placed: %d" % len(results)
    assert not bad, "%d of %d calls failed during graceful restarts: %s" % (
        len(bad), len(results), bad[:3])
    sids = [r[0] for r in results]
    n = int(pg.scalar("SELECT count(*) FROM calls WHERE company_id = %d" % t.company_id))
    assert n == len(set(sids))
