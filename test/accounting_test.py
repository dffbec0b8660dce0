#!/usr/bin/env python3
"""accounting_test.py [SMTPSCOPE] - nothing silently missing: for every
bundled capture, the number of TCP conversations on an SMTP port that
tshark reports (-z conv,tcp) equals the number of sessions smtpscope
writes; and --stats accounts for the connections it saw."""
import glob
import json
import os
import re
import shutil
import subprocess
import sys

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
binary = sys.argv[1] if len(sys.argv) > 1 else "./smtpscope"
PORTS = {"25", "465", "587", "2525"}
if not shutil.which("tshark"):
    print("not ok - tshark missing (apt-get install tshark)")
    sys.exit(1)
failed = 0
caps = sorted(glob.glob("captures/*.pcap"))
if not caps:
    print("not ok - no captures")
    sys.exit(1)
for cap in caps:
    args_file = f"test/golden/{os.path.basename(cap)[:-5]}.args"
    args = open(args_file).read().split() if os.path.exists(args_file) else []
    ports = PORTS
    if "-p" in args: # the capture's own SMTP ports, as smtpscope is told
        ports = set(args[args.index("-p") + 1].split(","))
    conv = subprocess.run(["tshark", "-n", "-q", "-r", cap, "-z", "conv,tcp"],
                          capture_output=True, text=True).stdout
    convs = 0
    for line in conv.splitlines():
        m = re.match(r"\s*\S+:(\d+)\s+<->\s+\S+:(\d+)\s", line)
        if m and (m.group(1) in ports or m.group(2) in ports):
            convs += 1
    out = subprocess.run([binary, "-j", "--stats", *args, "-r", cap],
                         capture_output=True, text=True)
    sessions = sum(1 for l in out.stdout.splitlines()
                   if json.loads(l).get("type") == "session")
    m = re.search(r"(\d+) sessions written", out.stderr)
    written = int(m.group(1)) if m else -1
    name = os.path.basename(cap)
    if convs == sessions == written:
        print(f"ok - {name}: {convs} TCP conversations, {sessions} sessions written")
    else:
        print(f"not ok - {name}: tshark {convs} conversations, smtpscope {sessions} "
              f"sessions ({written} by --stats)")
        failed += 1
sys.exit(1 if failed else 0)
