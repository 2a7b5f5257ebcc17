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
T_MOUNTS=""

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; T_FAILED=1; }
skip() { echo "skip - $*"; }
note() { echo "# $*"; }
check() {       # check DESCRIPTION COMMAND...
    d=$1; shift
    if "$@"; then ok "$d"; else not_ok "$d"; fi
}

# Select a simulated host: each has its own sim directory.
host() { export XLMIG_SIM_DIR="$T_ROOT/$1"; mkdir -p "$XLMIG_SIM_DIR"; }

t_cleanup() {
    for d in "$T_ROOT"/*/*/; do
        pid=$(cat "$d/pid" 2>/dev/null) && kill "$pid" 2>/dev/null
    done
    sleep 0.3
    for m in $T_MOUNTS; do umount "$m" 2>/dev/null; done
    rm -rf "$T_ROOT" "$T_WORK"
}
trap t_cleanup EXIT INT TERM

info_field() {  # info_field DOMAIN KEY
    $SIMDOM info "$1" 2>/dev/null | sed -n "s/^$2=//p"
}
domain_exists() { $SIMDOM info "$1" >/dev/null 2>&1; }
is_root() { [ "$(id -u)" -eq 0 ]; }
