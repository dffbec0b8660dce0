#!/bin/bash
# test_live_capture.sh - smtpscope -i on the lab's link while real sessions
# run (IPv4 and IPv6, through a real Postfix), one of them still open when
# smtpscope gets SIGINT: every session must be reported, the open one as
# capture-ended, and smtpscope must have dropped root (to nobody, chrooted).
set -u
cd "$(dirname "$0")/../.."
bin=$(pwd)/${SMTPSCOPE:-smtpscope}
. test/lib/smtplab.sh
lab_test_up "live capture test"
out=$LAB_DIR/live.jsonl
ip netns exec "$LAB_NS_S" "$bin" -q -j -i "${LAB_ID}b" -o "$out" &
scope=$!
sleep 1.5 # device open, privileges dropped
user=$(ps -o user= -p "$scope" 2>/dev/null | tr -d ' ')
root=$(readlink "/proc/$scope/root" 2>/dev/null)
SW="swaks --helo client.example.com --from sender@example.com --hide-all --timeout 10"
lab_client $SW --server "$LAB_SERVER4" --to alice@example.net >/dev/null
lab_client $SW --server "$LAB_SERVER6" --to bob@example.net >/dev/null
# a session still open at SIGINT: greeting read, then silence
lab_client python3 -c "
import socket, time
s = socket.create_connection(('$LAB_SERVER4', 25), timeout=5)
s.recv(1000); s.sendall(b'EHLO open.example.com\r\n'); s.recv(1000); time.sleep(4)" &
open_client=$!
sleep 1.5
lab_interrupt "$scope"
wait "$scope"; rc=$?
wait "$open_client" 2>/dev/null
python3 - "$out" "$rc" "$user" "$root" <<'PY'
import json, sys
sys.path.insert(0, "test/lib")
from tap import check, finish
recs = [json.loads(l) for l in open(sys.argv[1])]
rc, user, root = int(sys.argv[2]), sys.argv[3], sys.argv[4]
check(rc == 0, f"smtpscope -i exits 0 after SIGINT ({rc})")
check(user == "nobody", f"smtpscope -i runs as nobody once the device is open ({user})")
check(root.endswith("(deleted)"), f"confined to an empty deleted directory ({root})")
check(len(recs) == 3, f"3 sessions reported ({len(recs)})")
v4 = [r for r in recs if r["client"]["ip"] == "192.0.2.10" and r["verdict"] == "ok"]
v6 = [r for r in recs if r["client"]["ip"] == "2001:db8::10"]
op = [r for r in recs if r["helo"] == "open.example.com"]
check(len(v4) == 1 and v4[0]["transactions"][0]["result"] == "accepted", "IPv4 session delivered")
check(len(v6) == 1 and v6[0]["verdict"] == "ok", "IPv6 session delivered")
check(len(op) == 1 and op[0]["end_cause"] == "capture-ended", "open session written at SIGINT as capture-ended")
finish()
PY
