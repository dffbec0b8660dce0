"""check_compare_lab.py BIN DIR - what test_compare_lab.sh recorded, read by
smtpscope --compare: each middlebox must be named for what it did, and for
nothing it did not do.

Each scenario left DIR/NAME.out.pcap (outside the device, the client's
side) and DIR/NAME.in.pcap (inside, the server's side); "live" left the
JSON of a live --compare -i -i run."""
import json
import re
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from tap import check, finish  # noqa: E402

BIN, D = sys.argv[1], sys.argv[2]

# scenario -> (findings that must be there, findings that must not)
EXPECT = {
    "mask": ({"banner-rewritten", "starttls-removed", "reoriginated"},
             {"reply-injected", "reset-injected", "message-altered", "one-side-only"}),
    "strip": ({"starttls-removed", "reoriginated"},
              {"banner-rewritten", "command-rewritten", "reset-injected", "one-side-only"}),
    "rename": ({"banner-rewritten", "reoriginated"},
               {"starttls-removed", "command-rewritten", "reset-injected", "one-side-only"}),
    "reset": ({"reset-injected"}, {"starttls-removed", "one-side-only"}),
    "intercept": ({"certificate-replaced", "reoriginated"},
                  {"banner-rewritten", "starttls-removed", "one-side-only"}),
    # a relay re-originates everything: its own EHLO, MAIL parameters, queue
    # id and Received header are facts; nothing was dropped or injected
    "relay": ({"reoriginated", "message-altered"},
              {"one-side-only", "reply-injected", "command-dropped", "command-injected"}),
}


def records(lines):
    recs = [json.loads(x) for x in lines.splitlines() if x.strip()]
    return [r for r in recs if r["type"] == "pair"], \
        [r for r in recs if r["type"] == "compare_summary"]


def compare(name):
    p = subprocess.run([BIN, "-q", "--json", "--summary", "-p", "25,2525,10025", "--compare",
                        f"{D}/{name}.out.pcap", f"{D}/{name}.in.pcap"],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, f"{name}: --compare runs (exit {p.returncode}) {p.stderr[:200]}")
    return records(p.stdout)


def names(rec):
    return {f["name"] for f in rec["findings"]}


def check_pair(name, pairs, want, unwanted):
    both = [r for r in pairs if r["client_side"] and r["server_side"]]
    if not check(len(pairs) == 1 and len(both) == 1,
                 f"{name}: one session on each side, paired ({len(pairs)} records)"):
        for r in pairs:
            print("#", json.dumps(r)[:300])
        return None
    got = names(both[0])
    check(want <= got, f"{name}: {sorted(want)} found (got {sorted(got)})")
    check(not (got & unwanted), f"{name}: none of {sorted(unwanted)} (got {sorted(got & unwanted)})")
    check(not both[0]["uncertain"], f"{name}: the pair is sure ({both[0]['paired_by']})")
    return both[0]


for name, (want, unwanted) in EXPECT.items():
    pairs, _ = compare(name)
    rec = check_pair(name, pairs, want, unwanted)
    if rec and name == "relay":
        check("message-id" in rec["paired_by"],
              f"relay: a connection of its own, paired by the Message-ID ({rec['paired_by']})")
    if rec and name == "mask":
        masked = [d for d in rec["differences"] if d["mark"] == "changed" and
                  d.get("client_side", {}).get("line", "").startswith("220 ****")]
        check(len(masked) == 1, "mask: the masked banner is one changed row")
        check(rec["client_side"]["message_id"] == rec["server_side"]["message_id"] and
              rec["client_side"]["message_id"], "mask: the same Message-ID on both sides")

# the page of a comparison on a real middlebox: written, self-contained,
# naming what the proxy did (the page itself is tested in Chromium by
# test/compare/compare_html_test.py)
page = f"{D}/mask.html"
p = subprocess.run([BIN, "-q", "-p", "25,2525", "--html", page, "--compare",
                    f"{D}/mask.out.pcap", f"{D}/mask.in.pcap"], capture_output=True, text=True,
                   timeout=60)
html_text = open(page, encoding="utf-8").read() if os.path.exists(page) else ""
check(p.returncode == 0 and "banner-rewritten" in html_text and "starttls-removed" in html_text
      and not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html_text),
      f"mask: --compare --html wrote the page ({len(html_text)} bytes)")

with open(f"{D}/live.rc") as f:
    rc = int(f.read().strip() or 1)
with open(f"{D}/live.jsonl") as f:
    pairs, summ = records(f.read())
check(rc == 0, f"live: --compare -i -i ended cleanly (exit {rc})")
check_pair("live", pairs, EXPECT["mask"][0], EXPECT["mask"][1])
check(len(summ) == 1 and summ[0]["paired"] == 1, "live: the summary counts one pair")
finish()
