#!/bin/sh
# Live storage migration on one host: `xlmig storage-move DOMAIN DISK
# NEWPATH` (docs/storage.md).  While the guest writes and reads its disk,
# the disk is copied to a new image xlmig makes, every guest write going
# to both; then the domain is switched to the new image (its config says
# so) and the old one deleted, or kept with --keep.  Every block verifies
# on the new image, the new image is as sparse as the old, and the lease
# moved with the disk.  Then the faults, each leaving the domain on its
# old image with every block intact and no partial image: cancel
# mid-copy, the new image's filesystem filling up mid-copy, xlmigd killed
# mid-copy and restarted, the domain destroyed mid-copy; and every bad
# request refused by name before anything is made.
. "$(dirname "$0")/lib.sh"
XLMIG_BIN=$BUILD/xlmig
LEASE=$BUILD/tests/integration/leasehold

two_hosts
# Small filesystems for the new images, mounted before xlmigd starts (it
# runs in a mount namespace of its own, as ip netns exec makes it).
for m in small:2m full:8m; do
    mkdir -p "$T_WORK/${m%%:*}"
    mount -t tmpfs -o size=${m#*:} "xlmig-${m%%:*}" "$T_WORK/${m%%:*}" ||
        { not_ok "a ${m#*:} tmpfs"; exit 1; }
    T_MOUNTS="$T_WORK/${m%%:*} $T_MOUNTS"
done
daemon_start hosta || { not_ok "xlmigd on hosta"; exit 1; }
ok "xlmigd up"
A=$T_WORK/a B=$T_WORK/b
mkdir -p "$A" "$B"
cfg_target() { sed -n "s/^disk=\([^,]*\),.*,$2,.*/\1/p" "$T_ROOT/hosta/$1/config"; }
alloc_kib() { du -k "$1" | cut -f1; }
state_left() { ls "$T_WORK/hosta-state/storage" 2>/dev/null | wc -l; }

# ---- a move while the guest writes (4 MiB/s) and reads ----
truncate -s 128M "$A/db.img"
truncate -s 4M "$A/tools.iso"
truncate -s 8M "$A/ro.img"
on hosta $SIMDOM create -m 64M -c 1 -r 4M --disk "$A/db.img,raw,xvda,rw" \
    --disk "$A/ro.img,raw,xvdb,r" --disk "$A/tools.iso,raw,hdc:cdrom,r" \
    --disk-rate 4M --disk-read-rate 2M db >/dev/null ||
    { not_ok "create db"; exit 1; }
sleep 2
w0=$(on hosta $SIMDOM info db | sed -n 's/^disk0=.* writes=\([0-9]*\).*/\1/p')
on hosta "$XLMIG_BIN" storage-move --json --bandwidth 4 db xvda "$B/db.img" \
    >"$T_WORK/m1.json" 2>"$T_WORK/m1.err"; rc=$?
sed 's/^/#   /' "$T_WORK/m1.err"
tail -1 "$T_WORK/m1.json" | cut -c1-400 | sed 's/^/#   /'
check "storage-move to $B/db.img (exit $rc)" [ $rc -eq 0 ]
phases=$(sed -n 's/.*"event":"phase".*"phase":"\([a-z-]*\)".*/\1/p' "$T_WORK/m1.json" | tr '\n' ' ')
check "its phases: $phases" \
    [ "$phases" = "prepare precopy stop-and-copy handover committed " ]
check "--json: progress events with the copy's figures" \
    grep -q '"event":"progress".*"mode":"storage".*"storage":{"disk":"xvda"' "$T_WORK/m1.json"
done_line=$(grep '"event":"done"' "$T_WORK/m1.json")
copied=$(echo "$done_line" | sed -n 's/.*"copied_bytes":\([0-9]*\).*/\1/p')
mirrored=$(echo "$done_line" | sed -n 's/.*"mirrored_writes":\([0-9]*\).*/\1/p')
total=$(echo "$done_line" | sed -n 's/.*"total_ms":\([0-9.]*\).*/\1/p')
note "copied $copied octets in $total ms, $mirrored guest writes mirrored; $w0 blocks written before"
check "the guest's writes during the copy went to both images ($mirrored)" \
    [ "${mirrored:-0}" -gt 100 ]
check "the copy held to --bandwidth 4 (${copied:-0} octets in ${total:-0} ms)" \
    [ "$(echo "${copied:-0} / 1048576 / (${total:-1} / 1000) <= 4.6" | bc -l)" = 1 ]
check "the done event: switched, old image deleted" \
    grep -q '"switched":true,"old_image":"deleted"' "$T_WORK/m1.json"
check "the domain's config names the new image" \
    [ "$(cfg_target db xvda)" = "$B/db.img" ]
check "the old image is deleted" [ ! -e "$A/db.img" ]
on hosta $SIMDOM info db >"$T_WORK/info"
check "the domain runs on the new image, no mirror left" \
    grep -q "^disk0=xvda $B/db.img attached .*read_bad=0 read_stale=0 wlat_n=[0-9]* wlat_p50_us=[0-9.]* wlat_p99_us=[0-9.]*$" "$T_WORK/info"
sleep 1
w1=$(sed -n 's/^disk0=.* writes=\([0-9]*\).*/\1/p' "$T_WORK/info")
on hosta $SIMDOM verify db >"$T_WORK/ver"; vrc=$?
sed 's/^/#   /' "$T_WORK/ver"
check "every block verifies on the new image, memory too (exit $vrc)" \
    both $vrc 0 grep -q "^disk xvda: ok: 32768 blocks checked, [0-9]* written, 0 bad, 0 stale; [0-9]* reads checked, 0 bad, 0 stale" "$T_WORK/ver"
w2=$(on hosta $SIMDOM info db | sed -n 's/^disk0=.* writes=\([0-9]*\).*/\1/p')
check "the guest writes on, on the new image ($w1 -> $w2 blocks)" \
    [ "${w2:-0}" -gt "${w1:-0}" ]
ab=$(alloc_kib "$B/db.img")
written=$(sed -n 's/^disk xvda: ok: [0-9]* blocks checked, \([0-9]*\) written.*/\1/p' "$T_WORK/ver")
note "new image: $ab KiB allocated for $written blocks written of 32768"
check "the new image stays sparse: $ab KiB for $written written blocks" \
    [ "$ab" -le $(( (written + 256) * 4 )) ]
out=$($LEASE "$B/db.img" 0)
check "the domain holds the new image's lease" [ "$out" = busy ]
check "and no storage record is left" [ "$(state_left)" -eq 0 ]

# ---- --keep, and the move's summary ----
on hosta "$XLMIG_BIN" storage-move --keep db xvda "$A/db2.img" \
    >"$T_WORK/m2" 2>&1; rc=$?
sed 's/^/#   /' "$T_WORK/m2"
check "--keep: moved (exit $rc), the summary names both images" \
    both $rc 0 grep -q "^moved disk xvda of db to $A/db2.img: total .* copied of 128.0 MiB .*; old image $B/db.img kept$" "$T_WORK/m2"
check "--keep: the old image is kept" [ -f "$B/db.img" ]
out=$($LEASE "$B/db.img" 0)
check "--keep: and free: the domain gave its lease back" [ "$out" = held ]
on hosta $SIMDOM verify db >"$T_WORK/ver"; vrc=$?
check "--keep: every block verifies on the new image (exit $vrc)" \
    both $vrc 0 grep -q "^disk xvda: ok: .* 0 bad, 0 stale; .* 0 bad, 0 stale" "$T_WORK/ver"
rm -f "$B/db.img"

# ---- refusals: nothing made, nothing changed ----
refused() {     # refused WHAT EXIT PATTERN ARGS...
    what=$1 want=$2 pat=$3; shift 3
    on hosta "$XLMIG_BIN" storage-move "$@" >"$T_WORK/r" 2>&1; rc=$?
    sed 's/^/#   /' "$T_WORK/r"
    check "refused: $what (exit $rc)" both $rc "$want" grep -q "$pat" "$T_WORK/r"
}
refused "no such domain" 1 "no domain nosuch on this host" nosuch xvda "$B/x.img"
refused "no such disk, its disks named" 1 "db has no disk xvdz (its disks: xvda, xvdb, hdc)" db xvdz "$B/x.img"
refused "a CD-ROM drive" 1 "disk hdc of db is a removable drive" db hdc "$B/x.img"
refused "a read-only disk" 1 "disk xvdb of db is read-only" db xvdb "$B/x.img"
touch "$B/exists.img"
refused "an existing file as the new image" 1 "$B/exists.img exists: a storage move makes its new image and never writes over a file" db xvda "$B/exists.img"
check "the existing file is untouched" [ ! -s "$B/exists.img" ]
refused "no such directory" 1 "no directory $B/nodir for the new image" db xvda "$B/nodir/x.img"
refused "the image the disk is on" 1 "disk xvda is on $A/db2.img already" db xvda "$A/db2.img"
refused "a relative path" 2 "NEWPATH must be an absolute path" db xvda x.img
refused "a disk name with a slash" 2 "is not a disk's virtual device" db /dev/xvda "$B/x.img"
refused "--bandwidth 0" 2 "bandwidth" --bandwidth 0 db xvda "$B/x.img"
refused "too little room, with the figures" 1 "$T_WORK/small has 2.0 MiB free; the copy of disk xvda needs [0-9.]* MiB (the data $A/db2.img holds)" db xvda "$T_WORK/small/x.img"
check "no image was made by any refusal" [ "$(ls "$B" | tr '\n' ' ')" = "exists.img " ]
on hosta $SIMDOM create -m 16M -c 1 -r 0 paused1 >/dev/null
on hosta $SIMDOM pause paused1
refused "a domain that is not running" 1 "domain paused1 is paused, not running" paused1 xvda "$B/x.img"
on hosta $SIMDOM destroy paused1 >/dev/null

# ---- faults: each leaves the domain on its old image, intact ----
# A disk with 24 MiB of data to copy, at 2 MiB/s: 12 s of copy.
mkdir -p "$A/f"
truncate -s 64M "$A/f/vm.img"
dd if=/dev/urandom of="$A/f/vm.img" bs=1M count=24 conv=notrunc 2>/dev/null
on hosta $SIMDOM create -m 32M -c 1 -r 1M --disk "$A/f/vm.img,raw,xvda,rw" \
    --disk-rate 2M --disk-read-rate 1M vm >/dev/null ||
    { not_ok "create vm"; exit 1; }
start_move() {  # start_move NEWPATH [OPTIONS]: in the background
    p=$1; shift
    on hosta "$XLMIG_BIN" storage-move --bandwidth 2 "$@" vm xvda "$p" \
        >"$T_WORK/mv" 2>&1 &
    mpid=$!
    wait_for 5 grep -q "moving disk" "$T_WORK/mv"
    job=$(sed -n 's/^xlmig: job \([0-9]*\): moving.*/\1/p' "$T_WORK/mv")
}
on_old() {      # on_old WHAT NEWPATH: the domain on vm.img, intact
    on hosta $SIMDOM info vm >"$T_WORK/info"
    on hosta $SIMDOM verify vm >"$T_WORK/ver"; vrc=$?
    sed 's/^/#   /' "$T_WORK/ver"
    check "$1: the domain runs on its old image, no mirror" \
        grep -q "^disk0=xvda $A/f/vm.img attached .*read_stale=0 wlat_n=[0-9]* wlat_p50_us=[0-9.]* wlat_p99_us=[0-9.]*$" "$T_WORK/info"
    check "$1: its config still names the old image" \
        [ "$(cfg_target vm xvda)" = "$A/f/vm.img" ]
    check "$1: every block verifies (exit $vrc)" \
        both $vrc 0 grep -q "^disk xvda: ok: .* 0 bad, 0 stale; .* 0 bad, 0 stale" "$T_WORK/ver"
    check "$1: no partial image left, no record" \
        [ ! -e "$2" -a "$(state_left)" -eq 0 ]
}

start_move "$B/c.img"
sleep 2
on hosta $SIMDOM info vm | grep '^disk0' >"$T_WORK/info"
sed 's/^/#   /' "$T_WORK/info"
check "mid-copy: the domain process mirrors to the new image" \
    grep -q "mirror=copying:$B/c.img:" "$T_WORK/info"
on hosta "$XLMIG_BIN" cancel "$job" >/dev/null 2>&1
wait $mpid; rc=$?
sed 's/^/#   /' "$T_WORK/mv"
check "cancel mid-copy: exit 5, the disk stays on its image" \
    both $rc 5 grep -q "disk xvda of vm stays on $A/f/vm.img" "$T_WORK/mv"
on_old "cancel" "$B/c.img"

# The new image's filesystem fills up: 8 MiB of room for a copy that
# needs 24 MiB (the room check counts the old image's data, so the
# data is written while the copy runs: the guest writes 4 MiB/s into
# the holes of a sparse image).
truncate -s 64M "$A/f/sp.img"
dd if=/dev/urandom of="$A/f/sp.img" bs=1M count=2 conv=notrunc 2>/dev/null
on hosta $SIMDOM create -m 32M -c 1 -r 1M --disk "$A/f/sp.img,raw,xvda,rw" \
    --disk-rate 6M sp >/dev/null || not_ok "create sp"
on hosta "$XLMIG_BIN" storage-move --bandwidth 1 sp xvda "$T_WORK/full/sp.img" \
    >"$T_WORK/mf" 2>&1; rc=$?
sed 's/^/#   /' "$T_WORK/mf"
check "the new image's filesystem full mid-copy: the move fails (exit $rc), saying so" \
    both $rc 1 grep -q "the copy to $T_WORK/full/sp.img failed: writing $T_WORK/full/sp.img: No space left on device" "$T_WORK/mf"
on hosta $SIMDOM verify sp >"$T_WORK/ver"; vrc=$?
sed 's/^/#   /' "$T_WORK/ver"
check "filesystem full: every guest write completed on the old image (exit $vrc)" \
    both $vrc 0 grep -q "^disk xvda: ok: .* 0 bad, 0 stale" "$T_WORK/ver"
check "filesystem full: the domain stays on its image, no partial image" \
    [ "$(cfg_target sp xvda)" = "$A/f/sp.img" -a ! -e "$T_WORK/full/sp.img" ]
on hosta $SIMDOM destroy sp >/dev/null

# xlmigd killed mid-copy: the domain process mirrors on, alone; the
# daemon's successor finds the record, stops the mirror and deletes the
# new image.
start_move "$B/k.img"
sleep 2
daemon_kill hosta
wait $mpid
sleep 1
on hosta $SIMDOM info vm >"$T_WORK/info"
check "xlmigd killed: the mirror runs on without it" \
    grep -q "mirror=copying:$B/k.img:" "$T_WORK/info"
check "xlmigd killed: its record of the move is there" [ "$(state_left)" -eq 1 ]
daemon_start hosta || not_ok "xlmigd restarts"
check "the restarted xlmigd settled it: cancelled before the switch" \
    grep -q "storage move of disk xvda of vm cancelled: its daemon stopped before the switch; it stays on $A/f/vm.img and $B/k.img is deleted" "$T_WORK/hosta.log"
on_old "xlmigd restarted" "$B/k.img"

# Nothing to settle twice: a move after the restart goes through.
on hosta "$XLMIG_BIN" storage-move vm xvda "$B/vm.img" >"$T_WORK/m3" 2>&1; rc=$?
sed 's/^/#   /' "$T_WORK/m3"
on hosta $SIMDOM verify vm >"$T_WORK/ver"; vrc=$?
check "after the restart a move goes through, every block verifying (exit $rc, $vrc)" \
    [ $rc -eq 0 -a $vrc -eq 0 -a "$(cfg_target vm xvda)" = "$B/vm.img" -a ! -e "$A/f/vm.img" ]

# The domain destroyed mid-copy: the move fails, the partial image goes.
on hosta "$XLMIG_BIN" storage-move --bandwidth 2 vm xvda "$A/f/d.img" \
    >"$T_WORK/md" 2>&1 &
mpid=$!
sleep 1.5
on hosta $SIMDOM destroy vm >/dev/null
wait $mpid; rc=$?
sed 's/^/#   /' "$T_WORK/md"
check "the domain destroyed mid-copy: the move fails (exit $rc)" [ $rc -eq 1 ]
check "and deletes its partial image, keeping the domain's own" \
    [ ! -e "$A/f/d.img" -a -f "$B/vm.img" -a "$(state_left)" -eq 0 ]

on hosta $SIMDOM destroy db >/dev/null
exit $T_FAILED
