#!/usr/bin/env python3
"""compare_html_test.py - the --compare --html page, in a real browser (headless Chromium).

    python3 test/compare/compare_html_test.py SMTPSCOPE OUTDIR

The captures are make_compare.py's: several of its scenarios laid one
after another in one pair of captures (each its own client port), and the
300-session mix. For each, the same run's --json --summary is the truth
the page is read against (from the rendered DOM):
1. it renders with no console error and fetches nothing; --html changes
   neither the JSON nor the text written beside it;
2. the tally's counts (paired, uncertain, each side only, each finding),
   the clock offset and the median added delay are the summary's;
3. one table row per pair; filtering by each finding lists exactly the
   pairs that have it, by an address exactly the pairs with it;
4. each pair's ladder draws every line of both views (client side between
   the client and middlebox lanes, server side between middlebox and
   server), the per-reply added delay of every reply both saw, and the
   reply-injected pair's 421 (and the reset-injected pair's resets) as
   coming from the middlebox lane;
5. a command holding </script>, markup and control bytes is shown as
   escaped text: the page keeps its one </script>, no element is injected.
The same for the bundled captures of a real masking proxy (both sides) and
a STARTTLS session (its TLS note drawn on both sides). Screenshots of the
tally and of a ladder are saved in OUTDIR.
"""
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import make_compare  # noqa: E402
import tap  # noqa: E402
from tap import check  # noqa: E402

binary, outdir = sys.argv[1], sys.argv[2]
os.makedirs(outdir, exist_ok=True)
browser = shutil.which("chromium") or shutil.which("chromium-browser")
if not browser:
    print("not ok - chromium missing (apt-get install chromium)")
    sys.exit(1)
tmp = tempfile.mkdtemp()

# one pair of captures, a scenario every 100 s on its own client port
SEVERAL = ["transparent", "banner-masked", "starttls-stripped", "command-masked",
           "reply-injected", "reset-injected", "message-altered", "redirected", "proxied",
           "slow-path", "client-only", "server-only"]


def several():
    cf, sf = [], []
    for k, name in enumerate(SEVERAL):
        c, s = make_compare.scenario(name, t0=1000.0 + 100 * k, cport=40001 + 10 * k)
        cf += c
        sf += s
    return sorted(cf, key=lambda f: f[0]), sorted(sf, key=lambda f: f[0])


def hostile():
    """A command with the end of a script element, markup and control bytes;
    the middlebox masks it on the way (so it shows on both sides)."""
    d = make_compare.delivery()
    bad = b"NOOP </script><img src=x onerror=alert(1)>\x01\x1b[2J\x7f"
    steps_c = d[:3] + [(make_compare.C, bad), (make_compare.S, b"250 2.0.0 Ok")] + d[3:]
    steps_s = d[:3] + [(make_compare.C, b"NOOP " + b"X" * (len(bad) - 5)),
                       (make_compare.S, b"250 2.0.0 Ok")] + d[3:]
    return make_compare.both_at(steps_c, steps_s)


def chrome(url, *extra):
    """(dumped DOM, console lines) of the page once its script ran; with a
    --screenshot option the picture is taken instead."""
    if not any(x.startswith("--screenshot") for x in extra):
        extra = ("--dump-dom",) + extra
    r = subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu",
                        "--no-first-run", "--disable-extensions", "--enable-logging=stderr",
                        "--v=0", f"--user-data-dir={tmp}/profile", "--virtual-time-budget=5000",
                        *extra, url], capture_output=True, text=True, timeout=120)
    return r.stdout, [x for x in r.stderr.splitlines() if "CONSOLE" in x or "Uncaught" in x]


def errors_in(console):
    return [x for x in console if "Uncaught" in x or ":ERROR:" in x or "Error" in x]


def card(dom, cid):
    m = re.search(r'<div class="card" id="%s"( data-ms="([^"]*)")?><b>([^<]*)</b>' % cid, dom)
    return (m.group(3), m.group(2)) if m else (None, None)


def table_rows(dom):
    return re.findall(r'<tr data-pair="(\d+)" data-findings="([^"]*)"', dom)


def arrows(dom):
    """The ladder's arrows: (class, side, from, to, title)."""
    m = re.search(r'<svg[^>]*id="ladder-diagram".*?</svg>', dom, re.S)
    return [(c, s, f, t, html.unescape(x)) for c, s, f, t, x in re.findall(
        r'<line [^>]*class="arrow ([a-z ]+)" data-side="(\w)" data-from="(\w+)" '
        r'data-to="(\w+)"><title>(.*?)</title></line>', m.group(0) if m else "", re.S)]


def run(name, frames, sides=None):
    """The page, the pairs and the summary of a comparison of make_compare
    frames (or of two capture files: sides)."""
    if sides is None:
        make_compare.write(tmp, name, frames)
    c, s = sides or (os.path.join(tmp, name + x) for x in (".c.pcap", ".s.pcap"))
    page = os.path.join(outdir, name + ".html")
    base = [binary, "-q", "--json", "--summary", "--compare", c, s]
    plain = subprocess.run(base, capture_output=True, text=True, timeout=300)
    r = subprocess.run(base + ["--html", page], capture_output=True, text=True, timeout=300)
    text = [subprocess.run([binary, "-q", "--compare", c, s, *x], capture_output=True,
                           text=True, timeout=300).stdout for x in ([], ["--html", page])]
    check(r.returncode == 0 and os.path.getsize(page) > 10000 and not r.stderr,
          f"{name}: --compare --html wrote a page (exit {r.returncode}, {r.stderr[:200]!r})")
    check(r.stdout == plain.stdout and text[0] == text[1] and text[0],
          f"{name}: --html changes neither the JSON nor the text written beside it")
    recs = [json.loads(x) for x in r.stdout.splitlines()]
    return page, [x for x in recs if x["type"] == "pair"], \
        next(x for x in recs if x["type"] == "compare_summary")


def check_tally(name, page, pairs, summ):
    src = open(page, encoding="utf-8").read()
    check(not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", src),
          f"{name}: the page fetches nothing")
    dom, console = chrome("file://" + os.path.abspath(page))
    check(any(f"rendered {len(pairs)} pairs" in x for x in console) and not errors_in(console),
          f"{name}: renders {len(pairs)} pairs with no console error ({errors_in(console)[:2]})")
    want = {"card-paired": summ["paired"], "card-uncertain": summ["uncertain"],
            "card-client-only": summ["client_side_only"],
            "card-server-only": summ["server_side_only"]}
    got = {k: card(dom, k)[0] for k in want}
    check(got == {k: str(v) for k, v in want.items()}, f"{name}: tally counts {want} ({got})")
    off, added = card(dom, "card-offset")[1], card(dom, "card-added")[1]
    check(off is not None and abs(float(off) - summ["clock_offset_ms"]) < 0.0015,
          f"{name}: clock offset {summ['clock_offset_ms']} ms ({off})")
    med = summ["added_median_ms"]
    check(added is not None and (added == "" if med is None else abs(float(added) - med) < 0.0015),
          f"{name}: median added delay {med} ms ({added})")
    m = re.search(r'<table id="by-finding">(.*?)</table>', dom, re.S)
    shown = {f: int(n) for f, n in re.findall(
        r'<tr data-finding="([a-z-]+)"><td>[a-z-]+</td><td[^>]*>[^<]*</td><td>(\d+)</td>',
        m.group(1) if m else "")}
    check(shown == summ["findings"], f"{name}: each finding's count is the summary's ({shown})")
    rows = table_rows(dom)
    check(sorted(int(n) for n, _ in rows) == sorted(p["pair"] for p in pairs),
          f"{name}: one table row per pair ({len(rows)})")
    return dom


def check_filters(name, page, pairs, findings):
    for f in findings:
        dom, console = chrome("file://" + os.path.abspath(page) + "#f=" + f)
        got = sorted(int(n) for n, _ in table_rows(dom))
        want = sorted(p["pair"] for p in pairs if f in {x["name"] for x in p["findings"]})
        check(got == want and want and not errors_in(console),
              f"{name}: filtered by {f}: only its {len(want)} pairs ({len(got)} rows)")


def check_address_filter(name, page, pairs, addr):
    dom, _ = chrome("file://" + os.path.abspath(page) + "#a=" + addr)
    got = sorted(int(n) for n, _ in table_rows(dom))
    want = sorted(p["pair"] for p in pairs if any(
        addr in (e["ip"], f"{e['ip']}:{e['port']}") for d in (p["client_side"], p["server_side"])
        if d for e in (d["client"], d["server"])))
    check(got == want and want, f"{name}: filtered by address {addr}: {len(want)} pairs ({got})")


def ladder(page, p):
    dom, console = chrome("file://" + os.path.abspath(page) + f"#p={p['pair']}")
    return dom, arrows(dom), errors_in(console)


def check_ladders(name, page, pairs):
    for p in pairs:
        dom, arr, err = ladder(page, p)
        lines = [a for a in arr if "tcp" not in a[0] and a[0] != "note"]
        n = {k: (p[k]["lines"] if p[k] else 0) for k in ("client_side", "server_side")}
        lanes_ok = all((a[1] == "c") == ("client" in (a[2], a[3])) and "mb" in (a[2], a[3])
                       for a in arr)
        check(not err and sum(a[1] == "c" for a in lines) == n["client_side"] and
              sum(a[1] == "s" for a in lines) == n["server_side"] and lanes_ok,
              f"{name} pair {p['pair']}: ladder draws every line of both views "
              f"({n['client_side']} + {n['server_side']}) on their lanes")
        delays = re.findall(r'class="delay"[^>]*>path added ([^<]*) ms<', dom)
        want = ["%+.3f" % d["added_ms"] for d in p["delays"]]
        # the JSON lists the first 64 (CMP_MAX_DELTAS); the ladder has them all
        check(delays[:len(want)] == want and (len(want) == 64 or len(delays) == len(want)),
              f"{name} pair {p['pair']}: the added delay of each reply both saw ({len(want)})")
        yield p, arr


def check_marks(pairs, ladders):
    by_name = {}
    for p, arr in ladders:
        for f in p["findings"]:
            by_name.setdefault(f["name"], (p, arr))
    p, arr = by_name["reply-injected"]
    check(("injected", "c", "mb", "client", "421 4.7.0 Blocked by policy") in arr,
          "reply-injected: the 421 is drawn from the middlebox lane to the client, marked")
    check(("injected", "s", "mb", "server", "QUIT") in arr,
          "reply-injected: the QUIT the server got is drawn from the middlebox lane")
    check(("dropped", "c", "client", "mb", "MAIL FROM:<alice@example.org>") in arr,
          "reply-injected: the MAIL FROM that never reached the server stops at the middlebox")
    p, arr = by_name["reset-injected"]
    rst = [a for a in arr if a[0] == "injected tcp"]
    check(sorted(a[1:4] for a in rst) == [("c", "mb", "client"), ("s", "mb", "server")],
          f"reset-injected: both resets drawn from the middlebox lane ({rst})")
    p, arr = by_name["banner-rewritten"]
    ch = [a for a in arr if a[0] == "changed"]
    check(len(ch) == 2 and {a[1] for a in ch} == {"c", "s"} and "*" * 28 in ch[0][4] + ch[1][4],
          "banner-masked: the banner is a changed line on both sides")
    p, arr = by_name["middlebox-delay"]
    check(p["added_median_ms"] > 1000, "slow-path: its pair has the path's delay")


def check_hostile():
    page, pairs, _ = run("hostile", hostile())
    src = open(page, encoding="utf-8").read()
    check(src.count("</script>") == 1, "hostile: the page holds exactly one </script> (its own)")
    check("\\u003c/script>" in src and "\x01" not in src and "\x1b" not in src,
          "hostile: the data holds the line as \\u003c and \\x escapes, no raw control byte")
    dom, arr, err = ladder(page, pairs[0])
    check("<title>smtpscope compare report</title>" in dom and "<img" not in dom and not err,
          "hostile: no element injected, the page is unchanged")
    want = "NOOP </script><img src=x onerror=alert(1)>\\x01\\x1b[2J\\x7f"
    check(any(a[4] == want and a[0] == "changed" for a in arr),
          "hostile: the line is drawn as text, control bytes as \\xHH")
    check(html.escape(want, quote=False) in dom, "hostile: the rows table shows it escaped")


page, pairs, summ = run("several", several())
check(len(pairs) == len(SEVERAL) and sum(bool(p["client_side"] and p["server_side"])
                                         for p in pairs) == len(SEVERAL) - 2,
      f"several: {len(SEVERAL)} scenarios, each a pair but the two one-sided ({len(pairs)})")
check_tally("several", page, pairs, summ)
check_filters("several", page, pairs, sorted(summ["findings"]))
check_address_filter("several", page, pairs, make_compare.PROXY)
check_address_filter("several", page, pairs, "192.0.2.99")
check_marks(pairs, list(check_ladders("several", page, pairs)))
p = next(x for x in pairs if "reply-injected" in {f["name"] for f in x["findings"]})
chrome("file://" + os.path.abspath(page) + f"#p={p['pair']}", "--window-size=1300,1100",
       f"--screenshot={outdir}/compare-ladder.png")
check(os.path.getsize(f"{outdir}/compare-ladder.png") > 20000, "screenshot of a ladder saved")

page, pairs, summ = run("clock-offset", make_compare.scenario("clock-offset"))
check_tally("clock-offset", page, pairs, summ)
dom, _, _ = ladder(page, pairs[0])
times = [float(x) for x in re.findall(r'<text x="8" y="[^"]*" class="t">([+-][0-9.]+)s</text>', dom)]
check(len(times) >= 36 and 0 <= min(times) and max(times) < 1,
      "clock-offset: the server side (an hour ahead) drawn on the client side's clock "
      f"({min(times, default=None)} .. {max(times, default=None)} s)")
check("+3600.002 s" in dom, "clock-offset: the tally shows the offset in seconds")

page, pairs, summ = run("mix", make_compare.mix(300))
check_tally("mix", page, pairs, summ)
check_filters("mix", page, pairs, ["pairing-uncertain"])
check_address_filter("mix", page, pairs, "203.0.113.200")
for _ in check_ladders("mix", page, [pairs[0], pairs[-1]]):
    pass
chrome("file://" + os.path.abspath(page), "--window-size=1300,1100",
       f"--screenshot={outdir}/compare-report.png")
check(os.path.getsize(f"{outdir}/compare-report.png") > 20000, "screenshot of the tally saved")

# the bundled captures of a real masking proxy (both sides), and a STARTTLS
# session against itself: its TLS note is drawn on both sides, as a note
page, pairs, summ = run("masking-proxy", None, ("captures/diag-masked-outside.pcap",
                                                 "captures/diag-masked-inside.pcap"))
check_tally("masking-proxy", page, pairs, summ)
for _ in check_ladders("masking-proxy", page, pairs):
    pass
page, pairs, summ = run("starttls", None, ("captures/proto-starttls.pcap",) * 2)
for _, arr in check_ladders("starttls", page, pairs):
    tls = [a for a in arr if a[0] == "same tls"]
    check(sorted(a[1] for a in tls) == ["c", "s"] and "TLS started" in tls[0][4],
          f"starttls: the TLS note is drawn on both sides ({len(tls)})")
    ready = [i for i, a in enumerate(arr) if a[4].startswith("220 2.0.0 Ready")]
    check(ready and min(arr.index(a) for a in tls) > max(ready),
          "starttls: TLS begins after the 220 that let it, on both sides")

# a session longer than a digest keeps (600 lines a side): what is kept is
# drawn, and the page says the rest is not
d = make_compare.delivery()
long_steps = d[:3] + [(make_compare.C, b"NOOP"), (make_compare.S, b"250 2.0.0 Ok")] * 400 + d[3:]
page, pairs, summ = run("long", make_compare.both_at(long_steps, long_steps))
for p, _ in check_ladders("long", page, pairs):
    dom = ladder(page, p)[0]
    check(p["client_side"]["lines"] == 600 and p["client_side"]["lines_dropped"] > 0 and
          "more are not drawn" in dom, "long: 600 lines a side drawn, the rest said not to be")

check_hostile()
p = subprocess.run([binary, "--compare", *(os.path.join(tmp, "hostile" + x) for x in (".c.pcap", ".s.pcap")),
                    "--html", "/nonexistent/x.html"], capture_output=True, text=True, timeout=30)
check(p.returncode == 2 and "--html /nonexistent/x.html" in p.stderr and not p.stdout,
      f"an --html file that cannot be written: exit 2, said, nothing compared ({p.returncode})")
shutil.rmtree(tmp, ignore_errors=True)
tap.finish()
