#!/usr/bin/env python3
"""merge_test.py BINARY - several -r files are one capture merged by packet
time, as mergecap does: rotated files given in any order or as a glob,
two captures whose times overlap, a file whose clock runs backwards; each
is said once on stderr, and the sessions equal one file's."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from smtpgen import session, write_pcap  # noqa: E402
from tap import check, finish  # noqa: E402

binary = sys.argv[1] if len(sys.argv) > 1 else "./smtpscope"
tmp = tempfile.mkdtemp()


def run(*args):
    p = subprocess.run([binary, "-j", *args], capture_output=True, text=True, timeout=60)
    recs = [json.loads(x) for x in p.stdout.splitlines()]
    return sorted((r["id"], r["duration_ms"], r["verdict"]) for r in recs
                  if r["type"] == "session"), p.stderr


frames = []
for i in range(6):  # sessions of 0.5 s each, starting 0.3 s apart: they overlap
    frames += session(1790000000.0 + i * 0.3, "203.0.113.%d" % (10 + i), "192.0.2.30",
                      42000 + i, b"550 5.1.1 no such user" if i % 2 else b"250 ok",
                      step=0.03)
frames.sort(key=lambda f: f[0])
whole = os.path.join(tmp, "whole.pcap")
write_pcap(whole, frames, 101)
want, _ = run("-r", whole)
check(len(want) == 6 and all(d > 0 for _, d, _ in want), "one file: 6 sessions with durations")

# rotated by packet count into day-1, day-2, day-3: given backwards, and as a glob
parts = [os.path.join(tmp, "day-%d.pcap" % (k + 1)) for k in range(3)]
n = len(frames) // 3 + 1
for k, path in enumerate(parts):
    write_pcap(path, frames[k * n:(k + 1) * n], 101)
got, err = run("-r", parts[2], "-r", parts[1], "-r", parts[0])
check(got == want, "rotated files given backwards: the same sessions, durations kept")
check(err.count("merged by packet time") == 1, "out of time order: said once on stderr")
got, err = run("-r", os.path.join(tmp, "day-*.pcap"))
check(got == want and "merged" not in err, "-r 'day-*.pcap': the glob, in order, said nothing")
_, err = run("-r", os.path.join(tmp, "nothing-*.pcap"))
check("nothing-*.pcap: no file matches" in err, "a glob matching nothing says so")

# two capture points: odd and even sessions in two files whose times overlap
def client_port(f):
    return max(int.from_bytes(f[1][20:22], "big"), int.from_bytes(f[1][22:24], "big"))


odd = [f for f in frames if client_port(f) % 2]
even = [f for f in frames if f not in odd]
a, b = os.path.join(tmp, "a.pcap"), os.path.join(tmp, "b.pcap")
write_pcap(a, odd, 101)
write_pcap(b, even, 101)
got, err = run("-r", a, "-r", b)
check(got == want, "two overlapping captures: merged into the same sessions")
check(err.count("overlap in time") == 1, "overlap: said once")

# a clock that runs backwards in one file: merged as it comes, said once
back = list(frames)
back[5], back[6] = back[6], back[5]
bk = os.path.join(tmp, "back.pcap")
write_pcap(bk, back[:len(back) // 2], 101)
write_pcap(b, back[len(back) // 2:], 101)
_, err = run("-r", bk, "-r", b)
check(err.count("clock runs backwards") == 1, "a backwards clock is said once")
html = os.path.join(tmp, "r.html")
subprocess.run([binary, "-q", "--html", html, "-r", parts[0], "-r", parts[1]],
               stdout=subprocess.DEVNULL, timeout=60)
page = open(html, encoding="utf-8").read()
check(parts[0] in page and parts[1] in page, "the HTML report's header names every input")
finish()
