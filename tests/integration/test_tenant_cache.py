"""The tenant cache (VoxTwilioTenantCache): an inbound webhook takes its tenant row from its
Apache child's cache and writes the call in one statement that checks the company's
tenant_version (sql/009); every change voxtwilio-admin can make to what a webhook reads of a
tenant is honoured by the very next webhook of every child, cached or not."""
import pytest

import pyvt
from pyvt import checks, param
from conftest import call_rows
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
