#!/usr/bin/env python3
"""tshark_crosscheck.py - smtpscope and Wireshark's SMTP dissector must
count the same client commands and server reply lines in each capture.

Mapping (both sides count the same things):
  commands: tshark's smtp.req.command fields (one per command line, several
            per packet when pipelined; AUTH continuation lines and message
            content carry none) == smtpscope transcript lines with dir "C"
            that are neither message bodies nor AUTH responses ("***" or
            the revealed secret lines, which follow a 334);
  replies:  tshark's smtp.response.code fields (one per reply: the
            dissector shows a multi-line reply as one code with several
            parameters) == transcript "S" lines that start a reply (the
            previous server line was not a "ddd-" continuation).
Both stop at the 220 answer to STARTTLS. A missing tshark is a failure.
Where Wireshark's dissector is known to be wrong, test/tshark_allowlist.txt
gives the exact pair of counts expected and why (the bytes were read).

Usage: tshark_crosscheck.py [SMTPSCOPE] [CAPTURE...]   (default captures/*)
"""
import glob
import json
import os
import shutil
import subprocess
import sys

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
binary = sys.argv[1] if len(sys.argv) > 1 else "./smtpscope"
caps = sys.argv[2:] or sorted(glob.glob("captures/*.pcap*"))
if not shutil.which("tshark"):
    print("not ok - tshark missing (apt-get install tshark)")
    sys.exit(1)
if not caps:
    print("not ok - no captures given or found in captures/")
    sys.exit(1)


def tshark_counts(cap):
    out = subprocess.run(
        ["tshark", "-n", "-r", cap, "-d", "tcp.port==2525,smtp", "-Y", "smtp", "-T", "fields",
         "-e", "smtp.req.command", "-e", "smtp.response.code",
         "-E", "occurrence=a", "-E", "aggregator=|", "-E", "separator=/t"],
        capture_output=True, text=True)
    cmds = reps = 0
    for line in out.stdout.splitlines():
        req, _, resp = line.partition("\t")
        cmds += len([x for x in req.split("|") if x])
        reps += len([x for x in resp.split("|") if x])
    return cmds, reps


def smtpscope_counts(cap):
    out = subprocess.run([binary, "-q", "-j", "-r", cap], capture_output=True,
                         text=True)
    cmds = reps = 0
    for line in out.stdout.splitlines():
        rec = json.loads(line)
        if rec.get("type") != "session":
            continue
        prev_334 = False
        continued = False
        for t in rec["transcript"]:
            if t["dir"] == "S":
                if not continued:
                    reps += 1
                line = t["line"]
                continued = len(line) > 3 and line[:3].isdigit() and line[3] == "-"
                prev_334 = line.startswith("334")
            elif t.get("event") != "body":
                if not (prev_334 or t["line"] == "***"):
                    cmds += 1
    return cmds, reps, out.returncode


allow = {}
for line in open("test/tshark_allowlist.txt"):
    line = line.split("#", 1)[0].split()
    if len(line) == 5:
        allow[(line[0], line[1])] = (int(line[2]), int(line[3]), int(line[4]))
    elif len(line) == 6 and line[1] == "both":
        allow[(line[0], "both")] = tuple(int(x) for x in line[2:])

failed = 0
for cap in caps:
    tc, tr = tshark_counts(cap)
    sc, sr, rc = smtpscope_counts(cap)
    name = os.path.basename(cap)
    if rc != 0:
        print(f"not ok - {name}: smtpscope exit status {rc}")
        failed += 1
    elif (tc, tr) == (sc, sr):
        print(f"ok - {name}: commands {sc}, replies {sr} (tshark agrees)")
    elif (name, "commands") in allow and allow[(name, "commands")] == (tc, sc, sr) \
            and tr == sr:
        print(f"ok - {name}: commands tshark={tc} smtpscope={sc} as allow-listed, "
              f"replies {sr} agree")
    elif allow.get((name, "both")) == (tc, sc, tr, sr):
        print(f"ok - {name}: commands tshark={tc} smtpscope={sc}, replies "
              f"tshark={tr} smtpscope={sr} as allow-listed")
    else:
        print(f"not ok - {name}: commands tshark={tc} smtpscope={sc}, "
              f"reply lines tshark={tr} smtpscope={sr}")
        failed += 1
sys.exit(1 if failed else 0)
