#!/usr/bin/env python3
"""check_live.py SMTPSCOPE DIR - what smtpscope must say about captures
freshly recorded from real Postfix and swaks (captures/make_captures.sh):
the verdict, the failing phase and reply, how it ended, the transactions.
Timestamps, ports and queue ids differ on every run; the meaning must not."""
import json
import os
import subprocess
import sys

binary, d = sys.argv[1], sys.argv[2]

# name: (verdict, failure phase, failure code, enhanced, transactions,
#        rcpt codes of the first transaction, accepted messages)
EXPECT = {
    "core-success": ("ok", None, None, None, 1, [250], 1),
    "core-ehlo-quit": ("ok", None, None, None, 0, [], 0),
    "core-unknown-user": ("failed", "RCPT", 550, "5.1.1", 1, [550], 0),
    "core-relay-denied": ("failed", "RCPT", 554, "5.7.1", 1, [554], 0),
    "core-multi-rcpt": ("failed", "RCPT", 550, "5.1.1", 1, [250, 550, 250], 1),
    "core-two-transactions": ("ok", None, None, None, 2, [250], 2),
}

failed = 0


def check(cond, what):
    global failed
    print(("ok - " if cond else "not ok - ") + what)
    failed += not cond
    return cond


for name, (verdict, phase, code, enh, ntx, rcodes, accepted) in EXPECT.items():
    cap = os.path.join(d, name + ".pcap")
    if not os.path.exists(cap):
        check(False, f"{name}: capture was not recorded")
        continue
    out = subprocess.run([binary, "-q", "-j", "-r", cap], capture_output=True, text=True)
    recs = [json.loads(l) for l in out.stdout.splitlines()]
    sessions = [r for r in recs if r["type"] == "session"]
    if not check(len(sessions) == 1, f"{name}: exactly one session ({len(sessions)})"):
        continue
    s = sessions[0]
    check(s["verdict"] == verdict, f"{name}: verdict {s['verdict']} == {verdict}")
    f = s["failure"] or {}
    check(f.get("phase") == phase and f.get("code") == code and f.get("enhanced") == enh,
          f"{name}: failure {f.get('phase')} {f.get('code')} {f.get('enhanced')} == {phase} {code} {enh}")
    check(s["end_cause"] == "quit", f"{name}: ended by QUIT ({s['end_cause']})")
    check(s["handshake"] == "complete", f"{name}: handshake complete")
    check(s["helo"] == "client.example.com", f"{name}: HELO name ({s['helo']})")
    tx = s["transactions"]
    check(len(tx) == ntx, f"{name}: {len(tx)} transactions == {ntx}")
    if tx:
        got = [r["code"] for r in tx[0]["rcpt"]]
        check(got == rcodes, f"{name}: RCPT codes {got} == {rcodes}")
    acc = [t for t in tx if t["result"] == "accepted"]
    check(len(acc) == accepted, f"{name}: {len(acc)} messages accepted == {accepted}")
    check(all(t["queue_id"] for t in acc), f"{name}: every accepted message has a queue id")
    check(all(t["bytes"] > 0 for t in acc), f"{name}: every accepted message has a size")
    check(not s["anomalies"] or all(a["name"] == "relay-denied" for a in s["anomalies"]),
          f"{name}: no unexpected anomaly ({[a['name'] for a in s['anomalies']]})")
sys.exit(1 if failed else 0)
