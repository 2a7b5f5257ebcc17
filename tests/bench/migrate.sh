#!/bin/sh
# make bench: live migration over TLS between two hosts (network
# namespaces joined by veth, an xlmigd each), for 1 GiB and 4 GiB
# simulated domains whose memory is all written, at guest dirty rates of
# 0, 64 and 256 MiB/s (hot set).  Prints, per run: throughput, rounds,
# total time, downtime, bytes sent / memory; and beside them this
# machine's AES-128-GCM rate through the same OpenSSL, the ceiling for
# one TLS connection.  Both ends share this machine's cores.  Figures,
# not pass/fail.  BENCH_SIZES (default "1G 4G"), BENCH_RATES
# (default "0 64M 256M"), BENCH_CHANNELS (data channels, default "1 2"),
# BENCH_DOWNTIME (ms, default 20).
set -u
BUILD=${BUILD:-build}
. tests/integration/lib.sh
XLMIGD="$BUILD/xlmigd"         # the daemon as shipped, no test hooks
SIZES=${BENCH_SIZES:-1G 4G}
RATES=${BENCH_RATES:-0 64M 256M}
DOWNTIME=${BENCH_DOWNTIME:-20}
CHANNELS=${BENCH_CHANNELS:-1 2}

if ! need_netns; then
    echo "bench: needs root (network namespaces)" >&2
    exit 1
fi
pki_up && net_up || { echo "bench: cannot set up the two hosts" >&2; exit 1; }
daemon_conf hosta 'io_timeout = 60' "state_dir = \"$T_ROOT/hosta-state\""
daemon_conf hostb 'io_timeout = 60' "state_dir = \"$T_ROOT/hostb-state\""
daemon_start hosta && daemon_start hostb || exit 1

aes=$(openssl speed -elapsed -seconds 2 -bytes 16384 -evp aes-128-gcm 2>/dev/null |
      awk '/^aes-128-gcm|^AES-128-GCM/ { v=$NF; sub(/k$/, "", v); print v * 1000 }')
aes_mib=$(awk -v b="${aes:-0}" 'BEGIN { printf "%.0f", b / 1048576 }')
echo "AES-128-GCM through OpenSSL on one core, 16 KiB records: $aes_mib MiB/s"
echo "(the ceiling for one TLS stream; the receiver decrypts on the same cores)"
echo
printf '%-5s %-6s %4s %10s %6s %8s %10s %9s %9s\n' size dirty chan "MiB/s" \
    rounds "total s" "downtime" "sent/mem" "of AES"

field() { sed -n "s/.*\"$1\":\\([-0-9.]*\\).*/\\1/p" "$2" | tail -1; }

for size in $SIZES; do
  for rate in $RATES; do
    for ch in $CHANNELS; do
        on hosta $SIMDOM create -m "$size" -c 2 -r "$rate" -P hotset --fill \
            bench >/dev/null || { echo "bench: cannot create a $size domain" >&2; exit 1; }
        sleep 1
        on hosta "$BUILD/xlmig" migrate --json --max-downtime "$DOWNTIME" \
            --channels "$ch" bench hostb >"$T_WORK/ev" 2>"$T_WORK/err"
        if ! grep -q '"event":"done".*"result":"ok"' "$T_WORK/ev"; then
            echo "bench: $size at $rate over $ch channels failed:" >&2
            cat "$T_WORK/err" >&2
            grep done "$T_WORK/ev" >&2
            exit 1
        fi
        grep '"event":"done"' "$T_WORK/ev" >"$T_WORK/done"
        total=$(field total_ms "$T_WORK/done")
        down=$(field downtime_ms "$T_WORK/done")
        rounds=$(field rounds "$T_WORK/done")
        sent=$(field bytes_sent "$T_WORK/done")
        mem=$(field memory_bytes "$T_WORK/done")
        awk -v s="$size" -v r="$rate" -v c="$ch" -v t="$total" -v d="$down" \
            -v n="$rounds" -v b="$sent" -v m="$mem" -v a="${aes:-0}" 'BEGIN {
                thr = b / (t / 1000) / 1048576
                printf "%-5s %-6s %4d %10.0f %6d %8.2f %7.1f ms %9.2f %8.0f%%\n",
                    s, r, c, thr, n, t / 1000, d, b / m, a ? 100 * thr * 1048576 / a : 0
            }'
        on hostb $SIMDOM verify bench >/dev/null ||
            echo "bench: $size at $rate: the destination copy does not verify" >&2
        on hostb $SIMDOM destroy bench >/dev/null
    done
  done
done
