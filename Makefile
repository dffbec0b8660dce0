# smtpscope - passive SMTP session reconstructor.
#
#   make            build ./smtpscope (warnings are errors)
#   make demo       install build deps if missing, build, run on a bundled capture
#   make test       install missing test deps, then unit, golden, cross-check,
#                   public-trace and live tests, also under ASan+UBSan
#   make asan       build ./build/asan/smtpscope with AddressSanitizer + UBSan
#   make regen      rewrite the golden outputs (read the diff before committing!)
#   make deps       install Debian build/test dependencies (root)
#   make bench      benchmark beside libpcap/libnids floors and tshark
#                   (BENCH_SIZE=MB, default 1024; BENCH_REPEAT=N, default 3)

CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -Iinclude -MMD -MP
LDLIBS  = -lnids -lpcap -lresolv -lldns
# the TLS reader parses certificates with GnuTLS (src/tls_x509.c)
LDLIBS  += -lgnutls

# src/report.html (the --html page) is compiled in as a C string.
GEN     = build/gen/report_html.c
SRC     = $(wildcard src/*.c)
LIBSRC  = $(filter-out src/main.c,$(SRC)) $(GEN)
OBJ     = $(SRC:src/%.c=build/obj/%.o) build/obj/report_html.o
ASAN_OBJ = $(SRC:src/%.c=build/asan/%.o) build/asan/report_html.o
ASAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

UNIT_TESTS = $(wildcard test/unit/test_*.c)

.PHONY: all demo test asan unit regen deps clean install uninstall fuzz fuzz-build fuzz-regress bench bench-build

all: smtpscope

smtpscope: $(OBJ)
	$(CC) $(CFLAGS) -o $@ $(OBJ) $(LDFLAGS) $(LDLIBS)

$(GEN): src/report.html
	@mkdir -p $(dir $@)
	{ echo '/* generated from src/report.html by the Makefile */'; \
	  echo 'const char report_html[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; \
	  echo ';'; } > $@

build/obj/report_html.o: $(GEN)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

build/asan/report_html.o: $(GEN)
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

# Unit tests link the library modules (no main) and run plain and sanitized.
build/unit/%: test/unit/%.c $(LIBSRC) test/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itest/unit -o $@ $< $(LIBSRC) $(LDFLAGS) $(LDLIBS)

build/unit-asan/%: test/unit/%.c $(LIBSRC) test/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -Itest/unit -o $@ $< $(LIBSRC) $(LDFLAGS) $(LDLIBS)

unit: $(UNIT_TESTS:test/unit/%.c=build/unit/%) $(UNIT_TESTS:test/unit/%.c=build/unit-asan/%)

# Fuzzing (clang libFuzzer). `make fuzz FUZZ_TIME=3600` runs each target
# that long; corpora live in build/fuzz/corpus-*, seeded from captures/ and
# from the saved regression inputs, which `make fuzz-regress` replays.
FUZZ_CC   = clang
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_TIME ?= 60
FUZZ_TARGETS = build/fuzz/fuzz_session build/fuzz/fuzz_pcap build/fuzz/fuzz_tls

build/fuzz/%: test/fuzz/%.c $(LIBSRC)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -Iinclude $(FUZZ_FLAGS) \
		-o $@ $< $(LIBSRC) $(LDLIBS)

fuzz-build: $(FUZZ_TARGETS)

fuzz-regress: fuzz-build
	build/fuzz/fuzz_session -runs=0 test/fuzz/regress/session
	build/fuzz/fuzz_pcap -runs=0 test/fuzz/regress/pcap
	build/fuzz/fuzz_tls -runs=0 test/fuzz/regress/tls

fuzz: fuzz-build
	@mkdir -p build/fuzz/corpus-session build/fuzz/corpus-pcap build/fuzz/corpus-tls
	cp -n test/fuzz/regress/tls/* build/fuzz/corpus-tls/ 2>/dev/null || true
	cp -n test/fuzz/regress/session/* build/fuzz/corpus-session/ 2>/dev/null || true
	cp -n captures/*.pcap test/fuzz/regress/pcap/* build/fuzz/corpus-pcap/ 2>/dev/null || true
	build/fuzz/fuzz_session -max_total_time=$(FUZZ_TIME) -max_len=4096 \
		-artifact_prefix=build/fuzz/ build/fuzz/corpus-session
	build/fuzz/fuzz_pcap -max_total_time=$(FUZZ_TIME) -max_len=65536 -rss_limit_mb=2048 \
		-artifact_prefix=build/fuzz/ build/fuzz/corpus-pcap
	build/fuzz/fuzz_tls -max_total_time=$(FUZZ_TIME) -max_len=131072 \
		-artifact_prefix=build/fuzz/ build/fuzz/corpus-tls

deps:
	sh test/install-deps.sh

demo:
	@sh test/install-deps.sh --build-only
	$(MAKE) smtpscope
	./smtpscope -r captures/core-multi-rcpt.pcap

test:
	@sh test/install-deps.sh
	$(MAKE) smtpscope asan unit bench-build
	sh test/run.sh

regen: smtpscope
	sh test/regen.sh

# The benchmark (bench/run_bench.py): its generator and the two floors.
BENCH_BIN = build/bench/gen_capture build/bench/floor_pcap build/bench/floor_nids
build/bench/gen_capture: bench/gen_capture.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<
build/bench/floor_pcap: bench/floor_pcap.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< -lpcap
build/bench/floor_nids: bench/floor_nids.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< -lnids -lpcap
bench-build: smtpscope $(BENCH_BIN)

bench:
	@sh test/install-deps.sh
	$(MAKE) bench-build
	python3 bench/run_bench.py

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

-include $(OBJ:.o=.d) $(ASAN_OBJ:.o=.d)
