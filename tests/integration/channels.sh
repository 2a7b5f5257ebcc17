#!/bin/sh
# Data channels (--channels N): two hosts as network namespaces joined by
# veth, an xlmigd each.  A live migration over 3 channels gated before
# COMMIT (memory at suspend equals the destination's, the guest verifies,
# never running on both hosts), a quick one over 4, channels that try to
# join a job they do not belong to, and the faults: the link cut, the
# destination killed, and cancel, each with the domain intact on the
# source and no copy left on the destination.
. "$(dirname "$0")/lib.sh"
XLMIG_BIN=$BUILD/xlmig
PROBE=$BUILD/tests/integration/attach_probe

two_hosts
daemon_conf hosta 'log_level = "debug"'
daemon_conf hostb 'log_level = "debug"'
daemon_start hosta XLMIG_TEST_COMMIT_GATE="$T_WORK/gate" &&
    daemon_start hostb || { not_ok "xlmigd on both hosts"; exit 1; }
ok "two hosts up, each with its own xlmigd and certificate"

probe() {       # probe JOB K N: ATTACH to hostb as hosta
    ip netns exec "${T_NS}a" "$PROBE" hostb 10.77.0.2 8002 \
        "$PKI/hosta.crt" "$PKI/hosta.key" "$PKI/ca.crt" "$@" 2>&1
}

# ---- live over 3 channels, gated before COMMIT ----
on hosta $SIMDOM create -m 256M -c 2 -r 64M -P hotset --fill web1 >/dev/null
sleep 1
gated_migrate mig1 web1 --channels 3 --max-downtime 50 web1 hostb
check "migrate --channels 3 succeeded (exit $rc)" [ $rc -eq 0 ]
check "web1 runs on hostb and verifies" intact hostb web1
check "no copy left on hosta" nothing_on hosta web1
n=$(wc -l <"$T_WORK/samples")
both=$(grep -c both "$T_WORK/samples")
check "never running on both hosts ($n samples)" [ "$n" -gt 10 -a "$both" -eq 0 ]
check "no domain's run intervals on the two hosts overlap (run log)" no_overlap
check "hosta opened 3 data channels" \
    grep -q "3 data channels open to hostb" "$T_WORK/hosta.log"
for k in 1 2; do
    grep "data channel $k: [0-9]* records" "$T_WORK/hostb.log" |
        sed 's/^/#   /'
    check "hostb loaded pages on channel $k" \
        grep -q "data channel $k: [1-9][0-9]* records, [1-9][0-9]* pages" \
        "$T_WORK/hostb.log"
done
# every pre-copy round ends with a SYNC on each of the 3 connections
rounds=$(sed -n 's/.* \([0-9]*\) rounds, .*/\1/p' "$T_WORK/mig1")
syncs=$(grep -c "SYNC [0-9]* answered" "$T_WORK/hostb.log")
check "hostb answered a SYNC per round on each connection ($rounds rounds, $syncs answers)" \
    [ -n "$rounds" -a "$syncs" -eq $((rounds * 3)) ]
daemon_kill hosta
daemon_start hosta

# ---- back, quick, over 4 channels ----
on hostb "$XLMIG_BIN" migrate --quick --channels 4 web1 hosta \
    >"$T_WORK/m" 2>&1; rc=$?
sed 's/^/#   /' "$T_WORK/m"
check "migrate --quick --channels 4 back to hosta (exit $rc)" [ $rc -eq 0 ]
check "web1 runs on hosta and verifies" intact hosta web1

# ---- channels that do not belong ----
out=$(probe 0x1234 1 2)
note "$out"
check "ATTACH for a job hostb does not have: refused with the reason" \
    sh -c "echo '$out' | grep -q 'ABORT: no job 0000000000001234 from hosta takes data channels here'"
on hosta "$XLMIG_BIN" migrate --channels 3 --bandwidth 16 web1 hostb \
    >"$T_WORK/m" 2>&1 &
mpid=$!
# the job's record on hostb names it: the newest one
n0=$(ls "$T_WORK/hostb-state/in/" | wc -l)
wait_for 10 sh -c "[ \$(ls '$T_WORK/hostb-state/in/' | wc -l) -gt $n0 ]"
wire=$(ls -t "$T_WORK/hostb-state/in/" | sed -n 's/^hosta\.\([0-9a-f]*\)$/\1/p' | head -1)
sleep 1
out=$(probe "0x$wire" 1 3)
note "$out"
check "a second channel 1 for a running job: refused" \
    sh -c "echo '$out' | grep -q 'ABORT: channel 1 is already attached'"
out=$(probe "0x$wire" 1 4)
note "$out"
check "a channel counting another number of channels: refused" \
    sh -c "echo '$out' | grep -q 'ABORT: channel 1 of 4, but the job was prepared with 3 channels'"

# ---- faults, with the same slow job still running ----
link_down
wait $mpid; rc=$?
sed 's/^/#   /' "$T_WORK/m"
check "link cut under 3 channels: rolled back (exit $rc)" [ $rc -eq 1 ]
check "web1 runs on hosta, intact" intact hosta web1
check "hostb gives up and destroys its partial copy" \
    wait_for 15 nothing_on hostb web1
link_up

on hosta "$XLMIG_BIN" migrate --channels 3 --bandwidth 32 web1 hostb \
    >"$T_WORK/m" 2>&1 &
mpid=$!
sleep 2
daemon_kill hostb
wait $mpid; rc=$?
sed 's/^/#   /' "$T_WORK/m"
check "destination killed under 3 channels: rolled back (exit $rc)" [ $rc -eq 1 ]
check "web1 runs on hosta, intact" intact hosta web1
daemon_start hostb
check "the restarted hostb removes the partial copy" \
    wait_for 10 nothing_on hostb web1

on hosta "$XLMIG_BIN" migrate --channels 3 --bandwidth 32 web1 hostb \
    >"$T_WORK/m" 2>&1 &
mpid=$!
sleep 1.5
job=$(sed -n 's/^xlmig: job \([0-9]*\): migrating.*/\1/p' "$T_WORK/m")
on hosta "$XLMIG_BIN" cancel "$job" >"$T_WORK/c" 2>&1
crc=$?
wait $mpid; rc=$?
sed 's/^/#   /' "$T_WORK/m" "$T_WORK/c"
check "cancel under 3 channels (cancel exit $crc, migrate exit $rc)" \
    [ $crc -eq 0 -a $rc -eq 5 ]
check "web1 runs on hosta, intact" intact hosta web1
check "hostb destroys its partial copy" wait_for 10 nothing_on hostb web1

daemon_kill hosta TERM
daemon_kill hostb TERM
check "no sanitizer report in either daemon's log" \
    sh -c "! grep -qE 'AddressSanitizer|runtime error|LeakSanitizer' '$T_WORK/hosta.log' '$T_WORK/hostb.log'"
on hosta $SIMDOM destroy web1 >/dev/null 2>&1
exit $T_FAILED
