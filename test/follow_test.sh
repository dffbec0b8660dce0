#!/bin/sh
# follow_test.sh - --follow writes the same lines as the per-session log,
# each as it happens: for every capture the sorted lines are identical.
set -u
cd "$(dirname "$0")/.."
bin=${1:-./smtpscope}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fails=0
for cap in captures/*.pcap; do
    name=$(basename "$cap" .pcap)
    args=""; [ -f "test/golden/$name.args" ] && args=$(cat "test/golden/$name.args")
    # shellcheck disable=SC2086
    "$bin" -q --follow $args -r "$cap" | LC_ALL=C sort > "$t/follow"
    LC_ALL=C sort "test/golden/$name.txt" > "$t/golden"
    if cmp -s "$t/follow" "$t/golden"; then
        echo "ok - --follow $name: the same lines as the golden log"
    else
        echo "not ok - --follow $name differs:"; diff "$t/golden" "$t/follow" | head -5 | sed 's/^/#   /'
        fails=$((fails + 1))
    fi
done
[ $fails -eq 0 ]
