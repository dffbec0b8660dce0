#!/usr/bin/env python3
"""hostile_test.py SMTPSCOPE [SANITIZED_SMTPSCOPE] - the hostile corpus
(make_hostile.py) against smtpscope: no crash, no sanitizer report, bounded
memory (peak RSS of the plain build asserted), a clear diagnostic, the other
sessions intact, and nothing raw from the wire in the output."""
import os
import re
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
plain = sys.argv[1] if len(sys.argv) > 1 else "./smtpscope"
sanitized = sys.argv[2] if len(sys.argv) > 2 else None
work = tempfile.mkdtemp()
subprocess.run([sys.executable, os.path.join(here, "make_hostile.py"), work], check=True)
RSS_LIMIT_KB = 64 * 1024
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import tap  # noqa: E402
from tap import check  # noqa: E402


class Result:
    pass


def run(binary, name, *opts):
    """Runs one file; returns output, status and this child's peak RSS (KB)."""
    outf, errf = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    child = subprocess.Popen([binary, *opts, "-r", os.path.join(work, name)],
                             stdout=outf, stderr=errf)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    r = Result()
    r.returncode = child.returncode
    outf.seek(0)
    errf.seek(0)
    r.stdout, r.stderr = outf.read(), errf.read()
    return r, usage.ru_maxrss


cases = {
    "long-line.pcap": dict(text=[b"Anomaly: line-too-long", b"[line truncated]"], sessions=2,
                           verdicts=[b"FAILED at RCPT", b": OK"]),
    "log-injection.pcap": dict(text=[b"\\x1b[2J", b"\\r127.0.0.1 [00000001]", b"\\u{202e}",
                                     b"\\x00hidden", b"\\xff\\xfe"], sessions=1),
    "many-rcpts.pcap": dict(text=[b"rcpts=100000", b"Transcript limit reached",
                                  b"pending-overflow"], sessions=1),
    "syn-flood.pcap": dict(text=[b"Connection attempt"], sessions=5001, verdicts=[b": OK"]),
    "tcp-games.pcap": dict(text=[b">>> 220 mx.example.net", b"<<< EHLO first"], sessions=1),
    "many-open.pcap": dict(opts=["--max-streams", "16"], sessions=40,
                           text=[b"Disconnected (evicted)", b"Disconnected (quit)"],
                           stderr=b"evicted from a full stream table"),
    "absurd-caplen.pcap": dict(stderr=b"invalid packet capture length", rc=2, sessions=0),
}
for name, e in cases.items():
    p, rss = run(plain, name, *e.get("opts", []))
    out = p.stdout
    check(p.returncode == e.get("rc", 0), f"{name}: exit status {p.returncode}")
    n = out.count(b"\n") and len(re.findall(rb"\] \d\d:\d\d:\d\d\.\d{3} \*\*\* ", out))
    check(n == e["sessions"], f"{name}: {n} sessions written == {e['sessions']}")
    for t in e.get("text", []):
        check(t in out, f"{name}: output shows {t!r}")
    for v in e.get("verdicts", []):
        check(v in out, f"{name}: a session ends {v!r}")
    if "stderr" in e:
        check(e["stderr"] in p.stderr, f"{name}: stderr says {e['stderr']!r}")
    # nothing raw from the wire: no ESC, BEL, NUL, lone CR in the text log
    raw = [c for c in (b"\x1b", b"\x07", b"\x00", b"\r") if c in out]
    check(not raw, f"{name}: no raw control byte in the text log ({raw})")
    if rss is not None:
        check(rss < RSS_LIMIT_KB, f"{name}: peak RSS {rss // 1024} MB < {RSS_LIMIT_KB // 1024} MB")
    pj, _ = run(plain, name, "--json")
    bad = [l for l in pj.stdout.splitlines() if l and not l.startswith(b"{")]
    check(not bad and b"\x1b" not in pj.stdout, f"{name}: JSON lines only, escaped")
    if sanitized:
        ps, _ = run(sanitized, name)
        check(ps.returncode == e.get("rc", 0) and b"Sanitizer" not in ps.stderr,
              f"{name}: clean under ASan+UBSan")
tap.finish()
