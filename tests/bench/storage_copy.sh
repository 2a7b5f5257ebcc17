#!/bin/sh
# make bench: a shared-nothing migration (docs/storage.md) between two
# namespace hosts over TLS.  A domain with 1 GiB of memory (BENCH_SN_MEM,
# dirtying 8 MiB/s) and a 4 GiB disk (BENCH_SN_DISK_MIB, half of it data)
# that its guest writes at 8 MiB/s and reads at 4 MiB/s goes from hosta
# to hostb with `xlmig migrate --copy-storage`, with one data channel and
# with two.  Per run: total time, downtime, rounds, what the disk blocks
# and the memory took in the stream, and the throughput.  Both images
# are on /dev/shm (memory speed: the figures are the migration's own
# cost, not a disk's).  Figures, not pass/fail.
set -u
BUILD=${BUILD:-build}
. tests/integration/lib.sh
XLMIGD="$BUILD/xlmigd"
MEM=${BENCH_SN_MEM:-1G}
MIB=${BENCH_SN_DISK_MIB:-4096}
XLMIG_BIN=$BUILD/xlmig

if ! need_netns; then
    echo "bench: needs root (network namespaces)" >&2
    exit 1
fi
pki_up && net_up || { echo "bench: cannot set up the hosts" >&2; exit 1; }
daemon_start hosta && daemon_start hostb || exit 1
D=$T_ROOT/disks
mkdir -p "$D"
truncate -s "${MIB}M" "$D/a.img"
dd if=/dev/urandom of="$D/a.img" bs=1M count=$((MIB / 2)) conv=notrunc \
    2>/dev/null
on hosta $SIMDOM create -m "$MEM" -c 2 -r 8M --fill \
    --disk "$D/a.img,raw,xvda,rw" --disk-rate 8M --disk-read-rate 4M \
    vm >/dev/null || exit 1
sleep 3
echo "# $MEM of memory (dirtied 8 MiB/s), a ${MIB} MiB disk ($((MIB / 2)) MiB of data, written 8 MiB/s), over TLS"
printf '%-10s %8s %10s %7s %10s %10s %9s\n' run "total s" \
    "downtime" rounds "disk MiB" "mem MiB" "MiB/s"
from=hosta to=hostb img=b
for ch in 1 2; do
    on $from "$XLMIG_BIN" migrate --json --copy-storage --channels $ch \
        --disk-map "xvda=$D/$img.img" vm $to >"$T_WORK/m.json" \
        2>"$T_WORK/m.err" ||
        { cat "$T_WORK/m.err"; grep "\"done\"" "$T_WORK/m.json"
          [ -n "${BENCH_LOGS:-}" ] && cp "$T_WORK"/*.log "$BENCH_LOGS"; exit 1; }
    e=$(grep '"event":"done"' "$T_WORK/m.json")
    f() { echo "$e" | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
    ms=$(f total_ms) down=$(f downtime_ms) rounds=$(f rounds)
    sent=$(f bytes_sent) disk=$(f disk_bytes)
    sleep 1
    printf '%-10s %8.2f %7.1f ms %7s %10.1f %10.1f %9.1f\n' \
        "$ch chan" "$(echo "$ms / 1000" | bc -l)" "$down" "$rounds" \
        "$(echo "$disk / 1048576" | bc -l)" \
        "$(echo "($sent - $disk) / 1048576" | bc -l)" \
        "$(echo "$sent / 1048576 / ($ms / 1000)" | bc -l)"
    on $to $SIMDOM verify vm >"$T_WORK/ver" ||
        { echo "bench: the domain does not verify on $to:"; cat "$T_WORK/ver"; exit 1; }
    # The image it left is the next run's destination path.
    old=$([ $img = b ] && echo a || echo b)
    rm -f "$D/$old.img"
    t=$from from=$to to=$t img=$old
done
echo "# after both runs: $(grep '^disk xvda' "$T_WORK/ver")"
on $from $SIMDOM destroy vm >/dev/null
