"""Outbound AI calls (issue 12, item 6): `voxtwilio-admin calls place` queues a job, the real
helper creates the call with Calls.json on the REST stand-in (Url the tenant's inbound route,
every status event to its status-callback route, answering-machine detection when asked),
and the test then plays Twilio exactly as it would for that call: the answer URL's request
signed at the Url the helper gave, with Direction outbound-api and AnsweredBy. A person
hears the call's greeting and the usual conversation follows; a machine gets the tenant's
voicemail message, or a hang-up; the call is logged as outbound-api with its turns and
statuses. Refused at once, or by the helper, for a number that opted out of calls."""
import urllib.parse

import pytest

import pyvt
from pyvt import param, parse_twiml
from test_callbacks import STATUS, status_params
from test_conversation import Call, deliver_jobs, transcript

CALLEE = "+14155550161"

pytestmark = pytest.mark.usefixtures("migrated")


def outbound_tenant(tenant, admin, apache, *extra):
    t = tenant()
    t.webhook_url = "%s/voice/%s" % (apache.base_url(), t.slug)
    r = admin("company", "set", t.slug, "--webhook-url", t.webhook_url + "/", *extra)
    assert r.rc == 0, r
    return t


def place(admin, t, *args, to=CALLEE):
    r = admin("calls", "place", t.slug, "--to", to, *args)
    assert r.rc == 0 and "queued as job" in r.out, r
    return int(r.out.split("queued as job ")[1].split()[0])


def job_of(pg, jid):
    (row,) = pg.psql("SELECT status, coalesce(call_sid, ''), coalesce(last_error, ''),"
                     " coalesce(payload->>'call_sid', '') FROM jobs WHERE id = %d" % jid)
    return row


class Answered(Call):
    """Twilio's side of a call the helper placed: it fetches the call's Url (signed at that
    URL) once the callee answered, then follows the TwiML as for any call."""

    def __init__(self, client, t, created, answered_by=None):
        self.client, self.t = client, t
        form = created["form"]
        self.url = dict(form)["Url"]
        self.sid = created["sid"]
        self.p = pyvt.voice_params(t.account_sid, created["from"], created["to"],
                                   call_sid=self.sid, call_status="in-progress",
                                   direction="outbound-api")
        if answered_by:
            self.p.append(("AnsweredBy", answered_by))
        self.path = urllib.parse.urlsplit(self.url).path
        self.doc = None

    def start(self):
        return self.post(self.path)


def test_a_person_answers_and_talks_with_the_assistant(tenant, admin, apache, client, pg,
                                                        standin, paths, key_file):
    t = outbound_tenant(tenant, admin, apache, "--outbound-greeting",
                        "Hello, this is the practice calling.")
    jid = place(admin, t, "--greeting", "Hi, this is Dr Lee's office about your appointment.")
    assert standin.calls_of(t.account_sid) == []  # queued, not placed by the admin tool
    deliver_jobs(paths, pg, key_file, standin)
    (created,) = standin.calls_of(t.account_sid)
    form = created["form"]
    d = dict(form)
    assert (d["To"], d["From"]) == (CALLEE, t.number)
    assert d["Url"] == t.webhook_url + "/inbound"
    assert d["StatusCallback"] == t.webhook_url + "/status-callback"
    assert [v for k, v in form if k == "StatusCallbackEvent"] == [
        "initiated", "ringing", "answered", "completed"]
    assert "MachineDetection" not in d
    assert job_of(pg, jid) == ("done", created["sid"], "", created["sid"])
    assert pg.psql("SELECT direction, from_number, to_number, status FROM calls"
                   " WHERE call_sid = '%s'" % created["sid"]) == [
        ("outbound-api", t.number, CALLEE, "queued")]
    # Twilio rings the callee; its callbacks go to the URL the helper gave
    call = Answered(client, t, created)
    status_path = urllib.parse.urlsplit(d["StatusCallback"]).path
    for seq, status in enumerate(["initiated", "ringing"]):
        r = client.post_signed(status_path, status_params(t, call.p, status, seq), t.token)
        assert r.status_code == 204, r.text
    doc = call.start()
    assert doc.spoken() == ["Hi, this is Dr Lee's office about your appointment."]
    assert doc.gather is not None
    doc = call.say("that's all, goodbye")
    assert doc.verbs[-1] == "Hangup"
    r = client.post_signed(status_path, status_params(t, call.p, "completed", 3,
                                                      CallDuration="21"), t.token)
    assert r.status_code == 204
    rows = transcript(pg, call.sid)
    assert rows[0] == ("1", "assistant", "Hi, this is Dr Lee's office about your appointment.")
    assert [r[1] for r in rows] == ["assistant", "caller", "assistant"]
    assert pg.psql("SELECT direction, status, duration_s FROM calls WHERE call_sid = '%s'"
                   % call.sid) == [("outbound-api", "completed", "21")]
    shown = admin("calls", "show", call.sid)
    assert shown.rc == 0 and "outbound-api" in shown.out, shown
    # without --greeting: the tenant's outbound greeting; a redelivered answer says the same
    place(admin, t, to="+14155550162")
    deliver_jobs(paths, pg, key_file, standin)
    created = standin.calls_of(t.account_sid)[-1]
    call = Answered(client, t, created, answered_by="human")
    for _ in range(2):
        assert call.start().spoken() == ["Hello, this is the practice calling."]
    assert pg.scalar("SELECT answered_by FROM calls WHERE call_sid = '%s'" % call.sid) == "human"


def test_a_machine_gets_the_voicemail_message_or_a_hang_up(tenant, admin, apache, client, pg,
                                                            standin, paths, key_file):
    message = "Sorry we missed you. Please call us back on 555 0100 <any time> & thanks."
    t = outbound_tenant(tenant, admin, apache, "--voicemail-message", message)
    place(admin, t, "--machine-detection", "on")
    deliver_jobs(paths, pg, key_file, standin)
    (created,) = standin.calls_of(t.account_sid)
    assert dict(created["form"])["MachineDetection"] == "DetectMessageEnd"
    call = Answered(client, t, created, answered_by="machine_end_beep")
    doc = call.start()
    assert doc.spoken() == [message] and doc.verbs == ["Say", "Hangup"]
    assert transcript(pg, call.sid) == [("1", "assistant", message)]
    assert pg.scalar("SELECT answered_by FROM calls WHERE call_sid = '%s'"
                     % call.sid) == "machine_end_beep"
    # a fax, and a tenant without a voicemail message: hung up on, nothing said
    fax = Answered(client, t, created | {"sid": pyvt.new_call_sid()}, answered_by="fax")
    assert fax.start().verbs == ["Hangup"]
    assert admin("company", "set", t.slug, "--voicemail-message", "").rc == 0
    machine = Answered(client, t, created | {"sid": pyvt.new_call_sid()},
                       answered_by="machine_start")
    assert machine.start().verbs == ["Hangup"]
    assert transcript(pg, machine.sid) == []


def test_refused_for_an_opted_out_number_or_a_tenant_that_cannot_call(
        tenant, admin, apache, client, pg, standin, paths, key_file):
    t = tenant()
    r = admin("calls", "place", t.slug, "--to", CALLEE)
    assert r.rc == 1 and "no webhook URL" in r.err and "--webhook-url" in r.err, r
    t = outbound_tenant(tenant, admin, apache)
    for bad in (["--to", "555-0100"], ["--to", CALLEE, "--machine-detection", "maybe"],
                ["--to", CALLEE, "--greeting", ""], []):
        assert admin("calls", "place", t.slug, *bad).rc in (1, 2), bad
    assert admin("calls", "place", "no-such-tenant", "--to", CALLEE).rc == 1
    assert admin("company", "set", t.slug, "--webhook-url", "ftp://x/voice").rc == 1
    # the ledger: refused at once, and by the helper when the refusal came after queueing
    jid = place(admin, t)
    r = admin("consent", "record", t.slug, "--phone", CALLEE, "--channel", "voice",
              "--refused", "--note", "asked on the phone not to be called")
    assert r.rc == 0, r
    r = admin("calls", "place", t.slug, "--to", CALLEE)
    assert r.rc == 1 and "opted out of voice" in r.err and "not called" in r.err, r
    deliver_jobs(paths, pg, key_file, standin)
    status, sid, error, _ = job_of(pg, jid)
    assert (status, sid) == ("failed", "") and "opted out of voice" in error, error
    assert standin.calls_of(t.account_sid) == []
    # consent given again: the call goes
    assert admin("consent", "record", t.slug, "--phone", CALLEE, "--channel", "voice",
                 "--granted").rc == 0
    place(admin, t)
    deliver_jobs(paths, pg, key_file, standin)
    assert len(standin.calls_of(t.account_sid)) == 1
    assert pg.scalar("SELECT count(*) FROM jobs WHERE company_id = %d AND status = 'done'"
                     % t.company_id) == "1"


def test_messages_the_helper_sends_get_the_tenant_status_callback(tenant, admin, apache, pg,
                                                                  standin, paths, key_file):
    """The webhook URL also gives an operator's message (and a call rule's) the status
    callback the module would have given it, so its row moves on."""
    t = outbound_tenant(tenant, admin, apache)
    assert admin("messages", "send", t.slug, "--to", CALLEE, "--body", "See you at 9").rc == 0
    deliver_jobs(paths, pg, key_file, standin)
    (sent,) = [dict(q.form) for q in standin.requests_for("/Messages.json")
               if q.path.startswith("/2010-04-01/Accounts/%s/" % t.account_sid)]
    assert sent["StatusCallback"] == t.webhook_url + "/message-status"
    u = tenant()  # no webhook URL: no status callback
    assert admin("messages", "send", u.slug, "--to", CALLEE, "--body", "See you at 9").rc == 0
    deliver_jobs(paths, pg, key_file, standin)
    (sent,) = [dict(q.form) for q in standin.requests_for("/Messages.json")
               if q.path.startswith("/2010-04-01/Accounts/%s/" % u.account_sid)]
    assert "StatusCallback" not in sent


def test_the_monthly_minutes_limit(tenant, admin, apache, client, pg, standin, paths,
                                   key_file):
    """Past its monthly minutes (rounded up per call), a tenant's new callers hear its limit
    message and are hung up on, and it places no call; a call already in progress goes on,
    and a redelivered answer is the same answer."""
    from pyvt import checks
    from test_inbound import INBOUND
    t = outbound_tenant(tenant, admin, apache, "--monthly-minutes", "2",
                        "--limit-message", "Our lines are closed for this month.")
    first = Call(client, t, from_="+14155550171")
    first.start()
    live = Call(client, t, from_="+14155550172")
    live.start()
    # 61 s bills two minutes: the limit is reached
    r = client.post_signed(STATUS,
                           status_params(t, first.p, "completed", 3, CallDuration="61"),
                           t.token)
    assert r.status_code == 204, r.text
    turned = Call(client, t, from_="+14155550173")
    for _ in range(2):  # a redelivery: the same answer
        doc = turned.start()
        assert doc.spoken() == ["Our lines are closed for this month."], doc
        assert doc.verbs == ["Say", "Hangup"]
    assert transcript(pg, turned.sid) == [("1", "assistant",
                                           "Our lines are closed for this month.")]
    # the call that got in before the limit is not cut
    assert live.say("what are your opening hours").gather is not None
    r = admin("calls", "place", t.slug, "--to", CALLEE)
    assert r.rc == 1 and "monthly limit of 2 minutes" in r.err, r
    jid = int(pg.scalar("INSERT INTO jobs (kind, company_id, payload) VALUES ('call_place', %d,"
                        " '{\"to\": \"%s\"}') RETURNING id" % (t.company_id, CALLEE)))
    deliver_jobs(paths, pg, key_file, standin)
    status, _, error, _ = job_of(pg, jid)
    assert status == "failed" and "monthly limit of 2 minutes" in error, error
    assert standin.calls_of(t.account_sid) == []
    u = admin("usage", t.slug)
    assert u.rc == 0 and "monthly limit: 2 minutes, 2 used this month (reached" in u.out, u
    # the limit raised: callers are greeted again
    assert admin("company", "set", t.slug, "--monthly-minutes", "").rc == 0
    checks.greeting(client.post_signed(INBOUND, t.params(from_="+14155550174"), t.token), t)
    for bad in ("0", "-3", "lots"):
        assert admin("company", "set", t.slug, "--monthly-minutes", bad).rc == 1
