"""Voice pipeline benchmark (run on demand by bench/pipeline.sh; never part of `make check`).

Apache (event MPM) with the module and its supervised voxtwilio-helper, a throwaway
PostgreSQL, and one pipeline tenant whose endpoints are stand-ins of fixed delay (in a
process of their own, so their Python does not share the bench's): speech-to-text answers
after --stt-ms, the chat model's first token after --model-ms (or the tenant's script
answers: --brain script), text-to-speech sends its first audio after --tts-ms (or the
helper speaks with espeak-ng: --tts espeak, whose synthesis is then the gateway's own).
bench_stream_load --caller-audio plays N callers through Apache's WebSocket tunnel: each
says an espeak-ng sentence put through the phone leg (pyvt.phone_leg), then is silent, in
a loop (--cycle-s), in real time at 20 ms frames; it plays the replies, echoes the marks
after their audio and obeys `clear`, as Twilio does.

Per measurement: every reply's stages from call_turns (transcript, first token, answer,
first audio, first frame; ms after the end of the caller's speech), and the gateway's own
share of it: reply_ms - (STT delay + model delay + TTS first-byte delay), at p50/p99/max;
the helper's CPU per stream (its process: every thread) and RSS, Apache's CPU; the
stand-ins' own time beyond their delays (it is counted in the gateway's share: an upper
bound). Results: bench/results/pipeline-latest.{json,md} and a dated JSON.
"""
import argparse
import datetime
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))
import stream_bench as sb  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
SAID = "What are your opening hours?"
SCRIPT = ('{"intents": [{"name": "hours", "phrases": ["opening hours"], '
          '"reply": "We are open nine to five."}]}')


def log(msg):
    print("[pipeline-bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def pctl(vals, p):
    """The element at floor(p% of n), as bench_stream_load."""
    if not vals:
        return None
    v = sorted(vals)
    return v[min(len(v) - 1, int(p / 100.0 * len(v)))]


# ---------------------------------------------------------------- stand-ins (own process)
class Always(list):
    """A behaviour queue that never runs dry: every request gets the same one."""

    def __init__(self, behaviour):
        super().__init__()
        self.behaviour = behaviour

    def __len__(self):
        return 1

    def pop(self, i=-1):
        return self.behaviour


NUMBER = re.compile(r"number (\d+)")
CURRENT = threading.local()     # the speech request this thread handles


def timed(server, own, delay_s, events=None):
    """Wraps the handler of an http.server: its own time per request, beyond delay_s; and
    in events[N] (N: the answer's number) the CLOCK_MONOTONIC moments (s) of a streamed
    answer's start and end (chat) or of a speech request's arrival and answer (TTS), to
    put beside the helper's stages of the reply N."""
    base = server.RequestHandlerClass

    class Timed(base):
        def do_POST(self):
            self._vt_t0 = time.monotonic()
            base.do_POST(self)
            own.append((time.monotonic() - self._vt_t0 - delay_s) * 1000.0)

        def send_stream(self, req, behaviour):     # the chat stand-in's SSE answer
            t = time.monotonic()
            base.send_stream(self, req, behaviour)
            m = NUMBER.search(behaviour["body"]["choices"][0]["message"]["content"] or "")
            if m is not None and events is not None:
                events[m.group(1)] = (t, time.monotonic())

        def _stream(self, b):                      # the speech stand-in's audio
            m = NUMBER.search(getattr(CURRENT, "input", None) or "")
            if m is not None and events is not None:
                events[m.group(1)] = (self._vt_t0, time.monotonic())
            base._stream(self, b)
    server.RequestHandlerClass = Timed


def serve_standins(conf_json, out_path):
    """--serve-standins: starts them, prints their URLs as one JSON line, and on SIGTERM
    writes their own times to out_path."""
    import pyvt.openai_standin as oai
    import pyvt.speech_standin as ss
    from pyvt.speech_standin import SpeechStandIn, speech, transcript

    class LightRequest:
        """The stand-in's request without the multipart parse (the uploaded WAV decoded
        by Python's email package costs ms that would count as the gateway's)."""

        def __init__(self, path, headers, body):
            self.path, self.headers, self.fields = path, headers, {}
            self.json = (json.loads(body.decode())
                         if headers.get("Content-Type", "").startswith("application/json")
                         else None)
            CURRENT.input = (self.json or {}).get("input")   # for timed()'s _stream
    ss.SpeechRequest = LightRequest
    conf = json.loads(conf_json)
    own = {"stt": [], "tts": [], "model": []}
    events = {"chat": {}, "tts": {}}
    stt, tts = SpeechStandIn(), SpeechStandIn()   # one each: their own times apart
    stt.stt_queue = Always(transcript(SAID, delay=conf["stt_ms"] / 1000.0))
    tone = b"".join(int(6000 * math.sin(2 * math.pi * 440 * i / 24000)).to_bytes(
        2, "little", signed=True) for i in range(int(24000 * conf["tts_audio_s"])))
    tts.tts_for("", speech(tone, first_byte=conf["tts_ms"] / 1000.0))
    timed(stt._server, own["stt"], conf["stt_ms"] / 1000.0)
    # (the whole audio is sent at once after the first byte: its writing is counted too)
    timed(tts._server, own["tts"], conf["tts_ms"] / 1000.0, events["tts"])
    n = [0]

    def brain(req):
        # a new text every time: espeak-ng's cache must not hide its synthesis
        n[0] += 1
        text = "Your order number %d is on its way." % n[0]
        if req.stream:
            return oai.streamed(oai.say(text), first_delay=conf["model_ms"] / 1000.0)
        return dict(oai.say(text), delay=conf["model_ms"] / 1000.0)
    chat = oai.OpenAIStandIn(brain=brain)
    timed(chat._server, own["model"], conf["model_ms"] / 1000.0, events["chat"])
    for x in (stt, tts, chat):
        x.start()
    print(json.dumps({"stt": stt.base_url, "tts": tts.base_url, "chat": chat.base_url}),
          flush=True)

    def dump(*_):
        """SIGUSR1: the own times since the last dump, to out_path; cleared."""
        with open(out_path + ".tmp", "w") as f:
            json.dump(dict(own, events=events,
                           requests={"stt": len(stt.transcriptions), "tts": len(tts.speeches),
                                     "model": len(chat.requests)}), f)
        os.rename(out_path + ".tmp", out_path)
        for v in list(own.values()) + list(events.values()):
            v.clear()
        for x in (stt.transcriptions, tts.speeches, chat.requests):
            x.clear()
    signal.signal(signal.SIGUSR1, dump)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(3600)


def harness(a):
    """The command prefix of what plays the outside world (the stand-ins, the callers):
    --harness-nice N gives the gateway's processes the CPU first, as if those ran on other
    machines, as they do in production."""
    return ["nice", "-n", str(a.harness_nice)] if a.harness_nice else []


class StandIns:
    def __init__(self, a, work):
        self.out = os.path.join(work, "standins-own.json")
        conf = {"stt_ms": a.stt_ms, "model_ms": a.model_ms, "tts_ms": a.tts_ms,
                "tts_audio_s": a.tts_audio_s}
        self.proc = subprocess.Popen(
            harness(a) + [sys.executable, os.path.abspath(__file__), "--serve-standins",
                          json.dumps(conf), self.out], stdout=subprocess.PIPE, text=True, cwd=work,
            env=dict(os.environ, PYTHONPATH=os.path.join(SRCDIR, "tests", "integration")))
        self.urls = json.loads(self.proc.stdout.readline())

    def own_times(self):
        """Their own times since the last call (SIGUSR1), per endpoint."""
        if os.path.exists(self.out):
            os.unlink(self.out)
        self.proc.send_signal(signal.SIGUSR1)
        sb.wait_for(lambda: os.path.exists(self.out), 10, "the stand-ins' times")
        with open(self.out) as f:
            return json.load(f)

    def stop(self):
        sb.stop_process(self.proc)


# ---------------------------------------------------------------- the gateway
class Pipeline:
    """Apache + its helper (not the loopback: the real pipeline) + PostgreSQL, the
    tenant of sb.Gateway turned into a pipeline tenant."""

    def __init__(self, a):
        self.a = a
        self.gw = gw = sb.Gateway.get(a)
        self.admin = gw.pyvt.Admin(gw.paths.admin_bin, gw.pg.conninfo, gw.key_file)
        self.standins = StandIns(a, gw.work)
        f = os.path.join(gw.work, "script.json")
        with open(f, "w") as fh:
            fh.write(SCRIPT)
        self.run_admin("assistant", "import", gw.slug, f)
        self.run_admin("assistant", "set", gw.slug, "--stt-url", self.standins.urls["stt"],
                       "--stt-model", "whisper-1", "--no-stt-key")
        self.caller_audio = self.make_caller_audio()
        self.httpd = None
        self.tts = self.brain = None

    def run_admin(self, *args):
        r = self.admin(*args)
        if r.rc != 0:
            sb.die("voxtwilio-admin %s: %r" % (" ".join(args[:2]), r))

    def configure(self, brain, tts):
        """The tenant's brain (script or model) and voice (endpoint or espeak)."""
        if brain != self.brain:
            if brain == "model":
                self.run_admin("assistant", "set", self.gw.slug, "--kind", "llm",
                               "--endpoint", self.standins.urls["chat"], "--model",
                               "standin-model", "--no-api-key")
            else:
                self.run_admin("assistant", "set", self.gw.slug, "--kind", "script")
            self.brain = brain
        if tts != self.tts:
            if tts == "endpoint":
                self.run_admin("assistant", "set", self.gw.slug, "--tts-url",
                               self.standins.urls["tts"], "--tts-model", "tts-1",
                               "--tts-voice", "alloy", "--no-tts-key")
            else:
                self.run_admin("assistant", "set", self.gw.slug, "--tts-url", "")
            self.tts = tts

    def make_caller_audio(self):
        """The caller's loop: the sentence through the phone leg, then silence."""
        from pyvt.phone_leg import Timeline, phone_pcm, speak
        call = Timeline()
        call.say(phone_pcm(speak("espeak", "en-us", 1.0, SAID)))
        said_ms = call.ms()
        call.silence(max(0.5, self.a.cycle_s - said_ms / 1000.0))
        path = os.path.join(self.gw.work, "caller.ulaw")
        with open(path, "wb") as f:
            f.write(call.ulaw())
        self.said_ms = said_ms
        return path

    def start(self):
        gw, pyvt = self.gw, self.gw.pyvt
        root = tempfile.mkdtemp(prefix="httpd-", dir=gw.work)
        os.chmod(root, 0o755)
        extra = "\n".join([
            "VoxTwilioStreamMax 5000", "StartServers 9", "ServerLimit 18",
            "ThreadLimit 64", "ThreadsPerChild 64", "MaxRequestWorkers 576",
            "MinSpareThreads 25", "MaxSpareThreads 576", "MaxConnectionsPerChild 0",
            "LogLevel warn"])
        self.httpd = pyvt.Apache(gw.paths, gw.pg.conninfo, gw.key_file, root=root,
                                 log_level="warn", module_log_level=None, server_extra=extra,
                                 stream_socket="voxtwilio/stream.sock",
                                 helper=os.path.join(self.a.build, "voxtwilio-helper"))
        self.httpd.start()
        self.stats = os.path.join(root, "run", "voxtwilio", "stream.stats")
        sb.wait_for(lambda: os.path.exists(self.stats), 15, "the helper")
        self.url = "ws://127.0.0.1:%d/" % self.httpd.port
        self.pid = self.httpd.pid()
        with open(self.stats, "rb") as f:
            self.helper_pid = int.from_bytes(f.read()[4:8], "little")

    def status(self):
        """mod_status's ?auto lines of the stages (since the helper started)."""
        import urllib.request
        url = "http://127.0.0.1:%d/server-status?auto" % self.httpd.port
        with urllib.request.urlopen(url, timeout=10) as r:
            text = r.read().decode()
        return {k: int(v) for k, v in
                (ln.split(": ", 1) for ln in text.splitlines() if ln.startswith("VoxTwilio")
                 and ": " in ln) if v.lstrip("-").isdigit()}

    def stop(self):
        if self.httpd:
            self.httpd.stop()
        self.standins.stop()


# ---------------------------------------------------------------- one measurement
STAGES = ("transcript_ms", "first_token_ms", "answer_ms", "audio_ms", "reply_ms")


def turn_rows(pl, sids):
    cols = [c for c in STAGES if pl.gw.pg.scalar(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'call_turns' "
        "AND column_name = '%s'" % c) == "1"]
    rows = pl.gw.pg.psql(
        "SELECT %s, text, interrupted FROM call_turns WHERE role = 'assistant' AND reply_ms IS NOT "
        "NULL AND call_sid IN (%s)" % (", ".join(cols), ",".join("'%s'" % s for s in sids)))
    out = []
    for r in rows:
        d = {c: (int(v) if v not in ("", None) else None) for c, v in zip(cols, r)}
        d["interrupted"] = r[-1] == "t"
        d["text"] = r[-2]
        out.append(d)
    return out


def summary(vals):
    vals = [v for v in vals if v is not None]
    return {"n": len(vals), "p50": pctl(vals, 50), "p99": pctl(vals, 99),
            "max": max(vals) if vals else None}


def figures(a, brain, tts, rows):
    stt = a.stt_ms
    model = a.model_ms if brain == "model" else 0
    voice = a.tts_ms if tts == "endpoint" else 0
    f = {"replies": len(rows), "interrupted": sum(r["interrupted"] for r in rows),
         "delays_ms": {"stt": stt, "model": model, "tts_first_byte": voice}}
    f["stages"] = {c: summary([r.get(c) for r in rows]) for c in STAGES}
    f["gateway_share_ms"] = summary([r["reply_ms"] - stt - model - voice for r in rows])
    # where the share goes: each leg's time beyond its stand-in's delay
    legs = {"to_transcript": [], "transcript_to_answer_start": [], "answer_start_to_reply": []}
    for r in rows:
        ans = r.get("first_token_ms")
        if ans is None or brain != "model":
            ans = r["answer_ms"]
        legs["to_transcript"].append(r["transcript_ms"] - stt)
        legs["transcript_to_answer_start"].append(ans - r["transcript_ms"] - model)
        legs["answer_start_to_reply"].append(r["reply_ms"] - ans - voice)
    f["legs_ms"] = {k: summary(v) for k, v in legs.items()}
    return f


def voice_leg(a, rows, events):
    """The voice leg of the model's streamed replies cut in three by the stand-ins' own
    clocks (CLOCK_MONOTONIC, like the helper's), matched by the answer's number:
    sentence: the chat stand-in's first token to its last (its own writing, the sentence
    complete); to_tts: from there to the TTS request's arrival (the gateway: the sentence
    to the media thread, the voice, a worker, libcurl; and http.server reading the
    headers); after_first_byte: from the TTS stand-in's first byte to the first frame sent
    (the gateway: reading, 24 -> 8 kHz, µ-law, to the media thread, queued);
    share_net_of_standins: the gateway share less the sentence and tts_parse times of the
    same reply (the speech-to-text stand-in's own time, not matched per reply, stays)."""
    chat, tts = events.get("chat", {}), events.get("tts", {})
    legs = {"sentence": [], "to_tts": [], "tts_parse": [], "after_first_byte": [],
            "share_net_of_standins": []}
    delays = a.stt_ms + a.model_ms + a.tts_ms
    for r in rows:
        m = NUMBER.search(r.get("text") or "")
        if not m or m.group(1) not in chat or m.group(1) not in tts or r.get(
                "first_token_ms") is None:
            continue
        (c0, c1), (t0, t1) = chat[m.group(1)], tts[m.group(1)]
        first_byte = t1 + a.tts_ms / 1000.0
        legs["sentence"].append(round((c1 - c0) * 1000 - a.model_ms, 1))
        legs["to_tts"].append(round((t0 - c1) * 1000, 1))
        legs["tts_parse"].append(round((t1 - t0) * 1000, 1))
        # the share without what the chat and TTS stand-ins' own Python took in this reply
        legs["share_net_of_standins"].append(round(
            r["reply_ms"] - delays - legs["sentence"][-1] - legs["tts_parse"][-1], 1))
        legs["after_first_byte"].append(round(r["reply_ms"] - r["first_token_ms"]
                                              - (first_byte - (c0 + a.model_ms / 1000.0))
                                              * 1000, 1))
    return {k: summary(v) for k, v in legs.items()}


def measure(a, pl, brain, tts, n):
    pl.configure(brain, tts)
    busy, waited = sb.wait_quiet(a.quiet_cores, a.quiet_wait)
    sig = pl.gw.sig_file(n, "127.0.0.1:%d" % pl.httpd.port, False)
    with open(sig) as fh:
        sids = [ln.split()[3] for ln in fh if ln.strip()]
    pl.standins.own_times()                     # from now on
    out = os.path.join(pl.gw.work, "load.json")
    cmd = harness(a) + [os.path.join(a.build, "bench_stream_load"), "--url", pl.url, "--n", str(n),
           "--duration", str(a.duration), "--pid", str(pl.pid), "--sig-file", sig,
           "--caller-audio", pl.caller_audio, "--json", out]
    h0, t0 = sb.pid_ticks(pl.helper_pid), time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       errors="replace", timeout=a.duration + 120)
    h1, wall = sb.pid_ticks(pl.helper_pid), time.monotonic() - t0
    rss = sb.pid_rss_kb(pl.helper_pid)
    own = pl.standins.own_times()
    load = json.loads(sb.read(out) or "{}")
    time.sleep(2)                               # the last turns' writes
    rows = turn_rows(pl, sids)
    r = {"brain": brain, "tts": tts, "streams": n, "exit_status": p.returncode,
         "client_summary": p.stdout.strip(), "busy_before_cores": round(busy, 2),
         "waited_s": waited, "wall_s": round(wall, 1)}
    r.update(figures(a, brain, tts, rows))
    helper_s = (h1 - h0) / CLK_TCK
    r["helper_cpu_pct"] = round(helper_s / wall * 100, 1)
    r["helper_cpu_pct_per_stream"] = round(helper_s / wall * 100 / n, 3)
    r["helper_cpu_ms_per_reply"] = round(helper_s * 1000 / max(1, len(rows)), 2)
    r["helper_rss_mib"] = round((rss or 0) / 1024.0, 1)
    srv = load.get("server_cpu_pct")
    if srv is not None and load.get("window_s"):
        # the client's window is shorter than wall (connects, drain): scale the helper's
        r["apache_tree_cpu_pct"] = srv
    r["client_cpu_pct"] = load.get("client_cpu_pct")
    r["other_cpu_pct"] = load.get("other_cpu_pct")
    r["machine_busy_pct"] = load.get("machine_busy_pct")
    r["load"] = {k: load.get(k) for k in ("connected", "connect_failed", "closed_early",
                                           "media_in", "played_s", "marks", "marks_echoed",
                                           "clears", "late_sends", "max_send_lag_ms")}
    r["standins_own_ms"] = {k: summary(own[k]) for k in ("stt", "model", "tts")}
    r["voice_leg_ms"] = voice_leg(a, rows, own.get("events") or {})
    r["standin_requests"] = own.get("requests")
    r["loadavg"] = os.getloadavg()
    log("%s/%s n=%d: %d replies, share p50 %s p99 %s max %s ms; helper %.1f%% (%.3f%%/stream) "
        "RSS %.0f MiB | %s" % (brain, tts, n, len(rows), r["gateway_share_ms"]["p50"],
                               r["gateway_share_ms"]["p99"], r["gateway_share_ms"]["max"],
                               r["helper_cpu_pct"], r["helper_cpu_pct_per_stream"],
                               r["helper_rss_mib"], p.stdout.strip().replace("\n", " | ")))
    return r


# ---------------------------------------------------------------- results
def fmt(s, k):
    v = s.get(k)
    return "–" if v is None else str(v)


def three(s):
    return "%s / %s / %s" % (fmt(s, "p50"), fmt(s, "p99"), fmt(s, "max"))


def markdown(res):
    m, c = res["machine"], res["config"]
    lines = [
        "Run %s, %g s per point; %s (%d cores), %d MiB RAM; stand-in delays: speech-to-text "
        "%d ms, model first token %d ms, text-to-speech first byte %d ms; each caller speaks "
        "%.1f s every %g s. Stages in ms after the end of the caller's speech, p50 / p99 / "
        "max over every reply; gateway share = first frame − the stand-ins' delays; helper "
        "CPU: 100 %% = one core.%s"
        % (res["date"], c["duration_s"], m["cpu_model"], m["nproc"], m["mem_total_mib"],
           c["stt_ms"], c["model_ms"], c["tts_ms"], c["caller_said_ms"] / 1000.0,
           c["cycle_s"], " The stand-ins and the load client at nice %d." % c["harness_nice"]
           if c.get("harness_nice") else ""), "",
        "| # | brain | voice | streams | replies | transcript | first token | first frame "
        "| **gateway share** | helper CPU % | % per stream | RSS MiB | load before (cores) |",
        "|---:|---|---|---:|---:|---|---|---|---|---:|---:|---:|---:|"]
    for r in res["runs"]:
        st = r["stages"]
        lines.append("| %d | %s | %s | %d | %d | %s | %s | %s | **%s** | %.1f | %.3f | %.0f "
                     "| %.2f |" % (
                         r["repeat"], r["brain"], r["tts"], r["streams"], r["replies"],
                         three(st["transcript_ms"]), three(st["first_token_ms"]),
                         three(st["reply_ms"]), three(r["gateway_share_ms"]),
                         r["helper_cpu_pct"], r["helper_cpu_pct_per_stream"],
                         r["helper_rss_mib"], r["busy_before_cores"]))
    lines += ["", "Where the share goes (ms, p50 / p99 / max; the voice leg cut by the "
              "stand-ins' clocks, model + endpoint only):", "",
              "| # | brain | voice | streams | STT leg | model leg | voice leg | chat stand-in "
              "writing the sentence | sentence → TTS request | TTS first byte → first frame "
              "| **share net of the chat/TTS stand-ins** | STT stand-in's own |",
              "|---:|---|---|---:|---|---|---|---|---|---|---|---|"]
    for r in res["runs"]:
        L, v = r["legs_ms"], r.get("voice_leg_ms") or {}
        lines.append("| %d | %s | %s | %d | %s | %s | %s | %s | %s | %s | **%s** | %s |" % (
            r["repeat"], r["brain"], r["tts"], r["streams"], three(L["to_transcript"]),
            three(L["transcript_to_answer_start"]), three(L["answer_start_to_reply"]),
            three(v.get("sentence", {})), three(v.get("to_tts", {})),
            three(v.get("after_first_byte", {})), three(v.get("share_net_of_standins", {})),
            three({k: None if x is None else round(x, 1)
                   for k, x in r["standins_own_ms"]["stt"].items()})))
    lines += ["", "Status: %s; whole run %.0f s." % (
        "OK" if res["ok"] else "FAILED: " + "; ".join(res["problems"]), res["elapsed_s"])]
    return "\n".join(lines) + "\n"


def problems_of(runs, a):
    out = []
    for r in runs:
        what = "%s/%s n=%d" % (r["brain"], r["tts"], r["streams"])
        ld = r["load"]
        if ld.get("connect_failed") or r["exit_status"] not in (0,):
            out.append("%s: client exit %s, %s connects failed" % (
                what, r["exit_status"], ld.get("connect_failed")))
        if r["replies"] < r["streams"]:
            out.append("%s: only %d replies" % (what, r["replies"]))
    return out


def write_results(d, res):
    os.makedirs(d, exist_ok=True)
    stamp = res["date"].replace(":", "").replace("-", "")
    text = json.dumps(res, indent=2) + "\n"
    for name in ("pipeline-%s.json" % stamp, "pipeline-latest.json"):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    md = markdown(res)
    with open(os.path.join(d, "pipeline-latest.md"), "w") as f:
        f.write(md)
    print()
    print(md)
    log("results: %s" % os.path.join(d, "pipeline-latest.json"))


# ---------------------------------------------------------------- main
def parse_points(text):
    """brain/voice/streams,... e.g. model/endpoint/100,model/espeak/100"""
    pts = []
    for p in text.split(","):
        brain, tts, n = p.split("/")
        if brain not in ("model", "script") or tts not in ("endpoint", "espeak"):
            sb.die("bad point %s (brain model|script, voice endpoint|espeak)" % p)
        pts.append((brain, tts, int(n)))
    return pts


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, help="build dir with bench_stream_load")
    ap.add_argument("--points", default="model/endpoint/100,model/espeak/100,"
                    "model/endpoint/50,model/endpoint/200",
                    help="brain/voice/streams, comma separated (brain: model|script; "
                    "voice: endpoint|espeak)")
    ap.add_argument("--duration", type=float, default=30, help="seconds per point")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--stt-ms", type=int, default=200)
    ap.add_argument("--model-ms", type=int, default=300)
    ap.add_argument("--tts-ms", type=int, default=100)
    ap.add_argument("--tts-audio-s", type=float, default=1.5, help="the TTS stand-in's audio")
    ap.add_argument("--cycle-s", type=float, default=7,
                    help="each caller speaks once per this many seconds")
    ap.add_argument("--harness-nice", type=int, default=0,
                    help="run the stand-ins and the load client at this nice level (1-19)")
    ap.add_argument("--quiet-cores", type=float, default=0.3)
    ap.add_argument("--quiet-wait", type=float, default=60)
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    a = ap.parse_args()
    a.points = parse_points(a.points)
    # sb.Gateway reads these
    a.peer_dir = None
    if not os.access(os.path.join(a.build, "bench_stream_load"), os.X_OK):
        sb.die("no %s/bench_stream_load (make bench-tools)" % a.build)
    return a


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-standins":
        return serve_standins(sys.argv[2], sys.argv[3])
    a = parse_args()
    t0 = time.time()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    pl = Pipeline(a)
    runs = []
    try:
        pl.start()
        log("warm-up (not recorded)")
        w = argparse.Namespace(**vars(a))
        w.duration = 8
        measure(w, pl, a.points[0][0], a.points[0][1], 10)
        for rep in range(a.repeat):
            for brain, tts, n in a.points:
                r = measure(a, pl, brain, tts, n)
                r["repeat"] = rep + 1
                runs.append(r)
        status = pl.status()
    finally:
        pl.stop()
        pl.gw.pg.stop()
    problems = problems_of(runs, a)
    res = {"date": date, "machine": sb.machine_info(),
           "versions": {"git": sb.first_line(["git", "-C", SRCDIR, "describe", "--always",
                                              "--dirty"]),
                        "espeak-ng": sb.first_line(["espeak-ng", "--version"])},
           "config": {"points": a.points, "duration_s": a.duration, "repeat": a.repeat,
                      "stt_ms": a.stt_ms, "model_ms": a.model_ms, "tts_ms": a.tts_ms,
                      "tts_audio_s": a.tts_audio_s, "cycle_s": a.cycle_s,
                      "caller_said_ms": pl.said_ms, "harness_nice": a.harness_nice},
           "runs": runs, "mod_status_stages": {k: v for k, v in status.items()
                                               if k.startswith("VoxTwilioStage")},
           "ok": not problems, "problems": problems,
           "elapsed_s": round(time.time() - t0, 1)}
    write_results(a.results, res)
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
