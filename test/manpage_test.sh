#!/bin/sh
# manpage_test.sh - the man page documents exactly the options --help lists,
# and mandoc finds nothing above style level in it.
set -u
cd "$(dirname "$0")/.."
bin=${1:-./smtpscope}
man=doc/smtpscope.1
fails=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT

if ! command -v mandoc >/dev/null 2>&1; then
    echo "not ok - mandoc missing (apt-get install mandoc)"
    exit 1
fi
if mandoc -T lint -W warning "$man" > "$t/lint" 2>&1; then
    echo "ok - mandoc -T lint: nothing above style level"
else
    echo "not ok - mandoc -T lint reports:"; sed 's/^/#   /' "$t/lint"; fails=1
fi

# options in --help: "-r, --read" -> r read ; "--summary" -> summary
"$bin" --help | grep -oE '^ +(-[a-zA-Z0-9](, )?)?(--[a-z-]+)?' | tr -d ' ,' |
    sed -E 's/^-([a-zA-Z0-9])--/-\1\n--/' | grep -v '^$' | sort -u > "$t/help"
# options in the man page's OPTIONS section: ".It Fl r , Fl -read Ar file"
sed -n '/^\.Sh OPTIONS/,/^\.Sh /p' "$man" | grep '^\.It Fl' |
    grep -oE 'Fl -?[a-zA-Z0-9-]+' | sed 's/^Fl /-/' | sort -u > "$t/man"
missing=$(comm -23 "$t/help" "$t/man" | tr '\n' ' ')
extra=$(comm -13 "$t/help" "$t/man" | tr '\n' ' ')
if [ -z "$missing" ]; then
    echo "ok - every option of --help ($(wc -l < "$t/help")) is in the man page"
else
    echo "not ok - options in --help but not in the man page: $missing"; fails=1
fi
if [ -z "$extra" ]; then
    echo "ok - every option of the man page is in --help"
else
    echo "not ok - options in the man page but not in --help: $extra"; fails=1
fi
[ $fails -eq 0 ]
