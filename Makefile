# smtpscope - passive SMTP session reconstructor.
#
#   make            build ./smtpscope (warnings are errors)
#   make demo       install build deps if missing, build, run on a bundled capture
#   make test       install missing test deps, then unit, golden, cross-check,
#                   public-trace and live tests, also under ASan+UBSan
#   make asan       build ./build/asan/smtpscope with AddressSanitizer + UBSan
#   make regen      rewrite the golden outputs (read the diff before committing!)
#   make deps       install Debian build/test dependencies (root)

CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -Iinclude -MMD -MP
LDLIBS  = -lnids -lpcap -lresolv

SRC     = $(wildcard src/*.c)
LIBSRC  = $(filter-out src/main.c,$(SRC))
OBJ     = $(SRC:src/%.c=build/obj/%.o)
ASAN_OBJ = $(SRC:src/%.c=build/asan/%.o)
ASAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

UNIT_TESTS = $(wildcard test/unit/test_*.c)

.PHONY: all demo test asan unit regen deps clean

all: smtpscope

smtpscope: $(OBJ)
	$(CC) $(CFLAGS) -o $@ $(OBJ) $(LDFLAGS) $(LDLIBS)

build/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

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

deps:
	sh test/install-deps.sh

demo:
	@sh test/install-deps.sh --build-only
	$(MAKE) smtpscope
	./smtpscope -r captures/core-multi-rcpt.pcap

test:
	@sh test/install-deps.sh
	$(MAKE) smtpscope asan unit
	sh test/run.sh

regen: smtpscope
	sh test/regen.sh

clean:
	rm -rf build smtpscope

-include $(OBJ:.o=.d) $(ASAN_OBJ:.o=.d)
