#!/usr/bin/env python3
"""degraded_test.py SMTPSCOPE [SANITIZED_SMTPSCOPE] - degraded captures
(make_degraded.py) are named, not misread: snap-length cuts and segments
never captured are gaps after which the dialogue resumes, reordering and
duplicates that resolve leave no trace, overlapping retransmissions that
differ are a finding, a reordered handshake is a handshake, one-sided
captures say which side is missing, a capture that begins inside TLS is
encrypted."""
import json
import os
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "lib"))
from tap import check, finish  # noqa: E402

bins = sys.argv[1:] or ["./smtpscope"]
work = tempfile.mkdtemp()
subprocess.run([sys.executable, os.path.join(here, "make_degraded.py"), work], check=True)


def run(binary, name, *opts):
    p = subprocess.run([binary, *opts, "-r", os.path.join(work, name)],
                       capture_output=True)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def record(binary, name):
    rc, out, err = run(binary, name, "--json", "-q")
    recs = [json.loads(x) for x in out.splitlines() if x.startswith('{"type":"session"')]
    return rc, recs, err


def names(r):
    return {a["name"]: a for a in r["anomalies"]}


def lines(r, d=None):
    return [t["line"] for t in r["transcript"] if d is None or t["dir"] == d]


def paired(r):
    """Each transaction's codes: MAIL, RCPTs, DATA, end of data."""
    return [(t["mail_code"], [x["code"] for x in t["rcpt"]], t["data_cmd_code"], t["data_code"],
             t["result"]) for t in r["transactions"]]


for b in bins:
    tag = os.path.basename(os.path.dirname(b)) or "plain"

    def one(name):
        rc, recs, err = record(b, name)
        check(rc == 0 and "ERROR" not in err and "runtime error" not in err,
              f"{name} ({tag}): exit {rc}, no sanitizer report")
        check(len(recs) == 1, f"{name} ({tag}): one session ({len(recs)})")
        return recs[0] if recs else {"anomalies": [], "transcript": [], "transactions": [],
                                     "verdict": None}

    # 1. snap length: gaps, not NULs; every later reply pairs; the outcome
    #    comes from the reply to the final dot; one warning on stderr
    r = one("snaplen-cut.pcap")
    check("snaplen-cut" in names(r) and "nul-byte" not in names(r),
          f"snaplen-cut ({tag}): finding snaplen-cut, no nul-byte ({sorted(names(r))})")
    check(not any("\0" in x for x in lines(r)), f"snaplen-cut ({tag}): no NUL in the transcript")
    check(paired(r) and paired(r)[0][:2] == (250, [250]) and paired(r)[0][4] == "accepted",
          f"snaplen-cut ({tag}): MAIL and RCPT replies paired, message accepted ({paired(r)})")
    check(r["verdict"] == "ok", f"snaplen-cut ({tag}): OK from the 250 after the dot ({r['verdict']})")
    check("unsolicited-reply" not in names(r), f"snaplen-cut ({tag}): no unsolicited reply")
    _, _, err = run(b, "snaplen-cut.pcap")
    check(err.count("snap length") == 1 and "-s 0" in err and "96 bytes" in err,
          f"snaplen-cut ({tag}): one warning with the snap length and -s 0: {err.strip()!r}")
    r = one("snaplen-tiny.pcap")
    check(r["verdict"] != "failed" and (r["verdict"] == "ok" or
                                        "snaplen" in (r.get("incomplete_reason") or "")),
          f"snaplen-tiny ({tag}): never FAILED ({r['verdict']}, {r.get('incomplete_reason')})")

    # 2. segments never captured inside DATA and inside a reply
    r = one("gap-in-data.pcap")
    gap = names(r).get("capture-gap", {})
    check("500 bytes from the client" in gap.get("detail", ""),
          f"gap-in-data ({tag}): capture-gap with the byte count ({gap})")
    check(r["verdict"] == "ok" and "unsolicited-reply" not in names(r),
          f"gap-in-data ({tag}): OK from the reply to the final dot ({r['verdict']}, {sorted(names(r))})")
    r = one("gap-in-reply.pcap")
    check("capture-gap" in names(r) and paired(r) and paired(r)[0][0] == 250 and
          "unsolicited-reply" not in names(r) and r["verdict"] == "ok",
          f"gap-in-reply ({tag}): MAIL paired after the lost reply lines ({paired(r)}, {r['verdict']})")

    r = one("gap-client-only.pcap")
    check("capture-gap" in names(r) and "QUIT" in lines(r, "C"),
          f"gap-client-only ({tag}): the body and QUIT after the hole are read "
          f"({sorted(names(r))}, {lines(r, 'C')[-2:]})")

    # 3. reordering and duplicates that resolve: as if clean
    clean, dup = one("reorder-clean.pcap"), one("reorder-dup.pcap")
    check(lines(dup) == lines(clean) and dup["verdict"] == "ok" and
          not {"capture-gap", "overlap-mismatch"} & set(names(dup)),
          f"reorder-dup ({tag}): transcript whole, no gap ({dup['verdict']}, {sorted(names(dup))})")

    # 4. an overlapping retransmission with other bytes
    r = one("overlap-mismatch.pcap")
    om = names(r).get("overlap-mismatch", {})
    check("client" in om.get("detail", "") and "kept: the first" in om.get("detail", ""),
          f"overlap-mismatch ({tag}): finding says which side and which copy was kept ({om})")
    check("RCPT TO:<bob@example.net>" in lines(r, "C") and
          not any("eve@" in x for x in lines(r)),
          f"overlap-mismatch ({tag}): the first copy is the one read")

    # 5. SYN, ACK, SYN-ACK
    r = one("handshake-reordered.pcap")
    check(r["handshake"] == "complete" and "unsolicited-reply" not in names(r) and
          r["verdict"] == "ok", f"handshake-reordered ({tag}): complete, greeting paired "
          f"({r['handshake']}, {sorted(names(r))}, {r['verdict']})")

    # 6. one side only
    r = one("server-only.pcap")
    check("221 2.0.0 Bye" in lines(r, "S") and len(lines(r, "S")) >= 12,
          f"server-only ({tag}): every reply shown ({len(lines(r, 'S'))} lines)")
    check(r["verdict"] == "incomplete" and "client side" in (r.get("incomplete_reason") or ""),
          f"server-only ({tag}): INCOMPLETE, client side missing ({r.get('incomplete_reason')})")
    check(r["tcp_end"] == "closed" and r["closed_by"] == "server",
          f"server-only ({tag}): the server's FIN is a close ({r['tcp_end']}, {r['closed_by']})")
    rc, out, _ = run(b, "server-only.pcap")
    check("Not connected" not in out, f"server-only ({tag}): not 'Not connected'")
    r = one("client-only.pcap")
    check(r["verdict"] == "incomplete" and "server side" in (r.get("incomplete_reason") or "")
          and r["tcp_end"] == "closed" and r["closed_by"] == "client",
          f"client-only ({tag}): INCOMPLETE, server side missing, closed by client "
          f"({r.get('incomplete_reason')}, {r['tcp_end']})")
    check(all(t["result"] != "aborted" for t in r["transactions"]),
          f"client-only ({tag}): the message is not aborted ({paired(r)})")

    # 8. picked up inside TLS
    for port in (25, 465):
        r = one(f"tls-pickup-{port}.pcap")
        check(r["verdict"] == "encrypted" and not lines(r, "C"),
              f"tls-pickup-{port} ({tag}): ENCRYPTED, no TLS bytes as commands ({r['verdict']})")

finish()
