#!/bin/bash
# test_service.sh - the systemd unit as a gateway runs it.
#
# 1. systemd-analyze verify accepts dist/smtpscope@.service (installed with
#    `make install` into a scratch root, so its man page link resolves).
# 2. The unit's ExecStart, %I set to the lab's veth, runs with only
#    CAP_NET_RAW as user nobody (setpriv, not root) in the server's network
#    namespace while real sessions run through Postfix; its log directory
#    is the unit's own, created here and removed again.
# 3. A logrotate-style rotation (rename, SIGHUP) between sessions: the old
#    and new files together hold every session once.
set -u
cd "$(dirname "$0")/../.."
root=$(pwd)
if [ "$(id -u)" -ne 0 ]; then
    echo "not ok - service test: needs root (network namespaces)"; exit 1
fi
for tool in systemd-analyze setpriv man swaks; do
    command -v $tool >/dev/null 2>&1 ||
        { echo "not ok - service test: $tool missing (make deps)"; exit 1; }
done
fails=0
check() { if eval "$1"; then echo "ok - $2"; else echo "not ok - $2"; fails=$((fails + 1)); fi; }

inst=$(mktemp -d)
make -s install DESTDIR="$inst" PREFIX=/usr >/dev/null || { echo "not ok - make install"; exit 1; }
unit=$inst/usr/lib/systemd/system/smtpscope@.service
# verify the unit as installed, its binary path pointed at the scratch root
mkdir -p "$inst/verify"
sed "s|/usr/bin/smtpscope|$inst/usr/bin/smtpscope|" "$unit" > "$inst/verify/smtpscope@.service"
if MANPATH=$inst/usr/share/man systemd-analyze verify "$inst/verify/smtpscope@eth0.service" \
        > "$inst/verify.log" 2>&1; then
    echo "ok - systemd-analyze verify smtpscope@.service"
else
    echo "not ok - systemd-analyze verify smtpscope@.service:"; sed 's/^/#   /' "$inst/verify.log"
    fails=$((fails + 1))
fi

. test/lib/smtplab.sh
lab_up && lab_postfix_start || { echo "not ok - service test: lab did not start"; exit 1; }
iface=${LAB_ID}b
logdir=/var/log/smtpscope/$iface
made_logdir=
if [ ! -d "$logdir" ]; then
    mkdir -p "$logdir" && made_logdir=1
fi
chown nobody "$logdir"; chmod 0750 "$logdir"
# the unit's ExecStart, word for word, with %I and the installed binary
cmd=$(sed -n 's/^ExecStart=//p' "$unit" | sed "s|%I|$iface|g; s|^/usr/bin/smtpscope|$inst/usr/bin/smtpscope|")
check '[ -n "$cmd" ]' "ExecStart read from the unit: $cmd"
# shellcheck disable=SC2086
ip netns exec "$LAB_NS_S" setpriv --reuid=nobody --regid=nogroup --clear-groups \
    --inh-caps=-all,+net_raw --ambient-caps=-all,+net_raw --bounding-set=-all,+net_raw \
    -- $cmd 2> "$LAB_DIR/service.err" &
scope=$!
sleep 1.5
caps=$(awk '/^CapEff/ {print $2}' "/proc/$scope/status" 2>/dev/null)
user=$(ps -o user= -p "$scope" 2>/dev/null | tr -d ' ')
check '[ "$user" = nobody ]' "the service runs as nobody ($user)"
check '[ "$caps" = 0000000000002000 ]' "its only effective capability is CAP_NET_RAW ($caps)"
SW="swaks --server $LAB_SERVER4 --helo client.example.com --from sender@example.com --hide-all --timeout 10"
lab_client $SW --to alice@example.net >/dev/null
lab_client $SW --to bob@example.net >/dev/null
sleep 1
day=$(date -u +%Y%m%d)
for ext in log jsonl; do mv "$logdir/smtp-$day.$ext" "$logdir/rotated.$ext" 2>/dev/null; done
kill -HUP "$scope"
sleep 0.5
lab_client $SW --to nobody@example.net >/dev/null
sleep 1
kill -TERM "$scope"
i=0; while [ $i -lt 50 ] && kill -0 "$scope" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
kill -0 "$scope" 2>/dev/null && { kill -KILL "$scope"; echo "not ok - the service did not stop on SIGTERM"; fails=$((fails + 1)); }
wait "$scope"; rc=$?
check '[ $rc -eq 0 ]' "the service exits 0 on SIGTERM ($rc; $(head -c 200 "$LAB_DIR/service.err"))"
n_old=$(grep -c '"type":"session"' "$logdir/rotated.jsonl" 2>/dev/null)
n_new=$(grep -c '"type":"session"' "$logdir/smtp-$day.jsonl" 2>/dev/null)
check '[ "${n_old:-0}" -eq 2 ] && [ "${n_new:-0}" -eq 1 ]' \
    "2 sessions before the SIGHUP rotation, 1 after (${n_old:-0} + ${n_new:-0})"
check 'grep -q "nobody@example.net" "$logdir/smtp-$day.log" && ! grep -q "nobody@example.net" "$logdir/rotated.log"' \
    "the session after the rotation is only in the new text log"
check 'grep -q "550 5.1.1" "$logdir/smtp-$day.log"' "the new log holds its RCPT rejection"

rm -f "$logdir"/smtp-*.log "$logdir"/smtp-*.jsonl "$logdir"/rotated.log "$logdir"/rotated.jsonl
[ -n "$made_logdir" ] && rmdir "$logdir" && rmdir /var/log/smtpscope 2>/dev/null
rm -rf "$inst"
exit $((fails > 0))
