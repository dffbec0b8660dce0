"""compare_test.py - --compare on two capture points of known middleboxes.

Every scenario of make_compare.py is written as a client-side and a
server-side pcap; smtpscope --compare --json must pair the sessions and
name exactly what the device did (and nothing it did not do). The mix
checks pairing when hundreds of proxied sessions overlap in time: the
test knows each session's sender, so it knows the right partner.

    python3 test/compare/compare_test.py ./smtpscope
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import make_compare  # noqa: E402
from tap import check, finish  # noqa: E402

BIN = sys.argv[1] if len(sys.argv) > 1 else "./smtpscope"

# scenario -> (paired, the middlebox findings expected, exactly)
EXPECT = {
    "transparent": (True, set()),
    "banner-masked": (True, {"banner-rewritten"}),
    "starttls-stripped": (True, {"starttls-removed"}),
    "chunking-hidden": (True, {"keyword-removed"}),
    "command-masked": (True, {"command-rewritten"}),
    "reply-injected": (True, {"reply-injected", "command-dropped", "command-injected",
                              "reply-dropped"}),
    "reset-injected": (True, {"reset-injected"}),
    "reset-both-saw": (True, set()),
    "message-altered": (True, {"message-altered"}),
    "redirected": (True, {"redirected"}),
    "proxied": (True, {"reoriginated", "command-rewritten"}),
    "slow-path": (True, {"middlebox-delay"}),
    "clock-offset": (True, set()),
    "client-only": (False, {"one-side-only"}),
    "server-only": (False, {"one-side-only"}),
    "server-side-cut": (True, set()),
}


def run(tmp, name, frames, extra=()):
    make_compare.write(tmp, name, frames)
    c, s = (os.path.join(tmp, name + x) for x in (".c.pcap", ".s.pcap"))
    p = subprocess.run([BIN, "-q", "--json", "--summary", *extra, "--compare", c, s],
                       capture_output=True, text=True, timeout=120)
    recs = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
    return p, [r for r in recs if r["type"] == "pair"], \
        [r for r in recs if r["type"] == "compare_summary"]


def names(rec):
    return {f["name"] for f in rec["findings"]}


def check_scenarios(tmp):
    for name, (paired, want) in EXPECT.items():
        p, pairs, summ = run(tmp, name, make_compare.scenario(name))
        if not check(p.returncode == 0 and len(summ) == 1,
                     "%s: runs (exit %d) and ends with one summary" % (name, p.returncode)):
            print("#", p.stderr[:400])
            continue
        if paired:
            check(len(pairs) == 1 and pairs[0]["client_side"] and pairs[0]["server_side"],
                  "%s: the two views are one pair" % name)
        else:
            check(all(not (r["client_side"] and r["server_side"]) for r in pairs),
                  "%s: nothing paired" % name)
        got = set().union(*(names(r) for r in pairs)) if pairs else set()
        check(got == want, "%s: findings %s (got %s)" % (name, sorted(want), sorted(got)))
        for r in pairs:
            check(all(f["kind"] in ("middlebox", "capture") for f in r["findings"]),
                  "%s: its findings are of kind middlebox" % name)


def check_details(tmp):
    _, pairs, _ = run(tmp, "slow-path", make_compare.scenario("slow-path"))
    added = pairs[0]["added_median_ms"]
    check(1150 <= added <= 1250, "slow-path: the path added ~1200 ms a reply (%s)" % added)
    check(all(d["server_side_ms"] < 50 for d in pairs[0]["delays"]),
          "slow-path: the server's own latency stays small on the server side")
    _, pairs, summ = run(tmp, "clock-offset", make_compare.scenario("clock-offset"))
    off = summ[0]["clock_offset_ms"]
    check(abs(off - 3600002) < 1, "clock-offset: the clocks' offset estimated (%s ms)" % off)
    check("addresses" in pairs[0]["paired_by"], "clock-offset: still paired by addresses")
    _, pairs, _ = run(tmp, "proxied", make_compare.scenario("proxied"))
    by = set(pairs[0]["paired_by"])
    check({"message-id", "envelope"} <= by and "addresses" not in by,
          "proxied: paired by Message-ID and envelope, not addresses (%s)" % sorted(by))
    _, pairs, _ = run(tmp, "command-masked", make_compare.scenario("command-masked"))
    diffs = pairs[0]["differences"]
    check(len(diffs) == 1 and diffs[0]["mark"] == "changed" and
          diffs[0]["client_side"]["line"] == "VRFY bob" and
          diffs[0]["server_side"]["line"] == "XXXXXXXX",
          "command-masked: one changed row, VRFY bob -> XXXXXXXX")
    _, pairs, _ = run(tmp, "reply-injected", make_compare.scenario("reply-injected"))
    sides = [pairs[0]["client_side"], pairs[0]["server_side"]]
    check([x["message_id"] for x in sides] == [None, None] and sides[0]["mail_from"],
          "reply-injected: no message sent, no Message-ID (not the EHLO name) on either side "
          "(%s)" % [x["message_id"] for x in sides])
    _, pairs, _ = run(tmp, "server-side-cut", make_compare.scenario("server-side-cut"))
    check(pairs[0]["cut_side"] == "server", "server-side-cut: the cut side is named")


def check_mix(tmp):
    p, pairs, summ = run(tmp, "mix", make_compare.mix(300))
    both = [r for r in pairs if r["client_side"] and r["server_side"]]
    check(len(both) == 306, "mix: all 306 sessions paired (%d)" % len(both))
    wrong = [r for r in both if r["client_side"]["mail_from"] != r["server_side"]["mail_from"]]
    check(not wrong, "mix: every enveloped pair has the same sender (%d wrong)" % len(wrong))
    sure = [r for r in both if r["client_side"]["mail_from"]]
    check(len(sure) == 300 and not any(r["uncertain"] for r in sure),
          "mix: the 300 enveloped pairs are sure")
    bare = [r for r in both if not r["client_side"]["mail_from"]]
    check(len(bare) == 6 and all(r["uncertain"] for r in bare) and
          all("pairing-uncertain" in names(r) for r in bare),
          "mix: the 6 greeting-only pairs are said to be guesses")
    ports_ok = all(r["server_side"]["client"]["port"] - r["client_side"]["client"]["port"]
                   == 10000 for r in bare)
    check(ports_ok, "mix: the guesses are still the right partners (closest start)")
    check(summ and summ[0]["paired"] == 306 and summ[0]["uncertain"] == 6,
          "mix: the summary counts 306 pairs, 6 uncertain")


def check_several_files(tmp):
    """A side of several files (commas): the mix's client side in two halves
    pairs as the whole did."""
    cf, sf = make_compare.mix(60)
    half = len(cf) // 2
    paths = [os.path.join(tmp, n) for n in ("c1.pcap", "c2.pcap", "s.pcap")]
    make_compare.write_pcap(paths[0], cf[:half], 101)
    make_compare.write_pcap(paths[1], cf[half:], 101)
    make_compare.write_pcap(paths[2], sf, 101)
    p = subprocess.run([BIN, "-q", "--json", "--summary", "--compare",
                        paths[0] + "," + paths[1], paths[2]], capture_output=True, text=True,
                       timeout=60)
    summ = [json.loads(x) for x in p.stdout.splitlines() if '"compare_summary"' in x]
    check(p.returncode == 0 and summ and summ[0]["paired"] == 66 and
          summ[0]["client_side_only"] == 0,
          "a side of two files, comma-separated: all 66 pairs (%s)" % (summ[:1],))


def check_side_messages(tmp):
    """A side's warnings name the side: the server side cut to 80 bytes a
    packet says so as 'server side', not as a bare smtpscope warning."""
    cf, sf = make_compare.scenario("proxied")
    c, sv = os.path.join(tmp, "named.c.pcap"), os.path.join(tmp, "named.s.pcap")
    make_compare.write_pcap(c, cf, 101)
    make_compare.write_pcap(sv, sf, 101, snaplen=80)
    p = subprocess.run([BIN, "--compare", c, sv], capture_output=True, text=True, timeout=60)
    lines = [l for l in p.stderr.splitlines() if "snap length" in l]
    check(lines and all(l.startswith("smtpscope: server side: warning:") for l in lines),
          "a side's warning names its side (%s)" % lines[:1])


def check_auth_secrets(tmp):
    """AUTH PLAIN and LOGIN through a proxy: no password, raw or base64, in
    any --compare output (text, JSON, HTML), on clean captures and degraded
    ones: the 334 prompts lost on one side, the server side cut to one
    direction, both cut short by a small snap length."""
    import base64
    pw = b"s3cretPassw0rd"
    plain = base64.b64encode(b"\0alice\0" + pw)
    login = [(make_compare.C, b"AUTH LOGIN"), (make_compare.S, b"334 VXNlcm5hbWU6"),
             (make_compare.C, base64.b64encode(b"bob")), (make_compare.S, b"334 UGFzc3dvcmQ6"),
             (make_compare.C, base64.b64encode(pw)), (make_compare.S, b"235 2.7.0 ok")]
    d = make_compare.delivery()
    steps = d[:3] + [(make_compare.C, b"AUTH PLAIN " + plain),
                     (make_compare.S, b"535 5.7.8 try again")] + login + d[3:]
    lost334 = [x for x in steps if not x[1].startswith(b"334")]
    secrets = [pw, plain, base64.b64encode(pw)]
    cases = {"clean": (steps, steps, None), "lost-334": (steps, lost334, None),
             "server-one-direction": (steps, steps, "one-way"), "snap-80": (steps, steps, 80)}
    for name, (cs, ss, how) in cases.items():
        cf, sf = make_compare.both_at(cs, ss, s_addr=(make_compare.PROXY, 51515, make_compare.MX))
        if how == "one-way":  # only what the client sent reached this capture
            sf = [f for f in sf if f[1][12:16] == make_compare.ip(make_compare.PROXY)]
        c, sv = (os.path.join(tmp, "auth-%s.%s.pcap" % (name, x)) for x in "cs")
        make_compare.write_pcap(c, cf, 101, snaplen=how if isinstance(how, int) else None)
        make_compare.write_pcap(sv, sf, 101, snaplen=how if isinstance(how, int) else None)
        page = os.path.join(tmp, "auth-%s.html" % name)
        outs = []
        for extra in ([], ["--json"], ["--html", page]):
            p = subprocess.run([BIN, "-q", "--summary", *extra, "--compare", c, sv],
                               capture_output=True, timeout=60)
            outs.append(p.stdout + p.stderr)
        outs.append(open(page, "rb").read() if os.path.exists(page) else b"")
        leaked = [x for x in secrets for o in outs if x in o]
        check(outs[3] and b"AUTH" in outs[0] and not leaked,
              "AUTH through a proxy, %s: no password in text, JSON or HTML (%s)" %
              (name, leaked[:1]))
        if name == "clean":  # the check can fail: --show-secrets shows them
            p = subprocess.run([BIN, "-q", "--show-secrets", "--compare", c, sv],
                               capture_output=True, timeout=60)
            check(plain in p.stdout, "AUTH through a proxy: --show-secrets does show the "
                                     "credentials (the check above can fail)")


def check_usage():
    for args, what in ((["--compare", "a.pcap"], "one side"),
                       (["--compare", "-r", "a", "-r", "b", "--tsv", "id"], "--tsv"),
                       (["-i", "lo", "-i", "lo"], "-i twice without --compare")):
        p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=30)
        check(p.returncode == 1 and "smtpscope:" in p.stderr,
              "usage: %s refused with a message (exit %d)" % (what, p.returncode))
    p = subprocess.run([BIN, "--compare", "/nonexistent/a.pcap", "/nonexistent/b.pcap"],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == 2 and "nothing compared" in p.stderr,
          "a side that cannot be read: exit 2, nothing compared")


with tempfile.TemporaryDirectory() as tmp:
    check_scenarios(tmp)
    check_details(tmp)
    check_mix(tmp)
    check_side_messages(tmp)
    check_several_files(tmp)
    check_auth_secrets(tmp)
    check_usage()
finish()
