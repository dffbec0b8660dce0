#!/bin/sh
# install_test.sh - make install DESTDIR=... places exactly the files it
# should under DESTDIR/PREFIX and nothing else; make uninstall removes them.
set -u
cd "$(dirname "$0")/.."
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fails=0
make -s install DESTDIR="$t/root" PREFIX=/opt/smtpscope > "$t/log" 2>&1 ||
    { echo "not ok - make install failed:"; sed 's/^/#   /' "$t/log"; exit 1; }
(cd "$t/root" && find . -type f | sort) > "$t/got"
cat > "$t/want" <<'LIST'
./opt/smtpscope/bin/smtpscope
./opt/smtpscope/lib/systemd/system/smtpscope@.service
./opt/smtpscope/share/bash-completion/completions/smtpscope
./opt/smtpscope/share/doc/smtpscope/examples/logrotate
./opt/smtpscope/share/man/man1/smtpscope.1
./opt/smtpscope/share/smtpscope/smtpscope.schema.json
LIST
if cmp -s "$t/want" "$t/got"; then
    echo "ok - make install places exactly the 6 files, all under DESTDIR/PREFIX"
else
    echo "not ok - installed files differ:"; diff "$t/want" "$t/got" | sed 's/^/#   /'; fails=1
fi
if grep -q "^ExecStart=/opt/smtpscope/bin/smtpscope " "$t/root/opt/smtpscope/lib/systemd/system/smtpscope@.service"; then
    echo "ok - the unit runs the binary of this PREFIX"
else
    echo "not ok - the unit's ExecStart does not name /opt/smtpscope/bin/smtpscope"; fails=1
fi
if "$t/root/opt/smtpscope/bin/smtpscope" -q -r captures/core-success.pcap | cmp -s - test/golden/core-success.txt; then
    echo "ok - the installed binary runs"
else
    echo "not ok - the installed binary's output differs"; fails=1
fi
make -s uninstall DESTDIR="$t/root" PREFIX=/opt/smtpscope > "$t/log" 2>&1
left=$(cd "$t/root" && find . -type f | wc -l)
if [ "$left" -eq 0 ]; then
    echo "ok - make uninstall removes every installed file"
else
    echo "not ok - $left files left after make uninstall"; fails=1
fi
exit $fails
