#!/usr/bin/env python3
"""make_degraded.py OUTDIR - captures that lose, cut, reorder, duplicate or
overlap the packets of ordinary SMTP sessions (degraded_test.py says what
smtpscope must make of each). Built from one dialogue model, so each file
differs from a clean one only by what the capture did to it."""
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from pcapw import tcp4, write_pcap  # noqa: E402

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
C, S = bytes([192, 0, 2, 10]), bytes([192, 0, 2, 25])
SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


class Session:
    """Segments of one connection as (time, from_client, seq, ack, flags,
    data), in wire order; transforms then decide what the capture holds."""

    def __init__(self, cport=40000, sport=25, t=1700000000.0, handshake=True):
        self.cp, self.sp, self.t = cport, sport, t
        self.cs, self.ss = 1000, 5000
        self.segs = []
        if handshake:
            self.add(True, SYN, b"", seq=self.cs, ack=0)
            self.add(False, SYN | ACK, b"", seq=self.ss, ack=self.cs + 1)
            self.cs += 1
            self.ss += 1
            self.add(True, ACK, b"")
        else:
            self.cs += 1
            self.ss += 1

    def add(self, fc, flags, data, seq=None, ack=None, dt=0.01):
        self.t += dt
        if seq is None:
            seq = self.cs if fc else self.ss
        if ack is None:
            ack = self.ss if fc else self.cs
        self.segs.append([self.t, fc, seq, ack, flags, data])
        if fc:
            self.cs = (seq + len(data)) if seq == self.cs else self.cs
        else:
            self.ss = (seq + len(data)) if seq == self.ss else self.ss

    def c(self, data, seg=1400):
        for i in range(0, len(data), seg):
            self.add(True, ACK | PSH, data[i:i + seg])

    def s(self, data, seg=1400):
        for i in range(0, len(data), seg):
            self.add(False, ACK | PSH, data[i:i + seg])

    def close(self):
        self.add(True, FIN | ACK, b"")
        self.cs += 1
        self.add(False, FIN | ACK, b"")
        self.ss += 1
        self.add(True, ACK, b"")

    def frames(self, keep=lambda s: True):
        out = []
        for g in self.segs:
            if not keep(g):
                continue
            t, fc, seq, ack, fl, d = g
            src, dst = (C, S) if fc else (S, C)
            sp, dp = (self.cp, self.sp) if fc else (self.sp, self.cp)
            out.append((t, tcp4(src, dst, sp, dp, seq, ack, fl, d)))
        return out


BODY = b"".join(b"Line %04d of the message body, long enough to fill segments.\r\n" % i
                for i in range(60))


def delivery(s, body=BODY, seg=1400):
    s.s(b"220 mx.example.net ESMTP Postfix\r\n")
    s.c(b"EHLO client.example.com\r\n")
    s.s(b"250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n"
        b"250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n")
    s.c(b"MAIL FROM:<alice@example.com>\r\n")
    s.s(b"250 2.1.0 Ok\r\n")
    s.c(b"RCPT TO:<bob@example.net>\r\n")
    s.s(b"250 2.1.5 Ok\r\n")
    s.c(b"DATA\r\n")
    s.s(b"354 End data with <CR><LF>.<CR><LF>\r\n")
    s.c(b"Subject: test\r\n\r\n" + body + b".\r\n", seg=seg)
    s.s(b"250 2.0.0 Ok: queued as 4ABCDEF\r\n")
    s.c(b"QUIT\r\n")
    s.s(b"221 2.0.0 Bye\r\n")
    s.close()
    return s


def save(name, frames, snaplen=None):
    write_pcap(os.path.join(out, name), sorted(frames, key=lambda f: f[0])
               if snaplen is None else frames, 101, snaplen=snaplen)


# 1. snap length 96: every segment longer than 56 payload bytes is cut
save("snaplen-cut.pcap", delivery(Session()).frames(), snaplen=96)

# ... and 44: four payload bytes a packet
save("snaplen-tiny.pcap", delivery(Session()).frames(), snaplen=44)

# 2. a body segment never captured (the server ACKs past it), and a
#    server reply never captured inside a multi-line reply
s = delivery(Session(), seg=500)
lost = [g for g in s.segs if g[1] and len(g[5]) == 500][1]
save("gap-in-data.pcap", s.frames(lambda g: g is not lost))

s = Session()
s.s(b"220 mx.example.net ESMTP Postfix\r\n")
s.c(b"EHLO client.example.com\r\n")
s.s(b"250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n"
    b"250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n", seg=40)
s.c(b"MAIL FROM:<alice@example.com>\r\n")
s.s(b"250 2.1.0 Ok\r\n")
s.c(b"QUIT\r\n")
s.s(b"221 2.0.0 Bye\r\n")
s.close()
lost = [g for g in s.segs if not g[1] and g[5].startswith(b"250-mx")][0]
save("gap-in-reply.pcap", s.frames(lambda g: g is not lost))

#    ... and in a capture of the client's side only (no acknowledgement
#    tells: the end of the capture does)
s = delivery(Session(), seg=500)
lost = [g for g in s.segs if g[1] and len(g[5]) == 500][1]
save("gap-client-only.pcap", s.frames(lambda g: g[1] and g is not lost))

# 3. a quarter of the segments reordered within a window, some duplicated:
#    every byte arrives in the end
#    (within one direction: the other side's packets answer these)
s = delivery(Session(), body=BODY * 3, seg=100)
rnd = random.Random(16)
frames = s.frames()
shuffled, i = [], 0
while i < len(frames):
    j = i
    while j < len(frames) and j - i < 5 and frames[j][1][12:16] == frames[i][1][12:16]:
        j += 1
    win = frames[i:j]
    if len(win) > 1 and rnd.random() < 0.6:
        rnd.shuffle(win)
    shuffled += win
    if rnd.random() < 0.25:
        shuffled.append(win[rnd.randrange(len(win))])
    i = j
moved = sum(1 for a, b in zip(frames, shuffled) if a is not b)
assert moved * 4 >= len(frames), (moved, len(frames))
write_pcap(os.path.join(out, "reorder-clean.pcap"), frames, 101)
write_pcap(os.path.join(out, "reorder-dup.pcap"),
           [(1700000000.0 + k * 0.001, f[1]) for k, f in enumerate(shuffled)], 101)

# 4. a retransmission that overlaps the first copy with different bytes
s = Session()
s.s(b"220 mx.example.net ESMTP\r\n")
s.c(b"EHLO client.example.com\r\n")
s.s(b"250 mx.example.net\r\n")
s.c(b"MAIL FROM:<alice@example.com>\r\n")
s.s(b"250 2.1.0 Ok\r\n")
first = s.cs
s.c(b"RCPT TO:<bob@example.net>\r\n")
s.add(True, ACK | PSH, b"RCPT TO:<eve@example.org>\r\n", seq=first)
s.s(b"250 2.1.5 Ok\r\n")
s.c(b"QUIT\r\n")
s.s(b"221 2.0.0 Bye\r\n")
s.close()
save("overlap-mismatch.pcap", s.frames())

# 5. the handshake captured out of order: SYN, ACK, SYN-ACK
s = delivery(Session())
s.segs[1], s.segs[2] = s.segs[2], s.segs[1]
write_pcap(os.path.join(out, "handshake-reordered.pcap"), s.frames(), 101)

# 6. one side only: the server's packets, and the client's
s = delivery(Session())
save("server-only.pcap", s.frames(lambda g: not g[1]))
save("client-only.pcap", s.frames(lambda g: g[1]))

# 8. a capture that begins inside TLS, on port 25 (after STARTTLS) and 465
for port in (25, 465):
    s = Session(sport=port, handshake=False)
    for k in range(3):
        s.c(b"\x17\x03\x03\x00\x20" + bytes(range(32)))
        s.s(b"\x17\x03\x03\x00\x30" + bytes(range(48)))
    s.close()
    save("tls-pickup-%d.pcap" % port, s.frames())
