#!/bin/sh
# progress_test.sh - the offline progress line: shown on a terminal (a pty
# from script(1)) once a read lasts more than a second, erased at the end,
# never in the log; absent when stderr is not a terminal, and with -q.
set -u
cd "$(dirname "$0")/.."
bin=${1:-./smtpscope}
gen=${2:-build/bench/gen_capture}
command -v script >/dev/null 2>&1 || { echo "not ok - script(1) missing (util-linux)"; exit 1; }
. test/lib/tap.sh
"$gen" -o "$t/cap.pcap" -s 4 -c 20 2>/dev/null
"$bin" -q -r "$t/cap.pcap" > "$t/plain.txt"
# a read that lasts about two seconds: the capture trickles through a FIFO
slow_feed() {
    python3 - "$t/cap.pcap" "$t/fifo" <<'PY'
import sys, time
data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "wb") as f:
    step = len(data) // 8
    for i in range(0, len(data), step):
        f.write(data[i:i + step]); f.flush(); time.sleep(0.25)
PY
}
mkfifo "$t/fifo"
slow_feed &
script -qec "$bin -r $t/fifo -o $t/tty.txt" "$t/tty.log" > /dev/null
wait
check_eval 'grep -q "smtpscope: .*packets, .*sessions, .*failed" "$t/tty.log"' \
    "on a terminal, a progress line with packets, sessions and failures"
check_eval 'python3 -c "import sys; d = open(sys.argv[1], \"rb\").read(); i = d.rfind(b\"failed\"); sys.exit(0 if i >= 0 and d.find(b\"\\r\\x1b[K\", i) > i else 1)" "$t/tty.log"' \
    "the progress line is erased at the end"
check_eval 'cmp -s "$t/tty.txt" "$t/plain.txt"' "the log itself is unchanged by it"
slow_feed &
"$bin" -r "$t/fifo" -o "$t/pipe.txt" 2> "$t/pipe.err"
wait
check_eval '! grep -q "packets," "$t/pipe.err"' "no progress line when stderr is not a terminal"
slow_feed &
script -qec "$bin -q -r $t/fifo -o $t/quiet.txt" "$t/quiet.log" > /dev/null
wait
check_eval '! grep -q "packets," "$t/quiet.log"' "no progress line with -q"
tap_done
