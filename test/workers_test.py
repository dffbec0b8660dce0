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

r = subprocess.run([binary, "--workers", "2", "--summary", "-r", caps[0]],
                   capture_output=True, text=True)
check(r.returncode == 1 and "--workers cannot be combined with --summary" in r.stderr,
      "--workers with --summary is refused with a message")
os.unlink(big)
os.rmdir(tmp)
print(f"# workers: {tap.failed} failed")
tap.finish()
