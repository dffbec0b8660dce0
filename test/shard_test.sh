#!/bin/sh
# shard_test.sh - the README's recipe: N copies with --shard K/N, run by GNU
# parallel (and xargs -P), together equal one full run, byte for byte once
# sorted; on every bundled capture at once and on a generated capture.
set -u
cd "$(dirname "$0")/.."
bin=$(pwd)/${1:-smtpscope}
gen=${2:-build/bench/gen_capture}
command -v parallel >/dev/null 2>&1 || { echo "not ok - GNU parallel missing (apt-get install parallel)"; exit 1; }
command -v mergecap >/dev/null 2>&1 || { echo "not ok - mergecap missing (apt-get install tshark)"; exit 1; }
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fails=0
# shellcheck disable=SC2046
mergecap -F pcapng -w "$t/all.pcapng" $(python3 test/lib/ether_captures.py) 2>/dev/null
"$gen" -o "$t/gen.pcap" -s 20 -c 200 2>/dev/null
for cap in "$t/all.pcapng" "$t/gen.pcap"; do
    name=$(basename "$cap")
    "$bin" -q -j -r "$cap" | sort > "$t/full"
    n=$(wc -l < "$t/full")
    if [ "$n" -lt 10 ]; then
        echo "not ok - $name: only $n records in the full run"; fails=$((fails + 1))
    fi
    for N in 2 4 7; do
        seq 0 $((N - 1)) | parallel "$bin" -q -j --shard {}/$N -r "$cap" | sort > "$t/union"
        if cmp -s "$t/full" "$t/union"; then
            echo "ok - $name: $N shards under GNU parallel equal one run ($n sessions)"
        else
            echo "not ok - $name: $N shards differ from one run"; fails=$((fails + 1))
        fi
    done
    # xargs interleaves the outputs of its jobs: each shard writes a file
    seq 0 2 | xargs -P 3 -I{} "$bin" -q -j --shard {}/3 -r "$cap" -o "$t/shard.{}"
    cat "$t"/shard.? | sort > "$t/union"
    if cmp -s "$t/full" "$t/union"; then
        echo "ok - $name: 3 shards under xargs -P equal one run"
    else
        echo "not ok - $name: 3 shards under xargs -P differ"; fails=$((fails + 1))
    fi
    # text logs too, line for line once sorted (date lines aside)
    "$bin" -q -r "$cap" | grep -v "^# date" | sort > "$t/full.txt"
    seq 0 3 | parallel "$bin" -q --shard {}/4 -r "$cap" | grep -v "^# date" | sort > "$t/union.txt"
    if cmp -s "$t/full.txt" "$t/union.txt"; then
        echo "ok - $name: 4 text shards equal one text log"
    else
        echo "not ok - $name: text shards differ"; fails=$((fails + 1))
    fi
done
exit $((fails > 0))
