#!/usr/bin/env bash
# Voice pipeline benchmark (on demand; never part of `make check`). On Debian 12:
#   bench/pipeline.sh        Apache + its helper + a throwaway PostgreSQL, one pipeline
#                            tenant on stand-ins of fixed delay (speech-to-text 200 ms, the
#                            model's first token 300 ms, text-to-speech first byte 100 ms),
#                            bench_stream_load --caller-audio as N callers speaking every 7 s:
#                            100 streams with the TTS endpoint and with espeak-ng, then 50
#                            and 200 (about 5 minutes on an idle machine)
#   bench/pipeline.sh --points model/endpoint/100 --duration 20 --repeat 2
# Other options go to bench/pipeline_bench.py (--help). Builds everything into $VT_BUILD_DIR
# (default build-bench/) with `make all bench-tools`. No Node peer: there is none for the
# pipeline. Results: bench/results/pipeline-latest.json, pipeline-latest.md and a dated
# JSON; see docs/performance.md ("Voice pipeline").
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
PY=/usr/bin/python3
BUILD=${VT_BUILD_DIR:-$SRC/build-bench}

case "${1:-}" in
    -h|--help) sed -n '2,13p' "$0"; exec "$PY" "$SRC/bench/pipeline_bench.py" --help ;;
esac

vt_install_packages "${VT_BUILD_PACKAGES[@]}"

vt_section "build, and bench_stream_load ($BUILD)"
if [ ! -f "$BUILD/Makefile" ]; then
    vt_configure "$SRC" "$BUILD"
fi
make -C "$BUILD" -j"${JOBS:-2}" all bench-tools

vt_section "benchmark"
PYTHONDONTWRITEBYTECODE=1 exec "$PY" "$SRC/bench/pipeline_bench.py" --build "$BUILD" "$@"
