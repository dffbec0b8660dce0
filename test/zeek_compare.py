#!/usr/bin/env python3
"""zeek_compare.py - smtpscope against the smtp.log Zeek wrote for each of
its public SMTP traces (../shared/public-captures/zeek, used by path, never
copied; override with ZEEK_TRACES).

Zeek writes one row per transaction. The n-th row of a connection is
compared with smtpscope's n-th transaction of that connection (Zeek's
trans_depth is not used: it stops counting when it sees no replies). The
HELO name, MAIL FROM, the RCPT TO set and the code of the transaction's
last reply must match. Every disagreement is a failure unless
test/zeek_allowlist.txt lists it ("TRACE CLIENT:PORT-rN FIELD", FIELD "row"
for a row that has no counterpart at all) with the reason Zeek is wrong:
the bytes were read to decide.

Usage: zeek_compare.py [SMTPSCOPE]   (env SMTPSCOPE works too)
"""
import glob
import json
import os
import subprocess
import sys

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
binary = (sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SMTPSCOPE", "./smtpscope"))
sys.path.insert(0, "test/lib")
from tap import zeek_traces  # noqa: E402
root = zeek_traces()
if not root:
    print("not ok - Zeek traces not found at ../shared/public-captures/zeek (set ZEEK_TRACES)")
    sys.exit(1)

allow = {}
for line in open("test/zeek_allowlist.txt"):
    line = line.split("#", 1)[0].strip()
    if line:
        trace, key, field = line.split()[:3]
        allow[(trace, key, field)] = True


def zeek_rows(path):
    fields, rows = None, []
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line and not line.startswith("#") and fields:
            rows.append(dict(zip(fields, line.split("\t"))))
    return rows


def unset(v):
    return None if v in ("-", "(empty)") else v


def last_code(tx):
    """The code of the last reply in a transaction, as Zeek's last_reply."""
    for key in ("data_code", "data_cmd_code"):
        if tx.get(key):
            return tx[key]
    codes = [r["code"] for r in tx["rcpt"] if r["code"]]
    if codes:
        return codes[-1]
    return tx.get("mail_code")


# Traces whose SMTP runs on another port: the options an admin would give.
EXTRA = {
    # SMTP through an open HTTP proxy on port 8240 (CONNECT tunnel)
    "connect-with-smtp": ["-p", "25,8240"],
}

failed = 0
for log in sorted(glob.glob(os.path.join(root, "*", "smtp.log"))):
    d = os.path.dirname(log)
    trace = os.path.basename(d)
    caps = sorted(glob.glob(os.path.join(d, "*.pcap")) + glob.glob(os.path.join(d, "*.trace")))
    rows = zeek_rows(log)
    if not caps or not rows:
        continue
    out = subprocess.run([binary, "-q", "-j", *EXTRA.get(trace, []),
                          *sum((["-r", c] for c in caps), [])],
                         capture_output=True, text=True)
    if out.returncode != 0:
        print(f"not ok - {trace}: smtpscope exit status {out.returncode}: {out.stderr[:200]}")
        failed += 1
        continue
    sessions = {}
    for l in out.stdout.splitlines():
        s = json.loads(l)
        if s.get("type") == "session":
            k = (s["client"]["ip"], str(s["client"]["port"]), s["server"]["ip"], str(s["server"]["port"]))
            sessions[k] = s
    agree = 0
    seen_rows = {}
    used = {}
    for row in rows:
        conn = (row["id.orig_h"], row["id.orig_p"], row["id.resp_h"], row["id.resp_p"])
        seen_rows[conn] = seen_rows.get(conn, 0) + 1
        key = f"{conn[0]}:{conn[1]}-r{seen_rows[conn]}"
        if (trace, key, "row") in allow:
            print(f"ok - {trace} {key}: allow-listed row without counterpart")
            continue
        used[conn] = used.get(conn, 0) + 1
        depth = used[conn]
        s = sessions.get(conn)
        problems = []
        if not s:
            problems.append(("session", "a session", "none"))
        else:
            txs = s["transactions"]
            tx = txs[depth - 1] if depth <= len(txs) else None
            z_helo, z_from = unset(row["helo"]), unset(row["mailfrom"])
            z_rcpt = set(filter(None, (unset(row["rcptto"]) or "").split(",")))
            z_reply = unset(row["last_reply"])
            z_code = int(z_reply[:3]) if z_reply and z_reply[:3].isdigit() else None
            if (z_helo or None) != (s["helo"] or None):
                problems.append(("helo", z_helo, s["helo"]))
            if tx is None:
                if z_from or z_rcpt:
                    problems.append(("transaction", f"depth {depth}", f"{len(txs)} transactions"))
            else:
                if (z_from or "") != (tx["mail_from"] or ""):
                    problems.append(("mailfrom", z_from, tx["mail_from"]))
                s_rcpt = {r["addr"] for r in tx["rcpt"]}
                if z_rcpt != s_rcpt:
                    problems.append(("rcptto", sorted(z_rcpt), sorted(s_rcpt)))
                if z_code is not None and z_code != last_code(tx):
                    problems.append(("last_reply", z_reply, last_code(tx)))
        for field, z, ours in problems:
            if (trace, key, field) in allow:
                print(f"ok - {trace} {key} {field}: allow-listed (zeek={z!s:.80} smtpscope={ours!s:.80})")
            else:
                print(f"not ok - {trace} {key} {field}: zeek={z!s:.120} smtpscope={ours!s:.120}")
                failed += 1
        if not problems:
            agree += 1
    if agree:
        print(f"ok - {trace}: {agree} of {len(rows)} transactions agree with Zeek "
              f"(helo, mailfrom, rcptto, last reply)")
sys.exit(1 if failed else 0)
