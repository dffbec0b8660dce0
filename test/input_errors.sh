#!/bin/sh
# input_errors.sh - broken input files give a clear message on stderr, the
# sessions that could be read are still written, and the exit status is
# non-zero only when nothing could be read.
#
#   sh test/input_errors.sh BINARY [CAPTURE]
set -u
cd "$(dirname "$0")/.."
bin=${1:-./smtpscope}
cap=${2:-captures/core-success.pcap}
. test/lib/tap.sh
run() { # run NAME ARGS...: stdout to $t/NAME.out, stderr to $t/NAME.err, status to $t/NAME.rc
    n=$1; shift
    "$bin" "$@" > "$t/$n.out" 2> "$t/$n.err"
    echo $? > "$t/$n.rc"
}
rc() { [ "$(cat "$t/$1.rc")" = "$2" ]; }
err_has() { grep -q -- "$2" "$t/$1.err"; }
out_has() { grep -q -- "$2" "$t/$1.out"; }

if [ ! -f "$cap" ]; then
    echo "not ok - input errors: capture $cap is missing"
    exit 1
fi
size=$(stat -c %s "$cap")
run good -r "$cap"

# A capture with no packets at all: every summary table is empty (under
# UBSan, sorting an empty table through a NULL pointer was undefined).
head -c 24 "$cap" > "$t/empty.pcap"
run empty --summary -r "$t/empty.pcap"
check "no packets: --summary says so and exits cleanly" sh -c \
    "[ \"\$(cat '$t/empty.rc')\" -le 1 ] && ! grep -q 'runtime error' '$t/empty.err'"

# Cut in the middle of the last packet.
head -c $((size - 7)) "$cap" > "$t/cut.pcap"
run cut -r "$t/cut.pcap"
check "file cut mid-packet: message names the file and says truncated" err_has cut "cut.pcap: truncated"
check "file cut mid-packet: the session is still written (exit 0)" \
    sh -c "grep -q '\\*\\*\\*' '$t/cut.out' && [ \"\$(cat '$t/cut.rc')\" = 0 ]"

# Cut inside the file header: nothing can be read.
head -c 20 "$cap" > "$t/hdr.pcap"
run hdr -r "$t/hdr.pcap"
check "file cut in its header: clear message, exit 2" sh -c \
    "grep -q 'hdr.pcap: truncated' '$t/hdr.err' && [ \"\$(cat '$t/hdr.rc')\" = 2 ]"

# Not a capture file at all.
printf 'HELO this is not a pcap\r\n%.0s' $(seq 1 40) > "$t/junk.pcap"
run junk -r "$t/junk.pcap"
check "wrong magic: 'unknown file format', exit 2" sh -c \
    "grep -q 'junk.pcap: unknown file format' '$t/junk.err' && [ \"\$(cat '$t/junk.rc')\" = 2 ]"

run missing -r "$t/does-not-exist.pcap"
check "missing file: message names it, exit 2" sh -c \
    "grep -q 'does-not-exist.pcap' '$t/missing.err' && [ \"\$(cat '$t/missing.rc')\" = 2 ]"

# A bad file among good ones: the good one is still read in full.
run mixed -r "$t/junk.pcap" -r "$cap"
check "bad file then good file: the good file's sessions are written" \
    cmp -s "$t/good.out" "$t/mixed.out"
check "bad file then good file: exit 0 because something was read" rc mixed 0

# Unknown link type (147, DLT_USER0) patched into the file header.
python3 - "$cap" "$t/dlt.pcap" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], 'rb').read())
magic = d[:4]
endian = '<' if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
d[20:24] = struct.pack(endian + 'I', 147)
open(sys.argv[2], 'wb').write(d)
PY
run dlt -r "$t/dlt.pcap"
check "unknown link type: message names link type 147" err_has dlt "link type 147"
check "unknown link type: exit 2" rc dlt 2

# Standard input.
"$bin" -r - < "$cap" > "$t/stdin.out" 2> "$t/stdin.err"
check "reading '-' (stdin) gives the same log as the file" cmp -s "$t/good.out" "$t/stdin.out"

# Usage errors.
run usage --no-such-option
check "unknown option: exit 1 and usage on stderr" sh -c \
    "[ \"\$(cat '$t/usage.rc')\" = 1 ] && grep -qi 'usage' '$t/usage.err'"
run noinput
check "no input given: exit 1" rc noinput 1

# gzip'd captures are read directly; other compressions are named.
gzip -c "$cap" > "$t/cap.pcap.gz"
run gz -r "$t/cap.pcap.gz"
check "gzip'd capture: read directly, the same output as the plain file" \
    sh -c "rc=\$(cat '$t/gz.rc'); [ \$rc = 0 ] && cmp -s '$t/good.out' '$t/gz.out'"
# ... and so are streams, whose first bytes cannot be put back: stdin and
# FIFOs, plain or gzip'd, gzip members one after another (as gzip -d reads
# them), and a compression that is refused is still named.
cat "$cap" | "$bin" -r - > "$t/in.out" 2> "$t/in.err"
check "a plain capture on stdin: the same output as the file" cmp -s "$t/good.out" "$t/in.out"
gzip -c "$cap" | "$bin" -r - > "$t/ingz.out" 2> "$t/ingz.err"
check "a gzip'd capture on stdin: read, the same output as the file" \
    cmp -s "$t/good.out" "$t/ingz.out"
size=$(wc -c < "$cap")
head -c $((size / 2)) "$cap" | gzip -c > "$t/two.gz"
tail -c +$((size / 2 + 1)) "$cap" | gzip -c >> "$t/two.gz"
"$bin" -r - < "$t/two.gz" > "$t/two.out" 2> "$t/two.err"
check "two gzip members on stdin: read as one capture" cmp -s "$t/good.out" "$t/two.out"
mkfifo "$t/fifo"
(gzip -c "$cap" > "$t/fifo" &)
run fifo -r "$t/fifo"
check "a gzip'd capture through a FIFO: read, the same output" \
    sh -c "[ \"\$(cat '$t/fifo.rc')\" = 0 ] && cmp -s '$t/good.out' '$t/fifo.out'"
printf '\3757zXZ\0rest' | "$bin" -r - > "$t/inxz.out" 2> "$t/inxz.err"
check "an xz stream on stdin: 'compressed with xz'" grep -q 'compressed with xz' "$t/inxz.err"
head -c $((size / 3)) "$t/cap.pcap.gz" | "$bin" -r - > "$t/cut.out" 2> "$t/cut.err"
check "a gzip stream cut short: said, no crash" \
    sh -c "grep -q 'smtpscope:' '$t/cut.err' && ! grep -qi 'sanitizer' '$t/cut.err'"
for kind in xz bzip2 zstd; do
    case $kind in
    xz) printf '\3757zXZ\0rest' > "$t/c.$kind" ;;
    bzip2) printf 'BZh91AY&SY' > "$t/c.$kind" ;;
    zstd) printf '\050\265\057\375rest' > "$t/c.$kind" ;;
    esac
    run "c$kind" -r "$t/c.$kind"
    check "$kind-compressed capture: 'compressed with $kind', exit 2" \
        sh -c "grep -q 'compressed with $kind' '$t/c$kind.err' && [ \"\$(cat '$t/c$kind.rc')\" = 2 ]"
done

# Live capture without the right: the message says what is needed. As
# nobody with no capabilities (setpriv, no namespace): the socket is refused
# before anything is captured.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
    cp "$bin" "$t/bin" && chmod 755 "$t" "$t/bin"
    setpriv --reuid nobody --regid nogroup --clear-groups --inh-caps=-all \
        "$t/bin" -i lo > "$t/perm.out" 2> "$t/perm.err"
    echo $? > "$t/perm.rc"
    check "-i without CAP_NET_RAW: 'capture needs root or CAP_NET_RAW', exit 2" \
        sh -c "grep -q 'capture needs root or CAP_NET_RAW' '$t/perm.err' && [ \"\$(cat '$t/perm.rc')\" = 2 ]"
    check "-i that could not open: no exit counts line" \
        sh -c "! grep -q 'packets captured' '$t/perm.err'"
else
    echo "ok - -i without CAP_NET_RAW: skipped (needs root and setpriv)"
fi

tap_done
