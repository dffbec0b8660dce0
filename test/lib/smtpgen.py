"""smtpgen.py - whole SMTP sessions as raw IPv4 frames (link type 101) for
byte-exact test captures: one call, one session from SYN to the last ACK,
at the time given, its packets `step` seconds apart."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pcapw import tcp4, write_pcap  # noqa: E402,F401


def ip(s):
    return bytes(int(x) for x in s.split("."))


def session(t, client, server, cport, rcpt_reply=b"250 ok", step=0.01, sport=25):
    """Frames (time, bytes) of one delivery; rcpt_reply decides its fate
    (b"550 5.1.1 no such user" fails it at RCPT)."""
    cl, sv = ip(client), ip(server)
    out = []
    cs, ss = 1000, 5000

    def add(p):
        out.append((t + step * len(out), p))

    add(tcp4(cl, sv, cport, sport, cs, 0, 0x02))
    add(tcp4(sv, cl, sport, cport, ss, cs + 1, 0x12))
    cs += 1
    ss += 1
    add(tcp4(cl, sv, cport, sport, cs, ss, 0x10))
    ok = rcpt_reply.startswith(b"2")
    talk = [(1, b"220 mx ESMTP\r\n"), (0, b"EHLO h\r\n"), (1, b"250 mx\r\n"),
            (0, b"MAIL FROM:<a@example.org>\r\n"), (1, b"250 ok\r\n"),
            (0, b"RCPT TO:<u@example.net>\r\n"), (1, rcpt_reply + b"\r\n")]
    if ok:
        talk += [(0, b"DATA\r\n"), (1, b"354 go\r\n"),
                 (0, b"Subject: x\r\n\r\nbody\r\n.\r\n"), (1, b"250 ok: queued\r\n")]
    talk += [(0, b"QUIT\r\n"), (1, b"221 bye\r\n")]
    for who, data in talk:
        if who:
            add(tcp4(sv, cl, sport, cport, ss, cs, 0x18, data))
            ss += len(data)
        else:
            add(tcp4(cl, sv, cport, sport, cs, ss, 0x18, data))
            cs += len(data)
    add(tcp4(cl, sv, cport, sport, cs, ss, 0x11))
    add(tcp4(sv, cl, sport, cport, ss, cs + 1, 0x11))
    add(tcp4(cl, sv, cport, sport, cs + 1, ss + 1, 0x10))
    return out
