#!/usr/bin/env python3
"""lossy_forwarder.py - the router of routerlab.sh as a userspace program:
frames read with AF_PACKET on one interface are written to the other,
with seeded, bounded impairments (this kernel has no sch_netem).

The router namespace runs with ip_forward=0, so the kernel forwards
nothing itself; this program is its only path between the two sides. It
routes like a router at layer 2: each IPv4 frame addressed to this side's
MAC (and not to the router's own address) leaves the other side with that
side's MAC as source and the next hop's as destination. ARP and IPv6 stay
on their link (each namespace answers ARP for itself).

Impairments, per direction ("c2s": from side A, the client's, to side B;
"s2c" back), each decided by a random generator of its own seeded from
--seed, so one run's choices depend only on that direction's packet count:
  --drop DIR=P       lose the frame
  --reorder DIR=P    hold the frame, release it after the next one in the
                     same direction (or after --hold-ms if none comes)
  --dup DIR=P        send it twice
  --delay-ms D, --jitter-ms J   every frame waits D +- J ms (jitter reorders)
  --zero-window DIR:SKIP:N      after SKIP TCP segments in DIR, the next N
                     carry a receive window of 0 (checksum recomputed): the
                     peer stalls as if the receiver stopped reading
--what data|tcp|ip: which frames impairments may hit (TCP with payload,
any TCP segment, any IPv4 packet); --max-impair bounds how many in all.
Every frame is logged (JSON lines) with what was done to it, so a test
can compute the truth. The program ends on SIGTERM/SIGINT or after
--duration seconds, and writes a summary line (counts, socket drops).

  lossy_forwarder.py --a IF,MYMAC,PEERMAC,MYIP --b IF,MYMAC,PEERMAC,MYIP
                     --log FILE --ready FILE [impairments]
"""
import argparse
import heapq
import json
import random
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
PACKET_HOST = 0
SOL_PACKET = 263
PACKET_STATISTICS = 6
SO_RCVBUFFORCE = 33
DIRS = ("c2s", "s2c")


def mac(text):
    return bytes(int(x, 16) for x in text.split(":"))


def side(text):
    name, mine, peer, ip = text.split(",")
    return {"if": name, "mac": mac(mine), "peer": mac(peer), "ip": socket.inet_aton(ip)}


def per_dir(items, what):
    """DIR=P options into {dir: P}; a bare P applies to both directions."""
    out = {d: 0.0 for d in DIRS}
    for it in items or []:
        d, _, p = it.rpartition("=")
        for k in (DIRS if not d else (d,)):
            if k not in DIRS:
                sys.exit("lossy_forwarder: %s: unknown direction %r" % (what, k))
            out[k] = float(p)
            if not 0 <= out[k] <= 1:
                sys.exit("lossy_forwarder: %s: probability %s not in [0, 1]" % (what, p))
    return out


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--a", required=True, type=side, help="client side: IF,MYMAC,PEERMAC,MYIP")
    ap.add_argument("--b", required=True, type=side, help="server side: IF,MYMAC,PEERMAC,MYIP")
    ap.add_argument("--log", required=True)
    ap.add_argument("--ready")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--drop", action="append")
    ap.add_argument("--reorder", action="append")
    ap.add_argument("--dup", action="append")
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--jitter-ms", type=float, default=0.0)
    ap.add_argument("--hold-ms", type=float, default=30.0)
    ap.add_argument("--zero-window", action="append", default=[])
    ap.add_argument("--what", choices=("data", "tcp", "ip"), default="tcp")
    ap.add_argument("--max-impair", type=int, default=500)
    ap.add_argument("--duration", type=float, default=300.0)
    a = ap.parse_args()
    a.drop, a.reorder, a.dup = (per_dir(x, n) for x, n in
                                ((a.drop, "drop"), (a.reorder, "reorder"), (a.dup, "dup")))
    zw = {}
    for z in a.zero_window:
        d, skip, n = z.split(":")
        if d not in DIRS:
            sys.exit("lossy_forwarder: --zero-window: unknown direction %r" % d)
        zw[d] = [int(skip), int(n)]
    a.zero_window = zw
    return a


def tcp_info(frame):
    """(ip header length, tcp offset, flags, seq, payload len, sport, dport)
    of an IPv4 TCP frame, or None."""
    if len(frame) < 34 or frame[23] != 6:
        return None
    ihl = (frame[14] & 0x0F) * 4
    t = 14 + ihl
    total = struct.unpack_from("!H", frame, 16)[0]
    if len(frame) < t + 20:
        return None
    doff = (frame[t + 12] >> 4) * 4
    sport, dport, seq = struct.unpack_from("!HHI", frame, t)
    return ihl, t, frame[t + 13], seq, max(0, total - ihl - doff), sport, dport


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def zero_window(frame, info):
    """The frame with its TCP window set to 0 and the checksum recomputed."""
    ihl, t = info[0], info[1]
    total = struct.unpack_from("!H", frame, 16)[0]
    f = bytearray(frame[:14 + total])
    struct.pack_into("!HH", f, t + 14, 0, 0)  # window, then checksum zeroed
    seg = bytes(f[t:14 + total])
    pseudo = bytes(f[26:34]) + struct.pack("!BBH", 0, 6, len(seg))
    struct.pack_into("!H", f, t + 16, checksum(pseudo + seg))
    return bytes(f)


FLAGS = "FSRPAUEC"


def flag_text(b):
    return "".join(FLAGS[i] for i in range(8) if b & (1 << i))


class Forwarder:
    def __init__(self, a):
        self.a = a
        self.sides = (a.a, a.b)
        self.socks = []
        for s in self.sides:
            k = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            k.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
            k.bind((s["if"], ETH_P_ALL))
            k.setblocking(False)
            self.socks.append(k)
        self.rng = {d: random.Random("%d-%s" % (a.seed, d)) for d in DIRS}
        self.count = {d: 0 for d in DIRS}
        self.tcp_count = {d: 0 for d in DIRS}
        self.held = {d: None for d in DIRS}  # (deadline, frame, record)
        self.queue = []  # (release time, order, out side, frame)
        self.order = 0
        self.impaired = 0
        self.totals = {}
        self.log = open(a.log, "w", buffering=1)
        self.t0 = time.monotonic()

    def note(self, rec, act):
        rec = dict(rec, act=act, t=round(time.monotonic() - self.t0, 6))
        self.totals.setdefault(rec["dir"], {}).setdefault(act, 0)
        self.totals[rec["dir"]][act] += 1
        self.log.write(json.dumps(rec, sort_keys=True) + "\n")

    def schedule(self, out, frame, at=None):
        now = time.monotonic()
        if at is None:
            j = self.a.jitter_ms
            at = now + max(0.0, self.a.delay_ms + (self.rng["c2s" if out else "s2c"].uniform(-j, j)
                                                   if j else 0.0)) / 1000
        self.order += 1
        heapq.heappush(self.queue, (at, self.order, out, frame))
        return at

    def chance(self, d, p):
        """One draw per frame and kind, so the sequence stays seeded."""
        hit = self.rng[d].random() < p
        if hit and self.impaired >= self.a.max_impair:
            return False
        self.impaired += hit
        return hit

    def route(self, i, frame):
        """A frame read on side i: forward it to the other side, or not."""
        me, other = self.sides[i], self.sides[1 - i]
        if len(frame) < 34 or frame[:6] != me["mac"] or struct.unpack_from("!H", frame, 12)[0] != ETH_P_IP:
            return
        if frame[30:34] in (me["ip"], other["ip"]):
            return  # the router's own traffic: its kernel's
        d = DIRS[i]
        self.count[d] += 1
        frame = other["peer"] + other["mac"] + frame[12:]
        info = tcp_info(frame)
        rec = {"dir": d, "n": self.count[d]}
        if info:
            rec.update(flags=flag_text(info[2]), seq=info[3], len=info[4],
                       sport=info[5], dport=info[6])
            self.tcp_count[d] += 1
        eligible = {"ip": True, "tcp": info is not None,
                    "data": info is not None and info[4] > 0}[self.a.what]
        zw = self.a.zero_window.get(d)
        if info and zw and not info[2] & 0x07:  # not on SYN, FIN, RST
            if self.tcp_count[d] > zw[0] and zw[1] > 0:
                zw[1] -= 1
                win = struct.unpack_from("!H", frame, info[1] + 14)[0]
                frame = zero_window(frame, info)
                self.note(dict(rec, win=win), "zero-window")  # the window it had
        a = self.a
        # every draw is made for every frame (fixed sequence per direction)
        drop = self.chance(d, a.drop[d]) if a.drop[d] else False
        dup = self.chance(d, a.dup[d]) if a.dup[d] else False
        hold = self.chance(d, a.reorder[d]) if a.reorder[d] else False
        if not eligible:
            drop = dup = hold = False
        if drop:
            self.note(rec, "drop")
            return
        out = 1 - i
        if hold and self.held[d] is None:
            self.held[d] = (time.monotonic() + a.hold_ms / 1000, out, frame, rec)
            self.note(rec, "hold")
            return
        at = self.schedule(out, frame)
        self.note(rec, "forward")
        if dup:
            self.schedule(out, frame, at)
            self.note(rec, "duplicate")
        if self.held[d] is not None:
            self.release(d, at)

    def release(self, d, after=None):
        _, out, frame, rec = self.held[d]
        self.held[d] = None
        self.schedule(out, frame, after)
        self.note(rec, "release")

    def flush(self):
        """Send what is due; the time until the next thing is due."""
        now = time.monotonic()
        for d in DIRS:
            if self.held[d] is not None and self.held[d][0] <= now:
                self.release(d)
        while self.queue and self.queue[0][0] <= now:
            _, _, out, frame = heapq.heappop(self.queue)
            try:
                self.socks[out].send(frame)
            except OSError as e:
                self.log.write(json.dumps({"error": str(e)}) + "\n")
        waits = [q[0] for q in self.queue[:1]] + [h[0] for h in self.held.values() if h]
        return max(0.0, min(waits) - now) if waits else 0.2

    def run(self, stop):
        end = self.t0 + self.a.duration
        if self.a.ready:
            open(self.a.ready, "w").close()
        while not stop[0] and time.monotonic() < end:
            r, _, _ = select.select(self.socks, [], [], min(self.flush(), 0.2))
            for k in r:
                i = self.socks.index(k)
                for _ in range(256):  # a bounded batch per wakeup
                    try:
                        frame, addr = k.recvfrom(65536)
                    except BlockingIOError:
                        break
                    if addr[2] == PACKET_HOST:
                        self.route(i, frame)
            self.flush()
        drops = {}
        for s, k in zip(self.sides, self.socks):
            packets, dropped = struct.unpack("II", k.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
            drops[s["if"]] = dropped
        self.log.write(json.dumps({"summary": self.totals, "frames": self.count,
                                   "socket_drops": drops, "impaired": self.impaired},
                                  sort_keys=True) + "\n")
        self.log.close()


def main():
    a = parse()
    stop = [False]

    def on_signal(*_):
        stop[0] = True
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    Forwarder(a).run(stop)


if __name__ == "__main__":
    main()
