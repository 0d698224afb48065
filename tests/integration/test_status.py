"""mod_status shows the gateway's counters (shared by all Apache children), the calls in
progress and the job backlog, the helper's streams and its voice pipeline's reply latency
by stage; %{VT-CallSid}n gives LogFormat the CallSid."""
import re
import time

from pyvt import checks, param
from pyvt.speech_standin import transcript

from test_inbound import INBOUND
from test_pipeline import ends, pipeline_tenant, say, speech  # noqa: F401
from test_stream import place_call, realtime, stream_apache, stream_tenant  # noqa: F401


def status(client):
    r = client.get("/server-status?auto")
    assert r.status_code == 200, r.text
    return dict(re.findall(r"^(VoxTwilio\w+): (-?\d+)$", r.text, re.M))


def test_status_counts_webhooks_and_signature_failures(tenant, client):
    t = tenant()
    before = status(client)
    assert set(before) >= {"VoxTwilioWebhooks", "VoxTwilioSignatureFailures",
                           "VoxTwilioDBUnavailable", "VoxTwilioCallsInProgress",
                           "VoxTwilioJobBacklog", "VoxTwilioJobsFailed", "VoxTwilioHelperPid",
                           "VoxTwilioHelperRestarts"}
    for _ in range(3):
        checks.greeting(client.post_signed(INBOUND, t.params(), t.token), t)
    assert client.post_signed(INBOUND, t.params(), "wrong-token").status_code == 403
    after = status(client)
    assert int(after["VoxTwilioWebhooks"]) - int(before["VoxTwilioWebhooks"]) == 4
    assert int(after["VoxTwilioSignatureFailures"]) - \
        int(before["VoxTwilioSignatureFailures"]) == 1
    assert int(after["VoxTwilioCallsInProgress"]) >= 3
    assert int(after["VoxTwilioJobBacklog"]) >= 0


def test_html_status_has_a_voxtwilio_section(client):
    r = client.get("/server-status")
    assert r.status_code == 200
    assert "<h2>mod_voxtwilio</h2>" in r.text and "Job backlog" in r.text


def test_logformat_gets_the_callsid(tenant, apache_factory, client_for):
    a = apache_factory(vhost_extra='CustomLog "logs/callsid_log" "%{VT-CallSid}n %>s"')
    t = tenant()
    p = t.params()
    sid = dict(p)["CallSid"]
    checks.greeting(client_for(a).post_signed(INBOUND, p, t.token), t)
    a.stop()
    with open(a.root + "/logs/callsid_log") as f:
        assert "%s 200\n" % sid in f.read()


# ---------------------------------------------------------------- the pipeline's stages
STAGES = ("Transcript", "FirstToken", "Answer", "FirstAudio", "FirstFrame")
STT_DELAY_MS = 300


def stage_rows(pg, sid):
    """(transcript, answer, audio, reply) of every timed assistant turn, as call_turns has
    them."""
    return [tuple(int(x) for x in r) for r in pg.psql(
        "SELECT transcript_ms, answer_ms, audio_ms, reply_ms FROM call_turns "
        "WHERE call_sid = '%s' AND role = 'assistant' AND reply_ms IS NOT NULL" % sid)]


def test_status_summarizes_the_pipeline_stages(stream_apache, client_for, pipeline_tenant,
                                               speech, pg):
    """The stream_apache of this module is its own helper: its histograms hold this call's
    replies only, so they must agree with call_turns."""
    client = client_for(stream_apache)
    before = status(client)
    assert all(before["VoxTwilioStage%sCount" % k] == "0" for k in STAGES), before
    assert before["VoxTwilioStageTranscriptP50"] == "-1"
    t = pipeline_tenant()
    speech.push_stt(transcript("What are your opening hours?", delay=STT_DELAY_MS / 1000.0),
                    transcript("I would like to speak to someone.",
                               delay=STT_DELAY_MS / 1000.0))
    s, p = place_call(stream_apache, client_for, t)
    sid = param(p, "CallSid")
    s.wait_for(lambda s: ends(s) >= 1, 20, "the greeting played")
    say(s, "What are your opening hours?")
    s.wait_for(lambda s: ends(s) >= 2, 20, "the answer played")
    say(s, "I would like to speak to someone.")
    assert s.wait_closed(20)
    rows = stage_rows(pg, sid)
    assert len(rows) == 2, rows
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        after = status(client)
        if int(after["VoxTwilioStageFirstFrameCount"]) >= 2:
            break
        time.sleep(0.1)
    for i, key in enumerate(("Transcript", "Answer", "FirstAudio", "FirstFrame")):
        got = {q: int(after["VoxTwilioStage%s%s" % (key, q)])
               for q in ("Count", "P50", "P95", "P99")}
        vals = sorted(r[i] for r in rows)
        assert got["Count"] == 2, (key, got)
        # two replies: p50 is the smaller one's bucket (at most 1/16 wider), p95 and p99
        # the larger one, capped by the largest seen
        assert vals[0] <= got["P50"] <= vals[0] * 17 // 16 + 1, (key, got, vals)
        assert got["P95"] == got["P99"] == vals[1], (key, got, vals)
    # the stand-in's delay is in the transcript, and nothing wildly more
    assert STT_DELAY_MS <= int(after["VoxTwilioStageTranscriptP50"]) < STT_DELAY_MS + 1000
    # the stages in the order they happen
    p50 = [int(after["VoxTwilioStage%sP50" % k]) for k in ("Transcript", "Answer",
                                                            "FirstAudio", "FirstFrame")]
    assert p50 == sorted(p50), p50
    # the script answered: no model, no first token
    assert after["VoxTwilioStageFirstTokenCount"] == "0"
    assert after["VoxTwilioStageFirstTokenP50"] == "-1"
    html = client.get("/server-status").text
    m = re.search(r"<tr><td>transcript</td><td>2</td><td>(\d+)</td>", html)
    assert m and int(m.group(1)) == int(after["VoxTwilioStageTranscriptP50"]), html[-2000:]
    assert "<td>first frame sent</td>" in html
