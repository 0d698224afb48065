#!/bin/sh
# The integration suite, as `make check` runs it (automake exports VT_BUILDDIR, VT_SRCDIR,
# PYTHON3, VT_HTTPD, VT_APACHE_MODULEDIR). Run by hand from a build directory:
#   cd build && ../tests/integration/run.sh [-k PATTERN] [-x] ...
# pytest's "no tests ran" (exit 5) is a failure here, never a pass.
here=$(cd "$(dirname "$0")" && pwd)
: "${VT_BUILDDIR:=$(pwd)}"
: "${VT_SRCDIR:=$(cd "$here/../.." && pwd)}"
: "${PYTHON3:=/usr/bin/python3}"
: "${VT_HTTPD:=/usr/sbin/apache2}"
: "${VT_APACHE_MODULEDIR:=/usr/lib/apache2/modules}"
PYTHONDONTWRITEBYTECODE=1
export VT_BUILDDIR VT_SRCDIR PYTHON3 VT_HTTPD VT_APACHE_MODULEDIR PYTHONDONTWRITEBYTECODE

"$PYTHON3" -m pytest -q -p no:cacheprovider "$VT_SRCDIR/tests/integration" "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "run.sh: pytest collected no tests: treating as a failure" >&2
    exit 1
fi
exit "$rc"
