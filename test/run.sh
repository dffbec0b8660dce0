#!/bin/sh
# run.sh - every test of smtpscope, plain and under ASan+UBSan.
#
# Each test prints "ok - ..." / "not ok - ..." lines; this runner shows
# them, counts them, and ends with "N passed, N failed". A test that exits
# non-zero without printing a "not ok" line counts as one failure, so a
# crash can never pass. Run it through `make test`, which builds first.
# --check (make check) runs only the quick suites that need no root and no
# network namespaces: unit, golden, input errors, JSON schema, make help,
# --compare.
set -u
check_only=
case "${1:-}" in
--check) check_only=1 ;;
"") ;;
*) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0
failed=0

suite() { # suite NAME COMMAND...
    name=$1; shift
    echo "# --- $name"
    "$@" > "$log" 2>&1
    rc=$?
    cat "$log"
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^not ok ' "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $name: exited with status $rc"
        f=1
    fi
    if [ "$rc" -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $name: ran no checks"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
}

for t in build/unit/test_* build/unit-asan/test_*; do
    case $t in *.d) continue ;; esac
    [ -x "$t" ] && suite "$t" "$t"
done
suite "golden outputs" sh test/golden_test.sh ./smtpscope build/asan/smtpscope
suite "input errors" sh test/input_errors.sh ./smtpscope
suite "input errors (asan)" sh test/input_errors.sh build/asan/smtpscope
suite "JSON schema" python3 test/json_schema_test.py ./smtpscope
suite "finding lists == the registry" python3 test/finding_docs.py build/tools/finding_table --check
suite "make help lists every target" sh test/make_help_test.sh
report() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; }
suite "--compare: two capture points, pairing and what the middlebox did" python3 test/compare/compare_test.py ./smtpscope
suite "the server's own DNS lookups behind its waits and refusals" python3 test/dns/dns_wait_test.py ./smtpscope
suite "a full connection table loses no session: SYN flood, tombstones" python3 test/synflood_test.py ./smtpscope
suite "classic pcap files read in place == read by libpcap" python3 test/fastpcap_test.py ./smtpscope
[ -n "$check_only" ] && { report; exit; }
suite "hostile input corpus" python3 test/hostile/hostile_test.py ./smtpscope build/asan/smtpscope
suite "AUTH passwords in no output (pcap level)" python3 test/auth_leak_test.py ./smtpscope
suite "accounting: conversations == sessions" python3 test/accounting_test.py ./smtpscope
suite "degraded captures: gaps, cuts, reordering, one side, TLS pickup" python3 test/degraded/degraded_test.py ./smtpscope build/asan/smtpscope
suite "a hole deeper than libnids' queue waits for its copy" python3 test/degraded/deep_hole_test.py ./smtpscope
suite "a hole deeper than libnids' queue (asan)" python3 test/degraded/deep_hole_test.py build/asan/smtpscope
suite "TLS handshakes read in clear (STARTTLS and 465)" python3 test/tls/tls_session_test.py ./smtpscope
suite "TLS handshakes in degraded captures: one side, snap length, split, reordered, lost, cut" python3 test/tls/tls_degraded_test.py ./smtpscope
suite "TCP path quality: retransmissions as tshark counts them, RTT, zero window" python3 test/tcp_path_test.py ./smtpscope
suite "TLS handshakes read in clear (asan)" python3 test/tls/tls_session_test.py build/asan/smtpscope
suite "--compare (asan)" python3 test/compare/compare_test.py build/asan/smtpscope
suite "a full connection table (asan)" python3 test/synflood_test.py build/asan/smtpscope
suite "TLS handshakes in degraded captures (asan)" python3 test/tls/tls_degraded_test.py build/asan/smtpscope
suite "valgrind" sh test/valgrind_test.sh ./smtpscope
suite "--follow" sh test/follow_test.sh ./smtpscope
suite "-l and live: each session out at once" python3 test/flush_test.py ./smtpscope
suite "tcpdump habits: BPF on -r, -F, -D, usage line" sh test/tcpdump_habits_test.sh ./smtpscope
suite "man page" sh test/manpage_test.sh ./smtpscope
suite "--log-dir and SIGHUP rotation (asan)" python3 test/logdir_test.py build/asan/smtpscope build/bench/gen_capture
suite "--html report in headless Chromium" python3 test/html_test.py ./smtpscope build/html-test build/bench/gen_capture
suite "--compare --html: the tally, the pairs and the three-lane ladder in headless Chromium" python3 test/compare/compare_html_test.py ./smtpscope build/compare-html-test
suite "--compare --html in headless Chromium (asan)" python3 test/compare/compare_html_test.py build/asan/smtpscope build/compare-html-test-asan
suite "--top console in tmux" bash test/top_test.sh
suite "progress line on a terminal" sh test/progress_test.sh ./smtpscope build/bench/gen_capture
suite "--local-net: direction and outgoing sessions" sh test/direction_test.sh build/asan/smtpscope
suite "shards under GNU parallel and xargs: union == one run" sh test/shard_test.sh ./smtpscope build/bench/gen_capture
suite "make install / uninstall under DESTDIR" sh test/install_test.sh
suite "relay and exposure audit (--local-domains)" sh test/audit_test.sh build/asan/smtpscope
suite "--save-messages against tshark's IMF export (asan)" python3 test/save_messages_test.py build/asan/smtpscope
suite "--messages: trails across hops (asan)" python3 test/messages_test.py build/asan/smtpscope
suite "DNS lookups against tshark (asan)" python3 test/dns_test.py build/asan/smtpscope
suite "--workers (asan)" python3 test/workers_test.py build/asan/smtpscope build/bench/gen_capture
suite "classic pcap files read in place (asan, a generated capture too)" env GEN_CAPTURE=build/bench/gen_capture python3 test/fastpcap_test.py build/asan/smtpscope
suite "make bench machinery (no timing asserted)" sh test/bench_smoke.sh
suite "--only/--phase, community_id, frames vs tshark, -w, -p any, header facts" python3 test/pivot_test.py ./smtpscope
suite "tshark cross-check" python3 test/tshark_crosscheck.py
suite "zeek public traces (asan)" env SMTPSCOPE=build/asan/smtpscope python3 test/zeek_compare.py
suite "link types, pcapng, rotated files" python3 test/linktypes_test.py ./smtpscope
suite "-r files merged by packet time, globs" python3 test/merge_test.py ./smtpscope
suite "live postfix in namespaces" sh test/live/test_postfix_live.sh
suite "live TLS handshakes: Postfix, swaks, openssl s_client" bash test/live/test_tls_lab.sh
suite "live DNS waits: Postfix waiting on a PTR timeout, refusing a DNSBL-listed client" bash test/live/test_dns_wait_lab.sh
suite "live lossy path: Postfix through a userspace router that loses, reorders, duplicates, stalls (routerlab)" bash test/live/test_lossy_lab.sh
suite "live lossy path with a 576-byte MTU on every link" env RLAB_MTU=576 bash test/live/test_lossy_lab.sh
suite "--compare across a real router: nftables DNAT (redirected), reject and drop (one-side-only)" bash test/live/test_compare_router.sh
suite "--compare on real middleboxes, captured on both sides (masking, stripping, relay, reset, TLS interception, live -i -i)" bash test/live/test_compare_lab.sh
suite "live capture with -i" bash test/live/test_live_capture.sh
suite "live: start and exit lines, flush, SIGTERM drain, --log-dir as nobody" bash test/live/test_live_signals.sh
suite "live --workers: the kernel splits the packets" bash test/live/test_live_workers.sh
suite "systemd unit: verify, CAP_NET_RAW only, SIGHUP rotation" bash test/live/test_service.sh
suite "Debian package: build, lintian, install, run, purge" sh test/deb_test.sh
suite "fuzz regression inputs and a ${FUZZ_TIME:-60} s run per target" sh test/fuzz/smoke.sh

report
