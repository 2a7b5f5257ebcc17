#!/bin/sh
# make bench: save and restore throughput of 4 GiB simulated domains, one
# whose memory is all written (non-zero) and one idle and mostly zero.
# Figures, not pass/fail.  Save times include suspend and the fsync of the
# file; the stream goes to $BENCH_DIR (default /var/tmp, real storage
# through the page cache; a tmpfs there measures the engine alone).
set -eu
BUILD=${BUILD:-build}
XLMIG="$BUILD/xlmig -B sim"
SIMDOM=$BUILD/xlmig-simdom
export XLMIG_SIMDOM=$SIMDOM
SIZE=${BENCH_SIZE:-4G}
ROOT=$(mktemp -d /dev/shm/xlmig-bench.XXXXXX)
OUT=${BENCH_DIR:-/var/tmp}
mkdir -p "$OUT"
trap 'for p in "$ROOT"/*/*/pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done; sleep 0.5; rm -rf "$ROOT"; rm -f "$OUT"/bench-*.xlmig' EXIT INT TERM

avail=$(df -k --output=avail /dev/shm | tail -1)
need=$(( $(echo "$SIZE" | sed 's/G$//') * 3 * 1024 * 1024 ))
if [ "$avail" -lt "$need" ]; then
    echo "bench: /dev/shm has $((avail / 1024)) MiB free, needs $((need / 1024)) MiB for $SIZE domains" >&2
    exit 1
fi

gbps() { awk -v b="$1" -v ns="$2" 'BEGIN { printf "%.2f", b / ns }'; }

run() {         # run LABEL CREATE-OPTIONS
    label=$1; shift
    export XLMIG_SIM_DIR=$ROOT/src; mkdir -p "$XLMIG_SIM_DIR"
    $SIMDOM create -m "$SIZE" -c 2 -r 0 "$@" bench >/dev/null
    mem=$(( $($SIMDOM info bench | sed -n 's/^memory_pages=//p') * 4096 ))
    t0=$(date +%s%N)
    $XLMIG save bench "$OUT/bench-$label.xlmig" >/dev/null
    t1=$(date +%s%N)
    file=$(stat -c %s "$OUT/bench-$label.xlmig")
    export XLMIG_SIM_DIR=$ROOT/dst; mkdir -p "$XLMIG_SIM_DIR"
    t2=$(date +%s%N)
    $XLMIG restore -p "$OUT/bench-$label.xlmig" >/dev/null
    t3=$(date +%s%N)
    $SIMDOM verify bench >/dev/null || echo "bench: $label: restored domain fails verification!" >&2
    $SIMDOM destroy bench >/dev/null
    printf '%-22s %8s %10.3f %9s %10.3f %9s %14s\n' "$label" \
        "$((mem >> 20))M" "$(echo "($t1-$t0)/1000000000" | bc -l)" \
        "$(gbps "$mem" $((t1 - t0)))" "$(echo "($t3-$t2)/1000000000" | bc -l)" \
        "$(gbps "$mem" $((t3 - t2)))" "$file"
    rm -f "$OUT/bench-$label.xlmig"
}

echo "xlmig save/restore benchmark: $SIZE domains, 2 vCPUs, stream on $OUT"
echo "(GB/s is guest memory per second; save includes suspend and fsync,"
echo " restore includes domain creation, stream validation and load)"
# The storage's own limit, for scale: 1 GiB written and fsynced by dd.
t0=$(date +%s%N)
dd if=/dev/zero of="$OUT/bench-dd.xlmig" bs=4M count=256 conv=fsync 2>/dev/null
t1=$(date +%s%N)
rm -f "$OUT/bench-dd.xlmig"
echo "storage reference: dd writes+fsyncs 1 GiB to $OUT at $(gbps 1073741824 $((t1 - t0))) GB/s"
printf '%-22s %8s %10s %9s %10s %9s %14s\n' domain memory save_s save_GB/s \
    restore_s rest_GB/s file_bytes
# Each case twice: the first run also pays for this machine's first touch
# of the memory the files land in (large on a VM), the second less so.
for pass in 1 2; do
    run "non-zero, run $pass" --fill
    run "idle, run $pass"
done
