#!/usr/bin/env python3
"""workers_test.py - --workers N gives the same sessions as one process.

    python3 test/workers_test.py SMTPSCOPE GEN_CAPTURE

For every bundled capture, and for a generated capture of a few hundred
interleaved sessions that runs across midnight, the text log and the JSON
of --workers 2 and 3 must hold exactly the records of a single-process run:
JSON lines compared as a multiset; text lines compared as a multiset of
(date, line) pairs, the date read back from the merged log's "# date:"
lines, so a merged log whose dates are wrong fails. Files merge in session
end-time order, so two runs of the same command give identical bytes.
"""
import glob
import os
import subprocess
import sys
import tempfile
from collections import Counter

binary, gen = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from tap import check  # noqa: E402


def run(args):
    r = subprocess.run([binary, "-q", *args], capture_output=True)
    if r.returncode != 0:
        check(False, f"{' '.join(args)}: exit {r.returncode}: {r.stderr[:300]!r}")
    return r.stdout.decode("utf-8", "replace")




tmp = tempfile.mkdtemp()
big = os.path.join(tmp, "midnight.pcap")
# 2026-11-24 23:59:59 UTC: the sessions run into the next day
r = subprocess.run([gen, "-o", big, "-s", "8", "-c", "30", "--start", "1795564799.95"],
                   capture_output=True, text=True)
check(r.returncode == 0, f"generator wrote a capture across midnight ({r.stderr.strip()})")

caps = sorted(glob.glob("captures/*.pcap") + glob.glob("captures/*.pcapng")) + [big]
for cap in caps:
    name = os.path.basename(cap)
    one_t, one_j = run(["-r", cap]), run(["-j", "-r", cap])
    for n in (2, 3):
        t = run(["--workers", str(n), "-r", cap])
        j = run(["--workers", str(n), "-j", "-r", cap])
        same_t = tap.dated_lines(t) == tap.dated_lines(one_t)
        same_j = Counter(j.splitlines()) == Counter(one_j.splitlines())
        check(same_t and same_j,
              f"{name}: --workers {n} text and JSON hold the single run's records")
    if cap == big:
        days = {l for l in one_t.splitlines() if l.startswith("# date: ")}
        check(len(days) == 2, f"{name}: the capture spans two days ({len(days)})")
        again = run(["--workers", "2", "-r", cap])
        check(again == run(["--workers", "2", "-r", cap]),
              f"{name}: two --workers runs give identical bytes")

# Two captures whose times overlap, given out of time order: the reader
# merges them by time, and a worker's clock must read what one process's
# does (its frames come later than the clock; sweeps at the same moments).
late, early = os.path.join(tmp, "late.pcap"), os.path.join(tmp, "early.pcap")
for path, seed, start in ((late, "7", "1795564800.6"), (early, "8", "1795564800.0")):
    r = subprocess.run([gen, "-o", path, "-s", "4", "-c", "40",
                        "--seed", seed, "--start", start], capture_output=True, text=True)
    check(r.returncode == 0, f"generator wrote {os.path.basename(path)} ({r.stderr.strip()})")
one_j = run(["-j", "-r", late, "-r", early])
for n in (2, 3):
    j = run(["--workers", str(n), "-j", "-r", late, "-r", early])
    check(Counter(j.splitlines()) == Counter(one_j.splitlines()) and len(one_j) > 0,
          f"overlapping captures out of order: --workers {n} holds the single run's records")

# A session idle past --idle-timeout while other shards' packets keep the
# clock going: one process ends it by the timeout when the clock passes
# (its later segments start a session of their own); a worker must too,
# although none of those packets reached it (the reader's ticks).
import socket  # noqa: E402
import struct  # noqa: E402
import pcapw  # noqa: E402
cli, srv = socket.inet_aton("192.0.2.10"), socket.inet_aton("198.51.100.25")
frames, cs, ss = [], 1000, 5000
def seg(t, frm_client, flags, data=b""):
    global cs, ss
    if frm_client:
        frames.append((t, pcapw.tcp4(cli, srv, 40000, 25, cs, ss, flags, data)))
        cs += len(data) + (1 if flags & 0x03 else 0)
    else:
        frames.append((t, pcapw.tcp4(srv, cli, 25, 40000, ss, cs, flags, data)))
        ss += len(data) + (1 if flags & 0x03 else 0)
T = 1795564800.0
seg(T, True, 0x02); seg(T + 0.01, False, 0x12); seg(T + 0.02, True, 0x10)
seg(T + 0.05, False, 0x18, b"220 mx.example.net ESMTP\r\n")
seg(T + 0.06, True, 0x18, b"EHLO client.example.com\r\n")
seg(T + 0.07, False, 0x18, b"250 mx.example.net\r\n")
def shard(a, b, n):  # shard_hash (src/endpoint.c)
    x = struct.unpack("!I", a)[0] ^ struct.unpack("!I", b)[0]
    return (((x * 2654435761) & 0xFFFFFFFF) >> 16) % n
others = [socket.inet_aton(f"203.0.113.{i}") for i in range(1, 255)]
other = next(a for a in others if all(shard(a, srv, n) != shard(cli, srv, n) for n in (2, 3)))
for i in range(40):  # 4 s of another host pair's datagrams, in no shard of the session's
    frames.append((T + 0.1 + i * 0.1, pcapw.udp4(other, srv, 5000, 9, b"x")))
seg(T + 4.2, True, 0x18, b"MAIL FROM:<a@example.com>\r\n")
seg(T + 4.21, False, 0x18, b"250 ok\r\n")
seg(T + 4.3, True, 0x18, b"QUIT\r\n")
seg(T + 4.31, False, 0x18, b"221 bye\r\n")
idle = os.path.join(tmp, "idle.pcap")
pcapw.write_pcap(idle, frames, 101)
one_j = run(["-j", "--idle-timeout", "2", "-r", idle])
for n in (2, 3):
    j = run(["--workers", str(n), "-j", "--idle-timeout", "2", "-r", idle])
    check(Counter(j.splitlines()) == Counter(one_j.splitlines()) and one_j.count('"type":"session"') == 2,
          f"a session idle past the timeout: --workers {n} ends it where one process does "
          f"({one_j.count(chr(34) + 'type' + chr(34) + ':' + chr(34) + 'session')} sessions)")
os.unlink(idle)

# SIGTERM goes to the reader: it stops reading, the workers end the
# sessions they have, the merged log is written and the run exits 0.
p = subprocess.Popen([binary, "-q", "--realtime", "--workers", "2", "-r", big],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
import time  # noqa: E402
time.sleep(1.0)
p.terminate()
try:
    out, err = p.communicate(timeout=20)
    check(p.returncode == 0 and b"Connected" in out,
          f"--workers 2 on a file stops on SIGTERM with its sessions written "
          f"(exit {p.returncode}, {len(out)} bytes, {err[:200]!r})")
except subprocess.TimeoutExpired:
    p.kill()
    p.communicate()
    check(False, "--workers 2 on a file stops on SIGTERM within 20 s")
for f in (late, early):
    os.unlink(f)

r = subprocess.run([binary, "--workers", "2", "--summary", "-r", caps[0]],
                   capture_output=True, text=True)
check(r.returncode == 1 and "--workers cannot be combined with --summary" in r.stderr,
      "--workers with --summary is refused with a message")
os.unlink(big)
os.rmdir(tmp)
print(f"# workers: {tap.failed} failed")
tap.finish()
