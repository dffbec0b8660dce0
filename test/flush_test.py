#!/usr/bin/env python3
"""flush_test.py BINARY - live (-l) output arrives: a capture fed slowly
through a pipe (-r -), each session's record reaches stdout, a pipe or
-o FILE, while the input is still open; without -l a file read stays
fully buffered (nothing before the end of the input)."""
import os
import select
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from smtpgen import session  # noqa: E402
from tap import check, finish  # noqa: E402
import struct  # noqa: E402

binary = sys.argv[1] if len(sys.argv) > 1 else "./smtpscope"
tmp = tempfile.mkdtemp()


def pcap_bytes(frames, header=True):
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 101) if header else b""
    for t, p in frames:
        out += struct.pack("<IIII", int(t), int(round((t % 1) * 1e6)) % 1000000,
                           len(p), len(p)) + p
    return out


first = session(1790000000.0, "203.0.113.9", "192.0.2.30", 40001)
second = session(1790000005.0, "203.0.113.10", "192.0.2.30", 40002, b"550 5.1.1 no such user")


def early_output(args, outfile=None, wait=5.0):
    """Feeds the first session, waits up to `wait` s for output (stdout, or
    outfile growing), then the second; returns (seen early, all output)."""
    p = subprocess.Popen([binary, "-q", *args, "-r", "-"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    p.stdin.write(pcap_bytes(first))
    p.stdin.flush()
    early = b""
    deadline = time.time() + wait
    while time.time() < deadline and b"\n" not in early:
        if outfile:
            time.sleep(0.1)
            if os.path.exists(outfile):
                with open(outfile, "rb") as f:
                    early = f.read()
        else:
            r, _, _ = select.select([p.stdout], [], [], 0.2)
            if r:
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk:
                    break
                early += chunk
    p.stdin.write(pcap_bytes(second, header=False))
    p.stdin.close()
    rest = p.stdout.read()
    p.wait(timeout=20)
    if outfile:
        with open(outfile, "rb") as f:
            rest = f.read()
    else:
        rest = early + rest
    return early, rest


early, whole = early_output(["-l"])
check(b"40001" in early and b"*** " in early and b"40002" not in early,
      "-l text: the first session is on the pipe before the input ends")
check(whole.count(b"*** ") == 2, "-l text: both sessions in the end")
early, whole = early_output(["-l", "-j"])
check(b'"type":"session"' in early and b"40002" not in early,
      "-l -j: the first JSON record is on the pipe before the input ends")
out = os.path.join(tmp, "log.txt")
early, whole = early_output(["-l", "-o", out], outfile=out)
check(b"*** " in early and b"40002" not in early,
      "-l -o FILE: the file holds the first session before the input ends")
early, whole = early_output([], wait=1.5)
check(early == b"" and whole.count(b"*** ") == 2,
      "without -l a file read is fully buffered: nothing before the end")
finish()
