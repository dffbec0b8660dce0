#!/usr/bin/env python3
"""make_hostile.py OUTDIR - write the hostile and broken capture corpus.

Each file is one attack on the reader, the reassembly or the parser; the
test (hostile_test.py) says what smtpscope must do with it. Generated, not
committed, because some are large (a 50 MB line)."""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from pcapw import tcp4  # noqa: E402

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
C, S = bytes([192, 0, 2, 10]), bytes([192, 0, 2, 25])


pkt = tcp4


class Pcap:
    def __init__(self, name):
        self.f = open(os.path.join(out, name), "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 101))
        self.t = 1700000000.0

    def add(self, data, dt=0.001, caplen=None):
        self.t += dt
        cl = len(data) if caplen is None else caplen
        self.f.write(struct.pack("<IIII", int(self.t), int((self.t % 1) * 1e6), cl, len(data)))
        self.f.write(data[:cl] if caplen is None or caplen <= len(data) else data)

    def close(self):
        self.f.close()


class Conn:
    """A TCP connection whose segments are written as the dialogue goes."""

    def __init__(self, pc, cport=40000):
        self.pc, self.cp = pc, cport
        self.cs, self.ss = 1000, 5000
        pc.add(pkt(C, S, cport, 25, self.cs, 0, 0x02))
        pc.add(pkt(S, C, 25, cport, self.ss, self.cs + 1, 0x12))
        self.cs += 1
        self.ss += 1
        pc.add(pkt(C, S, cport, 25, self.cs, self.ss, 0x10))

    def c(self, data, seg=1400):
        for i in range(0, len(data), seg):
            d = data[i:i + seg]
            self.pc.add(pkt(C, S, self.cp, 25, self.cs, self.ss, 0x18, d), 0.0001)
            self.cs += len(d)

    def s(self, data, seg=1400):
        for i in range(0, len(data), seg):
            d = data[i:i + seg]
            self.pc.add(pkt(S, C, 25, self.cp, self.ss, self.cs, 0x18, d), 0.0001)
            self.ss += len(d)

    def close(self):
        self.pc.add(pkt(C, S, self.cp, 25, self.cs, self.ss, 0x11))
        self.pc.add(pkt(S, C, 25, self.cp, self.ss, self.cs + 1, 0x11))
        self.pc.add(pkt(C, S, self.cp, 25, self.cs + 1, self.ss + 1, 0x10))


def dialogue(c, mail=b"MAIL FROM:<a@example.com>\r\n"):
    c.s(b"220 mx.example.net ESMTP\r\n")
    c.c(b"EHLO client.example.com\r\n")
    c.s(b"250 mx.example.net\r\n")
    c.c(mail)
    c.s(b"250 ok\r\n")


# a 50 MB line without CRLF, then a normal session on another connection
p = Pcap("long-line.pcap")
c = Conn(p)
dialogue(c)
c.c(b"RCPT TO:<" + b"A" * (50 << 20), seg=1448)
c.close()
c2 = Conn(p, 40001)
dialogue(c2)
c2.c(b"QUIT\r\n")
c2.s(b"221 bye\r\n")
c2.close()
p.close()

# log injection, terminal escapes, NULs and invalid UTF-8 in both directions
p = Pcap("log-injection.pcap")
c = Conn(p)
c.s(b"220 mx.example.net \x1b[2J\x1b[31mred\x1b[0m \xff\xfe\r\n")
c.c(b"EHLO x\r127.0.0.1 [00000001] 00:00:00.000 <<< forged\r\n")
c.s(b"250 ok\x00hidden\r\n")
c.c(b"MAIL FROM:<a@b>\x1b]0;title\x07\r\n")
c.s(b"250 \xe2\x80\xaereversed\xc0\xaf\r\n")
c.c(b"QUIT\r\n")
c.s(b"221 bye\r\n")
c.close()
p.close()

# markup in the dialogue: the HTML report must show it as text
p = Pcap("html-injection.pcap")
c = Conn(p)
c.s(b"220 mx.example.net </script><script>document.title='pwned'</script>\r\n")
c.c(b"EHLO <img src=x onerror=\"document.title='pwned'\">\r\n")
c.s(b"250 ok\r\n")
c.c(b"MAIL FROM:<a@b>\r\n")
c.s(b"550 5.7.1 <b>no</b> \u2028 </style><!-- \r\n")
c.c(b"QUIT\r\n")
c.s(b"221 bye\r\n")
c.close()
p.close()

# 100 000 recipients in one transaction, then a 10 000-line reply
p = Pcap("many-rcpts.pcap")
c = Conn(p)
dialogue(c)
c.c(b"".join(b"RCPT TO:<u%d@example.net>\r\n" % i for i in range(100000)))
c.s(b"250 ok\r\n" * 100000)
c.c(b"HELP\r\n")
c.s(b"".join(b"214-line %d\r\n" % i for i in range(9999)) + b"214 end\r\n")
c.c(b"QUIT\r\n")
c.s(b"221 bye\r\n")
c.close()
p.close()

# a SYN flood: 5000 half-open connections, then one real session
p = Pcap("syn-flood.pcap")
for i in range(5000):
    p.add(pkt(C, S, 10000 + i, 25, i * 7919, 0, 0x02), 0.0001)
c = Conn(p, 9000)
dialogue(c)
c.c(b"QUIT\r\n")
c.s(b"221 bye\r\n")
c.close()
p.close()

# retransmissions with different content, overlaps, segments far outside
# the window, zero-length and absurdly short records
p = Pcap("tcp-games.pcap")
c = Conn(p)
c.s(b"220 mx.example.net ESMTP\r\n")
seq = c.cs
p.add(pkt(C, S, c.cp, 25, seq, c.ss, 0x18, b"EHLO first\r\n"))
p.add(pkt(C, S, c.cp, 25, seq, c.ss, 0x18, b"EHLO other\r\n"))    # conflicting
p.add(pkt(C, S, c.cp, 25, seq + 4, c.ss, 0x18, b"XXXXXXXX\r\n"))   # overlapping
p.add(pkt(C, S, c.cp, 25, seq + 0x40000000, c.ss, 0x18, b"FAR\r\n"))  # outside
c.cs += len(b"EHLO first\r\n")
p.add(b"", 0.001)                                    # zero-length record
p.add(pkt(C, S, c.cp, 25, c.cs, c.ss, 0x18, b"x" * 40), caplen=10)  # cut
p.add(b"\x45\x00", 0.001)                            # a 2-byte "packet"
c.s(b"250 ok\r\n")
c.c(b"QUIT\r\n")
c.s(b"221 bye\r\n")
c.close()
p.close()

# 40 sessions open at once (read with a stream table of 16: evictions)
p = Pcap("many-open.pcap")
conns = [Conn(p, 20000 + i) for i in range(40)]
for c in conns:
    c.s(b"220 mx.example.net ESMTP\r\n")
for c in conns:
    c.c(b"EHLO client.example.com\r\n")
    c.s(b"250 mx.example.net\r\n")
for c in conns:
    c.c(b"QUIT\r\n")
    c.s(b"221 bye\r\n")
    c.close()
p.close()

# absurd header: snaplen 0xffffffff and a record claiming 4 GB
with open(os.path.join(out, "absurd-caplen.pcap"), "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 0xFFFFFFFF, 1))
    f.write(struct.pack("<IIII", 1700000000, 0, 0xFFFFFFF0, 0xFFFFFFF0) + b"\0" * 64)
