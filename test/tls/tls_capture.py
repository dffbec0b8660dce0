"""tls_capture.py - what the TLS degraded tests share: the fixtures'
handshake streams (make_tls_fixtures.py), where each handshake step ends in
a direction's bytes, and one TCP connection as a list of segments that a
test then keeps, drops, cuts or reorders before writing it with pcapw."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from pcapw import tcp4  # noqa: E402

FIX = "build/tls-fixtures"
C, S = bytes([192, 0, 2, 10]), bytes([192, 0, 2, 25])
SYN, ACK, PSH, FIN, RST = 0x02, 0x10, 0x08, 0x01, 0x04


def chunks(name):
    out, b = [], open(os.path.join(FIX, name + ".bin"), "rb").read()
    while b:
        side, n = b[0], int.from_bytes(b[1:5], "big")
        out.append((side == 0, b[5:5 + n]))
        b = b[5 + n:]
    return out


def landmarks(stream, tls13):
    """Where the handshake's steps end in one direction's TLS bytes: the
    offset just past each handshake message in clear (by type; the last
    of a type wins) and past each alert in clear. Handshake records count
    until the side's first encrypted record: type 23, or in TLS 1.2 and
    older the record after its ChangeCipherSpec."""
    marks, hs, hs_ends, at, encrypted = {}, b"", [], 0, False
    while at + 5 <= len(stream):
        typ, n = stream[at], int.from_bytes(stream[at + 3:at + 5], "big")
        end = at + 5 + n
        if typ == 23 or encrypted:
            break
        if typ == 20 and not tls13:
            encrypted = True
        elif typ == 22:
            body = stream[at + 5:end]
            for k in range(len(body)):
                hs_ends.append(at + 5 + k + 1)
            hs += body
        elif typ == 21:
            marks.setdefault("alert", end)
        at = end
    k = 0
    while k + 4 <= len(hs):
        n = int.from_bytes(hs[k + 1:k + 4], "big")
        if k + 4 + n > len(hs):
            break
        marks[hs[k]] = hs_ends[k + 4 + n - 1]
        k += 4 + n
    return marks


class Conn:
    """One connection's segments as [time, from_client, seq, ack, flags,
    data] in wire order; a capture is then what a transform keeps."""

    def __init__(self, cport, sport, t):
        self.cp, self.sp, self.t = cport, sport, t
        self.seq = {True: 1000, False: 5000}
        self.segs = []
        self.pkt(True, SYN, b"")
        self.seq[True] += 1
        self.pkt(False, SYN | ACK, b"")
        self.seq[False] += 1
        self.pkt(True, ACK, b"")
        self.tls_at = {}  # per side: the stream offset (seq) where TLS begins

    def pkt(self, fc, flags, data, dt=0.005):
        self.t += dt
        self.segs.append([self.t, fc, self.seq[fc], self.seq[not fc], flags, data])
        self.seq[fc] += len(data)

    def send(self, fc, data, mss=1400):
        for i in range(0, len(data), mss):
            self.pkt(fc, ACK | PSH, data[i:i + mss])

    def close(self, fc_first=True):
        self.pkt(fc_first, FIN | ACK, b"")
        self.seq[fc_first] += 1
        self.pkt(not fc_first, FIN | ACK, b"")
        self.seq[not fc_first] += 1
        self.pkt(fc_first, ACK, b"")

    def frames(self, segs=None):
        out = []
        for t, fc, seq, ack, fl, d in (self.segs if segs is None else segs):
            src, dst = (C, S) if fc else (S, C)
            sp, dp = (self.cp, self.sp) if fc else (self.sp, self.cp)
            out.append((t, tcp4(src, dst, sp, dp, seq, ack, fl, d)))
        return out


def starttls_prefix(c):
    c.send(False, b"220 mx.example.net ESMTP Postfix\r\n")
    c.send(True, b"EHLO client.example.com\r\n")
    c.send(False, b"250-mx.example.net\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
    c.send(True, b"STARTTLS\r\n")
    c.send(False, b"220 2.0.0 Ready to start TLS\r\n")
