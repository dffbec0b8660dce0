#!/bin/bash
# test_dns_wait_lab.sh - a real Postfix waiting on its own DNS, captured
# with the lookups, read by smtpscope:
#   ptr     smtpd_peername_lookup = yes, and the PTR of the client is never
#           answered: the greeting waits for the resolver's timeout (3 s);
#           slow-dns-wait names the lookup, slow-greeting does not blame it
#   dnsbl   reject_rbl_client zen.example.org, which lists every client: the
#           refusal gets the listing beside it
# The DNS server (test/live/fake_dns.py) runs in the client's namespace on
# 192.0.2.53, so the server's queries cross the captured veth. Needs root.
set -u
cd "$(dirname "$0")/../.."
bin=${SMTPSCOPE:-./smtpscope}
. test/lib/smtplab.sh
if [ "$(id -u)" -ne 0 ]; then
    echo "not ok - DNS wait lab: needs root (network namespaces)"
    exit 1
fi
lab_need swaks tcpdump postfix python3 || { echo "not ok - DNS wait lab: tools missing"; exit 1; }
lab_up || { echo "not ok - DNS wait lab: namespaces"; exit 1; }
S=$LAB_SERVER4
lab_in_c ip addr add 192.0.2.53/24 dev "${LAB_ID}a"
mkdir -p "/etc/netns/$LAB_NS_S" # ip netns exec binds it over /etc/resolv.conf
printf 'nameserver 192.0.2.53\noptions timeout:3 attempts:1\n' > "/etc/netns/$LAB_NS_S/resolv.conf"
lab_in_c python3 test/live/fake_dns.py 192.0.2.53 90 &
dns=$!
LAB_PIDS="$LAB_PIDS $dns"
SWAKS="swaks --server $S --from a@example.com --to alice@example.net --helo client.example.com
       --timeout 20"

record() { # record NAME: one swaks session with the DNS around it
    lab_capture_start "$LAB_DIR/$1.pcap" "tcp port 25 or udp port 53" || return 1
    timeout 40 ip netns exec "$LAB_NS_C" $SWAKS < /dev/null > "$LAB_DIR/$1.client" 2>&1
    lab_capture_stop
}

lab_postfix_start "smtpd_peername_lookup = yes" || { echo "not ok - DNS wait lab: Postfix"; exit 1; }
record ptr || echo "not ok - ptr: capture"
lab_postfix_stop
lab_postfix_start "smtpd_client_restrictions = reject_rbl_client zen.example.org" ||
    { echo "not ok - DNS wait lab: Postfix (dnsbl)"; exit 1; }
record dnsbl || echo "not ok - dnsbl: capture"

python3 - "$bin" "$LAB_DIR" <<'PY'
import json, subprocess, sys
sys.path.insert(0, "test/lib")
from tap import check, finish
bin, d = sys.argv[1], sys.argv[2]

def run(name, *args):
    p = subprocess.run([bin, "-q", "-j", *args, "-r", f"{d}/{name}.pcap"], capture_output=True,
                       text=True, timeout=60)
    recs = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
    sess = [r for r in recs if r["type"] == "session"]
    dns = [r for r in recs if r["type"] == "dns"]
    check(len(sess) == 1, f"{name}: one session ({len(sess)})")
    text = subprocess.run([bin, "-q", *args, "-r", f"{d}/{name}.pcap"], capture_output=True,
                          text=True, timeout=60).stdout
    return (sess[0] if sess else None), dns, text

rec, dns, text = run("ptr", "--slow", "2000")
if rec:
    f = {a["name"]: a["detail"] for a in rec["anomalies"]}
    greet = rec["transcript"][0].get("latency_ms", 0)
    ptrs = [x for x in dns if x["qtype"] == "PTR"]
    check(ptrs and all(x["rcode"] == "TIMEOUT" for x in ptrs),
          f"ptr: Postfix's PTR lookups on the wire, none answered ({len(ptrs)})")
    check(greet > 2500, f"ptr: the greeting waited for the resolver ({greet:.0f} ms)")
    check("slow-dns-wait" in f and "PTR lookup of 192.0.2.10 had no answer" in f["slow-dns-wait"],
          f"ptr: slow-dns-wait names the PTR lookup ({f.get('slow-dns-wait')})")
    check("slow-greeting" not in f, "ptr: the wait is not blamed on the server's software")
rec, dns, text = run("dnsbl")
if rec:
    f = {a["name"]: a["detail"] for a in rec["anomalies"]}
    check(rec["verdict"] == "failed" and rec["failure"]["code"] == 554,
          f"dnsbl: Postfix refused the client ({rec['verdict']})")
    said = "the client is listed on zen.example.org (10.2.0.192.zen.example.org answered 127.0.0.2)"
    if not check(said in text.lower(), "dnsbl: the listing on the wire beside the refusal"):
        print("\n".join("#   " + l for l in text.splitlines()[:30]))
    check("dnsbl-rejection" in f, "dnsbl: dnsbl-rejection")
finish()
PY
