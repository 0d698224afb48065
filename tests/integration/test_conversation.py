"""A conversation in gather mode: speech turns answered by the script assistant, the
transcript stored, no-input / no-match limits, escalation with both Dial outcomes and the
SMS alert delivered to the Twilio stand-in."""
import json
import os
import subprocess
import tempfile
import time
import urllib.parse

from pyvt import checks, param
from pyvt.twiml import parse_twiml

from test_inbound import INBOUND
from test_status import status

SCRIPT = {
    "no_input_limit": 2,
    "no_match_limit": 2,
    "intents": [
        {"name": "hours", "phrases": ["opening hours", "when are you open"],
         "reply": "We are open Monday to Friday, nine to five.", "action": "none"},
        {"name": "booking", "phrases": ["book an appointment"],
         "reply": "I have sent you a text with our booking link.", "action": "sms",
         "sms": "Book here: https://example.com/book"},
    ],
}


class Call:
    """Plays Twilio for one call: follows the Gather action / Redirect URLs it is given."""

    def __init__(self, client, tenant, **kw):
        self.client, self.t = client, tenant
        self.p = tenant.params(**kw)
        self.sid = param(self.p, "CallSid")
        self.path = INBOUND
        self.doc = None

    def post(self, path, extra=(), status="in-progress"):
        params = [(k, status if k == "CallStatus" else v) for k, v in self.p] + list(extra)
        r = self.client.post_signed(path, params, self.t.token)
        checks.twiml_response(r)
        self.path, self.doc = path, parse_twiml(r.text)
        return self.doc

    def start(self):
        return self.post(INBOUND, status="ringing")

    def resolve(self, url):
        return urllib.parse.urljoin(self.path, url)

    def say(self, text, confidence="0.92", redo=False):
        action = self.resolve(self.doc.gather.get("action"))
        extra = [("SpeechResult", text), ("Confidence", confidence)] if text is not None else \
            [("SpeechResult", ""), ("Confidence", "0")]
        return self.post(action, extra)

    def follow_redirect(self, extra=()):
        redirect = self.doc.find("Redirect")
        assert redirect is not None, self.doc
        return self.post(self.resolve(redirect.text), extra)


def transcript(pg, sid):
    return pg.psql("SELECT seq, role, text FROM call_turns WHERE call_sid = '%s' ORDER BY seq"
                   % sid)


def import_script(admin, slug, doc):
    fd, path = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f)
    try:
        r = admin("assistant", "import", slug, path)
        assert r.rc == 0, r
    finally:
        os.unlink(path)


def test_multi_turn_conversation_and_transcript(tenant, client, admin, pg):
    t = tenant()
    import_script(admin, t.slug, SCRIPT)
    call = Call(client, t)
    doc = call.start()
    assert doc.gather.get("action") == "speech?t=1&ni=0&nm=0"
    doc = call.say("Hi, uh, what are your OPENING hours please?")
    assert doc.spoken() == [HOURS]
    assert doc.gather.get("action") == "speech?t=2&ni=0&nm=0"
    doc = call.say("that's all, goodbye")
    assert doc.ends_with_hangup()
    assert transcript(pg, call.sid) == [
        ("1", "assistant", t.greeting),
        ("2", "caller", "Hi, uh, what are your OPENING hours please?"),
        ("3", "assistant", "We are open Monday to Friday, nine to five."),
        ("4", "caller", "that's all, goodbye"),
        ("5", "assistant", doc.spoken()[0]),
    ]


HOURS = "We are open Monday to Friday, nine to five."


def cache_counts(client):
    s = status(client)
    return int(s["VoxTwilioAssistantCacheHits"]), int(s["VoxTwilioAssistantCacheMisses"])


def test_script_edit_is_heard_at_the_next_turn(tenant, client, admin):
    """Each child keeps the tenant's parsed script (VoxTwilioAssistantCache): turns after a
    child's first come from its cache, and an import is heard at the very next turn of a
    call in progress (the cache compares the row's text, so nothing can go stale)."""
    t = tenant()
    import_script(admin, t.slug, SCRIPT)
    call = Call(client, t)
    call.start()
    hits0, misses0 = cache_counts(client)
    for _ in range(6):
        assert call.say("opening hours").spoken() == [HOURS]
    hits, misses = cache_counts(client)
    assert (hits - hits0) + (misses - misses0) == 6
    assert hits - hits0 >= 4, "at most one miss per child (the test Apache has two)"
    edited = dict(SCRIPT, intents=[dict(SCRIPT["intents"][0],
                                        reply="From today we are open every day.")]
                  + SCRIPT["intents"][1:])
    import_script(admin, t.slug, edited)
    assert call.say("when are you open").spoken() == ["From today we are open every day."]
    import_script(admin, t.slug, SCRIPT)
    assert call.say("opening hours").spoken() == [HOURS]


def test_assistant_cache_off(tenant, apache_factory, client_for, admin):
    """VoxTwilioAssistantCache 0: every turn parses the script; the answers are the same."""
    a = apache_factory(server_extra="VoxTwilioAssistantCache 0")
    client = client_for(a)
    t = tenant()
    import_script(admin, t.slug, SCRIPT)
    call = Call(client, t)
    call.start()
    for _ in range(3):
        assert call.say("opening hours").spoken() == [HOURS]
    hits, misses = cache_counts(client)
    assert hits == 0 and misses >= 4


def test_repeated_gather_delivery_adds_no_turn(tenant, client, pg):
    t = tenant()
    call = Call(client, t)
    call.start()
    first = call.say("what can you do")
    call.path = "/voice/inbound"
    call.doc = parse_twiml('<Response><Gather action="speech?t=1&amp;ni=0&amp;nm=0"/></Response>')
    again = call.say("what can you do")
    assert first.spoken() == again.spoken()
    assert len(transcript(pg, call.sid)) == 3


def test_sms_action_queues_a_text_to_the_caller(tenant, client, admin, pg):
    t = tenant()
    import_script(admin, t.slug, SCRIPT)
    call = Call(client, t, from_="+14155550177")
    call.start()
    doc = call.say("I would like to book an appointment")
    assert doc.spoken() == ["I have sent you a text with our booking link."]
    jobs = pg.psql("SELECT kind, payload->>'to', payload->>'body' FROM jobs WHERE call_sid = '%s'"
                   % call.sid)
    assert jobs == [("sms_alert", "+14155550177", "Book here: https://example.com/book")]


def test_no_input_limit_escalates(tenant, client, admin):
    t = tenant(extra_company=["--escalation-phone", "+14155550199"])
    import_script(admin, t.slug, SCRIPT)
    call = Call(client, t)
    call.start()
    doc = call.say(None)
    assert doc.gather is not None and doc.gather.get("action") == "speech?t=2&ni=1&nm=0"
    doc = call.say(None)
    assert doc.verbs == ["Say", "Redirect"] and doc.find("Redirect").text == "escalate"


def test_no_match_limit_without_escalation_phone_ends_politely(tenant, client, admin):
    t = tenant()
    import_script(admin, t.slug, SCRIPT)
    call = Call(client, t)
    call.start()
    doc = call.say("purple monkey dishwasher")
    assert doc.gather.get("action") == "speech?t=2&ni=0&nm=1"
    doc = call.say("the quick brown fox", confidence="0.1")
    assert doc.say_then_hangup()


def deliver_jobs(paths, pg, key_file, standin):
    """Runs the real voxtwilio-helper once over the outbox, against the REST stand-in."""
    exe = os.path.join(os.path.dirname(paths.admin_bin), "voxtwilio-helper")
    r = subprocess.run([exe, "--db", pg.conninfo, "--key-file", key_file,
                        "--api-base", standin.base_url, "--once"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_escalation_dial_answered(tenant, client, pg, standin, paths, key_file):
    t = tenant(extra_company=["--escalation-phone", "+14155550199",
                              "--notification-phone", "+14155550188"])
    call = Call(client, t, from_="+14155550123")
    call.start()
    doc = call.say("can I speak to a real person")
    doc = call.follow_redirect()
    dial = doc.find("Dial")
    assert dial is not None and dial.get("callerId") == t.number and dial.get("action") == \
        "escalate"
    assert doc.spoken() == []  # the turn said "Let me connect you ...": not a second phrase
    assert dial.find("Number").text == "+14155550199"
    doc = call.post(call.resolve("escalate"), [("DialCallStatus", "completed"),
                                               ("DialCallDuration", "61")])
    assert doc.verbs == ["Hangup"]
    assert pg.psql("SELECT escalated, escalation_status FROM calls WHERE call_sid = '%s'"
                   % call.sid) == [("t", "completed")]
    job = pg.psql("SELECT kind, payload->>'to' FROM jobs WHERE call_sid = '%s'" % call.sid)
    assert job == [("sms_alert", "+14155550188")]
    # the helper delivers the alert through Twilio's Messages API with the tenant's account
    deliver_jobs(paths, pg, key_file, standin)
    posts = [q for q in standin.requests_for("/Messages.json")
             if q.path.startswith("/2010-04-01/Accounts/%s/" % t.account_sid)]
    assert len(posts) == 1
    form = dict(posts[0].form)
    assert (posts[0].auth_user, posts[0].auth_password) == (t.account_sid, t.token)
    assert form["To"] == "+14155550188" and form["From"] == t.number
    assert "+14155550123" in form["Body"] and call.sid in form["Body"]
    assert pg.scalar("SELECT status FROM jobs WHERE call_sid = '%s'" % call.sid) == "done"


def test_escalation_dial_not_answered(tenant, client, pg):
    t = tenant(extra_company=["--escalation-phone", "+14155550199"])
    call = Call(client, t)
    call.start()
    call.say("operator")
    call.follow_redirect()
    for status in ("no-answer",):
        doc = call.post(call.resolve("escalate"), [("DialCallStatus", status)])
        assert doc.say_then_hangup() and "call you back" in doc.spoken()[0]
    assert pg.psql("SELECT escalation_status FROM calls WHERE call_sid = '%s'" % call.sid) == \
        [("no-answer",)]
