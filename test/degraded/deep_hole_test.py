#!/usr/bin/env python3
"""deep_hole_test.py SMTPSCOPE - a segment lost upstream of the capture
point and sent again after much more data: the capture has every byte,
only late. A modern sender keeps hundreds of KB in flight, so the hole
can have far more than libnids' 64 KiB queue behind it (the lossy lab:
5 % loss behind a router, captured on the server's side). smtpscope must
wait for the copy like the receiver does: a whole transcript, the message
its true size, no capture-gap, no bytes lost. A hole that never fills
(the receiver acknowledges past it) is still a gap.

Made with pcapw's checksums: one delivery of a 300 KB body in 1448-byte segments;
the segment at index HOLE is held back and captured after LATE more;
each case also with TCP timestamps (a ms clock, as Linux sends them)."""
import json
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from pcapw import csum, write_pcap  # noqa: E402
from tap import check, finish  # noqa: E402

BIN = sys.argv[1] if len(sys.argv) > 1 else "./smtpscope"
C, S = bytes([203, 0, 113, 10]), bytes([192, 0, 2, 25])
SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01
LINE = b"x" * 74 + b"\r\n"
BODY = b"Subject: deep\r\n\r\n" + LINE * 4000  # 304 KB
MSS = 1448


def tcp4(src, dst, sp, dp, seq, ack, flags, data=b"", tsval=None):
    """pcapw's IPv4 TCP segment, with a timestamp option when tsval is
    given (as Linux sends: libnids then checks PAWS on every segment)."""
    opts = b"\x01\x01\x08\x0a" + struct.pack("!II", tsval, 0) if tsval is not None else b""
    tcp = struct.pack("!HHIIBBHHH", sp, dp, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      (5 + len(opts) // 4) << 4, flags, 65535, 0, 0) + opts
    ph = src + dst + struct.pack("!BBH", 0, 6, len(tcp) + len(data))
    tcp = tcp[:16] + struct.pack("!H", csum(ph + tcp + data)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(data), 0, 0x4000, 64, 6, 0,
                     src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp + data


def delivery(holes, resend=True, ack_past=False, timestamps=False, body=BODY,
             reordered=False):
    """holes: {segment index: how many segments later its copy comes}.
    Without resend, the copies never come; with ack_past the server then
    acknowledges past the holes (the receiver had the bytes: a capture
    loss). reordered: a late segment is the first copy, held up on the way:
    its timestamp is the one of when it was sent (older than the segments
    captured before it), not a resend's newer one."""
    t, cs, ss, frames = 1700000000.0, 1000, 5000, []

    def pkt(fc, flags, data=b"", seq=None, dt=0.0002, sent=None):
        nonlocal t, cs, ss
        t += dt
        s = seq if seq is not None else (cs if fc else ss)
        src, dst, sp, dp = (C, S, 40000, 25) if fc else (S, C, 25, 40000)
        ms = int(((sent or t) - 1700000000.0) * 1000) + 7  # a ms clock
        ts = ms if timestamps else None
        frames.append((t, tcp4(src, dst, sp, dp, s, ss if fc else cs, flags, data, ts)))
        if seq is None:
            if fc:
                cs += len(data) + (1 if flags & (SYN | FIN) else 0)
            else:
                ss += len(data) + (1 if flags & (SYN | FIN) else 0)

    pkt(True, SYN)
    pkt(False, SYN | ACK)
    pkt(True, ACK)
    for fc, line in ((False, b"220 mx.example.net ESMTP\r\n"), (True, b"EHLO c.example.com\r\n"),
                     (False, b"250 mx.example.net\r\n"), (True, b"MAIL FROM:<a@example.com>\r\n"),
                     (False, b"250 2.1.0 Ok\r\n"), (True, b"RCPT TO:<alice@example.net>\r\n"),
                     (False, b"250 2.1.5 Ok\r\n"), (True, b"DATA\r\n"), (False, b"354 go\r\n")):
        pkt(fc, PSH | ACK, line)
        pkt(not fc, ACK)
    data = body + b".\r\n"
    segs = [data[i:i + MSS] for i in range(0, len(data), MSS)]
    base, later = cs, {}

    def orig(seq):  # reordered: True, or the indices of the reordered ones
        return reordered is True or (reordered and (seq - base) // MSS in reordered)
    for k, seg in enumerate(segs):
        seq = base + k * MSS
        if k in holes:
            later.setdefault(k + holes[k], []).append((seq, seg, t))
        else:
            pkt(True, ACK | PSH, seg, seq=seq)
        for seq2, seg2, t2 in later.pop(k, []):
            if resend:
                pkt(True, ACK | PSH, seg2, seq=seq2, sent=t2 if orig(seq2) else None)
    for items in later.values():  # copies due after the last segment
        for seq2, seg2, t2 in items:
            if resend:
                pkt(True, ACK | PSH, seg2, seq=seq2, sent=t2 if orig(seq2) else None)
    cs = base + len(data)
    if resend or ack_past:
        pkt(False, ACK)
        pkt(False, PSH | ACK, b"250 2.0.0 Ok: queued as 4A1B2C\r\n")
        pkt(True, PSH | ACK, b"QUIT\r\n")
        pkt(False, PSH | ACK, b"221 2.0.0 Bye\r\n")
        pkt(False, FIN | ACK)
        pkt(True, FIN | ACK)
        pkt(False, ACK)
    return frames


def session(path):
    p = subprocess.run([BIN, "-q", "--json", "-r", path], capture_output=True, text=True)
    recs = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
    recs = [r for r in recs if r["type"] == "session"]
    return recs[0] if len(recs) == 1 else None


def main():
    tmp = tempfile.mkdtemp()
    cases = {  # name: (holes, the segments behind the deepest hole)
        "shallow": {5: 10},            # 14 KB behind: libnids' own queue
        "deep": {5: 60},               # 87 KB behind
        "deeper": {20: 150},           # 217 KB behind
        "many": {k: 45 for k in range(10, 200, 7)},  # 27 holes, 65 KB behind each
    }
    # with TCP timestamps, each copy is newer than the segments behind it
    # (resent), or older (reordered on the way: libnids' PAWS check must not
    # take it for an old duplicate, as the receiver did not)
    cases.update({name + suffix: holes for name, holes in cases.items()
                  for suffix in ("+ts", "+ts-reordered")})
    for name, holes in cases.items():
        path = os.path.join(tmp, name + ".pcap")
        write_pcap(path, delivery(holes, timestamps="+ts" in name,
                                  reordered=name.endswith("reordered")), 101)
        r = session(path)
        if not check(r is not None, f"{name}: one session"):
            continue
        found = {a["name"] for a in r["anomalies"]}
        tx = r["transactions"][0] if r["transactions"] else {}
        check(r["verdict"] == "ok" and tx.get("bytes") == len(BODY),
              f"{name}: OK, the message {len(BODY)} bytes ({r['verdict']}, {tx.get('bytes')})")
        check(not found & {"capture-gap", "nul-byte", "pairing-resync"} and
              r["tcp"]["lost_bytes"] == {"client": 0, "server": 0},
              f"{name}: every byte came: no capture-gap, nothing lost "
              f"({sorted(found)}, {r['tcp']['lost_bytes']})")
        check(r["tcp"]["out_of_order"]["client"] + r["tcp"]["retransmits"]["client"] ==
              len(holes), f"{name}: each late copy counted once ({r['tcp']})")
    # deeper than smtpscope parks (4 MiB a direction): the hole is filled as
    # a gap once the queue is full, memory stays bounded, the 250 decides
    big = b"Subject: huge\r\n\r\n" + LINE * 70000  # 5.3 MB
    path = os.path.join(tmp, "beyond.pcap")
    write_pcap(path, delivery({5: 3400}, body=big), 101)
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([BIN, "-q", "--json", "-r", path], stdout=out)
        rss_kib = os.wait4(proc.pid, 0)[2].ru_maxrss  # the peak, from the kernel
        out.seek(0)
        recs = [json.loads(x) for x in out.read().decode().splitlines() if x.strip()]
    r = next((x for x in recs if x["type"] == "session"), None)
    if check(r is not None, "beyond: one session"):
        found = {a["name"] for a in r["anomalies"]}
        check(r["verdict"] == "ok" and "capture-gap" in found and
              r["tcp"]["lost_bytes"]["client"] == MSS,
              f"beyond 4 MiB: one segment's gap, the 250 decides ({r['verdict']}, "
              f"{sorted(found)}, {r['tcp']['lost_bytes']})")
        check(rss_kib < 64 * 1024, f"beyond 4 MiB: peak memory bounded ({rss_kib} KiB)")
    # a copy resent (a newer timestamp) fills the hole in order, then the
    # segment after it, held up longer on the way, comes with its older
    # timestamp: the receiver took it (Linux allows a tick; the lab's jitter
    # run), libnids' PAWS check threw it away and left a gap
    path = os.path.join(tmp, "resent-then-late.pcap")
    write_pcap(path, delivery({30: 20, 31: 21}, timestamps=True, reordered={31}), 101)
    r = session(path)
    if check(r is not None, "resent-then-late: one session"):
        found = {a["name"] for a in r["anomalies"]}
        check(r["verdict"] == "ok" and not found & {"capture-gap", "nul-byte"} and
              r["tcp"]["lost_bytes"]["client"] == 0,
              f"resent-then-late: an older timestamp behind a resent copy is taken "
              f"({r['verdict']}, {sorted(found)}, {r['tcp']['lost_bytes']})")
    # a capture loss: the copies never come, the server acknowledged past
    path = os.path.join(tmp, "lost.pcap")
    write_pcap(path, delivery({5: 60, 100: 40}, resend=False, ack_past=True), 101)
    r = session(path)
    if check(r is not None, "lost: one session"):
        found = {a["name"] for a in r["anomalies"]}
        check("capture-gap" in found and r["tcp"]["lost_bytes"]["client"] == 2 * MSS,
              f"lost: two segments never captured are a gap ({sorted(found)}, "
              f"{r['tcp']['lost_bytes']})")
        check(r["verdict"] == "ok", f"lost: the 250 after the dot decides ({r['verdict']})")
    finish()


main()
