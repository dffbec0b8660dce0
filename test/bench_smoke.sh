#!/bin/sh
# bench_smoke.sh - the benchmark runs end to end on a tiny capture: every
# row of the table and the memory table are printed with figures. Nothing
# about speed is asserted here (make bench is where figures are read).
set -u
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! python3 bench/run_bench.py --size 3 --gateway-size 2 --callgrind-size 1 \
        --concurrent 50 --repeat 1 --hold-sizes 500 --report-size 1 \
        --stream-sizes 2,4 --flood 2000 > "$out" 2>&1; then
    echo "not ok - bench/run_bench.py failed:"; sed 's/^/#   /' "$out"; exit 1
fi
status=0
# staying power: the stream's two sizes and the flood's two runs
n=$(grep -cE "^\| [0-9,]+ MB \| [0-9.]+ \| [0-9]+ \| [0-9.]+ \| [+-][0-9.]+ % \|$" "$out")
[ "$n" -eq 2 ] && echo "ok - staying power: the endless stream's rows" || {
    echo "not ok - staying power stream rows ($n of 2)"; status=1; }
n=$(grep -cE "^\| gateway (alone|\+ flood) \| [0-9.]+ \| [0-9.]+ \| [0-9,]+ \| [0-9,]+ \| (yes|no) \|$" "$out")
[ "$n" -eq 2 ] && echo "ok - staying power: the SYN flood's rows" || {
    echo "not ok - staying power flood rows ($n of 2)"; status=1; }
# every row in both mixes' tables
for row in "1 libpcap read loop" "2 libnids reassembly" "3 libnids + line scan" \
           "4 smtpscope text log" "5 smtpscope JSON" "6 smtpscope text, --workers 2" \
           "7 tshark"; do
    n=$(grep -c "^| $row.* | [0-9.]* | [0-9]* | [0-9,]* | [0-9,]* | [0-9.]* | [0-9]* % | [0-9]* % | [0-9.x-]* |$" "$out")
    if [ "$n" -eq 2 ]; then
        echo "ok - bench table row, both mixes: $row"
    else
        echo "not ok - bench table row missing or malformed ($n of 2): $row"; status=1
    fi
done
n=$(grep -c "^| [45] smtpscope .* | [0-9.]* | [0-9]* % | [0-9]* % | [0-9.]* | [0-9]* % | [0-9]* % |$" "$out")
[ "$n" -eq 2 ] && echo "ok - both mixes side by side" || {
    echo "not ok - side-by-side table ($n of 2 smtpscope rows)"; status=1; }
if command -v valgrind >/dev/null; then
    n=$(grep -c "^| [2345] .* | [0-9,.]* M | [0-9.]* % | [0-9.]* % | [0-9,.]* M | [0-9.]* % | [0-9.]* % |$" "$out")
    [ "$n" -eq 4 ] && echo "ok - instruction counts of both mixes" || {
        echo "not ok - instruction table ($n of 4 rows)"; status=1; }
fi
# the HTML report's load time (chromium is a test dependency: install-deps.sh)
if grep -q "^| [0-9,]* | [0-9.]* | [0-9.]* | [0-9,]* | [0-9.]* |$" "$out"; then
    echo "ok - bench row: the HTML report's load time in headless Chromium"
else
    echo "not ok - bench row of the HTML report's load time missing"; status=1
fi
if grep -q "^| 500 | [0-9.]* | [0-9.]* | -\{0,1\}[0-9,]* bytes |$" "$out"; then
    echo "ok - bench memory row for 500 open sessions"
else
    echo "not ok - bench memory row missing"; status=1
fi
[ $status -eq 0 ] || sed 's/^/#   /' "$out"
exit $status
