#!/bin/bash
# test_compare_router.sh - smtpscope --compare across a real router
# (test/lib/routerlab.sh, R's kernel forwarding with nftables), captured on
# both of R's interfaces at once: the client-facing one is the client side,
# the server-facing one the server side.
#   dnat    the client connects to 192.0.2.99:25, R rewrites it to
#           192.0.2.25:25: one connection, paired, finding redirected
#   reject  R refuses port 25 toward the server with a TCP reset in the
#           server's name: the session reached the client side only
#   drop    R drops port 25 silently: the client's SYNs, client side only
# Needs root; a missing prerequisite fails and names itself.
set -u
cd "$(dirname "$0")/../.."
bin=${SMTPSCOPE:-./smtpscope}
. test/lib/routerlab.sh
fail=0
nok() { echo "not ok - $*"; fail=1; }
if [ "$(id -u)" -ne 0 ]; then
    echo "not ok - compare router lab: needs root (network namespaces)"
    exit 1
fi
lab_need swaks tcpdump postfix python3 "$bin" || { echo "not ok - compare router lab: tools missing"; exit 1; }
rlab_up || { echo "not ok - compare router lab: namespaces"; exit 1; }
D=$LAB_DIR
lab_postfix_start || { echo "not ok - compare router lab: Postfix"; exit 1; }
rlab_route_kernel
VIP=192.0.2.99

both() { # both NAME TARGET [SWAKS-OPTIONS...]: one delivery, captured on both sides
    name=$1 target=$2; shift 2
    rlab_capture_start "$name.c" "$RLAB_NS_R" "$RLAB_IF_RC" "$D/$name.client.pcap" ||
        nok "$name: capture (client side)"
    rlab_capture_start "$name.s" "$RLAB_NS_R" "$RLAB_IF_RS" "$D/$name.server.pcap" ||
        nok "$name: capture (server side)"
    timeout 30 ip netns exec "$LAB_NS_C" swaks --server "$target" --from a@example.com \
        --to alice@example.net --helo client.example.com "$@" </dev/null >"$D/$name.swaks" 2>&1
    echo $? > "$D/$name.rc"
    rlab_wait_closed
    rlab_capture_stop "$name.c" || nok "$name: capture (client side) lost packets"
    rlab_capture_stop "$name.s" || nok "$name: capture (server side) lost packets"
}

rlab_nft "chain prerouting_lab { type nat hook prerouting priority -100; policy accept;
              ip daddr $VIP tcp dport 25 dnat ip to $LAB_SERVER4:25
          }" || nok "dnat: nft"
both dnat "$VIP" --timeout 15
rlab_nft "chain forward_lab { type filter hook forward priority 0; policy accept;
              ip daddr $LAB_SERVER4 tcp dport 25 reject with tcp reset
          }" || nok "reject: nft"
both reject "$LAB_SERVER4" --timeout 15
# swaks gives up after its timeout; the client's SYNs (1 s, 3 s) are seen
rlab_nft "chain forward_lab { type filter hook forward priority 0; policy accept;
              ip daddr $LAB_SERVER4 tcp dport 25 drop
          }" || nok "drop: nft"
both drop "$LAB_SERVER4" --timeout 4
rlab_nft

python3 - "$bin" "$D" <<'EOF' || fail=1
import json, os, subprocess, sys
sys.path.insert(0, "test/lib")
from tap import check, finish
bin, d = sys.argv[1], sys.argv[2]


def rc(name):
    with open(f"{d}/{name}.rc") as f:
        return int(f.read().strip() or -1)


def compare(name):
    p = subprocess.run([bin, "-q", "--json", "--summary", "--compare", f"{d}/{name}.client.pcap",
                        f"{d}/{name}.server.pcap"], capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, f"{name}: --compare runs (exit {p.returncode}) {p.stderr[:200]}")
    recs = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
    return [r for r in recs if r["type"] == "pair"]


def names(r):
    return {f["name"] for f in r["findings"]}


check(rc("dnat") == 0, f"dnat: swaks delivered through the DNAT (exit {rc('dnat')})")
pairs = compare("dnat")
both = [r for r in pairs if r["client_side"] and r["server_side"]]
if check(len(pairs) == 1 and len(both) == 1, f"dnat: one pair of both sides ({len(pairs)} records)"):
    r = both[0]
    got = names(r)
    check("redirected" in got and "one-side-only" not in got,
          f"dnat: redirected, not one-side-only (got {sorted(got)})")
    check(r["client_side"]["server"]["ip"] == "192.0.2.99" and
          r["server_side"]["server"]["ip"] == "192.0.2.25",
          f"dnat: the client side went to 192.0.2.99, the server side to 192.0.2.25 "
          f"({r['client_side']['server']['ip']}, {r['server_side']['server']['ip']})")
    check(not got & {"reoriginated", "reset-injected", "reply-injected", "banner-rewritten",
                     "message-altered"},
          f"dnat: the router rewrote addresses only ({sorted(got)})")
    check(r["client_side"]["verdict"] == r["server_side"]["verdict"] == "ok",
          f"dnat: both sides OK ({r['client_side']['verdict']}, {r['server_side']['verdict']})")
else:
    for r in pairs:
        print("#", json.dumps(r)[:400])

for name in ("reject", "drop"):
    check(rc(name) != 0, f"{name}: swaks could not deliver (exit {rc(name)})")
    pairs = compare(name)
    one = [r for r in pairs if r["client_side"] and not r["server_side"]]
    if not check(len(pairs) == 1 and len(one) == 1,
                 f"{name}: one session, client side only ({len(pairs)} records)"):
        for r in pairs:
            print("#", json.dumps(r)[:400])
        continue
    r = one[0]
    check("one-side-only" in names(r), f"{name}: one-side-only ({sorted(names(r))})")
    want = {"reject": "refused", "drop": "no-answer"}[name]
    check(r["client_side"]["verdict"] == "failed" and r["client_side"]["end_cause"] == want,
          f"{name}: the client side failed, {want} ({r['client_side']['verdict']}, "
          f"{r['client_side']['end_cause']})")
finish()
EOF
[ -z "$LAB_CAP_LOST" ] || nok "the kernel dropped packets from:$LAB_CAP_LOST"
# COMPARE_ROUTER_KEEP=DIR keeps the captures for a person to read
[ -n "${COMPARE_ROUTER_KEEP:-}" ] && mkdir -p "$COMPARE_ROUTER_KEEP" && cp "$D"/*.pcap "$COMPARE_ROUTER_KEEP"/
exit $fail
