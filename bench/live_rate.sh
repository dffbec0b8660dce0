#!/bin/bash
# live_rate.sh - the highest replay rate at which the kernel drops nothing
# for smtpscope (one process and --workers 2) and for tcpdump -w /dev/null,
# all three on the same link in the same run (issue 19). Needs root,
# iproute2, tcpdump and tcpreplay (make bench-live installs tcpreplay).
#
#   bench/live_rate.sh [-s MB] [-l LOOPS] [-r "RATES"] [-o TABLE.md]
#
# The gateway mix (bench/gen_capture --mix gateway, MB megabytes) is
# replayed LOOPS times by tcpreplay at each rate (Mbit/s; "top" is
# tcpreplay's --topspeed) from one namespace into another over a veth
# pair; the three captures read the receiving end. Then the same rates
# again with the CPU busy: a second tcpreplay at top speed over a second
# veth pair for the whole round, as a gateway's MTA keeps a core busy.
# Each capture's kernel counts come from its own statistics (tcpdump's
# "received by filter" and "dropped by kernel", smtpscope --stats' "kernel:
# N received, M dropped", summed over workers), as "M of N": every frame
# sent must be in N + M. The frames carry documentation addresses only (the
# generator's); the namespaces and links are the script's own, removed on
# exit, and only processes it started are stopped, by PID.
set -u
cd "$(dirname "$0")/.."
size=100 loops=2 rates="100 200 400 600 800 1000 1500 top" table=
while getopts s:l:r:o: opt; do
    case $opt in
    s) size=$OPTARG ;; l) loops=$OPTARG ;; r) rates=$OPTARG ;; o) table=$OPTARG ;;
    *) echo "usage: $0 [-s MB] [-l LOOPS] [-r RATES] [-o TABLE.md]" >&2; exit 2 ;;
    esac
done
missing=
[ "$(id -u)" = 0 ] || missing="$missing root"
for tool in ip tcpdump tcpreplay; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
for f in smtpscope build/bench/gen_capture; do
    [ -x "$f" ] || missing="$missing $f(make bench-build)"
done
if [ -n "$missing" ]; then
    echo "live_rate: missing:$missing" >&2
    exit 1
fi

id=slr$$
ns_tx=${id}t ns_rx=${id}r
dir=$(mktemp -d)
pids=
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    for p in $pids; do wait "$p" 2>/dev/null; done
    ip netns del "$ns_tx" 2>/dev/null
    ip netns del "$ns_rx" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns_tx" && ip netns add "$ns_rx" || exit 1
# the measured link, and the busy one (its far end is only a sink)
ip link add "${id}a" netns "$ns_tx" type veth peer name "${id}b" netns "$ns_rx" || exit 1
ip link add "${id}c" netns "$ns_tx" type veth peer name "${id}d" netns "$ns_rx" || exit 1
for dev in a c; do ip -n "$ns_tx" link set "${id}$dev" mtu 9000 up; done
for dev in b d; do ip -n "$ns_rx" link set "${id}$dev" mtu 9000 up; done

cap=$dir/gw.pcap
gen=$(build/bench/gen_capture -o "$cap" -s "$size" --mix gateway 2>&1) || {
    echo "live_rate: gen_capture failed: $gen" >&2; exit 1; }
frames=$(echo "$gen" | sed -n 's/.* \([0-9]*\) packets,.*/\1/p')

# stop_wait PID...: SIGINT, then at most 10 s before SIGKILL; a PID waited
# for leaves the cleanup list (the number may be another process's next)
stop_wait() {
    local p t keep
    for p in "$@"; do kill -INT "$p" 2>/dev/null; done
    for p in "$@"; do
        for t in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    keep=
    for p in $pids; do
        case " $* " in *" $p "*) ;; *) keep="$keep $p" ;; esac
    done
    pids=$keep
}

# drops FILE KIND: "dropped of received" as a capture printed them, or "?"
# (the sum over workers: each is handed its own shard by the kernel)
drops() {
    case $2 in
    tcpdump) awk '/packets received by filter$/ { r = $1 }
            /packets dropped by kernel$/ { d = $1; n = 1 }
            END { if (n) print d " of " r; else print "?" }' "$1" ;;
    *) awk '/kernel: [0-9]+ received, [0-9]+ dropped/ {
            for (i = 1; i <= NF; i++) {
                if ($i == "received,") r += $(i - 1)
                if ($i == "dropped,") { d += $(i - 1); n++ }
            } }
            END { if (n) print d " of " r; else print "?" }' "$1" ;;
    esac
}

one_rate() { # RATE: one replay with the three captures; prints a table row
    local rate=$1 how p1 p2 p3 out
    ip netns exec "$ns_rx" tcpdump -i "${id}b" -n -w /dev/null 2>"$dir/td.err" &
    p1=$!
    ip netns exec "$ns_rx" ./smtpscope -j --stats -i "${id}b" -o /dev/null 2>"$dir/one.err" &
    p2=$!
    ip netns exec "$ns_rx" ./smtpscope -j --stats --workers 2 -i "${id}b" -o /dev/null \
        2>"$dir/two.err" &
    p3=$!
    pids="$pids $p1 $p2 $p3"
    sleep 2 # the three sockets open
    if [ "$rate" = top ]; then how=--topspeed; else how=--mbps=$rate; fi
    out=$(timeout 300 ip netns exec "$ns_tx" tcpreplay -q -i "${id}a" "$how" \
        --loop="$loops" "$cap" 2>&1)
    sleep 2 # the captures drain
    stop_wait "$p1" "$p2" "$p3"
    local got=$(echo "$out" | sed -n 's/.*Rated: [0-9.]* Bps, \([0-9.]*\) Mbps, \([0-9.]*\) pps.*/\1 \2/p')
    printf '| %s | %s | %s | %s | %s | %s |\n' "$rate" "${got% *}" "${got#* }" \
        "$(drops "$dir/td.err" tcpdump)" "$(drops "$dir/one.err" one)" \
        "$(drops "$dir/two.err" two)"
}

round() { # TITLE
    echo
    echo "$1"
    echo
    echo "| asked Mbit/s | sent Mbit/s | packets/s | tcpdump dropped | smtpscope dropped | --workers 2 dropped |"
    echo "|---|---:|---:|---:|---:|---:|"
    for r in $rates; do one_rate "$r"; done
}

{
    echo "live_rate: $frames frames of the gateway mix ($size MB), $loops loops a rate," \
        "commit $(git rev-parse --short HEAD 2>/dev/null || echo ?)"
    round "A spare core (nothing else running):"
    ip netns exec "$ns_tx" timeout 3600 tcpreplay -q -i "${id}c" --topspeed --loop=0 \
        "$cap" >/dev/null 2>&1 &
    busy=$!
    pids="$pids $busy"
    round "The CPU busy (a second tcpreplay at top speed on another link):"
    stop_wait "$busy"
} | tee ${table:+"$table"}
