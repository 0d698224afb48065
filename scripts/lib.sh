# shellcheck shell=bash
# Shared by scripts/test.sh and scripts/demo.sh (sourced, not run).

# Everything a fresh Debian 12 needs to build mod_voxtwilio and run every test.
VT_BUILD_PACKAGES=(
    build-essential autoconf automake libtool pkg-config
    apache2 apache2-dev libaprutil1-dbd-pgsql
    libcurl4-openssl-dev libjson-c-dev libpq-dev libssl-dev check
    libwebsockets-dev libev-dev libspeexdsp-dev libespeak-ng-dev espeak-ng-data espeak-ng flite
    libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us
    postgresql postgresql-client
    python3 python3-pytest python3-requests python3-websockets python3-cryptography
)
# Sanitizer and fuzzing toolchain (test.sh only).
VT_FUZZ_PACKAGES=(clang libclang-rt-14-dev)

vt_section() {
    printf '\n==================== %s ====================\n' "$*"
}

# vt_install_packages PKG... : installs the packages that are not installed yet.
vt_install_packages() {
    local missing=() p status
    for p in "$@"; do
        status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        if [ "$status" != "install ok installed" ]; then
            missing+=("$p")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        echo "all ${#} Debian packages are installed"
        return 0
    fi
    echo "installing missing Debian packages: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: not root: install them first (apt-get install ${missing[*]})" >&2
        return 1
    fi
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
        </dev/null
}

# vt_configure SRCDIR BUILDDIR [configure args...] : (re)configures an out-of-tree build.
vt_configure() {
    local src=$1 build=$2
    shift 2
    if [ ! -x "$src/configure" ]; then
        (cd "$src" && autoreconf -fi)
    fi
    mkdir -p "$build"
    (cd "$build" && "$src/configure" "$@")
}
