"""html_day.py - the --html report for a day of gateway traffic, in headless
Chromium (called by html_test.py, which owns the browser and the merged
capture of every bundled one):

- the histogram of sessions per time bucket: its stacked counts are the
  records' verdicts, bucketed as the page says (data-base, data-step), with
  a readable number of bars for a span of seconds or of days; on a capture
  whose failures begin on the second day, the first failed bar is there,
  and its time range (#t=, and a mouse click on it) lists its sessions;
- the reply-latency table: the commands and counts of --summary, and its
  percentiles;
- the session table: from/to/HELO columns; the filter (#q=, and typed into
  the box key by key through the DevTools protocol, test/lib/cdp.py) finds
  a session by a RCPT address no other session mentions (one that is not
  its session's first RCPT when there is such a one), and hides the others;
- SYN retransmissions: in the JSON (syn_retransmits) and drawn on the
  ladder at their times, before the SYN-ACK;
- 10 000 sessions (gen_capture's gateway mix): no console error, one page
  of table rows (the first 100 by start time; a click on the next-page
  button shows the next 100), no bar per session, a DOM far smaller than
  one node per session, the filter's count as the records say.
"""
import calendar
import datetime
import html
import json
import os
import re
import subprocess
import urllib.parse
from collections import Counter

from tap import check
import cdp
import smtpgen

ROWS = "[...document.querySelectorAll('#tbody tr')].map(t => t.dataset.id)"
SHOWN = "document.getElementById('shown').textContent"


def in_page(browser, url, act):
    """act(page) in a browser driven through the DevTools protocol; a page
    without the element acted on is a failed check, not a crash:
    (result, None) or (None, error)."""
    try:
        with cdp.Page(browser, url) as p:
            return act(p), None
    except (RuntimeError, TimeoutError, OSError) as e:
        return None, str(e)[:200]


def epoch_ms(iso):
    """ISO 8601 time of a record as Date.parse reads it (milliseconds)."""
    d = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ")
    return calendar.timegm(d.timetuple()) * 1000 + d.microsecond // 1000


def sessions_of(binary, *args):
    out = subprocess.run([binary, "-q", "-j", *args], capture_output=True, text=True,
                         check=True).stdout
    return [r for r in map(json.loads, out.splitlines()) if r["type"] == "session"]


def html_of(binary, path, *args):
    subprocess.run([binary, "-q", "--html", path, "-o", os.devnull, *args], check=True,
                   capture_output=True)
    return "file://" + os.path.abspath(path)


def attr(tag, name):
    m = re.search(r'\b%s="([^"]*)"' % re.escape(name), tag)
    return m.group(1) if m else None


def histogram(dom):
    """(base ms, step ms, buckets, Counter of (bucket, verdict) -> sessions)."""
    m = re.search(r'<svg[^>]*id="histogram-svg"[^>]*>', dom)
    if not m:
        return None
    svg = m.group(0)
    shown = Counter()
    for tag in re.findall(r'<rect [^>]*data-bucket="[^>]*>', dom):
        shown[(int(attr(tag, "data-bucket")), attr(tag, "data-verdict"))] += \
            int(attr(tag, "data-count"))
    return int(attr(svg, "data-base")), int(attr(svg, "data-step")), \
        int(attr(svg, "data-buckets")), shown


def check_histogram(dom, recs, label):
    h = histogram(dom)
    check(h is not None, f"{label}: the histogram of sessions over time is drawn")
    if not h:
        return None
    base, step, n, shown = h
    want = Counter(((epoch_ms(r["start"]) - base) // step, r["verdict"]) for r in recs)
    check(shown == want, f"{label}: its stacked bars hold the records' verdicts, bucket by "
          f"bucket ({sum(shown.values())} sessions in {len(shown)} segments; "
          f"{len(set(shown.items()) ^ set(want.items()))} differ)")
    span = max(epoch_ms(r["start"]) for r in recs) - min(epoch_ms(r["start"]) for r in recs)
    # readable: never more than 120 bars, and not a few fat ones when the span allows more
    check(n <= 120 and (n >= 24 or span < 24 * step) and span < n * step,
          f"{label}: {n} bars of {step} ms for a span of {span / 1000:.1f} s")
    return base, step, n, shown


def latency_rows(dom):
    """{command: (replies, p50, p90, p99)} of the page's latency table."""
    m = re.search(r'<table id="latency">(.*?)</table>', dom, re.S)
    rows = {}
    for cmd, n, cells in re.findall(r'<tr data-cmd="([^"]*)" data-n="(\d+)">(.*?)</tr>',
                                    m.group(1) if m else "", re.S):
        nums = re.findall(r'<td class="num">([\d.]+)</td>', cells)
        rows[html.unescape(cmd)] = (int(n), *(float(x) for x in nums[2:5]))
    return rows


def ladder_rows(dom):
    """[(t, arrow class or None, label)] of the open ladder, top down."""
    m = re.search(r'<svg[^>]*id="ladder-diagram".*?</svg>', dom, re.S)
    rows = []
    for t, body in re.findall(r'class="t">\+([\d.]+)s</text>(.*?)(?=<text[^>]*class="t"|</svg>)',
                              m.group(0) if m else "", re.S):
        line = re.search(r'<line [^>]*class="([^"]*)"', body)
        labels = re.findall(r"<text[^>]*>([^<]*)</text>", body)
        rows.append((float(t), line.group(1) if line else None,
                     html.unescape(labels[0]) if labels else ""))
    return rows


def table_ids(dom):
    return re.findall(r'<tr data-id="([0-9a-f]{8})"', dom)


def shown_text(dom):
    m = re.search(r'id="shown"[^>]*>([^<]*)<', dom)
    return m.group(1) if m else ""


def addrs(r):
    froms = {t["mail_from"] for t in r["transactions"] if t["mail_from"] is not None}
    return froms | {x["addr"] for t in r["transactions"] for x in t["rcpt"]}


def check_latency(binary, dom, recs, args):
    rows = latency_rows(dom)
    answers = {l["answers"] for r in recs for l in r["transcript"] if "answers" in l}
    check(rows and set(rows) == answers,
          f"the latency section lists every command replies answered ({sorted(rows)})")
    out = subprocess.run([binary, "-q", "-j", "--summary", *args], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    summ = json.loads(out[-1])["latency"]
    same = {c: (v["count"], v["p50_ms"], v["p90_ms"], v["p99_ms"]) for c, v in summ.items()}
    diff = [c for c in set(same) | set(rows)
            if c not in rows or c not in same or rows[c][0] != same[c][0] or
            any(abs(a - b) > 0.0005 for a, b in zip(rows[c][1:], same[c][1:]))]
    check(not diff, f"replies and p50/p90/p99 per command as --summary counts them "
          f"(pipelined replies included; differ: {diff})")


def check_filter(chrome, browser, url, recs):
    """The filter box, through #q= and typed into, key by key."""
    pick = pick_rcpt(recs)
    check(pick is not None, "a RCPT address only one session mentions is in the capture")
    if not pick:
        return
    filter_by_hash(chrome, url, recs, *pick)
    a, r = pick

    def typed(p):
        p.type_into("#filter", a)
        return p.eval(ROWS), p.eval(SHOWN), [c for c in p.console() if c.startswith("Uncaught")]
    got, err = in_page(browser, url, typed)
    ids, shown, errors = got or (None, "", [err])
    check(ids == [r["id"]] and shown.startswith(f"1 of {len(recs)} ") and not errors,
          f"typed into the filter box (key events), {a} lists session {r['id']} alone "
          f"({ids and len(ids)} rows, {shown!r}, {errors[:1]})")


def pick_rcpt(recs):
    """(address, session): a RCPT address no other session mentions
    anywhere; best one the server accepted (no reply text names it, only
    the RCPT TO) and that is not its session's first."""
    dumps = {r["id"]: json.dumps(r) for r in recs}
    cands = []
    for r in recs:
        rc = [x for t in r["transactions"] for x in t["rcpt"]]
        for k, x in enumerate(rc):
            a = x["addr"]
            if {i for i, d in dumps.items() if json.dumps(a)[1:-1] in d} == {r["id"]}:
                named = sum(l["line"].count(a) for l in r["transcript"])
                cands.append((named > 1, k == 0, a, r))
    return min(cands, key=lambda c: c[:2])[2:] if cands else None


def filter_by_hash(chrome, url, recs, a, r):
    dom, console = chrome(url + "#q=" + urllib.parse.quote(a))
    check(not [l for l in console if "Uncaught" in l], "no console errors with a filter given")
    check(table_ids(dom) == [r["id"]] and shown_text(dom).startswith(f"1 of {len(recs)} "),
          f"the filter finds session {r['id']} by RCPT {a} and hides the other "
          f"{len(recs) - 1} ({len(table_ids(dom))} rows, {shown_text(dom)!r})")
    heads = re.findall(r'<th data-col="([a-z]+)"', dom)
    check({"helo", "from", "to"} <= set(heads), f"the table has helo, from, to columns ({heads})")
    row = re.search(r'<tr data-id="%s".*?</tr>' % r["id"], dom, re.S)
    cells = [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in
             re.findall(r"<td[^>]*>.*?</td>", row.group(0) if row else "", re.S)]
    cols = dict(zip(heads, cells))
    rc = [x["addr"] for t in r["transactions"] for x in t["rcpt"]]
    check(cols.get("helo") == r["helo"] and cols.get("from") == (r["transactions"][0]["mail_from"]
          or "<>") and cols.get("to", "").startswith(rc[0]),
          f"its row shows HELO, MAIL FROM and the first RCPT ({cols.get('helo')!r}, "
          f"{cols.get('from')!r}, {cols.get('to')!r})")


def syn_capture(path):
    """One delivery whose client sent its SYN three times: at 0, +1 s, +3 s."""
    frames = smtpgen.session(1764000000.0, "198.51.100.7", "192.0.2.25", 40001)
    syn = frames[0][1]
    frames = [frames[0], (frames[0][0] + 1.0, syn), (frames[0][0] + 3.0, syn)] + \
        [(t + 3.0, p) for t, p in frames[1:]]
    smtpgen.write_pcap(path, frames, 101)


def check_syn(binary, chrome, tmp, outdir):
    cap = os.path.join(tmp, "syn-again.pcap")
    syn_capture(cap)
    recs = sessions_of(binary, "-r", cap)
    r = recs[0] if len(recs) == 1 else {}
    again = r.get("syn_retransmits")
    check(r.get("syn_count") == 3 and again is not None and len(again) == 2 and
          abs(again[0] - 1.0) < 1e-6 and abs(again[1] - 3.0) < 1e-6,
          f"JSON: syn_retransmits holds when the SYN was sent again ({again})")
    url = html_of(binary, os.path.join(outdir, "syn.html"), "-r", cap)
    dom, console = chrome(url + "#s=" + r.get("id", ""))
    check(not [l for l in console if "Uncaught" in l], "no console errors with its ladder open")
    rows = ladder_rows(dom)
    syns = [(t, c) for t, c, _ in rows if c and "syn-retransmit" in c]
    check([t for t, _ in syns] == [1.0, 3.0],
          f"the ladder draws the two SYN retransmissions at +1 s and +3 s ({syns})")
    order = [lab for _, _, lab in rows]
    ack = next((i for i, lab in enumerate(order) if lab == "SYN-ACK"), -1)
    last = max((i for i, (_, c, _) in enumerate(rows) if c and "syn-retransmit" in c), default=99)
    rtt = r.get("tcp", {}).get("rtt_ms", {}).get("server_side")
    check(0 <= last < ack and rtt is not None and abs(rows[ack][0] - (3.0 + rtt / 1000)) < 0.0015,
          f"the SYN-ACK follows the last retransmission, its RTT later ({order[:5]}, "
          f"{rows[ack][0] if ack >= 0 else None} s, rtt {rtt} ms)")


def day_capture(path):
    """Two days, a session an hour; from hour 30 the server refuses RCPT."""
    frames = []
    for h in range(48):
        reply = b"550 5.1.1 no such user" if h >= 30 else b"250 ok"
        frames += smtpgen.session(1764000000.0 + h * 3600 + 17, "198.51.100.%d" % (h + 1),
                                  "192.0.2.25", 30000 + h, rcpt_reply=reply)
    smtpgen.write_pcap(path, sorted(frames, key=lambda f: f[0]), 101)


def check_syn_bound(binary, chrome, tmp, outdir):
    """Eleven SYNs nobody answers: the first 8 retransmissions are kept, the
    ladder says how many more there were."""
    cap = os.path.join(tmp, "syn-flood.pcap")
    syn = smtpgen.tcp4(smtpgen.ip("198.51.100.9"), smtpgen.ip("192.0.2.25"), 40002, 25, 77, 0,
                       0x02)
    smtpgen.write_pcap(cap, [(1764000000.0 + 0.5 * k * k, syn) for k in range(11)], 101)
    recs = sessions_of(binary, "-r", cap)
    r = recs[0] if len(recs) == 1 else {}
    want = [0.5 * k * k for k in range(1, 9)]
    got = r.get("syn_retransmits") or []
    check(r.get("syn_count") == 11 and len(got) == 8 and
          all(abs(a - b) < 1e-6 for a, b in zip(got, want)),
          f"eleven SYNs: syn_count 11, the first 8 retransmissions kept ({got})")
    url = html_of(binary, os.path.join(outdir, "syn-flood.html"), "-r", cap)
    dom, _ = chrome(url + "#s=" + r.get("id", ""))
    rows = ladder_rows(dom)
    check(len([c for _, c, _ in rows if c and "syn-retransmit" in c]) == 8 and
          any(lab == "2 more SYNs (times not kept)" for _, _, lab in rows),
          "its ladder draws 8 retransmissions and says 2 more were sent")


def check_day(binary, chrome, browser, tmp, outdir):
    cap = os.path.join(tmp, "two-days.pcap")
    day_capture(cap)
    recs = sessions_of(binary, "-r", cap)
    url = html_of(binary, os.path.join(outdir, "two-days.html"), "-r", cap)
    dom, console = chrome(url)
    check(len(recs) == 48 and not [l for l in console if "Uncaught" in l],
          f"a two-day capture's report renders ({len(recs)} sessions)")
    h = check_histogram(dom, recs, "two days")
    if not h:
        return
    base, step, _, shown = h
    first_fail = min(epoch_ms(r["start"]) for r in recs if r["verdict"] == "failed")
    failed_bars = sorted(b for b, v in shown if v == "failed")
    check(failed_bars and base + failed_bars[0] * step <= first_fail < base + (failed_bars[0] + 1) * step,
          "when failures started: the first bar with failures holds the first failed session")
    if not failed_bars:
        return
    # what a click on that bar does: the table lists its sessions (#t=FROM-TO)
    lo, hi = base + failed_bars[0] * step, base + (failed_bars[0] + 1) * step
    dom, console = chrome(url + f"#t={lo}-{hi}")
    want = sorted(r["id"] for r in recs if lo <= epoch_ms(r["start"]) < hi)
    check(want and sorted(table_ids(dom)) == want and
          shown_text(dom).startswith(f"{len(want)} of {len(recs)} "),
          f"the bar's time range lists its {len(want)} sessions and hides the others "
          f"({shown_text(dom)!r})")

    def click(p):
        p.click(f'rect.seg[data-bucket="{failed_bars[0]}"][data-verdict="failed"]')
        return p.eval(ROWS), p.eval("location.hash")
    got, err = in_page(browser, url, click)
    ids, hash_ = got or (None, err)
    check(ids is not None and sorted(ids) == want and hash_ == f"#t={lo}-{hi}",
          f"a mouse click on that bar does the same ({ids and len(ids)} rows, {hash_})")


def check_10k(binary, chrome, browser, gen, tmp, outdir):
    cap = os.path.join(tmp, "gateway-10k.pcap")
    g = subprocess.run([gen, "-o", cap, "-s", "85", "-c", "2000", "--mix", "gateway"],
                       capture_output=True, text=True)
    recs = sessions_of(binary, "-r", cap)
    check(g.returncode == 0 and len(recs) >= 10000, f"a gateway capture of {len(recs)} sessions")
    report = os.path.join(outdir, "gateway-10k.html")
    url = html_of(binary, report, "-r", cap)
    dom, console = chrome(url)
    errors = [l for l in console if "Uncaught" in l or ":ERROR:" in l or "Error" in l]
    done = [l for l in console if "smtpscope report: rendered" in l]
    check(done and not errors, f"the {len(recs)}-session report renders with no console error "
          f"({errors[:2]})")
    if done:
        m = re.search(r"rendered \d+ sessions in (\d+) ms", done[0])
        print(f"# {len(recs)} sessions, {os.path.getsize(report) / 1e6:.1f} MB: rendered in "
              f"{m.group(1) if m else '?'} ms (headless, virtual time; make bench measures it)")
    check_histogram(dom, recs, f"{len(recs)} sessions")
    ids = table_ids(dom)
    check(len(ids) == 100 and shown_text(dom).startswith(f"{len(recs)} of {len(recs)} sessions"),
          f"the table shows one page of 100 rows ({len(ids)}, {shown_text(dom)!r})")
    order = [r["id"] for r in sorted(recs, key=lambda r: r["start"])]
    check(ids == order[:100], "its first page is the first 100 sessions by start time")

    def next_page(p):
        p.click("#next")
        return p.eval(ROWS), p.eval(SHOWN)
    got, err = in_page(browser, url, next_page)
    page2, shown = got or (None, err)
    check(page2 == order[100:200] and "rows 101-200" in shown,
          f"a click on the next-page button shows rows 101-200 ({shown!r})")
    check(not re.search(r'<rect [^>]*data-id="', dom),
          "no timeline bar per session (10 000 bars are not drawn)")
    page = re.sub(r'<script type="application/json" id="records">.*?</script>', "", dom,
                  flags=re.S)
    nodes = len(re.findall(r"<[a-zA-Z]", page))
    check(nodes < len(recs) // 2, f"the DOM holds {nodes} elements for {len(recs)} sessions")
    a = Counter(x for r in recs for x in addrs(r)).most_common(1)[0][0]
    want = sum(1 for r in recs if a in addrs(r))
    dom, console = chrome(url + "#q=" + urllib.parse.quote(f"<{a}>"))
    check(shown_text(dom).startswith(f"{want} of {len(recs)} ") and
          len(table_ids(dom)) == min(100, want),
          f"filtering {len(recs)} sessions by <{a}> finds the {want} that name it "
          f"({shown_text(dom)!r})")


def run(binary, outdir, gen, tmp, chrome, browser, recs, merged, report):
    url = "file://" + os.path.abspath(report)
    dom, _ = chrome(url)
    check_histogram(dom, recs, "every bundled capture")
    check_latency(binary, dom, recs, ["-r", merged])
    check_filter(chrome, browser, url, recs)
    check_syn(binary, chrome, tmp, outdir)
    check_syn_bound(binary, chrome, tmp, outdir)
    check_day(binary, chrome, browser, tmp, outdir)
    check_10k(binary, chrome, browser, gen, tmp, outdir)
