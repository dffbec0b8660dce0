"""make_compare.py - two capture points of one path, as byte-exact pcaps.

Each scenario is one dialogue as the client's side of a middlebox saw it
and as the server's side did: the same session, changed the way a device
changes it (a masked banner, a stripped STARTTLS, an injected reply or
reset, a NAT, a re-originating proxy, a slow path). `scenario(name)`
returns (client_side_frames, server_side_frames); `mix(n)` a gateway's
worth of overlapping proxied sessions.

    python3 test/compare/make_compare.py OUTDIR   # writes OUTDIR/NAME.{c,s}.pcap
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from pcapw import tcp4, write_pcap  # noqa: E402

C, S = 0, 1
CLIENT, PROXY, MX = "203.0.113.7", "198.51.100.2", "192.0.2.25"
EHLO_REPLY = (b"250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
              b"250-STARTTLS\r\n250-CHUNKING\r\n250 8BITMIME")


def ip(s):
    return bytes(int(x) for x in s.split("."))


def delivery(sender=b"alice@example.org", msgid=b"<m1@example.org>", ehlo=b"client.example.org",
             body=b"Subject: hello\r\n\r\nhello there\r\n"):
    """The steps of one clean delivery: (who, line(s) without the last CRLF)."""
    return [(S, b"220 mx.example.net ESMTP Postfix"), (C, b"EHLO " + ehlo), (S, EHLO_REPLY),
            (C, b"MAIL FROM:<" + sender + b">"), (S, b"250 2.1.0 Ok"),
            (C, b"RCPT TO:<bob@example.net>"), (S, b"250 2.1.5 Ok"), (C, b"DATA"),
            (S, b"354 End data with <CR><LF>.<CR><LF>"),
            (C, b"Message-ID: " + msgid + b"\r\n" + body + b"."),
            (S, b"250 2.0.0 Ok: queued as 4F3A21"), (C, b"QUIT"), (S, b"221 2.0.0 Bye")]


def render(t0, client, server, cport, steps, sport=25, think=0.010, reply=0.004,
           end="fin", slow=0.0, handshake=True):
    """Frames of one connection: the client's lines `think` after the last
    one, the server's `reply` (+ `slow`) after; end: fin, rst-server,
    rst-client, open (the capture stops), no-answer (SYNs only)."""
    cl, sv = ip(client), ip(server)
    frames, t = [], t0
    cs, ss = 1000, 7000

    def add(p):
        frames.append((t, p))

    if end == "no-answer":
        for k in range(3):
            frames.append((t0 + k, tcp4(cl, sv, cport, sport, cs, 0, 0x02)))
        return frames
    if handshake:
        add(tcp4(cl, sv, cport, sport, cs, 0, 0x02))
        t += 0.0005
        add(tcp4(sv, cl, sport, cport, ss, cs + 1, 0x12))
        t += 0.0005
        add(tcp4(cl, sv, cport, sport, cs + 1, ss + 1, 0x10))
    cs, ss = cs + 1, ss + 1
    for who, data in steps:
        data += b"\r\n"
        if who == C:
            t += think
            add(tcp4(cl, sv, cport, sport, cs, ss, 0x18, data))
            cs += len(data)
        else:
            t += reply + slow
            add(tcp4(sv, cl, sport, cport, ss, cs, 0x18, data))
            ss += len(data)
    t += think
    if end == "fin":
        add(tcp4(cl, sv, cport, sport, cs, ss, 0x11))
        t += 0.0005
        add(tcp4(sv, cl, sport, cport, ss, cs + 1, 0x11))
        t += 0.0005
        add(tcp4(cl, sv, cport, sport, cs + 1, ss + 1, 0x10))
    elif end == "rst-server":
        add(tcp4(sv, cl, sport, cport, ss, cs, 0x14))
    elif end == "rst-client":
        add(tcp4(cl, sv, cport, sport, cs, ss, 0x14))
    return frames


def replace(steps, old, new):
    return [(w, new if d == old else d) for w, d in steps]


def both_at(steps_c, steps_s, t0=1000.0, delta=0.002, c_kw=None, s_kw=None, s_addr=None,
            cport=40001):
    """One session seen on both sides: the server side's capture sees the
    client's packets `delta` later (and starts later by as much)."""
    c_kw, s_kw = c_kw or {}, s_kw or {}
    first = cport
    cli, cport, srv = s_addr or (CLIENT, cport, MX)
    cs = render(t0, CLIENT, MX, first, steps_c, **c_kw)
    ss = render(t0 + delta, cli, srv, cport, steps_s, **s_kw)
    return cs, ss


def scenario(name, t0=1000.0, cport=40001):
    """The scenario's two views; t0 and the client's port let several of
    them share one pair of captures."""
    d = delivery()

    def both(steps_c, steps_s, **kw):
        return both_at(steps_c, steps_s, t0=t0, cport=cport, **kw)

    if name == "transparent":
        return both(d, d)
    if name == "banner-masked":
        return both(replace(d, d[0][1], b"220 " + b"*" * 28), d)
    if name == "starttls-stripped":
        stripped = EHLO_REPLY.replace(b"250-STARTTLS\r\n", b"250-XXXXXXXA\r\n")
        return both(replace(d, EHLO_REPLY, stripped), d)
    if name == "chunking-hidden":
        hidden = EHLO_REPLY.replace(b"250-CHUNKING\r\n", b"")
        return both(replace(d, EHLO_REPLY, hidden), d)
    if name == "command-masked":
        steps = d[:3] + [(C, b"VRFY bob"), (S, b"502 5.5.1 VRFY command is disabled")] + d[3:]
        masked = d[:3] + [(C, b"XXXXXXXX"), (S, b"502 5.5.1 VRFY command is disabled")] + d[3:]
        return both(steps, masked)
    if name == "reply-injected":
        # the device refuses the client itself, and quits the server on its own
        c_side = d[:3] + [(C, b"MAIL FROM:<alice@example.org>"),
                          (S, b"421 4.7.0 Blocked by policy")]
        s_side = d[:3] + [(C, b"QUIT"), (S, b"221 2.0.0 Bye")]
        return both(c_side, s_side)
    if name == "reset-injected":
        # a reset in the server's name reaches the client; the server sees a
        # reset in the client's name: neither peer sent one
        return both(d[:7], d[:7], c_kw={"end": "rst-server"}, s_kw={"end": "rst-client"})
    if name == "reset-both-saw":
        return both(d[:7], d[:7], c_kw={"end": "rst-server"}, s_kw={"end": "rst-server"})
    if name == "message-altered":
        footer = d[:9] + [(C, d[9][1][:-1] + b"-- scanned by gateway\r\n.")] + d[10:]
        return both(d, footer)
    if name == "redirected":
        return both(d, d, s_addr=(CLIENT, cport, "192.0.2.99"))
    if name == "proxied":
        # a re-originating proxy: its own connection, its own EHLO, later
        s_side = replace(d, b"EHLO client.example.org", b"EHLO proxy.example.net")
        return both(d, s_side, delta=1.5, s_addr=(PROXY, 51515, MX))
    if name == "slow-path":
        return both(d, d, c_kw={"slow": 1.2})
    if name == "clock-offset":
        return both(d, d, delta=3600.002)
    if name == "client-only":
        return render(t0, CLIENT, MX, cport, [], end="no-answer"), []
    if name == "server-only":
        return [], render(t0, PROXY, MX, cport + 8, d)
    if name == "server-side-cut":
        # the server side's capture ended mid-session: nothing it lacks after
        # that is evidence of a drop
        return both(d, d[:6], s_kw={"end": "open"})
    raise KeyError(name)


SCENARIOS = ["transparent", "banner-masked", "starttls-stripped", "chunking-hidden",
             "command-masked", "reply-injected", "reset-injected", "reset-both-saw",
             "message-altered", "redirected", "proxied", "slow-path", "clock-offset",
             "client-only", "server-only", "server-side-cut"]


def mix(n, t0=2000.0):
    """n sessions through a re-originating proxy, overlapping in time: a
    delivery (Message-ID) or a refusal at RCPT (envelope only), each with
    its own sender; plus a few greeting-only sessions with nothing to tell
    them apart but the time (these may only be paired as a guess)."""
    c_frames, s_frames = [], []
    for i in range(n):
        sender = b"user%d@example.org" % i
        start = t0 + i * 0.05
        if i % 3:
            steps = delivery(sender=sender, msgid=b"<m%d@example.org>" % i)
        else:
            steps = delivery(sender=sender)[:6] + [(S, b"550 5.1.1 no such user"),
                                                   (C, b"QUIT"), (S, b"221 2.0.0 Bye")]
        proxied = replace(steps, b"EHLO client.example.org", b"EHLO proxy.example.net")
        c_frames += render(start, "203.0.113.%d" % (1 + i % 50), PROXY, 30000 + i, steps)
        s_frames += render(start + 0.3 + (i % 7) * 0.01, PROXY, MX, 50000 + i, proxied)
    for k in range(6):
        start = t0 + 0.013 + k * 0.4
        steps = [(S, b"554 5.7.1 no service here"), (C, b"QUIT"), (S, b"221 bye")]
        c_frames += render(start, "203.0.113.200", PROXY, 45000 + k, steps)
        s_frames += render(start + 0.3, PROXY, MX, 55000 + k, steps)
    c_frames.sort(key=lambda f: f[0])
    s_frames.sort(key=lambda f: f[0])
    return c_frames, s_frames


def write(outdir, name, frames):
    cf, sf = frames
    write_pcap(os.path.join(outdir, name + ".c.pcap"), cf, 101)
    write_pcap(os.path.join(outdir, name + ".s.pcap"), sf, 101)


if __name__ == "__main__":
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name in SCENARIOS:
        write(out, name, scenario(name))
    write(out, "mix", mix(300))
