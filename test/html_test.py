#!/usr/bin/env python3
"""html_test.py - the --html report, in a real browser (headless Chromium).

    python3 test/html_test.py SMTPSCOPE OUTDIR GEN_CAPTURE

1. The report of every bundled capture is loaded; the page must log that it
   rendered, log no error, and show (read back from the rendered DOM) the
   numbers the JSON of the same run holds: sessions, outcomes, failures by
   phase, one table row per session.
2. The ladder of a failed session (opened through #s=ID, as a click does)
   draws one arrow per transcript line plus the TCP events, and marks the
   failing reply.
3. A capture with markup in the dialogue: the text stays text (the title is
   not changed, no element is injected).
4. A day of traffic (test/html_day.py): the histogram's bucket counts are the
   records' verdicts, the latency table is --summary's, the filter finds a
   session by a RCPT address, SYN retransmissions are drawn where they
   happened, and a 10 000-session report (GEN_CAPTURE's gateway mix) renders
   with no console error and a bounded DOM.
Screenshots of the page and of a ladder are saved in OUTDIR.
"""
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter

binary, outdir, gen = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(outdir, exist_ok=True)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from tap import check  # noqa: E402


if not os.access(gen, os.X_OK):
    print(f"not ok - {gen} missing (make bench-build): the 10 000-session report needs it")
    sys.exit(1)
browser = shutil.which("chromium") or shutil.which("chromium-browser")
if not browser:
    print("not ok - chromium missing (apt-get install chromium)")
    sys.exit(1)

tmp = tempfile.mkdtemp()


def chrome(url, *extra):
    """Returns (dumped DOM, console lines) of the page once its scripts ran;
    with a --screenshot option, the picture is taken instead of the DOM."""
    if not any(x.startswith("--screenshot") for x in extra):
        extra = ("--dump-dom",) + extra
    r = subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu",
                        "--no-first-run", "--disable-extensions", "--enable-logging=stderr",
                        "--v=0", f"--user-data-dir={tmp}/profile", "--virtual-time-budget=5000",
                        *extra, url], capture_output=True, text=True, timeout=120)
    console = [l for l in r.stderr.splitlines() if "CONSOLE" in l or "Uncaught" in l]
    return r.stdout, console


def text_of(dom, elem_id):
    m = re.search(r'id="%s"[^>]*>(.*?)</div>' % re.escape(elem_id), dom, re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", m.group(1))).split() if m else []


caps = sorted(os.path.join("captures", f) for f in os.listdir("captures")
              if f.endswith(".pcap") or f.endswith(".pcapng"))
# one capture of them all, in time order (as a sniffer would have seen them)
merged = os.path.join(tmp, "all.pcapng")
ether = subprocess.run([sys.executable, "test/lib/ether_captures.py"], capture_output=True,
                       text=True).stdout.split()
subprocess.run(["mergecap", "-F", "pcapng", "-w", merged, *ether], check=True)
args = ["-r", merged]
report = os.path.join(outdir, "report.html")
r = subprocess.run([binary, "-q", "--html", report, *args], capture_output=True)
check(r.returncode == 0 and os.path.getsize(report) > 10000 and not r.stderr,
      f"--html wrote a report of {len(ether)} captures merged into one ({r.stderr[:200]!r})")
recs = [json.loads(l) for l in subprocess.run([binary, "-q", "-j", *args], capture_output=True,
                                              text=True).stdout.splitlines()]
recs = [x for x in recs if x["type"] == "session"]
page = open(report, encoding="utf-8").read()
check(not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page),
      "the report fetches nothing (no external src or href)")

dom, console = chrome("file://" + os.path.abspath(report))
errors = [l for l in console if "Uncaught" in l or ":ERROR:" in l or "Error" in l]
check(any("smtpscope report: rendered" in l for l in console),
      "the page ran its script (its console line was seen)")
check(not errors, f"no console errors ({errors[:3]})")
cards = {k: text_of(dom, "card-" + k) for k in ("total", "ok", "failed", "incomplete")}
want = Counter(x["verdict"] for x in recs)
check(cards["total"][:1] == [str(len(recs))], f"summary shows {len(recs)} sessions ({cards['total']})")
for v in ("ok", "failed", "incomplete"):
    check(cards[v][:1] == [str(want[v])], f"summary shows {want[v]} {v} ({cards[v]})")
rows = re.findall(r'<tr data-id="([0-9a-f]{8})"', dom)
check(sorted(rows) == sorted(x["id"] for x in recs), f"one table row per session ({len(rows)})")
by_phase = Counter(x["failure"]["phase"] for x in recs if x["verdict"] == "failed")
m = re.search(r'<table id="by-phase">(.*?)</table>', dom, re.S)
shown = dict(re.findall(r"<td>([A-Z-]+)</td><td>(\d+)</td>", m.group(1))) if m else {}
check({k: int(v) for k, v in shown.items()} == dict(by_phase),
      f"failures by phase as in the JSON ({shown})")
bars = re.findall(r'<rect [^>]*data-id="([0-9a-f]{8})"', dom)
check(len(bars) == len(recs), f"one timeline bar per session ({len(bars)})")
chrome("file://" + os.path.abspath(report), "--window-size=1400,1800",
       f"--screenshot={outdir}/report.png")
check(os.path.exists(f"{outdir}/report.png") and os.path.getsize(f"{outdir}/report.png") > 20000,
      "screenshot of the report saved")

# a ladder: the first session that failed with a reply code
fx = next(x for x in recs if x["failure"] and x["failure"]["code"])
url = "file://" + os.path.abspath(report) + "#s=" + fx["id"]
dom, console = chrome(url)
check(not [l for l in console if "Uncaught" in l], "no console errors with a ladder open")
m = re.search(r'<svg[^>]*id="ladder-diagram".*?</svg>', dom, re.S)
check(m is not None, f"the ladder of {fx['id']} is drawn")
svg = m.group(0) if m else ""
arrows = len(re.findall(r'class="arrow[" ]', svg))
tcp = len(re.findall(r'class="arrow tcp"', svg))
check(arrows - tcp == len(fx["transcript"]),
      f"one arrow per transcript line ({arrows - tcp} == {len(fx['transcript'])})")
check(tcp >= 2, f"TCP events drawn: SYN, SYN-ACK, the end ({tcp})")
check(len(re.findall(r'class="arrow failing"', svg)) == 1, "the failing reply is marked")
check(fx["failure"]["hint"] == "" or "hint:" in dom, "the failure's hint is shown")
chrome(url, "--window-size=1000,1400", f"--screenshot={outdir}/ladder.png")
check(os.path.exists(f"{outdir}/ladder.png"), "screenshot of a ladder saved")

# markup from the wire stays text
hostile = os.path.join(tmp, "hostile")
subprocess.run([sys.executable, "test/hostile/make_hostile.py", hostile], check=True,
               capture_output=True)
hrep = os.path.join(outdir, "hostile.html")
subprocess.run([binary, "-q", "--html", hrep, "-r", os.path.join(hostile, "html-injection.pcap")],
               check=True, capture_output=True)
dom, console = chrome("file://" + os.path.abspath(hrep) + "#s=" +
                      json.loads(subprocess.run([binary, "-q", "-j", "-r",
                                                 os.path.join(hostile, "html-injection.pcap")],
                                                capture_output=True, text=True).stdout)["id"])
check("<title>smtpscope report</title>" in dom, "markup from the wire does not change the page")
check("<img" not in dom and "<b>no</b>" not in dom, "no element injected from the wire")
check("&lt;img src=x" in dom, "the markup is shown as text")
hpage = open(hrep, encoding="utf-8").read()
check(hpage.count("</script>") == 2,
      "the report holds exactly two </script> (its records' and its code's)")
m = re.search(r'<script type="application/json" id="records">(.*?)</script>', hpage, re.S)
check(m is not None and [x["type"] for x in json.loads(m.group(1))] == ["session"],
      "its records element is JSON that holds the session")

# a capture without one SMTP session still renders
empty = os.path.join(tmp, "empty.pcap")
with open(empty, "wb") as f:
    f.write(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
erep = os.path.join(outdir, "empty.html")
subprocess.run([binary, "-q", "--html", erep, "-r", empty], check=True, capture_output=True)
dom, console = chrome("file://" + os.path.abspath(erep))
check(any("smtpscope report: rendered" in l for l in console) and
      not [l for l in console if "Uncaught" in l] and "no sessions in this capture" in dom,
      "a report of a capture without sessions renders, says so, and throws nothing")
import html_day  # noqa: E402  (the day-of-traffic checks, beside this file)
html_day.run(binary, outdir, gen, tmp, chrome, browser, recs, merged, report)
shutil.rmtree(tmp, ignore_errors=True)
tap.finish()
