#!/bin/sh
# --auto-converge between two hosts (network namespaces, an xlmigd on
# each): a guest that dirties memory twice as fast as the capped link
# carries never meets its downtime target by pre-copy alone (the round
# limit stops it and says by how much the target is missed); allowed to
# throttle it, xlmig slows the guest until what is left fits the target,
# the copy is exact, and the guest runs unthrottled on the destination.
# A throttled migration that gives up leaves the guest on the source,
# intact and unthrottled.
. "$(dirname "$0")/lib.sh"
XLMIG_BIN=$BUILD/xlmig

two_hosts
daemon_start hosta XLMIG_TEST_COMMIT_GATE="$T_WORK/gate" &&
    daemon_start hostb || { not_ok "xlmigd on both hosts"; exit 1; }
ok "two hosts up, each with its own xlmigd and certificate"
touch "$T_WORK/gate"            # open but for the gated case

mig() {         # mig OUT HOST-FROM ARGS... ; exit status in $rc
    o=$1 h=$2; shift 2
    on "$h" "$XLMIG_BIN" migrate "$@" >"$T_WORK/$o" 2>&1
    rc=$?
    grep -E '^(xlmig: round|migrated|xlmig: .*(rolled|abandon|timeout))' \
        "$T_WORK/$o" | sed 's/^/#   /'
}
# The same guest each time: 64 MiB written at 64 MiB/s, uniformly, over
# a link capped at 32 MiB/s.
LIMITS="--bandwidth 32 --max-rounds 8 --max-downtime 300"

# ---- without --auto-converge: the round limit ends it, target missed ----
on hosta $SIMDOM create -m 64M -c 2 -r 64M -P uniform --fill hot1 >/dev/null
sleep 0.5
mig plain hosta $LIMITS hot1 hostb
check "without --auto-converge the migration completes (exit $rc)" [ $rc -eq 0 ]
check "... stopped by the round limit, missing the 300 ms target" \
    grep -q "round limit 8 reached.*misses the 300 ms target" "$T_WORK/plain"
check "... and never throttled the guest" \
    sh -c "! grep -q 'throttl' '$T_WORK/plain'"
check "hot1 runs on hostb and verifies" intact hostb hot1
on hostb $SIMDOM destroy hot1 >/dev/null

# ---- with it: throttled until the target is met, the copy exact ----
on hosta $SIMDOM create -m 64M -c 2 -r 64M -P uniform --fill hot2 >/dev/null
sleep 0.5
w0=$(on hosta $SIMDOM info hot2 | sed -n 's/^writes=//p')
sleep 1
w1=$(on hosta $SIMDOM info hot2 | sed -n 's/^writes=//p')
full=$((w1 - w0))
note "hot2 unthrottled: $full page writes in 1 s"
gated_migrate ac hot2 --auto-converge $LIMITS hot2 hostb
check "with --auto-converge the migration completes (exit $rc)" [ $rc -eq 0 ]
check "the policy throttled the guest because it was not converging" \
    grep -q "not converging: dirty rate .* throttling the guest to [0-9]*%" "$T_WORK/ac"
check "pre-copy converged under the 300 ms target (not the round limit)" \
    grep -q "converged: .* <= 300 ms" "$T_WORK/ac"
check "the summary says how far the guest was throttled" \
    grep -q "^migrated hot2 to hostb: .*, guest throttled up to [0-9]*%" "$T_WORK/ac"
check "hot2 runs on hostb and verifies" intact hostb hot2
check "no copy of hot2 left on hosta" nothing_on hosta hot2
w0=$(on hostb $SIMDOM info hot2 | sed -n 's/^writes=//p')
sleep 1
w1=$(on hostb $SIMDOM info hot2 | sed -n 's/^writes=//p')
note "hot2 on hostb: $((w1 - w0)) page writes in 1 s"
# (the throttle is the source's doing; it must not travel with the domain)
check "hot2 writes at its full rate again on hostb (more than half of $full)" \
    [ $((w1 - w0)) -gt $((full / 2)) ]
on hostb $SIMDOM destroy hot2 >/dev/null

# ---- --max-throttle: the administrator's ceiling holds ----
on hosta $SIMDOM create -m 64M -c 2 -r 64M -P uniform --fill hot4 >/dev/null
sleep 0.5
mig capped hosta --json --auto-converge --max-throttle 30 --bandwidth 32 \
    --max-rounds 5 --max-downtime 300 hot4 hostb
check "with --max-throttle 30 the migration completes (exit $rc)" [ $rc -eq 0 ]
top=$(grep -o '"throttle_pct":[0-9]*' "$T_WORK/capped" | cut -d: -f2 |
    sort -n | tail -1)
note "highest throttle in force: ${top:-none}%"
check "the guest was throttled, never beyond 30% (highest ${top:-none}%)" \
    [ "${top:-0}" -ge 1 -a "${top:-0}" -le 30 ]
check "the policy said the throttle reached its limit" \
    grep -q 'throttling the guest to 30% (its limit)' "$T_WORK/capped"
check "then went on at the limit, and the round limit ended it" \
    both 0 0 sh -c "grep -q 'the throttle is at its limit' '$T_WORK/capped' &&
        grep -q 'round limit 5 reached' '$T_WORK/capped'"
check "hot4 runs on hostb and verifies" intact hostb hot4
on hostb $SIMDOM destroy hot4 >/dev/null
on hosta "$XLMIG_BIN" migrate --max-throttle 50 hot4 hostb \
    >"$T_WORK/capuse" 2>&1
rc=$?
check "--max-throttle without --auto-converge is a usage error (exit $rc)" \
    both $rc 2 grep -q 'limits --auto-converge; give both' "$T_WORK/capuse"
on hosta "$XLMIG_BIN" migrate --auto-converge --max-throttle 100 hot4 hostb \
    >"$T_WORK/capuse" 2>&1
rc=$?
check "--max-throttle 100 is refused with the range (exit $rc)" \
    both $rc 2 grep -q "'100' is not a percentage from 1 to 99" "$T_WORK/capuse"

# ---- a throttled migration that gives up: the guest is as it was ----
on hosta $SIMDOM create -m 64M -c 2 -r max -P uniform --fill hot3 >/dev/null
sleep 0.5
mig giveup hosta --json --auto-converge --bandwidth 16 --timeout 8 hot3 hostb
check "a migration that cannot converge in time rolls back (exit $rc)" [ $rc -eq 1 ]
check "--json round events carry the throttle in force" \
    grep -q '"event":"round".*"throttle_pct":[1-9][0-9]*,"decision"' "$T_WORK/giveup"
check "it was abandoned on the timeout" \
    grep -q '"decision":"abort".*timeout' "$T_WORK/giveup"
check "hot3 runs on hosta and verifies" intact hosta hot3
check "hot3 runs unthrottled on hosta" \
    [ "$(on hosta $SIMDOM info hot3 | sed -n 's/^throttle=//p')" = 0 ]
check "log-dirty is off on hosta" \
    [ "$(on hosta $SIMDOM info hot3 | sed -n 's/^logdirty=//p')" = off ]
check "no copy of hot3 on hostb" nothing_on hostb hot3
exit $T_FAILED
