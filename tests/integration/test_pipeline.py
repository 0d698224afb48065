"""The voice pipeline end to end: Twilio's Media Stream (pyvt.media_stream, the caller's
words spoken by espeak-ng through the phone leg) through a real Apache to the real helper,
whose turn detector hears them, sends each utterance to a speech-to-text stand-in
(pyvt.speech_standin), answers by the core's turn rules (script, or the chat model stand-in)
and speaks with espeak-ng. Turns, their stages and the outcome land in PostgreSQL."""
import re
import time
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

import pytest

from pyvt import param
from pyvt.twilio import random_hex
from pyvt.media_stream import SILENCE, speech_ulaw
from pyvt.phone_leg import speech_bounds
from pyvt.speech_standin import SpeechStandIn, error, hang, transcript
import pyvt.openai_standin as oai

from test_stream import (outcome, place_call, realtime, stream_apache,  # noqa: F401
                         stream_tenant)

pytestmark = pytest.mark.usefixtures("migrated")

LONG = ("We are open Monday to Friday from eight in the morning until six in the evening, "
        "on Saturdays from nine until one, and we are closed on Sundays and public holidays.")
SCRIPT = ('{"intents": [{"name": "hours", "phrases": ["opening hours"], '
          '"reply": "We are open nine to five."}, '
          '{"name": "long", "phrases": ["tell me everything"], "reply": "%s"}]}' % LONG)
RETRY = "Sorry, I am having trouble right now. Could you please say that again?"
PAUSE = SILENCE * 50  # 1 s: the utterance ends 500 ms into it


@pytest.fixture(scope="module")
def speech():
    s = SpeechStandIn().start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def chat():
    s = oai.OpenAIStandIn().start()
    yield s
    s.stop()


@pytest.fixture
def pipeline_tenant(stream_tenant, admin, speech, capture):
    speech.clear()

    def make(stt_key=True, extra=(), **kw):
        t = stream_tenant(script=kw.pop("script", SCRIPT), **kw)
        args = ["assistant", "set", t.slug, "--stt-url", speech.base_url,
                "--stt-model", "whisper-1"] + list(extra)
        t.stt_key = None
        if stt_key:
            t.stt_key = "sk-stt-" + random_hex(20)
            capture.add_secret("speech-to-text key of %s" % t.slug, t.stt_key)
            args += ["--stt-key-file", "-"]
        r = admin(*args, input=(t.stt_key or "") + "\n")
        assert r.rc == 0, r
        return t
    return make


def ends(s):
    return len([n for _, n in s.marks_echoed if n.endswith(":end")])


def say(s, text):
    """The caller says text, then is silent for a second; returns when its audio went out
    (monotonic time of the end of the speech)."""
    audio = speech_ulaw(text)
    start = time.monotonic()
    s.send_audio(audio + PAUSE)
    time.sleep(len(audio) / 8000.0)
    return start + len(audio) / 8000.0


def turns(pg, sid):
    return pg.psql("SELECT seq, role, text, interrupted FROM call_turns WHERE call_sid = '%s' "
                   "ORDER BY seq" % sid)


def stages(pg, sid):
    return pg.psql("SELECT transcript_ms, answer_ms, audio_ms, reply_ms FROM call_turns "
                   "WHERE call_sid = '%s' AND role = 'assistant' AND seq > 1 ORDER BY seq" % sid)


def test_a_call_by_voice(stream_apache, client_for, pipeline_tenant, speech, pg, admin):
    t = pipeline_tenant()
    speech.push_stt(transcript("What are your opening hours?"),
                    transcript("I would like to speak to someone."))
    s, p = place_call(stream_apache, client_for, t)
    sid = param(p, "CallSid")
    s.wait_for(lambda s: ends(s) >= 1, 20, "the greeting played")
    say(s, "What are your opening hours?")
    s.wait_for(lambda s: ends(s) >= 2, 20, "the answer played")
    say(s, "I would like to speak to someone.")
    assert s.wait_closed(20), (turns(pg, sid), len(speech.transcriptions))
    assert s.close_code == 1000 and s.errors == []
    assert [r[1:3] for r in turns(pg, sid)] == [
        ("assistant", t.greeting), ("caller", "What are your opening hours?"),
        ("assistant", "We are open nine to five."),
        ("caller", "I would like to speak to someone."),
        ("assistant", "Let me connect you with a member of our team.")]
    assert outcome(pg, sid) == "transfer"
    assert pg.scalar("SELECT stream_backend FROM calls WHERE call_sid = '%s'" % sid) \
        == "pipeline"
    # every stage of every reply, in order
    for row in stages(pg, sid):
        tr, an, au, rp = (int(x) for x in row)
        assert 0 <= tr <= an <= au <= rp < 5000, row
    # what the endpoint received: the utterance as 8 kHz mono WAV, model, language, key
    assert len(speech.transcriptions) == 2
    req = speech.transcriptions[0]
    assert req.fields["model"] == "whisper-1" and req.fields.get("language") == "en"
    assert req.wav_rate == 8000 and req.wav_channels == 1
    assert 1.0 < req.wav_seconds < 4.0, req.wav_seconds
    assert req.authorization == "Bearer " + t.stt_key
    shown = admin("calls", "show", sid).out
    assert re.search(r"assistant: We are open nine to five\. \[transcript \d+ ms, answer \d+ "
                     r"ms, audio \d+ ms, first frame \d+ ms\]", shown), shown


def test_barge_in_cuts_the_reply(stream_apache, client_for, pipeline_tenant, speech, pg,
                                 admin):
    t = pipeline_tenant()
    speech.push_stt(transcript("Tell me everything."), transcript("Goodbye."))
    s, p = place_call(stream_apache, client_for, t)
    sid = param(p, "CallSid")
    s.wait_for(lambda s: ends(s) >= 1, 20, "the greeting played")
    say(s, "Tell me everything.")
    before = s.played_ms
    s.wait_for(lambda s: s.played_ms > before + 1500, 20, "the long answer playing")
    talk = time.monotonic()
    audio = speech_ulaw("Goodbye, thank you.")
    s.send_audio(audio + PAUSE)
    s.wait_for(lambda s: s.clears, 5, "the clear")
    cut = s.clears[0] - talk
    # barge_in_ms (250) of speech, then within a frame or two of the decision
    assert cut < 1.0, cut
    assert s.wait_closed(20)
    rows = turns(pg, sid)
    assert [r[1:] for r in rows[1:3]] == [("caller", "Tell me everything.", "f"),
                                         ("assistant", LONG, "t")]
    assert rows[-1][1] == "assistant" and outcome(pg, sid) == "hangup"
    # message order: nothing of the cut reply after the clear; the goodbye only after the
    # caller's utterance ended (its audio plus the end silence)
    _, last = speech_bounds(audioop.ulaw2lin(audio, 2))
    after = [tm for tm, m in s.received if m.get("event") == "media" and tm > s.clears[0]]
    assert after and after[0] >= talk + last / 8000.0 + 0.4, (after[:1], talk, last)
    assert pg.scalar("SELECT barge_ins FROM calls WHERE call_sid = '%s'" % sid) == "1"
    assert re.search(r"assistant: We are open Monday.* \(interrupted after \d+ ms\)",
                     admin("calls", "show", sid).out)


def test_speech_to_text_failures_are_never_silence(stream_apache, client_for,
                                                    pipeline_tenant, speech, pg):
    """A failing endpoint is 'nothing heard' (the script's reprompt); a hanging one gets
    the filler within the reply budget, then the reprompt at the time budget."""
    t = pipeline_tenant(extra=["--reply-budget-ms", "1000"])
    speech.push_stt(error(500), hang(8), transcript("Goodbye."))
    s, p = place_call(stream_apache, client_for, t)
    sid = param(p, "CallSid")
    s.wait_for(lambda s: ends(s) >= 1, 20, "the greeting played")
    for n, limit in ((2, 2.5), (3, 2.5)):
        end = say(s, "What are your opening hours?")
        s.wait_for(lambda s: s.sound_after(end + 0.5), 8, "something heard")
        waited = s.sound_after(end + 0.5) - end
        assert waited < limit, (n, waited)
        # (a filler plays in the reply's own item: one end mark for both)
        s.wait_for(lambda s: ends(s) >= n, 20, "the reply played")
    say(s, "Goodbye.")
    assert s.wait_closed(20)
    rows = turns(pg, sid)
    assert [r[1] for r in rows] == ["assistant", "assistant", "assistant", "caller",
                                    "assistant"]
    # the apology that asks to repeat, twice: not counted against the caller; the second
    # time with the keypad menu
    assert rows[1][2] == RETRY
    assert rows[2][2].startswith(RETRY + " ") and "press 1" in rows[2][2], rows[2][2]
    log = stream_apache.read_log()
    assert "speech-to-text failed (HTTP 500" in log
    assert re.search(r"speech-to-text failed \(no transcript within \d+ ms\)", log)


def test_a_speech_to_text_outage_ends_with_a_person(stream_apache, client_for,
                                                    pipeline_tenant, speech, pg):
    """Three failed transcriptions in a row: the caller is put through (or told goodbye),
    not apologized to forever."""
    t = pipeline_tenant()
    speech.push_stt(error(503), error(503), error(503))
    s, p = place_call(stream_apache, client_for, t)
    sid = param(p, "CallSid")
    s.wait_for(lambda s: ends(s) >= 1, 20, "the greeting played")
    for n in (2, 3):
        say(s, "What are your opening hours?")
        s.wait_for(lambda s: ends(s) >= n, 20, "the apology played")
    say(s, "What are your opening hours?")
    assert s.wait_closed(20)
    assert outcome(pg, sid) == "transfer"
    assert [r[2] for r in turns(pg, sid)][-1] == "Let me connect you with a member of our team."


def test_the_model_answers_by_voice(stream_apache, client_for, pipeline_tenant, speech, chat,
                                    admin, pg):
    t = pipeline_tenant()
    r = admin("assistant", "set", t.slug, "--kind", "llm", "--endpoint", chat.base_url,
              "--model", "standin-model", "--no-api-key")
    assert r.rc == 0, r
    chat.clear()
    speech.push_stt(transcript("Where are you located?"), transcript("Bye."))
    s, p = place_call(stream_apache, client_for, t)
    sid = param(p, "CallSid")
    s.wait_for(lambda s: ends(s) >= 1, 20, "the greeting played")
    say(s, "Where are you located?")
    s.wait_for(lambda s: ends(s) >= 2, 20, "the answer played")
    say(s, "Bye.")
    assert s.wait_closed(20)
    assert [r[1:3] for r in turns(pg, sid)][1:] == [
        ("caller", "Where are you located?"),
        ("assistant", "We are at 12 Harbour Street, next to the pharmacy."),
        ("caller", "Bye."), ("assistant", "Thank you for calling. Goodbye!")]
    assert outcome(pg, sid) == "hangup"
    # the model saw the dialogue so far
    users = [m["content"] for m in chat.requests[-1].messages if m["role"] == "user"]
    assert users == ["Where are you located?", "Bye."]


def test_a_language_switch_by_voice(stream_apache, client_for, pipeline_tenant, speech, chat,
                                    admin, pg):
    """The model's switch_language: from the next turn the transcription asks for that
    language and the model is told it is the call's language."""
    t = pipeline_tenant()
    r = admin("assistant", "set", t.slug, "--kind", "llm", "--endpoint", chat.base_url,
              "--model", "standin-model", "--no-api-key", "--languages",
              "en-US=Polly.Joanna,es-ES=Polly.Lucia")
    assert r.rc == 0, r
    chat.clear()
    chat.push(oai.tool("switch_language", {"language": "es-ES"}, "Claro, hablemos en español."),
              oai.say("Abrimos a las nueve."))
    speech.push_stt(transcript("Do you speak Spanish?"), transcript("¿Cuándo abren?"))
    s, p = place_call(stream_apache, client_for, t)
    sid = param(p, "CallSid")
    s.wait_for(lambda s: ends(s) >= 1, 20, "the greeting played")
    say(s, "Do you speak Spanish?")
    s.wait_for(lambda s: ends(s) >= 2, 20, "the answer played")
    say(s, "Cuando abren")
    s.wait_for(lambda s: ends(s) >= 3, 20, "the second answer played")
    s.hangup()
    assert [r[2] for r in turns(pg, sid)][1:] == [
        "Do you speak Spanish?", "Claro, hablemos en español.", "¿Cuándo abren?",
        "Abrimos a las nueve."]
    assert [q.fields.get("language") for q in speech.transcriptions] == ["en", "es"]
    system = chat.requests[-1].messages[0]["content"]
    assert "es-ES" in system
