#!/bin/sh
# Preflight between two hosts (network namespaces, each with its own
# xlmigd): every check passes for a domain the destination can run, and
# each one refuses, by name and with its figures, when the destination
# lacks what it compares: a CPU feature levelled away, the CPU vendor,
# memory (alone, and two incoming migrations that together do not fit),
# a bridge (missing or down), a smaller MTU, a MAC already in use (and
# warnings: STP's forward delay, a generated MAC), a disk or removable media only the
# source has, a disk of another size, a cpupool, a pinned CPU, the vCPU
# overcommit limit, a duplicate name, PCI passthrough and nomigrate.
# After every refusal the domain still runs on the source, unchanged, and
# nothing of it is on the destination.
. "$(dirname "$0")/lib.sh"
XLMIG_BIN=$BUILD/xlmig

two_hosts
# hostb's storage: its own mount namespace hides $T_WORK/local (storage
# of hosta's only) behind an empty tmpfs; $T_WORK/shared is seen by both.
mkdir -p "$T_WORK/local" "$T_WORK/shared"
cat >"$T_WORK/hostb-mounts.sh" <<EOF
mount -t tmpfs -o size=64m hostb-local "$T_WORK/local" || exit 1
exec "\$@"
EOF
daemon_start hosta || { not_ok "xlmigd on hosta"; exit 1; }
XLMIGD_REAL=$XLMIGD
XLMIGD="sh $T_WORK/hostb-mounts.sh $XLMIGD_REAL"
daemon_start hostb || { not_ok "xlmigd on hostb"; exit 1; }
ok "two hosts up; hostb does not see hosta's local storage"
# mk HOST ARGS...: xlmig-simdom create on HOST, in its namespace (where
# its bridges are)
mk() {
    h=$1; shift
    ip netns exec "$(ns_of "$h")" env XLMIG_SIM_DIR="$T_ROOT/$h" \
        $SIMDOM create "$@" >/dev/null
}
in_hostb_mnt() { nsenter -t "$(cat "$T_WORK/hostb.pid")" -m "$@"; }

for ns in "${T_NS}a" "${T_NS}b"; do
    ip -n "$ns" link add xenbr0 type bridge && ip -n "$ns" link set xenbr0 up
done
ip -n "${T_NS}a" link add xenbr1 type bridge

# pf DOMAIN [ARGS...]: xlmig preflight on hosta towards hostb
pf() {
    d=$1; shift
    on hosta "$XLMIG_BIN" preflight "$@" "$d" hostb >"$T_WORK/pf" 2>&1
    rc=$?
    sed 's/^/#   /' "$T_WORK/pf"
}
# row CHECK RESULT REASON-REGEX: the report has that row
row() { grep -qE "^$1 +.* $2 +$3" "$T_WORK/pf"; }
# stays DOMAIN: still running on hosta, verifies, nothing on hostb
stays() { intact hosta "$1" && nothing_on hostb "$1"; }
hostconf() {    # hostconf HOST LINES...: that sim host's host.conf
    h=$1; shift
    : >"$T_ROOT/$h/host.conf"
    for l in "$@"; do echo "$l" >>"$T_ROOT/$h/host.conf"; done
}

truncate -s 64M "$T_WORK/shared/web.img"
truncate -s 650M "$T_WORK/shared/boot.iso"
mk hosta -m 64M -c 1 -r 1M \
    --disk "$T_WORK/shared/web.img,raw,xvda,rw" \
    --disk "$T_WORK/shared/boot.iso,raw,hdc:cdrom,r" \
    --vif mac=00:16:3e:00:00:01,bridge=xenbr0 web ||
    not_ok "create web"

# ---- everything passes ----
pf web
check "preflight web hostb: every check passes (exit $rc)" [ $rc -eq 0 ]
check "it ends saying hostb can run web" grep -q "^hostb can run web$" "$T_WORK/pf"
for c in backend incoming name uuid memory hypervisor stream cpu.vendor \
         cpu.features vcpus cpupool pinning "disk xvda" "media hdc" \
         vif0.bridge vif0.mac nomigrate pci; do
    row "$c" pass "" || not_ok "the report has a passing row for $c"
done
check "the shared disk is found with the same size" \
    row "disk xvda" pass "same size: shared storage"
check "the CPU rows compare the domain's features with hostb's" \
    row cpu.features pass "every feature the domain uses is offered"
check "nothing moved: web runs on hosta only" stays web
on hosta "$XLMIG_BIN" preflight --json web hostb >"$T_WORK/pfj" 2>&1
check "--json: a preflight event, accepted, with one object per check" \
    grep -q '"event":"preflight".*"verdict":"accepted".*"checks":\[{"check":"backend","source":"sim","destination":"sim","verdict":"pass"' "$T_WORK/pfj"
check "--json: the done event says ok" grep -q '"event":"done".*"result":"ok"' "$T_WORK/pfj"

# ---- CPU: a feature levelled away on hostb, then the vendor ----
feat=$(on hosta $SIMDOM info web >/dev/null; sed -n 's/^cpu_features=\([^ ]*\) \([^ ]*\).*/\2/p' "$T_ROOT/hosta/web/config")
note "levelling hostb without '$feat'"
hostconf hostb "cpu_mask=$feat"
pf web
check "a feature masked on hostb: refused (exit $rc)" [ $rc -eq 3 ]
check "the refusal names it: '$feat: used by domain, absent on destination'" \
    row cpu.features FAIL "$feat: used by domain, absent on destination"
on hosta "$XLMIG_BIN" migrate web hostb >"$T_WORK/mig" 2>&1; mrc=$?
sed 's/^/#   /' "$T_WORK/mig"
check "xlmig migrate runs the same preflight: refused (exit $mrc)" [ $mrc -eq 3 ]
check "migrate prints the report with the same reason" \
    grep -qE "^cpu.features +.* FAIL +$feat: used by domain" "$T_WORK/mig"
check "nothing moved: web runs on hosta, intact" stays web
mk hosta -m 32M -c 1 -r 0 --cpuid "host,$feat=0" lev
pf lev
check "a domain started without '$feat' (--cpuid host,$feat=0) passes (exit $rc)" \
    [ $rc -eq 0 ]
on hosta $SIMDOM destroy lev >/dev/null
hostconf hostb "cpu_vendor=OtherVendorX"
pf web
check "another CPU vendor on hostb: refused (exit $rc)" [ $rc -eq 3 ]
check "the refusal names both vendors" \
    row cpu.vendor FAIL "the domain started on a .* CPU; the destination's is OtherVendorX"
hostconf hostb

# ---- bridges and MACs ----
mk hosta -m 32M -c 1 -r 0 \
    --vif mac=00:16:3e:00:00:02,bridge=xenbr1 br1
pf br1
check "a bridge hostb lacks: refused (exit $rc)" [ $rc -eq 3 ]
check "the refusal names the bridge" \
    row vif0.bridge FAIL "bridge xenbr1 does not exist on the destination"
ip -n "${T_NS}b" link add xenbr1 type bridge
pf br1
check "a bridge that is down on hostb: refused (exit $rc)" [ $rc -eq 3 ]
check "the refusal says it is down" \
    row vif0.bridge FAIL "bridge xenbr1 is down on the destination"
ip -n "${T_NS}b" link set xenbr1 up
pf br1
check "once hostb has xenbr1 up it passes (exit $rc)" [ $rc -eq 0 ]
check "with the same MTU" row vif0.mtu pass "MTU equal"
ip -n "${T_NS}a" link set xenbr1 mtu 9000
pf br1
check "a smaller MTU on hostb's bridge: refused (exit $rc)" [ $rc -eq 3 ]
check "the refusal gives both MTUs" \
    row vif0.mtu FAIL "bridge xenbr1 has MTU 1500 here, 9000 on the source"
ip -n "${T_NS}a" link set xenbr1 mtu 1500
ip -n "${T_NS}b" link set xenbr1 type bridge stp_state 1 forward_delay 1500
pf br1
check "STP on hostb's bridge: a warning, not a refusal (exit $rc)" [ $rc -eq 0 ]
check "the warning gives the forward delay" \
    row vif0.stp warn "STP is on for bridge xenbr1 here: a new port listens and learns for 2 x 15.00 s"
ip -n "${T_NS}b" link set xenbr1 type bridge stp_state 0
mk hosta -m 32M -c 1 -r 0 --vif bridge=xenbr1 automac
pf automac
check "a generated MAC: a warning (exit $rc)" [ $rc -eq 0 ]
check "the warning says it was generated" \
    row vif0.mac warn "MAC 00:16:3e:.* was generated when the domain was made"
on hosta $SIMDOM destroy automac >/dev/null
mk hostb -m 32M -c 1 -r 0 \
    --vif mac=00:16:3e:00:00:02,bridge=xenbr0 other
pf br1
check "a MAC in use on hostb: refused (exit $rc)" [ $rc -eq 3 ]
check "the refusal says who has it" \
    row vif0.mac FAIL "MAC 00:16:3e:00:00:02 is in use on the destination by domain other"
on hostb $SIMDOM destroy other >/dev/null
check "br1 stays on hosta" stays br1
on hosta $SIMDOM destroy br1 >/dev/null

# ---- storage ----
truncate -s 32M "$T_WORK/local/db.img"
truncate -s 1M "$T_WORK/local/tools.iso"
mk hosta -m 32M -c 1 -r 0 \
    --disk "$T_WORK/local/db.img,raw,xvda,rw" \
    --disk "$T_WORK/local/tools.iso,raw,hdc:cdrom,r" db
pf db
check "disk and media only hosta has: refused (exit $rc)" [ $rc -eq 3 ]
check "the disk is named missing" \
    row "disk xvda" FAIL ".*/local/db.img is not reachable on the destination: No such file"
check "the removable media too" \
    row "media hdc" FAIL ".*/local/tools.iso is not reachable on the destination"
pf db --copy-storage
check "--copy-storage: room for copies on hostb passes the disk (exit $rc)" \
    row "disk xvda" pass "room for a copy"
in_hostb_mnt truncate -s 16M "$T_WORK/local/db.img"
in_hostb_mnt truncate -s 1M "$T_WORK/local/tools.iso"
pf db
check "a disk of another size on hostb: refused (exit $rc)" [ $rc -eq 3 ]
check "the refusal gives both sizes" \
    row "disk xvda" FAIL ".*db.img is 33554432 bytes here and 16777216 there: not the same storage"
check "media present on hostb passes" row "media hdc" pass "media present"
check "db stays on hosta" stays db
on hosta $SIMDOM destroy db >/dev/null
mk hosta -m 32M -c 1 -r 0 \
    --disk ",raw,hdc:cdrom,r" empty
pf empty
check "an empty cdrom drive passes (exit $rc)" both $rc 0 \
    row "media hdc" pass "no media to find"
on hosta $SIMDOM destroy empty >/dev/null

# ---- cpupool, pinning, vCPUs ----
hostconf hosta "cpupool=batch:1"
mk hosta -m 32M -c 1 -r 0 --pool batch --cpus 1 pinned
pf pinned
check "a cpupool hostb lacks: refused (exit $rc)" [ $rc -eq 3 ]
check "the refusal names the pool" \
    row cpupool FAIL "no cpupool named batch on the destination"
hostconf hostb "cpupool=batch:0"
pf pinned
check "hostb's batch pool without CPU 1: pinning refused (exit $rc)" [ $rc -eq 3 ]
check "the refusal names the CPU" \
    row pinning FAIL "pinned to CPUs 1, not in pool batch on the destination"
hostconf hostb "cpupool=batch:1"
pf pinned
check "hostb's batch pool with CPU 1 passes (exit $rc)" [ $rc -eq 0 ]
hostconf hostb
hostconf hosta
on hosta $SIMDOM destroy pinned >/dev/null

mk hosta -m 32M -c 3 -r 0 wide
pf wide
check "3 vCPUs for hostb's 2 pCPUs, no limit set: passes (exit $rc)" [ $rc -eq 0 ]
check "with a warning that they will share" \
    row vcpus warn "more vCPUs than the destination has pCPUs: they will share"
daemon_kill hostb
daemon_conf hostb 'vcpu_overcommit = 1'
daemon_start hostb || not_ok "xlmigd on hostb again"
pf wide
check "more vCPUs than vcpu_overcommit allows: refused (exit $rc)" [ $rc -eq 3 ]
check "the refusal gives the figures" \
    row vcpus FAIL "3 vCPUs on 2 pCPUs would exceed vcpu_overcommit 1.00 \\(at most 2\\)"
pf web
check "web's one vCPU is within it (exit $rc)" both $rc 0 \
    row vcpus pass "1 vCPUs on 2 pCPUs, within vcpu_overcommit 1.00"
on hosta $SIMDOM destroy wide >/dev/null

# ---- memory, alone and for two incoming migrations at once ----
daemon_kill hostb
daemon_conf hostb 'domain_memory = 48'
daemon_start hostb || not_ok "xlmigd on hostb again"
pf web
check "too little memory on hostb: refused (exit $rc)" [ $rc -eq 3 ]
check "the refusal gives the figures" \
    row memory FAIL "not enough memory: the domain needs 65 MiB.*48 MiB is free"
daemon_kill hostb
daemon_conf hostb 'domain_memory = 400'
daemon_start hostb || not_ok "xlmigd on hostb again"
# big1's every page holds data, so that at 16 MiB/s its first round takes
# about 16 s: big2 comes while big1 still holds its memory on hostb.
mk hosta -m 256M -c 1 -r 1M --fill big1
mk hosta -m 256M -c 1 -r 1M big2
pf big2
check "either domain alone fits hostb's 400 MiB (exit $rc)" [ $rc -eq 0 ]
on hosta "$XLMIG_BIN" migrate --bandwidth 16 big1 hostb >"$T_WORK/big1" 2>&1 &
m1=$!
wait_for 60 sh -c "XLMIG_SOCKET=$T_WORK/hostb.sock $XLMIG_BIN status | grep -q 'in .*big1.* precopy'" ||
    not_ok "big1's migration reached pre-copy on hostb"
on hosta "$XLMIG_BIN" migrate big2 hostb >"$T_WORK/big2" 2>&1; rc2=$?
sed 's/^/#   /' "$T_WORK/big2"
check "big2 while big1 comes in: refused (exit $rc2)" [ $rc2 -eq 3 ]
check "the refusal counts the memory big1 holds" \
    grep -qE "^memory +.* FAIL +not enough memory: the domain needs 260 MiB.*\(260 MiB held by incoming migrations\)" "$T_WORK/big2"
check "big2 stays on hosta" stays big2
wait $m1; rc1=$?
sed 's/^/#   /' "$T_WORK/big1"
check "big1 itself migrated (exit $rc1)" [ $rc1 -eq 0 ]
check "big1 runs on hostb, intact" intact hostb big1
on hostb $SIMDOM destroy big1 >/dev/null
on hosta $SIMDOM destroy big2 >/dev/null
daemon_kill hostb
rm -f "$T_WORK/hostb.conf"
daemon_start hostb || not_ok "xlmigd on hostb again"

# ---- identity, devices ----
mk hostb -m 32M -c 1 -r 0 web
pf web
check "a domain named web on hostb: refused (exit $rc)" [ $rc -eq 3 ]
check "the refusal names it" \
    row name FAIL "a domain named web already exists on the destination"
check "the UUID, another one, passes" row uuid pass "no domain with that UUID"
on hostb $SIMDOM destroy web >/dev/null
uuid=$(on hosta $SIMDOM info web | sed -n 's/^uuid=//p')
mk hostb -m 32M -c 1 -r 0 --uuid "$uuid" twin
pf web
check "a domain of another name with web's UUID on hostb: refused (exit $rc)" \
    [ $rc -eq 3 ]
check "the refusal names the domain and the UUID" \
    row uuid FAIL "domain twin on the destination already has UUID $uuid"
check "the name alone passes" row name pass
on hostb $SIMDOM destroy twin >/dev/null
mk hosta -m 32M -c 1 -r 0 --pci 0000:03:00.0 \
    --disable-migrate fixed
pf fixed
check "PCI passthrough and nomigrate: refused (exit $rc)" [ $rc -eq 3 ]
check "the PCI device is named" \
    row pci FAIL "PCI passthrough device 0000:03:00.0 cannot migrate"
check "nomigrate is named" \
    row nomigrate FAIL "the domain is marked not to migrate"
check "fixed stays on hosta" stays fixed
on hosta $SIMDOM destroy fixed >/dev/null

# ---- and the domain that passes migrates ----
on hosta "$XLMIG_BIN" migrate web hostb >"$T_WORK/mig" 2>&1; mrc=$?
sed 's/^/#   /' "$T_WORK/mig"
check "web, which passes every check, migrates (exit $mrc)" [ $mrc -eq 0 ]
check "its attachments and CPU record travel with it" \
    grep -q "^cpu_features=.* $feat " "$T_ROOT/hostb/web/config"
check "web runs on hostb, intact" intact hostb web
exit $T_FAILED
