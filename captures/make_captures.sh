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

record() { # record NAME COMMAND...: one scenario, one pcap (filter: CAPFILTER)
    name=$1; shift
    lab_capture_start "$out/$name.pcap" "${CAPFILTER:-tcp port 25}" || return 1
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
record core-ipv6 swaks --server "$LAB_SERVER6" --helo client.example.com \
    --from sender@example.com --hide-all --timeout 10 --to alice@example.net \
    --body "Over IPv6."

# proto: protocol depth (pipelining, BDAT, STARTTLS, SMTPS, odd clients)
record proto-pipelining $SWAKS --pipeline \
    --to alice@example.net,nobody@example.net --body "Pipelined with PIPELINING."
record proto-pipeline-xxxx python3 "$here/client_scripted.py" "$S" pipeline-xxxx
record proto-data-rejected python3 "$here/client_scripted.py" "$S" data-rejected
record proto-bdat python3 "$here/client_scripted.py" "$S" bdat
record proto-bdat-malformed python3 "$here/client_scripted.py" "$S" bdat-malformed
record core-noop-vrfy-help python3 "$here/client_scripted.py" "$S" misc

# an early talker: the client speaks before the greeting, which this Postfix
# holds back for a second (client restrictions at connect time), so the
# EHLO is early however fast the machine is
lab_postfix_stop
lab_postfix_start "smtpd_delay_reject = no" "smtpd_client_restrictions = sleep 1, permit" || exit 1
record proto-early-talker python3 "$here/client_scripted.py" "$S" early-talker

# the same Postfix with a certificate: STARTTLS offered, and SMTPS on 465
lab_postfix_stop
lab_make_cert || exit 1
lab_postfix_start "smtpd_tls_cert_file = $LAB_DIR/cert.pem" \
    "smtpd_tls_key_file = $LAB_DIR/key.pem" "smtpd_tls_security_level = may" \
    "master:smtps inet n - n - - smtpd -o smtpd_tls_wrappermode=yes" || exit 1
lab_wait_port "$LAB_NS_S" 465 || exit 1
record proto-starttls $SWAKS --to alice@example.net -tls --body "Over TLS."
lab_capture_start "$out/proto-smtps.pcap" "tcp port 465" &&
    lab_client $SWAKS --port 465 --tlsc --to alice@example.net --body "SMTPS."
lab_capture_stop
echo "make_captures: proto-smtps.pcap" >&2

# Derived from the real captures above, the way sniffers get them wrong:
# started in the middle of a message, and seeing one direction only.
editcap -r "$out/core-two-transactions.pcap" "$out/proto-midstream.pcap" 15-1000 &&
    echo "make_captures: proto-midstream.pcap (from packet 15)" >&2
tshark -r "$out/core-success.pcap" -Y "ip.src == $LAB_CLIENT4" -w "$out/proto-one-sided.pcap" \
    2>/dev/null && echo "make_captures: proto-one-sided.pcap (client side only)" >&2

# AUTH against the same Postfix with Dovecot as its SASL authority; the
# authenticated client may relay. Passwords never reach smtpscope's output.
lab_postfix_stop
mapfile -t sasl < <(lab_postfix_sasl)
lab_postfix_start "${sasl[@]}" \
    "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination" \
    || exit 1
lab_dovecot_start || exit 1
AUTH="--auth-user alice@example.net --auth-password secret"
record proto-auth-plain $SWAKS --to someone@example.org --auth PLAIN $AUTH \
    --body "Relayed after AUTH PLAIN."
record proto-auth-login $SWAKS --to alice@example.net --auth LOGIN $AUTH
record proto-auth-cram-md5 $SWAKS --to alice@example.net --auth CRAM-MD5 $AUTH
record proto-auth-failed $SWAKS --to someone@example.org --auth LOGIN \
    --auth-user alice@example.net --auth-password wrong

# Not SMTP on port 25: a web server answers there (Python's http.server).
lab_postfix_stop
mkdir -p "$LAB_DIR/www" && echo "not a mail server" > "$LAB_DIR/www/index.html"
ip netns exec "$LAB_NS_S" python3 -m http.server 25 --bind "$S" \
    --directory "$LAB_DIR/www" >/dev/null 2>&1 &
www=$!
lab_wait_port "$LAB_NS_S" 25 || exit 1
record proto-not-smtp python3 -c \
    "import urllib.request; urllib.request.urlopen('http://$S:25/', timeout=5).read()"
kill "$www"; wait "$www" 2>/dev/null

# Exim: other reply texts, its own pipelining and CHUNKING, AUTH built in.
lab_exim_start || exit 1
record exim-success $SWAKS --to alice@example.net --body "Through Exim."
record exim-unknown-user $SWAKS --to nobody@example.net
record exim-relay-denied $SWAKS --to someone@example.org
record exim-pipelining $SWAKS --pipeline --to alice@example.net,nobody@example.net,bob@example.net
record exim-auth-plain $SWAKS --to someone@example.org --auth PLAIN $AUTH
record exim-bdat python3 "$here/client_scripted.py" "$S" bdat
record exim-pipeline-xxxx python3 "$here/client_scripted.py" "$S" pipeline-xxxx

# diag: what firewalls, proxies and policies do to port 25 (issue 4).
lab_exim_stop() { kill -TERM "$LAB_EXIM_PID" 2>/dev/null; wait "$LAB_EXIM_PID" 2>/dev/null; }
lab_exim_stop
lab_postfix_start || exit 1
SHORT="$SWAKS --to alice@example.net --body diag"
lab_nft "tcp dport 25 drop"
record diag-syn-dropped $SHORT --timeout 8
lab_nft "tcp dport 25 reject with tcp reset"
record diag-syn-refused $SHORT
lab_nft "tcp dport 25 reject with icmp type admin-prohibited"
CAPFILTER="tcp port 25 or icmp" record diag-icmp-prohibited $SHORT
# a reset injected into an established session when the message body passes
lab_nft "tcp dport 25 meta length > 600 reject with tcp reset"
record diag-reset-in-data $SWAKS --to alice@example.net \
    --body "$(head -c 2000 /dev/zero | tr '\0' 'x')"
lab_nft

# policies of a real Postfix: greylisting-like 450, size limit, a tarpit
lab_postfix_stop
lab_postfix_start "message_size_limit = 2048" \
    "smtpd_recipient_restrictions = check_recipient_access inline:{ { grey@example.net = 450 4.7.1 Greylisted, see https://postgrey.example.net/ } }" || exit 1
record diag-greylisted $SWAKS --to grey@example.net
record diag-too-large $SWAKS --to alice@example.net \
    --body "$(head -c 4000 /dev/zero | tr '\0' 'y')"
lab_postfix_stop
lab_postfix_start "smtpd_delay_reject = no" "smtpd_client_restrictions = sleep 11, permit" || exit 1
record diag-slow-greeting $SHORT --timeout 30

# a PIX/ASA-like masking proxy on port 25 in front of Postfix on 2525
lab_postfix_stop
lab_make_cert || exit 1
lab_postfix_start "inet_interfaces = 127.0.0.1" \
    "smtpd_tls_cert_file = $LAB_DIR/cert.pem" "smtpd_tls_key_file = $LAB_DIR/key.pem" \
    "smtpd_tls_security_level = may" "master:2525 inet n - n - - smtpd" || exit 1
ip netns exec "$LAB_NS_S" python3 "$here/masking_proxy.py" "$S" 25 2525 &
proxy=$!
lab_wait_port "$LAB_NS_S" 25 "$S:25" || exit 1
# Two vantage points of the same dialogue: outside the proxy (client side,
# banner and STARTTLS masked) and inside it (loopback between proxy and
# Postfix on 2525: the client's unknown commands turned into X's).
ip netns exec "$LAB_NS_S" tcpdump -Z root --immediate-mode -i lo -s 0 -U \
    -w "$out/diag-masked-inside.pcap" "tcp port 2525" >"$LAB_DIR/inside.log" 2>&1 &
inside=$!
i=0; while [ $i -lt 50 ] && ! grep -q "listening on" "$LAB_DIR/inside.log"; do sleep 0.1; i=$((i + 1)); done
record diag-masked-outside python3 "$here/client_scripted.py" "$S" misc
kill -INT "$inside"; wait "$inside" 2>/dev/null
echo "make_captures: diag-masked-inside.pcap" >&2
kill "$proxy"; wait "$proxy" 2>/dev/null

# the same proxy refusing EHLO (the client falls back to HELO), and a
# transparent proxy announcing its own name in the banner
for mode in no-ehlo rename; do
    ip netns exec "$LAB_NS_S" python3 "$here/masking_proxy.py" "$S" 25 2525 "$mode" &
    proxy=$!
    lab_wait_port "$LAB_NS_S" 25 "$S:25" || exit 1
    record "diag-proxy-$mode" $SHORT
    kill "$proxy"; wait "$proxy" 2>/dev/null
done

# servers that accept the connection and then refuse without a word
lab_postfix_stop
for mode in close reset partial silent; do
    ip netns exec "$LAB_NS_S" python3 "$here/server_scripted.py" "$S" 25 "$mode" &
    srv=$!
    lab_wait_port "$LAB_NS_S" 25 || exit 1
    record "diag-server-$mode" $SHORT --timeout 5
    kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null
done

# Postfix policy answers: a block list, TLS required first, a full mailbox
lab_postfix_start \
    "smtpd_client_restrictions = check_client_access inline:{ { $LAB_CLIENT4 = 554 5.7.1 Service unavailable; Client host [$LAB_CLIENT4] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/$LAB_CLIENT4 } }" || exit 1
record diag-dnsbl $SHORT
lab_postfix_stop
lab_postfix_start "smtpd_tls_cert_file = $LAB_DIR/cert.pem" "smtpd_tls_key_file = $LAB_DIR/key.pem" \
    "smtpd_tls_security_level = encrypt" || exit 1
record diag-tls-required $SHORT
lab_postfix_stop
lab_postfix_start \
    "smtpd_recipient_restrictions = check_recipient_access inline:{ { bob@example.net = 552 5.2.2 Mailbox full } }, permit_mynetworks, reject_unauth_destination" || exit 1
record diag-mailbox-full $SWAKS --to bob@example.net

# an open relay: a Postfix whose mynetworks is the whole internet (the
# classic mistake; Postfix refuses to start with relay restrictions that
# merely permit) takes mail for a foreign domain from an outside client, no
# AUTH (the closed one beside it is core-relay-denied); read with
# --local-net 192.0.2.25 --local-domains example.net
lab_postfix_stop
lab_postfix_start "mynetworks = 0.0.0.0/0" || exit 1
record diag-open-relay $SWAKS --to someone@example.org --body "relayed for a stranger"

# a forged reset: a "middlebox" on the server's link answers DATA with a RST
# in the server's name but its own TTL (200; the server's packets have 64).
# The server holds its 354 for two seconds, so the forged RST always comes
# first and in the client's window (a fast machine otherwise answered DATA
# before the injector, and the late RST was out of window)
lab_postfix_stop
lab_postfix_start "smtpd_data_restrictions = sleep 2, permit" || exit 1
rm -f "$LAB_DIR/injector.ready"
ip netns exec "$LAB_NS_S" python3 "$here/inject_reset.py" "${LAB_ID}b" "$S" 25 \
    "$LAB_DIR/injector.ready" &
inj=$!
i=0; while [ $i -lt 100 ] && [ ! -e "$LAB_DIR/injector.ready" ]; do sleep 0.1; i=$((i + 1)); done
record diag-forged-reset $SHORT
kill "$inj" 2>/dev/null; wait "$inj" 2>/dev/null

# slow answers: a tarpit at RCPT, a slow content check after the final dot,
# and a STARTTLS the server offers but cannot start (key file missing)
lab_postfix_stop
lab_postfix_start "smtpd_recipient_restrictions = sleep 11, permit_mynetworks, reject_unauth_destination" || exit 1
record diag-slow-rcpt $SHORT --timeout 30
# a client that pauses 3 s (read with --idle-gap 2000: test/golden/*.args),
# to a Postfix without the tarpit
lab_postfix_stop
lab_postfix_start || exit 1
record diag-idle-gap python3 "$here/client_scripted.py" "$S" idle
lab_postfix_stop
lab_postfix_start "smtpd_end_of_data_restrictions = sleep 11, permit" || exit 1
record diag-slow-end-of-data $SHORT --timeout 30
lab_postfix_stop
lab_postfix_start "smtpd_tls_cert_file = $LAB_DIR/missing-cert.pem" \
    "smtpd_tls_key_file = $LAB_DIR/missing-key.pem" "smtpd_tls_security_level = may" || exit 1
record diag-starttls-refused $SHORT -tlso

# STARTTLS stripped on the path: two sessions to the same server in one
# capture, the first direct (STARTTLS offered), the second through a proxy
# that drops the keyword from the EHLO reply (masking mode off, "strip").
lab_postfix_stop
lab_postfix_start "smtpd_tls_cert_file = $LAB_DIR/cert.pem" "smtpd_tls_key_file = $LAB_DIR/key.pem" \
    "smtpd_tls_security_level = may" "master:2525 inet n - n - - smtpd" || exit 1
lab_capture_start "$out/diag-starttls-stripped.pcap" "tcp port 25" || exit 1
lab_client $SHORT
lab_postfix_stop
lab_postfix_start "inet_interfaces = 127.0.0.1" "smtpd_tls_cert_file = $LAB_DIR/cert.pem" \
    "smtpd_tls_key_file = $LAB_DIR/key.pem" "smtpd_tls_security_level = may" \
    "master:2525 inet n - n - - smtpd" || exit 1
ip netns exec "$LAB_NS_S" python3 "$here/masking_proxy.py" "$S" 25 2525 strip &
proxy=$!
lab_wait_port "$LAB_NS_S" 25 "$S:25" || exit 1
lab_client $SHORT
kill "$proxy"; wait "$proxy" 2>/dev/null
lab_capture_stop
echo "make_captures: diag-starttls-stripped.pcap" >&2

# A message across two hops on the server: Postfix on port 25 hands every
# message to a content filter (a second smtpd on 127.0.0.1:10025, the
# classic after-queue filter set-up), captured on every interface at once.
# alice passes both hops; bob is accepted at the first and refused at the
# filter (a bounce the gateway now owes): read with --messages.
lab_postfix_stop
lab_postfix_start "content_filter = smtp:[127.0.0.1]:10025" \
    "filter_rcpt = check_recipient_access inline:{ { bob@example.net = 550 5.1.1 <bob@example.net>: refused by the content filter } }, permit_mynetworks, reject" \
    "master:smtp unix - - n - - smtp" \
    "master:127.0.0.1:10025 inet n - n - - smtpd -o content_filter= -o smtpd_recipient_restrictions=\$filter_rcpt" || exit 1
lab_wait_port "$LAB_NS_S" 10025 || exit 1
LAB_CAP_IF=any lab_capture_start "$out/diag-multi-hop.pcap" "tcp port 25 or tcp port 10025" || exit 1
lab_client $SWAKS --to alice@example.net --body "two hops"
lab_client $SWAKS --to bob@example.net --body "refused at the second hop"
# the queue manager hands both to the filter: wait for both outcomes
lab_wait_maillog 'relay=127.0.0.1[127.0.0.1]:10025' 2
sleep 0.5
lab_capture_stop
echo "make_captures: diag-multi-hop.pcap" >&2

# A gateway Postfix relaying to an internal Exim (port 2525 on the same
# host): the gateway takes any address at example.net, Exim knows only
# alice and bob. alice's message crosses both hops under one Message-ID;
# nobody's is accepted by the gateway and refused inside (bounce-risk).
lab_postfix_stop
LAB_EXIM_PORT=2525 lab_exim_start || exit 1
lab_postfix_start "content_filter = smtp:[127.0.0.1]:2525" "local_recipient_maps =" \
    "master:smtp unix - - n - - smtp" || exit 1
LAB_CAP_IF=any lab_capture_start "$out/diag-gateway-exim.pcap" "tcp port 25 or tcp port 2525" || exit 1
lab_client $SWAKS --to alice@example.net --body "through the gateway to Exim"
lab_client $SWAKS --to nobody@example.net --body "unknown inside"
lab_wait_maillog 'relay=127.0.0.1[127.0.0.1]:2525' 2
sleep 0.5
lab_capture_stop
lab_exim_stop
echo "make_captures: diag-gateway-exim.pcap" >&2

# DNS on the wire: dnsmasq answers for example.net in the server's
# namespace and dig asks (MX with two hosts, A, AAAA, CNAME, a name that
# does not exist, a domain it does not serve); the last query goes out
# after dnsmasq has stopped and gets no answer.
if command -v dnsmasq >/dev/null 2>&1 && command -v dig >/dev/null 2>&1; then
    ip netns exec "$LAB_NS_S" dnsmasq --no-daemon --no-resolv --no-hosts \
        --listen-address="$S" --bind-interfaces --port=53 --local=/example.net/ \
        --mx-host=example.net,mx1.example.net,10 --mx-host=example.net,mx2.example.net,20 \
        --host-record=mx1.example.net,192.0.2.25,2001:db8::25 \
        --host-record=mx2.example.net,192.0.2.26 \
        --cname=mail.example.net,mx1.example.net >"$LAB_DIR/dnsmasq.log" 2>&1 &
    dnsmasq_pid=$!
    i=0; while [ $i -lt 50 ] && ! ip netns exec "$LAB_NS_S" ss -Huln "sport = :53" | grep -q .; do
        sleep 0.1; i=$((i + 1)); done
    CAPFILTER="udp port 53 or icmp" lab_capture_start "$out/dns-lookups.pcap" "udp port 53 or icmp" || exit 1
    DIG="dig @$S +tries=1 +timeout=2"
    for q in "example.net MX" "mx1.example.net A" "mx1.example.net AAAA" \
             "mail.example.net A" "nosuch.example.net MX" "example.org MX"; do
        # shellcheck disable=SC2086
        lab_client $DIG $q >/dev/null
    done
    kill "$dnsmasq_pid"; wait "$dnsmasq_pid" 2>/dev/null
    lab_client $DIG example.net MX >/dev/null
    sleep 6 # past smtpscope's 5 s timeout, inside the capture
    lab_capture_stop
    echo "make_captures: dns-lookups.pcap" >&2
else
    echo "make_captures: dnsmasq or dig missing: dns-lookups.pcap not recorded" >&2
    exit 1
fi

# DNS over TCP: dig asks over TCP (IPv4 and IPv6), asks two questions on
# one kept-open connection, and asks without EDNS for an MX set too large
# for 512 bytes: dnsmasq truncates the UDP answer and dig asks again over
# TCP, so the capture holds the truncated answer and the whole one.
mx_many=
for n in $(seq -w 1 30); do
    mx_many="$mx_many --mx-host=big.example.net,mx$n.a-rather-long-exchanger-name.example.net,$n"
done
# shellcheck disable=SC2086
ip netns exec "$LAB_NS_S" dnsmasq --no-daemon --no-resolv --no-hosts \
    --listen-address="$S" --listen-address="$LAB_SERVER6" --bind-interfaces --port=53 \
    --local=/example.net/ --mx-host=example.net,mx1.example.net,10 \
    --host-record=mx1.example.net,192.0.2.25,2001:db8::25 \
    --host-record=mx2.example.net,192.0.2.26 $mx_many >"$LAB_DIR/dnsmasq.log" 2>&1 &
dnsmasq_pid=$!
i=0; while [ $i -lt 50 ] && ! ip netns exec "$LAB_NS_S" ss -Htln "sport = :53" | grep -q "$S"; do
    sleep 0.1; i=$((i + 1)); done
lab_capture_start "$out/dns-tcp.pcap" "port 53" || exit 1
DIG="dig @$S +tries=1 +timeout=2"
lab_client $DIG +tcp example.net MX >/dev/null
lab_client $DIG +tcp +keepopen mx1.example.net A mx2.example.net A >/dev/null
lab_client dig @"$LAB_SERVER6" +tries=1 +timeout=2 +tcp mx1.example.net AAAA >/dev/null
lab_client $DIG +noedns big.example.net MX >/dev/null
lab_capture_stop
kill "$dnsmasq_pid"; wait "$dnsmasq_pid" 2>/dev/null
echo "make_captures: dns-tcp.pcap" >&2

# Outgoing deliveries and their lookups: a client that delivers as an MTA
# does (client_mx.py: MX lookup, then the hosts in order of preference,
# 3 s connection timeout) against dnsmasq on the server's side.
# example.net: MX 10 mx1 (192.0.2.26, where port 25 is dropped) and MX 20
# mx2 (the lab's Postfix, named mx2.example.net): a fallback. example.org:
# MX 10 relay.example.org (192.0.2.28), which a DNAT rule hands to that
# same Postfix: its banner names another host, a mismatch. Read with
# --local-net 192.0.2.10 (our host is the sender).
lab_postfix_stop
lab_postfix_start "myhostname = mx2.example.net" || exit 1
lab_in_s ip addr add 192.0.2.26/24 dev "${LAB_ID}b"
lab_in_s ip addr add 192.0.2.28/24 dev "${LAB_ID}b"
lab_in_s nft -f - <<NFT || exit 1
table ip smtplab_mx {
    chain pre { type nat hook prerouting priority -100; ip daddr 192.0.2.28 tcp dport 25 dnat to 192.0.2.25; }
    chain in { type filter hook input priority 0; ip daddr 192.0.2.26 tcp dport 25 drop; }
}
NFT
ip netns exec "$LAB_NS_S" dnsmasq --no-daemon --no-resolv --no-hosts \
    --listen-address="$S" --bind-interfaces --port=53 --local=/example.net/ --local=/example.org/ \
    --mx-host=example.net,mx1.example.net,10 --mx-host=example.net,mx2.example.net,20 \
    --mx-host=example.org,relay.example.org,10 \
    --host-record=mx1.example.net,192.0.2.26 --host-record=mx2.example.net,192.0.2.25 \
    --host-record=relay.example.org,192.0.2.28 >"$LAB_DIR/dnsmasq-mx.log" 2>&1 &
dnsmasq_pid=$!
i=0; while [ $i -lt 50 ] && ! ip netns exec "$LAB_NS_S" ss -Huln "sport = :53" | grep -q .; do
    sleep 0.1; i=$((i + 1)); done
lab_capture_start "$out/diag-mx-fallback.pcap" "tcp port 25 or udp port 53" || exit 1
lab_client python3 "$here/client_mx.py" "$S" alice@example.net
lab_client python3 "$here/client_mx.py" "$S" someone@example.org
lab_capture_stop
echo "make_captures: diag-mx-fallback.pcap" >&2
kill "$dnsmasq_pid"; wait "$dnsmasq_pid" 2>/dev/null
lab_in_s nft delete table ip smtplab_mx

# Outgoing deliveries without an MX record: aonly.example.org has only an
# address (the implicit MX: the lab's Postfix, which takes its mail), and
# nosuch.example.org does not exist (NXDOMAIN for MX and for A: the
# delivery never happens). Read with --local-net 192.0.2.10.
lab_postfix_stop
lab_postfix_start "mydestination = example.net, aonly.example.org" || exit 1
ip netns exec "$LAB_NS_S" dnsmasq --no-daemon --no-resolv --no-hosts \
    --listen-address="$S" --bind-interfaces --port=53 --local=/example.org/ \
    --host-record=aonly.example.org,192.0.2.25 >"$LAB_DIR/dnsmasq-implicit.log" 2>&1 &
dnsmasq_pid=$!
i=0; while [ $i -lt 50 ] && ! ip netns exec "$LAB_NS_S" ss -Huln "sport = :53" | grep -q .; do
    sleep 0.1; i=$((i + 1)); done
lab_capture_start "$out/diag-mx-implicit.pcap" "tcp port 25 or udp port 53" || exit 1
lab_client python3 "$here/client_mx.py" "$S" alice@aonly.example.org
lab_client python3 "$here/client_mx.py" "$S" alice@nosuch.example.org # fails: no such domain
lab_capture_stop
kill "$dnsmasq_pid"; wait "$dnsmasq_pid" 2>/dev/null
echo "make_captures: diag-mx-implicit.pcap" >&2

# GRO on the sniffing side: the capture holds super-packets far above the
# MTU (up to 64 KiB), as tcpdump on a busy gateway records them.
lab_postfix_stop
lab_postfix_start || exit 1
head -c 200000 /dev/zero | tr '\0' 'z' | fold -w 76 > "$LAB_DIR/big-body.txt"
lab_in_s ethtool -K "${LAB_ID}b" gro on >/dev/null 2>&1
lab_in_c ethtool -K "${LAB_ID}a" tso on gso on tx on sg on >/dev/null 2>&1
record proto-gro-superpackets $SWAKS --to alice@example.net --body "$LAB_DIR/big-body.txt"
lab_in_s ethtool -K "${LAB_ID}b" gro off >/dev/null 2>&1

if [ -n "$LAB_CAP_LOST" ]; then
    echo "make_captures: incomplete captures (packets dropped by the kernel):$LAB_CAP_LOST" >&2
    exit 1
fi
