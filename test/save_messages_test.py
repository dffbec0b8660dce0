#!/usr/bin/env python3
"""save_messages_test.py - --save-messages against tshark's IMF export.

    python3 test/save_messages_test.py SMTPSCOPE

tshark (--export-objects imf) is the independent reader of the same DATA
bytes. Reading the wire settled two differences, both tshark's: it leaves
dot-stuffing in place, and it trims trailing empty lines and can drop the
CRLF that ends the message's last line (RFC 5321 4.1.1.4: the first CRLF of
CRLF.CRLF is that line's end; core-success ends "\r\n\r\n\r\n.\r\n" on
the wire). So each saved .eml must equal tshark's file unstuffed, up to the
trailing line ends, end in CRLF, and hold the bytes the JSON counts. BDAT
messages (which tshark does not export) must hold the chunk bytes the JSON
counts. Files are 0600, never overwritten, cut at --save-max, named in the
JSON, and a warning says bodies are being written.
"""
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile

binary = sys.argv[1]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tap  # noqa: E402
from tap import check  # noqa: E402


def unstuff(data):
    out = []
    for line in data.split(b"\r\n"):
        out.append(line[1:] if line.startswith(b".") else line)
    return b"\r\n".join(out)


tmp = tempfile.mkdtemp()
for cap in ("core-success", "core-two-transactions", "core-multi-rcpt", "exim-success",
            "proto-pipelining", "proto-auth-plain"):
    imf, ours = os.path.join(tmp, cap + "-imf"), os.path.join(tmp, cap + "-ours")
    os.makedirs(imf)
    os.makedirs(ours)
    subprocess.run(["tshark", "-r", f"captures/{cap}.pcap", "-Q", "--export-objects",
                    f"imf,{imf}"], capture_output=True)
    r = subprocess.run([binary, "-q", "-j", "--save-messages", ours, "-r",
                        f"captures/{cap}.pcap"], capture_output=True, text=True)
    theirs = sorted(open(os.path.join(imf, f), "rb").read() for f in os.listdir(imf))
    mine = sorted(open(os.path.join(ours, f), "rb").read() for f in os.listdir(ours))
    want = sorted(unstuff(t).rstrip(b"\r\n") for t in theirs)
    check(len(theirs) > 0 and sorted(m.rstrip(b"\r\n") for m in mine) == want and
          all(m.endswith(b"\r\n") for m in mine),
          f"{cap}: {len(mine)} saved message(s) equal tshark's IMF export, unstuffed "
          f"(tshark trims the trailing line ends)")
    recs = [json.loads(l) for l in r.stdout.splitlines()]
    sizes = sorted(t["bytes"] for x in recs for t in x["transactions"] if t.get("saved_as"))
    check(sorted(len(m) for m in mine) == sizes,
          f"{cap}: each file holds as many bytes as the JSON counts ({sizes})")
    paths = [t.get("saved_as") for x in recs for t in x["transactions"] if t.get("saved_as")]
    check(sorted(os.path.join(ours, f) for f in os.listdir(ours)) == sorted(paths),
          f"{cap}: the JSON names each saved file")
    check("warning: --save-messages" in r.stderr, f"{cap}: a warning says bodies are written")
    modes = {stat.S_IMODE(os.stat(os.path.join(ours, f)).st_mode) for f in os.listdir(ours)}
    check(modes == {0o600}, f"{cap}: files are mode 0600 ({[oct(m) for m in modes]})")

# dot-stuffing was really exercised
two = os.path.join(tmp, "core-two-transactions-ours")
joined = b"".join(open(os.path.join(two, f), "rb").read() for f in os.listdir(two))
check(b"\r\n.a line" in joined and b"\r\n..two dots" in joined,
      "stuffed lines come out with one dot less")

# BDAT: the chunks, joined
for cap in ("proto-bdat", "exim-bdat"):
    d = os.path.join(tmp, cap)
    os.makedirs(d)
    r = subprocess.run([binary, "-q", "-j", "--save-messages", d, "-r", f"captures/{cap}.pcap"],
                       capture_output=True, text=True)
    recs = [json.loads(l) for l in r.stdout.splitlines()]
    txs = [t for x in recs for t in x["transactions"] if t.get("saved_as")]
    ok = bool(txs) and all(os.path.getsize(t["saved_as"]) == t["bytes"] and t["bdat"] for t in txs)
    check(ok, f"{cap}: each BDAT message saved whole ({[t['bytes'] for t in txs]} bytes)")

# never overwritten; cut at --save-max
d = os.path.join(tmp, "core-success-ours")
before = {f: open(os.path.join(d, f), "rb").read() for f in os.listdir(d)}
r = subprocess.run([binary, "-q", "--save-messages", d, "-r", "captures/core-success.pcap"],
                   capture_output=True, text=True)
after = {f: open(os.path.join(d, f), "rb").read() for f in os.listdir(d)}
check(before == after and "not saved" in r.stdout and "File exists" in r.stdout,
      "an existing file is never overwritten, and the log says so")
d = os.path.join(tmp, "cut")
os.makedirs(d)
r = subprocess.run([binary, "-q", "--save-messages", d, "--save-max", "100", "-r",
                    "captures/core-success.pcap"], capture_output=True, text=True)
files = os.listdir(d)
check(len(files) == 1 and os.path.getsize(os.path.join(d, files[0])) == 100 and
      "cut at the --save-max limit" in r.stdout, "--save-max 100 cuts the file at 100 bytes")
r = subprocess.run([binary, "-q", "-r", "captures/core-success.pcap"], capture_output=True, text=True)
check("saved" not in r.stdout and "warning" not in r.stderr, "nothing is saved without the option")
shutil.rmtree(tmp)
tap.finish()
