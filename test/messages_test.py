#!/usr/bin/env python3
"""messages_test.py - --messages: trails across hops.

    python3 test/messages_test.py SMTPSCOPE

1. captures/diag-multi-hop.pcap (real Postfix with an after-queue content
   filter on 127.0.0.1:10025): two messages of two hops each, grouped by
   Message-ID; bob's refused at the filter after the gateway accepted it:
   bounce-risk, with the refusing code; delays between hops.
2. captures/diag-gateway-exim.pcap: a gateway Postfix relaying to an
   internal Exim; the same two outcomes, Exim's queue id on the inner hop.
3. A written capture of a relay R (198.51.100.5): a client hands R two
   messages; R passes the first to the mailbox server S and never the
   second, whose trail must be flagged stuck (R relays, this one never
   left). No Message-ID header: grouped by envelope.
"""
import json
import os
import subprocess
import sys
import tempfile

binary = sys.argv[1]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from pcapw import tcp4, write_pcap  # noqa: E402
from tap import check  # noqa: E402


def run(*args):
    r = subprocess.run([binary, "-q", "-j", *args], capture_output=True, text=True)
    return [json.loads(l) for l in r.stdout.splitlines()]


recs = run("-p", "25,10025", "--messages", "-r", "captures/diag-multi-hop.pcap")
msgs = [r for r in recs if r["type"] == "message"]
check(len(msgs) == 2 and all(len(m["hops"]) == 2 for m in msgs),
      f"two messages of two hops each ({[len(m['hops']) for m in msgs]})")
check(all(m["matched_by"] == "message-id" for m in msgs), "grouped by Message-ID")
ok = [m for m in msgs if not m["flags"]]
bad = [m for m in msgs if m["flags"] == ["bounce-risk"]]
check(len(ok) == 1 and [h["result"] for h in ok[0]["hops"]] == ["accepted", "accepted"],
      "alice's message: accepted at the gateway and at the filter")
check(len(bad) == 1 and [(h["result"], h["code"]) for h in bad[0]["hops"]] ==
      [("accepted", 250), ("rejected", 550)], "bob's message: accepted, then refused 550: bounce-risk")
check(all(m["hops"][1]["delay_ms"] > 0 for m in msgs), "delays between hops")
check(ok and ok[0]["hops"][1]["bytes"] > ok[0]["hops"][0]["bytes"],
      "the second hop is larger (Received: headers)")

# -- a gateway Postfix relaying to an internal Exim (port 2525, same host)
recs = run("--messages", "-r", "captures/diag-gateway-exim.pcap")
msgs = [r for r in recs if r["type"] == "message"]
trails = [([(h["result"], h["code"]) for h in m["hops"]], m["flags"], m["matched_by"]) for m in msgs]
check(trails == [([("accepted", 250), ("accepted", 250)], [], "message-id"),
                 ([("accepted", 250), ("rejected", 550)], ["bounce-risk"], "message-id")],
      f"Postfix to Exim: alice's message over both hops, nobody's refused inside ({trails})")
exim_ids = [m["hops"][1].get("queue_id") for m in msgs[:1]]
check(exim_ids and exim_ids[0] and "-" in exim_ids[0],
      f"the second hop's queue id is Exim's ({exim_ids})")

# -- a written capture: relay R passes one message on and keeps the other
C, R, S = bytes([203, 0, 113, 9]), bytes([198, 51, 100, 5]), bytes([192, 0, 2, 30])


frames, now = [], [1790000000.0]


def add(p):
    now[0] += 0.01
    frames.append((now[0], p))


def session(cl, sv, cport, rcpt, body, queue, sender=b"a@example.org"):
    cs, ss = 1000, 5000
    add(tcp4(cl, sv, cport, 25, cs, 0, 0x02))
    add(tcp4(sv, cl, 25, cport, ss, cs + 1, 0x12))
    cs += 1
    ss += 1
    add(tcp4(cl, sv, cport, 25, cs, ss, 0x10))
    for who, data in ((1, b"220 mx ESMTP\r\n"), (0, b"EHLO h\r\n"), (1, b"250 mx\r\n"),
                      (0, b"MAIL FROM:<%s>\r\n" % sender), (1, b"250 ok\r\n"),
                      (0, b"RCPT TO:<%s>\r\n" % rcpt), (1, b"250 ok\r\n"), (0, b"DATA\r\n"),
                      (1, b"354 go\r\n"), (0, body + b"\r\n.\r\n"),
                      (1, b"250 ok: queued as %s\r\n" % queue), (0, b"QUIT\r\n"),
                      (1, b"221 bye\r\n")):
        if who:
            add(tcp4(sv, cl, 25, cport, ss, cs, 0x18, data))
            ss += len(data)
        else:
            add(tcp4(cl, sv, cport, 25, cs, ss, 0x18, data))
            cs += len(data)
    add(tcp4(cl, sv, cport, 25, cs, ss, 0x11))
    add(tcp4(sv, cl, 25, cport, ss, cs + 1, 0x11))
    add(tcp4(cl, sv, cport, 25, cs + 1, ss + 1, 0x10))


session(C, R, 40001, b"u1@example.net", b"Subject: one\r\n\r\nfirst", b"R1")
session(C, R, 40002, b"u2@example.net", b"Subject: two\r\n\r\nsecond", b"R2")
session(R, S, 40003, b"u1@example.net", b"Received: by R\r\nSubject: one\r\n\r\nfirst", b"S1")
tmp = tempfile.mkdtemp()
cap = os.path.join(tmp, "relay.pcap")
write_pcap(cap, frames, 101)
msgs = [r for r in run("--messages", "-r", cap) if r["type"] == "message"]
one = [m for m in msgs if len(m["hops"]) == 2]
two = [m for m in msgs if len(m["hops"]) == 1]
check(len(msgs) == 2 and one and one[0]["matched_by"] == "envelope" and not one[0]["flags"],
      "without Message-ID, the relayed message's two hops are matched by envelope")
check(two and two[0]["flags"] == ["stuck"] and two[0]["hops"][0]["server"] == "198.51.100.5",
      "the message the relay kept is flagged stuck")
text = subprocess.run([binary, "-q", "--messages", "-r", cap], capture_output=True,
                      text=True).stdout
check("stuck: accepted by a relay and never seen leaving it" in text and
      "# message 2 (envelope match)" in text, "the text trail says so")
os.unlink(cap)

# -- at scale: 600 messages of one sender through R to S, interleaved (all
# of them reach R before the first leaves it), every other one with a
# Message-ID; 40 more that R keeps. Grouping is one pass with hash tables:
# each message must come out whole, in the order of its first hop.
frames.clear()
N, KEPT = 600, 40
def body(i):
    mid = b"Message-ID: <m%d@example.org>\r\n" % i if i % 2 == 0 else b""
    return mid + b"Subject: n%d\r\n\r\nmessage %d" % (i, i)
for i in range(N + KEPT):
    session(C, R, 20000 + i, b"u%d@example.net" % i, body(i), b"R%d" % i, sender=b"bulk@example.org")
for i in range(N):
    session(R, S, 40000 + i, b"u%d@example.net" % i, b"Received: by R\r\n" + body(i), b"S%d" % i,
            sender=b"bulk@example.org")
write_pcap(cap, frames, 101)
msgs = [r for r in run("--messages", "-r", cap) if r["type"] == "message"]
shape = [(len(m["hops"]), m["matched_by"], m["flags"]) for m in msgs]
want = [(2, "message-id" if i % 2 == 0 else "envelope", []) for i in range(N)] + \
       [(1, "message-id" if i % 2 == 0 else "envelope", ["stuck"]) for i in range(N, N + KEPT)]
check(shape == want, f"{N + KEPT} messages of one sender: {N} whole over two hops, {KEPT} stuck, "
      f"in order ({sum(1 for a, b in zip(shape, want) if a != b)} differ)")
queues = [[h["queue_id"] for h in m["hops"]] for m in msgs[:N]]
check(queues == [["R%d" % i, "S%d" % i] for i in range(N)],
      "each trail pairs R's queue id with S's for the same message")
os.unlink(cap)
os.rmdir(tmp)
tap.finish()
