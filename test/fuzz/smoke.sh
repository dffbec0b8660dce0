#!/bin/sh
# smoke.sh - the fuzz targets replay every saved regression input, then each
# runs for FUZZ_TIME seconds (default 60) from the regression corpus and the
# bundled captures. A crash, leak or sanitizer report fails.
set -u
cd "$(dirname "$0")/../.."
t=${FUZZ_TIME:-60}
if ! command -v clang >/dev/null 2>&1; then
    echo "not ok - clang missing (apt-get install clang): fuzz targets not built"
    exit 1
fi
if ! make -s fuzz-build >/tmp/fuzz-build.$$ 2>&1; then
    echo "not ok - fuzz targets do not build:"; sed 's/^/#   /' /tmp/fuzz-build.$$
    rm -f /tmp/fuzz-build.$$; exit 1
fi
rm -f /tmp/fuzz-build.$$
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
for target in session parser pcap tls compare fastpcap; do
    regress=test/fuzz/regress/$target
    n=$(ls "$regress" | wc -l)
    if build/fuzz/fuzz_$target -runs=0 "$regress" >"$work/$target.log" 2>&1; then
        echo "ok - fuzz_$target: $n regression inputs replayed cleanly"
    else
        echo "not ok - fuzz_$target: a regression input fails:"
        grep -E "ERROR|SUMMARY|Test unit" "$work/$target.log" | head -5 | sed 's/^/#   /'
        fails=$((fails + 1))
    fi
    mkdir -p "$work/corpus-$target"
    cp "$regress"/* "$work/corpus-$target/"
    case $target in pcap | fastpcap) cp captures/*.pcap "$work/corpus-$target/" ;; esac
    if build/fuzz/fuzz_$target -max_total_time="$t" -max_len=65536 \
        -rss_limit_mb=2048 -artifact_prefix="$work/" "$work/corpus-$target" \
        >"$work/$target-run.log" 2>&1; then
        runs=$(grep -oE '^#[0-9]+' "$work/$target-run.log" | tail -1 | tr -d '#')
        echo "ok - fuzz_$target: ${t}s, ${runs:-?} executions, no finding"
    else
        echo "not ok - fuzz_$target: finding in a ${t}s run:"
        grep -E "ERROR|SUMMARY|Test unit" "$work/$target-run.log" | head -5 | sed 's/^/#   /'
        fails=$((fails + 1))
    fi
done
[ $fails -eq 0 ]
