"""mod_voxtwilio load benchmark (run on demand by bench/run.sh; never part of `make check`).

Starts a throwaway PostgreSQL and a production-like Apache (event MPM on loopback,
LogLevel warn, access log on, KeepAlive on) through the pyvt harness, creates many tenants
with voxtwilio-admin, pre-signs large sets of Twilio webhooks (inbound, speech,
status-callback) over many tenants and CallSids, and drives them with wrk, together with a
bare "hello" handler (bench/mod_vt_hello.c) in the same httpd as the ceiling; PostgreSQL's
share of each point (bench/pg_stats.py); the Node/Express peer before and after the points
(bench/peer.py), each route given as ratios to it. Then it measures the Apache children's
memory before and after a fixed-size mixed run.

Results: bench/results/<UTC date>.json, bench/results/latest.json and latest.md. With
--soak MINUTES, only the soak (bench/soak.py), into soak-<UTC date>.json and soak-latest.*.
"""
import argparse
import datetime
import hashlib
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))

import pyvt  # noqa: E402
from pyvt import TwilioSigner  # noqa: E402

import peer  # noqa: E402
import pg_stats  # noqa: E402
import soak  # noqa: E402

ROUTES = ("inbound", "speech", "status-callback")
TARGETS = ("hello",) + ROUTES
SCRIPT_FILE = os.path.join(SRCDIR, "docs", "examples", "assistant-dental.json")
# Caller utterances: each matches an intent of the example script whose action is "none",
# so a turn is: tenant by call, script parsed and matched, turn written, <Gather> answered.
PHRASES = [
    ("What are your opening hours?", "0.93"),
    ("Hi, uh, where are you located exactly", "0.88"),
    ("How much does a check-up cost with insurance", "0.91"),
    ("Is there parking near you", "0.86"),
]
TURNS_PER_CALL = 3          # speech: turns 1..3 of each pre-created call
STATUSES = (("ringing", None), ("in-progress", None), ("completed", "37"))


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def die(msg):
    log("FAILED: " + msg)
    sys.exit(1)


def sh(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace", **kw)


# ---------------------------------------------------------------- machine
def machine_info():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "mem_total_mib": mem_kb // 1024,
        "kernel": platform.release(),
        "os": _os_release(),
    }


def _os_release():
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


def machine_busy_share(seconds):
    """Share of all CPUs busy over a short sample (before anything of ours runs)."""
    with open("/proc/stat") as f:
        a = [int(x) for x in f.readline().split()[1:]]
    time.sleep(seconds)
    with open("/proc/stat") as f:
        b = [int(x) for x in f.readline().split()[1:]]
    d = [y - x for x, y in zip(a, b)]
    idle = d[3] + d[4]
    return (sum(d) - idle) / max(1, sum(d))


def versions(paths, pg_bindir):
    def first(cmd):
        r = sh(cmd)
        return (r.stdout.strip().splitlines() or ["?"])[0]
    return {
        "apache": first([paths.httpd, "-v"]).replace("Server version: ", ""),
        "postgresql": first([os.path.join(pg_bindir, "postgres"), "--version"]),
        "wrk": first(["wrk", "-v"]).split(" Copyright")[0],
        "git": first(["git", "-C", SRCDIR, "describe", "--always", "--dirty"]),
    }


# ---------------------------------------------------------------- processes and memory
def proc_stats():
    """(pid, comm, fields after comm) of every process, from /proc/PID/stat: fields[1] is
    the ppid, fields[11] and fields[12] utime and stime in ticks."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        yield int(d), st[st.index("(") + 1:st.rindex(")")], st[st.rindex(")") + 2:].split()


def apache_children(parent_pid):
    """PIDs of the httpd children (the workers) of the parent, by /proc."""
    return sorted(pid for pid, comm, fields in proc_stats()
                  if int(fields[1]) == parent_pid and comm in ("apache2", "httpd"))


def proc_mem_kb(pid):
    """(VmRSS, Pss) in KiB for one process (Pss from smaps_rollup, None if unreadable)."""
    rss = pss = None
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def smaps_mappings(pid):
    """{(start address, size KiB, perms, path): RSS KiB} for one process."""
    out = {}
    key = None
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                first = line.split(None, 1)[0]
                if "-" in first and not first.endswith(":"):
                    parts = line.split()
                    lo, hi = (int(x, 16) for x in parts[0].split("-"))
                    key = (parts[0].split("-")[0], (hi - lo) // 1024, parts[1],
                           parts[5] if len(parts) > 5 else "")
                elif first == "Rss:" and key:
                    out[key] = int(line.split()[1])
    except OSError:
        pass
    return out


def smaps_summary(maps):
    """RSS (KiB) of one process (its smaps_mappings) by kind of mapping: the brk heap,
    anonymous mappings of exactly a thread stack's size (8 MiB: ThreadStackSize/ulimit -s),
    other anonymous mappings (glibc's per-thread malloc arenas and mmap'd large blocks, APR's
    pool blocks, which Debian's APR maps with mmap), files (code, data of libraries),
    everything else."""
    out = {"heap": 0, "thread_stacks": 0, "anon_other": 0, "files": 0, "other": 0}
    for (_start, size_kib, _perms, path), rss in maps.items():
        if path == "[heap]":
            kind = "heap"
        elif path == "":
            kind = "thread_stacks" if size_kib == 8192 else "anon_other"
        elif path.startswith("/"):
            kind = "files"
        else:
            kind = "other"
        out[kind] += rss
    return out


def mappings_growth(before, after, top=12):
    """The mappings whose RSS changed most between two smaps_mappings() of each child."""
    rows = []
    for pid, b in before.items():
        a = after.get(pid, {})
        for k in set(a) | set(b):
            d = a.get(k, 0) - b.get(k, 0)
            if d:
                rows.append({"pid": pid, "start": k[0], "size_kib": k[1], "perms": k[2],
                             "path": k[3], "rss_kib_before": b.get(k, 0),
                             "growth_kib": d})
    rows.sort(key=lambda r: -abs(r["growth_kib"]))
    return rows[:top]


def children_mem(parent_pid, detail=False):
    kids = apache_children(parent_pid)
    per = {}
    for k in kids:
        try:
            per[k] = proc_mem_kb(k)
        except OSError:
            pass
    res = {
        "pids": sorted(per),
        "rss_kib": sum(v[0] for v in per.values()),
        "pss_kib": sum(v[1] or 0 for v in per.values()),
        "per_child_rss_kib": {str(k): v[0] for k, v in sorted(per.items())},
    }
    if detail:
        by = {}
        writable = 0
        for k in per:
            maps = smaps_mappings(k)
            for kind, kib in smaps_summary(maps).items():
                by[kind] = by.get(kind, 0) + kib
            # The address space the child can write to (stacks, arenas, pool blocks): RSS
            # can only grow into what is mapped; a heap that grows maps more.
            writable += sum(size for (_s, size, perms, _p) in maps if "w" in perms)
        res["rss_by_mapping_kib"] = by
        res["writable_mapped_kib"] = writable
    return res


def heap_stats(httpd, pids):
    """glibc's view of each child's heap, from the hello module's vt-heapstats handler
    (mallinfo2 in the child that serves the request). in_use is what the program holds (a
    leak grows it); free is what the allocator keeps in its bins; system is what it holds
    from the kernel. A fresh connection per request lands on any child: asks until every
    child has answered (None if one never does)."""
    per = {}
    url = httpd.url("/heapstats")
    for _ in range(400):
        if all(str(p) in per for p in pids):
            break
        with urllib.request.urlopen(urllib.request.Request(
                url, headers={"Connection": "close"}), timeout=10) as resp:
            pid, in_use, free, system = (int(x) for x in resp.read().split())
        per[str(pid)] = {"in_use_bytes": in_use, "free_bytes": free, "system_bytes": system}
    if not all(str(p) in per for p in pids):
        return None
    per = {str(p): per[str(p)] for p in pids}
    out = {k: sum(v[k] for v in per.values())
           for k in ("in_use_bytes", "free_bytes", "system_bytes")}
    out["per_child"] = per
    return out


def parent_mem(parent_pid):
    rss, pss = proc_mem_kb(parent_pid)
    return {"rss_kib": rss, "pss_kib": pss}


# ---------------------------------------------------------------- tenants
class Tenant:
    def __init__(self, slug, account_sid, token, number, company_id):
        self.slug, self.account_sid, self.token = slug, account_sid, token
        self.number, self.company_id = number, company_id


def create_tenants(admin, pg, n):
    tenants = []
    for i in range(n):
        slug = "bench-%03d" % i
        name = "Bench Clinic %03d" % i
        sid = pyvt.new_account_sid()
        token = pyvt.new_auth_token()
        number = "+1555%07d" % (1000000 + i)
        r = admin("company", "add", slug, "--name", name, "--greeting",
                  "Thank you for calling %s. How can I help you today?" % name,
                  "--voice", "Polly.Joanna", "--language", "en-US")
        if r.rc != 0:
            die("company add: %r" % (r,))
        r = admin("integration", "add", slug, "--account-sid", sid, "--number", number,
                  input=token + "\n")
        if r.rc != 0:
            die("integration add: %r" % (r,))
        r = admin("assistant", "import", slug, SCRIPT_FILE)
        if r.rc != 0:
            die("assistant import: %r" % (r,))
        cid = int(pg.scalar("SELECT id FROM companies WHERE slug = '%s'" % slug))
        tenants.append(Tenant(slug, sid, token, number, cid))
    return tenants


def call_sid(tag, i):
    """Deterministic CallSids, so PostgreSQL can pre-create the same ones (md5 in SQL)."""
    return "CA" + hashlib.md5(("%s-%d" % (tag, i)).encode()).hexdigest()


def caller_number(i):
    return "+1415%07d" % (5550000 + i % 4000000)


def precreate_calls(pg, tenants, tag, count, status, rank):
    """count calls 'CA'||md5(tag-i), tenant i % len(tenants), as the inbound webhook leaves
    them (the speech and status-callback points need existing calls)."""
    if count <= 0:
        return
    ids = ",".join(str(t.company_id) for t in tenants)
    nums = ",".join('"%s"' % t.number for t in tenants)
    pg.psql(
        "INSERT INTO calls (call_sid, company_id, direction, from_number, to_number, status, "
        "status_rank) SELECT 'CA' || md5('%s-' || i), (ARRAY[%s]::bigint[])[i %% %d + 1], "
        "'inbound', '+1415' || lpad((5550000 + i %% 4000000)::text, 7, '0'), "
        "('{%s}'::text[])[i %% %d + 1], '%s', %d FROM generate_series(0, %d) AS i "
        "ON CONFLICT (call_sid) DO NOTHING"
        % (tag, ids, len(tenants), nums, len(tenants), status, rank, count - 1))


# ---------------------------------------------------------------- pre-signed requests
class Signer:
    """Builds signed webhook lines for one Apache (the URL Twilio signs uses its Host)."""

    def __init__(self, base_url, tenants):
        self.base = base_url.rstrip("/")
        self.tenants = tenants

    def line(self, path, params, tenant):
        sig = TwilioSigner.sign(tenant.token, self.base + path, params)
        body = urllib.parse.urlencode(params)
        return "%s\t%s\t%s\t%s\n" % (path, sig, uuid.uuid4(), body)

    def inbound(self, tag, i):
        t = self.tenants[i % len(self.tenants)]
        p = pyvt.voice_params(t.account_sid, caller_number(i), t.number,
                              call_sid=call_sid(tag, i), call_status="ringing")
        return self.line("/voice/inbound", p, t)

    def speech(self, tag, calls, j):
        """Request j: call j % calls, turn j // calls + 1 (each call's turns in order)."""
        i, turn = j % calls, j // calls + 1
        t = self.tenants[i % len(self.tenants)]
        text, conf = PHRASES[(i + turn) % len(PHRASES)]
        p = pyvt.voice_params(t.account_sid, caller_number(i), t.number,
                              call_sid=call_sid(tag, i), call_status="in-progress",
                              extra=[("SpeechResult", text), ("Confidence", conf),
                                     ("Language", "en-US")])
        return self.line("/voice/speech?t=%d&ni=0&nm=0" % turn, p, t)

    def status(self, tag, calls, j):
        """Request j: call j % calls, the (j // calls)-th status with its SequenceNumber."""
        i, seq = j % calls, j // calls
        t = self.tenants[i % len(self.tenants)]
        status, duration = STATUSES[seq]
        extra = [("SequenceNumber", str(seq)), ("CallbackSource", "call-progress-events"),
                 ("Timestamp", time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()))]
        if duration:
            extra += [("CallDuration", duration), ("Duration", "1")]
        p = pyvt.voice_params(t.account_sid, caller_number(i), t.number,
                              call_sid=call_sid(tag, i), call_status=status, extra=extra)
        p = [kv for kv in p if kv[0] not in ("CallToken", "StirVerstat")]
        return self.line("/voice/status-callback", p, t)

    def hello(self, i):
        t = self.tenants[i % len(self.tenants)]
        p = pyvt.voice_params(t.account_sid, caller_number(i), t.number, call_sid=call_sid("h", i))
        return self.line("/hello", p, t)


def write_requests(path, signer, pg, target, tag, n):
    """Writes n distinct pre-signed requests for target; creates the calls they need."""
    t0 = time.monotonic()
    with open(path, "w") as f:
        if target == "hello":
            for i in range(n):
                f.write(signer.hello(i))
        elif target == "inbound":
            for i in range(n):
                f.write(signer.inbound(tag, i))
        elif target == "speech":
            calls = math.ceil(n / TURNS_PER_CALL)
            precreate_calls(pg, signer.tenants, tag, calls, "in-progress", 3)
            for j in range(n):
                f.write(signer.speech(tag, calls, j))
        elif target == "status-callback":
            calls = math.ceil(n / len(STATUSES))
            precreate_calls(pg, signer.tenants, tag, calls, "ringing", 2)
            for j in range(n):
                f.write(signer.status(tag, calls, j))
        elif target == "mixed":
            # one third each, interleaved: a new call, a turn of an existing call, a status
            # callback of another existing call
            k = math.ceil(n / 3)
            sc = math.ceil(k / TURNS_PER_CALL)
            cc = math.ceil(k / len(STATUSES))
            precreate_calls(pg, signer.tenants, tag + "s", sc, "in-progress", 3)
            precreate_calls(pg, signer.tenants, tag + "c", cc, "ringing", 2)
            for j in range(k):
                f.write(signer.inbound(tag + "i", j))
                f.write(signer.speech(tag + "s", sc, j))
                f.write(signer.status(tag + "c", cc, j))
        else:
            raise ValueError(target)
    return time.monotonic() - t0


# ---------------------------------------------------------------- CPU accounting
CLK_TCK = os.sysconf("SC_CLK_TCK")


def machine_ticks():
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v) - idle, sum(v)


def all_proc_ticks():
    """{pid: (ppid, ticks)} of every process."""
    return {pid: (int(fields[1]), int(fields[11]) + int(fields[12]))
            for pid, _comm, fields in proc_stats()}


class CpuMeter:
    """CPU time between two snapshots: Apache (parent and children), PostgreSQL (postmaster
    and its processes), wrk (its rusage), this script, every other process ("others": load
    that is not ours) and what no process was charged for ("kernel": mostly the loopback
    network's softirq work), out of the whole machine's CPU time."""

    def __init__(self, httpd, pg):
        self.httpd, self.pg = httpd, pg

    def _roots(self):
        pm = None
        try:
            with open(os.path.join(self.pg.datadir, "postmaster.pid")) as f:
                pm = int(f.readline())
        except (OSError, ValueError):
            pass
        return self.httpd.pid(), pm

    def snapshot(self):
        return {"procs": all_proc_ticks(), "roots": self._roots(), "machine": machine_ticks()}

    @staticmethod
    def delta(a, b, wrk_cpu_s):
        ap_root, pg_root = b["roots"]
        me = os.getpid()
        sums = {"apache": 0, "pg": 0, "bench": 0, "others": 0}
        for pid, (ppid, ticks) in b["procs"].items():
            d = ticks - a["procs"].get(pid, (0, 0))[1]
            if pid == ap_root or ppid == ap_root:
                sums["apache"] += d
            elif pid == pg_root or ppid == pg_root:
                sums["pg"] += d
            elif pid == me or ppid == me:
                sums["bench"] += d
            else:
                sums["others"] += d
        out = {k: v / CLK_TCK for k, v in sums.items()}
        out["wrk"] = wrk_cpu_s
        busy = (b["machine"][0] - a["machine"][0]) / CLK_TCK
        out["machine_busy"] = busy
        out["machine_total"] = (b["machine"][1] - a["machine"][1]) / CLK_TCK
        out["kernel"] = max(0.0, busy - sum(out[k] for k in ("apache", "pg", "bench",
                                                             "others", "wrk")))
        return out


# ---------------------------------------------------------------- wrk
def run_wrk(url, reqfile, connections, threads, duration=None, limit=0, timeout_s=10,
            meter=None, pause_ms=0):
    """Runs wrk with bench/replay.lua. limit > 0: stops after about limit responses.
    pause_ms > 0: each connection waits that long between a response and its next request."""
    marker = None
    if limit:
        marker = tempfile.mktemp(prefix="wrk-done-", dir=os.path.dirname(reqfile))
    cmd = ["wrk", "-t%d" % threads, "-c%d" % connections, "--latency",
           "--timeout", "%ds" % timeout_s, "-s", os.path.join(HERE, "replay.lua")]
    cmd += ["-d%ds" % (duration if duration else 3600)]
    cmd += [url, "--", reqfile, str(threads), str(limit), marker or ""]
    if pause_ms:
        cmd.append(str(int(pause_ms)))
    snap0 = meter.snapshot() if meter else None
    outf = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, stdout=outf, stderr=subprocess.STDOUT)
    if marker:
        markers = ["%s.%d" % (marker, i) for i in range(threads)]
        while proc.poll() is None and not all(os.path.exists(m) for m in markers):
            time.sleep(0.05)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    snap1 = meter.snapshot() if meter else None
    outf.seek(0)
    out = outf.read()
    outf.close()
    if marker:
        for i in range(threads):
            try:
                os.unlink("%s.%d" % (marker, i))
            except OSError:
                pass
    m = re.search(r"^VTBENCH_JSON (.*)$", out, re.M)
    if proc.returncode != 0 or not m:
        die("wrk failed (rc %d): %s\n%s" % (proc.returncode, " ".join(cmd), out[-3000:]))
    res = json.loads(m.group(1))
    res["wrk_output"] = out.replace(m.group(0), "").strip()
    if meter:
        cpu = CpuMeter.delta(snap0, snap1, ru.ru_utime + ru.ru_stime)
        n = max(1, res["requests"])
        res["cpu_s"] = {k: round(v, 2) for k, v in cpu.items()}
        res["cpu_us_per_request"] = {k: round(cpu[k] * 1e6 / n, 1)
                                     for k in ("apache", "pg", "wrk", "kernel", "others")}
        res["machine_utilisation"] = round(cpu["machine_busy"] / max(1e-9, cpu["machine_total"]),
                                           3)
    return res


def row_counts(pg):
    row = pg.psql("SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM call_events), "
                  "(SELECT count(*) FROM call_turns), (SELECT count(*) FROM jobs)")[0]
    return dict(zip(("calls", "call_events", "call_turns", "jobs"), (int(x) for x in row)))


def db_connections(pg):
    """Client connections to PostgreSQL other than this query's own (the children's DBD
    pools and the helper): a new one is a PGconn and its buffers in some child's heap."""
    return int(pg.psql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                       "'client backend' AND pid <> pg_backend_pid()")[0][0])


def diff_counts(a, b):
    return {k: b[k] - a[k] for k in a}


def sanity_check(url, reqfile, target):
    """Sends the first request of reqfile with requests and checks the answer: TwiML with
    a <Gather> for inbound, hello and speech (speech: an intent's reply, not the script's
    fallback), 204 for status-callback."""
    import requests
    with open(SCRIPT_FILE) as f:
        fallback = json.load(f)["fallback"]
    with open(reqfile) as f:
        path, sig, idem, body = f.readline().rstrip("\n").split("\t")
    r = requests.post(url + path, data=body, timeout=10, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sig,
        "I-Twilio-Idempotency-Token": idem, "User-Agent": "TwilioProxy/1.1"})
    if target == "status-callback":
        good = r.status_code == 204
    else:
        good = (r.status_code == 200 and r.headers.get("Content-Type", "").startswith("text/xml")
                and "<Gather" in r.text
                and (target != "speech" or fallback not in r.text))
    if not good:
        die("sanity check of %s %s: HTTP %d %s" % (target, path, r.status_code, r.text[:500]))


# ---------------------------------------------------------------- Apache config
def apache_extra(hello_so, threads_per_child, servers, dbd, mkr):
    return "\n".join([
        "LoadModule vt_hello_module %s" % hello_so,
        "# production-like event MPM: a fixed number of children, no process recycling",
        "StartServers %d" % servers,
        "# scoreboard headroom for children that are exiting (as in any real config)",
        "ServerLimit %d" % (servers + 2),
        "ThreadLimit %d" % threads_per_child,
        "ThreadsPerChild %d" % threads_per_child,
        "MaxRequestWorkers %d" % (servers * threads_per_child),
        "MinSpareThreads %d" % min(25, threads_per_child),
        "MaxSpareThreads %d" % (servers * threads_per_child),
        "MaxConnectionsPerChild 0",
        "KeepAliveTimeout 5",
        "MaxKeepAliveRequests %d" % mkr,
        "DBDMin %d" % dbd[0],
        "DBDKeep %d" % dbd[1],
        "DBDMax %d" % dbd[2],
        "DBDExptime 300",
    ])


HELLO_VHOST = "\n".join([
    "    <Location /hello>",
    "        SetHandler vt-hello",
    "    </Location>",
    "    <Location /heapstats>",
    "        SetHandler vt-heapstats",
    "    </Location>",
])


def build_hello(work):
    d = os.path.join(work, "hello")
    os.makedirs(d, exist_ok=True)
    shutil.copy(os.path.join(HERE, "mod_vt_hello.c"), d)
    apxs = shutil.which("apxs") or shutil.which("apxs2")
    if not apxs:
        die("apxs not found (apt-get install apache2-dev)")
    r = sh([apxs, "-c", "-Wc,-O2", "mod_vt_hello.c"], cwd=d)
    so = os.path.join(d, ".libs", "mod_vt_hello.so")
    if r.returncode != 0 or not os.path.exists(so):
        die("apxs -c mod_vt_hello.c failed:\n" + r.stdout)
    return so


# ---------------------------------------------------------------- the run
def main():
    ap = argparse.ArgumentParser(description="mod_voxtwilio load benchmark")
    ap.add_argument("--quick", action="store_true", help="5 s per point (default 15 s)")
    ap.add_argument("--build", default=os.path.join(SRCDIR, "build-bench"),
                    help="build directory with .libs/mod_voxtwilio.so and voxtwilio-admin")
    ap.add_argument("--duration", type=int, help="seconds per point")
    ap.add_argument("--connections", default="32,128")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--tenants", type=int, default=50)
    ap.add_argument("--mem-requests", type=int, default=100000)
    ap.add_argument("--mem-connections", type=int, default=8)
    ap.add_argument("--mem-threads-per-child", type=int, default=16,
                    help="ThreadsPerChild of the memory runs' Apache (>= --mem-connections)")
    ap.add_argument("--mem-warmup", type=int, default=150000,
                    help="mixed webhooks sent before the memory run's first figure")
    ap.add_argument("--mem-target", default="mixed", choices=("mixed",) + TARGETS,
                    help="what the memory runs send (default: the three webhooks mixed)")
    ap.add_argument("--mem-dbd", help="DBDMin,DBDKeep,DBDMax of the memory runs "
                    "(default 4,16,32, as in docs/performance.md#memory)")
    ap.add_argument("--config", action="append", default=[],
                    help="an extra server-level directive for the throughput points' Apache "
                         "(repeatable), e.g. 'VoxTwilioAssistantCache 0'")
    ap.add_argument("--targets", default=",".join(TARGETS),
                    help="the throughput points' targets (hello is always run: it is the "
                         "ceiling the others are compared with)")
    ap.add_argument("--no-mem", action="store_true", help="skip the memory runs")
    ap.add_argument("--mem-config", action="append", default=[],
                    help="an extra server-level directive for the memory runs' Apache "
                         "(repeatable), e.g. 'MaxMemFree 256'")
    ap.add_argument("--mem-only", action="store_true",
                    help="only the memory runs (no throughput points)")
    ap.add_argument("--no-mem-control", action="store_true",
                    help="skip the second memory run with glibc's tcache off")
    ap.add_argument("--mem-segments", type=int, default=4,
                    help="the memory run in this many equal wrk runs (RSS after each)")
    ap.add_argument("--threads-per-child", type=int, default=160,
                    help="ThreadsPerChild (>= the largest connection count: see "
                         "docs/performance.md)")
    ap.add_argument("--servers", type=int, default=2, help="Apache children")
    ap.add_argument("--max-keepalive-requests", type=int, default=100)
    ap.add_argument("--dbd", default="1,2,4",
                    help="DBDMin,DBDKeep,DBDMax (per child; docs/performance.md, pool sizing)")
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--no-peer", action="store_true",
                    help="skip the Node peer's runs (before and after the points)")
    ap.add_argument("--sync-commit", action="store_true",
                    help="PostgreSQL (ours and the peer's) with fsync, synchronous_commit "
                    "and full_page_writes on: a disk flush per commit, as in production")
    ap.add_argument("--soak", type=float, metavar="MINUTES",
                    help="only the soak (bench/soak.py): the three routes mixed for MINUTES "
                    "at half the measured maximum; results in soak-latest.*")
    ap.add_argument("--soak-rate", type=float, help="the soak's req/s (default: half the "
                    "mixed maximum measured at its start)")
    ap.add_argument("--soak-connections", type=int, default=32)
    ap.add_argument("--soak-segment-s", type=int, default=60,
                    help="seconds per soak segment (a p99 and the children's RSS each)")
    ap.add_argument("--no-pg-stats", action="store_true",
                    help="no pg_stat_statements (the per-route PostgreSQL breakdown)")
    a = ap.parse_args()
    duration = a.duration or (5 if a.quick else 15)
    conns = [int(c) for c in a.connections.split(",")]
    dbd = [int(x) for x in a.dbd.split(",")]
    mem_dbd = [int(x) for x in (a.mem_dbd or "4,16,32").split(",")]  # as measured before
    background = machine_busy_share(3)
    log("machine busy before the run (3 s sample, all cores): %.0f%%" % (100 * background))
    if background > 0.10:
        log("WARNING: something else is using the CPU; the figures will be low and noisy")
    started = time.monotonic()
    started_at = datetime.datetime.now(datetime.timezone.utc)

    paths = pyvt.Paths(builddir=a.build, srcdir=SRCDIR)
    for f in (paths.module_so, paths.admin_bin):
        if not os.path.exists(f):
            die("%s is missing (bench/run.sh builds it)" % f)
    if not shutil.which("wrk"):
        die("wrk is missing (apt-get install wrk)")

    work = tempfile.mkdtemp(prefix="vt-bench-", dir="/tmp")
    os.chmod(work, 0o755)
    log("work directory %s" % work)
    pg = ap_ = None
    ok = False
    try:
        hello_so = build_hello(work)
        log("hello module built: %s" % hello_so)

        pg = pyvt.PgCluster(base_dir=os.path.join(work, "pg"),
                            extra_conf=("" if a.no_pg_stats else pg_stats.EXTRA_CONF)
                            + (peer.DURABLE if a.sync_commit else ""))
        pg.start()
        log("PostgreSQL on 127.0.0.1:%d" % pg.port)
        pgp = None
        if not a.no_pg_stats:
            pgp = pg_stats.PgPoint(pg)
            pgp.enable()
        key_file = os.path.join(work, "voxtwilio.keys")
        admin = pyvt.Admin(paths.admin_bin, pg.conninfo, key_file)
        r = admin.run("keys", "generate", key_file, db=None, key_file=None, api_base=None)
        if r.rc != 0:
            die("keys generate: %r" % (r,))
        r = admin("migrate")
        if r.rc != 0:
            die("migrate: %r" % (r,))
        t0 = time.monotonic()
        tenants = create_tenants(admin, pg, a.tenants)
        log("%d tenants created with voxtwilio-admin in %.1f s" % (len(tenants),
                                                                  time.monotonic() - t0))

        extra = "\n".join([apache_extra(hello_so, a.threads_per_child, a.servers, dbd,
                                        a.max_keepalive_requests)] + a.config)
        httpd = pyvt.Apache(paths, pg.conninfo, key_file, root=os.path.join(work, "httpd"),
                            log_level="warn", module_log_level=None, server_extra=extra,
                            vhost_extra=HELLO_VHOST)
        ap_ = httpd
        httpd.start()
        start_msgs = (httpd.last_start.stdout + httpd.last_start.stderr).strip()
        if start_msgs:
            die("apache2 -k start said (the configuration is not what it should be):\n"
                + start_msgs)
        log("Apache (event MPM, %d children x %d threads, DBD %s) on %s"
            % (a.servers, a.threads_per_child, a.dbd, httpd.base_url()))
        signer = Signer(httpd.base_url(), tenants)
        meter = CpuMeter(httpd, pg)
        load_before = os.getloadavg()
        url = httpd.base_url()
        reqdir = os.path.join(work, "requests")
        os.makedirs(reqdir)

        # Sanity: one request of each kind gets the answer it should.
        for target in TARGETS:
            f = os.path.join(reqdir, "check-%s.txt" % target)
            write_requests(f, signer, pg, target, "chk" + target[:2], 3)
            sanity_check(url, f, target)

        # Calibration (also the warm-up: every child opens its DBD connections and
        # prepares its statements): a short run per target sizes the request files so
        # that no point has to repeat a request.
        estimate = {}
        points = []
        cal_s = 2 if a.quick else 3
        targets = ["hello"] + [t for t in a.targets.split(",") if t in ROUTES]
        only_points = a.mem_only or a.soak
        for target in (() if only_points else targets):
            f = os.path.join(reqdir, "cal-%s.txt" % target)
            write_requests(f, signer, pg, target, "cal" + target[:2], 4000)
            res = run_wrk(url, f, min(conns), a.threads, duration=cal_s)
            estimate[target] = res["rps"]
            log("calibration %-16s %8.0f req/s" % (target, res["rps"]))

        peer_runs, peer_problems = [], []
        peer_why = "--no-peer" if a.no_peer or only_points else peer.available()
        if peer_why:
            log("the Node peer is not run: %s" % peer_why)
        else:
            peer.durability(a.sync_commit, log)
            peer.run_into(peer_runs, peer_problems, conns, duration, a.threads, log)
        for c in (() if only_points else conns):
            for target in targets:
                n = int(estimate[target] * duration * 2) + 2000
                if target == "hello":
                    n = min(n, 20000)   # the hello body is constant: repeats cost nothing
                n += (-n) % a.threads
                f = os.path.join(reqdir, "%s-c%d.txt" % (target, c))
                gen_s = write_requests(f, signer, pg, target, "p%d%s" % (c, target[:2]), n)
                before = row_counts(pg)
                log("%-16s c=%-3d %d pre-signed requests (%.1f s); running %d s"
                    % (target, c, n, gen_s, duration))
                if pgp:
                    pgp.start()
                res = run_wrk(url, f, c, a.threads, duration=duration, meter=meter)
                if pgp:
                    res["pg_stats"] = pgp.finish(res["requests"])
                res["rows_written"] = diff_counts(before, row_counts(pg))
                res.update(target=target, connections=c, threads=a.threads,
                           duration_s=duration)
                os.unlink(f)
                points.append(res)
                log("%-16s c=%-3d %9.1f req/s  p50 %.2f ms  p99 %.2f ms  non-2xx %d  "
                    "errors %s  wraps %d  rows %s" % (target, c, res["rps"],
                                                      res["latency_us"]["p50"] / 1000.0,
                                                      res["latency_us"]["p99"] / 1000.0,
                                                      res["non2xx"], res["errors"], res["wraps"],
                                                      res["rows_written"]))
                log("%-16s c=%-3d CPU us/request: %s; machine busy %.0f%%"
                    % (target, c, res["cpu_us_per_request"],
                       100 * res["machine_utilisation"]))
                if res["cpu_s"]["others"] > 0.05 * res["cpu_s"]["machine_total"]:
                    log("WARNING: other processes used %.1f of %.1f CPU-seconds during this "
                        "point: the machine is not quiet" % (res["cpu_s"]["others"],
                                                             res["cpu_s"]["machine_total"]))
        if not peer_why:
            peer.run_into(peer_runs, peer_problems, conns, duration, a.threads, log)
        for p in points:
            h = next(x for x in points if x["target"] == "hello"
                     and x["connections"] == p["connections"])
            p["ratio_to_hello"] = {
                "rps": round(p["rps"] / h["rps"], 4),
                "p50": round(p["latency_us"]["p50"] / max(1, h["latency_us"]["p50"]), 2),
                "p99": round(p["latency_us"]["p99"] / max(1, h["latency_us"]["p99"]), 2),
            }

        soaked = soak.run(sys.modules[__name__], a, httpd, signer, pg, reqdir, log) \
            if a.soak else None

        # Memory: an Apache of its own (fewer threads, so that the warm-up reaches every
        # thread: see docs/performance.md), a warm-up, then a fixed-size mixed run.
        log_text = httpd.read_log()
        bad_log = pyvt.scan_log_text(log_text)
        httpd.stop()
        memory = control = None
        if not a.no_mem and not a.soak:
            mem_httpd = pyvt.Apache(paths, pg.conninfo, key_file,
                                    root=os.path.join(work, "httpd-mem"),
                                    log_level="warn", module_log_level=None,
                                    server_extra="\n".join(
                                        [apache_extra(hello_so, a.mem_threads_per_child,
                                                      a.servers, mem_dbd,
                                                      a.max_keepalive_requests)]
                                        + a.mem_config),
                                    vhost_extra=HELLO_VHOST)
            ap_ = mem_httpd
            mem_signer = Signer(mem_httpd.base_url(), tenants)
            log("memory runs: Apache with %d children x %d threads, %d connections"
                % (a.servers, a.mem_threads_per_child, a.mem_connections))
            memory = memory_run(a, mem_httpd, mem_signer, pg, reqdir, a.mem_segments)
            if not a.no_mem_control:
                log("memory control run: the same, with glibc's per-thread malloc cache off")
                control = memory_run(a, mem_httpd, mem_signer, pg, reqdir, a.mem_segments,
                                     tag="c", glibc_tunables="glibc.malloc.tcache_count=0")
            # The memory runs' warm-up occupies every worker on purpose (see memory_run):
            # the MPM says so (AH00484, AH10159); anything else counts.
            mem_log = mem_httpd.read_log()
            bad_log += pyvt.scan_log_text(
                mem_log, expected=[r"AH00484: server reached MaxRequestWorkers",
                                   r"AH10159: server is within MinSpareThreads"])
            log_text += mem_log
        problems = list(peer_problems)
        for p in points:
            e = p["errors"]
            if p["non2xx"] or e["connect"] or e["read"] or e["write"] or e["timeout"]:
                problems.append("%s c=%d: non-2xx %d, socket errors %s (first bad: %s)"
                                % (p["target"], p["connections"], p["non2xx"], e,
                                   p.get("first_bad")))
            if p["wraps"] and p["target"] != "hello":
                problems.append("%s c=%d: the request file wrapped %d times (repeated "
                                "deliveries: fewer rows written)" % (p["target"],
                                                                   p["connections"], p["wraps"]))
        for name, mem in (("memory run", memory), ("memory control run", control)):
            if not mem:
                continue
            mr = mem["run"]
            if mr["non2xx"] or any(mr["errors"][k] for k in ("connect", "read", "write",
                                                             "timeout")):
                problems.append("%s: non-2xx %d, socket errors %s" % (name, mr["non2xx"],
                                                                      mr["errors"]))
            if mr["wraps"]:
                problems.append("%s: the request files wrapped %d times" % (name, mr["wraps"]))
        if soaked:
            problems += soak.problems(soaked)
        if bad_log:
            problems.append("%d error-log lines, first: %s" % (len(bad_log), bad_log[0]))

        elapsed = time.monotonic() - started
        result = {
            "date": started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "elapsed_s": round(elapsed, 1),
            "ok": not problems,
            "problems": problems,
            "machine": machine_info(),
            "versions": versions(paths, pg.bindir),
            "config": {
                "quick": a.quick, "duration_s": duration, "connections": conns,
                "wrk_threads": a.threads, "tenants": len(tenants),
                "apache": {"mpm": "event", "servers": a.servers,
                           "threads_per_child": a.threads_per_child,
                           "memory_runs_threads_per_child": a.mem_threads_per_child,
                "memory_runs_extra_config": a.mem_config,
                "extra_config": a.config,
                "memory_runs_dbd_min_keep_max": mem_dbd,
                           "dbd_min_keep_max": dbd, "log_level": "warn", "access_log": True,
                           "keepalive": True,
                           "max_keepalive_requests": a.max_keepalive_requests},
                "postgresql": "pyvt throwaway cluster: %s%s" % (
                    "fsync=on, synchronous_commit=on, full_page_writes=on (the peer's too)"
                    if a.sync_commit else "fsync=off, synchronous_commit=off",
                    "" if a.no_pg_stats else ", pg_stat_statements"),
                "speech_turns_per_call": TURNS_PER_CALL,
                "status_callbacks_per_call": len(STATUSES),
            },
            "calibration_rps": {k: round(v, 1) for k, v in estimate.items()},
            "peer": {"runs": peer_runs, "ratios": peer.ratios(points, peer_runs),
                     "not_run": peer_why},
            "points": [{k: v for k, v in p.items() if k != "wrk_output"} for p in points],
            "memory": memory,
            "soak": soaked,
            "memory_control_tcache_off": control,
            "loadavg_before": [round(x, 2) for x in load_before],
            "machine_busy_before_run": round(background, 3),
            "error_log_lines": len([l for l in log_text.splitlines() if l.strip()]),
        }
        write_results(a.results, result, "soak-" if soaked else "")
        for p in problems:
            log("PROBLEM: " + p)
        log("done in %.0f s" % elapsed)
        ok = not problems
    finally:
        if ap_ is not None:
            try:
                ap_.stop()
            except Exception as e:  # noqa: BLE001
                log("stopping Apache: %s" % e)
        if pg is not None:
            try:
                pg.stop(mode="immediate")
            except Exception as e:  # noqa: BLE001
                log("stopping PostgreSQL: %s" % e)
        if a.keep or not ok:
            log("work directory kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


def memory_run(a, httpd, signer, pg, reqdir, segments=4, tag="m", glibc_tunables=None):
    """A fresh Apache; a warm-up; then mem_requests mixed webhooks in `segments` equal wrk
    runs, the children's memory taken before, between and after them. glibc_tunables: the
    GLIBC_TUNABLES Apache runs with (the control run switches glibc's per-thread cache off)."""
    httpd.stop()
    saved = os.environ.get("GLIBC_TUNABLES")
    if glibc_tunables:
        os.environ["GLIBC_TUNABLES"] = glibc_tunables
    try:
        httpd.start()
    finally:
        if saved is None:
            os.environ.pop("GLIBC_TUNABLES", None)
        else:
            os.environ["GLIBC_TUNABLES"] = saved
    parent = httpd.pid()
    time.sleep(1)
    cold = children_mem(parent)
    log("memory: Apache restarted (parent pid %d), children RSS %d KiB"
        % (parent, cold["rss_kib"]))
    warm_n = a.mem_warmup
    warm = os.path.join(reqdir, "mem-warm.txt")
    # Each file has a few more lines than the run sends: the responses still in flight when
    # a wrk thread reaches its share must not wrap round to repeated deliveries.
    warm_conns = max(a.mem_connections, a.servers * a.mem_threads_per_child)
    write_requests(warm, signer, pg, a.mem_target, tag + "w", warm_n + 3 * warm_conns)
    spare = 3 * a.mem_connections
    seg_n = math.ceil(a.mem_requests / segments)
    seg_n += (-seg_n) % (3 * a.threads)
    files = []
    t0 = time.monotonic()
    for k in range(segments):
        f = os.path.join(reqdir, "mem-%d.txt" % k)
        write_requests(f, signer, pg, a.mem_target, "%sm%d" % (tag, k), seg_n + spare)
        files.append(f)
    log("memory: %d x %d pre-signed mixed requests (%.1f s)" % (segments, seg_n,
                                                              time.monotonic() - t0))
    # Warm-up: every worker thread of every child has served requests (as many connections
    # as threads: the event MPM gives work to the most recently idle thread, so at fewer
    # connections some threads would meet their first requests only during the measured
    # run), and every child has opened DBD connections and prepared its statements.
    run_wrk(httpd.base_url(), warm, warm_conns, a.threads, limit=warm_n, duration=600)
    # The heap figures come from a request: its code and its connection are warmed up too.
    heap_stats(httpd, apache_children(parent))
    time.sleep(1)
    before = children_mem(parent, detail=True)
    maps0 = {p: smaps_mappings(p) for p in before["pids"]}
    before_parent = parent_mem(parent)
    counts0 = row_counts(pg)
    heap0 = heap_stats(httpd, before["pids"])
    dbc0 = db_connections(pg)
    steps = [{"requests": 0, "rss_kib": before["rss_kib"], "pss_kib": before["pss_kib"],
              "rss_by_mapping_kib": before["rss_by_mapping_kib"], "heap": heap0,
              "writable_mapped_kib": before["writable_mapped_kib"],
              "db_connections": dbc0}]
    log("memory: after the warm-up children RSS %d KiB, %d DB connections"
        % (before["rss_kib"], dbc0))
    if heap0:
        log("memory: heap in use %d B, free in the allocator %d B, held %d B (mallinfo2)"
            % (heap0["in_use_bytes"], heap0["free_bytes"], heap0["system_bytes"]))
    total = 0
    runs = []
    t0 = time.monotonic()
    for f in files:
        res = run_wrk(httpd.base_url(), f, a.mem_connections, a.threads, limit=seg_n,
                      duration=1800)
        runs.append(res)
        total += res["requests"]
        time.sleep(0.5)
        m = children_mem(parent, detail=True)
        heap = heap_stats(httpd, m["pids"])
        dbc = db_connections(pg)
        steps.append({"requests": total, "rss_kib": m["rss_kib"], "pss_kib": m["pss_kib"],
                      "rss_by_mapping_kib": m["rss_by_mapping_kib"], "heap": heap,
                      "writable_mapped_kib": m["writable_mapped_kib"],
                      "db_connections": dbc})
        log("memory: after %6d requests children RSS %d KiB (%+d KiB), writable mappings "
            "%+d KiB, %d DB connections%s"
            % (total, m["rss_kib"], m["rss_kib"] - before["rss_kib"],
               m["writable_mapped_kib"] - before["writable_mapped_kib"], dbc,
               "; heap in use %+d B, free %+d B, held %+d B" % (
                   heap["in_use_bytes"] - heap0["in_use_bytes"],
                   heap["free_bytes"] - heap0["free_bytes"],
                   heap["system_bytes"] - heap0["system_bytes"]) if heap and heap0 else ""))
    took = time.monotonic() - t0
    time.sleep(1)
    after = children_mem(parent, detail=True)
    after_parent = parent_mem(parent)
    growth = after["rss_kib"] - before["rss_kib"]
    by_growth = {k: after["rss_by_mapping_kib"][k] - before["rss_by_mapping_kib"].get(k, 0)
                 for k in after["rss_by_mapping_kib"]}
    log("memory: growth by mapping (KiB): %s" % by_growth)
    changed = mappings_growth(maps0, {p: smaps_mappings(p) for p in after["pids"]})
    for m in changed:
        log("memory:   pid %(pid)d %(start)s %(size_kib)8d KiB %(perms)s %(path)s: RSS "
            "%(rss_kib_before)d %(growth_kib)+d KiB" % m)
    half = len(steps) // 2
    log("memory: children RSS %d KiB -> %d KiB (%+d KiB) over %d requests in %.0f s; "
        "pids %s -> %s" % (before["rss_kib"], after["rss_kib"], growth, total, took,
                           before["pids"], after["pids"]))
    agg = {
        "requests": total,
        "non2xx": sum(r["non2xx"] for r in runs),
        "errors": {k: sum(r["errors"][k] for r in runs) for k in runs[0]["errors"]},
        "rps": round(total / took, 1),
        "wraps": sum(r["wraps"] for r in runs),
    }
    for f in files + [warm]:
        os.unlink(f)
    return {
        "glibc_tunables": glibc_tunables,
        "mappings_changed_most": changed,
        "connections": a.mem_connections,
        "cold": cold,
        "warmup_requests": warm_n,
        "warmup_connections": warm_conns,
        "requests": total,
        "seconds": round(took, 1),
        "before": before,
        "after": after,
        "parent_before": before_parent,
        "parent_after": after_parent,
        "same_children": before["pids"] == after["pids"],
        "rss_growth_kib": growth,
        "pss_growth_kib": after["pss_kib"] - before["pss_kib"],
        "rss_growth_by_mapping_kib": by_growth,
        "rss_growth_bytes_per_request": round(growth * 1024.0 / max(1, total), 2),
        "rss_growth_first_half_kib": steps[half]["rss_kib"] - steps[0]["rss_kib"],
        "rss_growth_second_half_kib": steps[-1]["rss_kib"] - steps[half]["rss_kib"],
        "steps": steps,
        "rows_written": diff_counts(counts0, row_counts(pg)),
        "run": agg,
    }


# ---------------------------------------------------------------- results
def fmt_ms(us):
    return "%.2f" % (us / 1000.0)


def markdown(result):
    m = result["machine"]
    lines = [
        "Run %s, %s, %d s per point, wrk %d threads; %s (%d cores), %d MiB RAM; "
        "PostgreSQL: %s."
        % (result["date"], "quick" if result["config"]["quick"] else "full",
           result["config"]["duration_s"], result["config"]["wrk_threads"], m["cpu_model"],
           m["nproc"], m["mem_total_mib"], result["config"]["postgresql"]),
        "",
        "| target | conns | req/s | p50 ms | p99 ms | non-2xx | req/s vs hello | p50 vs hello "
        "| p99 vs hello | CPU µs/req: Apache | PostgreSQL | wrk |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in result["points"]:
        r = p["ratio_to_hello"]
        cpu = p.get("cpu_us_per_request", {})
        lines.append("| %s | %d | %.0f | %s | %s | %d | %s | %s | %s | %.0f | %.0f | %.0f |" % (
            p["target"], p["connections"], p["rps"], fmt_ms(p["latency_us"]["p50"]),
            fmt_ms(p["latency_us"]["p99"]), p["non2xx"],
            "1" if p["target"] == "hello" else "%.3f" % r["rps"],
            "1" if p["target"] == "hello" else "%.1f×" % r["p50"],
            "1" if p["target"] == "hello" else "%.1f×" % r["p99"],
            cpu.get("apache", 0), cpu.get("pg", 0), cpu.get("wrk", 0)))
    if result["points"]:
        lines += peer.markdown(result.get("peer", {}).get("ratios", []))
        lines += pg_stats.markdown(result["points"])
    else:
        lines = lines[:2]   # a soak or memory-only run: no throughput table
    if result.get("soak"):
        lines += soak.markdown(result["soak"])
    if result["memory"]:
        lines += memory_markdown(result)
    lines.append("")
    lines.append("Status: %s; full run took %.0f s." % (
        "OK" if result["ok"] else "FAILED: " + "; ".join(result["problems"]),
        result["elapsed_s"]))
    return "\n".join(lines) + "\n"


def memory_markdown(result):
    lines = []
    lines += ["", "Apache children's memory, summed over the children: VmRSS in KiB after "
              "the warm-up and after each step; then the growth over the whole run of RSS, "
              "of the writable mappings (address space RSS can grow into) and of the bytes "
              "malloc has handed out and not had back (mallinfo2):", ""]
    runs = [("glibc defaults (the run above)", result["memory"])]
    if result.get("memory_control_tcache_off"):
        runs.append(("control: GLIBC_TUNABLES=glibc.malloc.tcache_count=0",
                     result["memory_control_tcache_off"]))
    steps = runs[0][1]["steps"]
    lines.append("| Apache run with | fresh | after warm-up | "
                 + " | ".join("+%dk" % round(x["requests"] / 1000.0) for x in steps[1:])
                 + " | RSS growth | writable mappings | heap in use | same children |")
    lines.append("|---|" + "---:|" * (len(steps) + 4) + "---|")
    for name, mem in runs:
        st = mem["steps"]
        heap = ("%+d B" % (st[-1]["heap"]["in_use_bytes"] - st[0]["heap"]["in_use_bytes"])
                if st[0].get("heap") and st[-1].get("heap") else "n/a")
        lines.append("| %s | %d | %d | %s | %+d KiB (%+.1f B/req) | %+d KiB | %s | %s |" % (
            name, mem["cold"]["rss_kib"], mem["before"]["rss_kib"],
            " | ".join("%d" % x["rss_kib"] for x in st[1:]),
            mem["rss_growth_kib"], mem["rss_growth_bytes_per_request"],
            st[-1]["writable_mapped_kib"] - st[0]["writable_mapped_kib"], heap,
            "yes" if mem["same_children"] else "NO"))
    return lines


def write_results(d, result, prefix=""):
    """prefix "soak-": a soak's results, kept apart from the throughput run's latest.*"""
    os.makedirs(d, exist_ok=True)
    stamp = result["date"].replace(":", "").replace("-", "")
    text = json.dumps(result, indent=2) + "\n"
    for name in ("%s%s.json" % (prefix, stamp), "%slatest.json" % prefix):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    md = markdown(result)
    with open(os.path.join(d, "%slatest.md" % prefix), "w") as f:
        f.write(md)
    print()
    print(md)
    log("results: %s" % os.path.join(d, "%slatest.json" % prefix))


if __name__ == "__main__":
    sys.exit(main())
