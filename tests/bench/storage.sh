#!/bin/sh
# make bench: a storage move on one host (docs/storage.md).  A domain
# writes its 1 GiB disk (BENCH_STO_MIB, default 1024; 512 MiB of it data)
# at BENCH_STO_RATE (default 8M) and reads it at half that; its disk is
# moved with `xlmig storage-move`, uncapped and with --bandwidth 128.
# Per move: the copy's time and throughput, the guest writes mirrored,
# and the guest's write latency (p50, p99) while mirrored against the
# same domain's before the move.  Both images are on the sim directory's
# tmpfs (memory speed: the figures are the mirror's own cost, not a
# disk's).  Figures, not pass/fail.
set -u
BUILD=${BUILD:-build}
. tests/integration/lib.sh
XLMIGD="$BUILD/xlmigd"
MIB=${BENCH_STO_MIB:-1024}
RATE=${BENCH_STO_RATE:-8M}
XLMIG_BIN=$BUILD/xlmig

if ! need_netns; then
    echo "bench: needs root (network namespaces)" >&2
    exit 1
fi
pki_up && net_up || { echo "bench: cannot set up the host" >&2; exit 1; }
daemon_start hosta || exit 1
D=$T_ROOT/disks
mkdir -p "$D"
truncate -s "${MIB}M" "$D/a.img"
dd if=/dev/urandom of="$D/a.img" bs=1M count=$((MIB / 2)) conv=notrunc \
    2>/dev/null
on hosta $SIMDOM create -m 256M -c 1 -r 8M --disk "$D/a.img,raw,xvda,rw" \
    --disk-rate "$RATE" --disk-read-rate "$RATE" vm >/dev/null || exit 1
sleep 5
base=$(on hosta $SIMDOM info vm | sed -n 's/^disk0=.* wlat_n=\([0-9]*\) wlat_p50_us=\([0-9.]*\) wlat_p99_us=\([0-9.]*\).*/\1 \2 \3/p')
echo "# disk ${MIB} MiB ($((MIB / 2)) MiB of data), guest writing $RATE/s"
echo "# before any move: $(echo $base | cut -d' ' -f1) writes, p50 $(echo $base | cut -d' ' -f2) us, p99 $(echo $base | cut -d' ' -f3) us"
printf '%-16s %8s %10s %12s %10s %12s %12s\n' move "time s" "copied MiB" \
    "MiB/s" mirrored "p50 us" "p99 us"
from=a
for cap in 0 128; do
    to=b
    [ $from = b ] && to=a
    opt=""
    [ $cap -gt 0 ] && opt="--bandwidth $cap"
    on hosta "$XLMIG_BIN" storage-move --json $opt vm xvda "$D/$to.img" \
        >"$T_WORK/m.json" 2>"$T_WORK/m.err" ||
        { cat "$T_WORK/m.err"; exit 1; }
    e=$(grep '"event":"done"' "$T_WORK/m.json")
    f() { echo "$e" | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
    ms=$(f total_ms) cp=$(f copied_bytes) mir=$(f mirrored_writes)
    p50=$(f write_p50_ms) p99=$(f write_p99_ms)
    printf '%-16s %8.2f %10.1f %12.1f %10s %12.1f %12.1f\n' \
        "$([ $cap -gt 0 ] && echo "cap $cap MiB/s" || echo uncapped)" \
        "$(echo "$ms / 1000" | bc -l)" "$(echo "$cp / 1048576" | bc -l)" \
        "$(echo "$cp / 1048576 / ($ms / 1000)" | bc -l)" "$mir" \
        "$(echo "$p50 * 1000" | bc -l)" "$(echo "$p99 * 1000" | bc -l)"
    from=$to
done
on hosta $SIMDOM verify vm >"$T_WORK/ver" ||
    { echo "bench: the domain does not verify after the moves:"; cat "$T_WORK/ver"; exit 1; }
echo "# after both moves: $(grep '^disk xvda' "$T_WORK/ver")"
on hosta $SIMDOM destroy vm >/dev/null
