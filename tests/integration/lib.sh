# Shared helpers for the integration scripts (TAP-style output: "ok -",
# "not ok -", "skip -", "# note").  Each script sources this, calls
# sim_host NAME to get a private sim directory per simulated host, and
# relies on the EXIT trap to destroy every domain it started.
BUILD=${BUILD:-build}
XLMIG="$BUILD/xlmig -B sim"
SIMDOM="$BUILD/xlmig-simdom"
LDCHECK="$BUILD/tests/integration/logdirty_check"
export XLMIG_SIMDOM="$BUILD/xlmig-simdom"

T_FAILED=0
T_ROOT=$(mktemp -d /dev/shm/xlmig-test.XXXXXX)
T_WORK=$(mktemp -d /tmp/xlmig-test.XXXXXX)
# Every simulated domain of the script, on any host, logs when it starts
# and stops running (docs/simdom.md): no_overlap checks the intervals.
# (A file of its own: scripts count what is in $T_WORK.)
T_RUNLOG=$(mktemp /tmp/xlmig-runlog.XXXXXX)
export XLMIG_SIM_RUNLOG="$T_RUNLOG"
T_MOUNTS=""
# Simulated guest memory lives in $T_ROOT.  As root, that is a tmpfs of
# its own on 2 MiB pages (huge=within_size), as Xen backs guest memory with
# superpages; otherwise it is plain /dev/shm.
if [ "$(id -u)" -eq 0 ] &&
   mount -t tmpfs -o huge=within_size,mode=0700,size=75% xlmig-test "$T_ROOT" \
       2>/dev/null; then
    T_MOUNTS="$T_ROOT"
fi

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; T_FAILED=1; }
skip() { echo "skip - $*"; }
note() { echo "# $*"; }
# both STATUS WANT COMMAND...: STATUS is WANT and COMMAND succeeds (one
# command for check, where `check ... [ ] && grep` would test only the [ ])
both() { [ "$1" -eq "$2" ] || return 1; shift 2; "$@"; }
check() {       # check DESCRIPTION COMMAND...
    d=$1; shift
    if "$@"; then ok "$d"; else not_ok "$d"; fi
}

# Select a simulated host: each has its own sim directory.
host() { export XLMIG_SIM_DIR="$T_ROOT/$1"; mkdir -p "$XLMIG_SIM_DIR"; }

t_cleanup() {
    command -v net_cleanup >/dev/null && net_cleanup
    for d in "$T_ROOT"/*/*/; do
        pid=$(cat "$d/pid" 2>/dev/null) && kill "$pid" 2>/dev/null
    done
    sleep 0.3
    for m in $T_MOUNTS; do umount "$m" 2>/dev/null || umount -l "$m"; done
    rm -rf "$T_ROOT" "$T_WORK" "$T_RUNLOG"
}
trap t_cleanup EXIT INT TERM

info_field() {  # info_field DOMAIN KEY
    $SIMDOM info "$1" 2>/dev/null | sed -n "s/^$2=//p"
}
domain_exists() { $SIMDOM info "$1" >/dev/null 2>&1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

# ---- two hosts as network namespaces, each with its own xlmigd ----
#
# net_up: namespaces ${T_NS}a and ${T_NS}b joined by veth, 10.77.0.1 and
# 10.77.0.2.  pki_up: a cluster CA and certificates for hosta, hostb.
# daemon_start HOST [EXTRA_CONFIG_LINE...]: xlmigd for hosta or hostb in
# its namespace, its sim domains in $T_ROOT/HOST, its control socket
# $T_WORK/HOST.sock (use `on HOST xlmig ...`), its log $T_WORK/HOST.log.
# The daemon with the fault hooks (tests/hooks/fault_hooks.c).
XLMIGD="$BUILD/tests/xlmigd"
T_NS=xlm$$
T_PIDS=""
PKI=$T_WORK/pki

need_netns() {
    is_root && ip netns add "${T_NS}probe" 2>/dev/null &&
        ip netns del "${T_NS}probe"
}

net_up() {
    ip netns add "${T_NS}a" && ip netns add "${T_NS}b" &&
    ip link add "${T_NS}va" type veth peer name "${T_NS}vb" &&
    ip link set "${T_NS}va" netns "${T_NS}a" &&
    ip link set "${T_NS}vb" netns "${T_NS}b" &&
    ip -n "${T_NS}a" addr add 10.77.0.1/24 dev "${T_NS}va" &&
    ip -n "${T_NS}b" addr add 10.77.0.2/24 dev "${T_NS}vb" &&
    ip -n "${T_NS}a" link set lo up && ip -n "${T_NS}b" link set lo up &&
    ip -n "${T_NS}a" link set "${T_NS}va" up &&
    ip -n "${T_NS}b" link set "${T_NS}vb" up
}
link_down() { ip -n "${T_NS}a" link set "${T_NS}va" down; }
link_up() { ip -n "${T_NS}a" link set "${T_NS}va" up; }

pki_up() {
    dom0/xlmig-certs init-ca "$PKI" >/dev/null &&
    dom0/xlmig-certs host "$PKI" hosta >/dev/null &&
    dom0/xlmig-certs host "$PKI" hostb >/dev/null
}

ns_of() { case $1 in hosta) echo "${T_NS}a";; hostb) echo "${T_NS}b";;
          hostc) echo "${T_NS}3";; esac; }
addr_of() { case $1 in hosta) echo 10.77.0.1;; hostb) echo 10.77.0.2;;
            hostc) echo 10.77.1.3;; esac; }

# third_host: after two_hosts, a third, hostc (namespace ${T_NS}3,
# 10.77.1.3), with a veth of its own to hosta (10.77.1.1 there)
third_host() {
    dom0/xlmig-certs host "$PKI" hostc >/dev/null &&
    ip netns add "${T_NS}3" &&
    ip link add "${T_NS}v3a" type veth peer name "${T_NS}v3c" &&
    ip link set "${T_NS}v3a" netns "${T_NS}a" &&
    ip link set "${T_NS}v3c" netns "${T_NS}3" &&
    ip -n "${T_NS}a" addr add 10.77.1.1/24 dev "${T_NS}v3a" &&
    ip -n "${T_NS}3" addr add 10.77.1.3/24 dev "${T_NS}v3c" &&
    ip -n "${T_NS}3" link set lo up &&
    ip -n "${T_NS}a" link set "${T_NS}v3a" up &&
    ip -n "${T_NS}3" link set "${T_NS}v3c" up
}

# daemon_conf HOST [LINES...]: write $T_WORK/HOST.conf
daemon_conf() {
    h=$1; shift
    {
        echo "# xlmigd for $h (integration test)"
        echo "host_name = \"$h\""
        echo "listen = \"$(addr_of $h)\""
        echo "certificate = \"$PKI/$h.crt\""
        echo "key = \"$PKI/$h.key\""
        echo "ca = \"$PKI/ca.crt\""
        echo "peers = [ \"hosta@10.77.0.1\", \"hostb@10.77.0.2\"${T_PEERS:-} ]"
        echo "socket = \"$T_WORK/$h.sock\""
        echo "state_dir = \"$T_WORK/$h-state\""
        echo "sim_dir = \"$T_ROOT/$h\""
        echo "io_timeout = ${T_IO_TIMEOUT:-3}"
        for l in "$@"; do echo "$l"; done
    } >"$T_WORK/$h.conf"
}

# daemon_start HOST [ENV=VALUE...]: start xlmigd with $T_WORK/HOST.conf
daemon_start() {
    h=$1; shift
    mkdir -p "$T_ROOT/$h"
    [ -f "$T_WORK/$h.conf" ] || daemon_conf "$h"
    # $XLMIGD unquoted: a test may prefix it with valgrind and options
    ip netns exec "$(ns_of $h)" env "$@" $XLMIGD -f "$T_WORK/$h.conf" \
        >>"$T_WORK/$h.log" 2>&1 &
    echo $! >"$T_WORK/$h.pid"
    T_PIDS="$T_PIDS $!"
    for _ in $(seq 200); do
        [ -S "$T_WORK/$h.sock" ] && return 0
        kill -0 "$(cat "$T_WORK/$h.pid")" 2>/dev/null || break
        sleep 0.1
    done
    echo "# xlmigd for $h did not start:"; sed 's/^/#   /' "$T_WORK/$h.log"
    return 1
}

daemon_kill() {     # daemon_kill HOST [SIGNAL]
    kill -"${2:-KILL}" "$(cat "$T_WORK/$1.pid")" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "$(cat "$T_WORK/$1.pid")" 2>/dev/null || break
        sleep 0.1
    done
    rm -f "$T_WORK/$1.sock"
}

# on HOST CMD...: run a command against HOST (its sim dir and socket)
on() {
    h=$1; shift
    XLMIG_SIM_DIR="$T_ROOT/$h" XLMIG_SOCKET="$T_WORK/$h.sock" "$@"
}

# Where does DOMAIN run?  Prints "hosta", "hostb", "none" or "both".
runs_on() {
    a=$(on hosta $SIMDOM info "$1" 2>/dev/null | sed -n 's/^state=//p')
    b=$(on hostb $SIMDOM info "$1" 2>/dev/null | sed -n 's/^state=//p')
    if [ "$a" = running ] && [ "$b" = running ]; then echo both
    elif [ "$a" = running ]; then echo hosta
    elif [ "$b" = running ]; then echo hostb
    else echo none; fi
}

net_cleanup() {
    for p in $T_PIDS; do kill "$p" 2>/dev/null; done
    sleep 0.2
    for p in $T_PIDS; do kill -9 "$p" 2>/dev/null; done
    for n in a b s c 3; do ip netns del "${T_NS}$n" 2>/dev/null; done
}

# switch_up: the guests' network, apart from the migration link.  A
# switch, ${T_NS}s, with two bridges sw0 and sw1 (MAC learning, entries
# kept 300 s, no STP), each with a port to each host's bridge of the same
# number (xenbr0, xenbr1: ports ${T_NS}pa0 ... on the switch) and to a
# client namespace ${T_NS}c: 10.88.0.100/24 and fd88::100/64 on sw0,
# 10.89.0.100/24 on sw1.  The guests' addresses are 10.88.0.x, 10.89.0.x.
switch_up() {
    S="${T_NS}s" C="${T_NS}c"
    ip netns add "$S" && ip netns add "$C" &&
    ip -n "$S" link set lo up && ip -n "$C" link set lo up || return 1
    for n in 0 1; do
        ip -n "$S" link add "sw$n" type bridge ageing_time 30000 \
            stp_state 0 && ip -n "$S" link set "sw$n" up || return 1
        for h in a b; do
            ip link add "${T_NS}u$h$n" type veth peer name "${T_NS}p$h$n" &&
            ip link set "${T_NS}u$h$n" netns "${T_NS}$h" &&
            ip link set "${T_NS}p$h$n" netns "$S" &&
            ip -n "$S" link set "${T_NS}p$h$n" master "sw$n" &&
            ip -n "$S" link set "${T_NS}p$h$n" up &&
            ip -n "${T_NS}$h" link add "xenbr$n" type bridge stp_state 0 &&
            ip -n "${T_NS}$h" link set "${T_NS}u$h$n" master "xenbr$n" &&
            ip -n "${T_NS}$h" link set "${T_NS}u$h$n" up &&
            ip -n "${T_NS}$h" link set "xenbr$n" up || return 1
        done
        ip link add "${T_NS}c$n" type veth peer name "${T_NS}pc$n" &&
        ip link set "${T_NS}c$n" netns "$C" &&
        ip link set "${T_NS}pc$n" netns "$S" &&
        ip -n "$S" link set "${T_NS}pc$n" master "sw$n" &&
        ip -n "$S" link set "${T_NS}pc$n" up &&
        ip -n "$C" addr add "10.8$((8 + n)).0.100/24" dev "${T_NS}c$n" &&
        ip -n "$C" link set "${T_NS}c$n" up || return 1
    done
    ip -n "$C" addr add fd88::100/64 dev "${T_NS}c0" nodad
}
# switch_port MAC [N]: the switch port sw N (0) has learnt MAC on, or "".
switch_port() {
    bridge -n "${T_NS}s" fdb show br "sw${2:-0}" |
        awk -v m="$1" '$1 == m && $0 !~ /permanent/ { print $3; exit }'
}

# two_hosts: the two hosts' namespaces, veth and certificates, or the
# script ends here (skipped without root, failed otherwise)
two_hosts() {
    if ! need_netns; then
        skip "network namespaces need root"
        exit 0
    fi
    pki_up || { not_ok "certificates"; exit 1; }
    net_up || { not_ok "namespaces and veth"; exit 1; }
}

# no_overlap [DOMAIN_UUID]: no domain (or only the one with that UUID) ever
# ran on two hosts at once, by the domains' own run log; names the
# overlap when there is one.
no_overlap() {
    [ -s "$T_RUNLOG" ] || { echo "# no run log"; return 1; }
    sort -n "$T_RUNLOG" | awk -v only="${1:-}" '
        only != "" && $3 != only { next }
        $2 == "start" {
            if (run[$3] > 0) {
                printf "# %s started at %s ns (pid %s) while it ran in pid %s\n", $3, $1, $4, who[$3]
                bad = 1
            }
            run[$3]++; who[$3] = $4; starts++
        }
        $2 == "stop" { if (run[$3] > 0) run[$3]--; stops++ }
        END { printf "# run log: %d starts, %d stops, %s\n", starts, stops, bad ? "overlapping" : "never two at once"; exit bad }'
}
uuid_of() { on "$1" $SIMDOM info "$2" | sed -n 's/^uuid=//p'; }

# ---- checks shared by the two-host scripts ----
intact() {      # intact HOST DOMAIN: running there, and verifies
    [ "$(runs_on "$2")" = "$1" ] && on "$1" $SIMDOM verify "$2" >/dev/null
}
nothing_on() {  # nothing_on HOST DOMAIN: not even a paused copy
    ! on "$1" $SIMDOM info "$2" >/dev/null 2>&1
}
wait_for() {    # wait_for SECONDS COMMAND...
    t=$1; shift
    for _ in $(seq $((t * 10))); do "$@" && return 0; sleep 0.1; done
    return 1
}

# gated_migrate OUT DOMAIN ARGS...: on hosta (whose xlmigd runs with
# XLMIG_TEST_COMMIT_GATE=$T_WORK/gate), `xlmig migrate ARGS`; at the gate
# compare DOMAIN's memory hash on both hosts, sampling meanwhile where it
# runs ($T_WORK/samples).  Output in $T_WORK/OUT, exit status in $rc.
gated_migrate() {
    out=$1 dom=$2; shift 2
    rm -f "$T_WORK/gate" "$T_WORK/gate.ready" "$T_WORK/stop-sampling" \
        "$T_WORK/samples"
    (   while [ ! -e "$T_WORK/stop-sampling" ]; do
            runs_on "$dom" >>"$T_WORK/samples"; sleep 0.02
        done ) &
    sampler=$!
    on hosta "$BUILD/xlmig" migrate "$@" >"$T_WORK/$out" 2>&1 &
    mpid=$!
    if wait_for 60 test -e "$T_WORK/gate.ready"; then
        ha=$(on hosta $SIMDOM hash "$dom")
        hb=$(on hostb $SIMDOM hash "$dom")
        note "hash at suspend (hosta) $ha"
        note "hash before COMMIT (hostb) $hb"
        check "memory on hostb equals memory at suspend on hosta" \
            [ -n "$ha" -a "$ha" = "$hb" ]
    else
        not_ok "the migration reached the COMMIT gate"
    fi
    touch "$T_WORK/gate"
    wait $mpid; rc=$?
    touch "$T_WORK/stop-sampling"; wait $sampler
    sed 's/^/#   /' "$T_WORK/$out"
}
