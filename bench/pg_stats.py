"""Where PostgreSQL's time goes in one bench point (bench.py): per request, the statements
(pg_stat_statements: calls, execution time, rows), the write transactions (transaction ids
assigned: every webhook transaction writes), the WAL written (LSN difference) and the
client connections open at the end. The xid and LSN counters are exact at any instant;
pg_stat_database's commit counter is not (backends report it up to 10 s late when idle),
so it is not used. While the point runs, the client backends' wait events are sampled
(pg_stat_activity every SAMPLE_S): what the busy backends were waiting on, if anything.

The cluster needs EXTRA_CONF (pg_stat_statements preloaded): bench.py passes it to
pyvt.PgCluster. Statements of this module's own probes are left out of the figures.
"""

import threading

EXTRA_CONF = ("shared_preload_libraries = 'pg_stat_statements'\n"
              "pg_stat_statements.max = 1000\n"
              "pg_stat_statements.track = all\n"
              "pg_stat_statements.track_utility = on\n")
TOP = 8                      # statements listed per point
SAMPLE_S = 0.25              # how often the backends' wait events are sampled
PROBE_MARK = "vtbench-probe"  # in every probe query, so they can be excluded


class PgPoint:
    def __init__(self, pg):
        self.pg = pg
        self.su = ("host=127.0.0.1 port=%d dbname=%s user=postgres connect_timeout=5"
                   % (pg.port, pg.dbname))

    def _q(self, sql):
        return self.pg.psql("/* %s */ %s" % (PROBE_MARK, sql), conninfo=self.su)

    def enable(self):
        self._q("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def start(self):
        """Resets the statement counters; remembers the xid and the WAL position."""
        self._q("SELECT pg_stat_statements_reset()")
        self.xid0, self.lsn0 = self._counters()
        self.waits, self.samples = {}, 0
        self.stop = threading.Event()
        self.sampler = threading.Thread(target=self._sample, daemon=True)
        self.sampler.start()

    def _sample(self):
        while not self.stop.wait(SAMPLE_S):
            rows = self._q("SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU'), "
                           "count(*) FROM pg_stat_activity WHERE backend_type = 'client "
                           "backend' AND state = 'active' AND datname = current_database() "
                           "AND pid <> pg_backend_pid() GROUP BY 1")
            self.samples += 1
            for what, n in rows:
                self.waits[what] = self.waits.get(what, 0) + int(n)

    def _counters(self):
        row = self._q("SELECT pg_current_xact_id()::text::bigint, pg_current_wal_lsn()::text")[0]
        return int(row[0]), row[1]

    def finish(self, requests):
        """The point's figures per request (requests: what wrk completed)."""
        self.stop.set()
        self.sampler.join()
        xid1, lsn1 = self._counters()
        n = max(1, requests)
        wal = int(float(self._q("SELECT pg_wal_lsn_diff('%s', '%s')" % (lsn1, self.lsn0))[0][0]))
        rows = self._q(
            "SELECT calls, total_exec_time, rows, "
            "regexp_replace(query, '\\s+', ' ', 'g') FROM pg_stat_statements s "
            "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database() "
            "AND query NOT LIKE '%%%s%%' ORDER BY total_exec_time DESC" % PROBE_MARK)
        stmts = [{"calls": int(c), "exec_ms": float(t), "rows": int(r), "query": q}
                 for c, t, r, q in rows]
        calls = sum(s["calls"] for s in stmts)
        backends = int(self._q("SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                               "'client backend' AND datname = current_database() "
                               "AND pid <> pg_backend_pid()")[0][0])
        # the two probes of _counters each take a transaction id of their own
        return {
            "statements_per_request": round(calls / n, 3),
            "write_xacts_per_request": round(max(0, xid1 - self.xid0 - 1) / n, 3),
            "wal_bytes_per_request": round(wal / n),
            "exec_ms_per_request": round(sum(s["exec_ms"] for s in stmts) / n, 4),
            "backends": backends,
            # busy backends on average, by what they were doing ("CPU": not waiting)
            "active_backends_by_wait": {k: round(v / max(1, self.samples), 2) for k, v in
                                        sorted(self.waits.items(), key=lambda kv: -kv[1])},
            "top": [{"query": s["query"][:160],
                     "calls_per_request": round(s["calls"] / n, 3),
                     "ms_per_call": round(s["exec_ms"] / max(1, s["calls"]), 4),
                     "rows_per_call": round(s["rows"] / max(1, s["calls"]), 2)}
                    for s in stmts[:TOP]],
        }


def markdown(points):
    """The per-route breakdown, for latest.md."""
    lines = ["", "PostgreSQL per request (pg_stat_statements; write transactions = "
             "transaction ids assigned; WAL = LSN difference; backends = client "
             "connections at the end of the point):", "",
             "| target | conns | statements | write xacts | WAL bytes | executor ms "
             "| backends | busy backends, by wait (mean) | costliest statements "
             "(calls/request × ms per call) |",
             "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for p in points:
        s = p.get("pg_stats")
        if not s or p["target"] == "hello":
            continue
        top = "; ".join("`%s` %.2f × %.3f" % (t["query"][:70].replace("|", "\\|"),
                                             t["calls_per_request"], t["ms_per_call"])
                        for t in s["top"][:4])
        waits = ", ".join("%s %.1f" % kv for kv in
                          list(s.get("active_backends_by_wait", {}).items())[:4])
        lines.append("| %s | %d | %.2f | %.2f | %d | %.3f | %d | %s | %s |" % (
            p["target"], p["connections"], s["statements_per_request"],
            s["write_xacts_per_request"], s["wal_bytes_per_request"],
            s["exec_ms_per_request"], s["backends"], waits, top))
    return lines
