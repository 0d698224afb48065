"""A tenant's rules on inbound messages (issue 12, items 2 and 3): the document imported and
exported with voxtwilio-admin (checked whole, nothing half-written), auto-replies in the
Messaging TwiML, conditions (keywords, regex, business hours in the tenant's time zone, new
or known customer), the actions queued once however often Twilio delivers the message
(send_message, notify, tag) and delivered by the real helper through the REST stand-in;
STOP and START in the consent ledger, and nothing sent to a customer who opted out."""
import json

import pytest

import pyvt

from pyvt import param, parse_twiml
from test_conversation import deliver_jobs
from test_messages import SMS, WHATSAPP, assert_no_reply

CUSTOMER = "+14155550100"
NOTIFY = "+14155550188"

pytestmark = pytest.mark.usefixtures("migrated")


def import_rules(admin, slug, doc, tmp_path, expect_rc=0):
    path = tmp_path / ("rules-%s.json" % slug)
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc, indent=2))
    r = admin("rules", "import", slug, str(path))
    assert r.rc == expect_rc, r
    return r


def replies(r):
    assert r.status_code == 200, r.text
    doc = parse_twiml(r.text)
    assert doc.root.tag == "Response", r.text
    assert all(e.tag == "Message" for e in doc.root), r.text
    return [e.text for e in doc.root]


STATUS_ROUTE = "/voice/message-status"


def message_status(t, sid, to, status, **extra):
    """A StatusCallback of an outbound message, as Twilio sends it."""
    p = [("ApiVersion", "2010-04-01"), ("SmsSid", sid), ("SmsStatus", status),
         ("MessageStatus", status), ("To", to), ("MessageSid", sid),
         ("AccountSid", t.account_sid), ("From", t.number)]
    return p + list(extra.items())


def u_token_of(tenant):
    return tenant().token  # another tenant's token: its signature is not this one's


def runs(pg, t):
    return pg.psql("SELECT rule_name, trigger, subject, customer_phone, outcome, detail "
                   "FROM rule_runs WHERE company_id = %d ORDER BY id" % t.company_id)


def jobs(pg, t):
    return pg.psql("SELECT kind, payload->>'to', payload->>'channel', payload->>'body', status, "
                   "coalesce(last_error, '') FROM jobs WHERE company_id = %d ORDER BY id"
                   % t.company_id)


def posts_of(standin, t):
    return [dict(q.form) for q in standin.requests_for("/Messages.json")
            if q.path.startswith("/2010-04-01/Accounts/%s/" % t.account_sid)]


HOURS_RULE = {"name": "hours", "trigger": "inbound_sms", "when": {"keywords": ["hours", "open"]},
              "actions": [{"type": "auto_reply",
                           "body": "{company} is open 9-5 <Mon-Fri> & Sat 10-1."}]}


def test_import_export_and_a_bad_document_changes_nothing(tenant, admin, pg, tmp_path):
    t = tenant()
    assert admin("rules", "export", t.slug).out.strip() == '{"rules": []}'
    text = json.dumps({"rules": [HOURS_RULE]}, indent=2) + "\n"
    r = import_rules(admin, t.slug, text, tmp_path)
    assert "imported 1 rules" in r.out
    assert admin("rules", "export", t.slug).out == text  # as written, not normalized
    # from standard input too
    r = admin("rules", "import", t.slug, "-", input=json.dumps({"rules": []}))
    assert r.rc == 0, r
    import_rules(admin, t.slug, text, tmp_path)
    # a typo names its member; the stored document is untouched
    bad = {"rules": [HOURS_RULE, {"name": "x", "trigger": "inbound_sms",
                                  "actions": [{"type": "notify", "bodyy": "hi"}]}]}
    r = import_rules(admin, t.slug, bad, tmp_path, expect_rc=1)
    assert "rules[1].actions[0].bodyy" in r.err, r
    for doc, member in [
        ({"rules": [dict(HOURS_RULE, trigger="inbound_fax")]}, "rules[0].trigger"),
        ({"rules": [HOURS_RULE, HOURS_RULE]}, "rules[1].name"),
        ({"rules": [dict(HOURS_RULE, when={"business_hours": True})]},
         "rules[0].when.business_hours"),
        ({"rules": [{"name": "r", "trigger": "missed_call",
                     "actions": [{"type": "auto_reply", "body": "x"}]}]}, "rules[0].actions[0]"),
        ({"rules": [{"name": "r", "trigger": "inbound_sms",
                     "actions": [{"type": "send_message", "body": "x", "delay": "40d"}]}]},
         "rules[0].actions[0].delay"),
    ]:
        r = import_rules(admin, t.slug, doc, tmp_path, expect_rc=1)
        assert member in r.err, r
    r = import_rules(admin, t.slug, "{\"rules\": [", tmp_path, expect_rc=1)
    assert "rules-" in r.err  # the file is named
    assert admin("rules", "export", t.slug).out == text
    assert admin("rules", "import", "no-such-tenant", "-", input="{\"rules\": []}").rc == 1


def test_a_keyword_rule_answers_once_however_often_delivered(tenant, admin, client, pg,
                                                             tmp_path):
    t = tenant(name="Acme & Sons")
    import_rules(admin, t.slug, {"rules": [HOURS_RULE]}, tmp_path)
    p = t.message("What are your HOURS?")
    for _ in range(3):
        assert replies(client.post_signed(SMS, p, t.token)) == [
            "Acme & Sons is open 9-5 <Mon-Fri> & Sat 10-1."]
    assert runs(pg, t) == [("hours", "inbound_sms", param(p, "MessageSid"), CUSTOMER, "done",
                            "auto_reply")]
    # whole words only; another trigger's channel does not match
    assert_no_reply(client.post_signed(SMS, t.message("shoursday"), t.token))
    assert_no_reply(client.post_signed(WHATSAPP, t.message("hours?", whatsapp=True), t.token))
    assert len(runs(pg, t)) == 1
    r = admin("rules", "runs", t.slug)
    assert r.rc == 0 and "hours" in r.out and param(p, "MessageSid") in r.out


def test_business_hours_in_the_tenant_time_zone(tenant, admin, client, pg, tmp_path):
    t = tenant()
    r = admin("company", "set", t.slug, "--time-zone", "Mars/Olympus_Mons")
    assert r.rc == 1 and "--time-zone" in r.err
    assert admin("company", "set", t.slug, "--time-zone", "Pacific/Kiritimati").rc == 0
    rules = [{"name": "open", "trigger": "inbound_sms", "when": {"business_hours": True},
              "actions": [{"type": "auto_reply", "body": "We are open."}]},
             {"name": "closed", "trigger": "inbound_sms", "when": {"business_hours": False},
              "actions": [{"type": "auto_reply", "body": "We are closed; back tomorrow."}]}]
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    import_rules(admin, t.slug, {"business_hours": {d: "00:00-24:00" for d in days},
                                 "rules": rules}, tmp_path)
    assert replies(client.post_signed(SMS, t.message("hi"), t.token)) == ["We are open."]
    import_rules(admin, t.slug, {"business_hours": {}, "rules": rules}, tmp_path)
    assert replies(client.post_signed(SMS, t.message("hi"), t.token)) == [
        "We are closed; back tomorrow."]
    # today only, in the tenant's zone (UTC+14: a different day than UTC for 14 h a day)
    today = pg.scalar("SELECT extract(isodow FROM now() AT TIME ZONE 'Pacific/Kiritimati')")
    day = days[int(float(today)) - 1]
    import_rules(admin, t.slug, {"business_hours": {day: "00:00-24:00"}, "rules": rules},
                 tmp_path)
    assert replies(client.post_signed(SMS, t.message("hi"), t.token)) == ["We are open."]


def test_new_and_known_customers(tenant, admin, client, pg, tmp_path):
    t = tenant()
    import_rules(admin, t.slug, {"rules": [
        {"name": "welcome", "trigger": "inbound_sms", "when": {"customer": "new"},
         "actions": [{"type": "auto_reply", "body": "Welcome!"}]},
        {"name": "again", "trigger": "inbound_sms", "when": {"customer": "known",
                                                              "regex": "^(re)?book"},
         "actions": [{"type": "auto_reply", "body": "Booking again?"}], "stop": True},
        {"name": "never", "trigger": "inbound_sms",
         "actions": [{"type": "auto_reply", "body": "after a stop: never"}], "enabled": False},
    ]}, tmp_path)
    first = t.message("booking please")
    assert replies(client.post_signed(SMS, first, t.token)) == ["Welcome!"]
    # redelivered: still the first message of a new customer
    assert replies(client.post_signed(SMS, first, t.token)) == ["Welcome!"]
    assert replies(client.post_signed(SMS, t.message("Rebook for Friday"), t.token)) == [
        "Booking again?"]
    assert_no_reply(client.post_signed(SMS, t.message("thanks"), t.token))
    # another sender is new
    assert replies(client.post_signed(SMS, t.message("hi", from_="+14155550111"),
                                      t.token)) == ["Welcome!"]


def test_actions_are_queued_once_and_delivered(tenant, admin, client, pg, standin, paths,
                                               key_file, tmp_path):
    t = tenant(extra_company=["--notification-phone", NOTIFY])
    import_rules(admin, t.slug, {"rules": [
        {"name": "lead", "trigger": "inbound_sms", "when": {"keywords": ["quote"]},
         "actions": [{"type": "tag", "tag": "lead"},
                     {"type": "notify", "body": "New lead {from}: {body}"},
                     {"type": "send_message", "body": "Thanks! A person will call you."},
                     {"type": "send_message", "body": "Still need that quote?",
                      "delay": "2d"}]}]}, tmp_path)
    p = t.message("I need a quote for a roof")
    for _ in range(2):
        assert_no_reply(client.post_signed(SMS, p, t.token))
    (run,) = runs(pg, t)
    assert run[4] == "done" and run[5] == ("tag lead; notify queued; send_message sms queued; "
                                           "send_message sms queued in 172800s")
    assert [j[:5] for j in jobs(pg, t)] == [
        ("sms_alert", NOTIFY, "sms", "New lead %s: I need a quote for a roof" % CUSTOMER,
         "pending"),
        ("message_send", CUSTOMER, "sms", "Thanks! A person will call you.", "pending"),
        ("message_send", CUSTOMER, "sms", "Still need that quote?", "pending")]
    assert pg.scalar("SELECT run_after - now() > interval '47 hours' FROM jobs WHERE "
                     "company_id = %d AND payload->>'body' LIKE 'Still%%'" % t.company_id) == "t"
    assert pg.scalar("SELECT tags::text FROM customers WHERE company_id = %d"
                     % t.company_id) == "{lead}"
    deliver_jobs(paths, pg, key_file, standin)
    sent = posts_of(standin, t)
    assert sorted((f["To"], f["From"], f["Body"]) for f in sent) == sorted([
        (NOTIFY, t.number, "New lead %s: I need a quote for a roof" % CUSTOMER),
        (CUSTOMER, t.number, "Thanks! A person will call you.")])
    assert [j[4] for j in jobs(pg, t)] == ["done", "done", "pending"]
    # what was sent is in the tenant's messages, outbound (the customer's under them)
    assert pg.psql("SELECT channel, from_number, to_number, body, customer_id IS NOT NULL "
                   "FROM messages WHERE company_id = %d AND direction = 'outbound' "
                   "ORDER BY to_number" % t.company_id) == [
        ("sms", t.number, CUSTOMER, "Thanks! A person will call you.", "t"),
        ("sms", t.number, NOTIFY, "New lead %s: I need a quote for a roof" % CUSTOMER, "f")]
    # each went with this gateway's message-status URL; Twilio's progress, in any order
    posted = [q for q in standin.requests_for("/Messages.json") if q.method == "POST"
              and q.path.startswith("/2010-04-01/Accounts/%s/" % t.account_sid)]
    assert {dict(q.form).get("StatusCallback") for q in posted} == {
        client.base_url + "/voice/message-status"}
    sid = pg.scalar("SELECT message_sid FROM messages WHERE company_id = %d AND to_number = "
                    "'%s' AND direction = 'outbound'" % (t.company_id, CUSTOMER))
    for status in ("delivered", "sent", "queued", "delivered"):
        r = client.post_signed(STATUS_ROUTE, message_status(t, sid, CUSTOMER, status), t.token)
        assert r.status_code == 204, r.text
    assert pg.psql("SELECT status, status_rank, coalesce(error_code, 0), body FROM messages "
                   "WHERE message_sid = '%s'" % sid) == [
        ("delivered", "5", "0", "Thanks! A person will call you.")]
    # a failure reported before the helper recorded its message makes the row
    early = pyvt.new_message_sid()
    r = client.post_signed(STATUS_ROUTE, message_status(t, early, CUSTOMER, "undelivered",
                                                        ErrorCode="30003"), t.token)
    assert r.status_code == 204, r.text
    assert pg.psql("SELECT direction, status, error_code FROM messages WHERE message_sid = "
                   "'%s'" % early) == [("outbound", "undelivered", "30003")]
    for bad in (message_status(t, "SMnothex", CUSTOMER, "sent"),
                message_status(t, sid, CUSTOMER, "teleported")):
        assert client.post_signed(STATUS_ROUTE, bad, t.token).status_code == 400
    assert client.post_signed(STATUS_ROUTE, message_status(t, sid, CUSTOMER, "read"),
                              u_token_of(tenant)).status_code in (403, 404)
    # a rule's notify without a notification phone is skipped, and says so
    u = tenant()
    import_rules(admin, u.slug, {"rules": [{"name": "n", "trigger": "inbound_sms",
                                            "actions": [{"type": "notify", "body": "x"}]}]},
                 tmp_path)
    assert_no_reply(client.post_signed(SMS, u.message("hello"), u.token))
    assert [r[4:] for r in runs(pg, u)] == [
        ("skipped", "notify skipped: the tenant has no notification phone")]


def test_whatsapp_rules_answer_on_whatsapp(tenant, admin, client, pg, standin, paths,
                                           key_file, tmp_path):
    t = tenant()
    import_rules(admin, t.slug, {"rules": [
        {"name": "wa", "trigger": "inbound_whatsapp",
         "actions": [{"type": "auto_reply", "body": "Hi on WhatsApp"},
                     {"type": "send_message", "body": "A follow-up"}]}]}, tmp_path)
    assert_no_reply(client.post_signed(SMS, t.message("hello"), t.token))
    assert replies(client.post_signed(WHATSAPP, t.message("hello", whatsapp=True),
                                      t.token)) == ["Hi on WhatsApp"]
    deliver_jobs(paths, pg, key_file, standin)
    (sent,) = posts_of(standin, t)
    assert (sent["To"], sent["From"]) == ("whatsapp:" + CUSTOMER, "whatsapp:" + t.number)


CATCH_ALL = {"rules": [{"name": "any", "trigger": "inbound_sms",
                        "actions": [{"type": "auto_reply", "body": "Got it."},
                                    {"type": "send_message", "body": "Follow-up"}]}]}


def consent_rows(pg, t):
    return pg.psql("SELECT phone, channel, granted, method FROM consent_events "
                   "WHERE company_id = %d ORDER BY id" % t.company_id)


def test_stop_blocks_sends_and_start_lifts_it(tenant, admin, client, pg, standin, paths,
                                              key_file, tmp_path):
    t = tenant()
    import_rules(admin, t.slug, CATCH_ALL, tmp_path)
    stop = t.message(" Stop. ")
    for _ in range(2):  # a STOP runs no rule; redelivered, it is one ledger entry
        assert_no_reply(client.post_signed(SMS, stop, t.token))
    assert consent_rows(pg, t) == [(CUSTOMER, "sms", "f", "keyword STOP")]
    assert runs(pg, t) == []
    # opted out: no auto-reply; the queued message is refused when it would be sent
    assert_no_reply(client.post_signed(SMS, t.message("one more question"), t.token))
    assert runs(pg, t)[0][4:] == ("partial", "auto_reply skipped: the customer opted out; "
                                  "send_message sms queued")
    deliver_jobs(paths, pg, key_file, standin)
    (job,) = jobs(pg, t)
    assert job[4] == "failed" and "opted out of sms (keyword STOP" in job[5], job
    assert posts_of(standin, t) == []
    # WhatsApp is another channel: not opted out there
    r = admin("consent", "list", t.slug, "--phone", CUSTOMER)
    assert r.rc == 0 and "refused" in r.out and "keyword STOP" in r.out
    # START lifts it
    assert_no_reply(client.post_signed(SMS, t.message("START"), t.token))
    assert consent_rows(pg, t)[-1] == (CUSTOMER, "sms", "t", "keyword START")
    assert replies(client.post_signed(SMS, t.message("thanks"), t.token)) == ["Got it."]
    deliver_jobs(paths, pg, key_file, standin)
    assert [f["Body"] for f in posts_of(standin, t)] == ["Follow-up"]


def test_consent_recorded_by_an_operator(tenant, admin, pg):
    t = tenant()
    r = admin("consent", "record", t.slug, "--phone", CUSTOMER, "--channel", "voice",
              "--granted", "--note", "signed form 2026-12-01")
    assert r.rc == 0, r
    row = pg.psql("SELECT channel, granted, method, note, recorded_by IS NOT NULL "
                  "FROM consent_events WHERE company_id = %d" % t.company_id)
    assert row == [("voice", "t", "admin", "signed form 2026-12-01", "t")]
    for bad in (["--phone", "555", "--channel", "sms", "--granted"],
                ["--phone", CUSTOMER, "--channel", "fax", "--granted"],
                ["--phone", CUSTOMER, "--channel", "sms"],
                ["--phone", CUSTOMER, "--channel", "sms", "--granted", "--refused"]):
        assert admin("consent", "record", t.slug, *bad).rc in (1, 2)
    assert len(consent_rows(pg, t)) == 1


STATUS = "/voice/status-callback"


def end_call(client, t, p, status, duration, seq=3):
    from test_callbacks import status_params
    r = client.post_signed(STATUS, status_params(t, p, status, seq, CallDuration=str(duration)),
                           t.token)
    assert r.status_code == 204, r.text


def test_call_triggers_missed_completed_escalated(tenant, admin, client, pg, standin, paths,
                                                  key_file, tmp_path):
    from pyvt import checks
    from test_inbound import INBOUND
    t = tenant(extra_company=["--notification-phone", NOTIFY])
    import_rules(admin, t.slug, {"rules": [
        {"name": "missed", "trigger": "missed_call",
         "actions": [{"type": "send_message", "body": "Sorry we missed your call - {company}"},
                     {"type": "notify", "body": "Missed call from {from}"}]},
        {"name": "completed", "trigger": "call_completed",
         "actions": [{"type": "tag", "tag": "caller"}]},
    ]}, tmp_path)
    calls = {}
    # hung up on the greeting (3 s, never spoke), busy, and a 40-second call
    for who, status, duration in [("+14155550131", "completed", 3),
                                  ("+14155550132", "busy", 0),
                                  ("+14155550133", "completed", 40)]:
        p = t.params(from_=who)
        checks.greeting(client.post_signed(INBOUND, p, t.token), t)
        end_call(client, t, p, status, duration)
        end_call(client, t, p, status, duration, seq=4)  # a second final status: one job
        calls[who] = param(p, "CallSid")
    assert pg.scalar("SELECT count(*) FROM jobs WHERE company_id = %d AND kind = 'call_rules'"
                     % t.company_id) == "3"
    deliver_jobs(paths, pg, key_file, standin)
    deliver_jobs(paths, pg, key_file, standin)  # the messages the rules queued
    assert sorted((r[0], r[1], r[2]) for r in runs(pg, t)) == sorted([
        ("missed", "missed_call", calls["+14155550131"]),
        ("missed", "missed_call", calls["+14155550132"]),
        ("completed", "call_completed", calls["+14155550133"])])
    sent = sorted((f["To"], f["Body"]) for f in posts_of(standin, t))
    assert sent == sorted([
        ("+14155550131", "Sorry we missed your call - %s" % t.name),
        ("+14155550132", "Sorry we missed your call - %s" % t.name),
        (NOTIFY, "Missed call from +14155550131"), (NOTIFY, "Missed call from +14155550132")])
    assert pg.scalar("SELECT tags::text FROM customers WHERE company_id = %d AND phone = "
                     "'+14155550133'" % t.company_id) == "{caller}"
    # a tenant without rules queues nothing when its calls end
    u = tenant()
    p = u.params()
    checks.greeting(client.post_signed(INBOUND, p, u.token), u)
    end_call(client, u, p, "completed", 3)
    assert pg.scalar("SELECT count(*) FROM jobs WHERE company_id = %d AND kind = 'call_rules'"
                     % u.company_id) == "0"


def test_inbox_customers_and_an_operator_send(tenant, admin, client, pg, standin, paths,
                                             key_file):
    from pyvt import checks
    from test_inbound import INBOUND
    t = tenant()
    assert_no_reply(client.post_signed(SMS, t.message("Do you do crowns?\nThanks"), t.token))
    p = t.params(from_=CUSTOMER)
    checks.greeting(client.post_signed(INBOUND, p, t.token), t)
    r = admin("messages", "send", t.slug, "--to", CUSTOMER, "--body", "Yes we do: book online")
    assert r.rc == 0 and "queued as job" in r.out, r
    deliver_jobs(paths, pg, key_file, standin)
    (sent,) = posts_of(standin, t)
    assert (sent["To"], sent["From"], sent["Body"]) == (CUSTOMER, t.number,
                                                        "Yes we do: book online")
    r = admin("messages", "list", t.slug, "--customer", CUSTOMER)
    assert r.rc == 0, r
    lines = [l for l in r.out.splitlines()[1:] if l.strip()]
    assert len(lines) == 2 and "outbound" in lines[0] and "inbound" in lines[1], r.out
    assert "Do you do crowns? Thanks" in r.out  # one line per message
    r = admin("customers", "list", t.slug)
    assert r.rc == 0 and CUSTOMER in r.out, r
    r = admin("customers", "show", t.slug, CUSTOMER)
    assert r.rc == 0, r
    timeline = r.out[r.out.index("AT"):]
    kinds = [w for w in ("message inbound", "call inbound", "message outbound")
             if w in timeline]
    assert kinds == ["message inbound", "call inbound", "message outbound"], r.out
    assert timeline.index("message inbound") < timeline.index("call inbound") \
        < timeline.index("message outbound"), r.out
    # refused at once for a customer who opted out, and by the helper too
    assert_no_reply(client.post_signed(SMS, t.message("STOP"), t.token))
    r = admin("messages", "send", t.slug, "--to", CUSTOMER, "--body", "still there?")
    assert r.rc == 1 and "opted out of sms (keyword STOP" in r.err, r
    for bad in (["--to", "12345", "--body", "x"], ["--to", CUSTOMER, "--body", ""],
                ["--to", CUSTOMER]):
        assert admin("messages", "send", t.slug, *bad).rc in (1, 2)
    assert admin("customers", "show", t.slug, "+14155550999").rc == 1


def test_usage_is_the_sum_of_calls_and_messages(tenant, admin, client, pg):
    from pyvt import checks
    from test_inbound import INBOUND
    t = tenant()
    for who, duration in [("+14155550141", 61), ("+14155550142", 59), ("+14155550143", 0)]:
        p = t.params(from_=who)
        checks.greeting(client.post_signed(INBOUND, p, t.token), t)
        end_call(client, t, p, "completed" if duration else "busy", duration)
    long_sms = t.message("x" * 300, extra=[("NumSegments", "2")])
    long_sms = [kv for i, kv in enumerate(long_sms)
                if not (kv[0] == "NumSegments" and kv[1] == "1")]
    for p in (t.message("hello"), long_sms, long_sms):  # a redelivery is not counted twice
        assert_no_reply(client.post_signed(SMS, p, t.token))
    r = admin("usage", t.slug)
    assert r.rc == 0, r
    rows = [l.split() for l in r.out.splitlines()[1:] if l.strip()]
    today = pg.scalar("SELECT to_char((now() AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD')")
    assert rows == [[today, "3", "3", "2", "0", "3"], ["total", "3", "3", "2", "0", "3"]], r.out
    # another month is empty; a bad month is an error naming it
    r = admin("usage", t.slug, "--month", "2020-01")
    assert r.rc == 0 and [l.split() for l in r.out.splitlines()[1:] if l.strip()] == [
        ["total", "0", "0", "0", "0", "0"]], r.out
    r = admin("usage", t.slug, "--month", "2026-13")
    assert r.rc == 1 and "--month" in r.err


def test_an_escalated_call_sets_off_its_rules(tenant, admin, client, pg, standin, paths,
                                              key_file, tmp_path):
    from test_conversation import Call
    t = tenant(extra_company=["--escalation-phone", "+14155550199",
                              "--notification-phone", NOTIFY])
    import_rules(admin, t.slug, {"rules": [
        {"name": "handed-over", "trigger": "call_escalated",
         "actions": [{"type": "send_message",
                      "body": "Thanks for calling {company}: a colleague will follow up."}]},
        {"name": "done", "trigger": "call_completed",
         "actions": [{"type": "tag", "tag": "talked"}]}]}, tmp_path)
    call = Call(client, t, from_="+14155550151")
    call.start()
    call.say("can I speak to a real person")
    call.follow_redirect()
    call.post(call.resolve("escalate"), [("DialCallStatus", "completed"),
                                         ("DialCallDuration", "61")])
    end_call(client, t, call.p, "completed", 95)
    deliver_jobs(paths, pg, key_file, standin)
    deliver_jobs(paths, pg, key_file, standin)
    assert sorted(r[:2] for r in runs(pg, t)) == [("done", "call_completed"),
                                                  ("handed-over", "call_escalated")]
    bodies = sorted((f["To"], f["Body"]) for f in posts_of(standin, t))
    assert ("+14155550151", "Thanks for calling %s: a colleague will follow up." % t.name) \
        in bodies, bodies
