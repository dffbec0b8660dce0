#!/bin/sh
# deb_test.sh - the Debian package: dpkg-buildpackage builds it from a
# clean copy of the tree against Debian's libpcap and libnids, lintian
# reports no error, apt-get installs it, the installed binary reads a
# bundled capture exactly as the golden output says, and it is removed.
set -u
cd "$(dirname "$0")/.."
for tool in dpkg-buildpackage lintian dh apt-get; do
    command -v $tool >/dev/null 2>&1 ||
        { echo "not ok - Debian package: $tool missing (make deps)"; exit 1; }
done
if [ "$(id -u)" -ne 0 ]; then
    echo "not ok - Debian package: installing it needs root"; exit 1
fi
if dpkg-query -W -f='${Status}' smtpscope 2>/dev/null | grep -q "install ok installed"; then
    echo "not ok - Debian package: smtpscope is already installed here; not touching it"
    exit 1
fi
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fails=0
# a clean copy of what git tracks, plus the working tree's changes
mkdir "$t/smtpscope-0.1.0"
# ("--": a file whose name begins with "-" is copied, not read as an option)
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$t/smtpscope-0.1.0" -- 2>/dev/null
if (cd "$t/smtpscope-0.1.0" && dpkg-buildpackage -us -uc -b) > "$t/build.log" 2>&1; then
    echo "ok - dpkg-buildpackage -us -uc -b builds the package"
else
    echo "not ok - dpkg-buildpackage failed:"; tail -30 "$t/build.log" | sed 's/^/#   /'
    exit 1
fi
deb=$(ls "$t"/smtpscope_*.deb | head -1)
lintian "$deb" > "$t/lintian.log" 2>&1
if grep -q "^E:" "$t/lintian.log"; then
    echo "not ok - lintian reports errors:"; grep "^E:" "$t/lintian.log" | sed 's/^/#   /'
    fails=$((fails + 1))
else
    echo "ok - lintian: no errors ($(grep -c '^W:' "$t/lintian.log") warnings)"
fi
grep "^W:" "$t/lintian.log" | sed 's/^/#   /'
if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" > "$t/install.log" 2>&1; then
    echo "ok - apt-get install ./$(basename "$deb")"
else
    echo "not ok - apt-get install failed:"; tail -10 "$t/install.log" | sed 's/^/#   /'
    exit 1
fi
if /usr/bin/smtpscope -q -r captures/core-multi-rcpt.pcap | cmp -s - test/golden/core-multi-rcpt.txt; then
    echo "ok - the installed /usr/bin/smtpscope matches the golden log of core-multi-rcpt"
else
    echo "not ok - the installed binary's output differs from the golden log"; fails=$((fails + 1))
fi
for f in /usr/share/man/man1/smtpscope.1.gz /usr/lib/systemd/system/smtpscope@.service \
         /usr/share/bash-completion/completions/smtpscope; do
    if [ -e "$f" ]; then echo "ok - installed: $f"; else echo "not ok - missing: $f"; fails=$((fails + 1)); fi
done
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq smtpscope > "$t/purge.log" 2>&1 ||
    { echo "not ok - apt-get purge smtpscope"; fails=$((fails + 1)); }
exit $((fails > 0))
