#!/bin/sh
# follow_test.sh - --follow writes the same lines as the per-session log,
# each as it happens: for every capture the sorted lines are identical.
# One exception by design: a session found to be not SMTP at the server's
# first line; its client lines were already written live (the per-session
# log replaces them by the client's first bytes), so there the live output
# holds every golden line plus those "<<<" lines.
set -u
cd "$(dirname "$0")/.."
bin=${1:-./smtpscope}
. test/lib/tap.sh
for cap in captures/*.pcap; do
    name=$(basename "$cap" .pcap)
    args=""; [ -f "test/golden/$name.args" ] && args=$(cat "test/golden/$name.args")
    # shellcheck disable=SC2086
    "$bin" -q --follow $args -r "$cap" | LC_ALL=C sort > "$t/follow"
    LC_ALL=C sort "test/golden/$name.txt" > "$t/golden"
    if cmp -s "$t/follow" "$t/golden"; then
        echo "ok - --follow $name: the same lines as the golden log"
    elif grep -q "NOT SMTP" "$t/golden" &&
        [ -z "$(LC_ALL=C comm -23 "$t/golden" "$t/follow")" ] &&
        ! LC_ALL=C comm -13 "$t/golden" "$t/follow" | grep -v 'Anomaly: early-talker' | grep -qv '\] [0-9:.]* <<< '; then
        echo "ok - --follow $name: golden lines plus the client lines written before the not-SMTP decision"
    else
        echo "not ok - --follow $name differs:"; diff "$t/golden" "$t/follow" | head -5 | sed 's/^/#   /'
        fails=$((fails + 1))
    fi
done
tap_done
