#!/bin/sh
# Stopping in the middle of a live migration: Ctrl-C on `xlmig migrate`
# (a real SIGINT from its terminal, through script(1)'s pty) cancels the
# job, exit 5; SIGTERM to the source's xlmigd with a job in pre-copy
# rolls it back before the daemon exits.  Each time the domain runs on
# hosta, intact, and hostb keeps no copy.
. "$(dirname "$0")/lib.sh"
XLMIG_BIN=$BUILD/xlmig

two_hosts
daemon_start hosta || { not_ok "xlmigd on hosta"; exit 1; }
daemon_start hostb || { not_ok "xlmigd on hostb"; exit 1; }
on hosta $SIMDOM create -m 256M -c 1 -r 8M --fill web1 >/dev/null ||
    { not_ok "create web1"; exit 1; }

# ---- Ctrl-C: the terminal's interrupt character, through a pty ----
if command -v script >/dev/null 2>&1; then
    mkfifo "$T_WORK/tty-in"
    : >"$T_WORK/ctrlc"
    ( sleep 600 >"$T_WORK/tty-in" ) &
    holder=$!
    XLMIG_SIM_DIR="$T_ROOT/hosta" XLMIG_SOCKET="$T_WORK/hosta.sock" \
        script -qefc "$XLMIG_BIN migrate --bandwidth 20 web1 hostb; echo rc=\$?" \
        /dev/null <"$T_WORK/tty-in" >"$T_WORK/ctrlc" 2>&1 &
    sp=$!
    exec 9>"$T_WORK/tty-in"
    wait_for 20 grep -q "precopy" "$T_WORK/ctrlc" ||
        not_ok "the migration reached pre-copy"
    sleep 1
    printf '\003' >&9                   # the terminal's Ctrl-C
    wait_for 20 grep -q "rc=" "$T_WORK/ctrlc"
    exec 9>&-
    kill "$holder" 2>/dev/null
    wait "$sp" 2>/dev/null
    tr -d '\r' <"$T_WORK/ctrlc" | sed 's/^/#   /' | grep -v 'round'
    check "Ctrl-C cancels the migration (exit 5)" \
        grep -q "rc=5" "$T_WORK/ctrlc"
    check "web1 runs on hosta, intact" intact hosta web1
    check "hostb keeps no copy" wait_for 10 nothing_on hostb web1
else
    skip "Ctrl-C needs script(1) for a pty"
fi

# ---- SIGTERM to the source's daemon, a job in pre-copy ----
: >"$T_WORK/term"
on hosta "$XLMIG_BIN" migrate --bandwidth 20 web1 hostb >"$T_WORK/term" 2>&1 &
mp=$!
wait_for 20 grep -q "precopy" "$T_WORK/term" ||
    not_ok "the second migration reached pre-copy"
sleep 1
daemon_kill hosta TERM
wait $mp
rc=$?
sed 's/^/#   /' "$T_WORK/term" | grep -v 'round'
check "xlmigd stopped on SIGTERM and the job did not complete (exit $rc)" \
    [ $rc -ne 0 ]
check "hosta's xlmigd rolled the job back before exiting" \
    grep -q "rolled back: web1 runs on this host" "$T_WORK/hosta.log"
check "web1 runs on hosta, intact" intact hosta web1
check "hostb keeps no copy" wait_for 10 nothing_on hostb web1
exit $T_FAILED
