#!/bin/sh
# max_incoming under simultaneous arrivals: five migrations started at
# once towards a destination with max_incoming = 2.  Each destination
# worker counts the slots held and takes one in a single step, so exactly
# two get past preflight and the other three are refused in preflight, by
# its "incoming" row (exit 3), as docs/preflight.md describes; they run
# on, unchanged, on the source.  The admitted ones are held at the COMMIT
# gate until the others have their answers, so no slot frees meanwhile.
# (A source waits for a busy destination by default; here busy_wait = 0.)
. "$(dirname "$0")/lib.sh"

DOMS="in1 in2 in3 in4 in5"
two_hosts
daemon_conf hostb "max_incoming = 2"
daemon_start hostb || { not_ok "xlmigd on hostb"; exit 1; }
# busy_wait = 0: the source takes the refusal instead of waiting its
# turn (queue.sh tests the waiting).
daemon_conf hosta "max_outgoing = 8" "busy_wait = 0"
daemon_start hosta XLMIG_TEST_COMMIT_GATE="$T_WORK/gate" ||
    { not_ok "xlmigd on hosta"; exit 1; }
for d in $DOMS; do
    on hosta $SIMDOM create -m 64M -c 1 -r 4M "$d" >/dev/null ||
        { not_ok "create $d"; exit 1; }
done
ok "five domains on hosta, hostb takes two at a time"

rounds=${ADMISSION_ROUNDS:-2}
for r in $(seq "$rounds"); do
    rm -f "$T_WORK/gate" "$T_WORK"/*.rc
    pids=""
    for d in $DOMS; do
        ( on hosta "$BUILD/xlmig" migrate "$d" hostb >"$T_WORK/$d.out" 2>&1
          echo $? >"$T_WORK/$d.rc" ) &
        pids="$pids $!"
    done
    # The refused ones answer at once; the admitted ones wait at the gate.
    wait_for 60 sh -c "[ \$(ls $T_WORK/*.rc 2>/dev/null | wc -l) -ge 3 ]" ||
        note "round $r: fewer than three migrations ended before the gate"
    sleep 1
    touch "$T_WORK/gate"
    for p in $pids; do wait "$p"; done
    ok0=0 refused=0 other="" rds=""
    for d in $DOMS; do
        rc=$(cat "$T_WORK/$d.rc")
        case $rc in
        0) ok0=$((ok0 + 1)) ;;
        3) refused=$((refused + 1)); rds="$rds $d" ;;
        *) other="$other $d:$rc" ;;
        esac
    done
    note "round $r: $ok0 migrated, $refused refused, other:${other:- none}"
    for o in $other; do sed "s/^/#   ${o%%:*}: /" "$T_WORK/${o%%:*}.out" | tail -4; done
    check "round $r: two of five simultaneous arrivals admitted, three refused" \
        [ "$ok0" -eq 2 -a "$refused" -eq 3 -a -z "$other" ]
    for rd in $rds; do
        check "round $r: $rd's refusal is preflight's incoming row, naming max_incoming = 2" \
            grep -q "incoming.*busy.*max_incoming = 2" "$T_WORK/$rd.out"
        check "round $r: the refused $rd runs on hosta and verifies" \
            intact hosta "$rd"
    done
    # Back to hosta for the next round.
    for d in $DOMS; do
        if [ "$(runs_on "$d")" = hostb ]; then
            touch "$T_WORK/gate"
            on hostb "$BUILD/xlmig" migrate --quick "$d" hosta >/dev/null 2>&1 ||
                not_ok "round $r: $d back to hosta"
        fi
    done
done
exit $T_FAILED
