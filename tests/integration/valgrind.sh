#!/bin/sh
# The unit tests and a save / restore / dump-stream cycle under valgrind:
# no invalid access, no uninitialised use, no leak.
. "$(dirname "$0")/lib.sh"

if [ "${SANITIZE:-0}" = 1 ]; then
    skip "valgrind does not run sanitizer builds"; exit 0
fi
command -v valgrind >/dev/null || { skip "valgrind not installed"; exit 0; }
VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"

for t in "$BUILD"/tests/unit/test_*; do
    [ -x "$t" ] && [ "${t%.o}" = "$t" ] || continue
    check "valgrind clean: $(basename "$t")" sh -c "$VG '$t' >'$T_WORK/vg.log' 2>&1"
done
host A
$SIMDOM create -m 32M -c 2 -r 8M vg1 >/dev/null
check "valgrind clean: xlmig save" sh -c "$VG $XLMIG save vg1 '$T_WORK/vg1.x' >/dev/null"
check "valgrind clean: xlmig dump-stream" sh -c "$VG $BUILD/xlmig dump-stream '$T_WORK/vg1.x' >/dev/null"
head -c 100000 "$T_WORK/vg1.x" >"$T_WORK/vg1.cut"
check "valgrind clean: xlmig restore of a truncated stream (refused)" \
    sh -c "$VG $XLMIG restore '$T_WORK/vg1.cut' >/dev/null 2>&1; [ \$? -eq 1 ]"
check "valgrind clean: xlmig restore" sh -c "$VG $XLMIG restore '$T_WORK/vg1.x' >/dev/null"
check "restored domain verifies" $SIMDOM verify vg1

# Both daemons under valgrind: live migrations over one and several data
# channels, a refused one, a clean stop.  valgrind's verdict is each daemon's exit status.
if need_netns && pki_up && net_up; then
    XLMIGD="$VG $BUILD/tests/xlmigd"
    # valgrind runs both daemons several times slower: a 3 s I/O
    # timeout fires on a channel that is only slow
    T_IO_TIMEOUT=15
    printf '#!/bin/sh\nexec cat\n' >"$T_WORK/recv-xl"     # xl's stand-in
    chmod +x "$T_WORK/recv-xl"
    daemon_conf hostb "tunnel_xl = \"$T_WORK/recv-xl\""
    daemon_start hosta && daemon_start hostb
    # vg2 has a vif: the destination checks it and announces it (a
    # thread of the job's, an AF_PACKET socket, ANNOUNCED to the source).
    for n in a b; do
        ip -n "${T_NS}$n" link add xenbr0 type bridge &&
            ip -n "${T_NS}$n" link set xenbr0 up
    done
    on hosta ip netns exec "$(ns_of hosta)" $SIMDOM create -m 16M -c 2 -r 0 \
        --fill --vif bridge=xenbr0,ip=10.66.0.5,ip=fd66::5 vg2 >/dev/null
    on hostb $SIMDOM create -m 16M -c 1 -r 0 vg3 >/dev/null
    check "under valgrind: xlmig migrate vg2 hostb, announced there" \
        sh -c "XLMIG_SIM_DIR=$T_ROOT/hosta XLMIG_SOCKET=$T_WORK/hosta.sock \
            $BUILD/xlmig migrate vg2 hostb | grep -q 'hostb announced it on 1 vif: 15 frames'"
    check "under valgrind: xlmig migrate --channels 3 vg2 back to hosta" \
        on hostb "$BUILD/xlmig" migrate --channels 3 vg2 hosta
    check "under valgrind: and --channels 2 to hostb again" \
        on hosta "$BUILD/xlmig" migrate --channels 2 vg2 hostb
    on hostb "$BUILD/xlmig" migrate vg3 hostb >/dev/null 2>&1
    check "under valgrind: a refused migration (hostb to itself)" [ $? -eq 3 ]
    on hosta "$BUILD/xlmig" status >/dev/null
    check "under valgrind, both ends: xlmig tunnel through hostb's xlmigd" \
        sh -c "echo through | ip netns exec $(ns_of hosta) $VG \
            $BUILD/xlmig tunnel -f $T_WORK/hosta.conf hostb | grep -qx through" ||
        tail -5 "$T_WORK/hostb.log" | sed "s/^/#   /"
    for h in hosta hostb; do
        pid=$(cat "$T_WORK/$h.pid")
        kill -TERM "$pid"; wait "$pid"; st=$?
        check "valgrind clean: xlmigd on $h (exit $st)" [ $st -eq 0 ]
        [ $st -eq 0 ] || sed 's/^/#   /' "$T_WORK/$h.log" | tail -30
    done
    check "vg2 runs on hostb and verifies" on hostb $SIMDOM verify vg2
else
    skip "xlmigd under valgrind needs root (network namespaces)"
fi
exit $T_FAILED
