#!/bin/bash
# make_captures.sh [OUTDIR] - record the bundled captures from real peers.
#
# Needs root: it builds two network namespaces joined by a veth pair
# (192.0.2.10 client, 192.0.2.25 server), runs a private Postfix (Debian
# package) in one and swaks or Python's smtplib in the other, and records
# each scenario with tcpdump into OUTDIR/NAME.pcap (default: this folder).
# Everything it starts is stopped and removed on exit (test/lib/smtplab.sh).
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
mkdir -p "$out"
out=$(cd "$out" && pwd)
. "$here/../test/lib/smtplab.sh"
lab_need swaks tcpdump python3 || exit 1
lab_up || exit 1
lab_postfix_start || exit 1

S=$LAB_SERVER4
SWAKS="swaks --server $S --helo client.example.com --from sender@example.com
       --hide-all --timeout 10"

record() { # record NAME COMMAND...: one scenario, one pcap
    name=$1; shift
    lab_capture_start "$out/$name.pcap" || return 1
    lab_client "$@"
    rc=$?
    lab_capture_stop
    echo "make_captures: $name.pcap (client exit $rc)" >&2
}

# core: the scenarios of the core issue
record core-success $SWAKS --to alice@example.net \
    --header "Subject: core-success" --body "A short test message."
record core-ehlo-quit $SWAKS --to alice@example.net --quit-after EHLO
record core-unknown-user $SWAKS --to nosuchuser@example.net \
    --body "never delivered"
record core-relay-denied $SWAKS --to someone@example.org \
    --body "never relayed"
record core-multi-rcpt $SWAKS \
    --to alice@example.net,nobody@example.net,bob@example.net \
    --header "Subject: core-multi-rcpt" --body "To three, one unknown."
record core-two-transactions python3 "$here/client_two_tx.py" "$S"
