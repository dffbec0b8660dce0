#!/usr/bin/env python3
"""finding_docs.py - the finding lists in README.md, doc/smtpscope.1 and
doc/smtpscope.schema.json, made from the registry (include/finding.h).

    finding_docs.py TABLE_BIN --check   ok/not ok per document (a test)
    finding_docs.py TABLE_BIN --write   rewrite them (make docs)

TABLE_BIN is build/tools/finding_table, which prints the registry.
"""
import json
import subprocess
import sys

README, MAN, SCHEMA = "README.md", "doc/smtpscope.1", "doc/smtpscope.schema.json"
MD_BEGIN = "<!-- findings: made by `make docs` from include/finding.h -->"
MD_END = "<!-- end of findings -->"
MAN_BEGIN = '.\\" findings: made by make docs from include/finding.h'
MAN_END = '.\\" end of findings'


def registry(binary):
    kinds, rows = [], []
    for line in subprocess.run([binary], check=True, capture_output=True,
                               text=True).stdout.splitlines():
        f = line.split("\t")
        if f[0] == "kind":
            kinds.append(f[1])
        else:
            rows.append(dict(name=f[1], kind=f[2], severity=f[3], doc=f[4]))
    return kinds, rows


def grouped(kinds, rows):
    return [(k, [r for r in rows if r["kind"] == k]) for k in kinds]


def markdown(kinds, rows):
    out = [MD_BEGIN, "", "| finding | kind | severity | what it says |",
           "|---|---|---|---|"]
    for k, rs in grouped(kinds, rows):
        for r in rs:
            doc = r["doc"].replace("|", "\\|")
            out.append(f"| `{r['name']}` | {k} | {r['severity']} | {doc} |")
    return out + ["", MD_END]


def mdoc(kinds, rows):
    out = [MAN_BEGIN]
    for k, rs in grouped(kinds, rows):
        if not rs:
            continue
        out += [".Ss " + k.capitalize(), ".Bl -tag -width Ds -compact"]
        for r in rs:
            doc = r["doc"].replace("\\", "\\e")
            out += [".It Sy " + r["name"] + " Pq " + r["severity"], doc]
        out.append(".El")
    return out + [MAN_END]


def splice(text, begin, end, lines, path):
    a, b = text.find(begin), text.find(end)
    if a < 0 or b < a:
        sys.exit(f"finding_docs: {path} has no '{begin}' ... '{end}' block")
    b += len(end)
    return text[:a] + "\n".join(lines) + text[b:]


def schema(text, kinds, rows):
    d = json.loads(text)
    names = [r["name"] for r in rows if r["kind"] != "dns" or
             r["name"].startswith("mx-")]
    dns = [r["name"] for r in rows if r["kind"] == "dns" and
           not r["name"].startswith("mx-")]
    defs = d["$defs"]
    item = defs["session"]["properties"]["anomalies"]["items"]
    item["properties"]["name"] = {"enum": names}
    item["properties"]["kind"] = {"enum": kinds}
    if "kind" not in item["required"]:
        item["required"].insert(1, "kind")
    summ = defs["summary"]["properties"]["findings"]["items"]
    summ["properties"]["name"] = {"enum": names}
    summ["properties"]["kind"] = {"enum": kinds}
    if "kind" not in summ["required"]:
        summ["required"].insert(1, "kind")
    defs["dns"]["properties"]["findings"]["items"] = {"enum": dns}
    return json.dumps(d, indent=2, ensure_ascii=False) + "\n"


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("--check", "--write"):
        sys.exit(__doc__)
    kinds, rows = registry(sys.argv[1])
    made = {}
    made[README] = splice(open(README).read(), MD_BEGIN, MD_END,
                          markdown(kinds, rows), README)
    made[MAN] = splice(open(MAN).read(), MAN_BEGIN, MAN_END,
                       mdoc(kinds, rows), MAN)
    made[SCHEMA] = schema(open(SCHEMA).read(), kinds, rows)
    bad = 0
    for path, text in made.items():
        same = open(path).read() == text
        if sys.argv[2] == "--write":
            if not same:
                open(path, "w").write(text)
                print("finding_docs: rewrote", path)
        elif same:
            print(f"ok - {path} lists the {len(rows)} findings of the registry")
        else:
            print(f"not ok - {path} differs from include/finding.h (run make docs)")
            bad = 1
    sys.exit(bad)


main()
