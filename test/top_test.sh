#!/bin/bash
# top_test.sh - the --top console in a real terminal (tmux): the numbers it
# shows equal the JSON of the same capture; v switches the view, p pauses,
# q quits with status 0 and the terminal back; -o still gets the log;
# --realtime replays at capture pace.
set -u
cd "$(dirname "$0")/.."
bin=$(pwd)/${1:-smtpscope}
command -v tmux >/dev/null 2>&1 || { echo "not ok - tmux missing (apt-get install tmux)"; exit 1; }
command -v mergecap >/dev/null 2>&1 || { echo "not ok - mergecap missing (apt-get install tshark)"; exit 1; }
t=$(mktemp -d)
sock=$t/tmux.sock
T() { tmux -S "$sock" "$@"; }
trap 'T kill-server 2>/dev/null; rm -rf "$t"' EXIT
fails=0
check() { if eval "$1"; then echo "ok - $2"; else echo "not ok - $2"; fails=$((fails + 1)); fi; }
screen() { T capture-pane -t top -p > "$t/screen"; }
wait_for() { # wait_for TEXT: up to 20 s for TEXT on the screen
    for _ in $(seq 1 100); do screen; grep -qF -- "$1" "$t/screen" && return 0; sleep 0.2; done
    return 1
}

# shellcheck disable=SC2046
mergecap -F pcapng -w "$t/all.pcapng" $(python3 test/lib/ether_captures.py) 2>/dev/null
"$bin" -q -j -r "$t/all.pcapng" > "$t/all.jsonl"
read -r n ok failed c550 <<<"$(python3 -c "
import json, sys
r = [json.loads(l) for l in open('$t/all.jsonl')]
r = [x for x in r if x['type'] == 'session']
f = [x for x in r if x['verdict'] == 'failed']
print(len(r), sum(x['verdict'] == 'ok' for x in r), len(f),
      sum(1 for x in f if x['failure']['code'] == 550))")"

T new-session -d -s top -x 160 -y 60 "$bin --top -r $t/all.pcapng -o $t/log.txt; echo EXIT=\$?; sleep 60"
check 'wait_for "[input ended]"' "the console shows the end of the input"
check 'grep -q "^sessions: $n " "$t/screen"' "sessions: $n, as in the JSON"
check 'grep -q "^summary: $n sessions: ok $ok failed $failed " "$t/screen"' \
    "outcomes: ok $ok, failed $failed"
check 'grep -q "failures by reply code:.* 550: $c550\b" "$t/screen"' "550 replies: $c550"
check 'grep -q "^reply latency per command:" "$t/screen" && grep -q "^  RCPT .*p99" "$t/screen"' \
    "latency percentiles per command"
last=$(sed -n '/^last failed sessions:/,$p' "$t/screen" | grep -c "FAILED\|\*\*\*")
check '[ "$last" -ge 3 ]' "the last failed sessions are listed ($last)"
T send-keys -t top v
check 'wait_for "failed sessions, newest first:"' "v switches to the failures view"
shown=$(grep -c "] [0-9:.]* \*\*\* " "$t/screen")
want=$(( failed < 50 ? failed : 50 ))
[ "$want" -gt 56 ] && want=56
check '[ "$shown" -eq "$want" ]' "it lists the $want most recent failures ($shown)"
T send-keys -t top p
check 'wait_for "[paused]"' "p pauses the display"
T send-keys -t top q
check 'wait_for "EXIT=0"' "q quits with status 0"
check '! grep -q "p: pause" "$t/screen"' "the alternate screen is left"
check '[ "$(grep -c "] [0-9:.]* \*\*\* " "$t/log.txt")" -eq "$n" ]' "-o still gets all $n sessions"
T kill-session -t top

# After several refreshes, the host tables on the screen are --summary's
# (each host once, its counts whole), and lines cut to an 80-column screen
# still show the phase and the reply code.
python3 test/lib/spread_failures.py "$t/spread.pcap"
"$bin" -q --summary -r "$t/spread.pcap" | sed -n '/^# top servers/,/^# reply latency/p' |
    grep -v '^# reply latency' | sed 's/^# //' > "$t/want"
T new-session -d -s top -x 80 -y 50 "$bin --top --realtime -r $t/spread.pcap; echo EXIT=\$?; sleep 60"
check 'wait_for "[input ended]"' "spread capture: the input ends after several refreshes"
sed -n '/^top servers/,/^reply latency/p' "$t/screen" | grep -v '^reply latency' |
    sed 's/ *$//' > "$t/got"
check 'diff "$t/want" "$t/got" >&2' "host tables on the console == --summary's"
cut_lines=$(sed -n '/^last failed sessions:/,$p' "$t/screen" | grep -c '\*\*\*')
with_code=$(sed -n '/^last failed sessions:/,$p' "$t/screen" | grep -c '\*\*\* FAILED at RCPT: 550')
check '[ "$cut_lines" -eq 8 ] && [ "$with_code" -eq 8 ]' \
    "80 columns: all 8 failed lines keep 'FAILED at RCPT: 550' ($with_code of $cut_lines)"
T send-keys -t top q
check 'wait_for "EXIT=0"' "q quits the spread replay"
T kill-session -t top

# --realtime: a capture spanning 3 s is replayed in about 3 s
T new-session -d -s top -x 160 -y 40 "$bin --top --realtime --idle-gap 2000 -r captures/diag-idle-gap.pcap; echo EXIT=\$?; sleep 60"
start=$(date +%s.%N)
check 'wait_for "[running]"' "--realtime: running while the capture replays"
check 'wait_for "[input ended]"' "--realtime: the input ends"
took=$(python3 -c "import time; print(round(time.time() - $start, 1))")
check 'python3 -c "import sys; sys.exit(0 if 2.5 <= $took <= 15 else 1)"' \
    "--realtime took about the capture's 3.1 s ($took s)"
T send-keys -t top q
check 'wait_for "EXIT=0"' "q after the replay exits 0"
exit $((fails > 0))
