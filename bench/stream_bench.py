"""Media Streams benchmark (run on demand by bench/stream.sh; never part of `make check`).

Runs stream servers ("targets") one after another and measures each, in the same run,
with two load clients that play Twilio: the Node peer's own load-client.js and the
project's bench_stream_load (bench/stream_load.c). Both open N WebSockets, send
connected, start and a 20 ms µ-law media frame every 20 ms per stream, match every answer
to its frame and report the same figures (round trip p50/p99, late answers, missing
answers, late sends, CPU of the server tree, of the client and of everything else).

A target is a small class: start() returns where to connect (URL and/or unix socket) and
the server's pid, stop() ends it. Add one to TARGETS (see the marked place below).

Results: bench/results/streams-<UTC date>.json, streams-latest.json and streams-latest.md.
"""
import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print("[stream-bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def die(msg):
    log("FAILED: " + msg)
    sys.exit(1)


def first_line(cmd):
    try:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             errors="replace").stdout
    except OSError:
        return "?"
    return (out.strip().splitlines() or ["?"])[0]


# ---------------------------------------------------------------- machine
def machine_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return sum(v) - v[3] - v[4], sum(v)


def machine_busy_cores(seconds):
    """How many cores' worth of CPU the machine used over a short sample."""
    b0, t0 = machine_ticks()
    time.sleep(seconds)
    b1, t1 = machine_ticks()
    return (os.cpu_count() or 1) * (b1 - b0) / max(1, t1 - t0)


def wait_quiet(limit_cores, max_wait_s):
    """Waits until the machine is (nearly) idle: we share it with other work."""
    waited, busy = 0.0, machine_busy_cores(1.0)
    while busy > limit_cores and waited < max_wait_s:
        if waited == 0:
            log("machine busy (%.2f cores); waiting up to %d s" % (busy, max_wait_s))
        time.sleep(2.0)
        waited += 3.0
        busy = machine_busy_cores(1.0)
    return busy, waited


def machine_info():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {"nproc": os.cpu_count(), "cpu_model": cpu, "mem_total_mib": mem_kb // 1024,
            "kernel": platform.release()}


# ---------------------------------------------------------------- targets
class Target:
    """A stream server. start() sets url (ws://...; for a unix socket the URL gives Host
    and path), unix (socket path or None) and pid (whose process tree is the server's CPU).
    """
    name = "?"
    url = None
    unix = None
    clients = ("node", "c")     # the load clients that can drive it
    pid = None

    def start(self):
        raise NotImplementedError

    def stop(self):
        pass


class NodePeer(Target):
    """shared/peers/stream-node: Node `ws` + alawmulaw, one process (WORKERS=1)."""
    name = "node-peer"

    def __init__(self, a):
        self.dir, self.port, self.proc = a.peer_dir, a.peer_port, None

    def start(self):
        env = dict(os.environ, PORT=str(self.port), WORKERS="1", HOST="127.0.0.1")
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen(["node", "server.js"], cwd=self.dir, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: "on ws://" in read(self.log.name), 10, "the Node peer to listen")
        self.url, self.pid = "ws://127.0.0.1:%d/stream" % self.port, self.proc.pid

    def stop(self):
        stop_process(self.proc)


# ---- the project's helper ---------------------------------------------------------
class Gateway:
    """What the helper needs to take a stream: a throwaway PostgreSQL with the schema, the
    key file, one stream-mode tenant, and for every measurement N fresh calls (a call takes
    one stream: the helper claims it) with their signed stream URLs. Shared by both helper
    targets, made once."""
    _one = None

    @classmethod
    def get(cls, a):
        if not cls._one:
            cls._one = cls(a)
        return cls._one

    def __init__(self, a):
        sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))
        import pyvt
        self.pyvt = pyvt
        self.a = a
        self.work = tempfile.mkdtemp(prefix="vt-stream-bench-", dir="/tmp")
        os.chmod(self.work, 0o755)
        self.paths = pyvt.Paths(builddir=a.build, srcdir=SRCDIR)
        self.pg = pyvt.PgCluster(base_dir=os.path.join(self.work, "pg"))
        self.pg.start()
        self.key_file = os.path.join(self.work, "voxtwilio.keys")
        admin = pyvt.Admin(self.paths.admin_bin, self.pg.conninfo, self.key_file)
        for args, kw in ((("keys", "generate", self.key_file),
                          dict(db=None, key_file=None, api_base=None)), (("migrate",), {})):
            r = admin.run(*args, **kw)
            if r.rc != 0:
                die("voxtwilio-admin %s: %r" % (args[0], r))
        self.slug, self.account_sid = "bench-stream", pyvt.new_account_sid()
        self.token = pyvt.new_auth_token()
        for args, inp in ((("company", "add", self.slug, "--name", "Bench"), None),
                          (("integration", "add", self.slug, "--account-sid",
                            self.account_sid, "--number", "+15550001000"), self.token + "\n"),
                          (("assistant", "set", self.slug, "--mode", "stream"), None)):
            r = admin(*args, input=inp)
            if r.rc != 0:
                die("voxtwilio-admin %s: %r" % (" ".join(args[:2]), r))
        self.company_id = int(self.pg.scalar("SELECT id FROM companies WHERE slug = '%s'"
                                             % self.slug))
        self.runs = 0

    def sig_file(self, n, origin, direct):
        """N new calls and one line per stream: PATH SIGNATURE ACCOUNT CALL [URL]."""
        self.runs += 1
        tag = "r%d" % self.runs
        self.pg.psql("INSERT INTO calls (call_sid, company_id, status, status_rank) "
                     "SELECT 'CA' || md5('%s-' || i), %d, 'in-progress', 3 "
                     "FROM generate_series(0, %d) AS i" % (tag, self.company_id, n - 1))
        import hashlib
        fd, path = tempfile.mkstemp(prefix="sig-", dir=self.work, text=True)
        with os.fdopen(fd, "w") as f:
            for i in range(n):
                sid = "CA" + hashlib.md5(("%s-%d" % (tag, i)).encode()).hexdigest()
                upath = "/voice/stream/%s/%s" % (self.slug, sid)
                url = "wss://%s%s" % (origin, upath)
                sig = self.pyvt.TwilioSigner.sign(self.token, url)
                f.write("%s %s %s %s%s\n" % (upath, sig, self.account_sid, sid,
                                             (" " + url) if direct else ""))
        return path

    def helper_cmd(self, socket):
        return [os.path.join(self.a.build, "voxtwilio-helper"), "--db", self.pg.conninfo,
                "--key-file", self.key_file, "--stream-socket", socket, "--stream-loopback",
                "--stream-max", "5000", "--log-level", "warn"]


class HelperDirect(Target):
    """voxtwilio-helper alone on its unix socket, every stream on the loopback backend
    (the per-frame pipeline: parse, decode, 8 -> 16 kHz, VAD, 16 -> 8 kHz, encode)."""
    name = "helper"
    clients = ("c",)            # the upgrade must be signed: load-client.js cannot

    def __init__(self, a):
        self.gw, self.proc = Gateway.get(a), None

    def start(self):
        d = tempfile.mkdtemp(prefix="sock-", dir=self.gw.work)
        self.unix = os.path.join(d, "stream.sock")
        self.log = open(os.path.join(d, "helper.log"), "w")
        self.proc = subprocess.Popen(self.gw.helper_cmd(self.unix), stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(self.unix), 10, "the helper's socket")
        self.url, self.pid = "ws://localhost/", self.proc.pid

    def client_args_for(self, n):
        return ["--sig-file", self.gw.sig_file(n, "bench.example", True)]

    def stop(self):
        stop_process(self.proc)


class HelperApache(Target):
    """The same helper, supervised by Apache (event MPM) with the module checking each
    upgrade and mod_proxy_wstunnel carrying it: what production runs. The server's CPU
    is Apache's process tree; the helper's share is measured apart (extra_pids)."""
    name = "helper-apache"
    clients = ("c",)

    def __init__(self, a):
        self.gw, self.httpd = Gateway.get(a), None

    def start(self):
        gw, pyvt = self.gw, self.gw.pyvt
        root = tempfile.mkdtemp(prefix="httpd-", dir=gw.work)
        os.chmod(root, 0o755)
        wrapper = os.path.join(root, "helper-loopback.sh")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\nexec "%s" "$@" --stream-loopback\n'
                    % os.path.join(self.gw.a.build, "voxtwilio-helper"))
        os.chmod(wrapper, 0o755)
        extra = "\n".join([
            "VoxTwilioStreamMax 5000", "StartServers 9", "ServerLimit 18",
            "ThreadLimit 64", "ThreadsPerChild 64", "MaxRequestWorkers 576",
            "MinSpareThreads 25", "MaxSpareThreads 576", "MaxConnectionsPerChild 0",
            "LogLevel warn"])
        self.httpd = pyvt.Apache(gw.paths, gw.pg.conninfo, gw.key_file, root=root,
                                 log_level="warn", module_log_level=None, server_extra=extra,
                                 stream_socket="voxtwilio/stream.sock", helper=wrapper)
        self.httpd.start()
        stats = os.path.join(root, "run", "voxtwilio", "stream.stats")
        wait_for(lambda: os.path.exists(stats), 15, "the helper")
        self.url = "ws://127.0.0.1:%d/" % self.httpd.port
        self.pid = self.httpd.pid()
        with open(stats, "rb") as f:
            self.extra_pids = {"helper": int.from_bytes(f.read()[4:8], "little")}

    def client_args_for(self, n):
        return ["--sig-file", self.gw.sig_file(n, "127.0.0.1:%d" % self.httpd.port, False)]

    def stop(self):
        if self.httpd:
            self.httpd.stop()


TARGETS = {
    "node-peer": NodePeer,
    "helper": HelperDirect,
    "helper-apache": HelperApache,
}


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def wait_for(cond, seconds, what):
    end = time.time() + seconds
    while time.time() < end:
        if cond():
            return
        time.sleep(0.1)
    die("timed out waiting for " + what)


def stop_process(proc):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------- clients
def client_cmd(a, client, target, n, out):
    common = ["--n", str(n), "--duration", str(a.duration), "--pid", str(target.pid),
              "--late-ms", str(a.late_ms), "--json", out]
    if client == "node":
        url = target.url
        if target.unix:     # ws's own form: ws+unix:SOCKET:PATH
            url = "ws+unix:%s:%s" % (target.unix, "/" + target.url.split("/", 3)[3])
        return ["node", os.path.join(a.peer_dir, "load-client.js"), "--url", url] + common
    cmd = [os.path.join(a.build, "bench_stream_load"), "--url", target.url] + common
    if target.unix:
        cmd += ["--unix", target.unix]
    return cmd + (target.client_args_for(n) if hasattr(target, "client_args_for") else [])


def pid_ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            v = f.read().rsplit(")", 1)[1].split()
        return int(v[11]) + int(v[12])
    except (OSError, IndexError, ValueError):
        return None


def pid_rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def run_client(a, client, target, n):
    fd, out = tempfile.mkstemp(prefix="vt-stream-", suffix=".json")
    os.close(fd)
    cmd = client_cmd(a, client, target, n, out)
    extra = getattr(target, "extra_pids", {})
    before = {k: pid_ticks(v) for k, v in extra.items()}
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       errors="replace", timeout=a.duration + 120)
    wall = time.monotonic() - t0
    text = read(out)
    os.unlink(out)
    if not text:
        die("%s client wrote no result (exit %d):\n%s" % (client, p.returncode, p.stdout))
    r = json.loads(text)
    r["exit_status"] = p.returncode
    r["summary"] = p.stdout.strip()
    for k, pid in extra.items():
        after = pid_ticks(pid)
        if before.get(k) is not None and after is not None and r.get("frames_sent"):
            # over the whole client run (connects included): a slight overestimate
            r[k + "_us_per_frame"] = round((after - before[k]) / CLK_TCK * 1e6
                                           / r["frames_sent"], 1)
            r[k + "_cpu_pct"] = round((after - before[k]) / CLK_TCK / wall * 100, 1)
    pid = extra.get("helper") or (target.pid if target.name == "helper" else None)
    if pid:
        r["helper_rss_kb"] = pid_rss_kb(pid)
    derive(r)
    return r


def derive(r):
    """µs of CPU per frame, the same way for both clients (the Node one reports %)."""
    w, sent = r.get("window_s") or 0, r.get("frames_sent") or 0
    for who in ("server", "client"):
        pct = r.get(who + "_cpu_pct")
        r[who + "_us_per_frame"] = (round(pct / 100 * w * 1e6 / sent, 1)
                                    if pct is not None and sent else None)


# ---------------------------------------------------------------- runs
def run_point(a, target, n, client):
    """One measurement, repeated while something else on the machine disturbed it."""
    attempts = []
    for attempt in range(1, a.max_attempts + 1):
        busy, waited = wait_quiet(a.quiet_cores, a.quiet_wait)
        if target.pid and not os.path.exists("/proc/%d" % target.pid):
            die("%s is not running any more" % target.name)
        r = run_client(a, client, target, n)
        r.update(attempt=attempt, busy_before_cores=round(busy, 2), waited_s=waited)
        attempts.append(r)
        log("%-9s %-5s n=%-4d #%d %s" % (target.name, client, n, attempt,
                                         r["summary"].replace("\n", " | ")))
        time.sleep(a.pause)
        if (r.get("other_cpu_pct") or 0) <= a.other_max:
            break
        log("other CPU %.1f%% > %.1f%%: disturbed, again" % (r["other_cpu_pct"], a.other_max))
    return attempts


def warm_up(a, target):
    """A short run that is not recorded: JIT, caches, first connections."""
    w = argparse.Namespace(**vars(a))
    w.duration = 3
    for client in clients_for(a, target):
        run_client(w, client, target, min(a.streams))


def clients_for(a, target):
    return [c for c in a.clients if c in target.clients]


def run_target(a, name):
    target = TARGETS[name](a)
    log("starting %s" % name)
    target.start()
    runs = []
    try:
        if a.warmup:
            warm_up(a, target)
        for n in a.streams:
            for rep in range(a.repeat):
                clients = clients_for(a, target)
                order = clients if rep % 2 == 0 else clients[::-1]
                for client in order:
                    for r in run_point(a, target, n, client):
                        r.update(target=name, streams=n, client=client, repeat=rep + 1)
                        runs.append(r)
    finally:
        target.stop()
    return runs


# ---------------------------------------------------------------- results
def accepted(runs):
    """The last attempt of each point (the one kept)."""
    last = {}
    for r in runs:
        last[(r["target"], r["streams"], r["client"], r["repeat"])] = r
    return list(last.values())


def span(vals, fmt):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "n/a"
    lo, hi = min(vals), max(vals)
    return fmt % lo if fmt % lo == fmt % hi else (fmt + "–" + fmt) % (lo, hi)


def markdown(result):
    m, c = result["machine"], result["config"]
    lines = [
        "Run %s, %g s per point, %d repeats; %s (%d cores), %d MiB RAM. Ranges are over "
        "the repeats; CPU: 100 %% = one core; µs/frame = CPU / frames sent."
        % (result["date"], c["duration_s"], c["repeat"], m["cpu_model"], m["nproc"],
           m["mem_total_mib"]),
        "",
        "| target | streams | client | RTT p50 ms | RTT p99 ms | late % | missing | late sends "
        "| server CPU % | server µs/frame | client CPU % | client µs/frame | other CPU % |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = {}
    for r in accepted(result["runs"]):
        rows.setdefault((r["target"], r["streams"], r["client"]), []).append(r)
    for (t, n, cl), rs in rows.items():
        col = lambda k, f: span([x.get(k) for x in rs], f)  # noqa: E731
        lines.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            t, n, "Node load-client.js" if cl == "node" else "bench_stream_load",
            col("rtt_p50_ms", "%.2f"), col("rtt_p99_ms", "%.2f"), col("late_pct", "%.2f"),
            col("missing", "%d"), col("late_sends", "%d"), col("server_cpu_pct", "%.1f"),
            col("server_us_per_frame", "%.1f"), col("client_cpu_pct", "%.1f"),
            col("client_us_per_frame", "%.1f"), col("other_cpu_pct", "%.1f")))
    lines += ["", "Status: %s; %d measurements (%d repeated because other CPU was over "
              "%g %%); whole run %.0f s." % (
                  "OK" if result["ok"] else "FAILED: " + "; ".join(result["problems"]),
                  len(result["runs"]), len(result["runs"]) - len(accepted(result["runs"])),
                  c["other_max_pct"], result["elapsed_s"])]
    return "\n".join(lines) + "\n"


def problems_of(runs):
    out = []
    for r in accepted(runs):
        what = "%s n=%d %s #%d" % (r["target"], r["streams"], r["client"], r["repeat"])
        if r.get("connect_failed") or r.get("missing") or r.get("bad_echo"):
            out.append("%s: %s failed, %s missing, %s bad" % (
                what, r.get("connect_failed"), r.get("missing"), r.get("bad_echo")))
    return out


def write_results(d, result):
    os.makedirs(d, exist_ok=True)
    stamp = result["date"].replace(":", "").replace("-", "")
    text = json.dumps(result, indent=2) + "\n"
    for name in ("streams-%s.json" % stamp, "streams-latest.json"):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    md = markdown(result)
    with open(os.path.join(d, "streams-latest.md"), "w") as f:
        f.write(md)
    print()
    print(md)
    log("results: %s" % os.path.join(d, "streams-latest.json"))


# ---------------------------------------------------------------- main
def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, help="build dir with bench_stream_load")
    ap.add_argument("--peer-dir", required=True, help="stream-node copy with node_modules")
    ap.add_argument("--peer-port", type=int, default=3001)
    ap.add_argument("--targets", default=",".join(TARGETS), help="comma list: %s" % ",".join(TARGETS))
    ap.add_argument("--clients", default="node,c", help="comma list of node, c")
    ap.add_argument("--streams", default="50,200,500")
    ap.add_argument("--duration", type=float, default=20, help="seconds per measurement")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--late-ms", type=float, default=20)
    ap.add_argument("--other-max", type=float, default=10,
                    help="other CPU %% above which a measurement is disturbed and repeated")
    ap.add_argument("--max-attempts", type=int, default=3)
    ap.add_argument("--quiet-cores", type=float, default=0.15,
                    help="before each measurement, wait for the machine to use less")
    ap.add_argument("--quiet-wait", type=float, default=120, help="... for at most this long")
    ap.add_argument("--pause", type=float, default=2, help="seconds between measurements")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false")
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    a = ap.parse_args()
    a.targets = [t for t in a.targets.split(",") if t]
    a.clients = [c for c in a.clients.split(",") if c]
    a.streams = [int(n) for n in a.streams.split(",") if n]
    for t in a.targets:
        if t not in TARGETS:
            die("unknown target %s" % t)
    if not os.access(os.path.join(a.build, "bench_stream_load"), os.X_OK):
        die("no %s/bench_stream_load (make bench-tools)" % a.build)
    return a


def main():
    a = parse_args()
    t0 = time.time()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    runs = []
    for name in a.targets:
        runs += run_target(a, name)
    problems = problems_of(runs)
    result = {
        "date": date, "machine": machine_info(),
        "versions": {"node": first_line(["node", "--version"]),
                     "libwebsockets": first_line(["pkg-config", "--modversion",
                                                  "libwebsockets"]),
                     "git": first_line(["git", "-C", SRCDIR, "describe", "--always",
                                        "--dirty"])},
        "config": {"targets": a.targets, "clients": a.clients, "streams": a.streams,
                   "duration_s": a.duration, "repeat": a.repeat, "late_ms": a.late_ms,
                   "other_max_pct": a.other_max, "quiet_cores": a.quiet_cores},
        "runs": runs, "ok": not problems, "problems": problems,
        "elapsed_s": round(time.time() - t0, 1),
    }
    write_results(a.results, result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
