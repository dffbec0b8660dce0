#!/bin/sh
# bench_smoke.sh - the benchmark runs end to end on a tiny capture: every
# row of the table and the memory table are printed with figures. Nothing
# about speed is asserted here (make bench is where figures are read).
set -u
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! python3 bench/run_bench.py --size 3 --concurrent 50 --repeat 1 \
        --hold-sizes 500 > "$out" 2>&1; then
    echo "not ok - bench/run_bench.py failed:"; sed 's/^/#   /' "$out"; exit 1
fi
status=0
for row in "1 libpcap read loop" "2 libnids reassembly" "3 smtpscope text log" \
           "4 smtpscope JSON" "5 smtpscope text, --workers 2" "6 tshark"; do
    if grep -q "^| $row.* | [0-9.]* | [0-9]* | [0-9,]* | [0-9,]* | [0-9.]* | [0-9]* % | [0-9.x]* |$" "$out"; then
        echo "ok - bench table row: $row"
    else
        echo "not ok - bench table row missing or malformed: $row"; status=1
    fi
done
if grep -q "^| 500 | [0-9.]* | [0-9.]* | -\{0,1\}[0-9,]* bytes |$" "$out"; then
    echo "ok - bench memory row for 500 open sessions"
else
    echo "not ok - bench memory row missing"; status=1
fi
[ $status -eq 0 ] || sed 's/^/#   /' "$out"
exit $status
