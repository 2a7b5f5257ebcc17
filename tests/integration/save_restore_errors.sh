#!/bin/sh
# Every bad input and failing location: a clear error naming what was
# wrong and where, no half-created domain, and the source domain running
# on untouched.
. "$(dirname "$0")/lib.sh"

GOOD=$T_WORK/good.xlmig
host A
$SIMDOM create -m 64M -c 2 -r 16M --fill db1 >/dev/null ||
    { not_ok "create db1"; exit 1; }
check "checkpoint db1 to a file" $XLMIG save -c db1 "$GOOD"
len=$(stat -c %s "$GOOD")

# restore_must_fail NAME FILE PATTERN: refused, message matches, B empty
restore_must_fail() {
    host B
    if $XLMIG restore "$2" >"$T_WORK/err" 2>&1; then
        not_ok "$1: restore was accepted"
        return
    fi
    if grep -qE "$3" "$T_WORK/err"; then
        ok "$1: refused ($(grep -E "$3" "$T_WORK/err" | head -1))"
    else
        not_ok "$1: message does not match /$3/:"
        sed 's/^/#   /' "$T_WORK/err"
    fi
    check "$1: no domain left on B" \
        sh -c "[ -z \"\$(ls -A '$XLMIG_SIM_DIR' | grep -v '^\\.')\" ]"
}

head -c $((len / 2)) "$GOOD" >"$T_WORK/trunc"
restore_must_fail "truncated file" "$T_WORK/trunc" "truncated"
head -c 10 "$GOOD" >"$T_WORK/short"
restore_must_fail "10-byte file" "$T_WORK/short" "header truncated"
restore_must_fail "empty file" /dev/null "header truncated"

cp "$GOOD" "$T_WORK/corrupt"
printf '\377' | dd of="$T_WORK/corrupt" bs=1 seek=$((len / 3)) conv=notrunc 2>/dev/null
restore_must_fail "corrupted page data" "$T_WORK/corrupt" "checksum"

cp "$GOOD" "$T_WORK/version"
printf '\002' | dd of="$T_WORK/version" bs=1 seek=8 conv=notrunc 2>/dev/null
restore_must_fail "wrong version" "$T_WORK/version" "version 2 not supported"

cp "$GOOD" "$T_WORK/magic"
printf 'NOTXLMIG' | dd of="$T_WORK/magic" bs=1 seek=0 conv=notrunc 2>/dev/null
restore_must_fail "not a stream" "$T_WORK/magic" "bad magic"

# An oversized length in the first PAGE_DATA record (after DOMAIN_INFO at
# 24 and DOMAIN_CONFIG at 144, whose body length is at 148).
cfglen=$(od -An -tu4 -j148 -N4 "$GOOD" | tr -d ' ')
pages=$((144 + 16 + (cfglen + 7) / 8 * 8))
cp "$GOOD" "$T_WORK/huge"
printf '\377\377\377\177' | dd of="$T_WORK/huge" bs=1 seek=$((pages + 4)) conv=notrunc 2>/dev/null
restore_must_fail "oversized record length" "$T_WORK/huge" "exceeds"

restore_must_fail "missing file" "$T_WORK/nope" "cannot open"
check "dump-stream names the bad record and offset" \
    sh -c "$BUILD/xlmig dump-stream '$T_WORK/corrupt' | grep -qE 'INVALID: record [0-9]+ \(PAGE_DATA\) at offset [0-9]+: checksum'"

# Restoring onto a host that already runs the domain is refused, and the
# running one is untouched.
host A
if $XLMIG restore "$GOOD" >"$T_WORK/err" 2>&1; then
    not_ok "restore over an existing domain was accepted"
else
    check "restore over an existing domain is refused by name" \
        grep -q "already exists" "$T_WORK/err"
fi
check "existing db1 still running and intact" $SIMDOM verify db1

# Saving to places that cannot take it: the domain keeps running.
save_must_fail() {      # NAME DIR PATTERN
    w0=$(info_field db1 writes)
    if $XLMIG save db1 "$2/db1.xlmig" >"$T_WORK/err" 2>&1; then
        not_ok "$1: save succeeded"
        return
    fi
    if grep -qE "$3" "$T_WORK/err"; then
        ok "$1: save refused ($(grep -E "$3" "$T_WORK/err" | head -1))"
    else
        not_ok "$1: message does not match /$3/:"
        sed 's/^/#   /' "$T_WORK/err"
    fi
    sleep 0.5
    check "$1: db1 still running" [ "$(info_field db1 state)" = running ]
    check "$1: db1 workload still writing" [ "$(info_field db1 writes)" -gt "$w0" ]
    check "$1: db1 memory intact" $SIMDOM verify db1
    check "$1: nothing left in $2" sh -c "[ -z \"\$(ls -A '$2' 2>/dev/null | grep -v lost)\" ]"
}

save_must_fail "nonexistent directory" "$T_WORK/no/such/dir" "cannot create"
if is_root; then
    mkdir -p "$T_WORK/ro" "$T_WORK/full"
    if mount -t tmpfs -o ro,size=1m none "$T_WORK/ro" 2>/dev/null; then
        T_MOUNTS="$T_MOUNTS $T_WORK/ro"
        save_must_fail "read-only filesystem" "$T_WORK/ro" "Read-only"
    else
        skip "read-only filesystem: cannot mount tmpfs here"
    fi
    if mount -t tmpfs -o size=8m none "$T_WORK/full" 2>/dev/null; then
        T_MOUNTS="$T_MOUNTS $T_WORK/full"
        save_must_fail "full filesystem (8 MiB for 64 MiB)" "$T_WORK/full" \
            "no space left|No space left"
    else
        skip "full filesystem: cannot mount tmpfs here"
    fi
else
    skip "read-only and full filesystem cases need root (mount)"
fi

if $XLMIG save nosuchdom "$T_WORK/x" >"$T_WORK/err" 2>&1; then
    not_ok "save of a missing domain succeeded"
else
    check "save of a missing domain names it" grep -q 'no domain "nosuchdom"' "$T_WORK/err"
fi

exit $T_FAILED
