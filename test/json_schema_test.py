#!/usr/bin/env python3
"""json_schema_test.py - every JSON record smtpscope writes for the bundled
captures (and the public traces, when present) validates against
doc/smtpscope.schema.json with a real validator (python3-jsonschema,
draft 2020-12); the schema forbids keys it does not document.

Usage: json_schema_test.py [SMTPSCOPE] [CAPTURE...]
"""
import glob
import os
import subprocess
import sys

try:
    import jsonschema
except ImportError:
    print("not ok - python3-jsonschema missing (apt-get install python3-jsonschema)")
    sys.exit(1)
import json

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
os.chdir(root)
binary = sys.argv[1] if len(sys.argv) > 1 else "./smtpscope"
captures = sys.argv[2:] or sorted(glob.glob("captures/*.pcap*"))
sys.path.insert(0, "test/lib")
from tap import zeek_traces  # noqa: E402
if len(sys.argv) <= 2:
    zeek = zeek_traces()
    if not zeek:  # not skipped in silence: zeek_compare.py fails on it too
        print("not ok - Zeek traces not found at ../shared/public-captures/zeek (set ZEEK_TRACES)")
        sys.exit(1)
    captures += sorted(glob.glob(os.path.join(zeek, "*", "*.pcap")))
schema = json.load(open("doc/smtpscope.schema.json"))
validator = jsonschema.Draft202012Validator(schema)
jsonschema.Draft202012Validator.check_schema(schema)

failed = 0
if not captures:
    print("not ok - no captures to validate")
    sys.exit(1)
for cap in captures:
    for opts in (["--summary"], ["--headers", "--summary"]):
        out = subprocess.run([binary, "-q", "-j", *opts, "-r", cap],
                             capture_output=True, text=True)
        errors = []
        records = 0
        for n, line in enumerate(out.stdout.splitlines(), 1):
            records += 1
            try:
                rec = json.loads(line)
            except ValueError as e:
                errors.append(f"line {n}: not JSON: {e}")
                continue
            for err in validator.iter_errors(rec):
                path = "/".join(str(p) for p in err.absolute_path)
                errors.append(f"line {n} {path}: {err.message[:200]}")
        name = f"{os.path.basename(cap)} {' '.join(opts)}"
        if out.returncode != 0:
            errors.append(f"exit status {out.returncode}")
        if errors:
            failed += 1
            print(f"not ok - {name}: {len(errors)} schema errors")
            for e in errors[:5]:
                print(f"#   {e}")
        else:
            print(f"ok - {name}: {records} records valid")
sys.exit(1 if failed else 0)
