"""Stream mode, Apache's part: the stream-mode settings (voxtwilio-admin), the inbound TwiML
that connects the call's audio, the stream-end route that decides what follows the stream,
and the check of the WebSocket upgrade before mod_proxy_wstunnel tunnels it (here to a
stand-in helper on a unix socket that records what reaches it)."""
import asyncio
import os
import re
import tempfile
import threading

import pytest
import websockets

from pyvt import TwilioSigner, checks, new_call_sid, param
from pyvt.twiml import parse_twiml

from test_inbound import INBOUND

pytestmark = pytest.mark.usefixtures("migrated")


# ---------------------------------------------------------------- settings
def test_assistant_set_stream_settings(tenant, admin, pg):
    t = tenant()
    r = admin("assistant", "set", t.slug, "--mode", "stream", "--realtime-url",
              "wss://rt.example.com/v1/realtime/", "--realtime-model", "gpt-realtime",
              "--realtime-voice", "marin", "--realtime-dialect", "beta",
              "--realtime-audio", "pcm16", "--realtime-key-file", "-", input="sk-rt-secret\n")
    assert r.rc == 0, r
    assert "sk-rt-secret" not in r.out + r.err
    show = admin("assistant", "show", t.slug).out
    assert "mode: stream" in show
    assert "realtime url: wss://rt.example.com/v1/realtime\n" in show
    assert "realtime model: gpt-realtime" in show
    assert "realtime dialect: beta" in show and "realtime audio: pcm16" in show
    assert "realtime transcription: gpt-4o-mini-transcribe" in show
    assert re.search(r"realtime api key: set \(sealed with key [^)]+\)", show)
    assert "sk-rt-secret" not in show
    blob = pg.scalar("SELECT encode(realtime_key_enc, 'hex') FROM companies WHERE id = %d"
                     % t.company_id)
    assert blob and "sk-rt-secret".encode().hex() not in blob
    # "" turns the realtime model off (the offline mode) and the key can go.
    r = admin("assistant", "set", t.slug, "--realtime-url", "", "--no-realtime-key",
              "--realtime-transcription", "")
    assert r.rc == 0, r
    show = admin("assistant", "show", t.slug).out
    assert "realtime url: (none: offline)" in show and "realtime model: -" in show
    assert "realtime api key: none" in show and "realtime transcription: (none)" in show
    assert admin("assistant", "set", t.slug, "--mode", "gather").rc == 0
    assert "mode: gather" in admin("assistant", "show", t.slug).out


@pytest.mark.parametrize("args, message", [
    (["--mode", "live"], "--mode 'live' must be gather or stream"),
    (["--realtime-url", "https://x.example.com/rt"], "--realtime-url must start with ws://"),
    (["--realtime-url", "wss://x.example.com/rt?model=a"], "--realtime-url must not contain a query"),
    (["--realtime-dialect", "v2"], "--realtime-dialect 'v2' must be ga or beta"),
    (["--realtime-audio", "opus"], "--realtime-audio 'opus' must be pcmu or pcm16"),
    (["--realtime-voice", "bad voice"], "--realtime-voice 'bad voice' is not a voice name"),
    (["--realtime-model", "a&b"], "--realtime-model must be 1 to 200 characters"),
    (["--realtime-url", "wss://x.example.com/rt"], "--realtime-url and --realtime-model go together"),
    (["--realtime-key-file", "-", "--no-realtime-key"], "not both"),
])
def test_assistant_set_stream_refusals(tenant, admin, args, message):
    t = tenant()
    r = admin("assistant", "set", t.slug, *args, input="sk-x\n")
    assert r.rc != 0 and message in r.err, r
    assert "mode: gather" in admin("assistant", "show", t.slug).out


def test_recording_flag(tenant, admin, pg):
    t = tenant()
    assert admin("company", "set", t.slug, "--recording", "on").rc == 0
    assert pg.scalar("SELECT recording FROM companies WHERE id = %d" % t.company_id) == "t"
    r = admin("company", "set", t.slug, "--recording", "yes")
    assert r.rc != 0 and "--recording 'yes' must be on or off" in r.err


# ---------------------------------------------------------------- inbound TwiML
@pytest.fixture
def stream_tenant(tenant, admin):
    def make(recording=False, escalation=None, **kw):
        t = tenant(**kw)
        args = ["company", "set", t.slug, "--recording", "on" if recording else "off"]
        if escalation:
            args += ["--escalation-phone", escalation]
        assert admin(*args).rc == 0
        assert admin("assistant", "set", t.slug, "--mode", "stream").rc == 0
        return t
    return make


def test_inbound_connects_the_stream(stream_tenant, client, apache, pg):
    t = stream_tenant()
    p = t.params()
    sid = param(p, "CallSid")
    r = client.post_signed(INBOUND, p, t.token)
    checks.twiml_response(r)
    doc = parse_twiml(r.text)
    assert doc.verbs == ["Connect"], r.text
    connect = doc.find("Connect")
    assert connect.get("action") == "stream-end" and connect.get("method") == "POST"
    stream = connect.find("Stream")
    assert stream.get("url") == "wss://127.0.0.1:%d/voice/stream/%s/%s" % (apache.port, t.slug,
                                                                          sid)
    params = {x.get("name"): x.get("value") for x in stream.findall("Parameter")}
    assert params == {"From": param(p, "From"), "To": t.number}
    # the call is logged as in gather mode, greeting turn included
    assert pg.scalar("SELECT count(*) FROM call_turns WHERE call_sid = '%s'" % sid) == "1"


def test_inbound_stream_with_recording_and_slug_path(stream_tenant, client, apache):
    t = stream_tenant(recording=True)
    p = t.params()
    r = client.post_signed("/voice/%s/inbound" % t.slug, p, t.token)
    doc = parse_twiml(r.text)
    assert doc.verbs == ["Start", "Connect"], r.text
    rec = doc.find("Start/Recording")
    assert rec.get("recordingStatusCallback") == "recording"
    assert rec.get("recordingStatusCallbackEvent") == "completed"
    assert rec.get("channels") == "dual"  # one channel per side: a transcript by speaker
    # the stream lives under the handler's Location, whatever the path of inbound
    assert doc.find("Connect/Stream").get("url") == "wss://127.0.0.1:%d/voice/stream/%s/%s" % (
        apache.port, t.slug, param(p, "CallSid"))


# ---------------------------------------------------------------- stream-end
def _start_call(client, t):
    p = t.params()
    client.post_signed(INBOUND, p, t.token)
    return p, param(p, "CallSid")


def _stream_end(client, t, p):
    r = client.post_signed("/voice/stream-end", p, t.token)
    checks.twiml_response(r)
    return parse_twiml(r.text)


def test_stream_end_outcomes(stream_tenant, client, pg, standin):
    t = stream_tenant(escalation="+14155550177")
    p, sid = _start_call(client, t)
    pg.psql("UPDATE calls SET stream_outcome = 'hangup' WHERE call_sid = '%s'" % sid)
    assert _stream_end(client, t, p).verbs == ["Hangup"]
    pg.psql("UPDATE calls SET stream_outcome = 'transfer' WHERE call_sid = '%s'" % sid)
    doc = _stream_end(client, t, p)
    assert doc.find("Dial/Number").text == "+14155550177"
    assert doc.find("Dial").get("action") == "escalate"
    # the helper's reply announced the transfer ("Let me connect you ..."): not said twice
    assert doc.spoken() == []
    # a failed backend: the caller already heard the helper's apology; the human takes over
    pg.psql("UPDATE calls SET stream_outcome = 'failed' WHERE call_sid = '%s'" % sid)
    doc = _stream_end(client, t, p)
    assert doc.find("Dial/Number").text == "+14155550177"
    assert doc.spoken() == ["Please hold while I connect you."]
    # a stream that said nothing (its helper died): an apology first
    pg.psql("UPDATE calls SET stream_outcome = NULL WHERE call_sid = '%s'" % sid)
    doc = _stream_end(client, t, p)
    assert doc.spoken() == ["Sorry, the line had a problem for a moment. "
                            "Please hold while I connect you."]
    assert doc.find("Dial/Number").text == "+14155550177"


def test_stream_end_without_a_human_goes_on_in_gather_mode(stream_tenant, client, pg):
    t = stream_tenant()
    p, sid = _start_call(client, t)
    # the stream wrote turns up to seq 5
    for seq, role in ((2, "caller"), (3, "assistant"), (4, "caller"), (5, "assistant")):
        pg.psql("INSERT INTO call_turns (call_sid, seq, role, text) VALUES ('%s', %d, '%s', "
                "'x')" % (sid, seq, role))
    pg.psql("UPDATE calls SET stream_outcome = 'failed' WHERE call_sid = '%s'" % sid)
    doc = _stream_end(client, t, p)
    assert doc.gather_prompt() == "How can I help you?"
    assert doc.gather.get("action") == "speech?t=3&ni=0&nm=0"
    pg.psql("UPDATE calls SET stream_outcome = NULL WHERE call_sid = '%s'" % sid)
    doc = _stream_end(client, t, p)
    assert doc.gather_prompt() == "Sorry, the line had a problem for a moment. " \
                                  "How can I help you?"
    # the conversation goes on: the next turn lands after the stream's turns
    r = client.post_signed("/voice/speech?t=3&ni=0&nm=0",
                           p + [("SpeechResult", "goodbye"), ("Confidence", "0.9")], t.token)
    assert parse_twiml(r.text).ends_with_hangup()
    assert pg.scalar("SELECT string_agg(seq::text, ',' ORDER BY seq) FROM call_turns "
                     "WHERE call_sid = '%s'" % sid) == "1,2,3,4,5,6,7"


# ---------------------------------------------------------------- the upgrade check
class FakeHelper:
    """A WebSocket server on a unix socket standing in for voxtwilio-helper: records the
    path and headers of every upgrade that reaches it and echoes text messages."""

    def __init__(self, path):
        self.path = path
        self.seen = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    async def _handler(self, ws, path):
        self.seen.append((path, ws.request_headers))
        async for msg in ws:
            await ws.send(msg)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            websockets.unix_serve(self._handler, self.path))
        os.chmod(self.path, 0o666)
        self.ready.set()
        self.loop.run_forever()

    def start(self):
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def proxied(apache_factory, workdir):
    d = tempfile.mkdtemp(prefix="fake-helper-", dir=workdir)
    os.chmod(d, 0o755)
    helper = FakeHelper(os.path.join(d, "stream.sock")).start()
    a = apache_factory(stream_socket=helper.path, server_extra="VoxTwilioHelper Off")
    yield a, helper
    helper.stop()


def _open(apache, signed_url, token=None, signature=None, extra=()):
    """Opens the stream like Twilio (ws:// to the test port, the wss:// URL signed); returns
    ("open", echo) or ("refused", status)."""
    path = signed_url.split("/", 3)[3]
    headers = list(extra)
    if signature is None and token is not None:
        signature = TwilioSigner.sign(token, signed_url)
    if signature is not None:
        headers.append(("X-Twilio-Signature", signature))

    async def go():
        try:
            async with websockets.connect("ws://127.0.0.1:%d/%s" % (apache.port, path),
                                          extra_headers=headers, open_timeout=10) as ws:
                await ws.send('{"event":"connected"}')
                return "open", await asyncio.wait_for(ws.recv(), 10)
        except websockets.exceptions.InvalidStatusCode as e:
            return "refused", e.status_code
    return asyncio.run(go())


def _status(apache, name):
    import requests
    text = requests.get(apache.url("/server-status?auto"), timeout=10).text
    m = re.search(r"^VoxTwilio%s: (\d+)$" % name, text, re.M)
    return int(m.group(1))


def test_upgrade_with_a_valid_signature_reaches_the_helper(stream_tenant, proxied):
    apache, helper = proxied
    t = stream_tenant()
    sid = new_call_sid()
    url = "wss://127.0.0.1:%d/voice/stream/%s/%s" % (apache.port, t.slug, sid)
    before = _status(apache, "Streams")
    # a client cannot choose the URL the helper is told was checked
    assert _open(apache, url, t.token,
                 extra=[("X-VoxTwilio-Stream-URL", "wss://evil.example/x")]) == \
        ("open", '{"event":"connected"}')
    path, headers = helper.seen[-1]
    assert path.endswith("/%s/%s" % (t.slug, sid))
    assert headers.get("X-VoxTwilio-Stream-URL") == url, headers
    assert "X-Twilio-Signature" in headers        # the helper verifies it again
    assert _status(apache, "Streams") == before + 1
    assert _status(apache, "StreamsLive") == 0     # the tunnel has closed


@pytest.mark.expect_log(r"stream upgrade refused")
def test_upgrade_refusals(stream_tenant, tenant, proxied, admin):
    apache, helper = proxied
    t = stream_tenant()
    other = stream_tenant()
    sid = new_call_sid()
    url = "wss://127.0.0.1:%d/voice/stream/%s/%s" % (apache.port, t.slug, sid)
    refused = _status(apache, "StreamsRefused")
    assert _open(apache, url, signature="bm90IGEgc2lnbmF0dXJl") == ("refused", 403)
    assert _open(apache, url) == ("refused", 403)                        # no signature
    assert _open(apache, url, other.token) == ("refused", 403)           # another tenant's
    # a valid signature replayed for another call
    sig = TwilioSigner.sign(t.token, url)
    url2 = "wss://127.0.0.1:%d/voice/stream/%s/%s" % (apache.port, t.slug, new_call_sid())
    assert _open(apache, url2, signature=sig) == ("refused", 403)
    # an unknown or disabled tenant
    assert _open(apache, url.replace(t.slug, "no-such-tenant"), t.token) == ("refused", 404)
    assert admin("company", "disable", t.slug).rc == 0
    assert _open(apache, url, t.token) == ("refused", 404)
    assert helper.seen == []                     # nothing reached the helper
    assert _status(apache, "StreamsRefused") == refused + 6
