#!/usr/bin/env python3
"""run_bench.py - smtpscope beside its floors and its peer, on one capture.

    python3 bench/run_bench.py [--size MB] [--repeat N] [--workers N] [--no-memory]

Generates (once, then reused) two benchmark captures with bench/gen_capture:
the bulk mix (--size MB, bytes mostly message bodies) and the gateway mix
(--gateway-size MB, short sessions, most of them refused). On each it runs
--repeat rounds, each row once per round in turn, reporting each row's
median:

  1. floor: a bare libpcap read loop (bench/floor_pcap)
  2. design floor: libnids reassembly of the port-25 streams, bytes counted
     (bench/floor_nids, set up as smtpscope sets libnids up)
  3. second floor: the same plus a memchr for every line end of every new
     chunk (bench/floor_lines): the least an SMTP transcript tool must add
  4. smtpscope writing the text log
  5. smtpscope writing JSON Lines
  6. smtpscope --workers N writing the text log (N processes)
  7. tshark -Y smtp -T fields ... (the tool a user would otherwise run)

Then both mixes side by side (smtpscope as a share of floors 2 and 3), and,
with valgrind installed, rows 2-5 by instructions (callgrind) on
--callgrind-size MB of each mix.

Peak RSS comes from wait4() of each run (the largest process for workers).
Then the HTML report of a gateway capture of about 10 000 sessions
(--report-size MB of the gateway mix): smtpscope --html's time and the
report's load time in headless Chromium, from navigation to the page drawn
(the page's own performance.now(), logged to the console), and the whole
headless run beside it. Then staying power (bench/staying.py): the gateway mix streamed into stdin,
1 GB and 5 GB, peak RSS of each; a million unanswered SYNs from random
sources read with a gateway capture: sessions kept, memory, time. Then the
memory benchmark: captures with 10 000, 100 000 and 200 000 sessions open
at once; smtpscope's peak RSS minus libnids' alone, per open session.
Timing is only reported here, never asserted: this is not a test.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import staying

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


def rows_for(cap, a):
    """The rows run on one capture: (name, argv, rounds)."""
    rows = [
        ("1 libpcap read loop (floor)", [os.path.join(BUILD, "floor_pcap"), cap], a.repeat),
        ("2 libnids reassembly (design floor)", [os.path.join(BUILD, "floor_nids"), cap],
         a.repeat),
        ("3 libnids + line scan (floor)", [os.path.join(BUILD, "floor_lines"), cap],
         a.repeat),
        ("4 smtpscope text log", [SMTPSCOPE, "-q", "-r", cap, "-o", "/dev/null"], a.repeat),
        ("5 smtpscope JSON", [SMTPSCOPE, "-q", "-j", "-r", cap, "-o", "/dev/null"], a.repeat),
        (f"6 smtpscope text, --workers {a.workers}",
         [SMTPSCOPE, "-q", "--workers", str(a.workers), "-r", cap, "-o", "/dev/null"],
         a.repeat),
    ]
    tshark = shutil.which("tshark")
    if tshark:
        rows.append(("7 tshark -Y smtp -T fields", [
            tshark, "-r", cap, "-Y", "smtp", "-T", "fields", "-e", "smtp.req.command",
            "-e", "smtp.response.code"], a.tshark_repeat))
    return rows


def time_rows(rows, a):
    """Rows that run every round take turns, one run each per round: a
    virtual machine's speed drifts over minutes, and a row run all at once
    would carry the drift of its minute into its comparison with the
    others. Returns [(name, median seconds, peak RSS KiB)]."""
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
    return results


def bench_mix(label, cap, gen_args, a):
    size_b, packets, sessions = (int(x) for x in generate(cap, gen_args))
    print(f"# {label} capture: {cap}: {size_b / 1e6:.0f} MB, {packets} packets, {sessions}"
          f" sessions, {a.concurrent} open at once, {size_b / packets:.0f} bytes a packet;"
          f" median of {a.repeat} runs", flush=True)
    rows = rows_for(cap, a)
    results = time_rows(rows, a)
    floor2, floor3 = results[1][1], results[2][1]
    peer = results[-1][1] if rows[-1][0].startswith("7 tshark") else None
    print()
    print(f"{label} mix:")
    print()
    print("| row | s | MB/s | packets/s | sessions/s | peak RSS MiB | vs row 2 | vs row 3"
          " | vs tshark |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, dt, rss in results:
        vst = f"{peer / dt:.1f}x" if peer else "-"
        print(f"| {name} | {dt:.3f} | {size_b / 1e6 / dt:.0f} | {packets / dt:,.0f} |"
              f" {sessions / dt:,.0f} | {rss / 1024:.1f} | {floor2 / dt * 100:.0f} % |"
              f" {floor3 / dt * 100:.0f} % | {vst} |")
    print()
    return {name: dt for name, dt, _ in results}


def callgrind(argv):
    """Instructions of one run (valgrind --tool=callgrind's total)."""
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                        *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in r.stderr.splitlines():
        if "Collected :" in line:
            return int(line.split(":")[-1].strip().replace(",", ""))
    sys.exit(f"run_bench: no instruction count from callgrind: {r.stderr[-500:]}")


def instructions(caps, a):
    """Rows 2-5 by instructions on smaller captures of both mixes: the
    measure that does not drift, and the one to compare commits by."""
    print("Instructions (callgrind), both mixes; smtpscope as a share of each floor:")
    print()
    print("| row | " + " | ".join(f"{m} instructions | vs row 2 | vs row 3" for m, _ in caps)
          + " |")
    print("|---|" + "---:|---:|---:|" * len(caps))
    counts = []
    for _, cap in caps:
        rows = [r for r in rows_for(cap, a) if r[0][0] in "2345"]
        counts.append([(name, callgrind(argv)) for name, argv, _ in rows])
    for i, (name, _) in enumerate(counts[0]):
        cells = []
        for c in counts:
            ir, f2, f3 = c[i][1], c[0][1], c[1][1]
            cells.append(f"{ir / 1e6:,.1f} M | {f2 / ir * 100:.1f} % | {f3 / ir * 100:.1f} %")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()


def chromium_load(browser, path):
    """(ms from navigation to the page drawn, as the page logs it; seconds of
    the whole headless run) of one load, in a fresh profile."""
    prof = tempfile.mkdtemp(prefix="bench-chromium-")
    try:
        t0 = time.perf_counter()
        r = subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu",
                            "--no-first-run", "--disable-extensions", "--enable-logging=stderr",
                            "--v=0", f"--user-data-dir={prof}", "--dump-dom",
                            "file://" + os.path.abspath(path)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           timeout=600)
        dt = time.perf_counter() - t0
    finally:
        shutil.rmtree(prof, ignore_errors=True)
    m = re.search(r"smtpscope report: rendered (\d+) sessions in (\d+) ms", r.stderr)
    if not m or "Uncaught" in r.stderr:
        sys.exit(f"run_bench: the report did not render in {browser}: {r.stderr[-500:]}")
    return int(m.group(2)), dt


def report_bench(a):
    """--html on a gateway capture of about 10 000 sessions, and its load."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        print("# chromium not installed: no HTML report load time")
        return
    cap = os.path.join(BUILD, f"bench-report-{a.report_size}MB.pcap")
    _, _, sessions = (int(x) for x in generate(cap, ["-s", str(a.report_size), "-c", "2000",
                                                       "--mix", "gateway"]))
    page = os.path.join(BUILD, f"bench-report-{a.report_size}MB.html")
    write, _ = measure([SMTPSCOPE, "-q", "--html", page, "-r", cap, "-o", "/dev/null"], a.repeat)
    loads = [chromium_load(browser, page) for _ in range(a.repeat)]
    print(f"HTML report (--html) of the gateway mix, median of {a.repeat} loads in headless"
          " Chromium, a fresh profile each:")
    print()
    print("| sessions | report MB | smtpscope --html s | page drawn ms | headless run s |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {sessions:,} | {os.path.getsize(page) / 1e6:.1f} | {write:.3f} |"
          f" {statistics.median(x[0] for x in loads):,.0f} |"
          f" {statistics.median(x[1] for x in loads):.2f} |")
    print()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=int(os.environ.get("BENCH_SIZE", 1024)),
                    help="bulk capture size in MB (default 1024; BENCH_SIZE)")
    ap.add_argument("--gateway-size", type=int,
                    default=int(os.environ.get("BENCH_GATEWAY_SIZE", 100)),
                    help="gateway capture size in MB (default 100; BENCH_GATEWAY_SIZE)")
    ap.add_argument("--callgrind-size", type=int,
                    default=int(os.environ.get("BENCH_CALLGRIND_SIZE", 50)),
                    help="MB of each mix counted by callgrind (0: not counted)")
    ap.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEAT", 3)))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--concurrent", type=int, default=2000)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--report-size", type=int,
                    default=int(os.environ.get("BENCH_REPORT_SIZE", 85)),
                    help="MB of the gateway mix for the HTML report (default 85: about"
                    " 10 000 sessions; BENCH_REPORT_SIZE; 0: not measured)")
    ap.add_argument("--hold-sizes", default="10000,100000,200000",
                    help="open-session counts of the memory benchmark")
    ap.add_argument("--stream-sizes", default=os.environ.get("BENCH_STREAM", "1024,5120"),
                    help="MB of the gateway mix streamed into stdin (peak RSS of each; "
                         "empty: skip)")
    ap.add_argument("--flood", type=int, default=int(os.environ.get("BENCH_FLOOD", 1000000)),
                    help="SYNs of the SYN-flood run (0: skip)")
    ap.add_argument("--tshark-repeat", type=int, default=1,
                    help="tshark is slow: runs of it (default 1)")
    a = ap.parse_args()
    if not shutil.which("tshark"):
        print("# tshark not installed: row 7 left out")

    c = str(a.concurrent)
    mixes = [("bulk", os.path.join(BUILD, f"bench-{a.size}MB-c{c}.pcap"),
              ["-s", str(a.size), "-c", c]),
             ("gateway", os.path.join(BUILD, f"bench-gateway-{a.gateway_size}MB-c{c}.pcap"),
              ["-s", str(a.gateway_size), "-c", c, "--mix", "gateway"])]
    wall = [(label, bench_mix(label, cap, args, a)) for label, cap, args in mixes]

    print("Both mixes side by side: smtpscope as a share of each floor's speed (wall clock):")
    print()
    print("| row | " + " | ".join(f"{m} s | vs row 2 | vs row 3" for m, _ in wall) + " |")
    print("|---|" + "---:|---:|---:|" * len(wall))
    for name in wall[0][1]:
        if name[0] not in "2345":
            continue
        cells = []
        for _, t in wall:
            f2, f3 = t["2 libnids reassembly (design floor)"], t["3 libnids + line scan (floor)"]
            cells.append(f"{t[name]:.3f} | {f2 / t[name] * 100:.0f} % | {f3 / t[name] * 100:.0f} %")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()

    if a.callgrind_size > 0 and shutil.which("valgrind"):
        caps = []
        for label, _, args in mixes:
            cap = os.path.join(BUILD, f"bench-{label}-{a.callgrind_size}MB-c{c}.pcap")
            generate(cap, ["-s", str(a.callgrind_size), *args[2:]])
            caps.append((label, cap))
        instructions(caps, a)
    elif a.callgrind_size > 0:
        print("# valgrind not installed: no instruction counts")

    if a.report_size > 0:
        report_bench(a)

    if a.stream_sizes:
        staying.stream_memory(GEN, SMTPSCOPE, [int(x) for x in a.stream_sizes.split(",")])
    if a.flood:
        staying.syn_flood(GEN, SMTPSCOPE, BUILD, n=a.flood)
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
