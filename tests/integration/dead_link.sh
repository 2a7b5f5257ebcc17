#!/bin/sh
# A link cut while the domain is suspended on the source is noticed in
# dead_peer_ms (default 2 s), not io_timeout (15 s here): a quick
# migration capped at 40 MiB/s spends seconds in stop-and-copy; the link
# goes down in the middle of it, and the source must resume the domain
# within the bound plus a second, while the destination, which waits for
# io_timeout, destroys its partial copy later.  The domain runs on exactly
# one host throughout, its memory intact.
. "$(dirname "$0")/lib.sh"
XLMIG_BIN=$BUILD/xlmig

two_hosts
daemon_conf hosta "io_timeout = 15"
daemon_conf hostb "io_timeout = 15"
daemon_start hosta || { not_ok "xlmigd on hosta"; exit 1; }
daemon_start hostb || { not_ok "xlmigd on hostb"; exit 1; }
on hosta $SIMDOM create -m 512M -c 1 -r 8M --fill web1 >/dev/null ||
    { not_ok "create web1"; exit 1; }

on hosta "$XLMIG_BIN" migrate --quick --bandwidth 40 web1 hostb \
    >"$T_WORK/m" 2>&1 &
mp=$!
wait_for 20 grep -q "stop-and-copy" "$T_WORK/m" ||
    not_ok "the quick migration reached stop-and-copy"
sleep 2
link_down
t0=$(date +%s%N)
back=""
while [ -z "$back" ] && [ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 45000 ]; do
    [ "$(runs_on web1)" = hosta ] && back=$(( ($(date +%s%N) - t0) / 1000000 ))
    sleep 0.05
done
wait $mp
rc=$?
sed 's/^/#   /' "$T_WORK/m"
note "link down in stop-and-copy: web1 ran on hosta again ${back:-never} ms later"
check "the migration rolled back (exit $rc)" [ $rc -eq 1 ]
within() { [ -n "$1" ] && [ "$1" -le "$2" ]; }
check "web1 resumed on hosta within dead_peer_ms + 1 s (${back:-never} ms)" \
    within "$back" 3000
link_up
check "web1 runs on hosta, intact" intact hosta web1
check "hostb destroys its partial copy once io_timeout passes" \
    wait_for 30 nothing_on hostb web1
exit $T_FAILED
