# tap.sh - what the shell tests share (source it after cd to the checkout):
# a temporary directory $t removed on exit, the failure count, and two
# ways of stating a check; a script ends with `tap_done`.
#   check DESCRIPTION COMMAND...   the command's status decides
#   check_eval EXPRESSION DESCRIPTION   the expression, eval'd, decides
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fails=0

check() {
    d=$1; shift
    if "$@"; then echo "ok - $d"; else echo "not ok - $d"; fails=$((fails + 1)); fi
}

check_eval() {
    if eval "$1"; then echo "ok - $2"; else echo "not ok - $2"; fails=$((fails + 1)); fi
}

tap_done() { [ "$fails" -eq 0 ]; }
