#!/bin/sh
# Shared-nothing migration: `xlmig migrate --copy-storage` moves a
# domain's writable disks with its memory, between hosts that share no
# storage (docs/storage.md).  While the guest writes and reads its disk,
# the disk's blocks go in the pre-copy rounds with its pages, the blocks
# it dirties again after them, the last ones while it is suspended; the
# destination makes each image (at --disk-map's path, or the same path)
# and the domain resumes there on it.  Every block verifies on the
# destination's image, which is as sparse as the source's; a read-only
# disk is not copied (it must be on both hosts); the source's image
# stays, no longer in use.  Then the faults, each leaving the domain
# running on the source on its own image, intact, with no partial image
# and no domain on the destination: cancel, the destination's xlmigd
# killed, the source's xlmigd killed, the link cut, the destination's
# filesystem filling up; and
# every bad request refused by name before anything moves.
. "$(dirname "$0")/lib.sh"
XLMIG_BIN=$BUILD/xlmig

two_hosts
# A filesystem on "hostb" that a filler file fills mid-copy, mounted
# before the daemons start (each runs in a mount namespace of its own).
mkdir -p "$T_WORK/room"
mount -t tmpfs -o size=48m xlmig-room "$T_WORK/room" ||
    { not_ok "a 48 MiB tmpfs"; exit 1; }
T_MOUNTS="$T_WORK/room $T_MOUNTS"
daemon_start hosta || { not_ok "xlmigd on hosta"; exit 1; }
daemon_start hostb || { not_ok "xlmigd on hostb"; exit 1; }
ok "xlmigd up on both hosts"
A=$T_WORK/a B=$T_WORK/b
mkdir -p "$A" "$B"
cfg_target() {  # cfg_target HOST DOMAIN VDEV
    sed -n "s/^disk=\([^,]*\),.*,$3,.*/\1/p" "$T_ROOT/$1/$2/config"
}
alloc_kib() { du -k "$1" | cut -f1; }

# ---- a shared-nothing migration while the guest writes and reads ----
truncate -s 128M "$A/db.img"
dd if=/dev/urandom of="$A/db.img" bs=1M count=16 conv=notrunc 2>/dev/null
truncate -s 8M "$A/ro.img"
on hosta $SIMDOM create -m 64M -c 1 -r 2M --disk "$A/db.img,raw,xvda,rw" \
    --disk "$A/ro.img,raw,xvdb,r" --disk-rate 4M --disk-read-rate 1M \
    db >/dev/null || { not_ok "create db"; exit 1; }
sleep 2
on hosta "$XLMIG_BIN" preflight --copy-storage --disk-map "xvda=$B/db.img" \
    db hostb >"$T_WORK/pf" 2>&1; rc=$?
sed 's/^/#   /' "$T_WORK/pf"
check "preflight --copy-storage: room for a copy of xvda at $B/db.img (exit $rc)" \
    both $rc 0 grep -q "disk xvda.*$B/db.img.*room for a copy" "$T_WORK/pf"
check "preflight: the read-only xvdb is looked for as shared storage" \
    grep -q "disk xvdb.*same size: shared storage" "$T_WORK/pf"
on hosta "$XLMIG_BIN" migrate --json --copy-storage \
    --disk-map "xvda=$B/db.img" db hostb >"$T_WORK/m1.json" 2>"$T_WORK/m1.err"
rc=$?
sed 's/^/#   /' "$T_WORK/m1.err"
grep '"event":"done"' "$T_WORK/m1.json" | cut -c1-500 | sed 's/^/#   /'
check "migrate --copy-storage to hostb (exit $rc)" [ $rc -eq 0 ]
left_sum=$(md5sum <"$A/db.img")
check "db runs on hostb" [ "$(runs_on db)" = hostb ]
done_line=$(grep '"event":"done"' "$T_WORK/m1.json")
dbytes=$(echo "$done_line" | sed -n 's/.*"disk_bytes":\([0-9]*\).*/\1/p')
down=$(echo "$done_line" | sed -n 's/.*"downtime_ms":\([0-9.]*\).*/\1/p')
note "disk blocks sent: ${dbytes:-none} octets; downtime ${down:-?} ms"
check "the done event counts the disk's blocks sent (>= the 16 MiB of data)" \
    [ "${dbytes:-0}" -ge 16777216 ]
check "... and not the 112 MiB of holes" [ "${dbytes:-0}" -lt 50331648 ]
check "hostb's config names the copy" [ "$(cfg_target hostb db xvda)" = "$B/db.img" ]
check "hostb's config still names the shared read-only disk" \
    [ "$(cfg_target hostb db xvdb)" = "$A/ro.img" ]
on hostb $SIMDOM info db >"$T_WORK/info"
check "the domain process on hostb has the copy open" \
    grep -q "^disk0=xvda $B/db.img attached" "$T_WORK/info"
sleep 1
on hostb $SIMDOM verify db >"$T_WORK/ver"; vrc=$?
sed 's/^/#   /' "$T_WORK/ver"
check "every block verifies on hostb's copy, memory too (exit $vrc)" \
    both $vrc 0 grep -q "^disk xvda: ok: 32768 blocks checked, [0-9]* written, 0 bad, 0 stale; [0-9]* reads checked, 0 bad, 0 stale" "$T_WORK/ver"
w1=$(on hostb $SIMDOM info db | sed -n 's/^disk0=.* writes=\([0-9]*\).*/\1/p')
sleep 1
w2=$(on hostb $SIMDOM info db | sed -n 's/^disk0=.* writes=\([0-9]*\).*/\1/p')
check "the guest writes on, on hostb's copy ($w1 -> $w2 blocks)" \
    [ "${w2:-0}" -gt "${w1:-0}" ]
ab=$(alloc_kib "$B/db.img")
check "the copy is sparse: $ab KiB allocated of 131072" [ "$ab" -lt 65536 ]
check "the source's image stays, untouched since the guest left it" \
    [ "$(stat -c %s "$A/db.img" 2>/dev/null)" = 134217728 -a \
      "$(md5sum <"$A/db.img")" = "$left_sum" ]
check "nothing of db left on hosta" nothing_on hosta db
check "no made-disks list left on hostb (the copy is the domain's)" \
    [ ! -e "$T_ROOT/hostb/db/made-disks" ]

# ---- and back, to the same path: there it exists, so preflight refuses ----
on hostb "$XLMIG_BIN" preflight --copy-storage db hosta >"$T_WORK/pf2" 2>&1
rc=$?
sed 's/^/#   /' "$T_WORK/pf2"
check "a copy over an existing image is refused in preflight (exit $rc)" \
    both $rc 3 grep -q "disk xvda.*exists.*a copy would overwrite $B/db.img" "$T_WORK/pf2"
on hostb "$XLMIG_BIN" migrate --copy-storage db hosta >"$T_WORK/m2" 2>&1
rc=$?
check "... and so is the migration (exit $rc), db still on hostb" \
    both $rc 3 [ "$(runs_on db)" = hostb ]
on hostb "$XLMIG_BIN" migrate --copy-storage --disk-map "xvda=$A/db2.img" \
    db hosta >"$T_WORK/m3" 2>&1
rc=$?
sed 's/^/#   /' "$T_WORK/m3"
check "back to hosta, to another image (exit $rc)" both $rc 0 intact hosta db
check "the summary counts the disk" grep -q "its disks: [0-9.]* MiB sent" "$T_WORK/m3"
check "hosta's config names $A/db2.img" [ "$(cfg_target hosta db xvda)" = "$A/db2.img" ]
on hosta $SIMDOM destroy db >/dev/null
rm -f "$A/db.img" "$A/db2.img" "$B/db.img"

# ---- refusals: nothing moves, nothing is made ----
truncate -s 64M "$A/r.img"
on hosta $SIMDOM create -m 16M -c 1 -r 0 --disk "$A/r.img,raw,xvda,rw" \
    --disk "$A/ro.img,raw,xvdb,r" r1 >/dev/null
refused() {     # refused WHAT EXIT PATTERN ARGS...
    what=$1 want=$2 pat=$3; shift 3
    on hosta "$XLMIG_BIN" "$@" >"$T_WORK/r" 2>&1; rc=$?
    sed 's/^/#   /' "$T_WORK/r"
    check "refused: $what (exit $rc)" both $rc "$want" grep -q "$pat" "$T_WORK/r"
}
refused "--disk-map without --copy-storage" 2 "give --copy-storage too" \
    migrate --disk-map "xvda=$B/x.img" r1 hostb
refused "--copy-storage with --quick" 2 "not with --quick, --via or --xl" \
    migrate --copy-storage --quick r1 hostb
refused "--disk-map without a path" 2 "'xvda' is not VDEV=/ABSOLUTE/PATH" \
    migrate --copy-storage --disk-map xvda r1 hostb
refused "--disk-map to a relative path" 2 "VDEV=/ABSOLUTE/PATH" \
    migrate --copy-storage --disk-map xvda=x.img r1 hostb
refused "a disk named twice" 2 "disk-map: disk xvda twice" \
    migrate --copy-storage --disk-map "xvda=$B/1" --disk-map "xvda=$B/2" r1 hostb
refused "a disk the domain does not have" 1 "disk-map xvdq: r1 has no such disk (its disks: xvda, xvdb)" \
    migrate --copy-storage --disk-map "xvdq=$B/x.img" r1 hostb
refused "a read-only disk mapped" 1 "disk-map xvdb: disk xvdb of r1 is read-only: only writable disks are copied" \
    migrate --copy-storage --disk-map "xvdb=$B/x.img" r1 hostb
refused "no room on the destination, with the figures" 3 "disk xvda: no room for a copy: 64 MiB needed, 48 MiB free" \
    migrate --copy-storage --disk-map "xvda=$T_WORK/room/x.img" r1 hostb
check "r1 still runs on hosta after every refusal" intact hosta r1
check "no image was made by any refusal" [ -z "$(ls "$B")" ]
check "nothing of r1 on hostb" nothing_on hostb r1
on hosta $SIMDOM destroy r1 >/dev/null
rm -f "$A/r.img"

# ---- faults: each leaves the domain on hosta, on its image, intact ----
# A disk with 24 MiB of data, copied at 4 MiB/s: 6 s of copy.
truncate -s 32M "$A/vm.img"
dd if=/dev/urandom of="$A/vm.img" bs=1M count=24 conv=notrunc 2>/dev/null
on hosta $SIMDOM create -m 32M -c 1 -r 1M --disk "$A/vm.img,raw,xvda,rw" \
    --disk-rate 1M --disk-read-rate 1M vm >/dev/null ||
    { not_ok "create vm"; exit 1; }
start_copy() {  # start_copy NEWPATH: in the background
    on hosta "$XLMIG_BIN" migrate --copy-storage --bandwidth 4 \
        --disk-map "xvda=$1" vm hostb >"$T_WORK/mv" 2>&1 &
    mpid=$!
    wait_for 10 grep -q "precopy" "$T_WORK/mv"
    job=$(sed -n 's/^xlmig: job \([0-9]*\): migrating.*/\1/p' "$T_WORK/mv")
    sleep 2
}
back_home() {   # back_home WHAT NEWPATH: vm on hosta, nothing on hostb
    on hosta $SIMDOM verify vm >"$T_WORK/ver"; vrc=$?
    sed 's/^/#   /' "$T_WORK/ver"
    check "$1: vm runs on hosta" [ "$(runs_on vm)" = hosta ]
    check "$1: hosta's config still names $A/vm.img" \
        [ "$(cfg_target hosta vm xvda)" = "$A/vm.img" ]
    check "$1: every block verifies on hosta (exit $vrc)" \
        both $vrc 0 grep -q "^disk xvda: ok: .* 0 bad, 0 stale; .* 0 bad, 0 stale" "$T_WORK/ver"
    check "$1: no domain on hostb" wait_for 20 nothing_on hostb vm
    check "$1: no partial image on hostb" wait_for 10 test ! -e "$2"
}

start_copy "$B/c.img"
check "mid-copy: hostb is writing the copy" test -e "$B/c.img"
on hosta "$XLMIG_BIN" cancel "$job" >/dev/null 2>&1
wait $mpid; rc=$?
sed 's/^/#   /' "$T_WORK/mv"
check "cancel mid-copy: exit 5" [ $rc -eq 5 ]
back_home "cancel" "$B/c.img"

start_copy "$B/k.img"
daemon_kill hostb
wait $mpid; rc=$?
sed 's/^/#   /' "$T_WORK/mv"
check "hostb's xlmigd killed mid-copy: rolled back (exit $rc)" [ $rc -eq 1 ]
daemon_start hostb || not_ok "xlmigd on hostb again"
back_home "hostb's xlmigd killed, then restarted" "$B/k.img"

start_copy "$B/s.img"
daemon_kill hosta
wait $mpid; rc=$?
sed 's/^/#   /' "$T_WORK/mv"
check "hosta's xlmigd killed mid-copy: the migration does not succeed (exit $rc)" \
    [ $rc -ne 0 ]
daemon_start hosta || not_ok "xlmigd on hosta again"
back_home "hosta's xlmigd killed, then restarted" "$B/s.img"
on hosta $SIMDOM info vm | grep '^disk0' | sed 's/^/#   /'

start_copy "$B/l.img"
link_down
wait $mpid; rc=$?
link_up
sed 's/^/#   /' "$T_WORK/mv"
check "the link cut mid-copy: rolled back (exit $rc)" [ $rc -eq 1 ]
back_home "the link cut" "$B/l.img"

# The copy's filesystem fills up: it has room for the disk when preflight
# looks, then a filler file takes it.
start_copy "$T_WORK/room/f.img"
dd if=/dev/zero of="$T_WORK/room/filler" bs=1M count=48 2>/dev/null
wait $mpid; rc=$?
sed 's/^/#   /' "$T_WORK/mv"
check "hostb's filesystem full mid-copy: rolled back (exit $rc)" [ $rc -eq 1 ]
check "... and the reason is hostb's" \
    grep -q "hostb aborted: the destination rolled back: no space left on device" "$T_WORK/mv"
back_home "the filesystem full" "$T_WORK/room/f.img"
rm -f "$T_WORK/room/filler"

# After all that, the copy goes through, its blocks spread over three
# data channels with the pages.
on hosta "$XLMIG_BIN" migrate --copy-storage --channels 3 \
    --disk-map "xvda=$B/vm.img" vm hostb >"$T_WORK/mv" 2>&1; rc=$?
sed 's/^/#   /' "$T_WORK/mv"
check "then vm migrates with its disk over 3 channels (exit $rc)" \
    both $rc 0 intact hostb vm
on hostb $SIMDOM verify vm >"$T_WORK/ver"
check "... every block of its disk verifies on hostb" \
    grep -q "^disk xvda: ok: .* 0 bad, 0 stale; .* 0 bad, 0 stale" "$T_WORK/ver"
check "no domain ever ran on two hosts" no_overlap
exit $T_FAILED
