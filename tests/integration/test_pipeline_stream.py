"""The voice pipeline with the tenant's chat model answering as a stream (the chat stand-in
speaks Server-Sent Events to a request with "stream": true): the caller hears the first
sentence while the model is still writing; a tool call after words does not repeat them;
a stream that breaks after a sentence keeps what was said; a model slow to begin gets the
filler, never silence. Real Apache, the real helper, PostgreSQL."""
import re

import pytest

from pyvt import param
from pyvt.speech_standin import transcript
import pyvt.openai_standin as oai

from test_pipeline import (RETRY, chat, ends, pipeline_tenant, say, speech,  # noqa: F401
                           turns)
from test_stream import (outcome, place_call, realtime, stream_apache,  # noqa: F401
                         stream_tenant)

pytestmark = pytest.mark.usefixtures("migrated")

HOURS = ("We are open until six today. On Saturdays we open at nine, "
         "and on Sundays we are closed.")


@pytest.fixture
def model_tenant(pipeline_tenant, admin, chat):
    def make(extra=()):
        t = pipeline_tenant(extra=list(extra))
        r = admin("assistant", "set", t.slug, "--kind", "llm", "--endpoint", chat.base_url,
                  "--model", "standin-model", "--no-api-key")
        assert r.rc == 0, r
        chat.clear()
        return t
    return make


def stages(pg, sid):
    return pg.psql("SELECT transcript_ms, first_token_ms, answer_ms, audio_ms, reply_ms "
                   "FROM call_turns WHERE call_sid = '%s' AND role = 'assistant' AND seq > 1 "
                   "ORDER BY seq" % sid)


def test_the_first_sentence_plays_while_the_model_writes(stream_apache, client_for,
                                                          model_tenant, speech, chat, pg,
                                                          admin):
    t = model_tenant()
    chat.push(oai.streamed(oai.say(HOURS), gap=0.02, pause_after="today.", pause=3.0))
    speech.push_stt(transcript("When are you open?"), transcript("Bye."))
    s, p = place_call(stream_apache, client_for, t)
    sid = param(p, "CallSid")
    s.wait_for(lambda s: ends(s) >= 1, 20, "the greeting played")
    end = say(s, "When are you open?")
    s.wait_for(lambda s: chat.streams_done, 20, "the model's answer ended")
    s.wait_for(lambda s: ends(s) >= 2, 20, "the answer played")
    # the first sentence was heard seconds before the model's last token
    heard = s.sound_after(end + 0.3)
    assert heard is not None and heard < chat.streams_done[0][0] - 2.0, \
        (heard - end, chat.streams_done[0][0] - end)
    say(s, "Bye.")
    assert s.wait_closed(20)
    assert chat.requests[0].stream is True
    assert [r[1:3] for r in turns(pg, sid)][1:] == [
        ("caller", "When are you open?"), ("assistant", HOURS),
        ("caller", "Bye."), ("assistant", "Thank you for calling. Goodbye!")]
    assert outcome(pg, sid) == "hangup"
    tr, tok, an, au, rp = (int(x) for x in stages(pg, sid)[0])
    # the first token, then its audio; the whole answer only 3 s later
    assert 0 <= tr <= tok <= au <= rp < an and an - au > 2500, (tr, tok, an, au, rp)
    shown = admin("calls", "show", sid).out
    assert re.search(r"\[transcript \d+ ms, first token \d+ ms, answer \d+ ms, audio \d+ ms, "
                     r"first frame \d+ ms\]", shown), shown


def test_words_before_a_tool_call_are_said_once(stream_apache, client_for, model_tenant,
                                                speech, chat, pg):
    t = model_tenant()
    chat.push(oai.streamed(oai.tool("escalate_to_human", {"reason": "asked for a person"},
                                    "Of course. Let me put you through to a colleague."),
                           gap=0.02))
    speech.push_stt(transcript("Can I talk to a person?"))
    s, p = place_call(stream_apache, client_for, t)
    sid = param(p, "CallSid")
    s.wait_for(lambda s: ends(s) >= 1, 20, "the greeting played")
    say(s, "Can I talk to a person?")
    assert s.wait_closed(20)
    assert outcome(pg, sid) == "transfer"
    assert [r[2] for r in turns(pg, sid)][-1] == \
        "Of course. Let me put you through to a colleague."


@pytest.mark.expect_log(r"the model's answer broke off")
def test_a_broken_stream_keeps_what_was_said(stream_apache, client_for, model_tenant, speech,
                                             chat, pg):
    """Tokens: the role, then "We", " are", " open", " until", " six.", " And": the
    connection is cut after " And"."""
    t = model_tenant()
    chat.push(oai.streamed(oai.say("We are open until six. And on Saturdays until one."),
                           gap=0.02, break_after=6))
    speech.push_stt(transcript("When are you open?"), transcript("Goodbye."))
    s, p = place_call(stream_apache, client_for, t)
    sid = param(p, "CallSid")
    s.wait_for(lambda s: ends(s) >= 1, 20, "the greeting played")
    say(s, "When are you open?")
    s.wait_for(lambda s: ends(s) >= 2, 20, "the answer played")
    say(s, "Goodbye.")
    assert s.wait_closed(20)
    texts = [r[2] for r in turns(pg, sid)][1:]
    # what the caller heard stands as the answer: no apology over half an answer
    assert texts == ["When are you open?", "We are open until six.", "Goodbye.",
                     "Thank you for calling. Goodbye!"], texts
    assert RETRY not in texts
    assert re.search(r"the model's answer broke off \(HTTP 200: [^)]+\): what was said stands",
                     stream_apache.read_log())


def test_a_model_slow_to_begin_gets_the_filler(stream_apache, client_for, model_tenant,
                                               speech, chat, pg):
    t = model_tenant(extra=["--reply-budget-ms", "1000"])
    chat.push(oai.streamed(oai.say("We are at 12 Harbour Street."), first_delay=3.0))
    speech.push_stt(transcript("Where are you?"))
    s, p = place_call(stream_apache, client_for, t)
    sid = param(p, "CallSid")
    s.wait_for(lambda s: ends(s) >= 1, 20, "the greeting played")
    end = say(s, "Where are you?")
    s.wait_for(lambda s: s.sound_after(end + 0.3), 8, "something heard")
    # the filler within the budget (0.5 s end silence + 1 s), the answer after 3 s
    assert s.sound_after(end + 0.3) - end < 2.5
    s.wait_for(lambda s: ends(s) >= 2, 20, "the answer played")
    s.hangup()
    assert [r[2] for r in turns(pg, sid)][-1] == "We are at 12 Harbour Street."
