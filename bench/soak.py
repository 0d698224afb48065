"""The soak (bench.py --soak MINUTES): the three webhook routes mixed, for a long run at
half of the measured maximum, on the throughput points' Apache. It answers three questions
the short points cannot: does anything fail after a while (errors, non-2xx), does the tail
drift (p99 per segment), and do Apache's children grow (RSS per segment, as in the memory
runs).

    1. the maximum: the mixed requests unpaced at --soak-connections for 10 s (also the
       warm-up: every child has its DBD connections and prepared statements);
    2. the rate: --soak-rate, or half that maximum; each connection waits between a
       response and its next request (replay.lua's DELAY_MS), the wait corrected after
       every segment so the rate stays near the target;
    3. MINUTES * 60 / --soak-segment-s segments, each one wrk run over requests of its own
       (pre-signed before the first: no segment repeats a request, and signing does not
       compete with the run), the children's memory and the DB connections after each.
"""
import os
import statistics
import time

MAX_PROBE_S = 10
SOCKET_ERRORS = ("connect", "read", "write", "timeout")


def _pause_ms(conns, rate, latency_ms):
    return max(1, int(round(conns * 1000.0 / rate - latency_ms)))


def run(b, a, httpd, signer, pg, reqdir, log):
    """b: the bench module (its wrk, request and memory helpers). Returns the soak's dict."""
    url = httpd.base_url()
    conns, threads = a.soak_connections, a.threads
    nseg = max(1, int(round(a.soak * 60.0 / a.soak_segment_s)))

    probe = os.path.join(reqdir, "soak-max.txt")
    b.write_requests(probe, signer, pg, "mixed", "sk0", 60000)
    top = b.run_wrk(url, probe, conns, threads, duration=MAX_PROBE_S)
    os.unlink(probe)
    rate = float(a.soak_rate or top["rps"] / 2.0)
    log("soak: mixed maximum at c=%d %.0f req/s (p99 %.2f ms); target %.0f req/s for "
        "%d x %d s" % (conns, top["rps"], top["latency_us"]["p99"] / 1000.0, rate, nseg,
                       a.soak_segment_s))

    per_seg = int(rate * a.soak_segment_s * 1.3) + 3 * conns
    per_seg += (-per_seg) % (3 * threads)
    t0 = time.monotonic()
    files = []
    for k in range(nseg):
        f = os.path.join(reqdir, "soak-%d.txt" % k)
        b.write_requests(f, signer, pg, "mixed", "sk%d" % (k + 1), per_seg)
        files.append(f)
    log("soak: %d x %d pre-signed mixed requests (%.0f s)" % (nseg, per_seg,
                                                             time.monotonic() - t0))

    parent = httpd.pid()
    time.sleep(1)
    m0 = b.children_mem(parent)
    counts0 = b.row_counts(pg)
    steps = [{"minute": 0.0, "rss_kib": m0["rss_kib"], "pids": m0["pids"],
              "db_connections": b.db_connections(pg)}]
    pause = _pause_ms(conns, rate, 1.0)
    started = time.monotonic()
    for k, f in enumerate(files):
        res = b.run_wrk(url, f, conns, threads, duration=a.soak_segment_s, pause_ms=pause)
        os.unlink(f)
        m = b.children_mem(parent)
        lat = res["latency_us"]
        step = {"minute": round((time.monotonic() - started) / 60.0, 2),
                "pause_ms": pause, "requests": res["requests"], "rps": round(res["rps"], 1),
                "p50_us": lat["p50"], "p99_us": lat["p99"], "p999_us": lat["p999"],
                "max_us": lat["max"], "non2xx": res["non2xx"], "errors": res["errors"],
                "wraps": res["wraps"], "first_bad": res.get("first_bad"),
                "rss_kib": m["rss_kib"], "pids": m["pids"],
                "db_connections": b.db_connections(pg)}
        steps.append(step)
        log("soak %2d/%d: %7.1f req/s  p50 %.2f  p99 %.2f  p99.9 %.2f ms  non-2xx %d  "
            "errors %s  children RSS %d KiB (%+d)"
            % (k + 1, nseg, res["rps"], lat["p50"] / 1000.0, lat["p99"] / 1000.0,
               lat["p999"] / 1000.0, res["non2xx"], res["errors"], m["rss_kib"],
               m["rss_kib"] - m0["rss_kib"]))
        # A wait that misses the target by its ratio: the next segment's is corrected.
        if res["rps"] > 0:
            cycle = conns * 1000.0 / res["rps"]
            pause = _pause_ms(conns, rate, max(0.0, cycle - pause))
    return summarize(top, rate, conns, steps, b.diff_counts(counts0, b.row_counts(pg)))


def summarize(top, rate, conns, steps, rows):
    segs = steps[1:]
    third = max(1, len(segs) // 3)
    first = statistics.median(s["p99_us"] for s in segs[:third])
    last = statistics.median(s["p99_us"] for s in segs[-third:])
    half = len(steps) // 2
    errors = {k: sum(s["errors"][k] for s in segs) for k in segs[0]["errors"]}
    return {
        "connections": conns,
        "max_rps": round(top["rps"], 1),
        "max_p99_us": top["latency_us"]["p99"],
        "target_rps": round(rate, 1),
        "minutes": segs[-1]["minute"],
        "requests": sum(s["requests"] for s in segs),
        "rps": round(statistics.mean(s["rps"] for s in segs), 1),
        "non2xx": sum(s["non2xx"] for s in segs),
        "errors": errors,
        "wraps": sum(s["wraps"] for s in segs),
        "p99_us_min": min(s["p99_us"] for s in segs),
        "p99_us_max": max(s["p99_us"] for s in segs),
        "p99_us_first_third_median": first,
        "p99_us_last_third_median": last,
        "p99_drift": round(last / max(1, first), 2),
        "rss_growth_kib": steps[-1]["rss_kib"] - steps[1]["rss_kib"],
        "rss_growth_second_half_kib": steps[-1]["rss_kib"] - steps[half]["rss_kib"],
        "same_children": steps[0]["pids"] == steps[-1]["pids"],
        "rows_written": rows,
        "steps": steps,
    }


def problems(s):
    out = []
    e = s["errors"]
    if s["non2xx"] or any(e[k] for k in SOCKET_ERRORS):
        first = next((x["first_bad"] for x in s["steps"][1:] if x.get("first_bad")), "")
        out.append("soak: non-2xx %d, socket errors %s (first bad: %s)"
                   % (s["non2xx"], e, first))
    if s["wraps"]:
        out.append("soak: the request files wrapped %d times" % s["wraps"])
    if not s["same_children"]:
        out.append("soak: Apache's children changed during the run")
    return out


def markdown(s):
    def ms(us):
        return "%.2f" % (us / 1000.0)

    lines = ["", "Soak: inbound, speech and status-callback mixed at %d connections, paced "
             "at %.0f req/s (half of the %.0f req/s measured unpaced, p99 %s ms), %d "
             "segments over %.0f minutes:" % (s["connections"], s["target_rps"],
                                                s["max_rps"], ms(s["max_p99_us"]),
                                                len(s["steps"]) - 1, s["minutes"]), "",
             "| minute | req/s | p50 ms | p99 ms | p99.9 ms | max ms | non-2xx | errors "
             "| children RSS KiB | DB connections |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for x in s["steps"][1:]:
        sock = sum(x["errors"][k] for k in SOCKET_ERRORS)
        lines.append("| %.1f | %.0f | %s | %s | %s | %s | %d | %d | %d | %d |" % (
            x["minute"], x["rps"], ms(x["p50_us"]), ms(x["p99_us"]), ms(x["p999_us"]),
            ms(x["max_us"]), x["non2xx"], sock, x["rss_kib"],
            x["db_connections"]))
    sock = sum(s["errors"][k] for k in SOCKET_ERRORS)
    lines += ["", "Soak summary: %d requests, %.0f req/s, non-2xx %d, socket errors %d; p99 "
              "%s–%s ms (median of the first third %s, of the last third %s: ×%.2f); "
              "children RSS %+d KiB after the first segment (%+d KiB in the second half), "
              "same children: %s; rows written %s."
              % (s["requests"], s["rps"], s["non2xx"], sock,
                 ms(s["p99_us_min"]), ms(s["p99_us_max"]),
                 ms(s["p99_us_first_third_median"]), ms(s["p99_us_last_third_median"]),
                 s["p99_drift"], s["rss_growth_kib"], s["rss_growth_second_half_kib"],
                 "yes" if s["same_children"] else "NO", s["rows_written"])]
    return lines

