"""synflood_test.py - a full connection table loses no session being followed.

Small tables (--max-streams) make the cases cheap:
1. a SYN flood (thousands of unanswered SYNs from random sources) among a
   few real deliveries: every delivery is reported whole, every flood SYN
   is still a session (evicted ones INCOMPLETE, never FAILED: a full table
   is not the network's doing), and the evictions are said on stderr;
2. a busy gateway's closed sessions: their tombstones must not fill the
   table and turn later connections away (each closes, the next opens);
3. a flood behind more than a thousand open sessions at the table's old
   end: a new SYN still finds the oldest unanswered attempt to push out
   (it used to look at the 1,024 oldest entries only, and turned it away).

    python3 test/synflood_test.py ./smtpscope
"""
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from smtpgen import session, tcp4, write_pcap  # noqa: E402
from tap import check, finish  # noqa: E402

BIN = sys.argv[1] if len(sys.argv) > 1 else "./smtpscope"
T0 = 1790000000.0


def run(frames, *args):
    d = tempfile.mkdtemp()
    path = os.path.join(d, "c.pcap")
    frames.sort(key=lambda f: f[0])
    write_pcap(path, frames, 101)
    p = subprocess.run([BIN, "-j", *args, "-r", path], capture_output=True, text=True,
                       timeout=300)
    recs = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
    return p, [r for r in recs if r["type"] == "session"]


# 1. 20 deliveries, 5000 SYNs from random sources in the same 2 s
rnd = random.Random(7)
frames = []
for i in range(20):
    frames += session(T0 + i * 0.1, "203.0.113.%d" % (10 + i), "192.0.2.25", 41000 + i)
for k in range(5000):
    src = bytes([198, 51, 100, rnd.randrange(1, 255)])
    frames.append((T0 + 2.0 * k / 5000, tcp4(src, bytes([192, 0, 2, 25]),
                                              rnd.randrange(1024, 65535), 25,
                                              rnd.getrandbits(32), 0, 0x02)))
p, recs = run(frames, "--max-streams", "64")
real = [r for r in recs if r["client"]["ip"].startswith("203.0.113.")]
check(p.returncode == 0 and len(real) == 20 and all(r["verdict"] == "ok" for r in real),
      "flood: the 20 deliveries are all there, OK (%d, %s)" %
      (len(real), sorted({r["verdict"] for r in real})))
flood = [r for r in recs if r["client"]["ip"].startswith("198.51.100.")]
check(len(flood) == 5000, "flood: every flood SYN is still a session (%d of 5000)" % len(flood))
evicted = [r for r in flood if r["tcp_end"] == "evicted"]
check(evicted and all(r["verdict"] == "incomplete" for r in evicted),
      "flood: the attempts pushed out are INCOMPLETE, not blamed on the network (%d)" %
      len(evicted))
check("evicted from a full connection table" in p.stderr and "not tracked" not in p.stderr,
      "flood: the evictions are said, and no connection went untracked")

# 2. 300 sessions one after another within 10 s of capture time, 16 streams
frames = []
for i in range(300):
    frames += session(T0 + i * 0.03, "203.0.113.%d" % (1 + i % 200), "192.0.2.25", 30000 + i,
                      step=0.001)
p, recs = run(frames, "--max-streams", "16")
ok = [r for r in recs if r["verdict"] == "ok"]
check(p.returncode == 0 and len(recs) == 300 and len(ok) == 300,
      "tombstones: 300 closed sessions in a row through a 64-entry table, all OK (%d, %d)" %
      (len(recs), len(ok)))
check("not tracked" not in p.stderr, "tombstones: no connection turned away")

# 3. 1100 sessions opened (handshake and banner, then quiet), then 5400 SYNs:
# --max-streams 1500 is 1125 libnids streams and 6000 connections
frames = []
for i in range(1100):
    frames += session(T0 + i * 0.0005, "203.0.113.%d" % (1 + i % 250), "192.0.2.25",
                      20000 + i, step=0.0001)[:4]
for k in range(5400):
    frames.append((T0 + 2.0 + k * 0.0001, tcp4(bytes([198, 51, 100, 1 + k % 250]),
                                                bytes([192, 0, 2, 25]), 30000 + k, 25,
                                               rnd.getrandbits(32), 0, 0x02)))
p, recs = run(frames, "--max-streams", "1500")
open_ = [r for r in recs if r["client"]["ip"].startswith("203.0.113.")]
flood = [r for r in recs if r["client"]["ip"].startswith("198.51.100.")]
evicted = [r for r in flood if r["tcp_end"] == "evicted"]
check(len(open_) == 1100 and all(r["tcp_end"] != "evicted" for r in open_),
      "behind open sessions: all 1100 reported, none evicted (%d)" % len(open_))
check(len(flood) == 5400 and len(evicted) == 500,
      "behind open sessions: 5400 flood SYNs reported, the 500 beyond the table evicted "
      "(%d, %d)" % (len(flood), len(evicted)))
check("not tracked" not in p.stderr, "behind open sessions: no SYN turned away (%s)" %
      p.stderr.strip()[-200:])
finish()
