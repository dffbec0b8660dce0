#!/bin/sh
# tcpdump_habits_test.sh - the command line as tcpdump users type it: a BPF
# expression after -r filters the files too, -F reads it from a file,
# -D lists interfaces, a mistyped option prints one usage line and the
# --help hint, not the whole help.
set -u
cd "$(dirname "$0")/.."
bin=${1:-./smtpscope}
. test/lib/tap.sh
python3 - "$t/two.pcap" <<'PY'
import sys
sys.path.insert(0, "test/lib")
from smtpgen import session, write_pcap
f = session(1790000000.0, "203.0.113.9", "192.0.2.30", 40001)
f += session(1790000001.0, "203.0.113.10", "192.0.2.30", 40002, b"550 5.1.1 no such user")
write_pcap(sys.argv[1], f, 101)
PY
"$bin" -q -r "$t/two.pcap" host 203.0.113.10 > "$t/bpf.out" 2> "$t/bpf.err"; rc=$?
check "-r FILE host 203.0.113.10: the expression filters the file (1 session)" \
    sh -c "[ $rc = 0 ] && [ \"\$(grep -c '\\*\\*\\* ' '$t/bpf.out')\" = 1 ] && grep -q '203.0.113.10' '$t/bpf.out' && ! grep -q '203.0.113.9 ' '$t/bpf.out'"
# several names after one -r (the shell's expansion of -r day-*.pcap):
# the words that are capture files are files, the rest the expression
python3 - "$t/day-1.pcap" "$t/day-2.pcap.gz" <<'PY'
import gzip, sys
sys.path.insert(0, "test/lib")
from smtpgen import session, write_pcap
write_pcap(sys.argv[1], session(1790000100.0, "203.0.113.21", "192.0.2.30", 40021), 101)
write_pcap(sys.argv[2] + ".tmp", session(1790000200.0, "203.0.113.22", "192.0.2.30", 40022), 101)
open(sys.argv[2], "wb").write(gzip.compress(open(sys.argv[2] + ".tmp", "rb").read()))
PY
"$bin" -q -r "$t/two.pcap" "$t/day-1.pcap" "$t/day-2.pcap.gz" > "$t/many.out" 2>&1; rc=$?
check "-r A B C: three files, one capture (4 sessions, exit $rc)" \
    sh -c "[ $rc = 0 ] && [ \"\$(grep -c '\\*\\*\\* ' '$t/many.out')\" = 4 ]"
"$bin" -q -r "$t/two.pcap" "$t/day-1.pcap" host 203.0.113.21 > "$t/manyf.out" 2>&1; rc=$?
check "-r A B host X: the files, then the expression (1 session)" \
    sh -c "[ $rc = 0 ] && [ \"\$(grep -c '\\*\\*\\* ' '$t/manyf.out')\" = 1 ] && grep -q 203.0.113.21 '$t/manyf.out'"
"$bin" -q -r "$t/two.pcap" "$t/gone.pcap" > /dev/null 2> "$t/gone.err"; rc=$?
check "-r A gone.pcap: the missing file is named, exit 2 ($rc)" \
    sh -c "[ $rc = 2 ] && grep -q 'gone.pcap: No such file' '$t/gone.err'"
printf '# only the failing client\nhost 203.0.113.10 # the one refused\n' > "$t/filter"
"$bin" -q -r "$t/two.pcap" -F "$t/filter" > "$t/ff.out" 2>&1
check "-F FILE: the same expression from a file, comments ignored" cmp -s "$t/bpf.out" "$t/ff.out"
"$bin" -q -r "$t/two.pcap" -F "$t/filter" tcp > /dev/null 2> "$t/both.err"; rc=$?
check "-F and an expression: usage error ($rc)" sh -c "[ $rc = 1 ] && grep -q 'not both' '$t/both.err'"
"$bin" -q -r "$t/two.pcap" 'host nonsense((' > /dev/null 2> "$t/bad.err"; rc=$?
check "an expression that does not compile: said, exit 2 ($rc)" \
    sh -c "[ $rc = 2 ] && grep -q 'filter \"host nonsense((\"' '$t/bad.err'"
"$bin" -D > "$t/ifaces" 2>&1; rc=$?
check "-D lists the interfaces, lo among them, tcpdump-style ($rc)" \
    sh -c "[ $rc = 0 ] && grep -qE '^[0-9]+\\.lo ' '$t/ifaces'"
"$bin" --jsno -r "$t/two.pcap" > /dev/null 2> "$t/typo.err"; rc=$?
check "a mistyped option: exit 1, three lines at most (the error, usage, hint)" \
    sh -c "[ $rc = 1 ] && [ \$(wc -l < '$t/typo.err') -le 3 ] && grep -q \"Try 'smtpscope --help'\" '$t/typo.err' && ! grep -q -- '--max-streams' '$t/typo.err'"
tap_done
