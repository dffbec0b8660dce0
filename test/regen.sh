#!/bin/sh
# regen.sh - rewrite the golden outputs from the bundled captures.
# Read `git diff test/golden` line by line before committing: a golden is
# only worth something if a person checked it against the capture.
set -eu
cd "$(dirname "$0")/.."
for cap in captures/*.pcap captures/*.pcapng; do
    [ -e "$cap" ] || continue
    name=$(basename "$cap"); name=${name%.pcapng}; name=${name%.pcap}
    args=""
    [ -f "test/golden/$name.args" ] && args=$(cat "test/golden/$name.args")
    # shellcheck disable=SC2086
    ./smtpscope -q $args -r "$cap" > "test/golden/$name.txt"
    # shellcheck disable=SC2086
    ./smtpscope -q --json $args -r "$cap" > "test/golden/$name.jsonl"
    echo "regen: test/golden/$name.txt test/golden/$name.jsonl"
done
for spec in test/golden/*.compare; do
    [ -e "$spec" ] || continue
    name=$(basename "$spec" .compare)
    # shellcheck disable=SC2046
    ./smtpscope -q --summary --compare $(cat "$spec") > "test/golden/$name.txt"
    # shellcheck disable=SC2046
    ./smtpscope -q --json --summary --compare $(cat "$spec") > "test/golden/$name.jsonl"
    echo "regen: test/golden/$name.txt test/golden/$name.jsonl (--compare)"
done
