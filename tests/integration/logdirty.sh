#!/bin/sh
# Dirty tracking through userfaultfd write-protection, both modes, against
# the guest's own ledger of what it wrote (logdirty_check): no written page
# may be missed.
. "$(dirname "$0")/lib.sh"

host A
for mode in async sync; do
    for pattern in uniform hotset sequential; do
        name=ld-$mode-$pattern
        XLMIG_SIM_DIRTY_MODE=$mode $SIMDOM create -m 64M -c 2 -r 32M \
            -P $pattern $name >/dev/null || { not_ok "create $name"; continue; }
        if $LDCHECK $name 3 300 >"$T_WORK/$name" 2>&1; then
            got=$(sed -n 's/^log-dirty mode: //p' "$T_WORK/$name")
            if [ "$got" = "$mode" ]; then
                ok "$mode/$pattern: no written page missed ($(tail -1 "$T_WORK/$name"))"
            elif [ "$mode" = async ]; then
                skip "$mode/$pattern: kernel lacks async uffd-wp, fell back to $got"
            else
                not_ok "$mode/$pattern: ran in $got mode"
            fi
        else
            not_ok "$mode/$pattern: dirty tracking check failed"
            sed 's/^/#   /' "$T_WORK/$name"
        fi
        check "$mode/$pattern: memory verifies after tracking" $SIMDOM verify $name
        $SIMDOM destroy $name >/dev/null
    done
done
exit $T_FAILED
