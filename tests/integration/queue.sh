#!/bin/sh
# The queue of outgoing migrations (docs/orchestration.md): beyond
# max_outgoing a migration waits in xlmigd's queue instead of being
# refused.  64 migrations asked at once under max_outgoing = 4 all
# finish, never more than 4 running, every domain verified on the
# destination, none lost or running twice; the queue's order (priority,
# then the order asked), its positions in `status`, `cancel` of a queued
# job; xlmigd stopped with jobs queued; a destination at its
# max_incoming answered by waiting and trying again, not failing, and,
# with busy_wait = 0, refused; max_outgoing_per_destination.
. "$(dirname "$0")/lib.sh"
XLMIG_BIN=$BUILD/xlmig

two_hosts
daemon_conf hosta "max_outgoing = 4"
daemon_conf hostb "max_incoming = 64"
daemon_start hosta || { not_ok "xlmigd on hosta"; exit 1; }
daemon_start hostb || { not_ok "xlmigd on hostb"; exit 1; }
ok "xlmigd up on both hosts"

# ---- 64 at once under max_outgoing = 4 ----
N=64
for i in $(seq $N); do
    on hosta $SIMDOM create -m 16M -c 1 -r 0 --fill "q$i" >/dev/null ||
        { not_ok "create q$i"; exit 1; }
done
rm -f "$T_WORK/stop-sampling"
(   while [ ! -e "$T_WORK/stop-sampling" ]; do
        on hosta "$XLMIG_BIN" status --json 2>/dev/null |
            awk '{ r = gsub(/"direction":"out","domain":"q[0-9]*","peer":"hostb","mode":"live","phase":"[a-z-]*","result":"running"/, "&");
                   q = gsub(/"phase":"queued"/, "&"); print r - q, q }'
        sleep 0.05
    done >"$T_WORK/samples" ) &
sampler=$!
for i in $(seq $N); do
    ( on hosta "$XLMIG_BIN" migrate --bandwidth 24 "q$i" hostb >"$T_WORK/q$i.out" 2>&1
      echo $? >"$T_WORK/q$i.rc" ) &
done
wait_for 180 sh -c "[ \$(ls $T_WORK/q*.rc 2>/dev/null | wc -l) -eq $N ]" ||
    not_ok "all $N clients ended within 180 s"
touch "$T_WORK/stop-sampling"
wait $sampler
okc=0 queued_seen=0
for i in $(seq $N); do
    [ "$(cat "$T_WORK/q$i.rc" 2>/dev/null)" = 0 ] && okc=$((okc + 1))
    grep -q "queued, [0-9]* of [0-9]*" "$T_WORK/q$i.out" &&
        queued_seen=$((queued_seen + 1))
done
for i in $(seq $N); do
    [ "$(cat "$T_WORK/q$i.rc" 2>/dev/null)" = 0 ] && continue
    note "q$i: exit $(cat "$T_WORK/q$i.rc" 2>/dev/null):"
    sed 's/^/#   /' "$T_WORK/q$i.out" | tail -3
    break
done
maxrun=$(awk '$1 > m { m = $1 } END { print m + 0 }' "$T_WORK/samples")
maxq=$(awk '$2 > m { m = $2 } END { print m + 0 }' "$T_WORK/samples")
note "$okc of $N migrated; $queued_seen were told they were queued; at most $maxrun running and $maxq queued at a sample ($(wc -l <"$T_WORK/samples") samples)"
check "all $N migrations succeeded" [ $okc -eq $N ]
check "max_outgoing = 4 running at once, never more ($maxrun)" \
    [ "$maxrun" -eq 4 ]
check "the rest waited in the queue (up to $maxq at once)" [ "$maxq" -ge 10 ]
check "the clients beyond the limit were told their place ($queued_seen)" \
    [ "$queued_seen" -ge 50 ]
bad=0 nb=0
for i in $(seq $N); do
    [ "$(runs_on "q$i")" = hostb ] || { bad=$((bad + 1)); note "q$i runs on $(runs_on "q$i")"; }
    on hostb $SIMDOM verify "q$i" >/dev/null 2>&1 || nb=$((nb + 1))
done
check "every domain runs on hostb" [ $bad -eq 0 ]
check "every domain verifies on hostb" [ $nb -eq 0 ]
check "no domain ever ran on two hosts" no_overlap
qms=$(on hosta "$XLMIG_BIN" status --json | grep -o '"queued_ms":[0-9.]*' | head -1)
check "a job that waited says how long (status: $qms)" [ -n "$qms" ]
for i in $(seq $N); do on hostb $SIMDOM destroy "q$i" >/dev/null 2>&1; done

# ---- the order: priority, then first asked; positions; cancel ----
daemon_kill hosta TERM
daemon_conf hosta "max_outgoing = 1"
daemon_start hosta || { not_ok "xlmigd on hosta again"; exit 1; }
on hosta $SIMDOM create -m 64M -c 1 -r 1M --fill slow >/dev/null
for d in pa pb pc pd; do
    on hosta $SIMDOM create -m 32M -c 1 -r 1M --fill "$d" >/dev/null
done
bg_migrate() {  # bg_migrate NAME ARGS...: in the background
    n=$1; shift
    rm -f "$T_WORK/$n.rc" "$T_WORK/$n.out" "$T_WORK/$n.end"
    ( on hosta "$XLMIG_BIN" migrate "$@" >"$T_WORK/$n.out" 2>&1
      echo $? >"$T_WORK/$n.rc"; date +%s%N >"$T_WORK/$n.end" ) &
}
# slow holds the one slot until it is cancelled below, however slowly
# this machine starts the clients that queue behind it.
bg_migrate slow --bandwidth 1 slow hostb
wait_for 10 grep -qs "precopy" "$T_WORK/slow.out"
bg_migrate pa pa hostb
wait_for 5 grep -qs "queued" "$T_WORK/pa.out"
bg_migrate pb pb hostb
wait_for 5 grep -qs "queued" "$T_WORK/pb.out"
bg_migrate pd --priority 5 pd hostb
wait_for 5 grep -qs "queued" "$T_WORK/pd.out"
bg_migrate pc pc hostb
wait_for 5 grep -qs "queued" "$T_WORK/pc.out"
on hosta "$XLMIG_BIN" status >"$T_WORK/st"
sed 's/^/#   /' "$T_WORK/st"
pos() { awk -v d="$1" '$3 == d { print $6, $7; exit }' "$T_WORK/st"; }
check "status: the priority 5 job is first in the queue ($(pos pd))" [ "$(pos pd)" = "queued 1" ]
check "status: then the others in the order asked ($(pos pa), $(pos pb), $(pos pc))" \
    [ "$(pos pa)" = "queued 2" -a "$(pos pb)" = "queued 3" -a "$(pos pc)" = "queued 4" ]
check "pd's client was told: queued, 1 of 3 (ahead of the two before it)" grep -q "queued, 1 of 3" "$T_WORK/pd.out"
jpc=$(sed -n 's/^xlmig: job \([0-9]*\): migrating.*/\1/p' "$T_WORK/pc.out")
on hosta "$XLMIG_BIN" cancel "$jpc" >"$T_WORK/cc" 2>&1; crc=$?
sed 's/^/#   /' "$T_WORK/cc"
check "cancel of queued job $jpc: it leaves the queue at once (exit $crc)" \
    both $crc 0 grep -q "taken out of the queue: cancelled, nothing moved" "$T_WORK/cc"
wait_for 5 test -e "$T_WORK/pc.rc"
sed 's/^/#   /' "$T_WORK/pc.out"
check "its client exits 5 (cancelled)" [ "$(cat "$T_WORK/pc.rc" 2>/dev/null)" = 5 ]
check "pc still runs on hosta, intact" intact hosta pc
jslow=$(sed -n 's/^xlmig: job \([0-9]*\): migrating.*/\1/p' "$T_WORK/slow.out")
on hosta "$XLMIG_BIN" cancel "$jslow" >/dev/null 2>&1
wait_for 20 test -e "$T_WORK/slow.rc"
check "slow, cancelled mid-copy, exits 5 and runs on hosta, intact" \
    both "$(cat "$T_WORK/slow.rc" 2>/dev/null || echo 9)" 5 intact hosta slow
wait_for 60 sh -c "[ -e $T_WORK/pa.rc -a -e $T_WORK/pb.rc -a -e $T_WORK/pd.rc ]"
for d in pa pb pd; do
    check "$d migrated (exit $(cat "$T_WORK/$d.rc" 2>/dev/null))" \
        both "$(cat "$T_WORK/$d.rc" 2>/dev/null || echo 9)" 0 intact hostb "$d"
done
check "pd (priority 5) finished before pa, which finished before pb" \
    [ "$(cat "$T_WORK/pd.end")" -lt "$(cat "$T_WORK/pa.end")" -a \
      "$(cat "$T_WORK/pa.end")" -lt "$(cat "$T_WORK/pb.end")" ]
for d in pa pb pd; do on hostb $SIMDOM destroy "$d" >/dev/null; done
on hosta $SIMDOM destroy slow >/dev/null

# ---- xlmigd stopped with a job queued ----
on hosta $SIMDOM create -m 32M -c 1 -r 1M --fill s2 >/dev/null
bg_migrate pc --bandwidth 1 pc hostb
wait_for 10 grep -qs "precopy" "$T_WORK/pc.out"
bg_migrate s2 s2 hostb
wait_for 5 grep -qs "queued" "$T_WORK/s2.out"
daemon_kill hosta TERM
wait_for 10 sh -c "[ -e $T_WORK/pc.rc -a -e $T_WORK/s2.rc ]"
sed 's/^/#   /' "$T_WORK/s2.out"
check "xlmigd stopped: the queued job ends, cancelled (exit $(cat "$T_WORK/s2.rc"))" \
    both "$(cat "$T_WORK/s2.rc")" 5 grep -q "a queue does not survive a restart" "$T_WORK/s2.out"
check "both domains run on hosta, intact" both 0 0 intact hosta pc
check "... s2 too" intact hosta s2

# ---- a destination at its max_incoming: wait and try again ----
daemon_kill hostb TERM
daemon_conf hostb "max_incoming = 1"
daemon_start hostb || { not_ok "xlmigd on hostb again"; exit 1; }
daemon_conf hosta "max_outgoing = 3"
daemon_start hosta || { not_ok "xlmigd on hosta again"; exit 1; }
on hosta $SIMDOM create -m 32M -c 1 -r 1M --fill b3 >/dev/null
for d in pc s2 b3; do rm -f "$T_WORK/$d.rc"; bg_migrate "$d" --bandwidth 16 "$d" hostb; done
wait_for 60 sh -c "[ -e $T_WORK/pc.rc -a -e $T_WORK/s2.rc -a -e $T_WORK/b3.rc ]"
waited=$(cat "$T_WORK/pc.out" "$T_WORK/s2.out" "$T_WORK/b3.out" | grep -c "busy: 1 incoming migrations already (max_incoming = 1); trying again in")
cat "$T_WORK/b3.out" | sed 's/^/#   /'
check "the sources waited for the busy destination ($waited tries again)" [ "$waited" -ge 2 ]
for d in pc s2 b3; do
    check "$d migrated after waiting (exit $(cat "$T_WORK/$d.rc"))" \
        both "$(cat "$T_WORK/$d.rc")" 0 intact hostb "$d"
done
check "no domain ever ran on two hosts" no_overlap

# ... and with busy_wait = 0, a busy destination refuses.
daemon_kill hosta TERM
daemon_conf hosta "max_outgoing = 3" "busy_wait = 0"
daemon_start hosta || { not_ok "xlmigd on hosta again"; exit 1; }
for d in pc s2; do
    on hostb "$XLMIG_BIN" migrate "$d" hosta >/dev/null 2>&1 || not_ok "$d back to hosta"
done
for d in pc s2; do rm -f "$T_WORK/$d.rc"; bg_migrate "$d" --bandwidth 4 "$d" hostb; done
wait_for 30 sh -c "[ -e $T_WORK/pc.rc -a -e $T_WORK/s2.rc ]"
rcs="$(cat "$T_WORK/pc.rc") $(cat "$T_WORK/s2.rc")"
check "busy_wait = 0: one migrates, the other is refused, exit 3 ($rcs)" \
    [ "$rcs" = "0 3" -o "$rcs" = "3 0" ]
check "the refusal says why" grep -q "max_incoming = 1" "$T_WORK/pc.out" "$T_WORK/s2.out"

# ---- max_outgoing_per_destination ----
daemon_kill hosta TERM
daemon_kill hostb TERM
daemon_conf hostb "max_incoming = 8"
daemon_start hostb || { not_ok "xlmigd on hostb again"; exit 1; }
daemon_conf hosta "max_outgoing = 4" "max_outgoing_per_destination = 2"
daemon_start hosta || { not_ok "xlmigd on hosta again"; exit 1; }
for i in 1 2 3 4 5 6; do
    on hosta $SIMDOM create -m 16M -c 1 -r 0 --fill "d$i" >/dev/null
done
rm -f "$T_WORK/stop-sampling"
(   while [ ! -e "$T_WORK/stop-sampling" ]; do
        on hosta "$XLMIG_BIN" status --json 2>/dev/null |
            awk '{ r = gsub(/"domain":"d[0-9]","peer":"hostb","mode":"live","phase":"[a-z-]*","result":"running"/, "&");
                   q = gsub(/"phase":"queued"/, "&"); print r - q }'
        sleep 0.05
    done >"$T_WORK/samples2" ) &
sampler=$!
for i in 1 2 3 4 5 6; do bg_migrate "d$i" --bandwidth 16 "d$i" hostb; done
wait_for 60 sh -c "[ \$(ls $T_WORK/d?.rc 2>/dev/null | wc -l) -eq 6 ]"
touch "$T_WORK/stop-sampling"
wait $sampler
maxrun=$(sort -n "$T_WORK/samples2" | tail -1)
okc=0
for i in 1 2 3 4 5 6; do
    [ "$(cat "$T_WORK/d$i.rc")" = 0 ] && intact hostb "d$i" && okc=$((okc + 1))
done
check "max_outgoing_per_destination = 2: two at a time to hostb ($maxrun)" \
    [ "$maxrun" -eq 2 ]
check "... and all six migrated, intact ($okc)" [ $okc -eq 6 ]
check "no domain ever ran on two hosts" no_overlap
exit $T_FAILED
