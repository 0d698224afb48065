#!/usr/bin/env bash
# The whole test suite, as the README's Quick start and CI (.ci/run) run it, on a fresh
# Debian 12 machine as root:
#   1. installs the Debian packages that are missing,
#   2. autoreconf -fi and an out-of-tree build in build/,
#   3. make check: the C unit tests (Check) and the integration suite (pytest, a real
#      Apache and a throwaway PostgreSQL),
#   4. the unit tests again under ASan+UBSan (build-asan/), then the integration suite
#      with the sanitized module and admin tool,
#   5. every libFuzzer target for FUZZ_SECONDS (default 10) seconds.
# Options: --quick skips 4 and 5. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

QUICK=0
for arg in "$@"; do
    case "$arg" in
        --quick) QUICK=1 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "usage: scripts/test.sh [--quick]" >&2; exit 2 ;;
    esac
done
BUILD=${VT_BUILD_DIR:-$SRC/build}
BUILD_ASAN=${VT_ASAN_BUILD_DIR:-$SRC/build-asan}
JOBS=${JOBS:-2}

show_logs() {
    local f
    for f in "$@"; do
        if [ -f "$f" ]; then
            echo "---------- $f"
            cat "$f"
        fi
    done
}

vt_section "Debian packages"
if [ "$QUICK" -eq 1 ]; then
    vt_install_packages "${VT_BUILD_PACKAGES[@]}"
else
    vt_install_packages "${VT_BUILD_PACKAGES[@]}" "${VT_FUZZ_PACKAGES[@]}"
fi

vt_section "autoreconf -fi"
autoreconf -fi

vt_section "build ($BUILD)"
vt_configure "$SRC" "$BUILD"
make -C "$BUILD" -j"$JOBS"

vt_section "make check (unit + integration)"
if ! make -C "$BUILD" check; then
    show_logs "$BUILD/tests/unit/check_voxtwilio.log" "$BUILD/tests/integration/run.sh.log"
    echo "make check FAILED" >&2
    exit 1
fi
# Show the runners' own summaries (Check's percentage line, pytest's "N passed").
for f in "$BUILD/tests/unit/check_voxtwilio.log" "$BUILD/tests/integration/run.sh.log"; do
    if [ -f "$f" ]; then
        echo "---------- $(basename "$f") (tail)"
        grep -v '^\(PASS\|FAIL\|SKIP\|XFAIL\|XPASS\|ERROR\)' "$f" | tail -n 4
    fi
done

if [ "$QUICK" -eq 0 ]; then
    vt_section "unit tests under ASan+UBSan ($BUILD_ASAN)"
    vt_configure "$SRC" "$BUILD_ASAN" \
        CFLAGS="-g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
        LDFLAGS="-fsanitize=address,undefined"
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        make -C "$BUILD_ASAN" -j"$JOBS" check-unit

    vt_section "integration suite against the ASan+UBSan build"
    # apache2 itself is not instrumented: the ASan runtime is preloaded into it
    # (tests/integration/pyvt/apache.py, VT_HTTPD_PRELOAD); sanitizer reports land in the
    # error log, which fails the test that caused them.
    make -C "$BUILD_ASAN" -j"$JOBS"
    if ! VT_HTTPD_PRELOAD="$(${CC:-gcc} -print-file-name=libasan.so)" \
            make -C "$BUILD_ASAN" check TESTS=tests/integration/run.sh; then
        show_logs "$BUILD_ASAN/tests/integration/run.sh.log"
        echo "integration suite under ASan+UBSan FAILED" >&2
        exit 1
    fi
    grep -v '^\(PASS\|FAIL\|SKIP\|XFAIL\|XPASS\|ERROR\)' \
        "$BUILD_ASAN/tests/integration/run.sh.log" | tail -n 2

    vt_section "fuzzing (${FUZZ_SECONDS:-10} s per target)"
    make -C "$BUILD" fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-10}"
fi

vt_section "result"
if [ "$QUICK" -eq 1 ]; then
    echo "scripts/test.sh: all passed (unit, integration; --quick: no ASan, no fuzzing)"
else
    echo "scripts/test.sh: all passed (unit, integration, ASan+UBSan unit + integration, fuzzing)"
fi
