#!/bin/bash
# test_live_workers.sh - smtpscope --workers 2 -i on the lab's link: the
# kernel hands each worker only its shard's packets (the two workers'
# received counts add up to what one process beside them receives, and
# neither is empty), and together they report exactly the sessions that
# one process reports; so does a third on "-i any" (Linux cooked capture,
# where the VLAN clauses of the Ethernet filter do not compile). Clients
# from 192.0.2.10 and 2001:db8::10 fall in shard 1 of 2, from 192.0.2.13
# in shard 2 (shard_hash with 192.0.2.25).
set -u
cd "$(dirname "$0")/../.."
bin=$(pwd)/${SMTPSCOPE:-smtpscope}
. test/lib/smtplab.sh
lab_test_up "live workers test"
lab_in_c ip addr add 192.0.2.13/24 dev "${LAB_ID}a"
one=$LAB_DIR/one.jsonl; two=$LAB_DIR/two.jsonl; any=$LAB_DIR/any.jsonl
ip netns exec "$LAB_NS_S" "$bin" -j --stats -i "${LAB_ID}b" -o "$one" 2> "$LAB_DIR/one.err" &
p1=$!
ip netns exec "$LAB_NS_S" "$bin" -j --stats --workers 2 -i "${LAB_ID}b" -o "$two" 2> "$LAB_DIR/two.err" &
p2=$!
ip netns exec "$LAB_NS_S" "$bin" -q -j -i any -o "$any" &
p3=$!
sleep 2 # both devices open
SW="swaks --helo client.example.com --from sender@example.com --hide-all --timeout 10"
for i in 1 2; do
    lab_client $SW --server "$LAB_SERVER4" --to alice@example.net >/dev/null
    lab_client $SW --server "$LAB_SERVER4" --local-interface 192.0.2.13 --to bob@example.net >/dev/null
done
lab_client $SW --server "$LAB_SERVER6" --to alice@example.net >/dev/null
sleep 1.5
lab_interrupt "$p1" "$p2" "$p3"
wait "$p1"; rc1=$?
wait "$p2"; rc2=$?
wait "$p3"; rc3=$?
python3 - "$one" "$two" "$LAB_DIR/one.err" "$LAB_DIR/two.err" "$rc1" "$rc2" "$any" "$rc3" <<'PY'
import json, re, sys
sys.path.insert(0, "test/lib")
from tap import check, finish
one, two, e1, e2 = sys.argv[1:5]
rc1, rc2 = int(sys.argv[5]), int(sys.argv[6])
anyf, rc3 = sys.argv[7], int(sys.argv[8])
def sessions(path):
    try:
        recs = [json.loads(l) for l in open(path)]
    except (OSError, ValueError) as e:
        print(f"# {path}: {e}")
        return []
    return sorted((r["client"]["ip"], r["client"]["port"], r["verdict"])
                  for r in recs if r.get("type") == "session")
check(rc1 == 0 and rc2 == 0, f"both runs exit 0 after SIGINT ({rc1}, {rc2})")
s1, s2 = sessions(one), sessions(two)
check(len(s1) == 5 and all(v == "ok" for _, _, v in s1),
      f"one process: the 5 delivered sessions ({[v for _, _, v in s1]})")
check(s1 == s2, f"two workers report the same sessions ({len(s2)})")
check(rc3 == 0 and sessions(anyf) == s1,
      f"-i any reports the same sessions (exit {rc3}, {len(sessions(anyf))} sessions)")
t1, t2 = (open(p).read() for p in (e1, e2))
def received(text, prefix):
    m = re.search(re.escape(prefix) + r"kernel: (\d+) received", text)
    return int(m.group(1)) if m else None
def connections(text, prefix):
    m = re.search(re.escape(prefix) + r"\d+ frames, \d+ SMTP packets, (\d+) connections", text)
    return int(m.group(1)) if m else None
r = received(t1, "smtpscope: ")
w = [received(t2, f"smtpscope: worker {k} of 2: ") for k in (1, 2)]
c = [connections(t2, f"smtpscope: worker {k} of 2: ") for k in (1, 2)]
print(f"# kernel received: one process {r}, workers {w}; worker connections {c}")
check(r is not None and None not in w, "every process reports what the kernel handed it")
if r is not None and None not in w:
    check(w[0] > 0 and w[1] > 0, f"each worker receives packets ({w[0]}, {w[1]})")
    check(w[0] + w[1] == r, f"the kernel hands each packet to one worker only "
          f"({w[0]} + {w[1]} == {r})")
check(c == [3, 2], f"worker 1 follows the 3 connections of its shard, worker 2 the 2 of its ({c})")
finish()
PY
