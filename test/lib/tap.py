"""tap.py - what the Python tests share: TAP-like "ok -" / "not ok -"
lines, the count of failures, reading a text log's lines with their dates
(so merged or rotated logs can be compared with a plain run), and where
Zeek's public traces are."""
import os
import sys
from collections import Counter

failed = 0


def check(cond, what):
    global failed
    print(("ok - " if cond else "not ok - ") + what)
    failed += not cond
    return cond


def finish():
    sys.exit(1 if failed else 0)


def dated_lines(text):
    """The multiset of (date line in force, line) of a text log."""
    date, out = None, Counter()
    for line in text.splitlines():
        if line.startswith("# date: "):
            date = line
        else:
            out[(date, line)] += 1
    return out


def zeek_traces():
    """The directory of Zeek's public SMTP traces (used by path, never
    copied): $ZEEK_TRACES, ../shared/public-captures/zeek beside the
    checkout, or the project machine's /work/shared; None when absent."""
    for d in (os.environ.get("ZEEK_TRACES"), "../shared/public-captures/zeek",
              "/work/shared/public-captures/zeek"):
        if d and os.path.isdir(d):
            return d
    return None
