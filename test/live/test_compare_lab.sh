#!/bin/bash
# test_compare_lab.sh - smtpscope --compare on real middleboxes, each
# captured on both sides in the same run (outside: the server namespace's
# veth, port 25; inside: its loopback, where the middlebox talks to a real
# Postfix), then read by --compare and checked for what the device did:
#   mask        PIX/ASA-like masking proxy: banner, STARTTLS, commands masked
#   strip       a proxy that only removes STARTTLS from the EHLO reply
#   rename      a transparent proxy announcing its own name
#   relay       Postfix itself as a re-originating store-and-forward hop
#               (content filter on 127.0.0.1:10025): paired by Message-ID
#   reset       a forged RST in the server's name, seen outside only
#   intercept   a TLS-intercepting proxy (TLS 1.2: certificates in clear)
#   live        --compare -i VETH -i lo, live, around the mask scenario
# Needs root; a missing prerequisite fails and names itself.
set -u
cd "$(dirname "$0")/../.."
bin=${SMTPSCOPE:-./smtpscope}
. test/lib/smtplab.sh
fail=0
nok() { echo "not ok - $*"; fail=1; }
if [ "$(id -u)" -ne 0 ]; then
    echo "not ok - compare lab: needs root (network namespaces)"
    exit 1
fi
lab_need swaks openssl tcpdump postfix python3 || { echo "not ok - compare lab: tools missing"; exit 1; }
lab_up || { echo "not ok - compare lab: namespaces"; exit 1; }
S=$LAB_SERVER4
D=$LAB_DIR
lab_make_cert || { echo "not ok - compare lab: certificate"; exit 1; }
SWAKS="swaks --server $S --from a@example.com --to alice@example.net --helo client.example.com
       --timeout 15"

inside_start() { # inside_start FILE FILTER: the loopback of the server namespace
    : > "$D/inside.log"
    ip netns exec "$LAB_NS_S" tcpdump -Z root --immediate-mode -B 65536 -i lo -s 0 -U \
        -w "$1" "$2" >"$D/inside.log" 2>&1 &
    INSIDE=$!
    LAB_PIDS="$LAB_PIDS $INSIDE"
    i=0; while [ $i -lt 50 ] && ! grep -q "listening on" "$D/inside.log"; do sleep 0.1; i=$((i + 1)); done
    grep -q "listening on" "$D/inside.log" || lab_die "tcpdump on lo did not start"
}

inside_stop() {
    sleep 0.3
    kill -INT "$INSIDE" 2>/dev/null
    i=0; while [ $i -lt 50 ] && kill -0 "$INSIDE" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "$INSIDE" 2>/dev/null; wait "$INSIDE" 2>/dev/null
}

both() { # both NAME INSIDE-FILTER COMMAND...: one scenario, captured on both sides
    name=$1 filt=$2; shift 2
    inside_start "$D/$name.in.pcap" "$filt" || return 1
    lab_capture_start "$D/$name.out.pcap" "tcp port 25" || return 1
    timeout 30 ip netns exec "$LAB_NS_C" "$@" < /dev/null > "$D/$name.client" 2>&1
    [ -n "${WAIT_FOR:-}" ] && lab_wait_maillog "$WAIT_FOR" 1
    [ -n "${WAIT_SECONDS:-}" ] && sleep "$WAIT_SECONDS"
    lab_capture_stop
    inside_stop
}

proxy_start() { # proxy_start SCRIPT ARGS...: a middlebox on $S:25 in the server namespace
    ip netns exec "$LAB_NS_S" python3 "$@" &
    PROXY=$!
    LAB_PIDS="$LAB_PIDS $PROXY"
    lab_wait_port "$LAB_NS_S" 25 "$S:25"
}

proxy_stop() { kill "$PROXY" 2>/dev/null; wait "$PROXY" 2>/dev/null; }

# Postfix on 127.0.0.1 only (ports 25 and 2525), TLS 1.2 at most so that
# both sides' certificates travel in clear; the proxies take $S:25.
lab_postfix_start "inet_interfaces = 127.0.0.1" \
    "smtpd_tls_cert_file = $D/cert.pem" "smtpd_tls_key_file = $D/key.pem" \
    "smtpd_tls_security_level = may" "smtpd_tls_protocols = !SSLv2, !SSLv3, !TLSv1.3" \
    "smtpd_data_restrictions = sleep 1, permit" \
    "master:2525 inet n - n - - smtpd" || { echo "not ok - compare lab: Postfix"; exit 1; }

for mode in mask strip rename; do
    proxy_start captures/masking_proxy.py "$S" 25 2525 "$mode" || nok "$mode: proxy"
    both "$mode" "tcp port 2525" $SWAKS || nok "$mode: capture"
    proxy_stop
done

proxy_start captures/masking_proxy.py "$S" 25 2525 rename || nok "reset: proxy"
rm -f "$D/injector.ready"
ip netns exec "$LAB_NS_S" python3 captures/inject_reset.py "${LAB_ID}b" "$S" 25 "$D/injector.ready" &
inj=$!
LAB_PIDS="$LAB_PIDS $inj"
i=0; while [ $i -lt 100 ] && [ ! -e "$D/injector.ready" ]; do sleep 0.1; i=$((i + 1)); done
# the proxy notices the client is gone when it next writes to it (Postfix
# answers DATA after its 1 s sleep): the inside capture waits for that
WAIT_SECONDS=3 both reset "tcp port 2525" $SWAKS || nok "reset: capture"
kill "$inj" 2>/dev/null; wait "$inj" 2>/dev/null
proxy_stop

openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=mx.example.net \
    -keyout "$D/proxy-key.pem" -out "$D/proxy-cert.pem" >/dev/null 2>&1
proxy_start test/live/tls_intercept_proxy.py "$S" 25 127.0.0.1 2525 "$D/proxy-cert.pem" \
    "$D/proxy-key.pem" || nok "intercept: proxy"
both intercept "tcp port 2525" $SWAKS -tls --tls-protocol tlsv1_2 || nok "intercept: capture"
proxy_stop

# live: both sides read at once by one smtpscope, around the mask scenario
proxy_start captures/masking_proxy.py "$S" 25 2525 mask || nok "live: proxy"
ip netns exec "$LAB_NS_S" "$bin" -q --json --summary --compare -i "${LAB_ID}b" -i lo \
    -p 25,2525 -G 6 > "$D/live.jsonl" 2> "$D/live.err" &
live=$!
LAB_PIDS="$LAB_PIDS $live"
sleep 1.5
timeout 20 ip netns exec "$LAB_NS_C" $SWAKS < /dev/null > "$D/live.client" 2>&1
i=0; while [ $i -lt 100 ] && kill -0 "$live" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
kill -INT "$live" 2>/dev/null; wait "$live"; echo "$?" > "$D/live.rc"
proxy_stop

# relay: Postfix on $S:25 hands each message to a second smtpd on
# 127.0.0.1:10025, a connection and a dialogue of its own
lab_postfix_stop
lab_postfix_start "content_filter = smtp:[127.0.0.1]:10025" \
    "master:smtp unix - - n - - smtp" \
    "master:127.0.0.1:10025 inet n - n - - smtpd -o content_filter=" ||
    { echo "not ok - compare lab: relay Postfix"; exit 1; }
lab_wait_port "$LAB_NS_S" 10025 || nok "relay: filter smtpd"
WAIT_FOR="relay=127.0.0.1[127.0.0.1]:10025" both relay "tcp port 10025" $SWAKS || nok "relay: capture"

python3 test/live/check_compare_lab.py "$bin" "$D" || fail=1
# COMPARE_LAB_KEEP=DIR keeps the captures for a person to read
[ -n "${COMPARE_LAB_KEEP:-}" ] && mkdir -p "$COMPARE_LAB_KEEP" && cp "$D"/*.pcap "$D"/live.* "$COMPARE_LAB_KEEP"/
exit $fail
