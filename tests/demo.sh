#!/bin/sh
# make demo: what xlmig is for, on the sim backend.  Two hosts as network
# namespaces joined by a veth link, an xlmigd on each with its own
# certificate from one cluster CA; a busy domain on host A is preflighted,
# then live-migrated over TLS to host B under a downtime target, with the
# progress line and the summary (downtime, rounds, bytes); host B shows it
# running and its guest-side page check passes.  Then it comes back by
# quick migration.  Needs root (network namespaces), as make check does.
set -u
BUILD=${BUILD:-build}
. tests/integration/lib.sh
XLMIGD="$BUILD/xlmigd"         # the daemon as shipped, no test hooks

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { printf '\ndemo failed: %s\n' "$*"; exit 1; }
field() { on "$1" $SIMDOM info "$2" | sed -n "s/^$3=//p"; }

need_netns || die "the demo's two hosts are network namespaces: run it as root"
pki_up || die "cannot make the cluster CA and host certificates"
net_up || die "cannot make the two namespaces and their veth link"

say "two hosts: namespaces hosta (10.77.0.1) and hostb (10.77.0.2), each with xlmigd"
for h in hosta hostb; do
    daemon_start "$h" || die "xlmigd for $h did not start"
    printf '%s: %s\n' "$h" "$(openssl x509 -noout -subject -issuer \
        -in "$PKI/$h.crt" | tr '\n' ' ')"
done

say "hosta: start web1 (512 MiB, 2 vCPUs, dirtying 64 MiB/s of a hot set)"
on hosta $SIMDOM create --memory 512M --vcpus 2 --dirty-rate 64M \
    --pattern hotset --fill web1 >/dev/null || die "cannot create web1"
sleep 1
on hosta $XLMIG list

say "hosta: can hostb run web1?  (xlmig preflight web1 hostb)"
on hosta $BUILD/xlmig preflight web1 hostb || die "preflight refused"

say "hosta: live migration over TLS  (xlmig migrate --max-downtime 100 web1 hostb)"
before=$(field hosta web1 writes)
on hosta $BUILD/xlmig migrate --max-downtime 100 web1 hostb ||
    die "the migration failed"

say "hostb: web1 runs here, every page checked by the guest's own ledger"
on hostb $XLMIG list
[ "$(runs_on web1)" = hostb ] || die "web1 runs on $(runs_on web1), not hostb"
on hostb $SIMDOM verify web1 || die "web1's memory does not verify on hostb"
sleep 1
after=$(field hostb web1 writes)
echo "workload page writes: $before before the move, $after one second after"
[ "$after" -gt "$before" ] || die "web1's workload did not go on"
echo "hosta now runs: $(on hosta $XLMIG list | tail -n +2 | wc -l) domains"

say "hostb: and back by quick migration  (xlmig migrate --quick web1 hosta)"
on hostb $BUILD/xlmig migrate --quick web1 hosta || die "quick migration failed"
[ "$(runs_on web1)" = hosta ] || die "web1 runs on $(runs_on web1), not hosta"
on hosta $SIMDOM verify web1 || die "web1's memory does not verify on hosta"

say "demo passed: web1 went live to hostb and back, its memory intact"
