#!/usr/bin/env python3
"""tcp_path_test.py BINARY - the "tcp" path-quality record of each session.

Retransmissions and out-of-order segments are compared with tshark's
tcp.analysis on captures that have them (a reordered and duplicated
delivery, an overlapping retransmission, Zeek's public smtp.pcap): within
a few, as tshark's heuristics and ours differ at the edges. Byte-exact
captures check what tshark cannot arbitrate: the RTT split at the capture
point, a zero window (finding zero-window) and a lossy path (lossy-path)."""
import json
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
from pcapw import tcp4, write_pcap  # noqa: E402
from tap import check, finish, zeek_traces  # noqa: E402

BIN = sys.argv[1]
C, S = bytes([192, 0, 2, 10]), bytes([192, 0, 2, 25])
SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


def sessions(path):
    out = subprocess.run([BIN, "-q", "-j", "-r", path], capture_output=True, text=True).stdout
    return [r for r in map(json.loads, out.splitlines()) if r.get("type") == "session"]


def tshark_count(path, expr):
    out = subprocess.run(["tshark", "-r", path, "-Y", expr], capture_output=True, text=True)
    return len(out.stdout.splitlines())


def compare_with_tshark(path, name):
    recs = sessions(path)
    re = sum(sum(r["tcp"]["retransmits"].values()) for r in recs if r["tcp"])
    oo = sum(sum(r["tcp"]["out_of_order"].values()) for r in recs if r["tcp"])
    t_re = tshark_count(path, "tcp.port==25 && (tcp.analysis.retransmission || "
                              "tcp.analysis.fast_retransmission)")
    t_oo = tshark_count(path, "tcp.port==25 && tcp.analysis.out_of_order")
    near = lambda a, b: abs(a - b) <= max(3, b // 5)  # noqa: E731
    check(near(re + oo, t_re + t_oo) and near(re, t_re),
          "%s: %d retransmitted + %d out of order, tshark %d + %d" % (name, re, oo, t_re, t_oo))


def dialogue(window_server=65535, lose=False, zero_for=0.001):
    """A short session; the server may announce a zero window (its next
    segment, zero_for seconds later, opens it again), and with `lose` half
    the client's data segments are sent twice (retransmitted)."""
    t, cs, ss, frames = 1700000000.0, 1000, 5000, []

    def pkt(fc, flags, data=b"", dt=0.001, win=65535, seq=None):
        nonlocal t, cs, ss
        t += dt
        s = seq if seq is not None else (cs if fc else ss)
        src, dst, sp, dp = (C, S, 40000, 25) if fc else (S, C, 25, 40000)
        frames.append((t, tcp4(src, dst, sp, dp, s, ss if fc else cs, flags, data, win=win)))
        if seq is None:
            if fc:
                cs += len(data) + (1 if flags & (SYN | FIN) else 0)
            else:
                ss += len(data) + (1 if flags & (SYN | FIN) else 0)
    pkt(True, SYN)
    pkt(False, SYN | ACK, dt=0.030)
    pkt(True, ACK, dt=0.010)
    pkt(False, ACK | PSH, b"220 mx.example.net ESMTP\r\n")
    for i in range(10):
        line = b"NOOP %d\r\n" % i
        at = cs
        pkt(True, ACK | PSH, line, dt=zero_for if i == 6 else 0.001)
        if lose and i % 2:
            pkt(True, ACK | PSH, line, dt=0.2, seq=at)  # the same bytes again, later
        pkt(False, ACK | PSH, b"250 2.0.0 Ok\r\n", win=window_server if i == 5 else 65535)
    pkt(True, ACK | PSH, b"QUIT\r\n")
    pkt(False, ACK | PSH, b"221 Bye\r\n")
    pkt(True, FIN | ACK)
    pkt(False, FIN | ACK)
    pkt(True, ACK)
    return frames


def retransmitted_command():
    """MAIL sent, its segment resent 3 s later (the first copy lost after the
    capture point), answered 0.2 s after that: 3.2 s of latency, 3 s of it
    the path's. With --slow 1000 that is no slow-reply."""
    t, frames = 1700000000.0, []
    seq = {True: 1000, False: 5000}

    def pkt(fc, flags, data=b"", at=None, resend=False):
        nonlocal t
        t = at if at is not None else t + 0.001
        src, dst, sp, dp = (C, S, 40001, 25) if fc else (S, C, 25, 40001)
        s0 = seq[fc] - len(data) if resend else seq[fc]
        frames.append((t, tcp4(src, dst, sp, dp, s0, seq[not fc], flags, data)))
        if not resend:
            seq[fc] += len(data) + (1 if flags & (SYN | FIN) else 0)
    pkt(True, SYN)
    pkt(False, SYN | ACK)
    pkt(True, ACK)
    pkt(False, ACK | PSH, b"220 mx.example.net ESMTP\r\n")
    pkt(True, ACK | PSH, b"HELO client.example.com\r\n")
    pkt(False, ACK | PSH, b"250 mx.example.net\r\n")
    line = b"MAIL FROM:<a@example.com>\r\n"
    pkt(True, ACK | PSH, line)
    t0 = t
    pkt(True, ACK | PSH, line, at=t0 + 3.0, resend=True)
    pkt(False, ACK | PSH, b"250 2.1.0 Ok\r\n", at=t0 + 3.2)
    pkt(True, ACK | PSH, b"QUIT\r\n")
    pkt(False, ACK | PSH, b"221 Bye\r\n")
    pkt(True, FIN | ACK)
    pkt(False, FIN | ACK)
    pkt(True, ACK)
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "r.pcap")
        write_pcap(p, frames, 101)
        out = subprocess.run([BIN, "-q", "-j", "--slow", "1000", "-r", p],
                             capture_output=True, text=True).stdout
        r = [x for x in map(json.loads, out.splitlines()) if x.get("type") == "session"][0]
        text = subprocess.run([BIN, "-q", "--slow", "1000", "-r", p], capture_output=True,
                              text=True).stdout
    names = {a["name"] for a in r["anomalies"]}
    check("slow-reply" not in names and r["tcp"]["retransmits"]["client"] == 1,
          "a reply late because the command was resent: no slow-reply (%s)" % sorted(names))
    check("latency 3.20 s, 3.00 s of it retransmission" in text.lower(),
          "the transcript says how much of the latency was retransmission")


def bulk(late, holes=range(10, 90, 10)):
    """A client's 100-segment body captured near the server (the lab's
    server-facing interface): each segment in holes reaches the capture
    point after its successors. late=False: reordered on the way, it comes
    right after the next one. late=True: lost upstream, it is resent once the
    server's duplicate ACKs (three, as the server acknowledges each segment)
    had a client round trip (0.1 ms here) to reach the sender, a whole
    round trip after the hole opened; still within
    tshark's 3 ms, which calls it out of order either way."""
    t, frames, cs, ss = 1700000000.0, [], 1000, 5000

    def pkt(fc, flags, seq, ack, data=b"", dt=0.00005):
        nonlocal t
        t += dt
        src, dst, sp, dp = (C, S, 40002, 25) if fc else (S, C, 25, 40002)
        frames.append((t, tcp4(src, dst, sp, dp, seq, ack, flags, data)))
    pkt(True, SYN, cs - 1, 0)
    pkt(False, SYN | ACK, ss - 1, cs)
    pkt(True, ACK, cs, ss)
    seg = b"x" * 1000
    have, pending, acked = cs, {}, cs
    for k in range(100):
        seq = cs + k * 1000
        if k in holes:
            pending[k + (4 if late else 1)] = seq
            continue
        pkt(True, ACK, seq, ss, seg)
        if seq == acked:  # in order at the server: cumulative ACK moves
            acked = seq + 1000
        pkt(False, ACK, ss, acked)  # or a duplicate, while a hole is open
        if k in pending:
            fill = pending.pop(k)
            pkt(True, ACK, fill, ss, seg, dt=0.0004 if late else 0.00001)
            acked = cs + (k + 1) * 1000
            pkt(False, ACK, ss, acked)
    pkt(True, FIN | ACK, cs + 100000, ss)
    pkt(False, FIN | ACK, ss, cs + 100001)
    pkt(True, ACK, cs + 100001, ss + 1)
    return frames


def synack_resent():
    """The client's ACK lost on the way (the capture is near the server):
    the server sends its SYN-ACK again 1 s later, the ACK then comes 10 ms
    after it. The client side's RTT is those 10 ms, not the 1 s timer."""
    frames, t = [], 1700000000.0
    for dt, fc, flags, seq, ack in ((0, True, SYN, 999, 0), (0.030, False, SYN | ACK, 4999, 1000),
                                    (1.0, False, SYN | ACK, 4999, 1000),
                                    (0.010, True, ACK, 1000, 5000),
                                    (0.001, False, ACK | PSH, 5000, 1000),
                                    (0.001, True, FIN | ACK, 1000, 5026),
                                    (0.001, False, FIN | ACK, 5026, 1001),
                                    (0.001, True, ACK, 1001, 5027)):
        t += dt
        src, dst, sp, dp = (C, S, 40003, 25) if fc else (S, C, 25, 40003)
        data = b"220 mx.example.net ESMTP\r\n" if flags == ACK | PSH else b""
        frames.append((t, tcp4(src, dst, sp, dp, seq, ack, flags, data)))
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "s.pcap")
        write_pcap(p, frames, 101)
        rtt = sessions(p)[0]["tcp"]["rtt_ms"]
    check(rtt == {"client_side": 10.0, "server_side": 30.0},
          "a SYN-ACK sent again: the client side's RTT from the last one (%s)" % rtt)


def resent_or_duplicated(ipid_same):
    """100 client segments, 8 of them captured twice in a row (behind the
    point where it happened). A sender's retransmission gets a new IP ID
    (Linux counts per connection, others globally or at random); a copy the
    network made is the same packet, IP ID and all: not a loss."""
    t, frames, cs, ss, ipid = 1700000000.0, [], 1000, 5000, 7000

    def pkt(fc, flags, seq, ack, data=b"", dt=0.0001, again=False):
        nonlocal t, ipid
        t += dt
        ipid += 0 if again else 1
        src, dst, sp, dp = (C, S, 40004, 25) if fc else (S, C, 25, 40004)
        p = bytearray(tcp4(src, dst, sp, dp, seq, ack, flags, data))
        struct.pack_into("!H", p, 4, ipid & 0xFFFF)  # the IP checksum is not read
        frames.append((t, bytes(p)))
    pkt(True, SYN, cs - 1, 0)
    pkt(False, SYN | ACK, ss - 1, cs)
    pkt(True, ACK, cs, ss)
    for k in range(100):
        seq = cs + k * 1000
        pkt(True, ACK, seq, ss, b"x" * 1000)
        if k % 12 == 5:
            pkt(True, ACK, seq, ss, b"x" * 1000, dt=0.005 if not ipid_same else 0.00001,
                again=ipid_same)
        pkt(False, ACK, ss, seq + 1000)
    pkt(True, FIN | ACK, cs + 100000, ss)
    pkt(False, FIN | ACK, ss, cs + 100001)
    pkt(True, ACK, cs + 100001, ss + 1)
    return frames


def duplicates():
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "d.pcap")
        for same, want in ((True, False), (False, True)):
            write_pcap(p, resent_or_duplicated(same), 101)
            r = sessions(p)[0]
            names = {a["name"] for a in r["anomalies"]}
            what = "duplicated by the network (the same IP ID)" if same else "resent (new IP IDs)"
            check(("lossy-path" in names) == want and r["tcp"]["retransmits"]["client"] == 8,
                  "8 of 100 segments %s: retransmits 8 as tshark counts, %s (%s)" % (
                      what, "lossy-path" if want else "no lossy-path", sorted(names)))


def upstream():
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "u.pcap")
        for late, want in ((False, False), (True, True)):
            write_pcap(p, bulk(late), 101)
            r = sessions(p)[0]
            names = {a["name"] for a in r["anomalies"]}
            what = "lost upstream, resent after the duplicate ACKs" if late else "reordered"
            check(("lossy-path" in names) == want and r["tcp"]["out_of_order"]["client"] == 8,
                  "8 of 100 segments %s: %s (%s, %s)" % (
                      what, "lossy-path" if want else "no lossy-path", sorted(names),
                      r["tcp"]["out_of_order"]))


def crafted():
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "x.pcap")
        write_pcap(p, dialogue(), 101)
        r = sessions(p)[0]
        tcp = r["tcp"]
        check(tcp["rtt_ms"] == {"client_side": 10.0, "server_side": 30.0},
              "RTT split at the capture point: %s" % tcp["rtt_ms"])
        check(sum(tcp["retransmits"].values()) == 0 and
              not {"lossy-path", "zero-window"} & {a["name"] for a in r["anomalies"]},
              "a clean path: no retransmissions, no path findings")
        write_pcap(p, dialogue(window_server=0), 101)
        r = sessions(p)[0]
        check(r["tcp"]["zero_window"] == {"client": 0, "server": 1} and
              "zero-window" not in {a["name"] for a in r["anomalies"]},
              "a zero window from the server for 2 ms: counted, no zero-window (flow "
              "control at work) (%s)" % r["tcp"]["zero_window"])
        for stall, want in ((0.15, False), (0.5, True), (3.0, True)):
            write_pcap(p, dialogue(window_server=0, zero_for=stall), 101)
            r = sessions(p)[0]
            zw = [a for a in r["anomalies"] if a["name"] == "zero-window"]
            check(r["tcp"]["zero_window"]["server"] == 1 and bool(zw) == want and
                  (not want or "server stopped reading: its window stayed 0 for %.3f s" % (stall + 0.001)
                   in zw[0].get("detail", "")),
                  "the server's window 0 for %.3f s: %s (%s)" % (
                      stall + 0.001, "zero-window" if want else "no zero-window", zw))
        # degraded: the server's side only (the client's packets not in the
        # capture), and the server's reopening segment lost
        for stall, want in ((0.001, False), (0.5, True)):
            frames = dialogue(window_server=0, zero_for=stall)
            src = frames[1][1][12:16]  # the SYN-ACK's source: the server
            write_pcap(p, [(t, f) for t, f in frames if f[12:16] == src], 101)
            got = sessions(p)
            names = {a["name"] for r in got for a in r["anomalies"]}
            check(len(got) == 1 and ("zero-window" in names) == want,
                  "the server's side only, its window 0 for %.3f s: %s (%s)" % (
                      stall + 0.001, "zero-window" if want else "none", sorted(names)))
        frames = dialogue(window_server=0)
        zero = next(i for i, (t, f) in enumerate(frames) if f[20 + 14:20 + 16] == b"\0\0")
        src = frames[zero][1][12:16]
        reopen = next(i for i in range(zero + 1, len(frames)) if frames[i][1][12:16] == src)
        write_pcap(p, frames[:reopen] + frames[reopen + 1:], 101)
        r = sessions(p)[0]
        check("zero-window" not in {a["name"] for a in r["anomalies"]},
              "the server's reopening segment lost, the next one 2 ms later: no zero-window")
        # still 0 when the capture ends: a stall until the end
        frames = dialogue(window_server=0)
        cut = next(i for i, (t, f) in enumerate(frames) if f[20 + 14:20 + 16] == b"\0\0")
        write_pcap(p, frames[:cut + 1] + [(frames[cut][0] + 1.0, frames[cut + 1][1])], 101)
        r = sessions(p)[0]
        check("zero-window" in {a["name"] for a in r["anomalies"]},
              "the server's window still 0 a second later when the capture ends: zero-window")
        write_pcap(p, dialogue(lose=True), 101)
        r = sessions(p)[0]
        check(r["tcp"]["retransmits"] == {"client": 5, "server": 0} and
              "lossy-path" in {a["name"] for a in r["anomalies"]},
              "5 client segments sent twice: retransmits 5, lossy-path (%s)" %
              r["tcp"]["retransmits"])
        check(r["verdict"] == "ok" and r["commands"] == 11,
              "retransmitted commands are not counted twice (%d commands)" % r["commands"])


def main():
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, os.path.join(HERE, "degraded", "make_degraded.py"), d],
                       check=True, capture_output=True)
        for name in ("reorder-dup.pcap", "overlap-mismatch.pcap"):
            compare_with_tshark(os.path.join(d, name), name)
    z = zeek_traces()
    if check(z is not None, "Zeek's public traces are there (../shared/public-captures/zeek)"):
        for root, _, files in os.walk(z):
            if "smtp.pcap" in files:
                compare_with_tshark(os.path.join(root, "smtp.pcap"), "zeek smtp.pcap")
    crafted()
    retransmitted_command()
    upstream()
    synack_resent()
    duplicates()
    finish()


main()
