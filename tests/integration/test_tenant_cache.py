"""The tenant cache (VoxTwilioTenantCache): an inbound webhook takes its tenant row from its
Apache child's cache and writes the call in one statement that checks the company's
tenant_version (sql/009); every change voxtwilio-admin can make to what a webhook reads of a
tenant is honoured by the very next webhook of every child, cached or not."""
import pytest

import pyvt
from pyvt import checks, param
from conftest import call_rows
from test_callbacks import STATUS, events, status_params
from test_inbound import INBOUND, count_calls
from test_status import status

# Enough calls for every child of the test Apache (two) to hold the tenant's row.
PRIME = 8
AFTER = 4


def counts(client):
    s = status(client)
    return tuple(int(s["VoxTwilioTenantCache%s" % k]) for k in ("Hits", "Misses", "Stale"))


def prime(client, t):
    for _ in range(PRIME):
        checks.greeting(client.post_signed(INBOUND, t.params(), t.token), t)


def test_inbound_takes_its_tenant_from_the_cache(tenant, client, pg):
    t = tenant()
    h0, m0, _ = counts(client)
    sids = []
    for _ in range(PRIME):
        p = t.params()
        checks.greeting(client.post_signed(INBOUND, p, t.token), t)
        sids.append(param(p, "CallSid"))
    h, m, _ = counts(client)
    assert (h - h0) + (m - m0) == PRIME
    assert m - m0 <= 2 and h - h0 >= PRIME - 2, "one miss per child at most"
    # a cached tenant writes the call, its event and its greeting turn as before
    for sid in sids:
        assert count_calls(pg, sid) == 1
        assert pg.scalar("SELECT count(*) FROM call_turns WHERE call_sid = '%s'" % sid) == "1"


def change_greeting(admin, t, client, pg, capture):
    t.greeting = "New greeting for %s, from the database." % t.name
    assert admin("company", "set", t.slug, "--greeting", t.greeting).rc == 0
    for _ in range(AFTER):
        p = t.params()
        checks.greeting(client.post_signed(INBOUND, p, t.token), t)
        assert pg.scalar("SELECT text FROM call_turns WHERE call_sid = '%s'"
                         % param(p, "CallSid")) == t.greeting


def change_token(admin, t, client, pg, capture):
    new = pyvt.new_auth_token()
    capture.add_secret("replaced token of %s" % t.slug, new)
    assert admin("integration", "set-token", t.slug, input=new + "\n").rc == 0
    old, t.token = t.token, new
    for _ in range(AFTER):
        p = t.params()
        checks.forbidden(client.post_signed(INBOUND, p, old), t)
        assert count_calls(pg, param(p, "CallSid")) == 0
        checks.greeting(client.post_signed(INBOUND, t.params(), t.token), t)


def switched_off(what):
    """voxtwilio-admin WHAT disable: not in service, nothing written; enable: greeted."""
    def change(admin, t, client, pg, capture):
        assert admin(what, "disable", t.slug).rc == 0
        for _ in range(AFTER):
            p = t.params()
            checks.not_in_service(client.post_signed(INBOUND, p, t.token), t)
            assert count_calls(pg, param(p, "CallSid")) == 0
        assert admin(what, "enable", t.slug).rc == 0
        for _ in range(AFTER):
            checks.greeting(client.post_signed(INBOUND, t.params(), t.token), t)
    change.__name__ = "disable_" + what
    return change


@pytest.mark.parametrize("change", [change_greeting, change_token, switched_off("integration"),
                                    switched_off("company")],
                         ids=["greeting", "token", "integration-disabled", "company-disabled"])
def test_every_change_is_seen_by_the_next_webhook(tenant, admin, client, pg, capture,
                                                  change):
    t = tenant()
    prime(client, t)
    _, _, stale0 = counts(client)
    change(admin, t, client, pg, capture)
    assert counts(client)[2] > stale0, "the cached rows were found stale"


def test_a_number_moved_to_another_tenant(tenant, admin, client, pg):
    a = tenant()
    prime(client, a)
    b = tenant()
    assert admin("integration", "remove", b.slug).rc == 0
    assert admin("integration", "remove", a.slug).rc == 0
    for _ in range(AFTER):
        checks.not_in_service(client.post_signed(INBOUND, a.params(), a.token), a)
    assert admin("integration", "add", b.slug, "--account-sid", b.account_sid, "--number",
                 a.number, input=b.token + "\n").rc == 0
    b.numbers = [a.number]
    for _ in range(AFTER):
        p = b.params()
        checks.greeting(client.post_signed(INBOUND, p, b.token), b)
        assert call_rows(pg, param(p, "CallSid"))[0][0] == str(b.company_id)


def test_tenant_cache_off(tenant, apache_factory, client_for):
    """VoxTwilioTenantCache 0: every webhook looks its tenant up; the answers are the same."""
    a = apache_factory(server_extra="VoxTwilioTenantCache 0")
    client = client_for(a)
    t = tenant()
    prime(client, t)
    h, m, _ = counts(client)
    assert h == 0 and m == 0  # the counters count the cache's lookups only


# ---------------------------------------------------------------- callbacks and turns
SPEECH = "/voice/speech?t=1&ni=0&nm=0"


def said(p, text="what are your opening hours"):
    return p + [("SpeechResult", text), ("Confidence", "0.9")]


def turns(pg, sid):
    return int(pg.scalar("SELECT count(*) FROM call_turns WHERE call_sid = '%s'" % sid))


def test_speech_and_status_take_the_tenant_from_the_cache(tenant, client, pg):
    """A call's turns and status callbacks find its tenant as the row of the call's own
    number, from the cache, and write in the one statement that checks it."""
    t = tenant()
    prime(client, t)
    calls = [t.params() for _ in range(AFTER)]
    for p in calls:
        checks.greeting(client.post_signed(INBOUND, p, t.token), t)
    h0, m0, s0 = counts(client)
    for p in calls:
        r = client.post_signed(SPEECH, said(p), t.token)
        assert checks.twiml_response(r).gather is not None
        r = client.post_signed(STATUS, status_params(t, p, "completed", 3, CallDuration="9"),
                               t.token)
        assert r.status_code == 204, r.text
    h, m, s = counts(client)
    assert (h - h0, m - m0, s - s0) == (2 * AFTER, 0, 0)
    for p in calls:
        sid = param(p, "CallSid")
        assert turns(pg, sid) == 3  # greeting, the caller's words, the answer
        assert pg.psql("SELECT status, duration_s FROM calls WHERE call_sid = '%s'"
                       % sid) == [("completed", "9")]


def test_callbacks_see_every_change_at_once(tenant, admin, client, pg, capture):
    """A token replaced, a company disabled: the next turn and status callback of a call in
    progress already know (a cached row is found stale by the statement)."""
    t = tenant()
    prime(client, t)
    p = t.params()
    sid = param(p, "CallSid")
    checks.greeting(client.post_signed(INBOUND, p, t.token), t)
    new = pyvt.new_auth_token()
    capture.add_secret("replaced token of %s" % t.slug, new)
    assert admin("integration", "set-token", t.slug, input=new + "\n").rc == 0
    old, t.token = t.token, new
    for _ in range(AFTER):
        checks.forbidden(client.post_signed(SPEECH, said(p), old), t)
        assert client.post_signed(STATUS, status_params(t, p, "in-progress", 1),
                                  old).status_code == 403
    assert turns(pg, sid) == 1
    assert events(pg, sid) == 0
    assert admin("company", "disable", t.slug).rc == 0
    for _ in range(AFTER):
        checks.not_in_service(client.post_signed(SPEECH, said(p), t.token), t)
        assert client.post_signed(STATUS, status_params(t, p, "in-progress", 1),
                                  t.token).status_code == 404
    assert turns(pg, sid) == 1 and events(pg, sid) == 0
    assert admin("company", "enable", t.slug).rc == 0
    assert checks.twiml_response(client.post_signed(SPEECH, said(p), t.token)).gather is not None
    assert turns(pg, sid) == 3


def test_a_callback_is_written_to_its_calls_company(tenant, client, pg):
    """Two companies of one Twilio account: a callback of b's call that names a's number
    (cached) is b's, as the call's row says; the cached row of a writes nothing."""
    a = tenant()
    b = tenant(account_sid=a.account_sid, token=a.token)
    p = b.params()
    sid = param(p, "CallSid")
    checks.greeting(client.post_signed(INBOUND, p, b.token), b)
    prime(client, a)
    odd = [(k, a.number if k == "To" else v) for k, v in p]
    _, _, s0 = counts(client)
    for seq in range(AFTER):
        r = client.post_signed(STATUS, status_params(b, odd, "in-progress", seq), b.token)
        assert r.status_code == 204, r.text
    assert counts(client)[2] > s0, "a's cached row was found not to be the call's"
    assert pg.psql("SELECT DISTINCT company_id FROM call_events WHERE call_sid = '%s' "
                   "AND kind = 'status'" % sid) == [(str(b.company_id),)]
    assert events(pg, sid) == AFTER


def test_callbacks_alone_fill_the_cache(tenant, client, apache_factory, client_for, pg):
    """A gateway that saw none of the calls' inbound webhooks (another host took them)
    finds the tenant by the call's number and keeps it: one miss per child at most."""
    t = tenant()
    calls = [t.params() for _ in range(PRIME)]
    for p in calls:
        checks.greeting(client.post_signed(INBOUND, p, t.token), t)
    other = client_for(apache_factory())
    h0, m0, _ = counts(other)
    for seq, p in enumerate(calls):
        r = other.post_signed(STATUS, status_params(t, p, "in-progress", seq), t.token)
        assert r.status_code == 204, r.text
    h, m, _ = counts(other)
    assert m - m0 <= 2 and h - h0 >= PRIME - 2, (h - h0, m - m0)
    for p in calls:
        assert events(pg, param(p, "CallSid")) == 1
