#!/bin/sh
# valgrind_test.sh - smtpscope under valgrind on every bundled capture (text
# and JSON with --summary and --headers): no memory error and no leak
# (definite, indirect or possible; "still reachable" blocks are glib's own
# start-up tables, pulled in by libnids).
set -u
cd "$(dirname "$0")/.."
bin=${1:-./smtpscope}
if ! command -v valgrind >/dev/null 2>&1; then
    echo "not ok - valgrind missing (apt-get install valgrind)"
    exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
fails=0
for cap in captures/*.pcap; do
    for opts in "" "-j --summary --headers"; do
        # shellcheck disable=SC2086
        if valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
            --errors-for-leak-kinds=definite,indirect,possible \
            --error-exitcode=99 "$bin" -q $opts -r "$cap" >/dev/null 2>"$log"; then
            echo "ok - valgrind: $(basename "$cap") ${opts:-(text)}: no error, no leak"
        else
            echo "not ok - valgrind: $(basename "$cap") ${opts:-(text)}:"
            head -20 "$log" | sed 's/^/#   /'
            fails=$((fails + 1))
        fi
    done
done
[ $fails -eq 0 ]
