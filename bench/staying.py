"""staying.py - smtpscope's staying power, for run_bench.py (issue 19).

stream_memory: the gateway mix generated straight into smtpscope's stdin
(gen_capture -o /dev/stdout | smtpscope -r -), 1 GB and then 5 GB: peak RSS
must not grow with the length of the stream (the two within 5 %).

syn_flood: a million SYNs from random sources to port 25 (never answered),
spread over the time of a gateway capture and read with it (two -r files,
merged by packet time): the gateway's sessions must all still be there,
the connection table bounded (evictions said on stderr), memory bounded,
and the run within 2x of the gateway capture alone.

Both print a Markdown table; nothing is asserted (a benchmark, not a test).
"""
import os
import random
import re
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "lib"))
from pcapw import tcp4  # noqa: E402


def piped(gen_argv, argv):
    """gen | argv: (seconds, smtpscope's peak RSS in KiB, exit status)."""
    t0 = time.perf_counter()
    g = subprocess.Popen(gen_argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    p = subprocess.Popen(argv, stdin=g.stdout, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    g.stdout.close()
    _, status, ru = os.wait4(p.pid, 0)
    g.wait()
    return time.perf_counter() - t0, ru.ru_maxrss, os.waitstatus_to_exitcode(status)


def stream_memory(gen, smtpscope, sizes_mb=(1024, 5120)):
    print("Endless stream: the gateway mix generated into stdin "
          "(`gen_capture -o /dev/stdout --mix gateway -s MB | smtpscope -q -r -`):")
    print()
    print("| stream | seconds | MB/s | peak RSS MiB | vs the first |")
    print("|---:|---:|---:|---:|---:|")
    first = None
    for mb in sizes_mb:
        dt, rss, rc = piped([gen, "-o", "/dev/stdout", "-s", str(mb), "--mix", "gateway"],
                            [smtpscope, "-q", "-r", "-", "-o", "/dev/null"])
        first = first or rss
        note = "" if rc == 0 else f" (exit {rc})"
        print(f"| {mb:,} MB | {dt:.1f} | {mb / dt:.0f} | {rss / 1024:.1f}{note} | "
              f"{(rss - first) / first * 100:+.1f} % |")
    print()


def write_flood(path, n, t0, span, seed=25):
    """n SYNs to 192.0.2.25:25 from random 198.51.100.0/24 and 203.0.113.0/24
    addresses and ports, evenly over `span` seconds from t0 (raw IPv4)."""
    rnd = random.Random(seed)
    dst = bytes([192, 0, 2, 25])
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 101))
        for i in range(n):
            src = bytes([rnd.choice((198, 203)), 51 if rnd.random() < 0.5 else 0, 100,
                         rnd.randrange(1, 255)])
            p = tcp4(src, dst, rnd.randrange(1024, 65535), 25, rnd.getrandbits(32), 0, 0x02)
            t = t0 + span * i / n
            f.write(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(p), len(p)) + p)


def capture_span(smtpscope, cap):
    """The sessions' start times of a capture, from its JSON records."""
    out = subprocess.run([smtpscope, "-q", "-j", "-r", cap], capture_output=True,
                         text=True).stdout
    return re.findall(r'"type":"session","id":"[0-9a-f]+".*?"start":"([^"]+)"', out)


def epoch(iso):
    return time.mktime(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone


def run_json(smtpscope, argv, tmp):
    """smtpscope -j ARGV (not -q: its warnings are read): (seconds, peak RSS KiB,
    stdout text, stderr text)."""
    out, err = os.path.join(tmp, "out.jsonl"), os.path.join(tmp, "err.txt")
    with open(out, "w") as fo, open(err, "w") as fe:
        t0 = time.perf_counter()
        p = subprocess.Popen([smtpscope, "-j", *argv], stdout=fo, stderr=fe)
        _, _, ru = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t0
    return dt, ru.ru_maxrss, open(out).read(), open(err).read()


def syn_flood(gen, smtpscope, build, n=1_000_000, gateway_mb=None):
    gateway_mb = gateway_mb or max(2, min(100, n // 10000))
    gw = os.path.join(build, f"bench-gateway-{gateway_mb}MB-flood.pcap")
    if not os.path.exists(gw):
        subprocess.run([gen, "-o", gw, "-s", str(gateway_mb), "--mix", "gateway"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    starts = capture_span(smtpscope, gw)
    t0, t1 = epoch(min(starts)), epoch(max(starts))
    flood = os.path.join(build, f"bench-synflood-{n}.pcap")
    if not os.path.exists(flood):
        write_flood(flood, n, t0, max(1.0, t1 - t0))
    print(f"SYN flood: {n:,} SYNs from random sources, never answered, spread over a "
          f"{gateway_mb} MB gateway capture and read with it (two -r, merged by time):")
    print()
    print("| input | seconds | peak RSS MiB | sessions with a dialogue | all sessions |"
          " evictions said |")
    print("|---|---:|---:|---:|---:|---|")
    rows = []
    for label, argv in (("gateway alone", ["-r", gw]),
                        ("gateway + flood", ["-r", gw, "-r", flood])):
        dt, rss, text, err = run_json(smtpscope, argv, build)
        talked = len(re.findall(r'"commands":[1-9]', text))
        total = text.count('"type":"session"')
        said = "yes" if re.search(r"evicted|not tracked", err) else "no"
        rows.append((dt, talked))
        print(f"| {label} | {dt:.1f} | {rss / 1024:.1f} | {talked:,} | {total:,} | {said} |")
    print()
    print(f"The flood costs {rows[1][0] / rows[0][0]:.2f}x the gateway alone's time; "
          f"{rows[0][1] - rows[1][1]:,} sessions with a dialogue lost to it.")
    print()
