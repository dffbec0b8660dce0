#!/bin/bash
# test_live_signals.sh - a live capture's start, stop and output, as tcpdump
# users expect: the "listening on" line names the interface, link type,
# ports and user; a session is in the -o file (and on a pipe) as soon as it
# ends, before any signal; SIGTERM right after a session drains what the
# kernel still holds (that session is written, not lost); the exit line
# counts packets, sessions and kernel drops; --log-dir that the dropped
# user cannot write is refused at the start. Every process is bounded
# (-G) and stopped by its PID.
set -u
cd "$(dirname "$0")/../.."
bin=$(pwd)/${SMTPSCOPE:-smtpscope}
. test/lib/smtplab.sh
lab_test_up "live signals test"
out=$LAB_DIR/sig.jsonl
err=$LAB_DIR/sig.err
SW="swaks --helo client.example.com --from sender@example.com --hide-all --timeout 10"

ip netns exec "$LAB_NS_S" "$bin" -G 60 -j -i "${LAB_ID}b" -o "$out" 2> "$err" &
scope=$!
sleep 1.5 # device open, privileges dropped
lab_client $SW --server "$LAB_SERVER4" --to alice@example.net >/dev/null
sleep 1.5 # the session has ended: it must be in the file now, before any signal
early=$(grep -c '"type":"session"' "$out" 2>/dev/null)
# a second session, and SIGTERM as soon as the client is done: its last
# packets are still in the kernel's ring when the signal comes
lab_client $SW --server "$LAB_SERVER4" --to bob@example.net >/dev/null
kill -TERM "$scope" 2>/dev/null
for _ in $(seq 1 50); do kill -0 "$scope" 2>/dev/null || break; sleep 0.1; done
kill -0 "$scope" 2>/dev/null && { echo "not ok - smtpscope did not stop on SIGTERM"; kill -KILL "$scope"; }
wait "$scope"; rc=$?

# --log-dir the dropped user cannot write: refused at the start
ro=$LAB_DIR/ro-logs
mkdir -p "$ro" && chmod 0700 "$ro"
timeout 20 ip netns exec "$LAB_NS_S" "$bin" -G 5 -i "${LAB_ID}b" --log-dir "$ro" \
    > /dev/null 2> "$LAB_DIR/ro.err"
ro_rc=$?

python3 - "$out" "$err" "$rc" "$early" "${LAB_ID}b" "$LAB_DIR/ro.err" "$ro_rc" <<'PY'
import json, re, sys
sys.path.insert(0, "test/lib")
from tap import check, finish
out, err, rc, early, iface, ro_err, ro_rc = sys.argv[1:8]
recs = [json.loads(l) for l in open(out) if l.strip()]
text = open(err).read()
check(int(rc) == 0, f"exits 0 after SIGTERM ({rc})")
check(f"listening on {iface}, link-type EN10MB, ports 25,465,587,2525, as nobody" in text,
      "the start line: interface, link type, ports, user")
check(int(early or 0) == 1, f"the first session is in the -o file before any signal ({early})")
rcpt = sorted(t["rcpt"][0]["addr"] for r in recs if r["type"] == "session"
              for t in r["transactions"])
check(rcpt == ["alice@example.net", "bob@example.net"],
      f"SIGTERM right after a session: drained and written ({rcpt})")
m = re.search(r"(\d+) packets captured, (\d+) sessions written, (\d+) packets dropped by kernel", text)
check(m and int(m.group(1)) > 0 and m.group(2) == "2", f"the exit line counts ({m and m.group(0)})")
ro = open(ro_err).read()
check(int(ro_rc) == 2 and "--log-dir" in ro and "as the user the capture runs as" in ro,
      f"--log-dir not writable by nobody: refused at the start ({ro_rc})")
finish()
PY
