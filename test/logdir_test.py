#!/usr/bin/env python3
"""logdir_test.py - --log-dir writes a file a day and SIGHUP rotates cleanly.

    python3 test/logdir_test.py SMTPSCOPE GEN_CAPTURE

1. A generated capture that runs across midnight: two days of files (text
   and JSON); together they hold exactly the sessions of a plain run, each
   in the file of the day it started.
2. logrotate's way: the capture is fed through a pipe; after the first
   half, the day's files are renamed and SIGHUP sent while sessions are
   still open; the rest follows. Old plus new files hold every session of
   a plain run exactly once, and the new files were created after the
   signal.
"""
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter

binary, gen = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from tap import check  # noqa: E402


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()




tmp = tempfile.mkdtemp()
midnight = os.path.join(tmp, "midnight.pcap")
subprocess.run([gen, "-o", midnight, "-s", "6", "-c", "20", "--start", "1795564799.95"],
               check=True, capture_output=True)

# 1. a file a day
logs = os.path.join(tmp, "logs")
os.mkdir(logs)
r = subprocess.run([binary, "-q", "--log-dir", logs, "-r", midnight], capture_output=True)
check(r.returncode == 0, f"--log-dir run exits 0 ({r.stderr[:200]!r})")
names = sorted(os.listdir(logs))
want = ["smtp-20261124.jsonl", "smtp-20261124.log", "smtp-20261125.jsonl", "smtp-20261125.log"]
check(names == want, f"one text and one JSON file per day: {names}")
plain_t = subprocess.run([binary, "-q", "-r", midnight], capture_output=True, text=True).stdout
plain_j = subprocess.run([binary, "-q", "-j", "-r", midnight], capture_output=True,
                         text=True).stdout
got_t = Counter()
got_j = Counter()
for n in names:
    if n.endswith(".log"):
        got_t += tap.dated_lines(read(os.path.join(logs, n)))
    else:
        got_j += Counter(read(os.path.join(logs, n)).splitlines())
check(got_t == tap.dated_lines(plain_t), "the daily text logs hold the plain run's lines")
check(got_j == Counter(plain_j.splitlines()), "the daily JSON files hold the plain run's records")
ok = True
for n in names:
    if n.endswith(".jsonl"):
        day = n[5:13]
        for line in read(os.path.join(logs, n)).splitlines():
            start = json.loads(line)["start"]
            ok &= start[:10].replace("-", "") == day
check(ok, "every session is in the file of the day it started")
mode = os.stat(os.path.join(logs, names[0])).st_mode & 0o777
check(mode & 0o007 == 0, f"log files are not world-readable ({oct(mode)})")

# 2. rotation by SIGHUP in the middle
noon = os.path.join(tmp, "noon.pcap")
subprocess.run([gen, "-o", noon, "-s", "6", "-c", "150", "--start", "1795521600"],
               check=True, capture_output=True)
data = open(noon, "rb").read()
# cut at a packet boundary about half-way
off, half = 24, len(data) // 2
while off < half:
    caplen = struct.unpack("<I", data[off + 8:off + 12])[0]
    off += 16 + caplen
rot = os.path.join(tmp, "rot")
os.mkdir(rot)
p = subprocess.Popen([binary, "-q", "--log-dir", rot, "-r", "-"], stdin=subprocess.PIPE,
                     stderr=subprocess.PIPE)
p.stdin.write(data[:off])
p.stdin.flush()
log = os.path.join(rot, "smtp-20261124.log")
deadline = time.time() + 20
while time.time() < deadline and not (os.path.exists(log) and "***" in read(log)):
    time.sleep(0.1)
check(os.path.exists(log) and "***" in read(log), "sessions written before the rotation")
for ext in ("log", "jsonl"):
    os.rename(os.path.join(rot, f"smtp-20261124.{ext}"), os.path.join(rot, f"old.{ext}"))
p.send_signal(signal.SIGHUP)
time.sleep(0.5)
p.stdin.write(data[off:])
p.stdin.close()
rc = p.wait(timeout=60)
check(rc == 0, f"the run survives SIGHUP and exits 0 ({p.stderr.read()[:200]!r})")
plain_t = subprocess.run([binary, "-q", "-r", noon], capture_output=True, text=True).stdout
plain_j = subprocess.run([binary, "-q", "-j", "-r", noon], capture_output=True, text=True).stdout
new_t = read(log) if os.path.exists(log) else ""
old_j = read(os.path.join(rot, "old.jsonl")).splitlines()
new_j = read(os.path.join(rot, "smtp-20261124.jsonl")).splitlines() \
    if os.path.exists(os.path.join(rot, "smtp-20261124.jsonl")) else []
check(new_t.count("***") > 0 and len(old_j) > 0,
      f"sessions on both sides of the rotation ({len(old_j)} before, {len(new_j)} after)")
both = tap.dated_lines(read(os.path.join(rot, "old.log"))) + tap.dated_lines(new_t)
check(both == tap.dated_lines(plain_t), "old + new text logs: every line once")
check(Counter(old_j + new_j) == Counter(plain_j.splitlines()),
      "old + new JSON: every session once, none lost, none twice")
check(new_t.startswith("# date: "), "the new file starts with its date line")

r = subprocess.run([binary, "--log-dir", os.path.join(tmp, "missing"), "-r", noon],
                   capture_output=True, text=True)
check(r.returncode == 2 and "--log-dir" in r.stderr and "missing" in r.stderr,
      "a missing log directory is named in the error, exit 2")
subprocess.run(["rm", "-rf", tmp])
tap.finish()
