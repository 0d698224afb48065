#!/usr/bin/env bash
# The README's demo, on a fresh Debian 12 machine as root:
#   scripts/demo.sh [start]   installs what is missing, builds, starts PostgreSQL + Apache
#                             with mod_voxtwilio (and its helper) on 127.0.0.1, creates the
#                             demo tenants acme, acme-ai and acme-live (stream mode) with
#                             voxtwilio-admin and places a signed call to each; the stream
#                             call's audio lands in .demo/stream-call.wav
#   scripts/demo.sh stop      stops the demo's Apache and PostgreSQL
#   scripts/demo.sh status
# State lives in .demo/; running start again reuses it.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
PY=/usr/bin/python3
DEMO="$SRC/tests/integration/pyvt/demo.py"
BUILD=${VT_BUILD_DIR:-$SRC/build}

verb=${1:-start}
case "$verb" in
    stop|status)
        exec "$PY" "$DEMO" "$verb" --state "$SRC/.demo" ;;
    start) ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "usage: scripts/demo.sh [start|stop|status]" >&2; exit 2 ;;
esac

vt_section "Debian packages"
vt_install_packages "${VT_BUILD_PACKAGES[@]}"

vt_section "build ($BUILD)"
if [ ! -f "$BUILD/Makefile" ]; then
    vt_configure "$SRC" "$BUILD"
fi
make -C "$BUILD" -j"${JOBS:-2}"

vt_section "demo"
PYTHONDONTWRITEBYTECODE=1 exec "$PY" "$DEMO" start --build "$BUILD" --state "$SRC/.demo"
