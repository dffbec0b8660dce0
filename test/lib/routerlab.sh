# routerlab.sh - client -- router -- server in three network namespaces,
# for tests of what a path does to SMTP (loss, reordering, a zero window,
# NAT, a firewall). Source it from bash; needs root. It builds on
# smtplab.sh (sourced here): lab_postfix_start runs Postfix in the server
# namespace as it does there, lab_in_c / lab_in_s / lab_client too.
#
#   . test/lib/routerlab.sh
#   rlab_up                      # namespaces C, R, S; routes via R
#   lab_postfix_start            # Postfix in S (192.0.2.25)
#   rlab_route_kernel            # R forwards in its kernel (ip_forward=1) ...
#   rlab_nft 'chain ... { ... }' #   ... with nftables rules of the lab's table
#   rlab_forwarder_start --drop c2s=0.05 ...  # ... or lossy_forwarder.py does
#   rlab_capture_start NAME NS IF FILE [FILTER] ... rlab_capture_stop NAME
#   rlab_forwarder_stop          # its log: $RLAB_FWD_LOG
#   (rlab_down runs on exit)
#   RLAB_MTU=576 before rlab_up: that MTU on every link
#
#   C 203.0.113.10 --- 203.0.113.1 R 192.0.2.1 --- 192.0.2.25 S
#
# Documentation addresses only; the veths join only the lab's namespaces.
# Everything started is stopped by PID; every wait is bounded. The lab's
# own functions keep their loop variables local (smtplab.sh's use a
# global i: a caller's loop should not count with i).

RLAB_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$RLAB_LIB/smtplab.sh"

LAB_ID=rl$$
LAB_NS_C=${LAB_ID}c
LAB_NS_S=${LAB_ID}s
RLAB_NS_R=${LAB_ID}r
LAB_CLIENT4=203.0.113.10
LAB_SERVER4=192.0.2.25
RLAB_R_C4=203.0.113.1   # the router toward the client
RLAB_R_S4=192.0.2.1     # the router toward the server
# interfaces: C's, R's toward C, R's toward S, S's; fixed local MACs
RLAB_IF_C=${LAB_ID}c0 RLAB_IF_RC=${LAB_ID}rc RLAB_IF_RS=${LAB_ID}rs RLAB_IF_S=${LAB_ID}s0
RLAB_MAC_C=02:00:5e:00:71:0a RLAB_MAC_RC=02:00:5e:00:71:01
RLAB_MAC_RS=02:00:5e:00:02:01 RLAB_MAC_S=02:00:5e:00:02:19
RLAB_FWD_PID=
RLAB_FWD_LOG=
RLAB_CAPS=      # NAME=PID pairs of running captures

lab_in_r() { ip netns exec "$RLAB_NS_R" "$@"; }

rlab_link() { # rlab_link NS1 IF1 MAC1 NS2 IF2 MAC2: a veth between two namespaces
    local end
    ip link add "$2" address "$3" type veth peer name "$5" address "$6" || return 1
    ip link set "$2" netns "$1" && ip link set "$5" netns "$4" || return 1
    for end in "$1 $2" "$4 $5"; do
        set -- $end
        # no offloads: wire-sized frames with real checksums, for the
        # captures and for the forwarder, which writes frames as it read them
        ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off rx off >/dev/null 2>&1
        ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"
        # RLAB_MTU: a small MTU (more, smaller segments) on every link
        [ -n "${RLAB_MTU:-}" ] && ip netns exec "$1" ip link set "$2" mtu "$RLAB_MTU"
        ip netns exec "$1" ip link set "$2" up
    done
}

rlab_up() {
    local ns
    lab_need ip ethtool nft python3 || return 1
    LAB_DIR=$(mktemp -d /tmp/routerlab.XXXXXX) || return 1
    chmod 755 "$LAB_DIR"
    trap rlab_down EXIT INT TERM
    for ns in "$LAB_NS_C" "$RLAB_NS_R" "$LAB_NS_S"; do
        ip netns add "$ns" && ip netns exec "$ns" ip link set lo up || return 1
    done
    rlab_link "$LAB_NS_C" "$RLAB_IF_C" "$RLAB_MAC_C" "$RLAB_NS_R" "$RLAB_IF_RC" "$RLAB_MAC_RC" &&
        rlab_link "$RLAB_NS_R" "$RLAB_IF_RS" "$RLAB_MAC_RS" "$LAB_NS_S" "$RLAB_IF_S" "$RLAB_MAC_S" ||
        { lab_die "veths"; return 1; }
    lab_in_c ip addr add "$LAB_CLIENT4/24" dev "$RLAB_IF_C" &&
        lab_in_r ip addr add "$RLAB_R_C4/24" dev "$RLAB_IF_RC" &&
        lab_in_r ip addr add "$RLAB_R_S4/24" dev "$RLAB_IF_RS" &&
        lab_in_s ip addr add "$LAB_SERVER4/24" dev "$RLAB_IF_S" &&
        lab_in_c ip route add default via "$RLAB_R_C4" &&
        lab_in_s ip route add default via "$RLAB_R_S4" || { lab_die "addresses"; return 1; }
    # neighbours fixed: no ARP resolution races the first SYN, and the
    # forwarder (which does not answer ARP for others) needs none
    lab_in_c ip neigh replace "$RLAB_R_C4" lladdr "$RLAB_MAC_RC" dev "$RLAB_IF_C" nud permanent
    lab_in_s ip neigh replace "$RLAB_R_S4" lladdr "$RLAB_MAC_RS" dev "$RLAB_IF_S" nud permanent
    lab_in_r ip neigh replace "$LAB_CLIENT4" lladdr "$RLAB_MAC_C" dev "$RLAB_IF_RC" nud permanent
    lab_in_r ip neigh replace "$LAB_SERVER4" lladdr "$RLAB_MAC_S" dev "$RLAB_IF_RS" nud permanent
    lab_in_r sysctl -qw net.ipv4.ip_forward=0
}

# R's kernel routes (the forwarder must not be running).
rlab_route_kernel() {
    lab_in_r nft delete table ip rlab_fwd 2>/dev/null
    lab_in_r sysctl -qw net.ipv4.ip_forward=1
}

# nftables in R: the lab's own table "inet routerlab" holds the chains
# given (with their hook lines; a rule ends with a newline or ';' before
# the closing brace); no argument removes it.
#   rlab_nft 'chain pre { type nat hook prerouting priority -100;
#       ip daddr 192.0.2.99 tcp dport 25 dnat ip to 192.0.2.25
#   }'
rlab_nft() {
    lab_in_r nft delete table inet routerlab 2>/dev/null
    [ $# -eq 0 ] && return 0
    lab_in_r nft -f - <<NFT || lab_die "nft rules refused: $*"
table inet routerlab {
    $*
}
NFT
}

# lossy_forwarder.py routes between R's two interfaces; R's kernel routes
# nothing (ip_forward=0) and, with transit packets dropped before its IP
# layer (AF_PACKET has its copy already), answers none of them either.
# Arguments go to the forwarder (impairments, --seed, ...).
rlab_forwarder_start() {
    local i n
    lab_in_r sysctl -qw net.ipv4.ip_forward=0
    lab_in_r nft delete table ip rlab_fwd 2>/dev/null
    lab_in_r nft -f - <<NFT || { lab_die "nft (forwarder mode)"; return 1; }
table ip rlab_fwd {
    chain pre {
        type filter hook prerouting priority -300; policy accept;
        ip daddr != { $RLAB_R_C4, $RLAB_R_S4 } drop
    }
}
NFT
    n=$(( ${RLAB_FWD_RUNS:-0} + 1 )); RLAB_FWD_RUNS=$n
    RLAB_FWD_LOG=$LAB_DIR/forwarder.$n.log
    rm -f "$LAB_DIR/forwarder.ready"
    # ip netns exec directly (not lab_in_r): $! is then the forwarder's PID
    ip netns exec "$RLAB_NS_R" python3 "$RLAB_LIB/lossy_forwarder.py" \
        --a "$RLAB_IF_RC,$RLAB_MAC_RC,$RLAB_MAC_C,$RLAB_R_C4" \
        --b "$RLAB_IF_RS,$RLAB_MAC_RS,$RLAB_MAC_S,$RLAB_R_S4" \
        --log "$RLAB_FWD_LOG" --ready "$LAB_DIR/forwarder.ready" "$@" \
        >"$LAB_DIR/forwarder.$n.out" 2>&1 &
    RLAB_FWD_PID=$!
    LAB_PIDS="$LAB_PIDS $RLAB_FWD_PID"
    i=0
    while [ $i -lt 50 ] && [ ! -e "$LAB_DIR/forwarder.ready" ] && kill -0 "$RLAB_FWD_PID" 2>/dev/null; do
        sleep 0.1; i=$((i + 1))
    done
    [ -e "$LAB_DIR/forwarder.ready" ] ||
        { cat "$LAB_DIR/forwarder.$n.out" >&2; lab_die "the forwarder did not start"; return 1; }
}

rlab_forwarder_stop() { # its summary is the last line of $RLAB_FWD_LOG
    local i rc
    [ -n "$RLAB_FWD_PID" ] || return 0
    kill -TERM "$RLAB_FWD_PID" 2>/dev/null
    i=0
    while [ $i -lt 50 ] && kill -0 "$RLAB_FWD_PID" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "$RLAB_FWD_PID" 2>/dev/null
    wait "$RLAB_FWD_PID"
    rc=$?
    LAB_PIDS=$(echo "$LAB_PIDS" | tr ' ' '\n' | grep -vx "$RLAB_FWD_PID" | tr '\n' ' ')
    RLAB_FWD_PID=
    [ "$rc" -eq 0 ] || { cat "$LAB_DIR/forwarder.$RLAB_FWD_RUNS.out" >&2; lab_die "the forwarder failed ($rc)"; }
}

# tcpdump in a namespace, on one interface; several may run at once.
rlab_capture_start() { # rlab_capture_start NAME NS IF FILE [FILTER]
    local i log
    lab_need tcpdump || return 1
    log=$LAB_DIR/tcpdump.$1.log
    rm -f "$4"; : > "$log"
    ip netns exec "$2" tcpdump -Z root --immediate-mode -B 262144 -i "$3" -s 0 -U -w "$4" \
        "${5:-tcp port 25}" >"$log" 2>&1 &
    RLAB_CAPS="$RLAB_CAPS $1=$!"
    LAB_PIDS="$LAB_PIDS $!"
    i=0
    while [ $i -lt 50 ] && ! grep -q "listening on" "$log"; do sleep 0.1; i=$((i + 1)); done
    grep -q "listening on" "$log" || lab_die "tcpdump $1 did not start"
}

# Stops a capture; fails (and lists the file in LAB_CAP_LOST) if the
# kernel dropped packets from it: a capture with holes tests the lab.
rlab_capture_stop() { # rlab_capture_stop NAME
    local i c pid dropped
    pid=
    for c in $RLAB_CAPS; do [ "${c%%=*}" = "$1" ] && pid=${c#*=}; done
    [ -n "$pid" ] || return 0
    kill -INT "$pid" 2>/dev/null
    i=0
    while [ $i -lt 50 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    RLAB_CAPS=$(echo "$RLAB_CAPS" | tr ' ' '\n' | grep -vx "$1=$pid" | tr '\n' ' ')
    LAB_PIDS=$(echo "$LAB_PIDS" | tr ' ' '\n' | grep -vx "$pid" | tr '\n' ' ')
    dropped=$(sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' "$LAB_DIR/tcpdump.$1.log")
    if [ "${dropped:-0}" -gt 0 ]; then
        echo "routerlab: the kernel dropped $dropped packets from capture $1" >&2
        LAB_CAP_LOST="$LAB_CAP_LOST $1"
        return 1
    fi
}

# Waits (up to 10 s) until no TCP connection to port 25 is left in C:
# the last FIN/ACK exchange has crossed the router before captures stop.
rlab_wait_closed() {
    local i
    i=0
    while [ $i -lt 100 ] && lab_in_c ss -Htn state all '( dport = :25 )' 2>/dev/null |
        grep -qv TIME-WAIT; do
        sleep 0.1; i=$((i + 1))
    done
}

rlab_down() {
    local c pid
    for c in $RLAB_CAPS; do rlab_capture_stop "${c%%=*}"; done
    rlab_forwarder_stop 2>/dev/null
    for pid in $(ip netns pids "$RLAB_NS_R" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$RLAB_NS_R" 2>/dev/null
    lab_down # Postfix, the other processes, namespaces C and S, LAB_DIR
}
