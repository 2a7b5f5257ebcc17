#!/bin/sh
# xlmig tunnel: stock `xl migrate -s "xlmig tunnel"` carried over xlmig's
# TLS.  Two hosts as network namespaces; hostb's xlmigd runs, instead of
# Xen's xl (there is no Xen here; the lab runs the real one), a receiver
# stand-in set by tunnel_xl: it reports the words it was given on
# standard error, hashes everything on standard input and prints the hash,
# and exits with a status the test picks.  Checks: bytes arrive intact in
# both directions, standard error is kept apart, the exit status comes
# back, xl's options pass through and nothing else runs (each refusal
# with its reason), tunnel = 0, an unknown host, and a sender that dies
# mid-stream: the receiver's input ends, as xl migrate-receive needs.
. "$(dirname "$0")/lib.sh"
XLMIG_BIN=$BUILD/xlmig

two_hosts

RECV=$T_WORK/recv-xl
cat >"$RECV" <<EOF
#!/bin/sh
echo "stand-in xl: \$0 \$*" >&2
echo "\$*" >$T_WORK/recv.args
h=\$(sha256sum | cut -d' ' -f1)
echo "\$h" >$T_WORK/recv.hash
echo "\$h"
case " \$* " in *" -d "*) exit 3;; esac
exit 0
EOF
chmod +x "$RECV"
daemon_conf hostb "tunnel_xl = \"$RECV\""
daemon_start hostb || { not_ok "xlmigd on hostb"; exit 1; }
daemon_conf hosta
ok "hostb's xlmigd runs with a receiver stand-in as its xl"

tun() {         # tun ARGS... <input: runs xlmig tunnel on hosta
    ip netns exec "$(ns_of hosta)" "$XLMIG_BIN" tunnel \
        -f "$T_WORK/hosta.conf" "$@" >"$T_WORK/tun.out" 2>"$T_WORK/tun.err"
    rc=$?
}

# ---- bytes through, both ways; stderr apart; the exit status ----
head -c 48M /dev/urandom >"$T_WORK/payload"
want=$(sha256sum <"$T_WORK/payload" | cut -d' ' -f1)
tun hostb xl migrate-receive <"$T_WORK/payload"
check "48 MiB through the tunnel: exit status 0 (got $rc)" [ $rc -eq 0 ]
check "the receiver read exactly what was sent (hash)" \
    [ "$(cat "$T_WORK/recv.hash" 2>/dev/null)" = "$want" ]
check "its standard output came back on standard output" \
    [ "$(cat "$T_WORK/tun.out")" = "$want" ]
check "its standard error came back on standard error, not output" \
    grep -q "^stand-in xl: $RECV migrate-receive\$" "$T_WORK/tun.err"

tun hostb xl -t -vv migrate-receive -e -d -p </dev/null
check "the receiver's exit status comes back (3, got $rc)" [ $rc -eq 3 ]
check "xl's options pass through: -t -vv migrate-receive -e -d -p" \
    [ "$(cat "$T_WORK/recv.args")" = "-t -vv migrate-receive -e -d -p" ]

tun hostb </dev/null
check "without a command, the tunnel runs xl migrate-receive" \
    both $rc 0 [ "$(cat "$T_WORK/recv.args")" = "migrate-receive" ]

# ---- what xl migrate runs: its ssh command plus HOST plus the rune ----
ip netns exec "$(ns_of hosta)" env XLMIG_CONF="$T_WORK/hosta.conf" \
    sh -c "exec $XLMIG_BIN tunnel hostb xl migrate-receive" \
    <"$T_WORK/payload" >"$T_WORK/tun.out" 2>/dev/null
check "as xl's transport (sh -c, config from XLMIG_CONF): intact" \
    [ "$(cat "$T_WORK/tun.out")" = "$want" ]

# ---- only xl migrate-receive runs ----
refused() {     # refused WHAT PATTERN ARGS...
    what=$1 pat=$2; shift 2
    rm -f "$T_WORK/recv.args"
    tun hostb "$@" </dev/null
    if [ $rc -eq 255 ] && grep -q "$pat" "$T_WORK/tun.err" &&
       [ ! -e "$T_WORK/recv.args" ]; then
        ok "refused, nothing run: $what"
    else
        not_ok "refused, nothing run: $what (exit $rc)"
        sed 's/^/#   /' "$T_WORK/tun.err"
    fi
}
refused "sh -c id" "'sh': only xl migrate-receive runs through a tunnel" \
    sh -c id
refused "xl destroy" "xl command 'destroy': only migrate-receive" \
    xl destroy guest
refused "an xl option it does not pass (-f FILE)" "xl option '-f'" \
    xl -f /etc/passwd migrate-receive
refused "Remus (-r)" "Remus and COLO replication are not carried" \
    xl migrate-receive -r
refused "an unknown migrate-receive option" \
    "migrate-receive option '--bogus': only -e, -F, -d and -p" \
    xl migrate-receive --bogus
refused "a word with a control character" "printable ASCII" \
    xl "$(printf 'migrate-receive\t')"
check "hostb's log names the refused command" \
    grep -q "refused a tunnel from hosta: 'sh': only xl" "$T_WORK/hostb.log"

tun hostc xl migrate-receive </dev/null
check "an unknown host is refused before dialling (exit $rc)" \
    both $rc 255 grep -q "hostc is not a peer" "$T_WORK/tun.err"

# ---- the sender dies mid-stream: the receiver's input ends ----
rm -f "$T_WORK/recv.hash"
( head -c 4M /dev/urandom; sleep 30 ) |
    ip netns exec "$(ns_of hosta)" "$XLMIG_BIN" tunnel \
        -f "$T_WORK/hosta.conf" hostb >/dev/null 2>&1 &
tpid=$!
sleep 2
pkill -KILL -f "tunnel -f $T_WORK/hosta.conf hostb"
wait $tpid 2>/dev/null
check "a sender killed mid-stream: the receiver saw its input end" \
    wait_for 10 test -s "$T_WORK/recv.hash"
check "hostb's log says the tunnel was lost and waits for the receiver" \
    wait_for 5 grep -q "tunnel from hosta lost; waiting up to 60 s" \
    "$T_WORK/hostb.log"

# ---- xlmig migrate --xl needs Xen's stream: refused on the sim ----
daemon_start hosta || not_ok "xlmigd on hosta"
on hosta $SIMDOM create -m 16M -c 1 -r 1M web9 >/dev/null
on hosta "$XLMIG_BIN" migrate --xl web9 hostb >"$T_WORK/xl.out" 2>&1
rc=$?
sed 's/^/#   /' "$T_WORK/xl.out"
check "migrate --xl on the sim backend rolls back (exit $rc) saying why" \
    both $rc 1 grep -q "needs the xen backend" "$T_WORK/xl.out"
check "... and web9 runs on hosta, intact" intact hosta web9
on hosta "$XLMIG_BIN" migrate --xl --channels 2 web9 hostb >"$T_WORK/xl.out" 2>&1
rc=$?
check "--xl with --channels 2 is a usage error (exit $rc)" \
    both $rc 2 grep -q "not with --quick, --via or --channels" "$T_WORK/xl.out"
on hosta $SIMDOM destroy web9 >/dev/null

# ---- tunnels off ----
daemon_kill hostb TERM
daemon_conf hostb "tunnel_xl = \"$RECV\"" "tunnel = 0"
daemon_start hostb || not_ok "xlmigd on hostb with tunnel = 0"
rm -f "$T_WORK/recv.args"
tun hostb xl migrate-receive </dev/null
check "tunnel = 0: refused with the reason (exit $rc)" \
    both $rc 255 sh -c "grep -q 'tunnels are off on hostb' '$T_WORK/tun.err' &&
        [ ! -e '$T_WORK/recv.args' ]"
exit $T_FAILED
