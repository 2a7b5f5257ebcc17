#!/bin/sh
# Disks that do real I/O, and their handover on storage both hosts see
# (docs/storage.md).  A domain's writable disk is a raw image its I/O
# thread writes and reads in self-checking blocks; the generation each
# block must hold lives in guest memory.  verify finds a corrupt block and
# a lost write, separately.  A live, a quick and a gated migration hand a
# disk on shared storage from hosta to hostb: the source flushes it and
# gives its lease back as it suspends, the destination takes it after
# COMMIT arrives; every block verifies on the destination, the guest's
# writes go on there, and the lease follows the domain.  The faults: the
# lease held by someone else at the handover (the destination refuses and
# the source takes its disk back and runs), the destination's daemon
# killed mid-copy, and a second domain asking for a disk in use.
. "$(dirname "$0")/lib.sh"
XLMIG_BIN=$BUILD/xlmig
LEASE=$BUILD/tests/integration/leasehold

# ---- one host: the disk workload and verify ----
host solo
mkdir -p "$T_WORK/shared"
truncate -s 64M "$T_WORK/shared/v.img"
$SIMDOM create -m 32M -c 1 -r 1M --disk "$T_WORK/shared/v.img,raw,xvda,rw" \
    --disk-rate 4M --disk-read-rate 2M v >/dev/null ||
    not_ok "create a domain with a disk"
sleep 1.5
$SIMDOM info v >"$T_WORK/info"
w=$(sed -n 's/^disk0=.* writes=\([0-9]*\).*/\1/p' "$T_WORK/info")
r=$(sed -n 's/^disk0=.* reads=\([0-9]*\).*/\1/p' "$T_WORK/info")
note "after 1.5 s: $w block writes, $r block reads"
check "the guest writes its disk at about 4 MiB/s (1.5 s: $w of 1536 blocks)" \
    [ "${w:-0}" -gt 1000 -a "${w:-0}" -lt 2200 ]
check "and reads it at about 2 MiB/s ($r of 768)" \
    [ "${r:-0}" -gt 450 -a "${r:-0}" -lt 1100 ]
$SIMDOM verify v >"$T_WORK/ver"; vrc=$?
sed 's/^/#   /' "$T_WORK/ver"
check "verify checks memory and every block of the disk (exit $vrc)" \
    both $vrc 0 grep -q "^disk xvda: ok: 16384 blocks checked, [0-9]* written, 0 bad, 0 stale; [0-9]* reads checked, 0 bad, 0 stale" "$T_WORK/ver"
check "the image's size laid out its ledger: 16384 blocks" \
    grep -q "^disk0=xvda $T_WORK/shared/v.img attached blocks=16384 " "$T_WORK/info"
$SIMDOM create -m 32M -c 1 -r 0 --disk "$T_WORK/shared/v.img,raw,xvda,rw" \
    v2 >"$T_WORK/v2" 2>&1; crc=$?
sed 's/^/#   /' "$T_WORK/v2"
check "a second domain on the same image is refused (exit $crc)" \
    both $crc 1 grep -q "disk xvda: .*v.img is in use: another domain holds its lease" "$T_WORK/v2"
out=$($LEASE "$T_WORK/shared/v.img" 0); lrc=$?
check "and so is any other writer: the lease is held (leasehold exit $lrc)" \
    [ $lrc -eq 1 -a "$out" = busy ]
# Damage two written blocks of the paused domain's image: a flipped
# octet is a corrupt block, zeros where a block was written a lost write.
$SIMDOM pause v
blocks=$(od -A d -t u8 -w4096 "$T_WORK/shared/v.img" 2>/dev/null |
    awk 'NF > 3 && $3 != 0 { print $1 / 4096; if (++n == 2) exit }')
b1=$(echo $blocks | cut -d' ' -f1) b2=$(echo $blocks | cut -d' ' -f2)
note "damaging blocks $b1 (one octet) and $b2 (zeroed)"
printf '\377' | dd of="$T_WORK/shared/v.img" bs=1 seek=$((b1 * 4096 + 100)) \
    conv=notrunc 2>/dev/null
dd if=/dev/zero of="$T_WORK/shared/v.img" bs=4096 seek="$b2" count=1 \
    conv=notrunc 2>/dev/null
$SIMDOM verify v >"$T_WORK/ver"; vrc=$?
sed 's/^/#   /' "$T_WORK/ver"
check "verify fails (exit $vrc): 1 bad block and 1 stale, apart" \
    both $vrc 1 grep -q "^disk xvda: FAILED: 16384 blocks checked, [0-9]* written, 1 bad, 1 stale;" "$T_WORK/ver"
check "it names the first: block $b1, torn or corrupt" \
    grep -q "first block $b1: torn or corrupt block (checksum fails)" "$T_WORK/ver"
$SIMDOM destroy v >/dev/null
out=$($LEASE "$T_WORK/shared/v.img" 0)
check "a destroyed domain's lease is gone with it" [ "$out" = held ]

# ---- two hosts, the disk on storage both see ----
two_hosts
daemon_start hosta XLMIG_TEST_COMMIT_GATE="$T_WORK/gate" &&
    daemon_start hostb || { not_ok "xlmigd on both hosts"; exit 1; }
ok "two hosts up"
IMG=$T_WORK/shared/db.img
truncate -s 256M "$IMG"
truncate -s 4M "$T_WORK/shared/tools.iso"
on hosta $SIMDOM create -m 128M -c 2 -r 16M --fill \
    --disk "$IMG,raw,xvda,rw" --disk "$T_WORK/shared/tools.iso,raw,hdc:cdrom,r" \
    --disk-rate 8M --disk-read-rate 4M db >/dev/null ||
    not_ok "create db with a disk on shared storage"
sleep 1
dw() { on "$1" $SIMDOM info db | sed -n 's/^disk0=.* writes=\([0-9]*\).*/\1/p'; }
dstate() { on "$1" $SIMDOM info db | sed -n 's/^disk0=xvda [^ ]* \([a-z]*\) .*/\1/p'; }

# At the gate (hosta suspended, COMMIT not yet sent): the disk is leased
# by nobody, and both copies hold the same memory, ledgers included.
rm -f "$T_WORK/gate" "$T_WORK/gate.ready"
on hosta "$XLMIG_BIN" migrate --max-downtime 100 db hostb >"$T_WORK/m1" 2>&1 &
mpid=$!
if wait_for 60 test -e "$T_WORK/gate.ready"; then
    out=$($LEASE "$IMG" 0)
    check "at the COMMIT gate hosta has given the lease back, hostb not yet taken it" \
        [ "$out" = held ]
    check "hosta's copy says released" [ "$(dstate hosta)" = released ]
    ha=$(on hosta $SIMDOM hash db) hb=$(on hostb $SIMDOM hash db)
    check "both copies hold the same memory, disk ledgers included" \
        [ -n "$ha" -a "$ha" = "$hb" ]
else
    not_ok "the migration reached the COMMIT gate"
fi
touch "$T_WORK/gate"
wait $mpid; rc=$?
sed 's/^/#   /' "$T_WORK/m1"
check "live migration of db with its disk (exit $rc)" [ $rc -eq 0 ]
check "db runs on hostb; memory and every block verify" intact hostb db
check "hostb's copy holds the disk" [ "$(dstate hostb)" = attached ]
w1=$(dw hostb); sleep 1; w2=$(dw hostb)
check "the guest's writes go on at hostb ($w1 -> $w2)" [ "$w2" -gt "$w1" ]
check "nothing of db left on hosta" nothing_on hosta db
out=$($LEASE "$IMG" 0)
check "the lease followed it: held on hostb" [ "$out" = busy ]
on hostb $SIMDOM verify db >"$T_WORK/ver"
sed 's/^/#   /' "$T_WORK/ver"
check "its reads found nothing stale across the handover" \
    grep -q "^disk xvda: ok: .* reads checked, 0 bad, 0 stale" "$T_WORK/ver"

daemon_kill hosta
daemon_start hosta
on hostb "$XLMIG_BIN" migrate --quick db hosta >"$T_WORK/q" 2>&1; rc=$?
sed 's/^/#   /' "$T_WORK/q"
check "--quick back to hosta with the disk (exit $rc)" [ $rc -eq 0 ]
check "db runs on hosta and verifies" intact hosta db

# ---- the lease held elsewhere at the handover: hostb must not run it ----
daemon_kill hosta
daemon_start hosta XLMIG_TEST_COMMIT_GATE="$T_WORK/gate"
rm -f "$T_WORK/gate" "$T_WORK/gate.ready"
on hosta "$XLMIG_BIN" migrate db hostb >"$T_WORK/m2" 2>&1 &
mpid=$!
wait_for 60 test -e "$T_WORK/gate.ready"
# Someone else takes the free image for 1.5 s (as a host that ignored
# the handover would): hostb cannot take it, the source waits for it.
$LEASE "$IMG" 1500 >"$T_WORK/lh" &
lpid=$!
wait_for 5 grep -q held "$T_WORK/lh"
touch "$T_WORK/gate"
wait $mpid; rc=$?
wait $lpid
sed 's/^/#   /' "$T_WORK/m2"
check "the disk's lease held elsewhere: rolled back (exit $rc)" [ $rc -eq 1 ]
check "the reason names the disk and the lease" \
    grep -q "disk xvda: .*db.img is in use: another domain holds its lease" "$T_WORK/m2"
check "db runs on hosta again, once the lease came back, and verifies" \
    wait_for 10 intact hosta db
check "nothing of db on hostb" wait_for 10 nothing_on hostb db
check "hosta's copy holds its disk again" [ "$(dstate hosta)" = attached ]
check "hostb's log says why it refused" \
    grep -q "cannot attach the disks of db: db: disk xvda" "$T_WORK/hostb.log"

# ---- the destination's daemon killed mid-copy ----
on hosta "$XLMIG_BIN" migrate --bandwidth 16 db hostb >"$T_WORK/m3" 2>&1 &
mpid=$!
sleep 2
daemon_kill hostb
touch "$T_WORK/gate"
wait $mpid; rc=$?
sed 's/^/#   /' "$T_WORK/m3"
check "hostb's xlmigd killed mid-copy: rolled back (exit $rc)" [ $rc -eq 1 ]
check "db runs on hosta and verifies, disk included" intact hosta db
daemon_start hostb
check "the restarted hostb removes its partial copy" \
    wait_for 10 nothing_on hostb db
check "hosta holds the disk" [ "$(dstate hosta)" = attached ]

check "db's own run log: never running on two hosts at once" \
    no_overlap "$(uuid_of hosta db)"
exit $T_FAILED
