#!/bin/sh
# Quick migration of a running simulated domain from host A to host B
# through a file on storage both can read, with its workload writing
# memory the whole time: the memory hash at suspend equals the hash after
# restore, the guest's own verification passes, and the workload carries
# on from where it stopped.  Then the same with -c (checkpoint).
. "$(dirname "$0")/lib.sh"

FILE=$T_WORK/web1.xlmig

host A
$SIMDOM create -m 256M -c 2 -r 64M -P hotset --fill web1 >/dev/null ||
    { not_ok "create web1 on A"; exit 1; }
sleep 1
w0=$(info_field web1 writes)
sleep 1
w1=$(info_field web1 writes)
check "workload on A is writing ($w0 -> $w1 page writes)" [ "$w1" -gt "$w0" ]

# Suspend, take the hash the migration must preserve, save.
$SIMDOM pause web1 >/dev/null
h_src=$($SIMDOM hash web1)
w_saved=$(info_field web1 writes)
t_saved=$(info_field web1 guest_time_ms)
check "save web1 on A" $XLMIG save web1 "$FILE"
check "web1 no longer exists on A" sh -c "! $SIMDOM info web1 >/dev/null 2>&1"
check "no temporary file left beside the save" \
    sh -c "[ \$(ls '$T_WORK' | wc -l) -eq 1 ]"
check "dump-stream validates the file" sh -c "$BUILD/xlmig dump-stream '$FILE' | grep -q '^valid:'"

host B
check "restore web1 on B, paused" $XLMIG restore -p "$FILE"
h_dst=$($SIMDOM hash web1)
note "hash at suspend:  $h_src"
note "hash on restore:  $h_dst"
check "memory hash after restore equals hash at suspend" \
    [ -n "$h_src" -a "$h_src" = "$h_dst" ]
check "restored domain is paused" [ "$(info_field web1 state)" = paused ]
check "vCPU state restored (writes counter $w_saved)" \
    [ "$(info_field web1 writes)" = "$w_saved" ]
check "guest clock restored" [ "$(info_field web1 guest_time_ms)" -ge "$t_saved" ]
$SIMDOM unpause web1 >/dev/null
sleep 1
w2=$(info_field web1 writes)
check "workload continues on B ($w_saved -> $w2)" [ "$w2" -gt "$w_saved" ]
check "guest verification passes on B" $SIMDOM verify web1

# Checkpoint: save -c leaves the domain running, file restorable.
check "save -c (checkpoint) on B" $XLMIG save -c web1 "$FILE"
check "web1 still running on B after checkpoint" \
    [ "$(info_field web1 state)" = running ]
check "web1 verifies after checkpoint" $SIMDOM verify web1
host C
check "checkpoint restores on C under a new name" \
    $XLMIG restore -n web1-copy "$FILE"
check "copy verifies on C" $SIMDOM verify web1-copy

# A mostly-zero (idle, never-filled) domain: zero pages cost no data.
host A
$SIMDOM create -m 512M -c 1 -r 0 idle1 >/dev/null
check "save idle 512M domain" $XLMIG save idle1 "$T_WORK/idle.xlmig"
size=$(stat -c %s "$T_WORK/idle.xlmig")
note "idle 512 MiB domain saved in $size bytes"
check "idle stream is under 2 MiB" [ "$size" -lt 2097152 ]
host B
check "restore idle domain" $XLMIG restore "$T_WORK/idle.xlmig"
check "idle domain verifies" $SIMDOM verify idle1

exit $T_FAILED
