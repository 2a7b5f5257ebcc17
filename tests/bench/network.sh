#!/bin/sh
# make bench: what the announce buys.  Two namespace hosts behind a
# switch namespace (MAC learning, entries kept 300 s) and a client that
# probes the domain's UDP echo port every 10 ms; the domain migrates
# back and forth BENCH_NET_RUNS times (default 5) with the announce and
# as often with `announce = 0`.  Per run: the downtime, the time from the
# resume (the domain's run log) to the client's first reply to a probe
# sent after it, and the probes lost; the client listens at most
# BENCH_NET_WAIT seconds (default 30) for that reply.  Figures, not
# pass/fail.
set -u
BUILD=${BUILD:-build}
. tests/integration/lib.sh
XLMIGD="$BUILD/xlmigd"
RUNS=${BENCH_NET_RUNS:-5}
WAIT=${BENCH_NET_WAIT:-30}
PROBE=$BUILD/tests/integration/netprobe
IP=10.88.0.10

if ! need_netns; then
    echo "bench: needs root (network namespaces)" >&2
    exit 1
fi
[ -x "$PROBE" ] || make -s "$PROBE" >/dev/null || exit 1
pki_up && net_up && switch_up ||
    { echo "bench: cannot set up the hosts and the switch" >&2; exit 1; }

start_daemons() {       # start_daemons ANNOUNCE
    for h in hosta hostb; do
        [ -f "$T_WORK/$h.pid" ] && daemon_kill $h TERM
        daemon_conf $h "announce = $1"
        daemon_start $h || exit 1
    done
}
resumed() {
    pid=$(on "$1" $SIMDOM info web | sed -n 's/^pid=//p')
    awk -v p="$pid" '$2 == "start" && $4 == p { t = $1 } END { print t }' \
        "$T_RUNLOG"
}

start_daemons 1
on hosta ip netns exec "$(ns_of hosta)" $SIMDOM create -m 256M -c 2 -r 32M \
    --vif "mac=00:16:3e:4e:00:01,bridge=xenbr0,ip=$IP" web >/dev/null ||
    exit 1
# The client learns the domain's MAC, the switch its port.
ip netns exec "$C" "$PROBE" -t 1 "$IP" >/dev/null

printf '%-8s %3s %-12s %11s %22s %12s\n' announce run move "downtime ms" \
    "resume->reply ms" "probes lost"
where=hosta
for ann in 1 0; do
    [ $ann = 0 ] && start_daemons 0
    sum=0 got=0
    for r in $(seq "$RUNS"); do
        to=hostb
        [ $where = hostb ] && to=hosta
        # Each run from a switch that knows where the domain is: the
        # client asks afresh (broadcast ARP), the domain answers.
        ip -n "$C" neigh flush dev "${T_NS}c0"
        ip netns exec "$C" "$PROBE" -t 1 "$IP" >/dev/null
        ip netns exec "$C" "$PROBE" -i 10 -o "$T_WORK/replies" "$IP" \
            >"$T_WORK/probe" 2>&1 &
        pp=$!
        sleep 0.5
        on $where "$BUILD/xlmig" migrate --json web $to >"$T_WORK/m" 2>&1 ||
            { echo "bench: migration $where -> $to failed" >&2; cat "$T_WORK/m" >&2; exit 1; }
        t=$(resumed $to)
        # until the first reply to a probe sent after the resume, or WAIT
        for _ in $(seq $((WAIT * 10))); do
            awk -v t="$t" '$1 >= t { f = 1 } END { exit !f }' \
                "$T_WORK/replies" 2>/dev/null && break
            sleep 0.1
        done
        sleep 0.3
        kill $pp; wait $pp 2>/dev/null
        dt=$(sed -n 's/.*"event":"done".*"downtime_ms":\([0-9.]*\).*/\1/p' "$T_WORK/m")
        first=$(awk -v t="$t" '$1 >= t { printf "%.1f", ($2 - t) / 1e6; exit }' \
            "$T_WORK/replies")
        lost=$(sed -n 's/.* lost=\([0-9]*\).*/\1/p' "$T_WORK/probe")
        printf '%-8s %3s %-12s %11s %22s %12s\n' "$([ $ann = 1 ] && echo on || echo off)" \
            "$r" "$where->$to" "$dt" "${first:->$WAIT s}" "$lost"
        [ -n "$first" ] && { sum=$(awk -v a="$sum" -v b="$first" 'BEGIN { print a + b }'); got=$((got + 1)); }
        where=$to
    done
    if [ $got -gt 0 ]; then
        echo "  announce $([ $ann = 1 ] && echo on || echo off): mean resume->reply $(awk -v s="$sum" -v n="$got" 'BEGIN { printf "%.1f", s / n }') ms over $got of $RUNS runs that heard it"
    else
        echo "  announce $([ $ann = 1 ] && echo on || echo off): no run heard the domain within $WAIT s of the resume"
    fi
done
exit 0
