"""spread_failures.py OUT - 16 sessions over about 4 s of capture time from
4 clients to 3 servers, half of them refused at RCPT with 550: a --top
--realtime replay redraws between them (test/top_test.sh)."""
import sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
from smtpgen import session, write_pcap

frames = []
for i in range(16):
    reply = b"550 5.1.1 <u@example.net>: Recipient address rejected: no such user" \
        if i % 2 else b"250 ok"
    frames += session(1790000000.0 + i * 0.25, "203.0.113.%d" % (10 + i % 4),
                      "192.0.2.%d" % (30 + i % 3), 41000 + i, reply)
frames.sort(key=lambda f: f[0])
write_pcap(sys.argv[1], frames, 101)
