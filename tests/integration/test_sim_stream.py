"""voxtwilio-sim --stream: the simulator plays Twilio's side of a Media Stream in real time.

Against the real gateway: Apache (mod_proxy_wstunnel) and the real helper in offline stream
mode (no realtime model: espeak-ng speaks the greeting and a DTMF menu, the caller answers
with keys), PostgreSQL for the call log. Against a small fake gateway in this process (a
TwiML app and a WebSocket server): the signed upgrade, the messages Twilio sends, mark
echoes, and Twilio's warnings about what a gateway may not send. Calls are kept to a few
seconds of audio: the simulator runs in real time.
"""
import array
import asyncio
import base64
import http
import json
import os
import re
import tempfile
import threading
import time
import wave

import pytest

import pyvt
from pyvt import TwilioSigner, wait_until
from pyvt.realtime_standin import RealtimeStandIn
from test_sim import ACCOUNT, CALLER, XML, App, sim  # noqa: F401  (sim: the fixture)

pytestmark = pytest.mark.usefixtures("migrated")

ESCALATION = "+14155550177"
GREETING = "Hello."
SCRIPT = ('{"intents": [{"name": "hours", "phrases": ["opening hours"], '
          '"reply": "Nine to five."}]}')


# ---------------------------------------------------------------- the real gateway
@pytest.fixture(scope="module")
def stream_apache(request, paths, pg, key_file, standin, migrated, capture):
    """An Apache whose helper serves streams on a socket of this module's own (its parent
    reachable by Apache's user)."""
    work = request.config._vt_workdir
    sockdir = tempfile.mkdtemp(prefix="sock-", dir=work)
    os.chmod(sockdir, 0o755)
    a = pyvt.Apache(paths, pg.conninfo, key_file, api_base=standin.base_url,
                    root=tempfile.mkdtemp(prefix="httpd-simstream-", dir=work), capture=capture,
                    stream_socket=os.path.join(sockdir, "voxtwilio", "stream.sock"),
                    helper=os.path.join(paths.builddir, "voxtwilio-helper"))
    a.start()
    a.wait_for_helper()
    yield a
    a.stop()


@pytest.fixture
def offline_tenant(tenant, admin, tmp_path):
    """A stream-mode tenant without a realtime model: the helper's offline DTMF menu."""
    def make(escalation=ESCALATION):
        t = tenant(greeting=GREETING)
        if escalation:
            assert admin("company", "set", t.slug, "--escalation-phone", escalation).rc == 0
        f = tmp_path / ("script-%s.json" % t.slug)
        f.write_text(SCRIPT)
        assert admin("assistant", "import", t.slug, str(f)).rc == 0
        assert admin("assistant", "set", t.slug, "--mode", "stream").rc == 0
        return t
    return make


def sim_stream(sim, apache, t, *extra, **kw):  # noqa: F811
    return sim(apache.url("/voice/inbound"), t.account_sid, t.token, t.number, "--stream",
               *extra, **kw)


def turns(pg, sid):
    return pg.psql("SELECT role, text FROM call_turns WHERE call_sid = '%s' ORDER BY seq"
                   % sid)


def audio_lines(lines):
    """The seconds of each "assistant: [audio X s]" line, in order."""
    return [float(m.group(1)) for m in
            (re.match(r"assistant: \[audio (\d+\.\d) s\]$", l) for l in lines) if m]


def test_sim_stream_offline_call_to_a_human(sim, stream_apache, offline_tenant, pg):  # noqa: F811
    t = offline_tenant()
    r = sim_stream(sim, stream_apache, t, script="dtmf 1\ndtmf 0\n")
    assert r.rc == 0 and r.err == "", r
    lines = r.lines
    url = "wss://127.0.0.1:%d/voice/stream/%s/%s" % (stream_apache.port, t.slug, r.call_sid)
    assert "[stream %s (From=%s, To=%s)]" % (url, CALLER, t.number) in lines, r
    i = lines.index("caller: [dtmf 1]")
    j = lines.index("caller: [dtmf 0]")
    # greeting and menu, heard in full before the first key; the reply before the second
    assert audio_lines(lines[:i])[0] > 2.0, r
    assert sum(audio_lines(lines[i:j])) > 0.5, r
    assert sum(audio_lines(lines[j:])) > 1.0, r
    assert "[clear]" not in lines, r
    k = lines.index("[stream closed by the gateway (1000)]")
    assert j < k, r
    # stream-end dials the human: the simulator's Dial handling
    dial = [l for l in lines[k:] if l.startswith("[dial %s " % ESCALATION)]
    assert dial and "callerId %s" % t.number in dial[0], r
    assert "[dial answered: talked 30 s, hung up]" in lines, r
    assert r.ended.startswith("[call ended: completed, 2 turns, "), r
    assert lines[-1] == "[status completed]", r

    assert [tuple(x) for x in turns(pg, r.call_sid)] == [
        ("assistant", GREETING), ("caller", "[key 1]"), ("assistant", "Nine to five."),
        ("caller", "[key 0]"), ("assistant", "Let me connect you with a member of our team.")]
    assert pg.scalar("SELECT stream_outcome FROM calls WHERE call_sid = '%s'"
                     % r.call_sid) == "transfer"
    assert pg.scalar("SELECT status FROM calls WHERE call_sid = '%s'" % r.call_sid) \
        == "completed"


def wav_channels(path):
    """(rate, channels, sample width, [left samples], [right samples]) of a WAV file."""
    with wave.open(path) as w:
        rate, nch, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        frames = array.array("h", w.readframes(w.getnframes()))
    return rate, nch, width, frames[0::2], frames[1::2]


def loud_seconds(samples, threshold=500):
    """Seconds of 20 ms blocks whose mean absolute level passes threshold."""
    blocks = [samples[i:i + 160] for i in range(0, len(samples) - 159, 160)]
    return sum(1 for b in blocks if sum(abs(x) for x in b) / 160 > threshold) * 0.02


def test_sim_stream_barge_in_and_wav(sim, stream_apache, offline_tenant, pg, tmp_path):  # noqa: F811
    """A key during the greeting cuts it (the gateway clears Twilio's buffer); then the
    caller speaks over the reply. The WAV file holds both sides."""
    t = offline_tenant()
    wav = str(tmp_path / "call.wav")
    started = time.monotonic()
    r = sim_stream(sim, stream_apache, t, "--barge-in", "--wav", wav,
                   script="wait 1\ndtmf 1\nThank you\n")
    took = time.monotonic() - started
    assert r.rc == 0 and r.err == "", r
    lines = r.lines
    i = lines.index("caller: [dtmf 1]")
    k = lines.index("[clear]")
    said = lines.index("caller: Thank you")
    assert i < k < said < lines.index("[caller hangs up]"), r
    # about a second of the greeting before the key, the rest of it cleared
    assert 0.8 <= sum(audio_lines(lines[:i])) <= 2.0, r
    assert sum(audio_lines(lines[i:k])) < 1.0, r
    assert sum(audio_lines(lines[k:])) > 0.5, r
    assert "[stream closed by the gateway" not in r.out, r
    assert r.ended.startswith("[call ended: completed, 2 turns, "), r
    # the key, then the words over the reply (the offline recognizer listens: it cuts it)
    wait_until(lambda: pg.scalar("SELECT barge_ins FROM calls WHERE call_sid = '%s'"
                                 % r.call_sid) == "2", 5, what="both barge-ins counted")

    rate, nch, width, left, right = wav_channels(wav)
    assert (rate, nch, width) == (8000, 2, 2)
    seconds = len(left) / 8000.0
    assert 2.5 < seconds < took, (seconds, took)
    heard = sum(audio_lines(lines))
    # the right channel is what played (cleared audio never does), the left the caller
    assert 0.5 * heard < loud_seconds(right) <= heard + 0.1, (heard, loud_seconds(right))
    assert loud_seconds(left) > 0.3
    # the caller spoke after the key, over the reply; before it, it was silent
    assert loud_seconds(left[:8000]) == 0


def test_sim_stream_that_cannot_connect(sim, stream_apache, offline_tenant, pg):  # noqa: F811
    """No stream (nothing listens at --stream-connect): Twilio logs 31902 and goes on with
    the <Connect action>; the gateway apologises and hands over to a human."""
    t = offline_tenant()
    r = sim_stream(sim, stream_apache, t, "--stream-connect",
                   "ws://127.0.0.1:%d" % pyvt.free_port(), script="dtmf 1\n")
    assert r.rc == 1, r
    assert "Twilio error 31902" in r.err and len(r.err.strip().splitlines()) == 1, r
    lines = r.lines
    k = [n for n, l in enumerate(lines) if l.startswith("[stream wss://")][0]
    assert lines[k + 1].startswith("assistant: Sorry, the line had a problem"), r
    assert any(l.startswith("[dial %s " % ESCALATION) for l in lines[k:]), r
    assert r.ended.startswith("[call ended: completed"), r
    assert pg.scalar("SELECT coalesce(stream_outcome, '-') FROM calls WHERE call_sid = '%s'"
                     % r.call_sid) == "-"


@pytest.fixture(scope="module")
def realtime():
    s = RealtimeStandIn().start()
    yield s
    s.stop()


def test_sim_stream_realtime_speech_barges_in(sim, stream_apache, tenant, admin, realtime,  # noqa: F811
                                              pg):
    """A realtime tenant (the stand-in's VAD hears the caller's espeak-ng voice): the caller
    talks over the greeting, the gateway clears it, and the model's reply plays."""
    model = realtime.scenario("sim-rt-%d" % time.monotonic_ns(), greeting_ms=3000,
                              turns=[{"heard": "what are your opening hours",
                                      "reply": "We open at nine.", "reply_ms": 800}])
    t = tenant(greeting=GREETING)
    assert admin("assistant", "set", t.slug, "--mode", "stream", "--realtime-url", realtime.url,
                 "--realtime-model", model, "--realtime-key-file", "-",
                 input="sk-sim\n").rc == 0
    r = sim_stream(sim, stream_apache, t, "--barge-in", script="What are your opening hours?\n")
    assert r.rc == 0 and r.err == "", r
    lines = r.lines
    said = lines.index("caller: What are your opening hours?")
    k = lines.index("[clear]")
    assert said < k < lines.index("[caller hangs up]"), r
    assert sum(audio_lines(lines[:k])) < 2.0, r        # the 3 s greeting was cut
    assert 0.6 <= sum(audio_lines(lines[k:])) <= 1.0, r  # the 0.8 s reply played in full
    rows = [tuple(x) for x in turns(pg, r.call_sid)]
    assert ("caller", "what are your opening hours") in rows, rows
    assert ("assistant", "We open at nine.") in rows, rows


# ---------------------------------------------------------------- a fake gateway
class FakeGateway:
    """A WebSocket server playing a gateway to the simulator, run in a thread: records the
    upgrade and every message with its arrival time; `script(gw, ws)` (a coroutine) is what
    it does once `start` has come. refuse=STATUS answers the upgrade with that status."""

    def __init__(self, script=None, refuse=None):
        self.script = script
        self.refuse = refuse
        self.headers = None
        self.path = None
        self.got = []           # (monotonic time, message dict or bytes)
        self.sent = {}          # name -> monotonic time it was sent
        self.close_code = None
        self.ready = threading.Event()
        self.done = threading.Event()
        self.port = pyvt.free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._thread, daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    def stop(self):
        self.loop.call_soon_threadsafe(self.stopping.set_result, None)
        self.thread.join(10)

    def events(self, name):
        return [m for _, m in self.got if isinstance(m, dict) and m.get("event") == name]

    def echoed(self, mark):
        return [t for t, m in self.got if isinstance(m, dict) and m.get("event") == "mark"
                and m["mark"]["name"] == mark]

    def _thread(self):
        import websockets

        async def process_request(path, headers):
            self.path, self.headers = path, headers
            if self.refuse:
                return (http.HTTPStatus(self.refuse), [], b"no\n")
            return None

        async def handler(ws, path=None):
            reader = asyncio.ensure_future(self._read(ws))
            try:
                while not self.events("start"):
                    await asyncio.sleep(0.01)
                if self.script:
                    await self.script(self, ws)
            finally:
                await asyncio.sleep(0.2)
                reader.cancel()
                self.done.set()

        async def serve():
            self.stopping = asyncio.get_running_loop().create_future()
            async with websockets.serve(handler, "127.0.0.1", self.port,
                                        process_request=process_request, compression=None):
                self.ready.set()
                await self.stopping

        self.loop.run_until_complete(serve())

    async def _read(self, ws):
        import websockets
        try:
            async for raw in ws:
                self.got.append((time.monotonic(),
                                 json.loads(raw) if isinstance(raw, str) else raw))
        except websockets.exceptions.ConnectionClosed:
            pass

    async def send(self, ws, msg, name=None):
        await ws.send(json.dumps(msg) if isinstance(msg, dict) else msg)
        if name:
            self.sent[name] = time.monotonic()

    async def wait(self, pred, timeout=5):
        deadline = time.monotonic() + timeout
        while not pred() and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        return pred()


def tone(ms):
    """ms of a loud µ-law square wave."""
    return bytes([0x80, 0x00] * (4 * ms))


def media(sid, audio):
    return {"event": "media", "streamSid": sid,
            "media": {"payload": base64.b64encode(audio).decode()}}


async def gateway_script(gw, ws):
    sid = gw.events("start")[0]["streamSid"]
    await gw.send(ws, b"\x00\x01binary")                       # 31950
    await gw.send(ws, media("MZ" + "0" * 32, tone(20)))         # 31951: another stream's
    await gw.send(ws, {"event": "hello", "streamSid": sid})     # 31951 again: logged once
    await gw.send(ws, media(sid, tone(500)))
    await gw.send(ws, {"event": "mark", "streamSid": sid, "mark": {"name": "m1"}}, "m1")
    await gw.wait(lambda: gw.echoed("m1"))
    await gw.send(ws, media(sid, tone(2000)))
    await gw.send(ws, {"event": "mark", "streamSid": sid, "mark": {"name": "m2"}}, "m2")
    await asyncio.sleep(0.3)
    await gw.send(ws, {"event": "clear", "streamSid": sid}, "clear")
    await gw.wait(lambda: gw.echoed("m2"))
    await asyncio.sleep(0.3)
    await ws.close(1000)


@pytest.fixture
def app():
    a = App(pyvt.new_auth_token())
    yield a
    a.stop()


@pytest.fixture
def fake_gateway():
    made = []

    def make(*a, **kw):
        made.append(FakeGateway(*a, **kw))
        return made[-1]

    yield make
    for gw in made:
        gw.stop()


def connect_twiml(app, ws_url, connect_attrs='action="after"'):
    app.twiml("/app/voice/inbound",
              XML + '<Response><Start><Recording recordingStatusCallback="recording"/></Start>'
              '<Connect %s><Stream url="%s"><Parameter name="From" value="%s"/>'
              '<Parameter name="Foo" value="b&amp;r"/></Stream></Connect>'
              '<Say>never</Say></Response>' % (connect_attrs, ws_url, CALLER))
    app.twiml("/app/voice/after", XML + "<Response><Say>bye</Say><Hangup/></Response>")


def sim_app(sim, app, gw, *extra, **kw):  # noqa: F811
    return sim(app.url("/app/voice/inbound"), ACCOUNT, app.token, "+15005550006", "--stream",
               "--stream-connect", "ws://127.0.0.1:%d" % gw.port, *extra, **kw)


def test_sim_stream_plays_twilios_side(sim, app, fake_gateway):  # noqa: F811
    gw = fake_gateway(gateway_script)
    ws_url = "wss://media.example.com:8443/media/x"
    connect_twiml(app, ws_url)
    r = sim_app(sim, app, gw)
    assert r.rc == 1, r
    # the upgrade: the path and Host of the TwiML's URL, signed over that wss:// URL
    assert gw.path == "/media/x"
    assert gw.headers["Host"] == "media.example.com:8443"
    assert gw.headers["X-Twilio-Signature"] == TwilioSigner.sign(app.token, ws_url)
    # connected, then start (sequenceNumber 1), then media frames paced at 20 ms
    msgs = [m for _, m in gw.got if isinstance(m, dict)]
    assert msgs[0] == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    start = msgs[1]
    assert start["event"] == "start" and start["sequenceNumber"] == "1", start
    sid = start["streamSid"]
    assert re.match(r"MZ[0-9a-f]{32}$", sid)
    assert start["start"]["callSid"] == r.call_sid
    assert start["start"]["accountSid"] == ACCOUNT
    assert start["start"]["customParameters"] == {"From": CALLER, "Foo": "b&r"}
    assert start["start"]["mediaFormat"] == {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                             "channels": 1}
    seqs = [int(m["sequenceNumber"]) for m in msgs[1:]]
    assert seqs == list(range(1, len(seqs) + 1))
    frames = [(t, m) for t, m in gw.got if isinstance(m, dict) and m.get("event") == "media"]
    assert [int(m["media"]["chunk"]) for _, m in frames] == list(range(1, len(frames) + 1))
    assert all(base64.b64decode(m["media"]["payload"]) == b"\xff" * 160 for _, m in frames)
    span = frames[-1][0] - frames[0][0]
    assert span > 1.0 and abs(len(frames) - 1 - span / 0.02) < 0.15 * len(frames), \
        (len(frames), span)
    # marks: m1 once its 0.5 s played; m2 at once when cleared
    (m1,) = gw.echoed("m1")
    assert 0.45 <= m1 - gw.sent["m1"] < 1.0, m1 - gw.sent["m1"]
    (m2,) = gw.echoed("m2")
    assert m2 - gw.sent["clear"] < 0.15, m2 - gw.sent["clear"]
    # the transcript, then the <Connect action>
    lines = r.lines
    assert "[Start Recording]" in lines, r
    k = lines.index("[stream closed by the gateway (1000)]")
    assert lines[k - 1] == "[clear]", r
    assert lines[k + 1:k + 3] == ["assistant: bye", "[the gateway hangs up]"], r
    assert "never" not in r.out
    after = app.hits("/app/voice/after")
    assert len(after) == 1 and after[0]["signed"] and after[0]["method"] == "POST"
    assert after[0]["p"]["CallStatus"] == "in-progress"
    # what a gateway may not send: Twilio's warnings, once each
    err = r.err.strip().splitlines()
    assert len(err) == 2, r
    assert "Twilio error 31950" in err[0] and "binary" in err[0], r
    assert "Twilio error 31951" in err[1] and "another stream" in err[1], r


def test_sim_stream_caller_hangs_up(sim, app, fake_gateway):  # noqa: F811
    """Out of lines: the caller hangs up once the assistant is quiet: stop, then close; the
    <Connect action> is not requested."""
    async def greet(gw, ws):
        sid = gw.events("start")[0]["streamSid"]
        await gw.send(ws, media(sid, tone(400)))
        await gw.wait(lambda: len(gw.events("dtmf")) == 2, 10)
        await gw.send(ws, media(sid, tone(200)))
        await gw.wait(lambda: gw.events("stop"), 10)

    gw = fake_gateway(greet)
    connect_twiml(app, "wss://127.0.0.1/media/y")
    r = sim_app(sim, app, gw, script="dtmf 4#\n")
    assert r.rc == 0 and r.err == "", r
    assert r.lines[-3:-1] == ["[caller hangs up]", r.ended], r
    assert r.ended.startswith("[call ended: completed, 1 turn, "), r
    dtmf = gw.events("dtmf")
    assert [d["dtmf"]["digit"] for d in dtmf] == ["4", "#"]
    assert all(d["dtmf"]["track"] == "inbound_track" for d in dtmf)
    (stop,) = gw.events("stop")
    assert stop["stop"] == {"accountSid": ACCOUNT, "callSid": r.call_sid}
    assert gw.got[-1][1] == stop
    assert app.hits("/app/voice/after") == []


def test_sim_stream_refused_upgrade(sim, app, fake_gateway):  # noqa: F811
    gw = fake_gateway(refuse=403)
    connect_twiml(app, "wss://127.0.0.1/media/z")
    r = sim_app(sim, app, gw)
    assert r.rc == 1, r
    assert "answered HTTP 403 (Twilio error 31920: Stream - WebSocket - Handshake Error)" \
        in r.err, r
    assert "assistant: bye" in r.lines, r


@pytest.mark.parametrize("url, code", [
    ("ws://127.0.0.1/media/a", "31922"), ("https://127.0.0.1/media/a", "31922"),
    ("wss://127.0.0.1/media/a?token=1", "31920"), ("media/a", "31923")])
def test_sim_stream_bad_url_in_twiml(sim, app, url, code):  # noqa: F811
    connect_twiml(app, url)
    r = sim(app.url("/app/voice/inbound"), ACCOUNT, app.token, "+15005550006", "--stream")
    assert r.rc == 1, r
    assert "invalid TwiML from %s: Twilio error %s (Stream - WebSocket - " % (
        app.url("/app/voice/inbound"), code) in r.err, r
    assert "[call ended: application error after 0 turns]" in r.lines, r
