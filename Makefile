# smtpscope - passive SMTP session reconstructor. `make help` prints this list.
#
#   make            build ./smtpscope (warnings are errors); also `make all`
#   make demo       install build deps if missing, build, run on a bundled capture
#   make check      quick, no root: build, then unit, golden, input-error,
#                   JSON schema and help tests (seconds; test/run.sh --check)
#   make test       install missing test deps, then unit, golden, cross-check,
#                   public-trace and live tests, also under ASan+UBSan
#   make asan       build ./build/asan/smtpscope with AddressSanitizer + UBSan
#   make unit       build the unit tests, plain and sanitized (build/unit*)
#   make regen      rewrite the golden outputs (read the diff before committing!)
#   make docs       rewrite the finding lists of README, man page and schema
#   make deps       install Debian build/test dependencies (root)
#   make fuzz       run each libFuzzer target FUZZ_TIME seconds (default 60)
#   make fuzz-build build the libFuzzer targets (build/fuzz/)
#   make fuzz-regress  replay the saved fuzz regression inputs
#   make bench      benchmark beside libpcap/libnids floors and tshark, and
#                   the --html report's load in Chromium (BENCH_SIZE=MB,
#                   default 1024; BENCH_REPEAT=N, default 3)
#   make bench-build  build the benchmark's generator and floors
#   make bench-live the highest drop-free live rate beside tcpdump (root;
#                   bench/live_rate.sh, installs tcpreplay)
#   make compile_commands  write build/compile_commands.json (clangd, clang-tidy)
#   make install    install under DESTDIR/PREFIX (default /usr/local)
#   make uninstall  remove what `make install` installed
#   make clean      remove build/ and ./smtpscope
#   make help       this list

CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -Iinclude -MMD -MP
LDLIBS  = -lnids -lpcap -lresolv -lldns -lz
# the TLS reader parses certificates with GnuTLS (src/tls_x509.c)
LDLIBS  += -lgnutls

# The HTML pages are compiled in as C strings named after their files:
# src/report.html (--html) as report_html, src/compare_report.html
# (--compare --html) as compare_report_html.
GEN     = build/gen/report_html.c build/gen/compare_report_html.c
GEN_OBJ = $(GEN:build/gen/%.c=%.o)
SRC     = $(wildcard src/*.c)
LIBSRC  = $(filter-out src/main.c,$(SRC)) $(GEN)
OBJ     = $(SRC:src/%.c=build/obj/%.o) $(addprefix build/obj/,$(GEN_OBJ))
ASAN_OBJ = $(SRC:src/%.c=build/asan/%.o) $(addprefix build/asan/,$(GEN_OBJ))
ASAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

UNIT_TESTS = $(wildcard test/unit/test_*.c)

.PHONY: all demo check test asan unit regen docs deps clean install uninstall fuzz fuzz-build \
	fuzz-regress bench bench-build bench-live compile_commands help

all: smtpscope

smtpscope: $(OBJ)
	$(CC) $(CFLAGS) -o $@ $(OBJ) $(LDFLAGS) $(LDLIBS)

build/gen/%_html.c: src/%.html
	@mkdir -p $(dir $@)
	{ echo '/* generated from $< by the Makefile */'; \
	  echo 'const char $*_html[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; \
	  echo ';'; } > $@

$(addprefix build/obj/,$(GEN_OBJ)): build/obj/%.o: build/gen/%.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(addprefix build/asan/,$(GEN_OBJ)): build/asan/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -c -o $@ $<

build/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

build/asan/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -c -o $@ $<

build/asan/smtpscope: $(ASAN_OBJ)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -o $@ $(ASAN_OBJ) $(LDFLAGS) $(LDLIBS)

asan: build/asan/smtpscope

# Unit tests link the library modules (no main) and run plain and sanitized:
# the objects the binaries are built from, as two archives, so each test is
# one compile and a link (not a compile of every module again).
LIB_OBJ = $(filter-out build/obj/main.o,$(OBJ))
LIB_ASAN_OBJ = $(filter-out build/asan/main.o,$(ASAN_OBJ))
build/libsmtpscope.a: $(LIB_OBJ)
	rm -f $@ && $(AR) rcs $@ $(LIB_OBJ)
build/libsmtpscope-asan.a: $(LIB_ASAN_OBJ)
	rm -f $@ && $(AR) rcs $@ $(LIB_ASAN_OBJ)

build/unit/%: test/unit/%.c build/libsmtpscope.a test/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itest/unit -o $@ $< build/libsmtpscope.a $(LDFLAGS) $(LDLIBS)

build/unit-asan/%: test/unit/%.c build/libsmtpscope-asan.a test/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -Itest/unit -o $@ $< build/libsmtpscope-asan.a \
		$(LDFLAGS) $(LDLIBS)

unit: $(UNIT_TESTS:test/unit/%.c=build/unit/%) $(UNIT_TESTS:test/unit/%.c=build/unit-asan/%)

# Fuzzing (clang libFuzzer). `make fuzz FUZZ_TIME=3600` runs each target
# that long; corpora live in build/fuzz/corpus-*, seeded from captures/ and
# from the saved regression inputs, which `make fuzz-regress` replays.
FUZZ_CC   = clang
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_TIME ?= 60
FUZZ_TARGETS = build/fuzz/fuzz_session build/fuzz/fuzz_parser build/fuzz/fuzz_pcap \
	build/fuzz/fuzz_tls build/fuzz/fuzz_compare build/fuzz/fuzz_fastpcap

build/fuzz/%: test/fuzz/%.c $(LIBSRC)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -Iinclude $(FUZZ_FLAGS) \
		-o $@ $< $(LIBSRC) $(LDLIBS)

fuzz-build: $(FUZZ_TARGETS)

fuzz-regress: fuzz-build
	build/fuzz/fuzz_session -runs=0 test/fuzz/regress/session
	build/fuzz/fuzz_parser -runs=0 test/fuzz/regress/parser
	build/fuzz/fuzz_pcap -runs=0 test/fuzz/regress/pcap
	build/fuzz/fuzz_tls -runs=0 test/fuzz/regress/tls
	build/fuzz/fuzz_compare -runs=0 test/fuzz/regress/compare
	build/fuzz/fuzz_fastpcap -runs=0 test/fuzz/regress/fastpcap

fuzz: fuzz-build
	@mkdir -p build/fuzz/corpus-session build/fuzz/corpus-parser build/fuzz/corpus-pcap \
		build/fuzz/corpus-tls build/fuzz/corpus-compare build/fuzz/corpus-fastpcap
	cp -n captures/*.pcap test/fuzz/regress/fastpcap/* build/fuzz/corpus-fastpcap/ 2>/dev/null || true
	cp -n test/fuzz/regress/compare/* build/fuzz/corpus-compare/ 2>/dev/null || true
	cp -n test/fuzz/regress/tls/* build/fuzz/corpus-tls/ 2>/dev/null || true
	cp -n test/fuzz/regress/session/* build/fuzz/corpus-session/ 2>/dev/null || true
	cp -n test/fuzz/regress/parser/* build/fuzz/corpus-parser/ 2>/dev/null || true
	cp -n captures/*.pcap test/fuzz/regress/pcap/* build/fuzz/corpus-pcap/ 2>/dev/null || true
	build/fuzz/fuzz_session -max_total_time=$(FUZZ_TIME) -max_len=4096 \
		-artifact_prefix=build/fuzz/ build/fuzz/corpus-session
	build/fuzz/fuzz_parser -max_total_time=$(FUZZ_TIME) -max_len=4096 \
		-artifact_prefix=build/fuzz/ build/fuzz/corpus-parser
	build/fuzz/fuzz_pcap -max_total_time=$(FUZZ_TIME) -max_len=65536 -rss_limit_mb=2048 \
		-artifact_prefix=build/fuzz/ build/fuzz/corpus-pcap
	build/fuzz/fuzz_tls -max_total_time=$(FUZZ_TIME) -max_len=131072 \
		-artifact_prefix=build/fuzz/ build/fuzz/corpus-tls
	build/fuzz/fuzz_compare -max_total_time=$(FUZZ_TIME) -max_len=16384 \
		-artifact_prefix=build/fuzz/ build/fuzz/corpus-compare
	build/fuzz/fuzz_fastpcap -max_total_time=$(FUZZ_TIME) -max_len=65536 \
		-artifact_prefix=build/fuzz/ build/fuzz/corpus-fastpcap

deps:
	sh test/install-deps.sh

demo:
	@sh test/install-deps.sh --build-only
	$(MAKE) smtpscope
	./smtpscope -r captures/core-multi-rcpt.pcap

test:
	@sh test/install-deps.sh
	$(MAKE) smtpscope asan unit bench-build $(TOOLS)
	sh test/run.sh

# No install step and no root: what a newcomer runs after each change.
check:
	$(MAKE) smtpscope asan unit $(TOOLS)
	sh test/run.sh --check

# The header comment above is the list; test/make_help_test.sh holds it to
# the Makefile's targets.
help:
	@sed -n '3,/^$$/{s/^#//;/^$$/d;p}' $(firstword $(MAKEFILE_LIST))

# For clangd and clang-tidy, written by make itself (no bear needed): one
# entry per C file, with the flags its rule uses.
CDB_FLAGS = $(filter-out -MMD -MP,$(CPPFLAGS) $(CFLAGS))
compile_commands: build/compile_commands.json
build/compile_commands.json: Makefile $(SRC) $(UNIT_TESTS) $(wildcard test/fuzz/*.c bench/*.c)
	@mkdir -p $(dir $@)
	@{ echo '['; sep=' '; \
	  for f in $(SRC) $(GEN) $(UNIT_TESTS) $(wildcard test/fuzz/*.c bench/*.c); do \
	    case $$f in test/unit/*) x=-Itest/unit ;; *) x= ;; esac; \
	    printf '%s{"directory": "%s", "file": "%s", "command": "%s %s %s -c %s"}\n' \
	      "$$sep" "$(CURDIR)" "$$f" "$(CC)" "$(CDB_FLAGS)" "$$x" "$$f"; sep=','; \
	  done; echo ']'; } > $@
	@echo "wrote $@"

regen: smtpscope
	sh test/regen.sh

# The finding registry (include/finding.h) printed, for the documents that
# list the findings: `make docs` rewrites them, the tests compare.
TOOLS = build/tools/finding_table
build/tools/finding_table: tools/finding_table.c src/finding.c include/finding.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ tools/finding_table.c src/finding.c

docs: $(TOOLS)
	python3 test/finding_docs.py build/tools/finding_table --write

# The benchmark (bench/run_bench.py): its generator and the three floors
# (floor_lines is floor_nids plus a memchr for every line end).
BENCH_BIN = build/bench/gen_capture build/bench/floor_pcap build/bench/floor_nids \
	build/bench/floor_lines
build/bench/gen_capture: bench/gen_capture.c bench/gen_gateway.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<
build/bench/floor_pcap: bench/floor_pcap.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< -lpcap
build/bench/floor_nids: bench/floor_nids.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< -lnids -lpcap
build/bench/floor_lines: bench/floor_nids.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DFLOOR_LINES -o $@ $< -lnids -lpcap
bench-build: smtpscope $(BENCH_BIN)

bench:
	@sh test/install-deps.sh
	$(MAKE) bench-build
	python3 bench/run_bench.py

bench-live:
	@sh test/install-deps.sh --live-bench
	$(MAKE) bench-build
	bash bench/live_rate.sh

PREFIX ?= /usr/local
BINDIR = $(DESTDIR)$(PREFIX)/bin
MANDIR = $(DESTDIR)$(PREFIX)/share/man/man1
COMPDIR = $(DESTDIR)$(PREFIX)/share/bash-completion/completions
UNITDIR = $(DESTDIR)$(PREFIX)/lib/systemd/system
DATADIR = $(DESTDIR)$(PREFIX)/share/smtpscope
DOCDIR = $(DESTDIR)$(PREFIX)/share/doc/smtpscope

# Everything goes under DESTDIR/PREFIX: binary, man page, bash completion,
# the systemd unit (pointing at this PREFIX's binary), the JSON schema and
# the logrotate example.
install: smtpscope
	install -d $(BINDIR) $(MANDIR) $(COMPDIR) $(UNITDIR) $(DATADIR) $(DOCDIR)/examples
	install -m 0755 smtpscope $(BINDIR)/smtpscope
	install -m 0644 doc/smtpscope.1 $(MANDIR)/smtpscope.1
	install -m 0644 dist/smtpscope.bash-completion $(COMPDIR)/smtpscope
	sed 's|@BINDIR@|$(PREFIX)/bin|g' dist/smtpscope@.service.in > $(UNITDIR)/smtpscope@.service
	chmod 0644 $(UNITDIR)/smtpscope@.service
	install -m 0644 doc/smtpscope.schema.json $(DATADIR)/smtpscope.schema.json
	install -m 0644 dist/smtpscope.logrotate $(DOCDIR)/examples/logrotate

uninstall:
	rm -f $(BINDIR)/smtpscope $(MANDIR)/smtpscope.1 $(COMPDIR)/smtpscope \
		$(UNITDIR)/smtpscope@.service $(DATADIR)/smtpscope.schema.json \
		$(DOCDIR)/examples/logrotate
	-rmdir $(DATADIR) $(DOCDIR)/examples $(DOCDIR) 2>/dev/null

clean:
	rm -rf build smtpscope

-include $(OBJ:.o=.d) $(ASAN_OBJ:.o=.d) $(wildcard build/unit/*.d build/unit-asan/*.d)
