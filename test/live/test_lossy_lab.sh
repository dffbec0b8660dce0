#!/bin/bash
# test_lossy_lab.sh - real MTAs through a lossy path: Postfix in the
# server namespace, swaks and Python's smtplib in the client's, each
# delivering a 200 KB message (a few hundred segments) through
# lossy_forwarder.py on the router (test/lib/routerlab.sh):
#   clean     no impairment
#   loss5     5 % of the TCP segments lost each way
#   reorder   5 % held back behind the next segment, each way
#   dup       5 % sent twice, each way
#   zerowin   4 of the server's segments rewritten to a zero window
#   jitter    every frame delayed 0-2 ms at random: heavy reordering
# Each run is captured twice at once: on the router's server-facing
# interface and in the client's namespace. check_lossy_lab.py reads them
# with smtpscope --json and checks them against the clean run, tshark's
# tcp.analysis and the forwarder's log of what it did.
# Needs root; a missing prerequisite fails and names itself.
set -u
cd "$(dirname "$0")/../.."
bin=${SMTPSCOPE:-./smtpscope}
. test/lib/routerlab.sh
fail=0
nok() { echo "not ok - $*"; fail=1; }
if [ "$(id -u)" -ne 0 ]; then
    echo "not ok - lossy lab: needs root (network namespaces)"
    exit 1
fi
lab_need swaks tcpdump tshark postfix python3 "$bin" || { echo "not ok - lossy lab: tools missing"; exit 1; }
rlab_up || { echo "not ok - lossy lab: namespaces"; exit 1; }
D=$LAB_DIR
# a receive buffer the 200 KB fit in: Postfix's own zero windows (smtpd
# reads slower than a local client writes) would blur the zerowin run's
lab_in_s sysctl -qw net.ipv4.tcp_rmem="4096 4194304 8388608"
lab_postfix_start || { echo "not ok - lossy lab: Postfix"; exit 1; }
# 200 KB of text in lines of 76 (no dot-stuffing to reason about)
python3 -c 'import random; r = random.Random(7)
print("\n".join("".join(r.choice("abcdefghij") for _ in range(76)) for _ in range(2700)))' > "$D/body"

deliver() { # deliver NAME: swaks, then smtplib, through the router
    timeout 60 ip netns exec "$LAB_NS_C" swaks --server "$LAB_SERVER4" --from a@example.com \
        --to alice@example.net --helo client.example.com --timeout 30 \
        --header "Subject: lab delivery (swaks)" --body "@$D/body" </dev/null >"$D/$1.swaks" 2>&1 ||
        { nok "$1: swaks did not deliver"; tail -5 "$D/$1.swaks"; }
    timeout 60 ip netns exec "$LAB_NS_C" python3 - "$LAB_SERVER4" "$D/body" "$1" <<'EOF' \
        >"$D/$1.smtplib" 2>&1 || { nok "$1: smtplib did not deliver"; tail -5 "$D/$1.smtplib"; }
import smtplib, sys
body = open(sys.argv[2]).read().replace("\n", "\r\n")
msg = "From: b@example.com\r\nTo: bob@example.net\r\nSubject: lab delivery (smtplib)\r\n\r\n%s" % body
with smtplib.SMTP(sys.argv[1], 25, "client2.example.com", timeout=30) as s:
    s.sendmail("b@example.com", ["bob@example.net"], msg)
EOF
}

run() { # run NAME FORWARDER-ARGS...: one run, captured on both sides
    name=$1; shift
    rlab_forwarder_start --seed 20 --duration 150 "$@" || { nok "$name: forwarder"; return 1; }
    rlab_capture_start "$name.s" "$RLAB_NS_R" "$RLAB_IF_RS" "$D/$name.s.pcap" || nok "$name: capture R"
    rlab_capture_start "$name.c" "$LAB_NS_C" "$RLAB_IF_C" "$D/$name.c.pcap" || nok "$name: capture C"
    deliver "$name"
    rlab_wait_closed
    rlab_capture_stop "$name.s" || nok "$name: capture R lost packets"
    rlab_capture_stop "$name.c" || nok "$name: capture C lost packets"
    rlab_forwarder_stop || nok "$name: forwarder"
    cp "$RLAB_FWD_LOG" "$D/$name.fwd.log"
}

run clean
run loss5 --drop 0.05
run reorder --reorder 0.05
run dup --dup 0.05
run zerowin --zero-window s2c:30:4
run jitter --delay-ms 1 --jitter-ms 1
lab_wait_maillog "status=sent" 12

n=$(grep -c "status=sent" "$D/postfix/maillog" 2>/dev/null)
[ "${n:-0}" -eq 12 ] || nok "Postfix delivered $n of the 12 messages"
python3 test/live/check_lossy_lab.py "$bin" "$D" clean loss5 reorder dup zerowin jitter || fail=1
# LOSSY_LAB_KEEP=DIR keeps the captures and the forwarder's logs
[ -n "${LOSSY_LAB_KEEP:-}" ] && mkdir -p "$LOSSY_LAB_KEEP" && cp "$D"/*.pcap "$D"/*.fwd.log "$LOSSY_LAB_KEEP"/
exit $fail
