"""Inbound SMS and WhatsApp (issue 12): each message stored once under its customer however
often Twilio delivers it, answered with Messaging TwiML; refusals as for every webhook; a
message that arrives during a database outage is spooled and lands once."""
import json

import pytest

from pyvt import param, parse_twiml
from pyvt.util import wait_until
from test_spool import DB_DOWN, pending, rejected, wait_drained
from test_spool import helper_path, spool_apache  # noqa: F401 (fixtures)

SMS = "/voice/sms"
WHATSAPP = "/voice/whatsapp"
MEDIA = [("https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME1", "image/jpeg"),
         ("https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME2",
          "application/pdf")]


def message_row(pg, sid):
    rows = pg.psql("SELECT m.company_id, m.channel, m.direction, m.from_number, m.to_number, "
                   "m.body, m.status, m.media::text, m.num_segments, c.phone "
                   "FROM messages m JOIN customers c ON c.id = m.customer_id "
                   "WHERE m.message_sid = '%s'" % sid)
    return rows


def assert_no_reply(r):
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/xml")
    doc = parse_twiml(r.text)
    assert doc.root.tag == "Response" and len(doc.root) == 0, r.text


def test_an_sms_is_stored_once_under_its_customer(tenant, client, pg):
    t = tenant()
    p = t.message("Hi, are you open on Saturday? <b>&</b>")
    sid = param(p, "MessageSid")
    for _ in range(3):  # Twilio redelivers: the same MessageSid, new idempotency tokens
        assert_no_reply(client.post_signed(SMS, p, t.token))
    rows = message_row(pg, sid)
    assert rows == [(str(t.company_id), "sms", "inbound", "+14155550100", t.number,
                     "Hi, are you open on Saturday? <b>&</b>", "received", "[]", "1",
                     "+14155550100")]
    # a second message of the same sender: the same customer, one row each
    p2 = t.message("And on Sunday?")
    assert_no_reply(client.post_signed(SMS, p2, t.token))
    assert pg.scalar("SELECT count(DISTINCT customer_id) FROM messages WHERE company_id = %d"
                     % t.company_id) == "1"
    assert pg.scalar("SELECT count(*) FROM customers WHERE company_id = %d"
                     % t.company_id) == "1"
    assert pg.scalar("SELECT count(*) FROM messages WHERE company_id = %d"
                     % t.company_id) == "2"
    # every parameter kept, as Twilio sent it
    params = json.loads(pg.scalar("SELECT params::text FROM messages WHERE message_sid = '%s'"
                                  % sid))
    assert params["SmsStatus"] == "received" and params["MessagingServiceSid"].startswith("MG")


def test_whatsapp_with_media(tenant, client, pg):
    t = tenant()
    p = t.message("", whatsapp=True, media=MEDIA)
    sid = param(p, "MessageSid")
    assert sid.startswith("MM")
    assert_no_reply(client.post_signed(WHATSAPP, p, t.token))
    (row,) = message_row(pg, sid)
    assert row[1:7] == ("whatsapp", "inbound", "+14155550100", t.number, "", "received")
    assert json.loads(row[7]) == [{"url": u, "content_type": c} for u, c in MEDIA]
    assert row[9] == "+14155550100"
    # the same sender by SMS is the same customer; a WhatsApp webhook set to the sms URL
    # is still WhatsApp (the channel is the address's)
    assert_no_reply(client.post_signed(SMS, t.message("by sms"), t.token))
    w = t.message("again", whatsapp=True)
    assert_no_reply(client.post_signed(SMS, w, t.token))
    assert message_row(pg, param(w, "MessageSid"))[0][1] == "whatsapp"
    assert pg.scalar("SELECT count(*) FROM customers WHERE company_id = %d"
                     % t.company_id) == "1"


def test_media_are_queued_for_download_when_the_tenant_keeps_them(tenant, admin, client, pg):
    t = tenant()
    p = t.message("photo", media=MEDIA)
    assert_no_reply(client.post_signed(SMS, p, t.token))
    jobs = "SELECT kind, payload->>'message_sid' FROM jobs WHERE company_id = %d" % t.company_id
    assert pg.psql(jobs) == []  # media stay at Twilio's URL
    assert admin("company", "set", t.slug, "--keep-media", "on").rc == 0
    assert admin("company", "set", t.slug, "--keep-media", "maybe").rc == 1
    p = t.message("photo", media=MEDIA)
    for _ in range(2):
        assert_no_reply(client.post_signed(SMS, p, t.token))
    assert_no_reply(client.post_signed(SMS, t.message("no media"), t.token))
    assert pg.psql(jobs) == [("media_download", param(p, "MessageSid"))]


def replaced(p, **kw):
    return [(k, kw[k] if k in kw else v) for k, v in p if k not in kw or kw[k] is not None]


@pytest.mark.parametrize("change, status", [
    ({"MessageSid": None}, 400),
    ({"MessageSid": "SMnothex"}, 400),
    ({"From": "12345"}, 400),                       # a short code is no customer phone
    ({"From": "whatsapp:+14155550100"}, 400),       # channels differ
    ({"From": "messenger:1234"}, 400),              # a channel this gateway does not take
    ({"NumMedia": "11"}, 400),
    ({"NumMedia": "1"}, 400),                       # MediaUrl0 missing
    ({"To": "+15550009999"}, 404),                  # no tenant's number
])
def test_refused_messages_write_nothing(tenant, client, pg, change, status):
    t = tenant()
    p = replaced(t.message("hello"), **change)
    r = client.post_signed(SMS, p, t.token)
    assert r.status_code == status, r.text
    assert pg.scalar("SELECT count(*) FROM messages WHERE company_id = %d" % t.company_id) == "0"


def test_a_message_signed_with_another_token_is_refused(tenant, client, pg):
    t, other = tenant(), tenant()
    r = client.post_signed(SMS, t.message("hello"), other.token)
    assert r.status_code == 403 and "token" not in r.text.lower()
    assert pg.scalar("SELECT count(*) FROM messages WHERE company_id = %d" % t.company_id) == "0"


@pytest.mark.expect_log(*DB_DOWN)
def test_messages_during_an_outage_land_once(tenant, spool_apache, client_for, pg):
    t = tenant()
    ap = spool_apache()
    c = client_for(ap)
    assert_no_reply(c.post_signed(SMS, t.message("before"), t.token))  # the tenant cached
    msgs = [t.message("during %d" % i) for i in range(5)]
    msgs.append(t.message("", whatsapp=True, media=MEDIA[:1]))
    msgs.append(t.message("STOP", from_="+14155550177"))  # the ledger's, even when replayed
    pg.stop()
    try:
        for p in msgs + msgs[:2]:  # two of them delivered twice
            assert_no_reply(c.post_signed(SMS, p, t.token))
        assert len(pending(ap.spool)) == len(msgs) + 2
    finally:
        pg.start()
    sids = [param(p, "MessageSid") for p in msgs]
    wait_until(lambda: all(message_row(pg, s) for s in sids), 10, interval=0.1,
               what="the spooled messages replayed")
    wait_drained(ap.spool)
    assert pg.scalar("SELECT count(*) FROM messages WHERE company_id = %d"
                     % t.company_id) == str(len(msgs) + 1)
    assert message_row(pg, sids[-2])[0][1] == "whatsapp"
    assert pg.psql("SELECT phone, channel, granted, method, source_sid FROM consent_events "
                   "WHERE company_id = %d" % t.company_id) == [
        ("+14155550177", "sms", "f", "keyword STOP", sids[-1])]
    assert rejected(ap.spool) == []
