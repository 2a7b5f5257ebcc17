#!/bin/sh
# make bench: concurrent migrations and evacuation plans, between
# namespace hosts (an xlmigd each, the daemon as shipped).
#
# 1. Aggregate throughput of 1, 2, 4 and 8 migrations at once from hosta
#    to hostb (idle sim domains, all memory written): what running them
#    together buys on this machine, whose cores both ends share.
# 2. xlmig evacuate of hosta (domains of mixed sizes and dirty rates) to
#    hostb and hostc, sequential (--window 1) and with 4 at once: the
#    plan's predicted time of each migration and of the whole against
#    what was measured.
# Figures, not pass/fail.  BENCH_ORCH_MEM (default 128M: each domain of
# part 1), BENCH_ORCH_N (default "1 2 4 8").
set -u
BUILD=${BUILD:-build}
. tests/integration/lib.sh
XLMIGD="$BUILD/xlmigd"
XLMIG_BIN=$BUILD/xlmig
MEM=${BENCH_ORCH_MEM:-128M}
NS=${BENCH_ORCH_N:-1 2 4 8}

if ! need_netns; then
    echo "bench: needs root (network namespaces)" >&2
    exit 1
fi
pki_up && net_up && third_host ||
    { echo "bench: cannot set up the hosts" >&2; exit 1; }
export T_PEERS=', "hostc@10.77.1.3"'
daemon_conf hosta 'io_timeout = 60' 'max_outgoing = 8' \
    "state_dir = \"$T_ROOT/hosta-state\""
daemon_conf hostb 'io_timeout = 60' 'max_incoming = 8' \
    "state_dir = \"$T_ROOT/hostb-state\""
daemon_conf hostc 'io_timeout = 60' 'max_incoming = 8' \
    "state_dir = \"$T_ROOT/hostc-state\""
daemon_start hosta && daemon_start hostb && daemon_start hostc || exit 1

now() { date +%s.%N; }

echo "Concurrent migrations, hosta to hostb, $MEM idle domains"
printf '%-8s %10s %12s %14s %12s\n' "at once" "total s" "MiB/s in all" \
    "MiB/s each" "vs one"
one=""
for n in $NS; do
    for i in $(seq $n); do
        on hosta $SIMDOM create -m "$MEM" -c 1 -r 0 --fill "c$n-$i" \
            >/dev/null || exit 1
    done
    t0=$(now) pids=""
    for i in $(seq $n); do
        on hosta "$XLMIG_BIN" migrate "c$n-$i" hostb >/dev/null 2>&1 &
        pids="$pids $!"
    done
    wait $pids         # not the daemons, which are children too
    t1=$(now)
    bad=0
    for i in $(seq $n); do
        on hostb $SIMDOM verify "c$n-$i" >/dev/null 2>&1 || bad=$((bad + 1))
        on hostb $SIMDOM destroy "c$n-$i" >/dev/null 2>&1
    done
    awk -v n=$n -v t0=$t0 -v t1=$t1 -v m=$MEM -v one="$one" -v bad=$bad '
        BEGIN { mib = m + 0; if (m ~ /G$/) mib *= 1024
                t = t1 - t0; agg = n * mib / t
                printf "%-8d %10.2f %12.1f %14.1f %12s%s\n", n, t, agg, agg / n,
                       one == "" ? "1.00x" : sprintf("%.2fx", agg / one),
                       bad ? sprintf("  (%d did not verify)", bad) : "" }'
    [ -z "$one" ] && one=$(awk -v t0=$t0 -v t1=$t1 -v m=$MEM \
        'BEGIN { mib = m + 0; if (m ~ /G$/) mib *= 1024; print mib / (t1 - t0) }')
done

echo
echo "Evacuation: predicted against measured (hosta to hostb and hostc)"
SIZES="96 80 64 64 48 48 40 32"
RATES="0 4M 1M 16M 0 8M 2M 32M"
for w in 1 4; do
    i=0
    for m in $SIZES; do
        i=$((i + 1))
        r=$(echo $RATES | cut -d' ' -f$i)
        on hosta $SIMDOM create -m "${m}M" -c 1 -r "$r" --fill "v$w-$i" \
            >/dev/null || exit 1
    done
    # the plan's link: the best finished migration (part 1's)
    on hosta "$XLMIG_BIN" evacuate --window $w >"$T_WORK/ev$w" 2>&1
    rc=$?
    awk -v w=$w -v rc=$rc '
        /^Link:/ { link = $0 }
        /^Chosen:/ { for (i = 1; i <= NF; i++) if ($i == "in" && pm == "") {
                         pm = $(i + 1); sub(/s\.?$/, "", pm) } }
        /^v[0-9]+-[0-9]+ / && NF >= 6 { n++; p = $3; t = $4
            e = (t - p) / p; if (e < 0) e = -e; err += e
            if (e > worst) worst = e }
        /domains moved in/ { for (i = 1; i <= NF; i++) if ($i == "in" && took == "")
                                 took = $(i + 1) }
        END {
            printf "window %d: %s\n", w, link
            printf "  whole evacuation: predicted %s s, took %s s (exit %d)\n", pm, took, rc
            if (n) printf "  per migration: mean error %.0f%%, worst %.0f%% (%d domains)\n",
                          100 * err / n, 100 * worst, n
        }' "$T_WORK/ev$w"
    for i in $(seq 8); do
        for h in hostb hostc; do on $h $SIMDOM destroy "v$w-$i" >/dev/null 2>&1; done
        on hosta $SIMDOM destroy "v$w-$i" >/dev/null 2>&1
    done
done
echo "(both ends and every guest share this machine's cores: a host's"
echo " migrations contend for CPU as much as for the link, which the plan"
echo " counts as one link shared by all of them)"
