"""dns_wait_test.py - the server's own DNS lookups behind its waits.

Byte-exact captures of one SMTP session each, with the DNS traffic a
gateway capture holds beside it: the server's PTR lookup of the client
that times out before a 5 s greeting, a sender-domain MX lookup behind a
slow RCPT, a DNSBL listing before a refusal, and the controls (lookups
that were quick, or not the server's). Checked in --json: slow-dns-wait
and its detail, slow-greeting and slow-reply not blamed for DNS time, the
DNSBL note beside the refusal.

    python3 test/dns/dns_wait_test.py ./smtpscope
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from pcapw import tcp4, udp4, write_pcap  # noqa: E402
from tap import check, finish  # noqa: E402

BIN = sys.argv[1] if len(sys.argv) > 1 else "./smtpscope"
CL, SV, RES, OTHER = (bytes(int(x) for x in a.split(".")) for a in
                      ("203.0.113.9", "192.0.2.25", "192.0.2.53", "198.51.100.7"))


def qname(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"


def query(qid, name, qtype):
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname(name) + struct.pack("!HH", qtype, 1)


def response(qid, name, qtype, rcode=0, a=None):
    an = b"" if a is None else b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes(a)
    return (struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, 1 if a else 0, 0, 0) + qname(name) +
            struct.pack("!HH", qtype, 1) + an)


def session(t0, steps, dns=()):
    """steps: (delay, who, data); dns: (time, from, to, payload) UDP datagrams."""
    frames, t, cs, ss, cp = [], t0, 1000, 9000, 41000
    frames.append((t, tcp4(CL, SV, cp, 25, cs, 0, 0x02)))
    frames.append((t + 0.001, tcp4(SV, CL, 25, cp, ss, cs + 1, 0x12)))
    frames.append((t + 0.002, tcp4(CL, SV, cp, 25, cs + 1, ss + 1, 0x10)))
    cs, ss, t = cs + 1, ss + 1, t + 0.002
    for delay, who, data in steps:
        t += delay
        data += b"\r\n"
        if who == "S":
            frames.append((t, tcp4(SV, CL, 25, cp, ss, cs, 0x18, data)))
            ss += len(data)
        else:
            frames.append((t, tcp4(CL, SV, cp, 25, cs, ss, 0x18, data)))
            cs += len(data)
    frames.append((t + 0.01, tcp4(SV, CL, 25, cp, ss, cs, 0x11)))
    frames.append((t + 0.011, tcp4(CL, SV, cp, 25, cs, ss + 1, 0x11)))
    for when, src, dst, payload in dns:
        sp, dp = (53, 33333) if src == RES else (33333, 53)
        frames.append((t0 + when, udp4(src, dst, sp, dp, payload)))
    frames.sort(key=lambda f: f[0])
    return frames


DIALOGUE = [(0, "C", b"EHLO client.example.org"), (0.01, "S", b"250 mx.example.net"),
            (0.01, "C", b"MAIL FROM:<a@example.org>"), (0.01, "S", b"250 ok"),
            (0.01, "C", b"RCPT TO:<bob@example.net>"), (0.01, "S", b"250 ok"),
            (0.01, "C", b"QUIT"), (0.01, "S", b"221 bye")]
PTR = "9.113.0.203.in-addr.arpa"


def run(frames, *args):
    d = tempfile.mkdtemp()
    path = os.path.join(d, "c.pcap")
    write_pcap(path, frames, 101)
    p = subprocess.run([BIN, "-q", "--json", *args, "-r", path], capture_output=True, text=True,
                       timeout=60)
    recs = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
    sess = [r for r in recs if r["type"] == "session"]
    text = subprocess.run([BIN, "-q", *args, "-r", path], capture_output=True, text=True,
                          timeout=60).stdout
    return p, (sess[0] if len(sess) == 1 else None), text


def findings(rec):
    return {a["name"]: a for a in rec["anomalies"]}


# 1. the PTR lookup of the client times out (no response); greeting at 5.02 s
frames = session(1000.0, [(5.02, "S", b"220 mx.example.net ESMTP")] + DIALOGUE,
                 dns=[(0.005, SV, RES, query(7, PTR, 12))])
p, rec, text = run(frames, "--slow", "3000")
f = findings(rec) if rec else {}
check(p.returncode == 0 and rec is not None, "ptr-timeout: one session")
check("slow-dns-wait" in f and "PTR" in f["slow-dns-wait"]["detail"] and
      "no answer after 5.0" in f["slow-dns-wait"]["detail"],
      "ptr-timeout: slow-dns-wait names the PTR lookup without an answer (%s)" %
      f.get("slow-dns-wait", {}).get("detail"))
check("slow-greeting" not in f, "ptr-timeout: the greeting's 5 s are not blamed on the server")
check("greeting after 5.02 s" in text, "ptr-timeout: the text log tells the wait")

# 1b. the same capture, degraded: the server's side only (asymmetric
# routing: SYN-ACK, replies, its lookups), and the DNS query's packet cut
# short by a 60-byte snap length (nothing of its name read)
one = [f for f in frames if f[1][12:16] != CL]
p, rec, text = run(one, "--slow", "3000")
f = findings(rec) if rec else {}
check(rec is not None and "slow-dns-wait" in f and "slow-greeting" not in f,
      "ptr-timeout, server side only: the wait is still the PTR lookup's (%s)" % sorted(f))
d = tempfile.mkdtemp()
cut = os.path.join(d, "cut.pcap")
write_pcap(cut, frames, 101, snaplen=60)
p2 = subprocess.run([BIN, "-q", "--json", "--slow", "3000", "-r", cut], capture_output=True,
                    text=True, timeout=60)
recs = [json.loads(x) for x in p2.stdout.splitlines() if x.strip()]
sess = [r for r in recs if r["type"] == "session"]
check(p2.returncode == 0 and len(sess) == 1 and
      "slow-dns-wait" not in {a["name"] for a in sess[0]["anomalies"]},
      "ptr-timeout, snap length 60: a query whose name was cut explains nothing")

# 2. the same wait, the lookup answered (NXDOMAIN) at 4.9 s
frames = session(1000.0, [(5.02, "S", b"220 mx.example.net ESMTP")] + DIALOGUE,
                 dns=[(0.005, SV, RES, query(8, PTR, 12)),
                      (4.9, RES, SV, response(8, PTR, 12, rcode=3))])
_, rec, _ = run(frames, "--slow", "3000")
f = findings(rec)
check("slow-dns-wait" in f and "answered NXDOMAIN after 4.8" in f["slow-dns-wait"]["detail"],
      "ptr-nxdomain: the answer and its time (%s)" % f.get("slow-dns-wait", {}).get("detail"))

# 3. a slow RCPT while the server looked up the sender domain's MX (3 s)
slow_rcpt = DIALOGUE[:5] + [(3.2, "S", b"250 ok")] + DIALOGUE[6:]
t_rcpt = 0.002 + 0.01 * 5  # when the RCPT went out
frames = session(1000.0, [(0.01, "S", b"220 mx.example.net ESMTP")] + slow_rcpt,
                 dns=[(t_rcpt + 0.02, SV, RES, query(9, "example.org", 15)),
                      (t_rcpt + 3.15, RES, SV, response(9, "example.org", 15))])
_, rec, _ = run(frames, "--slow", "2000")
f = findings(rec)
check("slow-dns-wait" in f and "RCPT answered after 3.2" in f["slow-dns-wait"]["detail"] and
      "MX lookup of example.org" in f["slow-dns-wait"]["detail"],
      "mx-wait: the RCPT's wait is the MX lookup (%s)" % f.get("slow-dns-wait", {}).get("detail"))
check("slow-reply" not in f, "mx-wait: slow-reply not blamed on the server")

# 4. controls: a quick lookup under a slow reply; a slow lookup by another host
frames = session(1000.0, [(0.01, "S", b"220 mx.example.net ESMTP")] + slow_rcpt,
                 dns=[(t_rcpt + 0.02, SV, RES, query(10, "example.org", 15)),
                      (t_rcpt + 0.05, RES, SV, response(10, "example.org", 15)),
                      (t_rcpt + 0.02, OTHER, RES, query(11, "example.com", 15))])
_, rec, _ = run(frames, "--slow", "2000")
f = findings(rec)
check("slow-dns-wait" not in f and "slow-reply" in f,
      "controls: a 30 ms lookup and another host's do not explain a 3.2 s RCPT")

# 5. a DNSBL listing, then a refusal that does not name the list
bl = "9.113.0.203.zen.example.org"
refused = DIALOGUE[:5] + [(0.3, "S", b"554 5.7.1 Service unavailable; client host blocked"),
                          (0.01, "C", b"QUIT"), (0.01, "S", b"221 bye")]
frames = session(1000.0, [(0.01, "S", b"220 mx.example.net ESMTP")] + refused,
                 dns=[(0.06, SV, RES, query(12, bl, 1)),
                      (0.2, RES, SV, response(12, bl, 1, a=(127, 0, 0, 2)))])
_, rec, text = run(frames)
f = findings(rec)
check("dnsbl-rejection" in f and "zen.example.org" in f["dnsbl-rejection"]["detail"] and
      "127.0.0.2" in f["dnsbl-rejection"]["detail"],
      "dnsbl: the refusal tied to the listing (%s)" % f.get("dnsbl-rejection", {}).get("detail"))
check("the client is listed on zen.example.org" in text.lower(), "dnsbl: the note beside the refusal")
check("likely cause: the client's address is on a DNS block list" in (rec["failure"] or {}).get("hint", ""),
      "dnsbl: the hint names the block list the capture showed, not a guess from the words")
# not listed (NXDOMAIN): nothing said
frames = session(1000.0, [(0.01, "S", b"220 mx.example.net ESMTP")] + refused,
                 dns=[(0.06, SV, RES, query(13, bl, 1)),
                      (0.2, RES, SV, response(13, bl, 1, rcode=3))])
_, rec, text = run(frames)
check("dnsbl-rejection" not in findings(rec) and "listed on" not in text,
      "dnsbl: a DNSBL that answered NXDOMAIN (not listed) explains nothing")
finish()
