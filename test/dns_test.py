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
their preferences. Written captures: broken DNS payloads on UDP and TCP
are skipped without disturbing a good lookup after them; unanswered IPv6
SYNs to port 53 do not starve IPv6 SMTP reassembly.
"""
import json
import struct
import subprocess
import tempfile
import os
import sys

binary = sys.argv[1]
cap = "captures/dns-lookups.pcap"
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from pcapw import eth_tcp6, tcp4, udp4, write_pcap  # noqa: E402
from tap import check  # noqa: E402


def tshark(capture, display_filter, *fields):
    """tshark's decoding of the capture: one list of fields per packet."""
    out = subprocess.run(["tshark", "-r", capture, "-Y", display_filter, "-T", "fields",
                          *[x for f in fields for x in ("-e", f)]],
                         capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def records(*args):
    """smtpscope's JSON records for these arguments."""
    out = subprocess.run([binary, "-q", "-j", *args], capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def text_log(capture):
    return subprocess.run([binary, "-q", "-r", capture], capture_output=True, text=True).stdout


QT = {"1": "A", "28": "AAAA", "15": "MX", "5": "CNAME"}
RC = {"0": "NOERROR", "2": "SERVFAIL", "3": "NXDOMAIN", "5": "REFUSED"}
theirs = [(name, QT.get(qt, qt), RC.get(rc, rc), int(n), float(dt) * 1000)
          for name, qt, rc, n, dt in tshark(cap, "dns.flags.response == 1", "dns.qry.name",
                                            "dns.qry.type", "dns.flags.rcode",
                                            "dns.count.answers", "dns.time")]
recs = records("-r", cap)
ours = [(r["query"], r["qtype"], r["rcode"], r["answer_count"], r["response_ms"])
        for r in recs if r["type"] == "dns" and r["rcode"] != "TIMEOUT"]
same = len(ours) == len(theirs) and all(
    a[:4] == b[:4] and abs(a[4] - b[4]) < 0.002 for a, b in zip(ours, theirs))
if not same:
    print(f"#   smtpscope {ours}\n#   tshark    {theirs}")
check(len(theirs) >= 6 and same,
      f"{len(ours)} answered lookups: name, type, rcode, answers, time as tshark decodes them")
# queries whose id never comes back in a response
pairs = tshark(cap, "dns && !icmp", "dns.id", "dns.flags.response", "dns.qry.name")
answered = {i for i, resp, _ in pairs if resp in ("1", "True")}
unanswered = [name for i, resp, name in pairs if resp in ("0", "False") and i not in answered]
timeouts = [r["query"] for r in recs if r["type"] == "dns" and r["rcode"] == "TIMEOUT"]
check(timeouts == unanswered and len(timeouts) == 1,
      f"the query without a response is the one timeout ({timeouts} == {unanswered})")
mx = next(r for r in recs if r["type"] == "dns" and r["qtype"] == "MX" and r["answer_count"])
check(sorted((a["pref"], a["target"]) for a in mx["answers"]) ==
      [(10, "mx1.example.net"), (20, "mx2.example.net")], "MX answers with their preferences")
cn = next(r for r in recs if r["type"] == "dns" and r["query"] == "mail.example.net")
check([a["type"] for a in cn["answers"]] == ["CNAME", "A"] and cn["answers"][1]["address"] ==
      "192.0.2.25", "a CNAME and the address it leads to")
text = text_log(cap)
check("DNS query 'example.net' MX to 192.0.2.25 [NOERROR - 2 answers: 20 mx2.example.net, "
      "10 mx1.example.net]" in text, "the text log's lookup line")
f = {r["query"] + "/" + r["rcode"]: r["findings"] for r in recs if r["type"] == "dns"}
check(f.get("nosuch.example.net/NXDOMAIN") == ["nxdomain"] and
      f.get("example.net/TIMEOUT") == ["dns-timeout"] and f.get("example.org/REFUSED") == [],
      "findings: nxdomain, dns-timeout; REFUSED is not one")
slow = records("--slow-dns", "2", "-r", cap)
flagged = [r["query"] for r in slow if "slow-dns" in r.get("findings", [])]
check(flagged == ["mx1.example.net"], f"--slow-dns 2 flags the one 3.7 ms answer ({flagged})")

# DNS over TCP
tcap = "captures/dns-tcp.pcap"
theirs = [("tcp" if stream else "udp", name, int(n), tc in ("1", "True"), float(dt) * 1000)
          for stream, name, n, tc, dt in tshark(tcap, "dns.flags.response == 1", "tcp.stream",
                                                "dns.qry.name", "dns.count.answers",
                                                "dns.flags.truncated", "dns.time")]
recs = records("-r", tcap)
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
text = text_log(tcap)
check("DNS query 'big.example.net' MX to 192.0.2.25 [NOERROR - truncated, 7 answers:" in text and
      "DNS query 'mx2.example.net' A to 192.0.2.25 over TCP [NOERROR - 1 answer: 192.0.2.26]"
      in text, "the text log says over TCP, and truncated")

# IPv6 TCP SYNs to port 53 that nobody answers hold IPv6 aliases no
# connection table releases: 300 of them (one a second), then an IPv6 SMTP
# session, with --max-streams 64 (256 aliases). The idle ones are taken
# back when the aliases run out, and the session is reconstructed.
flood = os.path.join(tempfile.mkdtemp(), "v6-syn-flood-53.pcap")
def a6(last):
    return bytes.fromhex("20010db8000000000000000000000000")[:14] + struct.pack("!H", last)
frames = []
t0 = 1790000000.0
for i in range(300):
    frames.append((t0 + i, eth_tcp6(a6(0x1000 + i), a6(0x53), 40000 + i, 53, 1000, 0, 0x02)))
c, s = a6(0x10), a6(0x25)
t = t0 + 400
cs, ss = 5000, 9000
seq = [(c, s, 41000, 25, cs, 0, 0x02, b""), (s, c, 25, 41000, ss, cs + 1, 0x12, b""),
       (c, s, 41000, 25, cs + 1, ss + 1, 0x10, b"")]
cs += 1; ss += 1
for who, data in ((1, b"220 mx ESMTP\r\n"), (0, b"QUIT\r\n"), (1, b"221 bye\r\n")):
    if who:
        seq.append((s, c, 25, 41000, ss, cs, 0x18, data)); ss += len(data)
    else:
        seq.append((c, s, 41000, 25, cs, ss, 0x18, data)); cs += len(data)
seq.append((s, c, 25, 41000, ss, cs, 0x11, b""))
seq.append((c, s, 41000, 25, cs, ss + 1, 0x11, b""))
seq.append((s, c, 25, 41000, ss + 1, cs + 1, 0x10, b""))
for k, p in enumerate(seq):
    frames.append((t + k * 0.01, eth_tcp6(*p)))
write_pcap(flood, frames, 1)
recs = records("--max-streams", "64", "-r", flood)
ses = [r for r in recs if r["type"] == "session"]
check(len(ses) == 1 and ses[0]["verdict"] == "ok" and
      [t["line"] for t in ses[0]["transcript"]] == ["220 mx ESMTP", "QUIT", "221 bye"],
      "after 300 unanswered IPv6 SYNs to port 53, an IPv6 SMTP session is still reconstructed")

# Broken DNS payloads on UDP and TCP port 53 (too short, a header claiming
# 65535 questions, a name pointer into itself, random bytes, a TCP length
# prefix promising more than comes) are skipped; a good query and answer
# after them are still paired.
CL, SV = bytes([192, 0, 2, 10]), bytes([192, 0, 2, 53])
good_q = bytes.fromhex("beef01000001000000000000") + b"\x07example\x03net\x00\x00\x0f\x00\x01"
good_a = bytes.fromhex("beef81800001000000000000") + b"\x07example\x03net\x00\x00\x0f\x00\x01"
bad = [b"", b"\x12", bytes.fromhex("0001010000000000000000"),
       bytes.fromhex("0002010000ffffffffffffff") + b"\x01a\x00",
       bytes.fromhex("000301000001000000000000") + b"\xc0\x0c\x00\x0f\x00\x01",
       bytes(range(256)) * 4]
frames = [(1790000000 + i * 0.01, udp4(CL, SV, 30000 + i, 53, b)) for i, b in enumerate(bad)]
frames += [(1790000001.0, udp4(CL, SV, 31000, 53, good_q)),
           (1790000001.001, udp4(SV, CL, 53, 31000, good_a))]
frames += [(1790000002.0 + k * 0.001, tcp4(CL, SV, 32000, 53, seq, ack, fl, data))
           for k, (seq, ack, fl, data) in enumerate([
               (100, 0, 0x02, b""), (500, 101, 0x12, b""), (101, 501, 0x10, b""),
               (101, 501, 0x18, b"\x00\x05ab"), (105, 501, 0x18, bytes(range(200))),
               (305, 501, 0x18, b"\xff\xff" + b"x" * 100), (407, 501, 0x11, b"")])]
write_pcap(flood, frames, 101)
r = subprocess.run([binary, "-q", "-j", "-r", flood], capture_output=True, text=True)
got = [(x["query"], x["rcode"], x["transport"]) for x in map(json.loads, r.stdout.splitlines())
       if x["type"] == "dns"]
check(r.returncode == 0 and got == [("example.net", "NOERROR", "udp")],
      f"broken DNS on UDP and TCP skipped, the good lookup after it paired ({got}, exit {r.returncode})")
os.unlink(flood)
os.rmdir(os.path.dirname(flood))
tap.finish()
