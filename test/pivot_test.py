#!/usr/bin/env python3
"""pivot_test.py - selecting sessions (--only, --phase), the pivots to the
tools next door (community_id, frame numbers and Wireshark filters against
tshark, -w), SMTP on unexpected ports (-p any) and the extra header facts.

Usage: pivot_test.py [SMTPSCOPE]
"""
import base64
import glob
import hashlib
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
os.chdir(root)
sys.path.insert(0, "test/lib")
from tap import check, finish  # noqa: E402

binary = sys.argv[1] if len(sys.argv) > 1 else "./smtpscope"
# a second argument runs one test function only (test_write, ...)
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


def community_id(proto, sip, dip, sp, dp, seed=0):
    """The spec's algorithm, written from its text (corelight/community-id-spec)."""
    fam = socket.AF_INET6 if ":" in sip else socket.AF_INET
    a, b = socket.inet_pton(fam, sip), socket.inet_pton(fam, dip)
    if not (a < b or (a == b and sp <= dp)):
        a, b, sp, dp = b, a, dp, sp
    h = hashlib.sha1(struct.pack("!H", seed) + a + b + struct.pack("!BBHH", proto, 0, sp, dp))
    return "1:" + base64.b64encode(h.digest()).decode()


def tshark(*args):
    p = subprocess.run(["tshark", *args], capture_output=True, text=True)
    return p.stdout


def tshark_frames(cap):
    """frame number -> (addresses, ports, community id) as tshark sees them."""
    rows = {}
    out = tshark("--enable-protocol", "communityid", "-r", cap, "-T", "fields",
                 "-E", "occurrence=f", "-e", "frame.number", "-e", "ip.src", "-e", "ip.dst",
                 "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "tcp.srcport", "-e", "tcp.dstport",
                 "-e", "communityid", "-e", "tcp.flags.syn", "-e", "tcp.flags.ack")
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) < 8 or not f[5]:
            continue
        src, dst = (f[1], f[2]) if f[1] else (f[3], f[4])
        syn = len(f) > 9 and f[8] in ("1", "True") and f[9] in ("0", "False")
        rows[int(f[0])] = ({src, dst}, {int(f[5]), int(f[6])}, f[7], syn)
    return rows


def test_pivots():
    check(community_id(6, "128.232.110.120", "66.35.250.204", 34855, 80) ==
          "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "the test's Community ID gives the spec's example")
    sessions = mism_cid = mism_frames = filters = bad_filters = syns = not_syn = 0
    for cap in captures:
        recs = records("-r", cap)
        if not recs:
            continue
        frames = tshark_frames(cap)
        for r in recs:
            c, s = r["client"], r["server"]
            sessions += 1
            want = community_id(6, c["ip"], s["ip"], c["port"], s["port"])
            row = frames.get(r["first_frame"])
            if r["community_id"] != want or not row or row[2] != want:
                mism_cid += 1
                print(f"# {cap} {r['id']}: community_id {r['community_id']}, "
                      f"computed {want}, tshark {row and row[2]}")
            tup = ({c["ip"], s["ip"]}, {c["port"], s["port"]})
            last = frames.get(r["last_frame"])
            if not row or not last or row[:2] != tup or last[:2] != tup or \
                    r["first_frame"] > r["last_frame"]:
                mism_frames += 1
                print(f"# {cap} {r['id']}: frames {r['first_frame']}..{r['last_frame']} "
                      f"are not all of {tup}")
            if r["handshake"] == "complete" and row:
                syns += 1
                not_syn += not row[3]
        # the filter as written, in tshark, shows exactly the span (first session)
        r = recs[0]
        shown = [int(x) for x in tshark("-r", cap, "-Y", r["wireshark_filter"], "-T", "fields",
                                        "-e", "frame.number").split()]
        filters += 1
        if not shown or min(shown) != r["first_frame"] or max(shown) != r["last_frame"]:
            bad_filters += 1
            print(f"# {cap}: {r['wireshark_filter']} shows {shown[:3]}..{shown[-3:]}")
    check(sessions > 50 and mism_cid == 0, f"community_id of {sessions} sessions equals the "
          "spec's algorithm and tshark's communityid of the session's first frame")
    check(mism_frames == 0, "first_frame and last_frame are frames of the session's "
          "addresses and ports in tshark's numbering")
    check(syns > 40 and not_syn == 0, f"a session with its handshake begins at its SYN "
          f"({syns} sessions)")
    check(bad_filters == 0, f"wireshark_filter in tshark -Y shows frames first_frame.."
          f"last_frame ({filters} captures)")
    v6 = records("-r", "captures/core-ipv6.pcap")
    check(v6 and v6[0]["wireshark_filter"].startswith("ipv6.addr=="), "IPv6: ipv6.addr")
    dns = records("-r", "captures/dns-lookups.pcap", "-r", "captures/dns-tcp.pcap", kind="dns")
    bad = [d for d in dns if d["community_id"] != community_id(
        6 if d["transport"] == "tcp" else 17, d["client"]["ip"], d["server"]["ip"],
        d["client"]["port"], d["server"]["port"])]
    check(dns and any(d["transport"] == "tcp" for d in dns) and not bad,
          f"community_id of {len(dns)} DNS records (UDP and TCP)")


def strip_frames(recs):
    """What a session is, without what depends on the rest of the capture:
    frame numbers, and findings that compare sessions (starttls-stripped
    reads an earlier session of the same server, which may not be written)."""
    keys = ("first_frame", "last_frame", "wireshark_filter", "anomalies")
    return sorted(json.dumps({k: v for k, v in r.items() if k not in keys}) for r in recs)


def big_session(path):
    """One session whose message (1.5 MB in 1000-byte segments) is more than
    a stream's -w buffer holds, after a short failed one."""
    from pcapw import tcp4, write_pcap
    c, s = bytes([192, 0, 2, 10]), bytes([192, 0, 2, 25])
    frames, t = [], 1_700_000_000.0

    def conv(port, lines):
        nonlocal t
        seq = {0: 1000, 1: 5000}
        frames.append((t, tcp4(c, s, port, 25, 999, 0, 0x02)))
        frames.append((t + 0.001, tcp4(s, c, 25, port, 4999, 1000, 0x12)))
        frames.append((t + 0.002, tcp4(c, s, port, 25, 1000, 5000, 0x10)))
        t += 0.01
        for side, data in lines:
            src, dst, sp, dp = (c, s, port, 25) if side == 0 else (s, c, 25, port)
            frames.append((t, tcp4(src, dst, sp, dp, seq[side], seq[1 - side], 0x18, data)))
            seq[side] += len(data)
            t += 0.0001
        frames.append((t, tcp4(s, c, 25, port, seq[1], seq[0], 0x11)))
        frames.append((t + 0.001, tcp4(c, s, port, 25, seq[0], seq[1] + 1, 0x11)))
        frames.append((t + 0.002, tcp4(s, c, 25, port, seq[1] + 1, seq[0] + 1, 0x10)))
        t += 1

    conv(40001, [(1, b"220 mx ESMTP\r\n"), (0, b"EHLO a\r\n"), (1, b"250 mx\r\n"),
                 (0, b"MAIL FROM:<a@b>\r\n"), (1, b"550 no\r\n"), (0, b"QUIT\r\n"),
                 (1, b"221 bye\r\n")])
    body = [(0, b"x" * 998 + b"\r\n") for _ in range(1500)]
    conv(40002, [(1, b"220 mx ESMTP\r\n"), (0, b"EHLO a\r\n"), (1, b"250 mx\r\n"),
                 (0, b"MAIL FROM:<a@b>\r\n"), (1, b"250 ok\r\n"),
                 (0, b"RCPT TO:<c@d>\r\n"), (1, b"250 ok\r\n"), (0, b"DATA\r\n"),
                 (1, b"354 go\r\n")] + body +
         [(0, b".\r\n"), (1, b"250 queued\r\n"), (0, b"QUIT\r\n"), (1, b"221 bye\r\n")])
    write_pcap(path, frames, 101)
    return len(frames)


def test_write():
    eth = subprocess.run([sys.executable, "test/lib/ether_captures.py"], capture_output=True,
                         text=True).stdout.split()
    merged = os.path.join(tmp, "all.pcap")
    subprocess.run(["mergecap", "-w", merged, *eth], check=True)
    allr = records("-r", merged)
    frames = tshark_frames(merged)
    for sel in (["--only", "failed"], ["--only", "ok,partial", "--phase", "QUIT"]):
        out = os.path.join(tmp, "w.pcap")
        want = records("-r", merged, *sel, "-w", out)
        got = records("-r", out)
        check(want and strip_frames(got) == strip_frames(want),
              f"-r X {' '.join(sel)} -w out.pcap, then -r out.pcap: the same "
              f"{len(want)} sessions, record for record")
        span = sum(1 for n, row in frames.items() for r in want
                   if r["first_frame"] <= n <= r["last_frame"] and
                   row[:2] == ({r["client"]["ip"], r["server"]["ip"]},
                               {r["client"]["port"], r["server"]["port"]}))
        n = len(tshark("-r", out, "-T", "fields", "-e", "frame.number").split())
        check(n == span, f"out.pcap holds exactly the sessions' frames ({n} of "
              f"{len(frames)}; tshark reads it)")
    with open(merged, "rb") as f:
        p = subprocess.run([binary, "-q", "-j", "-r", "-", "--only", "failed", "-w",
                            os.path.join(tmp, "s.pcap")], stdin=f, capture_output=True,
                           text=True)
    want = [json.loads(l) for l in p.stdout.splitlines()]
    # written session by session as each ends: in time order after reordercap
    ordered = os.path.join(tmp, "s-ordered.pcap")
    subprocess.run(["reordercap", os.path.join(tmp, "s.pcap"), ordered], capture_output=True)
    got = records("-r", ordered)
    check(want and strip_frames(got) == strip_frames(want) and not p.stderr,
          f"stdin (packets kept per session): the same {len(want)} failed sessions "
          "(after reordercap)")
    big = os.path.join(tmp, "big.pcap")
    nframes = big_session(big)
    out = os.path.join(tmp, "b.pcap")
    run("-r", big, "-w", out)
    n = len(tshark("-r", out, "-T", "fields", "-e", "frame.number").split())
    check(n == nframes, f"files: a 1.5 MB session is written whole ({n} of {nframes} frames)")
    with open(big, "rb") as f:
        p = subprocess.run([binary, "-r", "-", "-w", out, "-v", "1"], stdin=f,
                           capture_output=True, text=True)
    n = len(tshark("-r", out, "-T", "fields", "-e", "frame.number").split())
    check("packets not written" in p.stderr and "KiB kept per session" in p.stderr and
          12 < n < nframes, f"stdin: the per-session buffer is bounded and says so "
          f"({n} of {nframes} frames; {p.stderr.strip()[:90]})")
    p = run("-r", big, "-w", "/nonexistent/dir/x.pcap", ok=False)
    check(p.returncode == 2 and "-w /nonexistent" in p.stderr, "-w into a missing directory: "
          "exit 2, said")


def ports_capture(path):
    """SMTP on 8240 and 2526 (a multi-line greeting, helo in lower case),
    HTTP on 80, and a SYN to 443 nobody answered: no SMTP port among them."""
    from pcapw import tcp4, write_pcap
    c, s = bytes([192, 0, 2, 10]), bytes([192, 0, 2, 25])
    frames, t = [], 1_700_000_000.0

    def conv(port, cport, lines):
        nonlocal t
        seq = {0: 1000, 1: 5000}
        frames.append((t, tcp4(c, s, cport, port, 999, 0, 0x02)))
        frames.append((t + 0.001, tcp4(s, c, port, cport, 4999, 1000, 0x12)))
        frames.append((t + 0.002, tcp4(c, s, cport, port, 1000, 5000, 0x10)))
        t += 0.01
        for side, data in lines:
            src, dst, sp, dp = (c, s, cport, port) if side == 0 else (s, c, port, cport)
            frames.append((t, tcp4(src, dst, sp, dp, seq[side], seq[1 - side], 0x18, data)))
            seq[side] += len(data)
            t += 0.001
        frames.append((t, tcp4(s, c, port, cport, seq[1], seq[0], 0x11)))
        frames.append((t + 0.001, tcp4(c, s, cport, port, seq[0], seq[1] + 1, 0x11)))
        frames.append((t + 0.002, tcp4(s, c, port, cport, seq[1] + 1, seq[0] + 1, 0x10)))
        t += 1

    conv(8240, 40001, [(1, b"220 mx ESMTP\r\n"), (0, b"EHLO a\r\n"), (1, b"250 mx\r\n"),
                       (0, b"QUIT\r\n"), (1, b"221 bye\r\n")])
    conv(80, 40002, [(0, b"GET / HTTP/1.0\r\n\r\n"), (1, b"HTTP/1.0 200 OK\r\n\r\n")])
    conv(2526, 40003, [(1, b"220-mx ESMTP\r\n220 more\r\n"), (0, b"helo a\r\n"),
                       (1, b"250 mx\r\n"), (0, b"MAIL FROM:<a@b>\r\n"), (1, b"550 no\r\n")])
    frames.append((t, tcp4(c, s, 40004, 443, 1, 0, 0x02)))
    frames.append((t + 3, tcp4(c, s, 40004, 443, 1, 0, 0x02)))
    write_pcap(path, frames, 101)


def test_ports():
    cap = os.path.join(tmp, "ports.pcap")
    ports_capture(cap)
    p = subprocess.run([binary, "-r", cap], capture_output=True, text=True)
    check(p.stdout.strip() == "" and "smtpscope: no sessions on ports 25,465,587,2525; "
          "SMTP seen on 8240,2526: try -p 8240,2526\n" in p.stderr,
          f"no sessions: the ports that carried SMTP are named ({p.stderr.strip()[:120]})")
    check(run("-r", cap).stderr == "", "-q: no hint")
    tried = records("-p", "8240,2526", "-r", cap)
    check(sorted((r["server"]["port"], r["verdict"]) for r in tried) ==
          [(2526, "failed"), (8240, "ok")], "the suggested -p finds both sessions")
    anyr = records("-p", "any", "-r", cap)
    check(sorted((r["server"]["port"], r["verdict"]) for r in anyr) ==
          [(2526, "failed"), (8240, "ok")], "-p any: the SMTP sessions by content, not the "
          "HTTP connection nor the unanswered SYN to 443")
    missing = extra = 0
    for c in captures:
        dflt = {r["id"] for r in records("-r", c)}
        anyc = records("-p", "any", "-r", c)
        missing += len(dflt - {r["id"] for r in anyc})
        extra += sum(r["id"] not in dflt for r in anyc)
    hops = [r for r in records("-p", "any", "-r", "captures/diag-multi-hop.pcap")
            if r["server"]["port"] not in (25, 465, 587, 2525)]
    named = records("-p", "25,10025", "-r", "captures/diag-multi-hop.pcap")
    check(missing == 0 and extra == len(hops) and hops and
          strip_frames(hops) == strip_frames([r for r in named if r["server"]["port"] == 10025]),
          f"-p any on every bundled capture: every session of the default ports, plus "
          f"the {len(hops)} content-filter hops of diag-multi-hop on "
          f"{sorted({r['server']['port'] for r in hops})}, as -p 25,10025 has them")


MESSAGE = (
    b"Received: from relay.example.net (relay.example.net [198.51.100.7])\r\n"
    b"\tby mx.example.org with ESMTP id 1; Mon, 1 Dec 2026 10:00:02 +0000\r\n"
    b"Received: from [2001:db8::5] (helo=laptop)\r\n\tby relay.example.net; Mon, 1 Dec 2026 10:00:01 +0000\r\n"
    b"Received: from localhost by laptop (no address); Mon, 1 Dec 2026 10:00:00 +0000\r\n"
    b"From: Alice <alice@example.net>\r\nTo: bob@example.org\r\n"
    b"Cc: carol@example.org,\r\n dave@example.org\r\nReply-To: lists@example.net\r\n"
    b"User-Agent: Mutt/2.2\r\nSubject: report\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
    b"preamble\r\n--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"
    b"--inner\r\nContent-Type: text/plain\r\n\r\nhello\r\n--notaboundary\r\n"
    b"Content-Disposition: attachment; filename=fake.exe\r\n\r\n"
    b"--inner--\r\n--outer\r\nContent-Type: application/pdf; name=\"q4 report.pdf\"\r\n"
    b"Content-Disposition: attachment;\r\n filename=\"q4 report.pdf\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
    b"--outer\r\nContent-Type: image/png; name=logo.png\r\n\r\niVBORw0K\r\n--outer--\r\n")


def headers_capture(path):
    from pcapw import tcp4, write_pcap
    c, s = bytes([192, 0, 2, 10]), bytes([192, 0, 2, 25])
    seq, frames, t = {0: 1000, 1: 5000}, [], 1_700_000_000.0
    frames.append((t, tcp4(c, s, 40010, 25, 999, 0, 0x02)))
    frames.append((t + 0.001, tcp4(s, c, 25, 40010, 4999, 1000, 0x12)))
    frames.append((t + 0.002, tcp4(c, s, 40010, 25, 1000, 5000, 0x10)))
    t += 0.01
    for side, data in [(1, b"220 mx ESMTP\r\n"), (0, b"EHLO a\r\n"), (1, b"250 mx\r\n"),
                       (0, b"MAIL FROM:<alice@example.net>\r\n"), (1, b"250 ok\r\n"),
                       (0, b"RCPT TO:<bob@example.org>\r\n"), (1, b"250 ok\r\n"),
                       (0, b"DATA\r\n"), (1, b"354 go\r\n"), (0, MESSAGE + b".\r\n"),
                       (1, b"250 queued\r\n"), (0, b"QUIT\r\n"), (1, b"221 bye\r\n")]:
        src, dst, sp, dp = (c, s, 40010, 25) if side == 0 else (s, c, 25, 40010)
        frames.append((t, tcp4(src, dst, sp, dp, seq[side], seq[1 - side], 0x18, data)))
        seq[side] += len(data)
        t += 0.001
    frames.append((t, tcp4(s, c, 25, 40010, seq[1], seq[0], 0x11)))
    frames.append((t + 0.001, tcp4(c, s, 40010, 25, seq[0], seq[1] + 1, 0x11)))
    frames.append((t + 0.002, tcp4(s, c, 25, 40010, seq[1] + 1, seq[0] + 1, 0x10)))
    write_pcap(path, frames, 101)


def test_headers():
    cap = os.path.join(tmp, "headers.pcap")
    headers_capture(cap)
    r = records("--headers", "-r", cap)
    h = r[0]["transactions"][0]["headers"] if r and r[0]["transactions"] else {}
    check(h.get("cc") == "carol@example.org, dave@example.org" and
          h.get("reply_to") == "lists@example.net" and h.get("mailer") == "Mutt/2.2",
          f"Cc (unfolded), Reply-To, User-Agent as mailer ({h.get('cc')!r})")
    check(h.get("received") == {"hops": 3, "first": "2001:db8::5", "last": "198.51.100.7"},
          f"Received: 3 hops, the newest relay 198.51.100.7, the oldest one named "
          f"2001:db8::5 (IPv6 literal; the bottom hop has none) ({h.get('received')})")
    check(h.get("attachments") == ["q4 report.pdf", "logo.png"] and
          h.get("attachment_count") == 2, "attachment names from part headers, one a part, "
          f"not from a part's content ({h.get('attachments')})")
    # tshark's IMF dissector reads the same fields
    imf = tshark("-r", cap, "-Y", "imf", "-T", "fields", "-E", "separator=|",
                 "-e", "imf.cc", "-e", "imf.reply_to", "-e", "imf.user_agent").strip()
    check(imf.split("|")[1:] == ["lists@example.net", "Mutt/2.2"],
          f"tshark's IMF agrees on Reply-To and User-Agent ({imf[:80]})")
    text = run("-v", "3", "-r", cap).stdout
    check("Attachment: q4 report.pdf" in text and "hop 1 from 198.51.100.7" in text and
          "hop 3, no address" in text and "Header Cc: carol@example.org" in text,
          "the text log (-v 3) notes them")
    check("JVBERi0" not in json.dumps(r) + text, "no part content in any output")


def test_tsv():
    cols = ["id", "start", "client", "server_port", "community_id", "first_frame",
            "verdict", "phase", "code", "rcpt", "findings", "helo"]
    out = run("--tsv", ",".join(cols), *reads(captures)).stdout.splitlines()
    allr = records(*reads(captures))
    check(out and out[0] == "#fields\t" + "\t".join(cols), "--tsv: a #fields line first")
    rows = [dict(zip(cols, l.split("\t"))) for l in out[1:]]
    bad = 0
    for row, r in zip(rows, allr):
        fail = r["failure"] or {}
        want = {"id": r["id"], "start": r["start"], "client": r["client"]["ip"],
                "server_port": str(r["server"]["port"]), "community_id": r["community_id"],
                "first_frame": str(r["first_frame"]), "verdict": r["verdict"],
                "phase": fail.get("phase") or "-",
                "code": str(fail["code"]) if fail.get("code") else "-",
                "rcpt": ",".join(x["addr"] for t in r["transactions"] for x in t["rcpt"]) or "-",
                "findings": ",".join(a["name"] for a in r["anomalies"]) or "-",
                "helo": r["helo"] or "-"}
        if row != want:
            bad += 1
            print(f"# {r['id']}: {row} != {want}")
    check(len(rows) == len(allr) and bad == 0 and all(l.count("\t") == len(cols) - 1
                                                        for l in out[1:]),
          f"--tsv: every one of {len(rows)} rows has the JSON record's values, no stray tab")
    p = run("--tsv", "id,nosuch", "-r", captures[0], ok=False)
    check(p.returncode == 1 and "unknown field 'nosuch'" in p.stderr, "--tsv: an unknown field "
          "is a usage error naming the fields")


import shutil  # noqa: E402
import sys as _s
if len(_s.argv) > 2:
    globals()[_s.argv[2]]()
else:
    test_select()
    test_pivots()
    test_write()
    test_ports()
    test_headers()
    test_tsv()
shutil.rmtree(tmp, ignore_errors=True)
finish()
