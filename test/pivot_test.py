#!/usr/bin/env python3
"""pivot_test.py - selecting sessions (--only, --phase), the pivots to the
tools next door (community_id, frame numbers and Wireshark filters against
tshark, -w), SMTP on unexpected ports (-p any) and the extra header facts.

Usage: pivot_test.py [SMTPSCOPE]
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
os.chdir(root)
sys.path.insert(0, "test/lib")
from tap import check, finish  # noqa: E402

binary = sys.argv[1] if len(sys.argv) > 1 else "./smtpscope"
tmp = tempfile.mkdtemp(prefix="pivot-")
captures = sorted(glob.glob("captures/*.pcap"))


def run(*args, ok=True):
    p = subprocess.run([binary, "-q", *args], capture_output=True, text=True)
    if ok and p.returncode != 0:
        print(f"# {' '.join(args)}: exit {p.returncode}: {p.stderr[:300]}")
    return p


def records(*args, kind="session"):
    out = run("-j", *args).stdout
    return [r for r in map(json.loads, out.splitlines()) if r["type"] == kind]


def reads(caps):
    return [a for c in caps for a in ("-r", c)]


def phase_of(r):
    """The phase --phase matches: where a failed session failed, else where
    it ended."""
    if r["verdict"] in ("failed", "partial"):
        return r["failure"]["phase"]
    return r["end_phase"]


def test_select():
    allr = records(*reads(captures))
    verdicts = sorted({r["verdict"] for r in allr})
    check(len(verdicts) >= 4, f"the bundled captures hold several verdicts ({verdicts})")
    for v in ("ok", "partial", "failed", "incomplete", "encrypted", "not-smtp"):
        want = sorted(r["id"] for r in allr if r["verdict"] == v)
        got = sorted(r["id"] for r in records("--only", v, *reads(captures)))
        check(got == want, f"--only {v}: JSON holds exactly the {len(want)} {v} sessions")
    want = sorted(r["id"] for r in allr if r["verdict"] in ("ok", "partial"))
    got = sorted(r["id"] for r in records("--only", "ok,partial", *reads(captures)))
    check(got == want, "--only ok,partial: the union of both")
    want = sorted(r["id"] for r in allr if phase_of(r) in ("RCPT", "DATA"))
    got = sorted(r["id"] for r in records("--phase", "rcpt,DATA", *reads(captures)))
    check(want and got == want, f"--phase rcpt,DATA: the {len(want)} sessions that "
          "failed or ended in RCPT or DATA")
    want = sorted(r["id"] for r in allr if r["verdict"] == "failed" and phase_of(r) == "RCPT")
    got = sorted(r["id"] for r in records("--only", "failed", "--phase", "RCPT",
                                          *reads(captures)))
    check(want and got == want, "--only failed --phase RCPT: both must match")
    nfailed = sum(r["verdict"] == "failed" for r in allr)
    text = run("-v", "1", "--only", "failed", *reads(captures)).stdout
    check(text.count("FAILED") == nfailed and "*** " in text and
          sum(" *** " in l for l in text.splitlines()) == nfailed,
          "the text log writes the same selection")
    summ = records("--summary", "--only", "failed", *reads(captures), kind="summary")
    acc = summ[0]["accounting"] if summ else {}
    check(summ and summ[0]["sessions"] == nfailed and
          summ[0]["by_verdict"]["failed"] == nfailed and summ[0]["by_verdict"]["ok"] == 0 and
          acc.get("sessions_selected") == nfailed and acc["sessions_written"] == len(allr),
          "--summary counts the selected sessions; its accounting the whole run")
    dns = records("--only", "failed", "-r", "captures/dns-lookups.pcap", kind="dns")
    check(records("-r", "captures/dns-lookups.pcap", kind="dns") and not dns,
          "no DNS records while a selection is in force")
    d = os.path.join(tmp, "logdir")
    os.mkdir(d)
    run("--log-dir", d, "--only", "failed", *reads(captures))
    logged = [json.loads(l) for f in glob.glob(d + "/*.jsonl") for l in open(f)]
    check(len(logged) == nfailed and all(r["verdict"] == "failed" for r in logged),
          "--log-dir writes the same selection")
    html = os.path.join(tmp, "r.html")
    run("--html", html, "--only", "failed", *reads(captures), ok=False)
    page = open(html).read() if os.path.exists(html) else ""
    ok_ids = [r["id"] for r in allr if r["verdict"] == "ok"]
    failed_ids = [r["id"] for r in allr if r["verdict"] == "failed"]
    check(page and all(i in page for i in failed_ids) and not any(i in page for i in ok_ids),
          "--html reports only the selected sessions")
    n = len(records("-c", "2", "--only", "failed", *reads(captures)))
    check(n == 2, "-c counts selected sessions")
    for bad in (["--only", "fail"], ["--phase", "RCPT,"], ["--only", "failed", "--follow"]):
        p = run(*bad, "-r", captures[0], ok=False)
        check(p.returncode == 1 and "smtpscope:" in p.stderr, f"{' '.join(bad)}: usage error")


test_select()
finish()
