"""check_lossy_lab.py BIN DIR CLEAN RUN... - what test_lossy_lab.sh recorded,
read by smtpscope --json.

Each run left DIR/RUN.s.pcap (the router's server-facing interface),
DIR/RUN.c.pcap (the client's namespace) and DIR/RUN.fwd.log (what the
forwarder did to each frame). The MTAs recovered from every impairment,
so smtpscope must too: each lossy run's verdicts and transcripts are the
clean run's. Its path counts are checked against tshark's tcp.analysis on
the same capture and against the forwarder's log (the truth)."""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import check, finish  # noqa: E402

BIN, D, CLEAN, RUNS = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
SIDES = {"s": "server-facing", "c": "client's"}


def sessions(path):
    p = subprocess.run([BIN, "-q", "--json", "-r", path], capture_output=True, text=True,
                       timeout=60)
    check(p.returncode == 0, f"{os.path.basename(path)}: smtpscope runs ({p.returncode}) "
          f"{p.stderr[:200]}")
    recs = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
    return sorted((r for r in recs if r["type"] == "session"), key=lambda r: r["start"])


def dialogue(rec):
    """The transcript as the MTAs spoke it; only the queue id differs
    between runs (Postfix names each message anew)."""
    return [(t["dir"], re.sub(r"queued as [0-9A-F]+", "queued as Q", t["line"]))
            for t in rec["transcript"]]


def findings(rec):
    return {a["name"] for a in rec["anomalies"]}


def tshark_resent(path):
    """tshark's retransmitted and out-of-order segments per sender (SYNs
    aside: smtpscope counts those as syn_count). Together: tshark splits
    them by a 3 ms rule that calls a sender's own fast retransmission on a
    LAN out of order, where smtpscope knows it saw that segment before
    (the split is checked against the forwarder's log instead)."""
    out = subprocess.run(["tshark", "-r", path, "-Y", "tcp.port==25 && tcp.flags.syn==0 && "
                          "(tcp.analysis.retransmission || tcp.analysis.fast_retransmission || "
                          "tcp.analysis.out_of_order)", "-T", "fields", "-e", "tcp.srcport"],
                         capture_output=True, text=True).stdout.split()
    return {"server": out.count("25"), "client": len(out) - out.count("25")}


def tshark_zero_stalls(path):
    """Per client port, the longest time the server's window stayed 0 as
    tshark reads the capture: from a server segment announcing 0 (not a
    SYN, FIN or RST) to the server's next one announcing more."""
    out = subprocess.run(["tshark", "-r", path, "-Y", "tcp.srcport==25", "-T", "fields",
                          "-e", "frame.time_epoch", "-e", "tcp.dstport", "-e",
                          "tcp.window_size_value", "-e", "tcp.flags"],
                         capture_output=True, text=True).stdout.splitlines()
    since, stall = {}, {}
    for line in out:
        t, port, win, flags = line.split("\t")
        t, win, flags = float(t), int(win), int(flags, 16)
        if win == 0 and not flags & 0x07:
            since.setdefault(port, t)
        elif win and port in since:
            stall[port] = max(stall.get(port, 0.0), t - since.pop(port))
    return stall


def forwarder_log(run):
    with open(f"{D}/{run}.fwd.log") as f:
        recs = [json.loads(x) for x in f if x.strip()]
    return [r for r in recs if "act" in r], recs[-1]


def acted(log, act, d, data=True):
    """Frames of direction d the forwarder did `act` to (data: only those
    that occupy sequence space, as a retransmission does)."""
    return sum(1 for r in log if r["act"] == act and r["dir"] == d and
               (not data or r.get("len", 0) > 0 or "F" in r.get("flags", "")))


def near(a, b):
    return abs(a - b) <= max(3, b // 5)


def summary(recs):
    return " ".join("%s/%s re %s/%s ooo %s/%s zw %s" % (
        r["verdict"], r["end_phase"], r["tcp"]["retransmits"]["client"],
        r["tcp"]["retransmits"]["server"], r["tcp"]["out_of_order"]["client"],
        r["tcp"]["out_of_order"]["server"], r["tcp"]["zero_window"]["server"]) for r in recs)


def check_run(run, side, clean):
    path = f"{D}/{run}.{side}.pcap"
    recs = sessions(path)
    where = f"{run} ({SIDES[side]} capture)"
    print(f"# {where}: {summary(recs)}")
    if not check(len(recs) == 2, f"{where}: two sessions ({len(recs)})"):
        return None
    for k, (r, c) in enumerate(zip(recs, clean)):
        who = ("swaks", "smtplib")[k]
        check(r["verdict"] == "ok" and r["verdict"] == c["verdict"] and
              r["end_phase"] == c["end_phase"],
              f"{where} {who}: verdict {r['verdict']} at {r['end_phase']} as clean "
              f"({c['verdict']} at {c['end_phase']})")
        check(dialogue(r) == dialogue(c), f"{where} {who}: the transcript is the clean run's")
        check([t["bytes"] for t in r["transactions"]] == [t["bytes"] for t in c["transactions"]],
              f"{where} {who}: the message has the clean run's size "
              f"({[t['bytes'] for t in r['transactions']]})")
        bad = findings(r) & {"capture-gap", "pairing-resync", "overlap-mismatch"}
        if not check(not bad, f"{where} {who}: no {sorted(bad)}"):
            for a in r["anomalies"]:
                print(f"#   {a['name']}: {a['detail']}")
    theirs = tshark_resent(path)
    ours = {d: sum(r["tcp"]["retransmits"][d] + r["tcp"]["out_of_order"][d] for r in recs)
            for d in ("client", "server")}
    check(all(near(ours[d], theirs[d]) for d in ours),
          f"{where}: retransmitted + out of order {ours} near tshark's {theirs}")
    return recs


def main():
    clean = {side: sessions(f"{D}/{CLEAN}.{side}.pcap") for side in SIDES}
    for side in SIDES:
        check(len(clean[side]) == 2 and all(r["verdict"] == "ok" for r in clean[side]),
              f"{CLEAN} ({SIDES[side]}): two sessions, both OK")
    got = {}
    for run in [CLEAN] + RUNS:
        for side in SIDES:
            got[run, side] = check_run(run, side, clean[side]) or []
    for side in SIDES:
        names = set().union(*(findings(r) for r in got[CLEAN, side]))
        check(not names & {"lossy-path", "zero-window"},
              f"{CLEAN} ({SIDES[side]}): no lossy-path, no zero-window ({sorted(names)})")
        if "loss5" in RUNS:
            check(any("lossy-path" in findings(r) for r in got["loss5", side]),
                  f"loss5 ({SIDES[side]}): lossy-path")
        # late or twice, never lost: no segment was sent again
        for run in {"reorder", "dup"} & set(RUNS):
            names = set().union(*(findings(r) for r in got[run, side]))
            check("lossy-path" not in names, f"{run} ({SIDES[side]}): no lossy-path")
    truth_checks(got)
    snap_checks()


def snap_checks():
    """The same real captures cut to a small snap length (editcap -s): every
    session still reported, snaplen-cut named, and never FAILED for what
    the cut hid (the MTAs delivered)."""
    for run in [CLEAN] + [r for r in ("loss5", "reorder") if r in RUNS]:
        for side in SIDES:
            src, cut = f"{D}/{run}.{side}.pcap", f"{D}/{run}.{side}.s150.pcap"
            subprocess.run(["editcap", "-s", "150", src, cut], check=True)
            recs = sessions(cut)
            where = f"{run} ({SIDES[side]}) cut to 150 bytes a packet"
            check(len(recs) == 2, f"{where}: both sessions reported ({len(recs)})")
            check(all(r["verdict"] in ("ok", "incomplete") for r in recs) and
                  all("snaplen-cut" in findings(r) for r in recs),
                  f"{where}: OK or INCOMPLETE, snaplen-cut named, never FAILED "
                  f"({[r['verdict'] for r in recs]})")


def truth_checks(got):
    """The forwarder's log against what each capture point can see."""
    if "loss5" in RUNS and got["loss5", "c"]:
        log, _ = forwarder_log("loss5")
        re_c = sum(r["tcp"]["retransmits"]["client"] for r in got["loss5", "c"])
        lost = acted(log, "drop", "c2s")
        # the client's capture sees each segment the router lost, then its copy
        check(lost > 0 and near(re_c, lost),
              f"loss5 (client's capture): client retransmissions {re_c}, the forwarder "
              f"lost {lost} of its segments")
    if "dup" in RUNS and got["dup", "s"]:
        log, _ = forwarder_log("dup")
        re_c = sum(r["tcp"]["retransmits"]["client"] for r in got["dup", "s"])
        dups = acted(log, "duplicate", "c2s")
        # behind the router, each duplicate is a copy of a segment just seen
        check(dups > 0 and near(re_c, dups),
              f"dup (server-facing capture): client retransmissions {re_c}, the forwarder "
              f"duplicated {dups} of its segments")
    if "zerowin" in RUNS and got["zerowin", "c"] and got["zerowin", "s"]:
        log, _ = forwarder_log("zerowin")
        rewritten = sum(1 for r in log if r["act"] == "zero-window" and r["win"] != 0)
        zc = sum(r["tcp"]["zero_window"]["server"] for r in got["zerowin", "c"])
        zs = sum(r["tcp"]["zero_window"]["server"] for r in got["zerowin", "s"])
        check(rewritten == 4 and zc == zs + rewritten,
              f"zerowin: the client saw {zc} zero windows = the server's own {zs} + "
              f"{rewritten} the router wrote")
        # the finding where the window stayed 0 for 200 ms or more, as tshark
        # times it; a window closed for a moment is flow control, no finding
        stalls = tshark_zero_stalls(os.path.join(D, "zerowin.c.pcap"))
        for r in got["zerowin", "c"]:
            stall = stalls.get(str(r["client"]["port"]), 0.0)
            if abs(stall - 0.2) < 0.005:
                continue  # too close to the line to say
            check(("zero-window" in findings(r)) == (stall >= 0.2),
                  f"zerowin (client's capture), port {r['client']['port']}: the server's "
                  f"window 0 for {stall:.3f} s (tshark): "
                  f"{'zero-window' if stall >= 0.2 else 'no zero-window'} ({sorted(findings(r))})")
    for run in RUNS + [CLEAN]:
        _, last = forwarder_log(run)
        check(sum(last.get("socket_drops", {1: 1}).values()) == 0,
              f"{run}: the forwarder's sockets dropped nothing ({last.get('socket_drops')})")


main()
finish()
