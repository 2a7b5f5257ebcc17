#!/bin/sh
# The network follows the domain (docs/network.md), between two namespace
# hosts whose guest bridges (xenbr0, xenbr1) hang off a real switch: a
# namespace of its own whose bridges learn MACs and keep them 300 s, and
# a client namespace behind it that probes the domain's UDP echo port
# every 10 ms through each migration.  The migration link is apart (the
# veth of two_hosts), so cutting it leaves the guests' network up.
#
# - web, with two vifs on two bridges, runs on hosta; the switch has
#   learnt both MACs on hosta's ports.
# - hosta -> hostb with the announce: both vifs are replied to again
#   within the downtime (the reported one, or the domain's own by its run
#   log, stopped to started, if longer) plus 100 ms, the switch points at hostb's ports,
#   the done event counts the frames (RARP, ARP and NA), hosta's vifs are
#   gone and the guest's network counters went on from where they were.
# - Failures before COMMIT (the link cut mid pre-copy, the destination's
#   xlmigd killed mid pre-copy): the client goes on reaching web on
#   hostb all along, and the destination keeps no vif.
# - hostb -> hosta with the announce off (announce = 0 on hosta): the
#   switch still sends web's traffic to hostb, and the client hears
#   nothing for as long as it listens (printed: the outage the announce
#   exists for).
. "$(dirname "$0")/lib.sh"
XLMIG_BIN=$BUILD/xlmig
PROBE=$BUILD/tests/integration/netprobe
MAC0=00:16:3e:4e:00:01 MAC1=00:16:3e:4e:00:02
IP0=10.88.0.10 IP6=fd88::10 IP1=10.89.0.10

two_hosts
switch_up || { not_ok "the switch and the client"; exit 1; }
daemon_start hosta || { not_ok "xlmigd on hosta"; exit 1; }
daemon_start hostb || { not_ok "xlmigd on hostb"; exit 1; }

# probe NAME ADDR: the client probes ADDR every 10 ms until probe_stop.
probe() {
    ip netns exec "$C" "$PROBE" -i 10 -o "$T_WORK/$1.replies" "$2" \
        >"$T_WORK/$1.probe" 2>&1 &
    echo $! >"$T_WORK/$1.ppid"
}
# probe_stop NAME: stop it (in this shell: a subshell cannot wait for
# it) and set $pr to what it heard.
probe_stop() {
    kill "$(cat "$T_WORK/$1.ppid")" 2>/dev/null
    wait "$(cat "$T_WORK/$1.ppid")" 2>/dev/null
    pr=$(cat "$T_WORK/$1.probe")
}
pfield() { echo "$1" | sed -n "s/.*[ ]\{0,1\}$2=\([0-9.]*\).*/\1/p"; }
jfield() { sed -n "s/.*\"event\":\"done\".*\"$2\":\([0-9.]*\).*/\1/p" "$1" |
           head -1; }
vif_on() {      # vif_on HOST DOMAIN N: the domain's vif N exists on HOST
    id=$(on "$1" $SIMDOM info "$2" 2>/dev/null | sed -n 's/^domid=//p')
    [ -n "$id" ] && ip -n "$(ns_of "$1")" link show "vif$id.$3" \
        >/dev/null 2>&1
}
# checke DESCRIPTION 'SHELL CONDITION': check, for compound conditions
checke() { d=$1; shift; if eval "$*"; then ok "$d"; else not_ok "$d"; fi; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a <= b) }'; }
# resumed HOST: when web last started running on HOST (run log, ns)
resumed() {
    pid=$(on "$1" $SIMDOM info web | sed -n 's/^pid=//p')
    awk -v p="$pid" '$2 == "start" && $4 == p { t = $1 } END { print t }' \
        "$T_RUNLOG"
}
# handover_gap FILE NS: ms between the last reply heard before NS (the
# resume) and the first after it: the silence the handover caused
handover_gap() {
    awk -v t="$2" '$2 < t { last = $2 } $2 >= t && !next_r { next_r = $2 }
        END { if (last && next_r) printf "%.1f", (next_r - last) / 1e6 }' "$1"
}
# first_after FILE NS: ms from NS to the first reply to a probe sent after
first_after() {
    awk -v t="$2" '$1 >= t { printf "%.1f", ($2 - t) / 1e6; exit }' "$1"
}

on hosta ip netns exec "$(ns_of hosta)" $SIMDOM create -m 64M -c 1 -r 2M \
    --vif "mac=$MAC0,bridge=xenbr0,ip=$IP0,ip=$IP6" \
    --vif "mac=$MAC1,bridge=xenbr1,ip=$IP1" web >/dev/null ||
    { not_ok "create web with two vifs"; exit 1; }
checke "web's vifs are TAP devices on xenbr0 and xenbr1 of hosta" \
    'vif_on hosta web 0 && vif_on hosta web 1 &&
     ip -n $(ns_of hosta) -o link show | grep -q "vif[0-9]*\.0.* master xenbr0" &&
     ip -n $(ns_of hosta) -o link show | grep -q "vif[0-9]*\.1.* master xenbr1"' 
base=$(ip netns exec "$C" "$PROBE" -i 10 -t 1 "$IP0")
base6=$(ip netns exec "$C" "$PROBE" -i 10 -t 1 "$IP6")
base1=$(ip netns exec "$C" "$PROBE" -i 10 -t 1 "$IP1")
note "from the client, before: $IP0 $base"
checke "the client reaches web on both vifs, IPv4 and IPv6" \
    '[ "$(pfield "$base" replies)" -ge 80 ] &&
     [ "$(pfield "$base6" replies)" -ge 80 ] &&
     [ "$(pfield "$base1" replies)" -ge 80 ]'
checke "the switch learnt web's MACs on hosta's ports" \
    '[ "$(switch_port $MAC0)" = "${T_NS}pa0" ] &&
     [ "$(switch_port $MAC1 1)" = "${T_NS}pa1" ]' 
udp_before=$(on hosta $SIMDOM info web | sed -n 's/^vif0=.* udp=\([0-9]*\).*/\1/p')

# ---- hosta -> hostb, with the announce ----
src_pid=$(on hosta $SIMDOM info web | sed -n 's/^pid=//p')
probe v0 "$IP0"; probe v1 "$IP1"
sleep 0.3
on hosta "$XLMIG_BIN" migrate --json web hostb >"$T_WORK/m1" 2>&1
rc=$?
sleep 0.5
probe_stop v0; p0=$pr; probe_stop v1; p1=$pr
dt=$(jfield "$T_WORK/m1" downtime_ms)
t_res=$(resumed hostb)
# The domain's own downtime, by its run log: stopped on hosta to started
# on hostb (the source's figure ends at the confirmation, after it).
t_stop=$(awk -v p="$src_pid" '$2 == "stop" && $4 == p { t = $1 } END { print t }' "$T_RUNLOG")
rdt=$(awk -v a="$t_stop" -v b="$t_res" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
[ "$(awk -v a="$rdt" -v b="$dt" 'BEGIN { print (a > b) }')" = 1 ] && dt=$rdt
note "downtime ${dt} ms (the domain's run log: ${rdt} ms from stop to start); vif0 probe: $p0"
note "vif1 probe: $p1"
note "announce: $(sed -n 's/.*"event":"done".*"announce":\({[^}]*}\).*/\1/p' "$T_WORK/m1")"
note "first reply after the resume: vif0 $(first_after "$T_WORK/v0.replies" "$t_res") ms, vif1 $(first_after "$T_WORK/v1.replies" "$t_res") ms"
checke "web migrated to hostb (exit $rc)" '[ $rc -eq 0 ] && intact hostb web' 
g0=$(handover_gap "$T_WORK/v0.replies" "$t_res")
g1=$(handover_gap "$T_WORK/v1.replies" "$t_res")
note "silent across the handover: vif0 ${g0:-?} ms, vif1 ${g1:-?} ms (longest silence of the whole run: $(pfield "$p0" longest_gap_ms), $(pfield "$p1" longest_gap_ms) ms)"
check "vif0 answers again within the downtime + 100 ms (${g0:-?} ms silent)" \
    le "$g0" "$(awk -v d="$dt" 'BEGIN{print d + 100}')"
check "vif1 answers again within the downtime + 100 ms (${g1:-?} ms silent)" \
    le "$g1" "$(awk -v d="$dt" 'BEGIN{print d + 100}')"
checke "the switch points at hostb's ports for both MACs" \
    '[ "$(switch_port $MAC0)" = "${T_NS}pb0" ] &&
     [ "$(switch_port $MAC1 1)" = "${T_NS}pb1" ]' 
# 5 rounds of: 2 RARP (one per MAC), 2 ARP (two IPv4), 1 NA (one IPv6)
check "the done event counts the announce: 2 vifs, 25 frames (10 RARP, 10 ARP, 5 NA)" \
    grep -q '"announce":{"vifs":2,"frames":25,"rarp":10,"garp":10,"na":5,' \
    "$T_WORK/m1"
check "the first frame went within 50 ms of the unpause" \
    le "$(sed -n 's/.*"announce":{[^}]*"first_ms":\([0-9.]*\).*/\1/p' "$T_WORK/m1")" 50
checke "web's vifs are on hostb's bridges, gone from hosta" \
    'vif_on hostb web 0 && vif_on hostb web 1 &&
     ! vif_on hosta web 0 && ! vif_on hosta web 1' 
udp_after=$(on hostb $SIMDOM info web | sed -n 's/^vif0=.* udp=\([0-9]*\).*/\1/p')
check "the guest's counters went on ($udp_before UDP echoes on hosta, $udp_after now)" \
    [ "${udp_after:-0}" -gt "${udp_before:-0}" ]
grep -q "announced 00:16:3e:4e:00:01 on xenbr0, 00:16:3e:4e:00:02 on xenbr1" \
    "$T_WORK/hostb.log" || not_ok "hostb logs what it announced"

# ---- failures before COMMIT: web stays on hostb, reachable ----
for fault in cut kill; do
    probe f "$IP0"
    on hostb "$XLMIG_BIN" migrate --json --bandwidth 8 web hosta \
        >"$T_WORK/f-$fault" 2>&1 &
    mp=$!
    wait_for 20 grep -q '"event":"round"' "$T_WORK/f-$fault" ||
        not_ok "$fault: the migration reached pre-copy"
    wait_for 5 vif_on hosta web 0 ||
        not_ok "$fault: the destination's vif exists in pre-copy"
    if [ $fault = cut ]; then link_down; else daemon_kill hosta; fi
    wait $mp
    rc=$?
    [ $fault = cut ] && link_up
    [ $fault = kill ] && { daemon_start hosta || not_ok "xlmigd on hosta again"; }
    probe_stop f; pf=$pr
    note "$fault: $pf"
    checke "$fault: the migration failed (exit $rc), web runs on hostb" \
        '[ $rc -ne 0 ] && intact hostb web' 
    # Never silent for long: a pre-copy round can stall the simulated
    # guest for a moment (write-protection faults), a lost vif or a
    # paused domain would be seconds (io_timeout is 3 s here).
    check "$fault: the client reached web all along ($(pfield "$pf" longest_gap_ms) ms at most between replies)" \
        le "$(pfield "$pf" longest_gap_ms)" 1000
    check "$fault: the switch still points at hostb" \
        [ "$(switch_port $MAC0)" = "${T_NS}pb0" ]
    check "$fault: hosta keeps no vif of web" \
        wait_for 10 sh -c "! ip -n $(ns_of hosta) link show | grep -q 'vif[0-9]*\.0'"
done

# ---- hostb -> hosta with the announce off ----
daemon_kill hosta TERM
daemon_conf hosta "announce = 0"
daemon_start hosta || { not_ok "xlmigd on hosta (announce off)"; exit 1; }
probe off "$IP0"
on hostb "$XLMIG_BIN" migrate --json web hosta >"$T_WORK/m2" 2>&1
rc=$?
sleep 3
probe_stop off; poff=$pr
t_res=$(resumed hosta)
fa=$(first_after "$T_WORK/off.replies" "$t_res")
note "without the announce: $poff"
note "without the announce: $(pfield "$poff" lost) of $(pfield "$poff" sent) probes lost; first reply after the resume: ${fa:-never} (listened 3 s)"
checke "web migrated to hosta (exit $rc)" '[ $rc -eq 0 ] && intact hosta web' 
check "without the announce the client hears nothing for 3 s after the resume" \
    [ -z "$fa" ]
check "and the switch still sends web's traffic to hostb" \
    [ "$(switch_port $MAC0)" = "${T_NS}pb0" ]
checke "no announce in the done event" '! grep -q "\"announce\"" "$T_WORK/m2"' 
grep -q "announce is off" "$T_WORK/hosta.log" ||
    not_ok "hosta logs that the announce is off"
no_overlap >"$T_WORK/ov" && ok "web never ran on two hosts" ||
    not_ok "web ran on two hosts at once"
sed 's/^/  /' "$T_WORK/ov" | head -3
exit $T_FAILED
