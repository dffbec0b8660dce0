#!/bin/sh
# install-deps.sh - install what smtpscope needs from Debian 12 packages.
#
#   sh test/install-deps.sh               build and test dependencies
#   sh test/install-deps.sh --build-only  just what `make` needs
#   sh test/install-deps.sh --live-bench  what bench/live_rate.sh needs
#
# Only packages that are missing are installed; nothing is asked
# (DEBIAN_FRONTEND=noninteractive, debconf answers preseeded). Needs root,
# or sudo when run as a user. Three sources, none of them a second copy of
# another: the groups below (each names the tests that need it), the
# Build-Depends of debian/control (apt-get build-dep, build-essential
# included), and the Depends of the Exim package unpacked into build/exim.
# test/fresh_root.sh checks on a pristine Debian 12 that nothing is missing.
set -eu
cd "$(dirname "$0")/.."

# make, make demo: the compiler and the libraries smtpscope links
# (-lresolv is libc6-dev's, -lgnutls for X.509 in the TLS reader, -lz for
# gzip'd captures); gcc brings
# libasan and libubsan (make asan, unit)
BUILD="gcc make libc6-dev libpcap-dev libnids-dev libldns-dev libgnutls28-dev zlib1g-dev"
# fuzz targets (test/fuzz/smoke.sh, make fuzz): clang, libFuzzer and the
# ASan runtime for Debian 12's clang 14, llvm-symbolizer for the reports
FUZZ="clang libclang-rt-14-dev llvm"
# the lab (test/lib/smtplab.sh, test/live/*, messages/save_messages/audit
# captures): a private Postfix, Dovecot SASL, swaks and its TLS, AUTH and
# IPv6 modules, tcpdump, namespaces, nft drops, offloads off, pgrep/ps
LAB="postfix dovecot-core swaks libnet-ssleay-perl libdigest-hmac-perl
     libio-socket-inet6-perl tcpdump iproute2 nftables ethtool procps openssl
     ca-certificates"
# tshark cross-check, the TLS lab, accounting, DNS, --save-messages, link types
# (editcap), shards and HTML fixtures (mergecap, from tshark's wireshark-common),
# the pivots (pivot_test.py: communityid, frame numbers, mergecap, reordercap)
TSHARK="tshark"
# DNS test: a real resolver and its client
DNS="dnsmasq-base bind9-dnsutils"
# JSON schema test, every Python test
PYTHON="python3 python3-jsonschema"
# man page test (mandoc -T lint, man), valgrind test, systemd unit test
# (systemd-analyze verify; setpriv is util-linux's)
TOOLS="mandoc man-db valgrind systemd"
# Debian package test (dpkg-buildpackage, lintian); its Build-Depends come
# from debian/control below
DEB="dpkg-dev debhelper lintian fakeroot"
# --html in headless Chromium (html_test.py; the report row of make bench and
# bench_smoke.sh: no chromium-driver, the page logs its own load time), --top
# in tmux, shards under GNU parallel
UI="chromium tmux parallel"

# make bench-live (bench/live_rate.sh): the replaying sender, tcpdump beside
LIVE_BENCH="tcpreplay tcpdump iproute2"

case "${1:-}" in
--build-only) WANT=$BUILD ;;
--live-bench) WANT="$BUILD $LIVE_BENCH" ;;
"") WANT="$BUILD $FUZZ $LAB $TSHARK $DNS $PYTHON $TOOLS $DEB $UI" ;;
*) echo "usage: $0 [--build-only | --live-bench]" >&2; exit 2 ;;
esac

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 && SUDO=sudo
fi

as_root() { # the first call also refreshes apt's lists, once
    if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then
        echo "install-deps: this needs root (or sudo): $*" >&2
        exit 1
    fi
    if [ -z "${UPDATED:-}" ]; then
        # Postfix must not be configured or started system-wide: the tests
        # run their own private instances. Wireshark must not ask about its
        # capture group.
        printf '%s\n' \
            "postfix postfix/main_mailer_type select No configuration" \
            "wireshark-common wireshark-common/install-setuid boolean false" |
            $SUDO debconf-set-selections
        $SUDO apt-get update -qq
        UPDATED=1
    fi
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive "$@"
}

apt_install() { # apt_install PKG...: those not installed yet
    missing=""
    for pkg in "$@"; do installed "$pkg" || missing="$missing $pkg"; done
    [ -z "$missing" ] && return 0
    echo "install-deps: installing$missing" >&2
    # shellcheck disable=SC2086
    as_root apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# debian/control's Build-Depends (and build-essential), for test/deb_test.sh
build_deps() {
    dpkg-checkbuilddeps >/dev/null 2>&1 && return 0
    echo "install-deps: installing debian/control's Build-Depends" >&2
    as_root apt-get build-dep -y -qq --no-install-recommends ./ >/dev/null
}

# Exim for the tests: Debian's exim4 packages conflict with postfix (both
# are "the" MTA), so the Exim binary is unpacked from Debian's own package
# into build/exim (never installed). Its libraries come from the package's
# own Depends, less exim4-base and exim4-config (they conflict with
# postfix, and a binary run with -C from build/exim needs neither); it
# needs its system user.
exim_unpack() {
    root=$(pwd)/build/exim
    if [ ! -x "$root/usr/sbin/exim4" ]; then
        mkdir -p "$root/debs"
        # apt's lists may be missing or stale when nothing else was installed
        (cd "$root/debs" && apt-get download -qq exim4-daemon-light >/dev/null 2>&1) ||
            { [ -z "${UPDATED:-}" ] && as_root true &&
              (cd "$root/debs" && apt-get download -qq exim4-daemon-light >/dev/null 2>&1); } ||
            { echo "install-deps: cannot download exim4-daemon-light" >&2; return 1; }
        for deb in "$root"/debs/*.deb; do dpkg -x "$deb" "$root"; done
    fi
    # "a (>= 1), b | c" -> "a b": the first choice of each, no versions
    # shellcheck disable=SC2046
    apt_install $(dpkg-deb -f "$root"/debs/exim4-daemon-light_*.deb Depends |
        tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/ //g' | grep -v '^exim4-')
    if ldd "$root/usr/sbin/exim4" | grep 'not found' >&2; then
        echo "install-deps: build/exim/usr/sbin/exim4 still lacks the libraries above" >&2
        return 1
    fi
    getent passwd Debian-exim >/dev/null ||
        as_root useradd --system --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin Debian-exim
}

# shellcheck disable=SC2086
apt_install $WANT
[ "${1:-}" = --build-only ] && exit 0
build_deps
exim_unpack
