#!/bin/sh
# make_help_test.sh - `make help` (the Makefile's header comment) names
# every .PHONY target, and names no target the Makefile lacks.
set -u
cd "$(dirname "$0")/.."
help=$(make -s help) || { echo "not ok - make help fails"; exit 1; }
# the .PHONY line, its continuations joined
phony=$(sed -n '/^\.PHONY:/,/[^\\]$/p' Makefile | tr -d '\\' | sed 's/^\.PHONY://')
listed=$(echo "$help" | sed -n 's/^ *make \([a-z_-]*\).*/\1/p' | sed 's/^$/all/')
fails=0
for t in $phony; do
    if echo "$listed" | grep -qx "$t"; then
        echo "ok - make help lists $t"
    else
        echo "not ok - make help does not list .PHONY target $t"; fails=$((fails + 1))
    fi
done
for t in $listed; do
    echo "$phony" | tr ' \t' '\n\n' | grep -qx "$t" ||
        { echo "not ok - make help lists $t, which is no .PHONY target"; fails=$((fails + 1)); }
done
[ $fails -eq 0 ]
