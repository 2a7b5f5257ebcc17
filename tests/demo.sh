#!/bin/sh
# make demo: the main job on the sim backend.  Two simulated hosts (each its
# own sim directory), a domain with a live workload on host A, quick
# migration to host B through a file on shared storage, and proof that it
# arrived whole: the memory hash at suspend equals the hash on B, the
# guest's own page check passes, and its workload keeps counting.
set -eu
BUILD=${BUILD:-build}
XLMIG="$BUILD/xlmig -B sim"
SIMDOM=$BUILD/xlmig-simdom
export XLMIG_SIMDOM=$SIMDOM
ROOT=$(mktemp -d /dev/shm/xlmig-demo.XXXXXX)
SHARED=$(mktemp -d /tmp/xlmig-shared.XXXXXX)
trap 'for p in "$ROOT"/*/*/pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done; sleep 0.3; rm -rf "$ROOT" "$SHARED"' EXIT INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
on() { export XLMIG_SIM_DIR="$ROOT/$1"; mkdir -p "$XLMIG_SIM_DIR"; }
field() { $SIMDOM info "$1" | sed -n "s/^$2=//p"; }

say "host A: start web1 (512 MiB, 2 vCPUs, writing 64 MiB/s to a hot set)"
on hostA
$SIMDOM create --memory 512M --vcpus 2 --dirty-rate 64M --pattern hotset --fill web1
sleep 2
$XLMIG list
echo "web1 page writes so far: $(field web1 writes)"

say "host A: suspend web1 and save it to shared storage"
$SIMDOM pause web1 >/dev/null
HASH_A=$($SIMDOM hash web1)
WRITES_A=$(field web1 writes)
$XLMIG save web1 "$SHARED/web1.xlmig"
echo "host A now runs:"; $XLMIG list

say "the saved stream, explained"
$BUILD/xlmig dump-stream "$SHARED/web1.xlmig"

say "host B: restore web1 (paused, to compare memory before it runs)"
on hostB
$XLMIG restore -p "$SHARED/web1.xlmig"
HASH_B=$($SIMDOM hash web1)
echo "memory hash at suspend on A: $HASH_A"
echo "memory hash restored on B:   $HASH_B"
[ "$HASH_A" = "$HASH_B" ] || { echo "MISMATCH"; exit 1; }

say "host B: run web1 and verify every page"
$SIMDOM unpause web1 >/dev/null
sleep 2
$XLMIG list
WRITES_B=$(field web1 writes)
echo "workload page writes: $WRITES_A at suspend, $WRITES_B after 2 s on B"
[ "$WRITES_B" -gt "$WRITES_A" ] || { echo "workload did not continue"; exit 1; }
$SIMDOM verify web1
say "demo passed: web1 moved from A to B with its memory intact"
