"""The Node/Express + twilio + pg peer (../shared/peers/webhook-node/run.sh) in the same
run as the gateway's points (bench.py), so that the gateway's figures can be given as
ratios to what a user would run instead: the machine's speed varies from hour to hour, a
ratio measured in one run does not.

The peer answers `inbound` only (one row written); every gateway route is compared with it.
Its run.sh starts its own PostgreSQL (127.0.0.1:55432, fsync off), checks the peer, warms
it up for 5 s and measures each connection count with wrk; it needs node (20) and npm's
registry the first time (npm ci into its work directory, /tmp/vt-peer-webhook, kept).
"""
import os
import pwd
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
# $VT_PEERS: the peers' folder when this checkout is not next to shared/ (a worktree)
RUN = os.path.join(os.environ.get("VT_PEERS") or os.path.normpath(
    os.path.join(HERE, "..", "..", "shared", "peers")), "webhook-node", "run.sh")
# run.sh's work directory (its copy of the peer and its PostgreSQL cluster, kept between runs)
WORK = os.environ.get("WORK") or "/tmp/vt-peer-webhook"
DURABLE = "fsync = on\nsynchronous_commit = on\nfull_page_writes = on\n"
# c32 1 1234.5 10.20 80.30 0 0 95% 700 60% 500 30% 2%
ROW = re.compile(r"^c(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+(\d+)\s+"
                 r"(\d+)%\s+(\d+)\s+(\d+)%\s+(\d+)\s+(\d+)%\s+(-?\d+)%\s*$", re.M)


def available():
    """None when the peer can run here, else why not."""
    if not os.path.exists(RUN):
        return "%s is missing" % RUN
    if subprocess.run(["sh", "-c", "command -v node && command -v npm"],
                      capture_output=True).returncode != 0:
        return "node and npm are needed (Node 20)"
    return None


def durability(sync, log):
    """The peer's cluster with a disk flush per commit (sync) or, as its pg.sh sets it up,
    without: written to its postgresql.auto.conf, read when run.sh starts it. A cluster
    that does not exist yet is made by a short first run."""
    data = os.path.join(WORK, "pg", "data")
    if sync and not os.path.isdir(data):
        log("peer: creating its cluster first (a 1 s run)")
        subprocess.run(["bash", RUN], env=dict(os.environ, CONNS="8", DURATION="1s",
                                               WARMUP="0"), capture_output=True, timeout=600)
    conf = os.path.join(data, "postgresql.auto.conf")
    if os.path.isdir(data):
        with open(conf, "w") as f:
            f.write("# written by mod_voxtwilio's bench/peer.py\n" + (DURABLE if sync else ""))
        if os.getuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(conf, pw.pw_uid, pw.pw_gid)


def run(connections, duration_s, threads, log):
    """{connections: figures} of one run of the peer at each connection count, with as
    many wrk threads as the gateway's points."""
    env = dict(os.environ, CONNS=" ".join(str(c) for c in connections),
               DURATION="%ds" % duration_s, REPEAT="1", THREADS=str(threads))
    log("peer: %s (CONNS=%s DURATION=%s)" % (RUN, env["CONNS"], env["DURATION"]))
    r = subprocess.run(["bash", RUN], env=env, capture_output=True, text=True,
                       timeout=600 + 60 * len(connections) * duration_s)
    out = r.stdout + r.stderr
    if r.returncode != 0:
        raise RuntimeError("the peer's run.sh failed (rc %d):\n%s" % (r.returncode, out[-3000:]))
    points = {}
    for m in ROW.finditer(out):
        c = int(m.group(1))
        points[c] = {"rps": float(m.group(3)), "p50_ms": float(m.group(4)),
                     "p99_ms": float(m.group(5)), "non2xx": int(m.group(6)),
                     "errors": int(m.group(7)), "server_cpu_us_per_request": int(m.group(9)),
                     "pg_cpu_us_per_request": int(m.group(11)),
                     "others_cpu_pct": int(m.group(13))}
    missing = [c for c in connections if c not in points]
    if missing:
        raise RuntimeError("the peer's output has no row for %s connections:\n%s"
                           % (missing, out[-3000:]))
    for c in connections:
        p = points[c]
        log("peer   c=%-3d %9.1f req/s  p50 %.2f ms  p99 %.2f ms  CPU us/request: server %d, "
            "PostgreSQL %d; other processes %d%%" % (c, p["rps"], p["p50_ms"], p["p99_ms"],
                                                     p["server_cpu_us_per_request"],
                                                     p["pg_cpu_us_per_request"],
                                                     p["others_cpu_pct"]))
    return points


def run_into(runs, problems, connections, duration_s, threads, log):
    """run(), tried twice; a peer that still fails is a problem of the run, not its end
    (the gateway's points are measured anyway)."""
    for attempt in (1, 2):
        try:
            runs.append(run(connections, duration_s, threads, log))
            return
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            log("peer run failed (attempt %d): %s" % (attempt, str(e)[-500:]))
    problems.append("the Node peer failed twice: no ratio from this run")


def ratios(points, runs):
    """Each gateway route's point against the mean of the peer's runs at its connections."""
    out = []
    for p in points:
        if p["target"] == "hello":
            continue
        peer = [r[p["connections"]] for r in runs if p["connections"] in r]
        if not peer:
            continue
        rps = sum(x["rps"] for x in peer) / len(peer)
        p99 = sum(x["p99_ms"] for x in peer) / len(peer)
        cpu = p.get("cpu_us_per_request", {})
        out.append({
            "target": p["target"], "connections": p["connections"],
            "rps": p["rps"], "peer_rps": [x["rps"] for x in peer],
            "rps_ratio": round(p["rps"] / rps, 3),
            "p99_ms": p["latency_us"]["p99"] / 1000.0, "peer_p99_ms": [x["p99_ms"] for x in peer],
            "p99_ratio": round(p["latency_us"]["p99"] / 1000.0 / max(0.001, p99), 3),
            "web_cpu_ratio": round(cpu.get("apache", 0) / max(1, sum(
                x["server_cpu_us_per_request"] for x in peer) / len(peer)), 3),
            "pg_cpu_ratio": round(cpu.get("pg", 0) / max(1, sum(
                x["pg_cpu_us_per_request"] for x in peer) / len(peer)), 3),
        })
    return out


def markdown(rows):
    if not rows:
        return []
    lines = ["", "Against the Node/Express peer in the same run (its `inbound`; the goal: "
             "req/s ≥ 3×, p99 ≤ 0.2×):", "",
             "| target | conns | req/s | peer req/s | **req/s ratio** | p99 ms | peer p99 ms "
             "| **p99 ratio** | CPU/request vs peer: web tier | PostgreSQL |",
             "|---|---:|---:|---|---:|---:|---|---:|---:|---:|"]
    for r in rows:
        lines.append("| %s | %d | %.0f | %s | **%.2f** | %.1f | %s | **%.2f** | %.2f | %.2f |" % (
            r["target"], r["connections"], r["rps"],
            ", ".join("%.0f" % x for x in r["peer_rps"]), r["rps_ratio"], r["p99_ms"],
            ", ".join("%.1f" % x for x in r["peer_p99_ms"]), r["p99_ratio"],
            r["web_cpu_ratio"], r["pg_cpu_ratio"]))
    return lines
