"""Recordings of stream calls (issue 10, point 6): the real voxtwilio-helper downloads a
stream call's dual-channel recording from the Twilio API stand-in, sends each channel's
utterances to the tenant's speech-to-text endpoint (pyvt.speech_standin), stores the
dialogue on the call, and the post-call analysis (the chat stand-in) runs on it; it waits
for the transcript (sql/006), and goes ahead on the stored turns when the endpoint fails,
the recording is mono or never comes, or the tenant has no endpoint.

The helpers run on a database of their own (test_helper_jobs' fixtures); the call is what
the module and the stream helper leave in the database (a stream call with turns, then
'completed'; the recording callback's download job)."""
import io
import json
import math
import random
import re
import struct
import time
import wave

import pytest

import pyvt.openai_standin as oai
from pyvt.speech_standin import SpeechStandIn, error, transcript
from pyvt.twilio import random_hex
from pyvt.util import wait_until

from test_helper_jobs import (api, assert_clean_exit, hdb, helper, lit, new_call_sid,  # noqa: F401
                              recordings, tenant)

# Where each side speaks in the recording (seconds): channel 1 the caller, channel 2 the
# assistant (Twilio's dual-channel order).
CALLER = [(0.6, 1.8), (5.0, 6.2)]
ASSISTANT = [(2.6, 4.2)]
LENGTH = 7.5
# What the endpoint hears in them, and what the call's turns say (they differ, so the
# analysis shows which it read).
HEARD = ["My boiler is leaking since this morning.", "I am sorry to hear that. Shall I "
         "send an engineer?", "Yes please, tomorrow before noon."]
TURNS = [("assistant", "Hello, Acme Heating."), ("caller", "boiler leaking"),
         ("assistant", "An engineer can come."), ("caller", "tomorrow")]
STT_KEY_PREFIX = "sk-rec-stt-"


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


def tone(freq, t0, t1, rate):
    """A voice-like tone (a fundamental and two harmonics) over [t0, t1)."""
    n0, n1 = int(t0 * rate), int(t1 * rate)
    return n0, [int(4000 * (math.sin(2 * math.pi * freq * i / rate)
                            + 0.5 * math.sin(4 * math.pi * freq * i / rate)
                            + 0.25 * math.sin(6 * math.pi * freq * i / rate)))
                for i in range(n1 - n0)]


def dual_wav(rate=8000, channels=2):
    """The recording Twilio makes of a stream call: 16-bit PCM, the caller on the left
    channel, the assistant on the right, a faint line hiss on both."""
    rnd = random.Random(7)
    n = int(LENGTH * rate)
    left = [rnd.randint(-20, 20) for _ in range(n)]
    right = [rnd.randint(-20, 20) for _ in range(n)]
    for side, spans, freq in ((left, CALLER, 220), (right, ASSISTANT, 330)):
        for t0, t1 in spans:
            start, pcm = tone(freq, t0, t1, rate)
            side[start:start + len(pcm)] = [a + b for a, b in zip(side[start:], pcm)]
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        if channels == 2:
            frames = b"".join(struct.pack("<hh", a, b) for a, b in zip(left, right))
        else:
            frames = b"".join(struct.pack("<h", (a + b) // 2) for a, b in zip(left, right))
        w.writeframes(frames)
    return buf.getvalue()


@pytest.fixture
def rec_tenant(tenant, hdb, speech, chat, capture):  # noqa: F811
    def make(stt=True, recording=True):
        t = tenant()
        assert hdb.admin("company", "set", t.slug, "--recording",
                         "on" if recording else "off").rc == 0
        args = ["assistant", "set", t.slug, "--mode", "stream", "--kind", "llm",
                "--endpoint", chat.base_url, "--model", "gpt-test", "--no-api-key"]
        t.stt_key = None
        if stt:
            t.stt_key = STT_KEY_PREFIX + random_hex(20)
            capture.add_secret("speech-to-text key of %s" % t.slug, t.stt_key)
            args += ["--stt-url", speech.base_url, "--stt-model", "whisper-1",
                     "--stt-key-file", "-"]
        r = hdb.admin(*args, input=(t.stt_key or "") + "\n")
        assert r.rc == 0, r
        return t
    return make


def stream_call(hdb, t, ended_ago_s=0):
    """A stream call with its turns, as the module and the stream helper leave it, then
    completed (the trigger queues its analysis)."""
    sid = new_call_sid()
    hdb.rows("INSERT INTO calls (call_sid, company_id, status, stream_sid, stream_backend,"
             " stream_started_at) VALUES (%s, %d, 'in-progress', %s, 'pipeline', now())"
             % (lit(sid), t.company_id, lit("MZ" + random_hex(32))))
    for seq, (role, text) in enumerate(TURNS, 1):
        hdb.rows("INSERT INTO call_turns (call_sid, seq, role, text) VALUES (%s, %d, %s, %s)"
                 % (lit(sid), seq, lit(role), lit(text)))
    hdb.rows("UPDATE calls SET status = 'completed', ended_at = now() - make_interval("
             "secs => %d) WHERE call_sid = %s" % (ended_ago_s, lit(sid)))
    return sid


def recording_arrives(hdb, api, t, sid, wav):  # noqa: F811
    """Twilio's recording callback: the recording on the call, its download queued."""
    rsid = "RE" + random_hex(32)
    api.recordings[rsid] = wav
    url = "%s/2010-04-01/Accounts/%s/Recordings/%s" % (api.base_url, t.account_sid, rsid)
    hdb.rows("UPDATE calls SET recording_sid = %s, recording_url = %s WHERE call_sid = %s"
             % (lit(rsid), lit(url), lit(sid)))
    jid = hdb.insert("recording_download", t.company_id, {"recording_sid": rsid, "url": url},
                     call_sid=sid)
    return rsid, jid


def job_of(hdb, kind, sid):
    r = hdb.rows("SELECT id FROM jobs WHERE kind = %s AND call_sid = %s" % (lit(kind), lit(sid)))
    return int(r[0][0]) if r else None


def call_row(hdb, sid):
    r = hdb.rows("SELECT coalesce(recording_transcript::text, 'null'),"
                 " coalesce(transcript_status, ''), coalesce(transcript_error, ''),"
                 " coalesce(analysis_source, ''), coalesce(analysis_input, ''),"
                 " coalesce(summary, '') FROM calls WHERE call_sid = %s" % lit(sid))[0]
    return dict(lines=json.loads(r[0]), status=r[1], error=r[2], source=r[3], input=r[4],
                summary=r[5])


def analysis_request(chat, sid_texts):
    """The chat stand-in's analysis requests (JSON mode) whose transcript has sid_texts."""
    found = []
    for req in list(chat.requests):
        user = " ".join(m.get("content") or "" for m in req.messages if m.get("role") == "user")
        if req.wants_json and all(s in user for s in sid_texts):
            found.append(user)
    return found


def waiting_s(hdb, jid):
    return float(hdb.scalar("SELECT extract(epoch FROM run_after - now()) FROM jobs"
                            " WHERE id = %d" % jid))


@pytest.mark.parametrize("rate", [8000, 16000])  # Twilio's, and one that is resampled
def test_recording_transcribed_and_analysed(helper, hdb, api,  # noqa: F811
                                            rec_tenant, speech, chat, rate):
    t = rec_tenant()
    speech.clear()
    chat.clear()
    h = helper()
    sid = stream_call(hdb, t)
    analysis = job_of(hdb, "call_analysis", sid)
    # the analysis waits for the transcript, at most 5 minutes after the call ended
    assert 280 < waiting_s(hdb, analysis) <= 300
    time.sleep(1)
    assert hdb.job(analysis)["status"] == "pending" and call_row(hdb, sid)["source"] == ""

    speech.push_stt(*(transcript(x) for x in HEARD))
    rsid, download = recording_arrives(hdb, api, t, sid, dual_wav(rate))
    hdb.wait_status(download, "done", 10)
    transcribe = job_of(hdb, "recording_transcribe", sid)
    assert transcribe and hdb.wait_status(transcribe, "done", 20)["payload"] == {
        "recording_sid": rsid, "transcript": "done", "lines": 3}
    hdb.wait_status(analysis, "done", 10)  # woken: not 5 minutes later

    # each channel's utterances, as 8 kHz mono WAV, with the tenant's model, language, key
    reqs = speech.transcriptions
    assert len(reqs) == 3, [r.wav_seconds for r in reqs]
    for req, (t0, t1) in zip(reqs, [CALLER[0], ASSISTANT[0], CALLER[1]]):
        assert (req.wav_rate, req.wav_channels) == (8000, 1)
        # the speech, plus at most the detector's 200 ms before and after it
        assert t1 - t0 <= req.wav_seconds <= t1 - t0 + 0.45, (req.wav_seconds, t0, t1)
        assert req.fields["model"] == "whisper-1" and req.fields.get("language") == "en"
        assert req.authorization == "Bearer " + t.stt_key
        assert t.stt_key not in json.dumps(req.fields)
    # stored in the order spoken, who said what
    row = call_row(hdb, sid)
    assert row["status"] == "done" and row["error"] == ""
    assert [(x["speaker"], x["text"]) for x in row["lines"]] == [
        ("caller", HEARD[0]), ("assistant", HEARD[1]), ("caller", HEARD[2])]
    for x, (t0, _) in zip(row["lines"], [CALLER[0], ASSISTANT[0], CALLER[1]]):
        assert abs(x["start_ms"] - t0 * 1000) <= 150, (x, t0)
    # the analysis read the transcript, not the turns
    assert (row["source"], row["input"]) == ("llm", "recording"), row
    sent = analysis_request(chat, ["Caller: " + HEARD[0], "Assistant: " + HEARD[1],
                                   "Caller: " + HEARD[2]])
    assert len(sent) == 1 and "boiler leaking" not in sent[0], sent
    assert hdb.job(analysis)["payload"] == {"source": "llm", "input": "recording"}

    show = hdb.admin("calls", "show", sid)
    assert show.rc == 0, show
    assert re.search(r"^analysis\s+llm at \S+Z, of the recording's transcript$", show.out,
                     re.M), show.out
    part = show.out.split("\nrecording transcript (done at ")[1]
    lines = part.split("\n")[1:4]
    assert [re.sub(r"^\[0:0\d\.\d\] ", "", x) for x in lines] == [
        "caller: " + HEARD[0], "assistant: " + HEARD[1], "caller: " + HEARD[2]], show.out
    assert lines[0].startswith("[0:00.") and lines[2].startswith("[0:05."), lines
    assert t.stt_key not in h.log()
    assert_clean_exit(h, h.stop())


def test_failing_endpoint_then_retry(helper, hdb, api, rec_tenant, speech, chat):  # noqa: F811
    """A 500 is retried as any job, the analysis still waiting; the retry's transcript is
    the one analysed."""
    t = rec_tenant()
    speech.clear()
    chat.clear()
    h = helper()
    sid = stream_call(hdb, t)
    analysis = job_of(hdb, "call_analysis", sid)
    speech.push_stt(error(500), *(transcript(x) for x in HEARD))
    recording_arrives(hdb, api, t, sid, dual_wav())
    wait_until(lambda: job_of(hdb, "recording_transcribe", sid), 10, what="the transcription")
    transcribe = job_of(hdb, "recording_transcribe", sid)
    wait_until(lambda: call_row(hdb, sid)["status"] == "failed", 10, what="the failure")
    assert "HTTP 500" in call_row(hdb, sid)["error"]
    assert hdb.job(analysis)["status"] == "pending" and waiting_s(hdb, analysis) > 200
    job = hdb.wait_status(transcribe, "done", 20)
    assert job["attempts"] == 2
    hdb.wait_status(analysis, "done", 10)
    row = call_row(hdb, sid)
    assert (row["status"], row["input"], len(row["lines"])) == ("done", "recording", 3), row
    assert re.search(r"recording_transcribe.*attempt 1/8 failed: speech-to-text failed: "
                     r"HTTP 500", h.log())
    assert_clean_exit(h, h.stop())


def test_rejected_key_analyses_the_turns(helper, hdb, api, rec_tenant, speech, chat):  # noqa: F811
    """A 401 is not retried: the transcript is 'failed', and the analysis goes ahead at
    once on the turns."""
    t = rec_tenant()
    speech.clear()
    chat.clear()
    h = helper()
    sid = stream_call(hdb, t)
    analysis = job_of(hdb, "call_analysis", sid)
    speech.push_stt(error(401, "Incorrect API key provided."))
    recording_arrives(hdb, api, t, sid, dual_wav())
    wait_until(lambda: job_of(hdb, "recording_transcribe", sid), 10, what="the transcription")
    job = hdb.wait_status(job_of(hdb, "recording_transcribe", sid), "failed", 20)
    assert job["attempts"] == 1 and "HTTP 401" in job["last_error"], job
    hdb.wait_status(analysis, "done", 10)
    row = call_row(hdb, sid)
    assert (row["status"], row["lines"], row["input"]) == ("failed", None, "turns"), row
    assert analysis_request(chat, ["Caller: boiler leaking", "Assistant: An engineer can come."])
    show = hdb.admin("calls", "show", sid).out
    assert re.search(r"^recording transcript \(failed at \S+Z: HTTP 401: Incorrect API key "
                     r"provided\.\)$", show, re.M), show
    assert re.search(r"^analysis\s+llm at \S+Z$", show, re.M), show
    assert_clean_exit(h, h.stop())


def test_mono_recording_and_late_or_missing_recordings(helper, hdb, api,  # noqa: F811
                                                       rec_tenant, speech, chat):
    """A mono recording is not transcribed (who said what is unknown); a call that ended
    past the bound is analysed at once; both on the turns."""
    t = rec_tenant()
    speech.clear()
    chat.clear()
    h = helper()
    mono = stream_call(hdb, t)
    recording_arrives(hdb, api, t, mono, dual_wav(channels=1))
    hdb.wait_status(job_of(hdb, "call_analysis", mono), "done", 20)
    assert (call_row(hdb, mono)["status"], call_row(hdb, mono)["input"]) == ("mono", "turns")

    old = stream_call(hdb, t, ended_ago_s=400)
    hdb.wait_status(job_of(hdb, "call_analysis", old), "done", 10)
    assert (call_row(hdb, old)["status"], call_row(hdb, old)["input"]) == ("", "turns")
    assert speech.transcriptions == []
    assert_clean_exit(h, h.stop())


def test_tenant_without_speech_to_text(helper, hdb, api, rec_tenant, speech, chat):  # noqa: F811
    """As before: the recording is downloaded, nothing is transcribed, the analysis does not
    wait and reads the turns."""
    t = rec_tenant(stt=False)
    speech.clear()
    chat.clear()
    h = helper()
    sid = stream_call(hdb, t)
    analysis = job_of(hdb, "call_analysis", sid)
    assert waiting_s(hdb, analysis) < 5
    hdb.wait_status(analysis, "done", 10)
    _, download = recording_arrives(hdb, api, t, sid, dual_wav())
    job = hdb.wait_status(download, "done", 10)
    assert job["payload"]["bytes"] > 0
    assert job_of(hdb, "recording_transcribe", sid) is None
    assert (call_row(hdb, sid)["status"], call_row(hdb, sid)["input"]) == ("", "turns")
    assert speech.transcriptions == []
    assert_clean_exit(h, h.stop())
