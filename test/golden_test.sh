#!/bin/sh
# golden_test.sh - every bundled capture's text log and JSON must equal its
# golden output byte for byte, for each binary given (plain and sanitized).
#
#   sh test/golden_test.sh ./smtpscope build/asan/smtpscope
#
# captures/NAME.pcap[ng] -> test/golden/NAME.txt and test/golden/NAME.jsonl;
# test/golden/NAME.args, when present, holds extra options for that capture.
# Goldens are written by `make regen` and read by a person before commit.
set -u
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

status=0
for bin in "$@"; do
    for cap in captures/*.pcap captures/*.pcapng; do
        [ -e "$cap" ] || continue
        name=$(basename "$cap"); name=${name%.pcapng}; name=${name%.pcap}
        args=""
        [ -f "test/golden/$name.args" ] && args=$(cat "test/golden/$name.args")
        for fmt in txt jsonl; do
            golden="test/golden/$name.$fmt"
            flag=""; [ "$fmt" = jsonl ] && flag="--json"
            if [ ! -f "$golden" ]; then
                echo "not ok - $name.$fmt ($bin): no golden output (run make regen and read it)"
                status=1; continue
            fi
            # shellcheck disable=SC2086
            "$bin" -q $flag $args -r "$cap" > "$out/$name.$fmt" 2> "$out/err"
            rc=$?
            if [ $rc -ne 0 ]; then
                echo "not ok - $name.$fmt ($bin): exit status $rc: $(head -c 300 "$out/err")"
                status=1
            elif cmp -s "$golden" "$out/$name.$fmt"; then
                echo "ok - $name.$fmt ($bin) matches the golden output"
            else
                echo "not ok - $name.$fmt ($bin) differs from the golden output:"
                diff -u "$golden" "$out/$name.$fmt" | head -20 | sed 's/^/#   /'
                status=1
            fi
        done
    done
done
# --compare goldens: test/golden/NAME.compare names the client side's and
# the server side's captures; NAME.txt and NAME.jsonl are its output.
for bin in "$@"; do
    for spec in test/golden/*.compare; do
        [ -e "$spec" ] || continue
        name=$(basename "$spec" .compare)
        for fmt in txt jsonl; do
            golden="test/golden/$name.$fmt"
            flag=""; [ "$fmt" = jsonl ] && flag="--json"
            # shellcheck disable=SC2046
            "$bin" -q $flag --summary --compare $(cat "$spec") > "$out/$name.$fmt" 2> "$out/err"
            rc=$?
            if [ $rc -ne 0 ]; then
                echo "not ok - $name.$fmt ($bin): exit status $rc: $(head -c 300 "$out/err")"
                status=1
            elif [ -f "$golden" ] && cmp -s "$golden" "$out/$name.$fmt"; then
                echo "ok - $name.$fmt ($bin) matches the golden output"
            else
                echo "not ok - $name.$fmt ($bin) differs from the golden output:"
                diff -u "$golden" "$out/$name.$fmt" 2>&1 | head -20 | sed 's/^/#   /'
                status=1
            fi
        done
    done
done
exit $status
