#!/usr/bin/env python3
"""run_bench.py - smtpscope beside its floors and its peer, on one capture.

    python3 bench/run_bench.py [--size MB] [--repeat N] [--workers N] [--no-memory]

Generates (once, then reused) a benchmark capture of about --size MB with
bench/gen_capture, then runs on the same file --repeat rounds, each row once
per round in turn, reporting each row's median:

  1. floor: a bare libpcap read loop (bench/floor_pcap)
  2. design floor: libnids reassembly of the port-25 streams, bytes counted
     (bench/floor_nids, set up as smtpscope sets libnids up)
  3. smtpscope writing the text log
  4. smtpscope writing JSON Lines
  5. smtpscope --workers N writing the text log (N processes)
  6. tshark -Y smtp -T fields ... (the tool a user would otherwise run)

Peak RSS comes from wait4() of each run (the largest process for workers).
Then the memory benchmark: captures with 10 000 and 100 000 sessions open
at once; smtpscope's peak RSS minus libnids' alone, per open session.
Timing is only reported here, never asserted: this is not a test.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build", "bench")
GEN = os.path.join(BUILD, "gen_capture")
SMTPSCOPE = os.path.join(ROOT, "smtpscope")


def run_once(argv, stdout=subprocess.DEVNULL):
    """Returns (seconds, peak RSS in KiB, exit status, stdout text)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    out = p.stdout.read().decode() if p.stdout else ""
    err = p.stderr.read().decode()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"run_bench: {' '.join(argv)} failed ({p.returncode}): {err[:500]}")
    return dt, ru.ru_maxrss, out


def measure(argv, repeat):
    times, rss = [], 0
    for _ in range(repeat):
        dt, kib, _ = run_once(argv)
        times.append(dt)
        rss = max(rss, kib)
    return statistics.median(times), rss


def generate(path, args):
    if os.path.exists(path) and os.path.exists(path + ".meta"):
        return open(path + ".meta").read().split()
    print(f"# generating {path} ({' '.join(args)})", flush=True)
    r = subprocess.run([GEN, "-o", path, *args], stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"run_bench: generator failed: {r.stderr}")
    # "gen_capture: FILE: B bytes, P packets, S sessions"
    words = r.stderr.replace(",", "").split()
    meta = [words[2], words[4], words[6]]
    with open(path + ".meta", "w") as f:
        f.write(" ".join(meta) + "\n")
    return meta


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=int(os.environ.get("BENCH_SIZE", 1024)),
                    help="capture size in MB (default 1024; BENCH_SIZE)")
    ap.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEAT", 3)))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--concurrent", type=int, default=2000)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--hold-sizes", default="10000,100000",
                    help="open-session counts of the memory benchmark")
    ap.add_argument("--tshark-repeat", type=int, default=1,
                    help="tshark is slow: runs of it (default 1)")
    a = ap.parse_args()

    cap = os.path.join(BUILD, f"bench-{a.size}MB-c{a.concurrent}.pcap")
    size_b, packets, sessions = (int(x) for x in generate(
        cap, ["-s", str(a.size), "-c", str(a.concurrent)]))
    print(f"# capture: {cap}: {size_b / 1e6:.0f} MB, {packets} packets, {sessions} sessions,"
          f" {a.concurrent} open at once; median of {a.repeat} runs", flush=True)

    rows = [
        ("1 libpcap read loop (floor)", [os.path.join(BUILD, "floor_pcap"), cap], a.repeat),
        ("2 libnids reassembly (design floor)", [os.path.join(BUILD, "floor_nids"), cap],
         a.repeat),
        ("3 smtpscope text log", [SMTPSCOPE, "-q", "-r", cap, "-o", "/dev/null"], a.repeat),
        ("4 smtpscope JSON", [SMTPSCOPE, "-q", "-j", "-r", cap, "-o", "/dev/null"], a.repeat),
        (f"5 smtpscope text, --workers {a.workers}",
         [SMTPSCOPE, "-q", "--workers", str(a.workers), "-r", cap, "-o", "/dev/null"],
         a.repeat),
    ]
    tshark = shutil.which("tshark")
    if tshark:
        rows.append(("6 tshark -Y smtp -T fields", [
            tshark, "-r", cap, "-Y", "smtp", "-T", "fields", "-e", "smtp.req.command",
            "-e", "smtp.response.code"], a.tshark_repeat))
    else:
        print("# tshark not installed: row 6 left out")

    # Rows 1-5 take turns, one run each per round: a virtual machine's speed
    # drifts over minutes, and a row run all at once would carry the drift
    # of its minute into its comparison with the others.
    times = {name: [] for name, _, _ in rows}
    peak = {name: 0 for name, _, _ in rows}
    for _ in range(a.repeat):
        for name, argv, rep in rows:
            if rep != a.repeat:
                continue
            dt, kib, _ = run_once(argv)
            times[name].append(dt)
            peak[name] = max(peak[name], kib)
    results = []
    for name, argv, rep in rows:
        if rep != a.repeat:
            dt, rss = measure(argv, rep)
        else:
            dt, rss = statistics.median(times[name]), peak[name]
        results.append((name, dt, rss))
        print(f"#   {name}: {dt:.3f} s", flush=True)

    floor = results[1][1]
    peer = results[-1][1] if tshark else None
    print()
    print("| row | s | MB/s | packets/s | sessions/s | peak RSS MiB | vs row 2 | vs tshark |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, dt, rss in results:
        vs2 = floor / dt * 100
        vst = f"{peer / dt:.1f}x" if peer else "-"
        print(f"| {name} | {dt:.3f} | {size_b / 1e6 / dt:.0f} | {packets / dt:,.0f} |"
              f" {sessions / dt:,.0f} | {rss / 1024:.1f} | {vs2:.0f} % | {vst} |")

    if a.no_memory:
        return
    print()
    print("| open sessions | libnids alone MiB | smtpscope MiB | smtpscope beyond libnids,"
          " per open session |")
    print("|---:|---:|---:|---:|")
    for n in (int(x) for x in a.hold_sizes.split(",")):
        mcap = os.path.join(BUILD, f"bench-hold-{n}.pcap")
        generate(mcap, ["--hold", str(n)])
        streams = str(max(65536, n * 2))
        _, base = measure([os.path.join(BUILD, "floor_nids"), mcap, streams], 1)
        _, rss = measure([SMTPSCOPE, "-q", "--max-streams", streams, "-r", mcap,
                          "-o", "/dev/null"], 1)
        per = (rss - base) * 1024 / n
        print(f"| {n:,} | {base / 1024:.1f} | {rss / 1024:.1f} | {per:,.0f} bytes |")


if __name__ == "__main__":
    main()
