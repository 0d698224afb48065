#!/usr/bin/env bash
# Media Streams benchmark (on demand; never part of `make check`). On Debian 12:
#   bench/stream.sh          the Node peer (shared/peers/stream-node, 1 process), the helper
#                            on its unix socket and the helper behind Apache, at 50, 200 and
#                            500 streams, 20 s each, twice (about 12 minutes on an idle
#                            machine); the peer measured by its own load-client.js and by
#                            bench_stream_load, the helper by bench_stream_load (its upgrades
#                            are signed, which load-client.js cannot do)
#   bench/stream.sh --targets node-peer,helper --streams 50,200 --duration 10 --repeat 1
# Other options go to bench/stream_bench.py (--help); targets are defined there. Builds bench_stream_load with
# `make bench-tools` into $VT_BUILD_DIR (default build-bench/). Copies the peer from
# $VT_PEERS (default ../shared/peers) to $VT_PEER_DIR (default /tmp/vt-peer-stream) and
# runs `npm ci` there. Needs Node >= 20. Results: bench/results/streams-latest.json,
# streams-latest.md and a dated JSON; see docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
PY=/usr/bin/python3
BUILD=${VT_BUILD_DIR:-$SRC/build-bench}
PEERS=${VT_PEERS:-$SRC/../shared/peers}
PEER_DIR=${VT_PEER_DIR:-/tmp/vt-peer-stream}

case "${1:-}" in
    -h|--help) sed -n '2,12p' "$0"; exec "$PY" "$SRC/bench/stream_bench.py" --help ;;
esac

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "error: the Node peer needs node (>= 20) and npm" >&2
    exit 1
fi
vt_install_packages "${VT_BUILD_PACKAGES[@]}"

vt_section "build, and bench_stream_load ($BUILD)"
if [ ! -f "$BUILD/Makefile" ]; then
    vt_configure "$SRC" "$BUILD"
fi
# the helper, the admin tool and the module too: the helper targets run them
make -C "$BUILD" -j"${JOBS:-2}" all bench-tools

vt_section "Node peer ($PEER_DIR)"
# The shared copy may be read-only: install its dependencies in a scratch copy.
if [ ! -d "$PEER_DIR/node_modules" ] ||
    ! cmp -s "$PEERS/stream-node/package-lock.json" "$PEER_DIR/package-lock.json" ||
    ! cmp -s "$PEERS/stream-node/server.js" "$PEER_DIR/server.js" ||
    ! cmp -s "$PEERS/stream-node/load-client.js" "$PEER_DIR/load-client.js"; then
    rm -rf "$PEER_DIR"
    cp -a "$PEERS/stream-node" "$PEER_DIR"
    chmod -R u+w "$PEER_DIR"
    (cd "$PEER_DIR" && npm ci --no-audit --no-fund)
fi

vt_section "benchmark"
PYTHONDONTWRITEBYTECODE=1 exec "$PY" "$SRC/bench/stream_bench.py" --build "$BUILD" \
    --peer-dir "$PEER_DIR" "$@"
