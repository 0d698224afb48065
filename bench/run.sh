#!/usr/bin/env bash
# mod_voxtwilio load benchmark (on demand; never part of `make check`). As root on Debian 12:
#   bench/run.sh            15 s per point: inbound, speech, status-callback and the bare
#                           "hello" handler at 32 and 128 connections, with PostgreSQL's
#                           share per route (pg_stat_statements, write transactions, WAL);
#                           the Node/Express peer (../shared/peers/webhook-node) before and
#                           after them, the gateway's figures as ratios to it; then Apache's
#                           memory before/after 100,000 mixed webhooks, and a control memory
#                           run with glibc's tcache off (about 9 minutes on 2 cores)
#   bench/run.sh --quick    5 s per point (about 4 minutes; the memory runs are the same)
#   bench/run.sh --soak 30  the three routes mixed for 30 minutes at half the measured
#                           maximum: req/s, p99 and the children's RSS per minute
#                           (bench/soak.py; results in bench/results/soak-latest.*)
#   bench/run.sh --llm      the gateway's own latency per LLM turn (bench/llm_turn.py):
#                           time in the module minus time waiting on a local stand-in model
# Other options go to bench/bench.py (--help). Builds into $VT_BUILD_DIR (default
# build-bench/), brought up to date at every run.
# Results: bench/results/latest.json, latest.md and a dated JSON; see docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
PY=/usr/bin/python3
BUILD=${VT_BUILD_DIR:-$SRC/build-bench}

case "${1:-}" in
    -h|--help) sed -n '2,18p' "$0"; exec "$PY" "$SRC/bench/bench.py" --help ;;
esac

vt_install_packages "${VT_BUILD_PACKAGES[@]}" wrk

# Always make (incremental): a bench of an old build would measure old code.
vt_section "build ($BUILD)"
if [ ! -f "$BUILD/Makefile" ]; then
    vt_configure "$SRC" "$BUILD"
fi
make -C "$BUILD" -j"${JOBS:-2}"

vt_section "benchmark"
if [ "${1:-}" = "--llm" ]; then
    shift
    PYTHONDONTWRITEBYTECODE=1 exec "$PY" "$SRC/bench/llm_turn.py" --build "$BUILD" "$@"
fi
PYTHONDONTWRITEBYTECODE=1 exec "$PY" "$SRC/bench/bench.py" --build "$BUILD" "$@"
