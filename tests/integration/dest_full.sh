#!/bin/sh
# A destination without room for the domain refuses it, and nothing is
# lost.  hostb's simulated guest memory lives on a 200 MiB filesystem of
# its own.  A 256 MiB domain is refused (by preflight's memory row: the
# room there is what hostb offers) and runs on hosta as before.  A 96 MiB
# one fits: its memory is reserved in full when hostb creates it, so a
# file that fills hostb's filesystem during its pre-copy cannot make a
# write into its memory fail (on a sparse file that was a SIGBUS, the
# daemon's death).  Either way hostb's xlmigd lives on, and the domain
# runs on exactly one host, its memory intact.  Needs root (mounts).
. "$(dirname "$0")/lib.sh"
XLMIG_BIN=$BUILD/xlmig

is_root || { skip "mounting a small filesystem needs root"; exit 0; }
two_hosts
mkdir -p "$T_ROOT/hostb"
mount -t tmpfs -o size=200m,mode=0700 xlmig-full "$T_ROOT/hostb" ||
    { not_ok "a 200 MiB tmpfs for hostb's domains"; exit 1; }
T_MOUNTS="$T_ROOT/hostb $T_MOUNTS"
daemon_start hosta || { not_ok "xlmigd on hosta"; exit 1; }
daemon_start hostb || { not_ok "xlmigd on hostb"; exit 1; }
bpid=$(cat "$T_WORK/hostb.pid")

on hosta $SIMDOM create -m 256M -c 1 -r 16M --fill big1 >/dev/null ||
    { not_ok "create big1"; exit 1; }
on hosta "$XLMIG_BIN" migrate big1 hostb >"$T_WORK/big" 2>&1
rc=$?
sed 's/^/#   /' "$T_WORK/big" | grep -v '^#   xlmig: round'
check "a 256 MiB domain for 200 MiB of room: refused (exit $rc)" [ $rc -eq 3 ]
check "the refusal is the memory row, with its figures" \
    grep -q "memory.*FAIL.*not enough" "$T_WORK/big"
check "hostb's xlmigd lives on" kill -0 "$bpid" 2>/dev/null
check "big1 runs on hosta, intact" intact hosta big1
check "nothing of big1 on hostb" nothing_on hostb big1
on hosta $SIMDOM destroy big1 >/dev/null
if ! kill -0 "$bpid" 2>/dev/null; then
    wait "$bpid" 2>/dev/null
    note "hostb's xlmigd died (exit status $?): restarting it for the next case"
    on hostb $SIMDOM destroy big1 >/dev/null 2>&1
    daemon_start hostb || { not_ok "xlmigd on hostb again"; exit 1; }
    bpid=$(cat "$T_WORK/hostb.pid")
fi

on hosta $SIMDOM create -m 96M -c 1 -r 32M --fill mid1 >/dev/null ||
    { not_ok "create mid1"; exit 1; }
( sleep 1.5; dd if=/dev/zero of="$T_ROOT/hostb/filler" bs=1M count=300 \
      2>/dev/null ) &
filler=$!
on hosta "$XLMIG_BIN" migrate --bandwidth 40 mid1 hostb >"$T_WORK/mid" 2>&1
rc=$?
wait $filler
sed 's/^/#   /' "$T_WORK/mid" | grep -v '^#   xlmig: round'
note "hostb's filesystem: $(df -m "$T_ROOT/hostb" | tail -1 | awk '{ print $3 " MiB used, " $4 " MiB free" }')"
check "hostb's xlmigd lives on while its filesystem fills" kill -0 "$bpid" 2>/dev/null
case $rc in
0) check "mid1 migrated (its memory was reserved): runs on hostb, intact" \
       intact hostb mid1 ;;
*) check "mid1 was refused (exit $rc) and runs on hosta, intact" \
       intact hosta mid1 ;;
esac
check "mid1 runs on exactly one host" [ "$(runs_on mid1)" != both -a "$(runs_on mid1)" != none ]

rm -f "$T_ROOT/hostb/filler"

# hostb's job records on a full filesystem: PREPARE's record cannot be
# written, so hostb refuses the job with the reason and hosta resumes.
mkdir -p "$T_WORK/hostb-full-state"
mount -t tmpfs -o size=64k,mode=0700 xlmig-full-state "$T_WORK/hostb-full-state" ||
    { not_ok "a small tmpfs for hostb's records"; exit 1; }
T_MOUNTS="$T_WORK/hostb-full-state $T_MOUNTS"
cp -a "$T_WORK/hostb-state/." "$T_WORK/hostb-full-state/" 2>/dev/null
dd if=/dev/zero of="$T_WORK/hostb-full-state/filler" bs=4k 2>/dev/null
daemon_kill hostb
daemon_conf hostb "state_dir = \"$T_WORK/hostb-full-state\""
daemon_start hostb || { not_ok "xlmigd on hostb, records on a full filesystem"; exit 1; }
bpid=$(cat "$T_WORK/hostb.pid")
on hosta $SIMDOM create -m 32M -c 1 -r 8M small1 >/dev/null ||
    { not_ok "create small1"; exit 1; }
on hosta "$XLMIG_BIN" migrate small1 hostb >"$T_WORK/small" 2>&1
rc=$?
sed 's/^/#   /' "$T_WORK/small" | grep -v '^#   xlmig: round'
check "records cannot be written on hostb: the migration fails (exit $rc)" [ $rc -eq 1 ]
check "hostb names why: it cannot record the job" \
    grep -q "cannot record" "$T_WORK/small"
check "hostb's log names the full filesystem" \
    grep -q "No space left on device" "$T_WORK/hostb.log"
check "small1 runs on hosta, intact" intact hosta small1
check "nothing of small1 on hostb" nothing_on hostb small1
check "hostb's xlmigd lives on" kill -0 "$bpid" 2>/dev/null

if grep -q "Bus error\|SIGBUS\|signal 7" "$T_WORK/hostb.log"; then
    not_ok "hostb's log has no bus error"
else
    ok "hostb's log has no bus error"
fi
exit $T_FAILED
