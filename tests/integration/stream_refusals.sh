#!/bin/sh
# One validator, and every refusal explained: a saved stream with one
# record's body changed and its checksum made right again (so the change
# passes the CRC and meets the checks behind it), 100 times.  Whenever
# restore refuses such a stream its message names the record and its
# offset, and `xlmig dump-stream` refuses it too; whenever dump-stream
# calls one valid, restore takes it.
. "$(dirname "$0")/lib.sh"
MUT="$BUILD/tests/integration/stream_mutate"
N=${REFUSAL_ROUNDS:-100}

host hosta
$SIMDOM create -m 16M -c 2 -r 1M --fill m1 >/dev/null || { not_ok "create"; exit 1; }
$XLMIG save m1 "$T_WORK/m1.xlmig" >/dev/null || { not_ok "save"; exit 1; }
host hostb
bare=0 differ=0 refused=0 taken=0
for i in $(seq "$N"); do
    "$MUT" "$T_WORK/m1.xlmig" "$T_WORK/x" "$i" >"$T_WORK/type" || exit 1
    $XLMIG restore -p -n "mx$i" "$T_WORK/x" >"$T_WORK/r" 2>&1
    rrc=$?
    $XLMIG dump-stream "$T_WORK/x" >/dev/null 2>"$T_WORK/d"
    drc=$?
    if [ $rrc -eq 0 ]; then
        taken=$((taken + 1))
        $SIMDOM destroy "mx$i" >/dev/null 2>&1
        if [ $drc -ne 0 ]; then
            differ=$((differ + 1))
            note "$i ($(cat "$T_WORK/type")): restored, dump-stream refused: $(head -1 "$T_WORK/d")"
        fi
        continue
    fi
    refused=$((refused + 1))
    if ! grep -q "record [0-9]* ([A-Z_]*) at offset [0-9]*: " "$T_WORK/r"; then
        bare=$((bare + 1))
        note "$i ($(cat "$T_WORK/type")): refused without record and offset: $(tr '\n' ' ' <"$T_WORK/r" | cut -c1-200)"
    fi
    if [ $drc -eq 0 ]; then
        differ=$((differ + 1))
        note "$i ($(cat "$T_WORK/type")): dump-stream called it valid, restore refused it"
    fi
done
note "$N changed streams: $refused refused, $taken restored (a change the domain's state may carry)"
check "every refusal names its record and offset ($bare of $refused do not)" [ $bare -eq 0 ]
check "dump-stream and restore agree on every stream ($differ differ)" [ $differ -eq 0 ]
check "the changes were caught at all ($refused refused)" [ $refused -gt 0 ]
exit $T_FAILED
