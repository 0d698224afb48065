"""The voice pipeline speaking through a text-to-speech endpoint (the speech stand-in's
/v1/audio/speech, 24 kHz PCM streamed in pieces): replies played as they arrive, fixed
phrases cached per tenant, espeak-ng when the endpoint fails or is slow, barge-in while a
reply is still streaming in. The stand-in's audio is a tone of known length, espeak-ng's
is speech, so the length of what played tells which one spoke."""
import math
import re
import time

import pytest

from pyvt import param
from pyvt.media_stream import speech_ulaw
from pyvt.speech_standin import error, transcript
from pyvt.speech_standin import speech as audio
from pyvt.twilio import random_hex

from test_pipeline import (PAUSE, RETRY, SCRIPT, ends, pipeline_tenant, say, speech,  # noqa: F401
                           stages, turns)
from test_stream import (outcome, place_call, realtime, stream_apache,  # noqa: F401
                         stream_tenant)

pytestmark = pytest.mark.usefixtures("migrated")
FILLER = "One moment, please."


def tone(seconds, freq=440):
    return b"".join(int(6000 * math.sin(2 * math.pi * freq * i / 24000)).to_bytes(
        2, "little", signed=True) for i in range(int(24000 * seconds)))


@pytest.fixture
def tts_tenant(pipeline_tenant, admin, speech, capture):
    def make(extra=(), **kw):
        t = pipeline_tenant(extra=list(extra), **kw)
        t.tts_key = "sk-tts-" + random_hex(20)
        capture.add_secret("text-to-speech key of %s" % t.slug, t.tts_key)
        r = admin("assistant", "set", t.slug, "--tts-url", speech.base_url,
                  "--tts-model", "tts-1", "--tts-voice", "alloy", "--tts-key-file", "-",
                  input=t.tts_key + "\n")
        assert r.rc == 0, r
        return t
    return make


def test_the_endpoint_speaks_and_fixed_phrases_are_cached(stream_apache, client_for,
                                                           tts_tenant, speech, pg):
    t = tts_tenant()
    speech.tts_for(t.greeting, audio(tone(0.8)))
    for n in range(2):
        speech.push_stt(transcript("What are your opening hours?"),
                                transcript("Goodbye."))
        s, p = place_call(stream_apache, client_for, t)
        sid = param(p, "CallSid")
        s.wait_for(lambda s: ends(s) >= 1, 20, "the greeting played")
        # the endpoint's 0.8 s tone, not espeak-ng's few seconds of speech
        assert 700 <= s.played_ms <= 900, s.played_ms
        say(s, "What are your opening hours?")
        s.wait_for(lambda s: ends(s) >= 2, 20, "the answer played")
        say(s, "Goodbye.")
        assert s.wait_closed(20)
        assert outcome(pg, sid) == "hangup"
        assert [r[1] for r in turns(pg, sid)] == ["assistant", "caller", "assistant",
                                                  "caller", "assistant"]
        for row in stages(pg, sid):
            tr, an, au, rp = (int(x) for x in row)
            assert 0 <= tr <= an <= au <= rp < 5000, row
        if n == 0:
            first = speech.spoken()
    # the first call asked for each fixed text once (fillers ahead of need); the second
    # call found them all in the cache
    assert first.count(t.greeting) == 1 and FILLER in first and RETRY in first, first
    assert "We are open nine to five." in first, first
    assert speech.spoken() == first, speech.spoken()
    req = speech.speeches[0]
    assert req.json["model"] == "tts-1" and req.json["voice"] == "alloy"
    assert req.json["response_format"] == "pcm"
    assert req.authorization == "Bearer " + t.tts_key


def test_a_failing_or_slow_endpoint_falls_back_to_espeak(stream_apache, client_for,
                                                         tts_tenant, speech, pg):
    # the tenant's own filler (the script's "filler")
    t = tts_tenant(extra=["--reply-budget-ms", "1000"],
                   script=SCRIPT.replace('{"intents"', '{"filler": "Just a second.", "intents"'))
    speech.tts_for(t.greeting, error(500))
    speech.tts_for("Just a second.", audio(tone(0.4)))
    speech.tts_for("We are open", audio(tone(1.0), first_byte=6))
    speech.push_stt(transcript("What are your opening hours?"), transcript("Goodbye."))
    s, p = place_call(stream_apache, client_for, t)
    sid = param(p, "CallSid")
    s.wait_for(lambda s: ends(s) >= 1, 20, "the greeting played")
    assert s.played_ms > 1500, s.played_ms  # espeak-ng's greeting, not a beep or nothing
    end = say(s, "What are your opening hours?")
    # never silent: the filler within the budget (end of speech + 0.5 s end silence + 1 s),
    # then espeak-ng once the endpoint's first byte is 2 s late
    s.wait_for(lambda s: s.sound_after(end + 0.3), 8, "something heard")
    assert s.sound_after(end + 0.3) - end < 2.0
    s.wait_for(lambda s: ends(s) >= 2, 20, "the answer played")
    say(s, "Goodbye.")
    assert s.wait_closed(20)
    assert [r[2] for r in turns(pg, sid)][2] == "We are open nine to five."
    assert "Just a second." in speech.spoken() and FILLER not in speech.spoken()
    log = stream_apache.read_log()
    assert "text-to-speech failed (HTTP 500" in log and "espeak-ng speaks it" in log
    assert re.search(r"text-to-speech failed \([^)]*\d+ ms[^)]*\): espeak-ng speaks it", log), \
        log[-3000:]
    assert t.tts_key not in log


def test_barge_in_while_the_reply_streams_in(stream_apache, client_for, tts_tenant,
                                             speech, pg):
    t = tts_tenant()
    # 6 s of audio sent at the pace it plays: most of it is still to come at the barge-in
    speech.tts_for("We are open Monday", audio(tone(6.0), chunk_ms=100, pace=0.1))
    speech.push_stt(transcript("Tell me everything."), transcript("Goodbye."))
    s, p = place_call(stream_apache, client_for, t)
    sid = param(p, "CallSid")
    s.wait_for(lambda s: ends(s) >= 1, 20, "the greeting played")
    say(s, "Tell me everything.")
    before = s.played_ms
    s.wait_for(lambda s: s.played_ms > before + 1500, 20, "the long answer playing")
    talk = time.monotonic()
    s.send_audio(speech_ulaw("Goodbye, thank you.") + PAUSE)
    s.wait_for(lambda s: s.clears, 5, "the clear")
    assert s.clears[0] - talk < 1.0
    assert s.wait_closed(20)
    # nothing of the cut reply after the clear: the pieces still streaming in were dropped
    after = [m for tm, m in s.received if m.get("event") == "media" and tm > s.clears[0]]
    played_after = sum(len(m["media"]["payload"]) for m in after) * 3 // 4 / 8000.0
    assert played_after < 4.0, played_after  # the goodbye only, not 4 s of the tone
    rows = turns(pg, sid)
    assert rows[2][1] == "assistant" and rows[2][3] == "t"
    assert outcome(pg, sid) == "hangup"
