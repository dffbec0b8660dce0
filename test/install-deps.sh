#!/bin/sh
# install-deps.sh - install what smtpscope needs from Debian 12 packages.
#
#   sh test/install-deps.sh               build and test dependencies
#   sh test/install-deps.sh --build-only  just what `make` needs
#
# Only packages that are missing are installed; nothing is asked
# (DEBIAN_FRONTEND=noninteractive, debconf answers preseeded). Needs root,
# or sudo when run as a user.
set -eu

BUILD="gcc make libc6-dev libpcap-dev libnids-dev libldns-dev libgnutls28-dev"
TEST="clang llvm tcpdump tshark swaks postfix iproute2 nftables python3
      python3-jsonschema mandoc dovecot-core libidn12 valgrind ethtool ca-certificates openssl
      procps libnet-ssleay-perl libdigest-hmac-perl
      libio-socket-inet6-perl systemd man-db debhelper dpkg-dev lintian fakeroot
      chromium tmux parallel
      dnsmasq-base bind9-dnsutils"

case "${1:-}" in
--build-only) WANT=$BUILD ;;
"") WANT="$BUILD $TEST" ;;
*) echo "usage: $0 [--build-only]" >&2; exit 2 ;;
esac

missing=""
for pkg in $WANT; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done

# Exim for the tests: Debian's exim4 packages conflict with postfix (both
# are "the" MTA), so the Exim binary is unpacked from Debian's own package
# into build/exim (never installed); it needs its system user.
exim_unpack() {
    root=$(cd "$(dirname "$0")/.." && pwd)/build/exim
    [ -x "$root/usr/sbin/exim4" ] && return 0
    mkdir -p "$root/debs"
    (cd "$root/debs" && $SUDO apt-get download -qq exim4-daemon-light >/dev/null 2>&1) ||
        { echo "install-deps: cannot download exim4-daemon-light" >&2; return 1; }
    for deb in "$root"/debs/*.deb; do dpkg -x "$deb" "$root"; done
    getent passwd Debian-exim >/dev/null ||
        $SUDO useradd --system --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin Debian-exim
}

if [ -z "$missing" ]; then
    [ "${1:-}" = --build-only ] || { SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo; exim_unpack; }
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=sudo
    else
        echo "install-deps: missing packages:$missing" >&2
        echo "install-deps: run as root (or install sudo) to install them" >&2
        exit 1
    fi
else
    SUDO=""
fi

echo "install-deps: installing$missing" >&2
# Postfix must not be configured or started system-wide: the tests run their
# own private instances. Wireshark must not ask about its capture group.
printf '%s\n' \
    "postfix postfix/main_mailer_type select No configuration" \
    "wireshark-common wireshark-common/install-setuid boolean false" |
    $SUDO debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends $missing >/dev/null
[ "${1:-}" = --build-only ] || exim_unpack
