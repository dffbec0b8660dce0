# smtplab.sh - real SMTP peers in network namespaces, for tests and for
# making the bundled captures. Source it from bash; needs root.
#
#   . test/lib/smtplab.sh
#   lab_up                       # namespaces "client" and "server", one veth
#   lab_postfix_start            # a private Postfix in the server namespace
#   lab_capture_start out.pcap   # tcpdump on the server's side of the link
#   lab_client swaks --server 192.0.2.25 ...
#   lab_capture_stop
#   (lab_down runs on exit)
#
# Addresses are documentation ranges only: client 192.0.2.10 and
# 2001:db8::10, server 192.0.2.25 and 2001:db8::25. Nothing is touched
# outside the lab's namespaces and its temporary directory; only processes
# the lab started are stopped, by PID; every wait is bounded.

LAB_ID=ssl$$
LAB_NS_C=${LAB_ID}c
LAB_NS_S=${LAB_ID}s
LAB_DIR=
LAB_PIDS=
LAB_CAP_PID=
LAB_CAP_FILE=
LAB_CAP_LOST=  # captures the kernel dropped packets from
LAB_POSTFIX_PID=
LAB_CLIENT4=192.0.2.10
LAB_SERVER4=192.0.2.25
LAB_CLIENT6=2001:db8::10
LAB_SERVER6=2001:db8::25

lab_die() { echo "smtplab: $*" >&2; return 1; }

lab_need() { # lab_need what...: each must be present
    [ "$(id -u)" -eq 0 ] || { lab_die "missing root (network namespaces need it)"; return 1; }
    for what in "$@"; do
        command -v "$what" >/dev/null 2>&1 || [ -x "$what" ] ||
            { lab_die "missing $what"; return 1; }
    done
}

# For a test: the lab with Postfix, or the test's "not ok" line and exit.
lab_test_up() { # lab_test_up NAME
    [ "$(id -u)" -eq 0 ] || { echo "not ok - $1: needs root (network namespaces)"; exit 1; }
    lab_up && lab_postfix_start || { echo "not ok - $1: lab did not start"; exit 1; }
}

# SIGINT to each, up to 5 s each to end; one still running is a failure
# and is killed.
lab_interrupt() { # lab_interrupt PID...
    kill -INT "$@" 2>/dev/null
    for p in "$@"; do
        i=0; while [ $i -lt 50 ] && kill -0 "$p" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
        kill -0 "$p" 2>/dev/null && { echo "not ok - process $p did not stop on SIGINT"; kill -KILL "$p"; }
    done
}

lab_in_c() { ip netns exec "$LAB_NS_C" "$@"; }
lab_in_s() { ip netns exec "$LAB_NS_S" "$@"; }
lab_client() { lab_in_c "$@"; }

lab_up() {
    lab_need ip || return 1
    LAB_DIR=$(mktemp -d /tmp/smtplab.XXXXXX) || return 1
    chmod 755 "$LAB_DIR"
    trap lab_down EXIT INT TERM
    ip netns add "$LAB_NS_C" && ip netns add "$LAB_NS_S" || return 1
    ip link add "${LAB_ID}a" type veth peer name "${LAB_ID}b" || return 1
    ip link set "${LAB_ID}a" netns "$LAB_NS_C"
    ip link set "${LAB_ID}b" netns "$LAB_NS_S"
    lab_in_c ip link set lo up
    lab_in_s ip link set lo up
    lab_in_c ip addr add "$LAB_CLIENT4/24" dev "${LAB_ID}a"
    lab_in_s ip addr add "$LAB_SERVER4/24" dev "${LAB_ID}b"
    lab_in_c ip -6 addr add "$LAB_CLIENT6/64" dev "${LAB_ID}a" nodad
    lab_in_s ip -6 addr add "$LAB_SERVER6/64" dev "${LAB_ID}b" nodad
    # no offloads: the capture sees wire-sized segments with real checksums
    for ns in "$LAB_NS_C" "$LAB_NS_S"; do
        dev=${LAB_ID}a; [ "$ns" = "$LAB_NS_S" ] && dev=${LAB_ID}b
        ip netns exec "$ns" ethtool -K "$dev" tso off gso off gro off tx off >/dev/null 2>&1 || true
        ip netns exec "$ns" ip link set "$dev" up
    done
}

lab_wait_maillog() { # lab_wait_maillog TEXT N: up to 20 s for N lines with TEXT
    i=0
    while [ $i -lt 200 ] && [ "$(grep -cF "$1" "$LAB_DIR/postfix/maillog" 2>/dev/null)" -lt "$2" ]; do
        sleep 0.1; i=$((i + 1))
    done
}

lab_wait_port() { # lab_wait_port NS PORT [ADDRESS]: up to 5 s for a listener
    i=0
    while [ $i -lt 50 ]; do
        ip netns exec "$1" ss -Htln "sport = :$2" 2>/dev/null | grep -qF "${3:-:$2}" && return 0
        sleep 0.1; i=$((i + 1))
    done
    lab_die "nothing listens on port $2 after 5 s"
}

# A private Postfix: own config, queue and data directories under LAB_DIR.
# Extra main.cf lines may be passed as arguments ("smtpd_tls_... = ...").
lab_postfix_start() {
    lab_need /usr/sbin/postfix /usr/lib/postfix/sbin/master || return 1
    # LAB_PF_DIR and LAB_PF_NS start a second instance elsewhere (an
    # outgoing MTA in the client's namespace); later main.cf lines given
    # as arguments override the template's.
    pf=${LAB_PF_DIR:-$LAB_DIR/postfix}
    pf_ns=${LAB_PF_NS:-$LAB_NS_S}
    rm -rf "$pf"
    mkdir -p "$pf/etc" "$pf/spool" "$pf/data"
    chown postfix "$pf/data"
    cat > "$pf/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $pf/spool
data_directory = $pf/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = $pf/maillog
maillog_file_prefixes = /tmp, /var
myhostname = mx.example.net
mydomain = example.net
myorigin = example.net
mydestination = example.net
inet_interfaces = all
inet_protocols = all
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps = inline:{alice=ok, bob=ok}
local_transport = discard:
default_transport = discard:
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_banner = \$myhostname ESMTP Postfix
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
biff = no
smtputf8_enable = no
CF
    for line in "$@"; do
        case $line in
        master:*) ;; # a master.cf line, below
        *) printf '%s\n' "$line" >> "$pf/etc/main.cf" ;;
        esac
    done
    cat > "$pf/etc/master.cf" <<'CF'
smtp      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CF
    for line in "$@"; do
        case $line in master:*) printf '%s\n' "${line#master:}" >> "$pf/etc/master.cf" ;; esac
    done
    /usr/sbin/postfix -c "$pf/etc" check >"$pf/check.log" 2>&1 ||
        { cat "$pf/check.log" >&2; lab_die "postfix check failed"; return 1; }
    # started directly (not through a shell function) so $! is master's PID,
    # in a session of its own: the master signals its whole process group
    # when it stops, which must not reach this script or another instance
    setsid ip netns exec "$pf_ns" /usr/lib/postfix/sbin/master -c "$pf/etc" -d \
        >"$pf/master.log" 2>&1 &
    LAB_POSTFIX_PID=$!
    LAB_PIDS="$LAB_PIDS $!"
    lab_wait_port "$pf_ns" 25 || { cat "$pf/master.log" "$pf/maillog" >&2 2>/dev/null; return 1; }
}

# Stops the lab's Postfix (the last master started) and its children.
lab_any_alive() { # lab_any_alive PID...: true while one of them runs
    for p in "$@"; do kill -0 "$p" 2>/dev/null && return 0; done
    return 1
}

lab_postfix_stop() {
    pid=$LAB_POSTFIX_PID
    [ -n "$pid" ] || return 0
    # The master's children (smtpd, qmgr, ...) hold its listening sockets
    # and may outlive it by seconds: they are ours, stop them by PID too.
    kids=$(pgrep -P "$pid" | tr '\n' ' ')
    kill -TERM "$pid" 2>/dev/null
    i=0
    while [ $i -lt 50 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    for k in $kids; do kill -TERM "$k" 2>/dev/null; done
    i=0
    while [ $i -lt 30 ] && lab_any_alive $kids; do
        sleep 0.1; i=$((i + 1))
    done
    for k in $kids; do kill -KILL "$k" 2>/dev/null; done
    LAB_PIDS=$(echo "$LAB_PIDS" | tr ' ' '\n' | grep -vx "$pid" | tr '\n' ' ')
    LAB_POSTFIX_PID=
    i=0 # wait until no TCP port is listened on in the server namespace
    while [ $i -lt 50 ] && ip netns exec "$LAB_NS_S" ss -Htln | grep -q .; do
        sleep 0.1; i=$((i + 1))
    done
}

# Dovecot as the SASL authority for the lab's Postfix (AUTH PLAIN, LOGIN,
# CRAM-MD5), private like Postfix: its own config, run and state
# directories. Users: alice@example.net / bob@example.net, password
# "secret". Call after lab_postfix_start; pass lab_postfix_sasl to Postfix.
lab_dovecot_start() {
    lab_need /usr/sbin/dovecot || return 1
    dv=$LAB_DIR/dovecot
    mkdir -p "$dv/run" "$dv/state"
    printf '%s\n' "alice@example.net:{PLAIN}secret" "bob@example.net:{PLAIN}secret" \
        > "$dv/users"
    cat > "$dv/dovecot.conf" <<CF
base_dir = $dv/run
state_dir = $dv/state
log_path = $dv/log
protocols =
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dv/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service auth {
  unix_listener $LAB_DIR/postfix/spool/private/auth {
    mode = 0666
  }
}
CF
    ip netns exec "$LAB_NS_S" /usr/sbin/dovecot -F -c "$dv/dovecot.conf" \
        >"$dv/stdout.log" 2>&1 &
    LAB_PIDS="$LAB_PIDS $!"
    i=0
    while [ $i -lt 50 ] && [ ! -S "$LAB_DIR/postfix/spool/private/auth" ]; do
        sleep 0.1; i=$((i + 1))
    done
    [ -S "$LAB_DIR/postfix/spool/private/auth" ] ||
        { cat "$dv/log" "$dv/stdout.log" >&2 2>/dev/null; lab_die "dovecot auth socket missing"; }
}

# main.cf lines that make the lab's Postfix authenticate through Dovecot.
lab_postfix_sasl() {
    printf '%s\n' "smtpd_sasl_auth_enable = yes" "smtpd_sasl_type = dovecot" \
        "smtpd_sasl_path = private/auth"
}

# A private Exim (the binary test/install-deps.sh unpacked from Debian's
# package into build/exim) as mx2.example.net: local users alice and bob,
# relaying only after AUTH PLAIN/LOGIN (alice@example.net / secret),
# messages queued and never delivered. Stop Postfix first (same port).
lab_exim_start() {
    exim=${LAB_EXIM:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/exim/usr/sbin/exim4}
    lab_need "$exim" || return 1
    getent passwd Debian-exim >/dev/null || { lab_die "missing user Debian-exim (test/install-deps.sh)"; return 1; }
    ex=$LAB_DIR/exim
    # afresh each time: the files left chowned to Debian-exim by an earlier
    # start would make Exim refuse its configuration (not owned by root)
    rm -rf "$ex"
    mkdir -p "$ex/spool" "$ex/log"
    chown -R Debian-exim "$ex"
    cat > "$ex/exim.conf" <<CF
primary_hostname = mx2.example.net
domainlist local_domains = example.net
spool_directory = $ex/spool
log_file_path = $ex/log/%slog
keep_environment =
host_lookup =
rfc1413_hosts =
tls_advertise_hosts =
chunking_advertise_hosts = *
auth_advertise_hosts = *
queue_only = true
acl_smtp_rcpt = acl_check_rcpt
begin acl
acl_check_rcpt:
  accept authenticated = *
  deny message = relay not permitted
       !domains = +local_domains
  deny message = Unknown user
       !local_parts = alice : bob
  accept
begin routers
discard:
  driver = redirect
  data = :blackhole:
begin transports
begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if and {{eq{\$auth2}{alice@example.net}}{eq{\$auth3}{secret}}}}
login:
  driver = plaintext
  public_name = LOGIN
  server_prompts = Username:: : Password::
  server_condition = \${if and {{eq{\$auth1}{alice@example.net}}{eq{\$auth2}{secret}}}}
CF
    # LAB_EXIM_PORT: another port than 25 (an internal server behind a
    # gateway on the same host)
    ip netns exec "$LAB_NS_S" "$exim" -C "$ex/exim.conf" -bdf -oX "${LAB_EXIM_PORT:-25}" \
        >"$ex/stdout.log" 2>&1 &
    LAB_EXIM_PID=$!
    LAB_PIDS="$LAB_PIDS $!"
    lab_wait_port "$LAB_NS_S" "${LAB_EXIM_PORT:-25}" ||
        { cat "$ex/stdout.log" "$ex/log/"* >&2 2>/dev/null; return 1; }
}

# nftables in the server's namespace: one rule in an input chain of a
# table of the lab's own ("lab_nft" with no rule removes the table).
lab_nft() {
    lab_need nft || return 1
    ip netns exec "$LAB_NS_S" nft delete table inet smtplab 2>/dev/null
    [ $# -eq 0 ] && return 0
    ip netns exec "$LAB_NS_S" nft -f - <<NFT || lab_die "nft rule refused: $*"
table inet smtplab {
    chain input {
        type filter hook input priority 0; policy accept;
        $*
    }
}
NFT
}

# A self-signed certificate for mx.example.net (for STARTTLS and SMTPS).
lab_make_cert() {
    lab_need openssl || return 1
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=mx.example.net \
        -keyout "$LAB_DIR/key.pem" -out "$LAB_DIR/cert.pem" >/dev/null 2>&1 ||
        lab_die "openssl could not make a certificate"
    chmod 644 "$LAB_DIR/key.pem"
}

lab_capture_start() { # lab_capture_start FILE [FILTER]
    lab_need tcpdump || return 1
    rm -f "$1"
    LAB_CAP_FILE=$1
    : > "$LAB_DIR/tcpdump.log"
    # LAB_CAP_IF=any captures every interface of the server's namespace
    # (Linux cooked SLL2 frames), loopback included.
    # Immediate mode uses one ring slot per packet, sized by the snapshot
    # length: -s 0 (256 KiB) in the default 2 MiB buffer is 8 slots, and a
    # busy machine then drops packets before tcpdump reads them. 256 MiB is
    # ~1000 slots. (The snapshot length stays tcpdump's default: libpcap
    # will not read a pcapng merged from interfaces with different ones.)
    ip netns exec "$LAB_NS_S" tcpdump -Z root --immediate-mode -B 262144 -i "${LAB_CAP_IF:-${LAB_ID}b}" \
        -s 0 -U -w "$1" \
        "${2:-tcp port 25}" >"$LAB_DIR/tcpdump.log" 2>&1 &
    LAB_CAP_PID=$!
    i=0
    while [ $i -lt 50 ] && ! grep -q "listening on" "$LAB_DIR/tcpdump.log"; do
        sleep 0.1; i=$((i + 1))
    done
    grep -q "listening on" "$LAB_DIR/tcpdump.log" || lab_die "tcpdump did not start"
}

lab_capture_stop() {
    [ -n "$LAB_CAP_PID" ] || return 0
    sleep 0.3 # let the last packets (FIN/ACK) reach the capture
    kill -INT "$LAB_CAP_PID" 2>/dev/null
    i=0
    while [ $i -lt 50 ] && kill -0 "$LAB_CAP_PID" 2>/dev/null; do
        sleep 0.1; i=$((i + 1))
    done
    kill -KILL "$LAB_CAP_PID" 2>/dev/null
    wait "$LAB_CAP_PID" 2>/dev/null
    LAB_CAP_PID=
    # a capture with holes would test the lab, not smtpscope: say so
    dropped=$(sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' "$LAB_DIR/tcpdump.log")
    if [ "${dropped:-0}" -gt 0 ]; then
        echo "smtplab: the kernel dropped $dropped packets from $LAB_CAP_FILE" >&2
        LAB_CAP_LOST="$LAB_CAP_LOST $LAB_CAP_FILE"
        return 1
    fi
}

lab_down() {
    lab_capture_stop
    # a resolver configuration for our namespaces (ip netns exec reads it)
    rm -rf "/etc/netns/$LAB_NS_C" "/etc/netns/$LAB_NS_S"
    for pid in $LAB_PIDS; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in $LAB_PIDS; do
        i=0
        while [ $i -lt 30 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    LAB_PIDS=
    # Postfix children of our master run in our namespace: kill what is left
    # there (pids the namespace lists belong to this lab only).
    for ns in "$LAB_NS_S" "$LAB_NS_C"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    [ -n "$LAB_DIR" ] && rm -rf "$LAB_DIR"
    LAB_DIR=
    trap - EXIT INT TERM
}
