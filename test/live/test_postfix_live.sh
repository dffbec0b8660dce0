#!/bin/sh
# test_postfix_live.sh - record the core scenarios afresh from real Postfix
# and swaks in network namespaces (captures/make_captures.sh) and check what
# smtpscope says about them. Needs root; a missing prerequisite fails.
set -u
cd "$(dirname "$0")/../.."
bin=${SMTPSCOPE:-./smtpscope}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
if [ "$(id -u)" -ne 0 ]; then
    echo "not ok - live Postfix test: needs root (network namespaces)"
    exit 1
fi
if ! bash captures/make_captures.sh "$dir" 2> "$dir/make.log"; then
    echo "not ok - live Postfix test: making captures failed:"
    sed 's/^/#   /' "$dir/make.log"
    exit 1
fi
python3 test/live/check_live.py "$bin" "$dir"
