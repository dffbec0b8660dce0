#!/bin/bash
# test_tls_lab.sh - TLS handshakes from a real Postfix and real clients
# (swaks, openssl s_client) in network namespaces, captured by tcpdump and
# read by smtpscope; tshark's reading of the same bytes is the cross-check.
#   complete    swaks STARTTLS (TLS 1.3), swaks on 465 (implicit TLS)
#   rejected    s_client -tls1_2 -verify_return_error: its alert in clear
#   rejected13  s_client -tls1_3 -verify_return_error
#   expired     s_client -tls1_2 against an expired certificate
#   intercepted the same server address, then through a TLS-intercepting
#               proxy with its own certificate (tls_intercept_proxy.py)
# Needs root; a missing prerequisite fails and names itself.
set -u
cd "$(dirname "$0")/../.."
bin=${SMTPSCOPE:-./smtpscope}
. test/lib/smtplab.sh
fail=0
ok() { echo "ok - $*"; }
nok() { echo "not ok - $*"; fail=1; }
if [ "$(id -u)" -ne 0 ]; then
    echo "not ok - TLS lab: needs root (network namespaces)"
    exit 1
fi
lab_need swaks openssl tshark tcpdump postfix python3 || { echo "not ok - TLS lab: tools missing"; exit 1; }
lab_up || { echo "not ok - TLS lab: namespaces"; exit 1; }
S=$LAB_SERVER4
lab_make_cert || { echo "not ok - TLS lab: certificate"; exit 1; }

# An expired self-signed certificate (2020-2021): openssl ca sets the dates.
expired_cert() {
    d=$LAB_DIR/old; mkdir -p "$d"; : > "$d/index.txt"; echo 01 > "$d/serial"
    printf '[ca]\ndefault_ca=c\n[c]\ndatabase=%s/index.txt\nnew_certs_dir=%s\nserial=%s/serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n' \
        "$d" "$d" "$d" > "$d/ca.cnf"
    openssl req -new -newkey rsa:2048 -nodes -subj /CN=mx.example.net -keyout "$LAB_DIR/old-key.pem" \
        -out "$d/req.csr" >/dev/null 2>&1 &&
        openssl ca -batch -selfsign -config "$d/ca.cnf" -keyfile "$LAB_DIR/old-key.pem" -in "$d/req.csr" \
            -out "$LAB_DIR/old-cert.pem" -startdate 20200101000000Z -enddate 20210101000000Z \
            -notext >/dev/null 2>&1 && chmod 644 "$LAB_DIR/old-key.pem"
}
expired_cert || { echo "not ok - TLS lab: expired certificate"; exit 1; }

tls_postfix() { # tls_postfix CERT KEY [main.cf lines...]
    cert=$1 key=$2; shift 2
    lab_postfix_stop
    lab_postfix_start "smtpd_tls_cert_file = $cert" "smtpd_tls_key_file = $key" "$@" \
        "smtpd_tls_security_level = may" \
        "master:smtps inet n - n - - smtpd -o smtpd_tls_wrappermode=yes" &&
        lab_wait_port "$LAB_NS_S" 25 && lab_wait_port "$LAB_NS_S" 465
}

record() { # record NAME PORT COMMAND...: one session, captured
    name=$1 port=$2; shift 2
    lab_capture_start "$LAB_DIR/$name.pcap" "tcp port $port" || return 1
    timeout 20 ip netns exec "$LAB_NS_C" "$@" < /dev/null > "$LAB_DIR/$name.client" 2>&1
    lab_capture_stop
}

s_client() { # s_client VERSION-FLAG [more...]: STARTTLS, then QUIT
    printf 'QUIT\r\n' | timeout 20 ip netns exec "$LAB_NS_C" openssl s_client -starttls smtp \
        -connect "$S:25" -servername mx.example.net -quiet "$@" > /dev/null 2>&1
}

tls_postfix "$LAB_DIR/cert.pem" "$LAB_DIR/key.pem" || { echo "not ok - TLS lab: Postfix"; exit 1; }
SWAKS="swaks --server $S --from a@example.com --to alice@example.net --helo client.example.com"
record complete 25 $SWAKS -tls --body "over TLS" || nok "capture complete"
record smtps 465 $SWAKS --port 465 --tlsc --body "SMTPS" || nok "capture smtps"
lab_capture_start "$LAB_DIR/rejected.pcap" "tcp port 25" && s_client -tls1_2 -verify_return_error; lab_capture_stop
lab_capture_start "$LAB_DIR/rejected13.pcap" "tcp port 25" && s_client -tls1_3 -verify_return_error; lab_capture_stop
# an inspecting middlebox on the server's address, port 2526, with a
# certificate of its own: one capture, direct first, then through it
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=mx.example.net \
    -keyout "$LAB_DIR/proxy-key.pem" -out "$LAB_DIR/proxy-cert.pem" >/dev/null 2>&1
ip netns exec "$LAB_NS_S" python3 test/live/tls_intercept_proxy.py "$S" 2526 "$S" 25 \
    "$LAB_DIR/proxy-cert.pem" "$LAB_DIR/proxy-key.pem" &
proxy=$!
LAB_PIDS="$LAB_PIDS $proxy"
lab_wait_port "$LAB_NS_S" 2526 || nok "the intercepting proxy did not start"
lab_capture_start "$LAB_DIR/intercepted.pcap" "tcp port 25 or tcp port 2526" &&
    s_client -tls1_2 && { printf 'QUIT\r\n' | timeout 20 ip netns exec "$LAB_NS_C" openssl s_client \
    -starttls smtp -connect "$S:2526" -servername mx.example.net -quiet -tls1_2 >/dev/null 2>&1; }
lab_capture_stop
kill "$proxy" 2>/dev/null; wait "$proxy" 2>/dev/null
tls_postfix "$LAB_DIR/old-cert.pem" "$LAB_DIR/old-key.pem" || { echo "not ok - TLS lab: Postfix (expired)"; exit 1; }
lab_capture_start "$LAB_DIR/expired.pcap" "tcp port 25" && s_client -tls1_2; lab_capture_stop
# a version no side shares: Postfix speaks TLS 1.2 at most, the client
# insists on TLS 1.3; the server's protocol_version alert is in clear
tls_postfix "$LAB_DIR/cert.pem" "$LAB_DIR/key.pem" \
    "smtpd_tls_protocols = !SSLv2, !SSLv3, !TLSv1, !TLSv1.1, !TLSv1.3" ||
    { echo "not ok - TLS lab: Postfix (TLS 1.2 only)"; exit 1; }
lab_capture_start "$LAB_DIR/noversion.pcap" "tcp port 25" && s_client -tls1_3; lab_capture_stop

python3 - "$bin" "$LAB_DIR" <<'EOF' || fail=1
import json, subprocess, sys
sys.path.insert(0, "test/lib")
from tap import check, finish
bin, d = sys.argv[1], sys.argv[2]

def session(name):
    out = subprocess.run([bin, "-q", "-j", "-r", f"{d}/{name}.pcap"], capture_output=True, text=True)
    recs = [json.loads(l) for l in out.stdout.splitlines() if l.strip()]
    recs = [r for r in recs if r["type"] == "session"]
    check(len(recs) == 1, f"{name}: one session ({len(recs)})")
    return recs[0] if recs else None

def tshark(name, field, filt):
    out = subprocess.run(["tshark", "-r", f"{d}/{name}.pcap", "-d", "tcp.port==25,smtp",
                          "-d", "tcp.port==465,tls", "-Y", filt, "-T", "fields", "-e", field],
                         capture_output=True, text=True).stdout.split()
    return out

VN = {"0x0304": "TLS 1.3", "0x0303": "TLS 1.2"}
for name in ("complete", "smtps", "expired"):
    r = session(name)
    if not r: continue
    hs = r["tls_handshake"] or {}
    check(r["verdict"] == "encrypted" and hs.get("result") == "complete",
          f"{name}: ENCRYPTED, handshake complete ({r['verdict']}, {hs.get('result')})")
    # tshark: the ServerHello's supported_versions (1.3) or its version (1.2)
    sv = tshark(name, "tls.handshake.extensions.supported_version", "tls.handshake.type==2")
    ver = tshark(name, "tls.handshake.version", "tls.handshake.type==2")
    want = VN.get((sv or ver or ["?"])[0])
    check(hs.get("version") == want, f"{name}: version {hs.get('version')} (tshark {want})")
    cs = tshark(name, "tls.handshake.ciphersuite", "tls.handshake.type==2")
    check(bool(cs) and hs.get("cipher") is not None, f"{name}: cipher {hs.get('cipher')} (tshark {cs})")
r = session("expired")
if r:
    names = {a["name"] for a in r["anomalies"]}
    check("tls-cert-expired" in names and "tls-cert-self-signed" in names,
          f"expired: tls-cert-expired and tls-cert-self-signed ({sorted(names)})")
    c = r["tls_handshake"]["certificate"] or {}
    check(c.get("not_after", "").startswith("2021-01-01"), f"expired: not_after {c.get('not_after')}")
for name in ("rejected", "rejected13"):
    r = session(name)
    if not r: continue
    hs = r["tls_handshake"] or {}
    f = r["failure"] or {}
    check(r["verdict"] == "failed" and r["end_phase"] == "STARTTLS" and
          hs.get("result") in ("failed", "abandoned"),
          f"{name}: FAILED at STARTTLS ({r['verdict']} {r['end_phase']} {hs.get('result')}: {f.get('text')})")
    alerts = tshark(name, "tls.alert_message.desc", "tls.alert_message")
    if hs.get("alert"):
        check(str(hs["alert"]["code"]) in alerts,
              f"{name}: alert {hs['alert']['description']} ({hs['alert']['code']}) as tshark read it {alerts}")
r = session("noversion")
if r:
    hs, f = r["tls_handshake"] or {}, r["failure"] or {}
    alerts = tshark("noversion", "tls.alert_message.desc", "tls.alert_message")
    check(r["verdict"] == "failed" and r["end_phase"] == "STARTTLS" and hs.get("result") == "failed"
          and (hs.get("alert") or {}).get("description") == "protocol_version"
          and (hs.get("alert") or {}).get("from") == "server" and "70" in alerts,
          f"noversion: FAILED at STARTTLS on the server's protocol_version alert, as tshark read it "
          f"({r['verdict']} {hs.get('result')} {hs.get('alert')} {alerts})")
    check(hs.get("client_versions") == ["TLS 1.3"] and hs.get("version") is None,
          f"noversion: the client offered TLS 1.3 only, nothing was negotiated ({hs.get('client_versions')})")
    check("protocol_version" in f.get("text", "") and f.get("hint"),
          f"noversion: the failure names the alert, with a hint ({f.get('text')})")
r = session("rejected")
if r:
    check((r["tls_handshake"] or {}).get("alert") is not None and
          (r["tls_handshake"]["certificate"] or {}).get("subject") == "CN=mx.example.net",
          "rejected (TLS 1.2): the alert and the certificate are in clear")
out = subprocess.run([bin, "-q", "-j", "-p", "25,2526", "-r", f"{d}/intercepted.pcap"],
                     capture_output=True, text=True).stdout
recs = sorted((json.loads(l) for l in out.splitlines() if l.strip()), key=lambda r: r.get("start", ""))
recs = [r for r in recs if r["type"] == "session"]
if check(len(recs) == 2, f"intercepted: two sessions ({len(recs)})"):
    names = [{a["name"] for a in r["anomalies"]} for r in recs]
    certs = [(r["tls_handshake"] or {}).get("certificate") for r in recs]
    check(all(certs) and certs[0]["subject"] == certs[1]["subject"] and
          "tls-intercepted" not in names[0] and "tls-intercepted" in names[1],
          f"intercepted: the same name, another certificate: tls-intercepted on the second ({names})")
finish()
EOF
[ -z "$LAB_CAP_LOST" ] || nok "the kernel dropped packets from:$LAB_CAP_LOST"
exit $fail
