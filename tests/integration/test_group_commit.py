"""VoxTwilioGroupCommit: the writes of webhooks that arrive together in one Apache child
share one transaction; each is answered only after the commit that holds it, a lone webhook
is not delayed, and a write the database refuses costs the others of its group nothing (they
are run again alone; it is spooled, as in an outage)."""
import concurrent.futures
import glob
import os

import pytest

from pyvt import checks, param
from conftest import call_rows
from test_callbacks import STATUS, status_params
from test_inbound import INBOUND
from test_status import status

THREADS = 8


def group_counts(client):
    s = status(client)
    return int(s["VoxTwilioGroupCommits"]), int(s["VoxTwilioGroupedWrites"])


@pytest.fixture
def gc_apache(apache_factory, client_for):
    a = apache_factory(server_extra="VoxTwilioGroupCommit 2")
    return a, client_for(a)


def call_of(client, t, p):
    """inbound, then two status callbacks: three writes; the answers."""
    r1 = client.post_signed(INBOUND, p, t.token)
    r2 = client.post_signed(STATUS, status_params(t, p, "in-progress", 1), t.token)
    r3 = client.post_signed(STATUS, status_params(t, p, "completed", 2, CallDuration="5"),
                            t.token)
    return r1, r2.status_code, r3.status_code


def test_webhooks_together_share_a_commit_each_written_once(gc_apache, tenant, pg):
    a, client = gc_apache
    t = tenant()
    calls = [t.params() for _ in range(120)]
    g0, w0 = group_counts(client)
    with concurrent.futures.ThreadPoolExecutor(THREADS) as ex:
        answers = list(ex.map(lambda p: call_of(client, t, p), calls))
    for r1, s2, s3 in answers:
        checks.greeting(r1, t)
        assert (s2, s3) == (204, 204)
    sids = sorted(param(p, "CallSid") for p in calls)
    rows = pg.psql(
        "SELECT c.call_sid, c.company_id, c.status, c.duration_s, "
        "(SELECT count(*) FROM call_events e WHERE e.call_sid = c.call_sid AND kind = 'status'),"
        "(SELECT count(*) FROM call_events e WHERE e.call_sid = c.call_sid AND kind = 'inbound'),"
        "(SELECT count(*) FROM call_turns u WHERE u.call_sid = c.call_sid) "
        "FROM calls c WHERE c.call_sid IN (%s) ORDER BY c.call_sid"
        % ",".join("'%s'" % s for s in sids))
    assert rows == [(sid, str(t.company_id), "completed", "5", "2", "1", "1") for sid in sids]
    g, w = group_counts(client)
    assert g > g0, "no two writes ever shared a transaction"
    assert (w - w0) >= 2 * (g - g0)
    assert "did not commit" not in a.read_log()


def test_a_lone_webhook_commits_alone(gc_apache, tenant, pg):
    a, client = gc_apache
    t = tenant()
    g0, w0 = group_counts(client)
    for _ in range(5):
        p = t.params()
        checks.greeting(client.post_signed(INBOUND, p, t.token), t)
        assert len(call_rows(pg, param(p, "CallSid"))) == 1
    assert group_counts(client) == (g0, w0)


REFUSE = "refused-by-the-database"


@pytest.fixture
def refusing_db(pg):
    """The database refuses (raises on) any call event whose CallerName is REFUSE."""
    pg.psql("CREATE FUNCTION vt_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.params->>'CallerName' = '%s' THEN RAISE EXCEPTION 'refused by the test'; "
            "END IF; RETURN NEW; END $$; CREATE TRIGGER vt_test_refuse BEFORE INSERT ON "
            "call_events FOR EACH ROW EXECUTE FUNCTION vt_test_refuse()" % REFUSE)
    yield
    pg.psql("DROP TRIGGER vt_test_refuse ON call_events; DROP FUNCTION vt_test_refuse()")


@pytest.mark.expect_log(r"statement voxtwilio_event_\w+ failed", r"refused by the test",
                        r"database unavailable", r"VT10105", r"VT10304", r"spooled")
def test_a_refused_write_costs_its_group_nothing(gc_apache, tenant, pg, refusing_db):
    a, client = gc_apache
    t = tenant()
    good, bad = [], []
    for rnd in range(10):
        batch = []
        for i in range(THREADS * 2):
            p = t.params(extra=[("CallerName", REFUSE)]) if i % 6 == 0 else t.params()
            (bad if i % 6 == 0 else good).append(p)
            batch.append(p)
        with concurrent.futures.ThreadPoolExecutor(THREADS) as ex:
            answers = list(ex.map(lambda p: client.post_signed(INBOUND, p, t.token), batch))
        for r in answers:
            checks.greeting(r, t)   # the refused ones too: the caller never hears silence
        if "VT10105" in a.read_log():
            break
    assert "VT10105" in a.read_log(), "no group ever held a refused write"
    for p in good:
        assert len(call_rows(pg, param(p, "CallSid"))) == 1
    for p in bad:
        assert call_rows(pg, param(p, "CallSid")) == []
    spooled = glob.glob(os.path.join(a.root, "run", "voxtwilio-spool", "*.json"))
    assert len(spooled) == len(bad)
