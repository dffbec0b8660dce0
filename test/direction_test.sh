#!/bin/sh
# direction_test.sh - --local-net: each session's direction, and outgoing
# sessions written as our host's own client log (remote server's address,
# >>> for what our host sent, <<< for what it received).
set -u
cd "$(dirname "$0")/.."
bin=${1:-./smtpscope}
. test/lib/tap.sh
cap=captures/core-multi-rcpt.pcap   # client 192.0.2.10, server 192.0.2.25
dir() { "$bin" -q -j "$@" -r "$cap" | python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['direction'])"; }
check_eval '[ "$(dir)" = unknown ]' "no --local-net: direction unknown"
check_eval '[ "$(dir --local-net 192.0.2.25/32)" = incoming ]' "our server: incoming"
check_eval '[ "$(dir --local-net 192.0.2.10)" = outgoing ]' "our client host: outgoing"
check_eval '[ "$(dir --local-net 192.0.2.0/24)" = internal ]' "both ours: internal"
check_eval '[ "$(dir --local-net 198.51.100.0/24 --local-net 2001:db8::/32)" = transit ]' "neither ours: transit"
check_eval '[ "$(dir --local-net 192.0.2.0/25,192.0.2.128/25)" = internal ]' "a list of prefixes"
v6=$("$bin" -q -j --local-net 2001:db8::/32 -r captures/core-ipv6.pcap |
     python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['direction'])")
check_eval '[ "$v6" = internal ]' "IPv6 prefixes ($v6)"

in=$("$bin" -q --local-net 192.0.2.25 -r "$cap")
check_eval '[ "$in" = "$(cat test/golden/core-multi-rcpt.txt)" ]' "incoming: the log is the server's view, as without the option"
out=$("$bin" -q --local-net 192.0.2.10 -r "$cap")
check_eval 'echo "$out" | grep -q "^192.0.2.25 \[[0-9a-f]*\] [0-9:.]* Client session 192.0.2.10:[0-9]* -> 192.0.2.25:25$"' \
    "outgoing: opens with a Client session line filed under the remote server"
check_eval '! echo "$out" | grep -q "^192.0.2.10 "' "outgoing: every line is filed under the remote server"
check_eval 'echo "$out" | grep -q "<<< 220 mx.example.net ESMTP Postfix$" && echo "$out" | grep -q ">>> EHLO client.example.com$"' \
    "outgoing: <<< what our host received, >>> what it sent"
n_in=$(echo "$in" | grep -c " >>> \| <<< ")
n_out=$(echo "$out" | grep -c " >>> \| <<< ")
check_eval '[ "$n_in" -eq "$n_out" ]' "the same dialogue lines either way ($n_in)"
json_dirs=$("$bin" -q -j --local-net 192.0.2.10 -r "$cap" | python3 -c "
import json, sys
r = json.loads(sys.stdin.readline())
print(r['transcript'][0]['dir'], r['transcript'][1]['dir'])")
check_eval '[ "$json_dirs" = "S C" ]' "JSON keeps C and S as they are ($json_dirs)"
err=$("$bin" --local-net 192.0.2.300/24 -r "$cap" 2>&1 >/dev/null); rc=$?
check_eval '[ $rc -eq 1 ] && echo "$err" | grep -q "local-net.*192.0.2.300"' "a bad prefix is named, exit 1"
err=$("$bin" --local-net 192.0.2.0/33 -r "$cap" 2>&1 >/dev/null); rc=$?
check_eval '[ $rc -eq 1 ] && echo "$err" | grep -q "/32"' "an over-long IPv4 prefix is refused"
tap_done
