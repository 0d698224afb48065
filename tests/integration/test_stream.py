"""Stream mode end to end: Twilio's Media Stream (played by pyvt.media_stream) through a real
Apache (mod_proxy_wstunnel) to the real helper, which talks to a realtime model (played by
pyvt.realtime_standin) or, offline, speaks with espeak-ng and takes DTMF keys. The call's
turns and outcome land in PostgreSQL; stream-end continues the call."""
import os
import tempfile
import time

import pytest

from pyvt import param, wait_until
from pyvt.media_stream import TwilioStream, speech_ulaw, tone_ulaw
from pyvt.realtime_standin import RealtimeStandIn
from pyvt.twiml import parse_twiml

from test_inbound import INBOUND

pytestmark = pytest.mark.usefixtures("migrated")

ESCALATION = "+14155550177"
SCRIPT = ('{"intents": [{"name": "hours", "phrases": ["opening hours"], '
          '"reply": "We are open nine to five."}]}')


@pytest.fixture(scope="module")
def realtime():
    s = RealtimeStandIn().start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def stream_apache(request, paths, pg, key_file, standin, migrated, capture):
    """An Apache whose helper serves streams (VoxTwilioRealtimeTimeout 1500ms, so failures
    show fast), shared by the module's tests. The socket is the default one, and ProxyPass
    names it as the documentation does: relative to DefaultRuntimeDir."""
    from pyvt import Apache
    root = tempfile.mkdtemp(prefix="httpd-stream-", dir=request.config._vt_workdir)
    a = Apache(paths, pg.conninfo, key_file, api_base=standin.base_url, root=root,
               capture=capture, stream_socket="voxtwilio/stream.sock",
               helper=os.path.join(paths.builddir, "voxtwilio-helper"),
               server_extra="VoxTwilioRealtimeTimeout 1500ms")
    a.start()
    a.wait_for_helper()
    yield a
    a.stop()


@pytest.fixture
def stream_tenant(tenant, admin, realtime, tmp_path):
    def make(model=None, escalation=ESCALATION, key="sk-rt-test", script=SCRIPT, **kw):
        t = tenant(**kw)
        if escalation:
            assert admin("company", "set", t.slug, "--escalation-phone", escalation).rc == 0
        if script:
            f = tmp_path / ("script-%s.json" % t.slug)
            f.write_text(script)
            assert admin("assistant", "import", t.slug, str(f)).rc == 0
        args = ["assistant", "set", t.slug, "--mode", "stream"]
        if model:
            args += ["--realtime-url", realtime.url, "--realtime-model", model,
                     "--realtime-key-file", "-"]
        assert admin(*args, input=(key or "") + "\n").rc == 0
        t.key = key
        return t
    return make


def place_call(apache, client_for, t, **kw):
    """inbound, then the stream the TwiML names; returns (stream, call params)."""
    p = t.params()
    r = client_for(apache).post_signed(INBOUND, p, t.token)
    url = parse_twiml(r.text).find("Connect/Stream").get("url")
    s = TwilioStream(apache, url, t, param(p, "CallSid"),
                     params={"From": param(p, "From"), "To": t.number}, **kw)
    return s.start(), p


def stream_end(apache, client_for, t, p):
    r = client_for(apache).post_signed("/voice/stream-end", p, t.token)
    return parse_twiml(r.text)


def turns(pg, sid):
    return pg.psql("SELECT seq, role, text, interrupted FROM call_turns WHERE call_sid = '%s' "
                   "ORDER BY seq" % sid)


def outcome(pg, sid):
    return pg.scalar("SELECT coalesce(stream_outcome, '-') FROM calls WHERE call_sid = '%s'"
                     % sid)


def heard(s, ms=300):
    return s.played_ms >= ms and s.heard_anything()


# ---------------------------------------------------------------- offline
def test_offline_menu_and_transfer(stream_apache, client_for, stream_tenant, pg):
    t = stream_tenant()
    s, p = place_call(stream_apache, client_for, t)
    sid = param(p, "CallSid")
    # the greeting and the menu, spoken by espeak-ng, all played (its end mark came back)
    s.wait_for(lambda s: any(n.endswith(":end") for _, n in s.marks_echoed), 20,
               "the greeting and menu played")
    assert s.heard_anything() and s.played_ms > 2000
    s.dtmf("1")
    s.wait_for(lambda s: len([n for _, n in s.marks_echoed if n.endswith(":end")]) >= 2, 20,
               "the reply played")
    s.dtmf("0")
    assert s.wait_closed(20)
    assert s.close_code == 1000
    assert s.errors == []
    rows = turns(pg, sid)
    assert [r[1:3] for r in rows] == [
        ("assistant", t.greeting), ("caller", "[key 1]"),
        ("assistant", "We are open nine to five."), ("caller", "[key 0]"),
        ("assistant", "Let me connect you with a member of our team.")]
    assert outcome(pg, sid) == "transfer"
    doc = stream_end(stream_apache, client_for, t, p)
    assert doc.find("Dial/Number").text == ESCALATION


def test_offline_key_during_greeting_cuts_it(stream_apache, client_for, stream_tenant, pg):
    t = stream_tenant()
    s, p = place_call(stream_apache, client_for, t)
    s.wait_for(lambda s: heard(s, 400), 20, "the greeting starts")
    s.dtmf("1")
    s.wait_for(lambda s: s.clears, 5, "a clear")
    s.wait_for(lambda s: len([n for _, n in s.marks_echoed if n.endswith(":end")]) >= 1, 20,
               "the reply played")
    s.hangup()
    assert s.wait_closed(10)
    wait_until(lambda: pg.scalar("SELECT barge_ins FROM calls WHERE call_sid = '%s'"
                                 % param(p, "CallSid")) == "1", 5, what="the barge-in counted")


# ---------------------------------------------------------------- realtime
def test_realtime_call(stream_apache, client_for, stream_tenant, realtime, pg):
    model = realtime.scenario("rt-call-%d" % time.monotonic_ns(), greeting_ms=800,
                              turns=[{"heard": "what are your opening hours",
                                      "reply": "We open at nine.", "reply_ms": 600}])
    t = stream_tenant(model=model)
    s, p = place_call(stream_apache, client_for, t)
    sid = param(p, "CallSid")
    wait_until(lambda: any(c.model == model for c in realtime.connections), 10,
               what="the helper connects to the model")
    conn = [c for c in realtime.connections if c.model == model][-1]
    assert conn.headers["Authorization"] == "Bearer " + t.key
    upd = conn.wait_for("session.update")[0]["session"]
    assert upd["type"] == "realtime"
    assert upd["audio"]["input"]["format"]["type"] == "audio/pcmu"
    assert t.name in upd["instructions"] and "nine to five" in upd["instructions"]
    assert {tool["name"] for tool in upd["tools"]} == {"escalate_to_human", "end_call"}
    s.wait_for(lambda s: any(n.endswith(":end") for _, n in s.marks_echoed), 10,
               "the greeting played")
    s.send_audio(tone_ulaw(400))
    s.wait_for(lambda s: len([n for _, n in s.marks_echoed if n.endswith(":end")]) >= 2, 10,
               "the reply played")
    wait_until(lambda: len(turns(pg, sid)) >= 3, 5, what="the turns stored")
    assert [r[1:3] for r in turns(pg, sid)] == [
        ("assistant", t.greeting), ("caller", "what are your opening hours"),
        ("assistant", "We open at nine.")]
    # the caller's audio reached the model as Twilio sent it
    assert len(conn.events("input_audio_buffer.append")) > 20
    s.hangup()
    assert s.wait_closed(10)


def rt_call(stream_apache, client_for, stream_tenant, realtime, escalation=ESCALATION, **sc):
    """A realtime stream-mode call on a fresh scenario: (stream, params, connection)."""
    model = realtime.scenario("rt-%d" % time.monotonic_ns(), **sc)
    t = stream_tenant(model=model, escalation=escalation)
    s, p = place_call(stream_apache, client_for, t)
    wait_until(lambda: any(c.model == model for c in realtime.connections), 10,
               what="the helper connects to the model")
    conn = [c for c in realtime.connections if c.model == model][-1]
    s.t = t
    return s, p, conn


def ends_played(s):
    return len([n for _, n in s.marks_echoed if n.endswith(":end")])


def sent_time(conn, type_, nth=-1):
    return [t for t, e in conn.sent if e.get("type") == type_][nth]


# ---------------------------------------------------------------- barge-in
def test_barge_in_cuts_the_reply(stream_apache, client_for, stream_tenant, realtime, pg):
    s, p, conn = rt_call(stream_apache, client_for, stream_tenant, realtime, greeting_ms=300,
                         turns=[{"heard": "tell me everything", "reply": "Well, there is a "
                                 "lot to say about our company and all of its many products",
                                 "reply_ms": 4000},
                                {"heard": "stop", "reply": "Sure.", "reply_ms": 400}])
    sid = param(p, "CallSid")
    s.wait_for(lambda s: ends_played(s) >= 1, 10, "the greeting played")
    s.send_audio(tone_ulaw(300))
    # the long reply plays for a while, then the caller talks over it
    s.wait_for(lambda s: len(conn.sent_events("response.created")) >= 2, 10, "the reply")
    start = s.played_ms
    s.wait_for(lambda s: s.played_ms - start > 1200, 10, "a second of the reply heard")
    s.send_audio(tone_ulaw(300))
    s.wait_for(lambda s: s.clears, 5, "clear")
    heard_at_clear = s.played_ms - start
    t_started = sent_time(conn, "input_audio_buffer.speech_started")
    lag = s.clears[0] - t_started
    assert 0 <= lag < 0.020 * float(os.environ.get("VT_TIMING_SLACK", "1")), lag
    # truncated at what was heard (marks every 200 ms): never more, at most a chunk less
    tr = conn.wait_for("conversation.item.truncate")[0]
    reply_item = [e for e in conn.sent_events() if e.get("type", "").endswith("audio.delta")][-1]
    assert tr["item_id"] == reply_item["item_id"]
    assert heard_at_clear - 250 <= tr["audio_end_ms"] <= heard_at_clear + 20, (tr, heard_at_clear)
    assert not any(e["type"] == "error" for e in conn.sent_events())
    # Twilio echoed the cleared audio's marks after the clear, as it does: they moved
    # nothing (the heard time stored below is still the truncation's)
    assert any(t >= s.clears[0] for t, _ in s.marks_echoed)
    # no audio of the cut reply after the clear: the next media is the next reply's
    s.wait_for(lambda s: ends_played(s) >= 2, 10, "the second reply played")
    rows = wait_until(lambda: len(turns(pg, sid)) >= 5 and turns(pg, sid), 5, what="turns")
    cut = [r for r in turns(pg, sid) if r[3] == "t"]
    assert len(cut) == 1 and cut[0][2].endswith("...") and len(cut[0][2]) < 60, cut
    assert pg.scalar("SELECT heard_ms FROM call_turns WHERE call_sid = '%s' AND interrupted"
                     % sid) == str(tr["audio_end_ms"])
    s.hangup()
    assert s.wait_closed(10)
    wait_until(lambda: pg.scalar("SELECT barge_ins FROM calls WHERE call_sid = '%s'" % sid)
               == "1", 5, what="the barge-in counted")


def test_speech_with_nothing_playing_is_no_barge_in(stream_apache, client_for, stream_tenant,
                                                    realtime):
    s, p, conn = rt_call(stream_apache, client_for, stream_tenant, realtime, greeting_ms=200,
                         turns=[{"heard": "hi", "reply": "Hello.", "reply_ms": 300}])
    s.wait_for(lambda s: ends_played(s) >= 1, 10, "the greeting played")
    time.sleep(0.3)
    s.send_audio(tone_ulaw(300))
    s.wait_for(lambda s: ends_played(s) >= 2, 10, "the reply played")
    assert s.clears == []
    assert conn.events("conversation.item.truncate") == []
    s.hangup()


def test_barge_in_during_the_first_chunk_and_twice(stream_apache, client_for, stream_tenant,
                                                  realtime):
    s, p, conn = rt_call(stream_apache, client_for, stream_tenant, realtime, greeting_ms=3000,
                         greeting_delay=0.3,
                         turns=[{"heard": "a", "reply": "One.", "reply_ms": 3000},
                                {"heard": "b", "reply": "Two.", "reply_ms": 500}])
    # talk at once: the greeting's first audio is barely out
    s.wait_for(lambda s: s.events("media"), 10, "the first audio")
    s.send_audio(tone_ulaw(200))
    s.wait_for(lambda s: len(s.clears) == 1, 5, "the first clear")
    tr = conn.wait_for("conversation.item.truncate")[0]
    assert tr["audio_end_ms"] <= 200
    # and again over the next reply, as soon as it starts
    s.wait_for(lambda s: len(conn.sent_events("response.created")) >= 2, 10, "the reply")
    n = len(s.events("media"))
    s.wait_for(lambda s: len(s.events("media")) > n, 5, "reply audio")
    s.send_audio(tone_ulaw(200))
    s.wait_for(lambda s: len(s.clears) == 2, 5, "the second clear")
    trs = conn.wait_for("conversation.item.truncate", count=2)
    assert trs[1]["item_id"] != trs[0]["item_id"]
    # the marks Twilio echoed for cleared audio moved nothing: no truncate past the audio
    assert not [e for e in conn.sent_events("error")]
    s.hangup()


# ---------------------------------------------------------------- backend failures
def apology_start(s):
    """When the first non-silent audio after the stream's start began playing."""
    return s.first_sound_at


@pytest.mark.parametrize("scenario, failure_delay", [
    ({"refuse": 403}, 0.0),                 # the upgrade is refused
    ({"silent": True}, 1.5),                # accepted, never answers: VoxTwilioRealtimeTimeout
    ({"close_after_greeting": True, "greeting_ms": 200}, None),  # drops mid-call
])
def test_backend_failure_apology_then_stream_end(stream_apache, client_for, stream_tenant,
                                                 realtime, pg, scenario, failure_delay):
    s, p, conn = rt_call(stream_apache, client_for, stream_tenant, realtime, escalation=None,
                         **scenario)
    sid = param(p, "CallSid")
    assert s.wait_closed(15), "the stream did not close"
    assert s.close_code == 1000
    assert outcome(pg, sid) == "failed"
    failed_at = conn.closed_at if failure_delay is None else conn.at + failure_delay
    # the apology: the last stretch of sound the caller heard, started within 1.5 s
    first = s.sound_after(failed_at)
    assert first is not None and first - failed_at < 1.5, (first, failed_at)
    doc = stream_end(stream_apache, client_for, s.t, p)
    assert doc.gather_prompt() == "How can I help you?"   # no human: gather mode goes on


def test_backend_hangs_after_the_caller_spoke(stream_apache, client_for, stream_tenant,
                                              realtime, pg):
    s, p, conn = rt_call(stream_apache, client_for, stream_tenant, realtime, greeting_ms=200,
                         hang_after_greeting=True)
    s.wait_for(lambda s: ends_played(s) >= 1, 10, "the greeting played")
    s.send_audio(speech_ulaw("hello, is anybody there"))
    assert s.wait_closed(15)
    assert outcome(pg, param(p, "CallSid")) == "failed"
    assert stream_end(stream_apache, client_for, s.t, p).find("Dial/Number").text == ESCALATION


# ---------------------------------------------------------------- tools
@pytest.mark.parametrize("tool, escalation, expected", [
    ("end_call", ESCALATION, "hangup"),
    ("escalate_to_human", ESCALATION, "transfer"),
    ("escalate_to_human", None, "hangup"),       # nobody to transfer to: a goodbye
])
def test_tool_calls_end_the_stream(stream_apache, client_for, stream_tenant, realtime, pg,
                                   tool, escalation, expected):
    s, p, conn = rt_call(stream_apache, client_for, stream_tenant, realtime,
                         escalation=escalation, greeting_ms=200,
                         turns=[{"heard": "bye", "reply": "Goodbye!", "reply_ms": 600,
                                 "tool": tool},
                                {"heard": "-", "reply": "Thank you for calling.",
                                 "reply_ms": 400}])
    s.wait_for(lambda s: ends_played(s) >= 1, 10, "the greeting played")
    s.send_audio(tone_ulaw(300))
    assert s.wait_closed(15)
    assert s.close_code == 1000
    # closed only once the last words had played
    assert ends_played(s) >= 2
    assert outcome(pg, param(p, "CallSid")) == expected
    doc = stream_end(stream_apache, client_for, s.t, p)
    if expected == "transfer":
        assert doc.find("Dial/Number").text == ESCALATION
    else:
        assert doc.verbs == ["Hangup"]
    if escalation is None:
        # the goodbye of the rules was asked of the model
        creates = conn.events("response.create")
        assert "Thank you for calling. Goodbye!" in creates[-1]["response"]["instructions"]


# ---------------------------------------------------------------- one stream per call
@pytest.mark.expect_log(r"refused: a second stream")
def test_second_stream_for_a_call_is_refused(stream_apache, client_for, stream_tenant, pg):
    t = stream_tenant()
    s, p = place_call(stream_apache, client_for, t)
    s.wait_for(lambda s: s.events("media"), 10, "the first stream plays")
    again = TwilioStream(stream_apache, s.url, t, s.call_sid, params=s.params).start()
    assert again.wait_closed(10)
    assert again.status == 101 and again.close_code == 1008
    assert again.events("media") == []
    assert not s.done.is_set()          # the first one carries on
    assert "refused: a second stream for a call that has one" in stream_apache.read_log()
    s.hangup()


def test_status_shows_streams(stream_apache, client_for, stream_tenant):
    import requests

    def status():
        text = requests.get(stream_apache.url("/server-status?auto"), timeout=10).text
        return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)

    t = stream_tenant()
    s, p = place_call(stream_apache, client_for, t)
    s.wait_for(lambda s: s.events("media"), 10, "the stream plays")
    st = status()
    assert int(st["VoxTwilioStreamsLive"]) >= 1
    assert int(st["VoxTwilioHelperStreamsLive"]) >= 1
    for k in ("VoxTwilioStreams", "VoxTwilioStreamsRefused", "VoxTwilioHelperStreams",
              "VoxTwilioHelperStreamsRefused", "VoxTwilioBargeIns", "VoxTwilioBackendFailures"):
        assert k in st
    s.hangup()
    assert s.wait_closed(10)
    wait_until(lambda: status()["VoxTwilioStreamsLive"] == "0"
               and status()["VoxTwilioHelperStreamsLive"] == "0", 5, what="live back to 0")


# ---------------------------------------------------------------- the helper checks too
@pytest.mark.expect_log(r"refused: signature does not match")
def test_helper_verifies_the_signature_itself(stream_apache, stream_tenant):
    """Straight to the helper's socket, past Apache: a forged URL header and signature get
    nothing but a policy close; no signature, not even the upgrade."""
    import asyncio
    import collections
    import websockets
    t = stream_tenant()
    sock = os.path.join(stream_apache.root, "run", "voxtwilio", "stream.sock")
    url = "wss://127.0.0.1:%d/voice/stream/%s/%s" % (stream_apache.port, t.slug,
                                                    "CA" + "0" * 32)

    async def go(headers):
        try:
            async with websockets.unix_connect(sock, "ws://localhost/%s/%s" % (
                    t.slug, "CA" + "0" * 32), extra_headers=headers, open_timeout=5) as ws:
                try:
                    await ws.send('{"event":"connected"}')
                    msg = await asyncio.wait_for(ws.recv(), 5)
                except websockets.exceptions.ConnectionClosed as e:
                    return ("closed", e.code)
                return ("message", msg)
        except (websockets.exceptions.InvalidStatusCode, websockets.exceptions.InvalidMessage,
                ConnectionError, EOFError) as e:
            return ("refused", type(e).__name__)

    forged = [("X-VoxTwilio-Stream-URL", url), ("X-Twilio-Signature", "bm90IGEgc2lnbmF0dXJl")]
    # Many times: the close handshake once raced the helper's own second close (about 1 in
    # 80 refusals lost its close frame to the reset).
    closes = collections.Counter(asyncio.run(go(forged)) for _ in range(200))
    assert closes == {("closed", 1008): 200}
    assert asyncio.run(go([("X-VoxTwilio-Stream-URL", url)]))[0] == "refused"


# ---------------------------------------------------------------- survives Apache
@pytest.mark.expect_log(r"voxtwilio-helper pid \d+ (was killed|exited)", r"AH01114", r"AH02454",
                        r"proxy:error")
def test_helper_sigkill_mid_call(stream_apache, client_for, stream_tenant, pg):
    import signal
    t = stream_tenant()
    s, p = place_call(stream_apache, client_for, t)
    s.wait_for(lambda s: s.events("media"), 10, "the stream plays")
    with open(os.path.join(stream_apache.root, "run", "voxtwilio", "stream.stats"), "rb") as f:
        pid = int.from_bytes(f.read()[4:8], "little")   # vt_stream_stats_t.pid
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    assert s.wait_closed(10)
    # back within a second, listening again
    wait_until(lambda: stream_apache.read_log().count("streams: listening") >= 2, 1.5,
               what="the helper back")
    assert time.monotonic() - killed < 1.5
    doc = stream_end(stream_apache, client_for, t, p)
    assert doc.spoken()[0].startswith("Sorry, the line had a problem")
    assert doc.find("Dial/Number").text == ESCALATION
    # and the next call streams
    s2, _ = place_call(stream_apache, client_for, t)
    s2.wait_for(lambda s: s.events("media"), 10, "a new call plays")
    s2.hangup()


def test_graceful_keeps_live_streams(stream_apache, client_for, stream_tenant):
    t = stream_tenant()
    calls = [place_call(stream_apache, client_for, t)[0] for _ in range(20)]
    for s in calls:
        s.wait_for(lambda s: any(n.endswith(":end") for _, n in s.marks_echoed), 30,
                   "greeting played")
    stream_apache.graceful()
    for s in calls:
        s.dtmf("1")
    for s in calls:
        s.wait_for(lambda s: len([n for _, n in s.marks_echoed if n.endswith(":end")]) >= 2,
                   20, "the reply after the graceful")
        assert not s.done.is_set()
        assert s.errors == []
    for s in calls:
        s.hangup()
    for s in calls:
        assert s.wait_closed(10)


# ---------------------------------------------------------------- PCM16, the beta dialect
def test_pcm16_beta_server(stream_apache, client_for, stream_tenant, realtime, admin, pg):
    """A server that takes PCM16 at 24 kHz and speaks the beta event names (speaches and
    other "compatible" servers): resampled both ways, events mapped."""
    model = realtime.scenario("beta-%d" % time.monotonic_ns(), dialect="beta",
                              greeting_ms=600,
                              turns=[{"heard": "hi", "reply": "Hi there.", "reply_ms": 500}])
    t = stream_tenant(model=model)
    assert admin("assistant", "set", t.slug, "--realtime-dialect", "beta", "--realtime-audio",
                 "pcm16").rc == 0
    s, p = place_call(stream_apache, client_for, t)
    wait_until(lambda: any(c.model == model for c in realtime.connections), 10,
               what="the connection")
    conn = [c for c in realtime.connections if c.model == model][-1]
    upd = conn.wait_for("session.update")[0]["session"]
    assert upd["input_audio_format"] == "pcm16" and upd["output_audio_format"] == "pcm16"
    s.wait_for(lambda s: ends_played(s) >= 1, 10, "the greeting played")
    # 600 ms at 24 kHz became 600 ms at 8 kHz (give or take the resampler's delay)
    assert 500 <= s.played_ms - 0 and s.heard_anything()
    appended = conn.events("input_audio_buffer.append")[-1]
    import base64
    assert len(base64.b64decode(appended["audio"])) == 960    # 20 ms at 24 kHz, 16 bits
    s.send_audio(tone_ulaw(300))
    s.wait_for(lambda s: ends_played(s) >= 2, 10, "the reply played")
    wait_until(lambda: ("assistant", "Hi there.") in [r[1:3] for r in
                                                      turns(pg, param(p, "CallSid"))], 5,
               what="the reply stored")
    s.hangup()


# ---------------------------------------------------------------- escalation, both outcomes
@pytest.mark.parametrize("dial_status, hears", [
    ("completed", []),
    ("no-answer", ["Sorry, nobody is available to take your call right now. We have noted "
                   "your call and will call you back as soon as possible. Goodbye."]),
])
def test_transfer_from_a_stream(stream_apache, client_for, stream_tenant, standin, pg,
                                admin, dial_status, hears):
    t = stream_tenant()
    assert admin("company", "set", t.slug, "--notification-phone", "+14155550166").rc == 0
    s, p = place_call(stream_apache, client_for, t)
    s.dtmf("0")
    assert s.wait_closed(20)
    doc = stream_end(stream_apache, client_for, t, p)
    assert doc.find("Dial/Number").text == ESCALATION
    sid = param(p, "CallSid")
    # the business is told by SMS, as in gather mode
    wait_until(lambda: pg.scalar("SELECT count(*) FROM jobs WHERE dedup_key = "
                                 "'escalation_alert:%s'" % sid) == "1", 5, what="the alert job")
    r = client_for(stream_apache).post_signed(
        "/voice/escalate", p + [("DialCallStatus", dial_status)], t.token)
    assert parse_twiml(r.text).spoken() == hears
    assert pg.scalar("SELECT escalation_status FROM calls WHERE call_sid = '%s'" % sid) == \
        dial_status


def test_outbound_call_in_stream_mode_speaks_the_call_greeting(stream_apache, client_for,
                                                              stream_tenant, realtime, admin,
                                                              pg, standin, paths, key_file):
    """An outbound call of a stream-mode tenant: the answer URL's TwiML connects the stream,
    and the helper's session starts with the greeting of the call (the first turn inbound
    wrote), not the tenant's."""
    import pyvt
    import urllib.parse
    from test_conversation import deliver_jobs
    model = realtime.scenario("rt-out-%d" % time.monotonic_ns(), greeting_ms=300)
    t = stream_tenant(model=model)
    webhook = "%s/voice/%s" % (stream_apache.base_url(), t.slug)
    assert admin("company", "set", t.slug, "--webhook-url", webhook).rc == 0
    greeting = "Hi, this is Acme calling about your order."
    r = admin("calls", "place", t.slug, "--to", "+14155550164", "--greeting", greeting)
    assert r.rc == 0, r
    jid = int(r.out.split("queued as job ")[1].split()[0])
    deliver_jobs(paths, pg, key_file, standin)  # or the stream Apache's own helper
    wait_until(lambda: pg.scalar("SELECT status FROM jobs WHERE id = %d" % jid) == "done", 10,
               what="the call placed")
    (created,) = standin.calls_of(t.account_sid)
    url = dict(created["form"])["Url"]
    assert url == webhook + "/inbound"
    p = pyvt.voice_params(t.account_sid, t.number, "+14155550164", call_sid=created["sid"],
                          call_status="in-progress", direction="outbound-api")
    r = client_for(stream_apache).post_signed(urllib.parse.urlsplit(url).path, p, t.token)
    stream_url = parse_twiml(r.text).find("Connect/Stream").get("url")
    s = TwilioStream(stream_apache, stream_url, t, created["sid"],
                     params={"From": t.number, "To": "+14155550164"}).start()
    wait_until(lambda: any(c.model == model for c in realtime.connections), 10,
               what="the helper connects to the model")
    conn = [c for c in realtime.connections if c.model == model][-1]
    (first,) = conn.wait_for("response.create")[:1]
    assert greeting in str(first) and t.greeting not in str(first), first
    assert turns(pg, created["sid"])[0][1:3] == ("assistant", greeting)
    s.hangup()
    assert s.wait_closed(10)
