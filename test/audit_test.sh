#!/bin/sh
# audit_test.sh - the relay and exposure audit (--local-domains) on real
# Postfix and Exim sessions: open-relay, auth-cleartext, banner-disclosure,
# each in the session's anomalies and in --summary; none without the option.
set -u
cd "$(dirname "$0")/.."
bin=${1:-./smtpscope}
. test/lib/tap.sh
names() { # names CAPTURE OPTIONS...: the session's anomaly names, sorted
    cap=$1; shift
    "$bin" -q -j "$@" -r "captures/$cap.pcap" | python3 -c "
import json, sys
r = json.loads(sys.stdin.readline())
print(' '.join(sorted(a['name'] for a in r['anomalies'])))"
}
AUD="--local-net 192.0.2.25 --local-domains example.com"
check_eval '[ "$(names core-success $AUD)" = "banner-disclosure open-relay" ]' \
    "core-success: mail for example.net accepted from an outside client without AUTH: open-relay"
check_eval '[ "$(names core-success --local-net 192.0.2.25 --local-domains example.net)" = "banner-disclosure" ]' \
    "core-success with example.net local: no open-relay"
check_eval '[ "$(names core-success --local-net 192.0.2.0/24 --local-domains example.com)" = "banner-disclosure" ]' \
    "core-success from a client of ours: no open-relay"
check_eval '[ "$(names core-relay-denied $AUD)" = "banner-disclosure relay-denied" ]' \
    "relay refused: relay-denied, not open-relay"
check_eval '[ "$(names proto-auth-plain --local-net 192.0.2.25 --local-domains example.net)" = "auth-cleartext banner-disclosure" ]' \
    "AUTH PLAIN without TLS, then relayed: auth-cleartext, and no open-relay (authenticated)"
OPEN="--local-net 192.0.2.25 --local-domains example.net"
check_eval '[ "$(names diag-open-relay $OPEN)" = "banner-disclosure open-relay" ]' \
    "a real open relay (Postfix, mynetworks 0.0.0.0/0) takes mail for example.org: open-relay"
check_eval '[ "$(names core-relay-denied $OPEN)" = "banner-disclosure relay-denied" ]' \
    "the closed Postfix beside it refuses the same: relay-denied, no open-relay"
check_eval '[ "$(names core-success)" = "" ]' "no audit findings without --local-domains"
d=$("$bin" -q -j $AUD -r captures/exim-success.pcap | grep -o '"name":"banner-disclosure"[^}]*' )
check_eval 'echo "$d" | grep -q "Exim version 4.96"' "banner-disclosure names the software and version (Exim 4.96)"
s=$("$bin" -q --summary $AUD -r captures/core-success.pcap -r captures/proto-auth-plain.pcap)
check_eval 'echo "$s" | grep -A3 "^#   audit:" | grep -q "^#     open-relay  *1 sessions" &&
       echo "$s" | grep -A3 "^#   audit:" | grep -q "^#     auth-cleartext  *1 sessions"' \
    "--summary counts open-relay and auth-cleartext, under the audit kind"
err=$("$bin" --local-domains "a@b" -r captures/core-success.pcap 2>&1 >/dev/null); rc=$?
check_eval '[ $rc -eq 1 ] && echo "$err" | grep -q "local-domains"' "a bad domain is refused, exit 1"
tap_done
