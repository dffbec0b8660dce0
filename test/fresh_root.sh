#!/bin/bash
# fresh_root.sh - the README's two commands on a pristine Debian 12.
#
#   sudo bash test/fresh_root.sh      # ends "fresh_root: make demo ok; make test: N passed, 0 failed"
#   sudo bash test/fresh_root.sh --base-only   # just debootstrap the cached base
#
# A minbase bookworm (plus git, make, ca-certificates, iproute2, as a new
# user's machine has) is debootstrapped once from this machine's Debian
# mirror into $FRESH_ROOT_BASE and reused. Each run lays an overlay on it,
# so every run starts pristine; in a private mount and PID namespace it
# mounts /proc, /sys, /dev, a tmpfs /run, clones this repository's HEAD
# (committed work only, not the dirty tree) to /work/smtpscope with
# /work/shared beside it read-only (as CI has it), chroots, and runs
# `make demo` then `make test`. Live tests' network namespaces live in
# the root's /run/netns and go with the mount namespace. Everything is
# bounded by FRESH_ROOT_TIMEOUT seconds (default 5400); the overlay and
# every process started in the root are gone on exit, failure, ^C or TERM
# (whole logs are kept in /var/tmp/fresh_root.{demo,test}.log).
# Run it before calling done any change that touches dependencies or tests.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
[ "$(id -u)" -eq 0 ] || { echo "fresh_root: needs root (debootstrap, mounts, chroot)" >&2; exit 2; }

BASE=${FRESH_ROOT_BASE:-/var/cache/smtpscope-fresh-root/bookworm}
TIMEOUT=${FRESH_ROOT_TIMEOUT:-5400}
SHARED=${FRESH_ROOT_SHARED:-$(cd "$repo/.." && pwd)/shared}
[ -d "$SHARED" ] || SHARED=/work/shared
EXTRA=git,make,ca-certificates,iproute2

# The Debian mirror this machine's apt already uses (deb822 or one-line
# sources); no other network is touched.
debian_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'BEGIN { RS = ""; FS = "\n" }
             /Suites:[^\n]*bookworm( |\n|$)/ && !/^Types:[^\n]*deb-src/ {
                 for (i = 1; i <= NF; i++) if ($i ~ /^URIs:/) { split($i, u, " "); print u[2]; exit } }' "$f"
    done
    { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } |
        awk '$1 == "deb" && $3 == "bookworm" { print ($2 ~ /^\[/ ? $3 : $2); exit }'
}

# Host tools this script itself needs.
for tool in debootstrap unshare chroot timeout git; do
    command -v $tool >/dev/null 2>&1 && continue
    echo "fresh_root: installing debootstrap" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        debootstrap util-linux coreutils >/dev/null
    break
done

make_base() {
    local mirror tmp
    mirror=$(debian_mirror | sed -n 1p)
    [ -n "$mirror" ] || { echo "fresh_root: no bookworm mirror in /etc/apt/sources*" >&2; return 1; }
    echo "fresh_root: debootstrap bookworm from $mirror into $BASE (once)" >&2
    tmp=$BASE.partial
    rm -rf --one-file-system "$tmp"
    mkdir -p "$tmp"
    debootstrap --variant=minbase --include=$EXTRA bookworm "$tmp" "$mirror" \
        > "$(dirname "$BASE")/debootstrap.log" 2>&1 ||
        { tail -n 20 "$(dirname "$BASE")/debootstrap.log" >&2; return 1; }
    # the security and updates suites a Debian 12 install has
    printf '%s\n' "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
        "deb ${mirror%/debian}/debian-security bookworm-security main" > "$tmp/etc/apt/sources.list"
    # no daemon started by a package's postinst: in a chroot it would run in
    # this machine's network namespace (a real one starts them under systemd)
    printf '#!/bin/sh\nexit 101\n' > "$tmp/usr/sbin/policy-rc.d"
    chmod 755 "$tmp/usr/sbin/policy-rc.d"
    chroot "$tmp" apt-get clean
    mv "$tmp" "$BASE"
}
if [ ! -x "$BASE/usr/bin/git" ]; then
    mkdir -p "$(dirname "$BASE")"
    make_base
fi
[ "${1:-}" = --base-only ] && exit 0

head=$(git rev-parse HEAD)
git diff --quiet HEAD || echo "fresh_root: uncommitted changes are not tested (HEAD ${head:0:12})" >&2

run=$(mktemp -d /var/tmp/fresh_root.XXXXXX)
child=
cleanup() {
    trap - EXIT INT TERM
    set +e # a killed child's status must not stop the cleanup
    # timeout passes TERM on to unshare, whose --kill-child kills the
    # namespaces' init: every process in the root ends with it and its
    # mounts go (they never existed outside the namespace)
    if [ -n "$child" ]; then
        kill -TERM "$child" 2>/dev/null
        wait "$child" 2>/dev/null
    fi
    rm -rf --one-file-system "$run"
}
trap cleanup EXIT
trap 'echo "fresh_root: interrupted" >&2; exit 130' INT TERM
mkdir -p "$run/upper" "$run/work" "$run/root"

# Inside the new mount and PID namespace (as PID 1): assemble the root, run.
inner() {
    set -u
    local m=$run/root
    mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$run/upper,workdir=$run/work" "$m"
    mount -t proc proc "$m/proc"
    mount --rbind /sys "$m/sys"
    mount --rbind /dev "$m/dev"
    mount -t tmpfs -o mode=755 tmpfs "$m/run"
    cp /etc/resolv.conf "$m/etc/resolv.conf"
    mkdir -p "$m/work/shared"
    mount --bind "$SHARED" "$m/work/shared"
    mount -o remount,bind,ro "$m/work/shared"
    git clone -q "$repo" "$m/work/smtpscope"
    git -C "$m/work/smtpscope" checkout -q -B fresh-root "$head"
    echo "fresh_root: $head in a fresh bookworm; make demo" >&2
    local envs=(env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
                LANG=C.UTF-8)
    chroot "$m" "${envs[@]}" sh -c 'cd /work/smtpscope && make demo' > "$run/demo.log" 2>&1
    echo $? > "$run/demo.rc"
    echo "fresh_root: make test" >&2
    chroot "$m" "${envs[@]}" sh -c 'cd /work/smtpscope && make test' > "$run/test.log" 2>&1
    echo $? > "$run/test.rc"
}
export -f inner
export run repo head BASE SHARED
timeout --kill-after=30 "$TIMEOUT" \
    unshare --mount --propagation private --pid --fork --kill-child bash -c inner &
child=$!
set +e
wait "$child"
rc=$?
child=
set -e

demo_rc=$(cat "$run/demo.rc" 2>/dev/null || echo none)
test_rc=$(cat "$run/test.rc" 2>/dev/null || echo none)
for part in demo test; do
    [ -f "$run/$part.log" ] || continue
    echo "# --- last lines of make $part"
    tail -n 25 "$run/$part.log"
    # a copy of the whole log outlives the overlay
    cp "$run/$part.log" "/var/tmp/fresh_root.$part.log"
done
grep '^not ok' "$run/test.log" 2>/dev/null | sed 's/^/# failed: /' || true
[ "$rc" -eq 124 ] && echo "fresh_root: timed out after $TIMEOUT s"
demo=failed; [ "$demo_rc" = 0 ] && demo=ok
counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$run/test.log" 2>/dev/null | tail -n 1)
echo "fresh_root: make demo $demo; make test: ${counts:-no result (exit $test_rc)}"
[ "$demo_rc" = 0 ] && [ "$test_rc" = 0 ]
