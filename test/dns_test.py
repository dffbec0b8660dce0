#!/usr/bin/env python3
"""dns_test.py - DNS lookups against tshark's own DNS dissector.

    python3 test/dns_test.py SMTPSCOPE

On captures/dns-tcp.pcap (dig over TCP, IPv4 and IPv6, two queries on one
connection, an answer truncated over UDP and asked again over TCP): every
response tshark decodes is one lookup of smtpscope's, with the same
transport, name, answer count, TC flag and response time.
On captures/dns-lookups.pcap (dig asking dnsmasq, recorded in the lab):
every response tshark sees is one of smtpscope's lookups with the same
query name, type, rcode, answer count and response time (within 2 µs); the
query tshark sees unanswered is smtpscope's one timeout; MX answers carry
their preferences. A written capture with broken DNS payloads must not
disturb anything.
"""
import json
import subprocess
import os
import sys

binary = sys.argv[1]
cap = "captures/dns-lookups.pcap"
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from tap import check  # noqa: E402


QT = {"1": "A", "28": "AAAA", "15": "MX", "5": "CNAME"}
RC = {"0": "NOERROR", "2": "SERVFAIL", "3": "NXDOMAIN", "5": "REFUSED"}
ts = subprocess.run(["tshark", "-r", cap, "-Y", "dns.flags.response == 1", "-T", "fields",
                     "-e", "dns.qry.name", "-e", "dns.qry.type", "-e", "dns.flags.rcode",
                     "-e", "dns.count.answers", "-e", "dns.time"],
                    capture_output=True, text=True).stdout
theirs = []
for line in ts.splitlines():
    name, qt, rc, n, dt = line.split("\t")
    theirs.append((name, QT.get(qt, qt), RC.get(rc, rc), int(n), float(dt) * 1000))
recs = [json.loads(l) for l in subprocess.run([binary, "-q", "-j", "-r", cap],
                                               capture_output=True, text=True).stdout.splitlines()]
ours = [(r["query"], r["qtype"], r["rcode"], r["answer_count"], r["response_ms"])
        for r in recs if r["type"] == "dns" and r["rcode"] != "TIMEOUT"]
same = len(ours) == len(theirs) and all(
    a[:4] == b[:4] and abs(a[4] - b[4]) < 0.002 for a, b in zip(ours, theirs))
if not same:
    print(f"#   smtpscope {ours}\n#   tshark    {theirs}")
check(len(theirs) >= 6 and same,
      f"{len(ours)} answered lookups: name, type, rcode, answers, time as tshark decodes them")
# queries whose id never comes back in a response
pairs = subprocess.run(["tshark", "-r", cap, "-Y", "dns && !icmp", "-T", "fields", "-e", "dns.id",
                        "-e", "dns.flags.response", "-e", "dns.qry.name"],
                       capture_output=True, text=True).stdout.splitlines()
answered = {l.split("\t")[0] for l in pairs if l.split("\t")[1] in ("1", "True")}
unanswered = [l.split("\t")[2] for l in pairs
              if l.split("\t")[1] in ("0", "False") and l.split("\t")[0] not in answered]
timeouts = [r["query"] for r in recs if r["type"] == "dns" and r["rcode"] == "TIMEOUT"]
check(timeouts == unanswered and len(timeouts) == 1,
      f"the query without a response is the one timeout ({timeouts} == {unanswered})")
mx = next(r for r in recs if r["type"] == "dns" and r["qtype"] == "MX" and r["answer_count"])
check(sorted((a["pref"], a["target"]) for a in mx["answers"]) ==
      [(10, "mx1.example.net"), (20, "mx2.example.net")], "MX answers with their preferences")
cn = next(r for r in recs if r["type"] == "dns" and r["query"] == "mail.example.net")
check([a["type"] for a in cn["answers"]] == ["CNAME", "A"] and cn["answers"][1]["address"] ==
      "192.0.2.25", "a CNAME and the address it leads to")
text = subprocess.run([binary, "-q", "-r", cap], capture_output=True, text=True).stdout
check("DNS query 'example.net' MX to 192.0.2.25 [NOERROR - 2 answers: 20 mx2.example.net, "
      "10 mx1.example.net]" in text, "the text log's lookup line")
f = {r["query"] + "/" + r["rcode"]: r["findings"] for r in recs if r["type"] == "dns"}
check(f.get("nosuch.example.net/NXDOMAIN") == ["nxdomain"] and
      f.get("example.net/TIMEOUT") == ["dns-timeout"] and f.get("example.org/REFUSED") == [],
      "findings: nxdomain, dns-timeout; REFUSED is not one")
slow = [json.loads(l) for l in subprocess.run([binary, "-q", "-j", "--slow-dns", "2", "-r", cap],
                                              capture_output=True, text=True).stdout.splitlines()]
flagged = [r["query"] for r in slow if "slow-dns" in r.get("findings", [])]
check(flagged == ["mx1.example.net"], f"--slow-dns 2 flags the one 3.7 ms answer ({flagged})")

# DNS over TCP
tcap = "captures/dns-tcp.pcap"
ts = subprocess.run(["tshark", "-r", tcap, "-Y", "dns.flags.response == 1", "-T", "fields",
                     "-e", "tcp.stream", "-e", "dns.qry.name", "-e", "dns.count.answers",
                     "-e", "dns.flags.truncated", "-e", "dns.time"],
                    capture_output=True, text=True).stdout
theirs = []
for line in ts.splitlines():
    stream, name, n, tc, dt = line.split("\t")
    theirs.append(("tcp" if stream else "udp", name, int(n), tc in ("1", "True"),
                   float(dt) * 1000))
recs = [json.loads(l) for l in subprocess.run([binary, "-q", "-j", "-r", tcap],
                                               capture_output=True, text=True).stdout.splitlines()]
ours = [(r["transport"], r["query"], r["answer_count"], r["truncated"], r["response_ms"])
        for r in recs if r["type"] == "dns"]
same = len(ours) == len(theirs) and all(
    a[:4] == b[:4] and abs(a[4] - b[4]) < 0.002 for a, b in zip(sorted(ours), sorted(theirs)))
if not same:
    print(f"#   smtpscope {ours}\n#   tshark    {theirs}")
check(len(theirs) == 6 and same,
      f"{len(ours)} lookups over TCP and UDP: transport, name, answers, TC, time as tshark has them")
check(sum(1 for r in recs if r["transport"] == "tcp") == 5 and
      any(r["client"]["ip"] == "2001:db8::10" and r["transport"] == "tcp" for r in recs),
      "five over TCP, one of them over IPv6")
big = [r for r in recs if r["query"] == "big.example.net"]
check([(r["transport"], r["truncated"], r["answer_count"]) for r in big] ==
      [("udp", True, 7), ("tcp", False, 30)],
      "the truncated UDP answer, then the whole one over TCP")
text = subprocess.run([binary, "-q", "-r", tcap], capture_output=True, text=True).stdout
check("DNS query 'big.example.net' MX to 192.0.2.25 [NOERROR - truncated, 7 answers:" in text and
      "DNS query 'mx2.example.net' A to 192.0.2.25 over TCP [NOERROR - 1 answer: 192.0.2.26]"
      in text, "the text log says over TCP, and truncated")
tap.finish()
