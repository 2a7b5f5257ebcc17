#!/bin/sh
# make lab-check: boot both lab hosts and, as the baseline that proves the
# lab itself, live-migrate a PV, a PVH and an HVM guest from hosta to
# hostb with stock `xl migrate` (over ssh between the dom0s), each running
# guestwork (checksummed pages written at 2000 pages/s, a heartbeat).
# After each: the guest answers from hostb, its own check finds no bad or
# stale page, its heartbeat went on, and hosta has no copy left.  While
# it migrates, a probe in hostb's dom0 (guestwork -P) polls the guest
# every 20 ms: the longest silence it hears is the downtime as seen from
# outside, which a PV guest's own clock cannot see.  Prints boot times,
# migration wall times and both gaps.  Every QEMU it started is stopped
# on exit, failed or not.
#
# The hosts run different QEMU CPU models: hosta LAB_CPU_A (default
# max,-avx2), hostb LAB_CPU_B (default max), and the check confirms that
# Xen on each reports what its model offers (avx2 on hostb only).  The
# baseline migrates towards the superset; the reverse is preflight's case.
#
# Then xlmig (through xlmigd and its TLS, the xen backend) migrates the
# same guest back, hostb -> hosta, and over again, hosta -> hostb, with
# the same checks (LAB_XLMIG= skips it, LAB_XLMIG_TYPES picks the guest
# types it runs for; LAB_XLMIG_ARGS adds options).
#
# Then, for LAB_FAULT_TYPES (default pv), the faults on real Xen: an xlmig
# migration hostb -> hosta broken mid-pre-copy by killing hosta's xlmigd,
# then by taking hosta's link down, then by killing the source's
# xc_domain_save helper (xlmig-save-helper) on hostb; each time xlmig
# rolls back (exit 1), the guest runs on hostb unchanged by its own check,
# and hosta keeps no copy (after the kill, once an administrator restarts
# xlmigd there: a daemon that was killed cannot clean up, its successor
# does); the helper's death fails its job alone, hostb's xlmigd runs on.
#
# Then, for LAB_TUNNEL_TYPES (default pv), stock xl over xlmig's TLS:
# `xl migrate -s "xlmig tunnel"` hostb -> hosta, with the same checks.
#
# Then, for LAB_XL_TYPES (default pv), the other way round: xlmig's
# source sending to a stock `xl migrate-receive` through the tunnel
# (`xlmig migrate --xl`) hosta -> hostb, with the same checks.
#
# Then, for LAB_INDOUBT_TYPES (default pv), jobs in doubt on real Xen:
# hosta's xlmigd swapped for the fault-injecting test build, which dies
# on COMMIT (recover resumes the guest on hostb) and then just after
# recording it (recover destroys hostb's copy; the guest runs on hosta),
# each daemon restarted before recover.
#
# Then the XenStore case (LAB_XENSTORE=, empty, leaves it out): requests,
# job nodes, cancel, drain through each dom0's xenstored, and evacuate's
# dirty-rate sample on Xen (xenstore_case, below).
#
# HVM guests (LAB_FRESH_TYPES, default hvm) take each xlmig direction
# as a fresh guest: here an HVM guest's second migration, with stock xl
# as with xlmig, leaves it stalled (netback reports its receive ring
# stalled, the guest takes no CPU), whichever way it goes.  The guest
# started on hostb for hostb -> hosta hides avx2 and vaes, which hosta
# lacks (preflight refuses it otherwise).
#
# Then preflight across the CPU models (LAB_PREFLIGHT, default on; with
# the default models only): a PV guest started on hostb, which offers
# avx2, is refused for hosta by `xlmig preflight` and by `xlmig migrate`
# (exit 3), avx2 named as used by the domain and absent on hosta, before
# anything is sent: it runs on hostb as before and hosta has no copy.
# The same guest started levelled (cpuid avx2=0,vaes=0: what hosta
# lacks) passes, and so does a
# guest started on hosta, for hostb.
#
# Then the write-heavy case (LAB_HEAVY, default on; PV): a guest writing
# 8000 pages/s over a 64 MiB region, more than the link carries, moved
# by stock xl hosta -> hostb and by `xlmig migrate --auto-converge
# --max-downtime $HEAVY_MS` back: stock xl stops after its 5 rounds
# whatever is left, xlmig throttles the guest (the scheduler's cap) until
# what is left fits the target (LAB_HEAVY_XL=1, as make lab-bench sets
# it; otherwise xlmig alone moves it, hosta -> hostb).  With
# LAB_HEAVY_CAP=PCT (default unset) the guest then goes back to hostb
# with --max-throttle PCT.
#
# Every migration's figures go in a table at the end (make lab-bench
# runs only the migrations, for the table).
#
# LAB_TYPES (default "pv pvh hvm") picks the guest types;
# LAB_BASELINE_TYPES (default: all of them) those stock xl's baseline
# runs for: for the others the guest starts where xlmig's first move
# needs it and xlmig alone moves it, both ways.
#
# LAB_DEADLINE (epoch seconds, default none: CI sets it) bounds the run:
# a group of cases (preflight, one guest type, the write-heavy case)
# whose usual time, scaled by how slowly the hosts booted against their
# usual 58 s, would end after it is not started; the run names each one
# it left out ("SKIP ...") and the last line lists them.
. "$(dirname "$0")/lab.sh"
TYPES=${LAB_TYPES-pv pvh hvm}
CPU_A=${LAB_CPU_A:-max,-avx2}
CPU_B=${LAB_CPU_B:-max}
XLMIG_CASES=${LAB_XLMIG-1}
PREFLIGHT=${LAB_PREFLIGHT-1}
XLMIG_TYPES=${LAB_XLMIG_TYPES:-$TYPES}
# The lab's link moves 2-4 MiB/s under TCG, slower than the guests dirty
# memory: pre-copy stops at the round limit rather than converging.
XLMIG_ARGS=${LAB_XLMIG_ARGS:---max-rounds 4}
FAULT_TYPES=${LAB_FAULT_TYPES-pv}
TUNNEL_TYPES=${LAB_TUNNEL_TYPES-pv}
XL_TYPES=${LAB_XL_TYPES-pv}
INDOUBT_TYPES=${LAB_INDOUBT_TYPES-pv}
FRESH_TYPES=${LAB_FRESH_TYPES-hvm}
# The types stock xl's baseline runs for (the guest starts on hosta and
# stock xl moves it to hostb); for the others xlmig alone moves it.
BASELINE_TYPES=${LAB_BASELINE_TYPES-$TYPES}
DEADLINE=${LAB_DEADLINE-}
SKIPPED=""
HEAVY=${LAB_HEAVY-1}
XENSTORE=${LAB_XENSTORE-1}
HEAVY_MS=${LAB_HEAVY_MS:-6000}
HEAVY_CAP=${LAB_HEAVY_CAP-}
# Stock xl's write-heavy move, for comparison (make lab-bench; and
# always with LAB_HEAVY_CAP, which starts from hosta after it).
HEAVY_XL=${LAB_HEAVY_XL-}
[ -z "$HEAVY_CAP" ] || HEAVY_XL=1
FAILED=0

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; FAILED=1; }
note() { echo "# $*"; }
field() { echo "$2" | sed -n "s/.*[ ]$1=\([0-9]*\).*/\1/p"; }

cleanup() {
    lab_stop hostb
    lab_stop hosta
}

if [ "$(id -u)" -ne 0 ]; then
    echo "lab-check: not run: needs root (make lab uses debootstrap and chroot)" >&2
    exit 1
fi
if ! command -v qemu-system-x86_64 >/dev/null || [ ! -f "$LAB_DIR/dom0.img" ]; then
    echo "lab-check: not run: no lab images in $LAB_DIR or no QEMU (run make lab)" >&2
    exit 1
fi
trap cleanup EXIT
trap 'exit 1' INT TERM

# bench_row TYPE TOOL FROM TO WALL_S DOWNTIME_MS: a row of the table
bench_row() {
    printf '%-4s %-22s %-14s %8s %12s %12s\n' "$1" "$2" "$3->$4" "$5" \
        "${6:--}" "${ogap:--}" >>"$LAB_RUN/bench.rows"
}
bench_table() {
    [ -s "$LAB_RUN/bench.rows" ] || return 0
    echo "# Figures (wall: the command's run time; downtime: xlmig's own, suspend"
    echo "# to confirmation; silent: longest gap the probe in the destination's"
    echo "# dom0 heard)"
    printf '# %-4s %-22s %-14s %8s %12s %12s\n' type tool direction \
        wall_s downtime_ms silent_ms
    sed 's/^/# /' "$LAB_RUN/bench.rows"
}

# Both boot at once; hostb dials hosta's end of the link, so hosta first.
mkdir -p "$LAB_RUN"
rm -f "$LAB_RUN/bench.rows"
BOOT_S=$(date +%s)
lab_start hosta "$CPU_A" >"$LAB_RUN/start-hosta.out" 2>&1 &
pa=$!
sleep 3
lab_start hostb "$CPU_B" >"$LAB_RUN/start-hostb.out" 2>&1 &
pb=$!
wait $pa; ra=$?
wait $pb; rb=$?
sed 's/^/# /' "$LAB_RUN/start-hosta.out" "$LAB_RUN/start-hostb.out"
if [ $ra -ne 0 ] || [ $rb -ne 0 ]; then
    not_BOOT_S=$(($(date +%s) - BOOT_S))
ok "both hosts booted (in $BOOT_S s)"
    exit 1
fi
BOOT_S=$(($(date +%s) - BOOT_S))
ok "both hosts booted (in $BOOT_S s)"
note "$(lab_run hosta 'xl info' | grep -E '^(xen_version|virt_caps|free_memory)' | tr -s ' ' | tr '\n' ';')"

probe_start() {     # probe_start HOST: poll the guest from HOST's dom0
    lab_run "$1" "pkill -x guestwork; rm -f /root/probe.out;
        nohup guestwork -P $GUEST_IP -i 20 -d 900 >/root/probe.out 2>&1 &"
}
probe_stop() {      # probe_stop HOST FILE: its line into $LAB_RUN/FILE
    lab_run "$1" "pkill -TERM -x guestwork; sleep 1; cat /root/probe.out" \
        >"$LAB_RUN/$2" 2>&1
    grep '^probe ' "$LAB_RUN/$2"
}

# verdict WHAT HOST BEFORE: after a migration to HOST, the guest answers
# there, its own check is clean, its heartbeat went on past BEFORE's, and
# the outside probe (already stopped, in $probe) heard it throughout.
# Sets $gap (inside) and $ogap (outside).
verdict() {
    what=$1 host=$2 before=$3
    after=""
    gap="" ogap=""
    lab_wait_guest "$host" 60 && after=$(lab_ask "$host")
    note "$what: on $host: $after"
    if [ -z "$after" ]; then
        not_ok "$what: the guest answers on $host"
        return 1
    fi
    bad=$(field bad "$after")
    stale=$(field stale "$after")
    c0=$(field counter "$before")
    c1=$(field counter "$after")
    gap=$(field maxgap_ms "$after")
    if [ "$bad" = 0 ] && [ "$stale" = 0 ] && [ "${c1:-0}" -gt "${c0:-0}" ]; then
        ok "$what: guest's own check: no bad or stale page, heartbeat went on"
    else
        not_ok "$what: guest's own check (bad=$bad stale=$stale counter $c0 -> $c1)"
    fi
    note "$what: outside probe: $probe"
    ogap=$(field maxgap_ms " $probe")
    # Heard after the unpause: a counter at least the one the guest had
    # when it first answered on the destination ($mid, from timed).
    cm=$(field counter "$mid")
    cp=$(field counter " $probe")
    if [ -n "$probe" ] && [ "$(field backwards " $probe")" = 0 ] &&
       [ "$(field answers " $probe")" -gt 0 ] &&
       { [ -z "$mid" ] || [ "${cp:-0}" -ge "${cm:-0}" ]; }; then
        ok "$what: the outside probe heard the guest before and after the move (counter ${cp:-?}, ${cm:-?} when it first answered there), never going back"
    else
        not_ok "$what: the outside probe (${probe:-no output}; the guest's counter when it first answered there: ${cm:-?})"
    fi
    mid=""                      # this move's: never the next one's
}

# unchanged_on WHAT HOST BEFORE: after a move that did not happen, the
# guest runs on HOST, neither paused nor suspended, its own check clean
# and its heartbeat past BEFORE's
unchanged_on() {
    st=$(lab_run "$2" "xl list" | awk -v g="$g" '$1 == g { print $5 }')
    after=$(lab_ask "$2")
    note "$1: on $2: state $st; $after"
    if [ -n "$st" ] && ! echo "$st" | grep -q '[ps]' &&
       [ "$(field bad "$after")" = 0 ] && [ "$(field stale "$after")" = 0 ] &&
       [ "$(field counter "$after")" -gt "$(field counter "$3")" ]; then
        ok "$1: the guest runs on $2, unpaused; its own check is clean and its heartbeat went on"
    else
        not_ok "$1: the guest runs on $2 unchanged (state '$st')"
    fi
}

# no_copy WHAT HOST: HOST kept no copy of the guest
no_copy() {
    if lab_run "$2" "xl list" | grep -q "^$g "; then
        not_ok "$1: no copy left on $2"
    else
        ok "$1: no copy left on $2"
    fi
}

# timed FROM TO NAME COMMAND: the guest's line on FROM in $before, a
# probe in TO's dom0, COMMAND run in FROM's dom0 with its output in
# $LAB_RUN/NAME.log; sets $rc, $wall (seconds) and $probe (its line).
# After a move the guest's line on TO, once it answers there, is $mid:
# the probe runs on past it, so that it must hear the guest after the
# unpause, not only before the move.
timed() {
    sleep 3
    before=$(lab_ask "$1")
    probe_start "$2"
    t1=$(date +%s)
    lab_run "$1" "$4" >"$LAB_RUN/$3.log" 2>&1
    rc=$?
    wall=$(($(date +%s) - t1))
    mid=""
    if [ $rc -eq 0 ] && lab_wait_guest "$2" 60; then
        mid=$(lab_ask "$2")
        sleep 2
    fi
    probe=$(probe_stop "$2" "probe-$3.out")
}

# cap_start HOST: in HOST's dom0, capture what comes in over the link
# from the other host with the guest's MAC as its source and says where
# the guest is (RARP, ARP, ICMPv6): the announce after a move away.
cap_start() {
    lab_run "$1" "pkill -x tcpdump; rm -f /root/ann.pcap
        l=\$(for d in /sys/class/net/*; do case \$(cat \$d/address) in
              52:54:00:99:*) [ -d \$d/bridge ] || echo \${d##*/};; esac; done)
        nohup tcpdump -i \$l -Q in -n -U -w /root/ann.pcap \
            'ether src $GUEST_MAC and (rarp or arp or icmp6)' \
            >/root/tcpdump.log 2>&1 &
        sleep 1"
}
# cap_stop HOST NAME: the capture into $LAB_RUN/NAME.txt; sets $cap to a
# summary ("5 RARP, 1 ARP, 0 ICMPv6; RARP gaps 50 150 250 350 ms") and
# $cap_rarp
cap_stop() {
    lab_run "$1" "sleep 1; pkill -INT -x tcpdump; sleep 1
        tcpdump -r /root/ann.pcap -n -e -tt 2>/dev/null" >"$LAB_RUN/$2.txt"
    cap_rarp=$(grep -c 'ethertype Reverse ARP' "$LAB_RUN/$2.txt")
    cap=$(awk '/ethertype Reverse ARP/ { r++; if (t) g = g sprintf(" %.0f", ($1 - t) * 1000); t = $1 }
               /ethertype ARP/ { a++ } /ICMP6/ { n++ }
               END { printf "%d RARP, %d ARP, %d ICMPv6; RARP gaps%s ms", r, a, n, g ? g : " none" }' \
          "$LAB_RUN/$2.txt")
}

# xlmig_move TYPE FROM TO: live-migrate the guest with xlmig, then check
xlmig_move() {
    what="$1 xlmig $2->$3"
    cap_start "$2"
    claims0=$(lab_run "$3" "grep -c 'claimed .* from Xen for $g ' /var/log/xlmigd.log")
    timed "$2" "$3" "xlmig-$1-$2" "xlmig migrate $XLMIG_ARGS $g $3"
    sed 's/^/#   /' "$LAB_RUN/xlmig-$1-$2.log" | grep -v '^#   xlmig: job'
    if [ $rc -ne 0 ]; then
        not_ok "$what: xlmig migrate (exit $rc)"
        lab_run "$2" "tail -20 /var/log/xlmigd.log" | sed 's/^/#   /'
        lab_run "$3" "tail -20 /var/log/xlmigd.log" | sed 's/^/#   /'
        return 1
    fi
    ok "$what: xlmig migrate in $wall s"
    # The announce: $3 said when its first frame went, $2 saw them come.
    cap_stop "$2" "announce-$1-$2"
    ann=$(grep ' announced it on ' "$LAB_RUN/xlmig-$1-$2.log")
    first=$(echo "$ann" | sed -n 's/.*the first \([0-9.]*\) ms after.*/\1/p')
    note "$what: $ann; $2 saw from $3: $cap"
    if [ -n "$first" ] && [ "${first%.*}" -lt 1000 ] && [ "$cap_rarp" -ge 5 ]; then
        ok "$what: $3 announced the guest within 1 s of the unpause (first frame at $first ms) and $2 saw its $cap_rarp RARP frames on the link"
    else
        not_ok "$what: the announce (${ann:-no report}; $2 saw $cap)"
    fi
    claims1=$(lab_run "$3" "grep -c 'claimed .* from Xen for $g ' /var/log/xlmigd.log")
    claim=$(lab_run "$3" "grep 'claimed .* from Xen for $g ' /var/log/xlmigd.log | tail -1")
    # This job's claim: a line more than before it, not an older one.
    if [ -n "$claim" ] && [ "${claims1:-0}" -gt "${claims0:-0}" ]; then
        ok "$what: $3 claimed the guest's memory from Xen before its first page (${claim##*: })"
    else
        not_ok "$what: $3 claimed the guest's memory from Xen"
        lab_run "$3" "grep -i 'claim\\|has not created' /var/log/xlmigd.log | tail -3" |
            sed 's/^/#   /'
    fi
    verdict "$what" "$3" "$before"
    no_copy "$what" "$2"
    res=$(grep '^migrated ' "$LAB_RUN/xlmig-$1-$2.log")
    maxr=$(echo " $XLMIG_ARGS" | sed -n 's/.* --max-rounds \([0-9]*\).*/\1/p')
    rounds=$(echo "$res" | sed -n 's/.*, \([0-9]*\) rounds,.*/\1/p')
    if [ -n "$maxr" ]; then
        if [ -n "$rounds" ] && [ "$rounds" -le "$maxr" ]; then
            ok "$what: $rounds pre-copy rounds, within --max-rounds $maxr"
        else
            not_ok "$what: ${rounds:-?} pre-copy rounds, within --max-rounds $maxr"
        fi
    fi
    echo "RESULT $what: ${res#migrated }; heartbeat gap ${gap:-?} ms inside the guest, ${ogap:-?} ms from outside"
    bench_row "$1" "xlmig $XLMIG_ARGS" "$2" "$3" "$wall" \
        "$(echo "$res" | sed -n 's/.*downtime \([0-9.]*\) ms.*/\1/p')"
}

# tunnel_move TYPE FROM TO: stock xl migrate over xlmig tunnel, then check
tunnel_move() {
    what="$1 xl over xlmig tunnel $2->$3"
    timed "$2" "$3" "tunnel-$1" "xl migrate -s 'xlmig tunnel' $g $3"
    tail -3 "$LAB_RUN/tunnel-$1.log" | sed 's/^/#   /'
    if [ $rc -ne 0 ]; then
        not_ok "$what: xl migrate -s \"xlmig tunnel\" (exit $rc)"
        lab_run "$3" "tail -20 /var/log/xlmigd.log" | sed 's/^/#   /'
        return 1
    fi
    ok "$what: xl migrate -s \"xlmig tunnel\" in $wall s"
    if lab_run "$3" "grep -q 'tunnel from $2: running /usr/sbin/xl migrate-receive' /var/log/xlmigd.log &&
                     grep -q 'tunnel from $2: .* ended with exit status 0' /var/log/xlmigd.log"; then
        ok "$what: $3's xlmigd ran xl migrate-receive for $2, which exited 0"
    else
        not_ok "$what: $3's xlmigd log shows the tunnel"
    fi
    verdict "$what" "$3" "$before"
    no_copy "$what" "$2"
    echo "RESULT $what: wall $wall s; heartbeat gap ${gap:-?} ms inside the guest, ${ogap:-?} ms from outside"
    bench_row "$1" "xl -s 'xlmig tunnel'" "$2" "$3" "$wall" ""
}

# xl_move TYPE FROM TO: xlmig migrate --xl (to a stock xl
# migrate-receive through TO's xlmigd), then check
xl_move() {
    what="$1 xlmig --xl to stock xl $2->$3"
    timed "$2" "$3" "xl-$1" "xlmig migrate --xl $XLMIG_ARGS $g $3"
    sed 's/^/#   /' "$LAB_RUN/xl-$1.log" | grep -v '^#   xlmig: job'
    if [ $rc -ne 0 ]; then
        not_ok "$what: xlmig migrate --xl (exit $rc)"
        lab_run "$2" "tail -30 /var/log/xlmigd.log" | sed 's/^/#   /'
        return 1
    fi
    ok "$what: xlmig migrate --xl in $wall s"
    if lab_run "$2" "grep -q 'xl migrate-receive on $3: migration target: Domain started successs*fully' /var/log/xlmigd.log" &&
       lab_run "$3" "grep -q 'tunnel from $2: .* ended with exit status 0' /var/log/xlmigd.log"; then
        ok "$what: $3's stock xl migrate-receive started the domain and exited 0"
    else
        not_ok "$what: the logs show xl migrate-receive on $3 starting the domain"
    fi
    verdict "$what" "$3" "$before"
    no_copy "$what" "$2"
    res=$(grep '^migrated ' "$LAB_RUN/xl-$1.log")
    echo "RESULT $what: ${res#migrated }; ${ogap:-?} ms silent from outside"
    bench_row "$1" "xlmig --xl -> stock xl" "$2" "$3" "$wall" \
        "$(echo "$res" | sed -n 's/.*downtime \([0-9.]*\) ms.*/\1/p')"
}

# fresh TYPE HOST [CFG]: a new guest on HOST, answering; 0 when it does
fresh() {
    lab_run hosta "xl destroy $g" >/dev/null 2>&1
    lab_run hostb "xl destroy $g" >/dev/null 2>&1
    if ! lab_run "$2" "xl create ${3:-/etc/xen/guest-$1.cfg}" >/dev/null 2>&1 ||
       ! lab_wait_guest "$2" 300; then
        not_ok "$1: a fresh guest on $2 answers"
        return 1
    fi
    sleep 5
}

# xlmig_fresh_pair TYPE: xlmig hostb -> hosta from a fresh guest started
# on hostb levelled to hosta (avx2 and vaes hidden), then hosta -> hostb
# from a fresh guest on hosta
xlmig_fresh_pair() {
    lab_run hostb "sed 's/^cpuid.*/cpuid = \"host,rdtscp=0,avx2=0,vaes=0\"/' \
        /etc/xen/guest-$1.cfg >/root/guest-$1-level.cfg"
    fresh "$1" hostb "/root/guest-$1-level.cfg" &&
        xlmig_move "$1" hostb hosta
    fresh "$1" hosta && xlmig_move "$1" hosta hostb
}

in_list() { echo " $1 " | grep -q " $2 "; }

# budget WHAT SECONDS: with LAB_DEADLINE (epoch seconds), whether WHAT,
# about SECONDS of work at the lab's usual speed, still ends before it;
# if not it is not started, and the run says so (and, at the end, which).
budget() {
    [ -n "$DEADLINE" ] || return 0
    left=$((DEADLINE - $(date +%s)))
    # At this run's speed: the hosts' boot against its usual 58 s.
    need=$(($2 * (BOOT_S > 58 ? BOOT_S : 58) / 58))
    [ "$left" -ge "$need" ] && return 0
    note "SKIP $1: about $need s of work at this run's speed, $left s left before LAB_DEADLINE"
    SKIPPED="$SKIPPED $1"
    return 1
}

# type_cost TYPE: the usual seconds of one type's cases (docs/lab.md)
type_cost() {
    c=0
    case $1 in
    hvm) in_list "$BASELINE_TYPES" hvm && c=$((c + 200)) ;;
    *) in_list "$BASELINE_TYPES" "$1" && c=$((c + 130)) ;;
    esac
    if in_list "$XLMIG_TYPES" "$1"; then
        if in_list "$FRESH_TYPES" "$1"; then c=$((c + 420))
        else c=$((c + 190)); fi
    fi
    in_list "$FAULT_TYPES" "$1" && c=$((c + 360))
    in_list "$TUNNEL_TYPES" "$1" && c=$((c + 90))
    in_list "$XL_TYPES" "$1" && c=$((c + 90))
    in_list "$INDOUBT_TYPES" "$1" && c=$((c + 240))
    echo "$c"
}

# preflight_case: see the top; the PV guest, fresh each time
preflight_case() {
    g=guest-pv
    fresh pv hostb || return
    lab_run hostb "xlmig preflight $g hosta" >"$LAB_RUN/preflight-b.log" 2>&1
    rc=$?
    sed 's/^/#   /' "$LAB_RUN/preflight-b.log"
    if [ $rc -eq 3 ] && grep -qE "^cpu\.features .* FAIL +(.*, )?avx2(, .*)?: used by domain, absent on destination" \
           "$LAB_RUN/preflight-b.log"; then
        ok "preflight: a guest started on hostb is refused for hosta (exit 3), avx2 named"
    else
        not_ok "preflight: a guest started on hostb is refused for hosta, avx2 named (exit $rc)"
    fi
    t1=$(date +%s)
    lab_run hostb "xlmig migrate $g hosta" >"$LAB_RUN/preflight-mig.log" 2>&1
    rc=$?
    tail -2 "$LAB_RUN/preflight-mig.log" | sed 's/^/#   /'
    if [ $rc -eq 3 ] && grep -q "avx2.*: used by domain, absent on destination" \
           "$LAB_RUN/preflight-mig.log"; then
        ok "preflight: xlmig migrate refuses it too (exit 3) in $(($(date +%s) - t1)) s, avx2 named"
    else
        not_ok "preflight: xlmig migrate refuses it (exit $rc)"
    fi
    no_copy "preflight: nothing sent" hosta
    if lab_run hostb "xl list" | grep -q "^$g .* r-\|^$g .* -b" &&
       lab_wait_guest hostb 30; then
        ok "preflight: the guest runs on hostb as before and answers"
    else
        not_ok "preflight: the guest runs on hostb as before"
    fi
    lab_run hostb "sed '/^cpuid/d' /etc/xen/guest-pv.cfg >/root/guest-pv-level.cfg &&
        echo 'cpuid = \"host,avx2=0,vaes=0\"' >>/root/guest-pv-level.cfg"
    if fresh pv hostb /root/guest-pv-level.cfg; then
        lab_run hostb "xlmig preflight $g hosta" \
            >"$LAB_RUN/preflight-level.log" 2>&1
        rc=$?
        grep -E "^cpu\.|^hypervisor|^memory|^vif" "$LAB_RUN/preflight-level.log" |
            sed 's/^/#   /'
        if [ $rc -eq 0 ]; then
            ok "preflight: the same guest started levelled (avx2=0,vaes=0) passes for hosta"
        else
            not_ok "preflight: the levelled guest passes for hosta (exit $rc)"
        fi
    fi
    if fresh pv hosta; then
        lab_run hosta "xlmig preflight $g hostb" \
            >"$LAB_RUN/preflight-a.log" 2>&1
        rc=$?
        grep -E "^cpu\." "$LAB_RUN/preflight-a.log" | sed 's/^/#   /'
        if [ $rc -eq 0 ]; then
            ok "preflight: a guest started on hosta passes for hostb"
        else
            sed 's/^/#   /' "$LAB_RUN/preflight-a.log"
            not_ok "preflight: a guest started on hosta passes for hostb (exit $rc)"
        fi
    fi
    lab_run hosta "xl destroy $g" >/dev/null 2>&1
    lab_run hostb "xl destroy $g" >/dev/null 2>&1
}

# heavy: the write-heavy guest, stock xl hosta -> hostb, then xlmig
# --auto-converge hostb -> hosta with a downtime target
heavy() {
    g=guest-heavy
    lab_run hosta "sed -e 's/guest-pv/guest-heavy/' \
        -e 's/lab.rate=[0-9]*/lab.rate=8000/; s/lab.mib=[0-9]*/lab.mib=64/' \
        -e 's/^memory.*/memory = 192/' \
        /etc/xen/guest-pv.cfg >/root/guest-heavy.cfg"
    fresh heavy hosta /root/guest-heavy.cfg || return 1
    note "heavy: on hosta: $(lab_ask hosta)"
    hf=hosta ht=hostb xl_gap=""
    if [ -n "$HEAVY_XL" ]; then
        timed hosta hostb migrate-heavy "xl migrate $g 10.99.0.2"
        if [ $rc -ne 0 ]; then
            not_ok "heavy: xl migrate to hostb (exit $rc)"
            return 1
        fi
        ok "heavy: xl migrate to hostb in $wall s"
        verdict "heavy xl hosta->hostb" hostb "$before"
        xl_gap=$ogap
        bench_row heavy "xl (stock, over ssh)" hosta hostb "$wall" ""
        hf=hostb ht=hosta
    fi
    timed $hf $ht xlmig-heavy \
        "xlmig migrate --auto-converge --max-downtime $HEAVY_MS --max-rounds 40 --timeout 900 $g $ht"
    sed 's/^/#   /' "$LAB_RUN/xlmig-heavy.log" | grep -v '^#   xlmig: job'
    if [ $rc -ne 0 ]; then
        not_ok "heavy: xlmig migrate --auto-converge (exit $rc)"
        lab_run $hf "tail -20 /var/log/xlmigd.log" | sed 's/^/#   /'
        return 1
    fi
    ok "heavy: xlmig migrate --auto-converge to $ht in $wall s"
    verdict "heavy xlmig $hf->$ht" $ht "$before"
    no_copy "heavy xlmig $hf->$ht" $hf
    res=$(grep '^migrated ' "$LAB_RUN/xlmig-heavy.log")
    down=$(echo "$res" | sed -n 's/.*downtime \([0-9]*\).*/\1/p')
    if grep -q "converged: .* <= $HEAVY_MS ms" "$LAB_RUN/xlmig-heavy.log" &&
       grep -q "throttling the guest" "$LAB_RUN/xlmig-heavy.log"; then
        ok "heavy: xlmig throttled the guest until the $HEAVY_MS ms target was predicted"
    else
        not_ok "heavy: xlmig's policy converged under $HEAVY_MS ms by throttling"
    fi
    note "heavy: downtime: xlmig ${down:-?} ms (target $HEAVY_MS), silent from outside: xlmig ${ogap:-?} ms, stock xl ${xl_gap:-not run (LAB_HEAVY_XL)} ms"
    echo "RESULT heavy: ${res#migrated }; ${ogap:-?} ms silent from outside against stock xl's ${xl_gap:-? (not run)} ms"
    bench_row heavy "xlmig --auto-converge" $hf $ht "$wall" "$down"
    [ -z "$HEAVY_CAP" ] || heavy_capped
    lab_run hosta "xl destroy $g" >/dev/null 2>&1
    lab_run hostb "xl destroy $g" >/dev/null 2>&1
}

# heavy_capped: the same guest back to hostb with the throttle capped at
# $HEAVY_CAP% (--max-throttle): never throttled beyond it, pre-copy ends
# at the round limit, and the silences say what the cap traded
heavy_capped() {
    sleep 3
    timed hosta hostb xlmig-heavy-cap \
        "xlmig migrate --auto-converge --max-throttle $HEAVY_CAP --max-downtime $HEAVY_MS --max-rounds 8 --timeout 900 $g hostb"
    sed 's/^/#   /' "$LAB_RUN/xlmig-heavy-cap.log" | grep -v '^#   xlmig: job'
    if [ $rc -ne 0 ]; then
        not_ok "heavy: xlmig --max-throttle $HEAVY_CAP to hostb (exit $rc)"
        return 1
    fi
    ok "heavy: xlmig --max-throttle $HEAVY_CAP to hostb in $wall s"
    verdict "heavy xlmig --max-throttle hosta->hostb" hostb "$before"
    no_copy "heavy xlmig --max-throttle hosta->hostb" hosta
    top=$(sed -n 's/.*throttling the guest to \([0-9]*\)%.*/\1/p' \
        "$LAB_RUN/xlmig-heavy-cap.log" | sort -n | tail -1)
    if [ -n "$top" ] && [ "$top" -le "$HEAVY_CAP" ]; then
        ok "heavy: throttled up to $top%, never beyond the $HEAVY_CAP% cap"
    else
        not_ok "heavy: throttled within the $HEAVY_CAP% cap (highest ${top:-none}%)"
    fi
    res=$(grep '^migrated ' "$LAB_RUN/xlmig-heavy-cap.log")
    down=$(echo "$res" | sed -n 's/.*downtime \([0-9]*\).*/\1/p')
    echo "RESULT heavy --max-throttle $HEAVY_CAP: ${res#migrated }; ${ogap:-?} ms silent from outside"
    bench_row heavy "xlmig --auto-converge --max-throttle $HEAVY_CAP" hosta hostb "$wall" "$down"
}

# fault TYPE KIND: xlmig migrate hostb -> hosta, broken mid-pre-copy by
# KIND (kill: hosta's xlmigd killed; cut: hosta's link taken down;
# helper: the source's xc_domain_save helper killed, which must fail that
# job alone, never hostb's xlmigd)
fault() {
    what="$1 fault: $2 mid-pre-copy"
    sleep 3
    before=$(lab_ask hostb)
    lab_run hostb "xlmig migrate $XLMIG_ARGS $g hosta" \
        >"$LAB_RUN/fault-$1-$2.log" 2>&1 &
    mp=$!
    n=0             # pre-copy runs once hosta has the domain to fill
    while [ $n -lt 90 ] && ! lab_run hosta "xl list" | grep -q "^$g "; do
        sleep 2; n=$((n + 2))
    done
    sleep 10        # inside round 1, which takes about 40 s here
    case $2 in
    kill) lab_run hosta "pkill -KILL -x xlmigd" ;;
    cut) lab_run hosta 'ip link set "$(cat /run/lab-link)" down' ;;
    helper) lab_run hostb "pkill -KILL -f '[x]lmig-save-helper'" ;;
    esac
    t1=$(date +%s)
    wait $mp
    rc=$?
    note "$what: xlmig gave up $(($(date +%s) - t1)) s after the fault"
    grep -v '^xlmig: job' "$LAB_RUN/fault-$1-$2.log" | sed 's/^/#   /'
    if [ $rc -eq 1 ] && grep -q "rolled.back.*runs on this host" "$LAB_RUN/fault-$1-$2.log"; then
        ok "$what: xlmig migrate rolled back (exit 1)"
    else
        not_ok "$what: xlmig migrate rolled back (exit $rc)"
    fi
    case $2 in
    kill)
        note "$what: before xlmigd restarts, hosta holds: $(lab_run hosta "xl list" | grep "^$g " | tr -s ' ')"
        lab_run hosta "setsid xlmigd </dev/null >>/var/log/xlmigd.log 2>&1 &" ;;
    cut)
        # hosta's xlmigd gives up on its own (io_timeout) while cut off
        n=0
        while [ $n -lt 90 ] && lab_run hosta "xl list" | grep -q "^$g "; do
            sleep 2; n=$((n + 2))
        done
        if lab_run hosta "xl list" | grep -q "^$g "; then
            not_ok "$what: hosta destroyed its partial copy before the link came back"
        else
            ok "$what: hosta destroyed its partial copy before the link came back (within ${n} s)"
        fi
        lab_run hosta 'ip link set "$(cat /run/lab-link)" up' ;;
    helper)
        # The reason is in hostb's log; the CLI says "backend failure".
        if lab_run hostb "pgrep -x xlmigd" >/dev/null &&
           lab_run hostb "grep -q 'save helper of domain .* ended before xc_domain_save returned: killed by signal 9' /var/log/xlmigd.log"; then
            ok "$what: the job failed with the helper's death named; hostb's xlmigd runs on"
        else
            not_ok "$what: the job failed with the helper's death named; hostb's xlmigd runs on"
        fi ;;
    esac
    n=0
    while [ $n -lt 60 ] && lab_run hosta "xl list" | grep -q "^$g "; do
        sleep 2; n=$((n + 2))
    done
    no_copy "$what" hosta
    unchanged_on "$what" hostb "$before"
    sleep 5         # hosta's link back up and learnt by the bridge
}

# xs_expect HOST ID TEXT: request ID on HOST was refused, its error
# saying TEXT
xs_expect() {
    st=$(lab_run "$1" "xenstore-read /xlmig/request/$2/state")
    er=$(lab_run "$1" "xenstore-read /xlmig/request/$2/error")
    if [ "$st" = refused ] && echo "$er" | grep -qF -- "$3"; then
        ok "xenstore: request $2 refused: $er"
    else
        not_ok "xenstore: request $2 refused saying '$3' (state '$st', error '$er')"
    fi
}

# xs_job HOST N KEY: job N's KEY in HOST's XenStore
xs_job() { lab_run "$1" "xenstore-read /xlmig/job/$2/$3 2>/dev/null"; }

# daemon_swap HOST [VAR]: HOST's xlmigd stopped (SIGTERM) and started
# again: the shipped one, or with VAR the fault-injecting test build
# (xlmigd-faults, tests/hooks/fault_hooks.c) with VAR=1; returns once
# its control socket answers.
daemon_swap() {
    bin=xlmigd env=""
    [ -z "${2:-}" ] || { bin=xlmigd-faults env="$2=1"; }
    lab_run "$1" "pkill -TERM -x xlmigd; pkill -TERM -x xlmigd-faults; n=0
        while { pgrep -x xlmigd || pgrep -x xlmigd-faults; } >/dev/null &&
              [ \$n -lt 150 ]; do
            sleep 0.2; n=\$((n + 1)); done
        $env setsid $bin </dev/null >>/var/log/xlmigd.log 2>&1 &
        n=0; until xlmig status >/dev/null 2>&1 || [ \$n -ge 100 ]; do
            sleep 0.2; n=\$((n + 1)); done"
}

# dom_state HOST: the guest's xl state letters on HOST ("" when absent)
dom_state() { lab_run "$1" "xl list" | awk -v g="$g" '$1 == g { print $5 }'; }

# indoubt_case: jobs in doubt on real Xen (docs/user-guide.md), the
# guest starting on hostb and hosta's xlmigd the fault-injecting build.
# First it dies on COMMIT before recording it: hostb's `xlmig migrate`
# exits 4 (in doubt) with the guest suspended; hosta's restarted daemon
# destroys its partial copy; hostb's restarted daemon finds the job in
# its records, in doubt; `xlmig recover` resumes the guest on hostb
# ("resumed here"), its own check clean.  Then it dies right after
# recording COMMIT: in doubt again; hosta's restarted daemon starts the
# guest (committed there); hostb's restarted daemon leaves its copy
# suspended; recover destroys it ("runs on hosta"); the guest answers
# on hosta, intact, and hostb keeps no copy.
indoubt_case() {
    what="$1 in doubt, never ran on hosta"
    sleep 3
    before=$(lab_ask hostb)
    daemon_swap hosta XLMIG_TEST_DIE_AT_COMMIT
    lab_run hostb "xlmig migrate $XLMIG_ARGS $g hosta" >"$LAB_RUN/indoubt-at.log" 2>&1
    rc=$?
    grep -v '^xlmig: job' "$LAB_RUN/indoubt-at.log" | sed 's/^/#   /'
    st=$(dom_state hostb)
    if [ $rc -eq 4 ] && echo "$st" | grep -q s; then
        ok "$what: xlmig migrate says in doubt (exit 4), the guest suspended on hostb ($st)"
    else
        not_ok "$what: xlmig migrate in doubt (exit $rc), the guest suspended on hostb (state '$st')"
    fi
    jb=$(sed -n 's/^xlmig: job \([0-9]*\): migrating.*/\1/p' "$LAB_RUN/indoubt-at.log")
    daemon_swap hosta
    n=0
    while [ $n -lt 60 ] && lab_run hosta "xl list" | grep -q "^$g "; do
        sleep 2; n=$((n + 2))
    done
    no_copy "$what: hosta's restarted xlmigd destroyed the copy it never committed" hosta
    daemon_swap hostb
    lab_run hostb "xlmig status" >"$LAB_RUN/indoubt-status.log" 2>&1
    if grep -qE "^$jb +out +$g +hosta .*in-doubt" "$LAB_RUN/indoubt-status.log" &&
       echo "$(dom_state hostb)" | grep -q s; then
        ok "$what: hostb's restarted xlmigd lists job $jb in doubt, the guest still suspended"
    else
        sed 's/^/#   /' "$LAB_RUN/indoubt-status.log"
        not_ok "$what: hostb's restarted xlmigd lists job ${jb:-?} in doubt"
    fi
    lab_run hostb "xlmig recover" >"$LAB_RUN/indoubt-recover-1.log" 2>&1
    sed 's/^/#   /' "$LAB_RUN/indoubt-recover-1.log"
    if grep -q "never ran on hosta (.*): resumed here" "$LAB_RUN/indoubt-recover-1.log"; then
        ok "$what: xlmig recover resumed the guest on hostb"
    else
        not_ok "$what: xlmig recover resumes the guest on hostb"
    fi
    lab_wait_guest hostb 60
    unchanged_on "$what" hostb "$before"
    no_copy "$what" hosta

    what="$1 in doubt, committed on hosta"
    sleep 3
    before=$(lab_ask hostb)
    daemon_swap hosta XLMIG_TEST_DIE_AFTER_COMMIT
    # Two copies running would answer with two counters: the probe
    # listens from before the move until recover has settled it.
    probe_start hostb
    lab_run hostb "xlmig migrate $XLMIG_ARGS $g hosta" >"$LAB_RUN/indoubt-after.log" 2>&1
    rc=$?
    grep -v '^xlmig: job' "$LAB_RUN/indoubt-after.log" | sed 's/^/#   /'
    if [ $rc -eq 4 ]; then
        ok "$what: xlmig migrate says in doubt (exit 4)"
    else
        not_ok "$what: xlmig migrate in doubt (exit $rc)"
    fi
    daemon_swap hosta
    n=0
    while [ $n -lt 60 ] && ! dom_state hosta | grep -q '^-*[rb]'; do
        sleep 2; n=$((n + 2))
    done
    st=$(dom_state hosta)
    if echo "$st" | grep -q '^-*[rb]' && ! echo "$st" | grep -q '[ps]'; then
        ok "$what: hosta's restarted xlmigd started the guest it had committed ($st)"
    else
        not_ok "$what: hosta's restarted xlmigd starts the committed guest (state '$st')"
    fi
    daemon_swap hostb
    st=$(dom_state hostb)
    if echo "$st" | grep -q s; then
        ok "$what: hostb's restarted xlmigd leaves its copy suspended ($st)"
    else
        not_ok "$what: hostb's restarted xlmigd leaves its copy suspended (state '$st')"
    fi
    lab_run hostb "xlmig recover" >"$LAB_RUN/indoubt-recover-2.log" 2>&1
    sed 's/^/#   /' "$LAB_RUN/indoubt-recover-2.log"
    if grep -q "runs on hosta: source copy destroyed" "$LAB_RUN/indoubt-recover-2.log"; then
        ok "$what: xlmig recover destroyed hostb's copy: the guest runs on hosta"
    else
        not_ok "$what: xlmig recover settles the job: runs on hosta"
    fi
    lab_wait_guest hosta 60
    after=$(lab_ask hosta)
    sleep 2
    probe=$(probe_stop hostb "probe-indoubt.out")
    note "$what: on hosta: $after"
    note "$what: outside probe: $probe"
    if [ -n "$probe" ] && [ "$(field backwards " $probe")" = 0 ] &&
       [ "$(field counter " $probe")" -ge "$(field counter "$after")" ]; then
        ok "$what: the outside probe heard one guest throughout, its counter never going back, and heard it after recover"
    else
        not_ok "$what: the outside probe heard one guest throughout (${probe:-no output})"
    fi
    if [ "$(field bad "$after")" = 0 ] && [ "$(field stale "$after")" = 0 ] &&
       [ "$(field counter "$after")" -gt "$(field counter "$before")" ]; then
        ok "$what: the guest answers on hosta; its own check is clean and its heartbeat went on"
    else
        not_ok "$what: the guest answers on hosta, intact"
    fi
    no_copy "$what" hostb
}

# xenstore_case: orchestration through each dom0's real xenstored
# (docs/specs/xenstore.md), the PV guest: the tree is dom0's alone;
# malformed requests are refused with an error node and xlmigd runs on;
# a migration asked through XenStore moves the guest (checked as every
# move is), its job node showing progress that never goes back, written
# at most once a second, and the destination's incoming job; removing
# the request removes its job's node; removing a job's cancel node
# cancels it mid-pre-copy, the guest running on unchanged; a drain
# through XenStore shows in /xlmig/host, and a request written while
# xlmigd is down is taken when it starts.  Also, before the move,
# evacuate's plan samples the guest's dirty rate through Xen's
# log-dirty, and a request from a node another domain owns or may write
# is refused.
xenstore_case() {
    g=guest-pv
    line=$(lab_run hosta "xenstore-ls -p / | grep '^xlmig '")
    sub=$(lab_run hosta "xenstore-ls -p /xlmig | grep -E '^ ?(host|job|request) '")
    if echo "$line" | grep -q '(n0)$' &&
       [ "$(echo "$sub" | grep -c '(n0)$')" -eq 3 ]; then
        ok "xenstore: /xlmig and its host, job and request nodes are dom0's alone (n0)"
    else
        not_ok "xenstore: /xlmig is dom0's alone ($line; $sub)"
    fi
    hn=$(lab_run hosta "xenstore-read /xlmig/host/name /xlmig/host/schema /xlmig/host/drained" | tr '\n' ' ')
    if [ "$hn" = "hosta 1 0 " ]; then
        ok "xenstore: /xlmig/host says hosta, schema 1, not drained"
    else
        not_ok "xenstore: /xlmig/host (name, schema, drained: $hn)"
    fi

    # Malformed requests, and one for a domain that is not there.
    lab_run hosta "xsreq -n bad-num cmd=migrate domain=$g host=hostb max_rounds=lots
        xsreq -n bad-key cmd=migrate domain=$g host=hostb colour=blue
        xsreq -n bad-cmd cmd=reboot
        xsreq -n 'x@y' cmd=undrain
        xsreq -n bad-status cmd=status
        xsreq -n bad-dom cmd=migrate domain=nosuch host=hostb
        for r in bad-num bad-key bad-cmd x@y bad-status bad-dom; do
            XSREQ_WAIT=60 xsreq -w \$r; done" >"$LAB_RUN/xs-bad.log" 2>&1
    sed 's/^/#   /' "$LAB_RUN/xs-bad.log"
    xs_expect hosta bad-num '"max_rounds" must be a decimal integer'
    xs_expect hosta bad-key '"colour" is not a key of "migrate"'
    xs_expect hosta bad-cmd 'unknown command "reboot"'
    xs_expect hosta 'x@y' "a request's id is"
    xs_expect hosta bad-status 'is not a XenStore request'
    # Requests only dom0 wrote: one owned by domain 7, one another
    # domain may write (dom0 can set either; a guest cannot write here).
    lab_run hosta "xenstore-write /xlmig/request/bad-owner/cmd undrain
        xenstore-chmod /xlmig/request/bad-owner n7
        xenstore-write /xlmig/request/bad-owner/state new
        xenstore-write /xlmig/request/bad-perm/cmd undrain
        xenstore-chmod /xlmig/request/bad-perm n0 w7
        xenstore-write /xlmig/request/bad-perm/state new
        XSREQ_WAIT=60 xsreq -w bad-owner; XSREQ_WAIT=60 xsreq -w bad-perm" \
        >>"$LAB_RUN/xs-bad.log" 2>&1
    xs_expect hosta bad-owner 'belongs to domain 7: only dom0 may make requests'
    xs_expect hosta bad-perm 'writable by domain 7: only dom0 may make requests'
    j=$(lab_run hosta "xenstore-read /xlmig/request/bad-dom/job")
    st=$(lab_run hosta "xenstore-read /xlmig/request/bad-dom/state")
    res=$(xs_job hosta "$j" result)
    er=$(xs_job hosta "$j" error)
    if [ "$st" = done ] && [ -n "$j" ] && [ "$res" != ok ] &&
       echo "$er" | grep -q nosuch; then
        ok "xenstore: a request for a domain that is not here: job $j ended '$res': $er"
    else
        not_ok "xenstore: a request for a missing domain (state '$st', job '$j', result '$res', error '$er')"
    fi
    if lab_run hosta "pgrep -x xlmigd" >/dev/null; then
        ok "xenstore: xlmigd runs on after the malformed requests"
    else
        not_ok "xenstore: xlmigd runs on after the malformed requests"
    fi

    # A migration asked through XenStore, watched as an orchestrator would.
    fresh pv hosta || return

    # First evacuate's plan, twice: the guest's dirty rate sampled through
    # Xen's log-dirty (guestwork rewrites 2000 of its pages a second:
    # about 7.8 MiB/s); the second sample works only if the first turned
    # log-dirty off again (Xen refuses to enable it twice).
    for k in 1 2; do
        lab_run hosta "xlmig evacuate --dry-run --to hostb" >"$LAB_RUN/evac-plan-$k.log" 2>&1
        rc=$?
        rate=$(awk -v g="$g" '$2 == g { print $4 }' "$LAB_RUN/evac-plan-$k.log")
        [ $k = 2 ] || sed 's/^/#   /' "$LAB_RUN/evac-plan-$k.log"
        if [ $rc -eq 0 ] && [ -n "$rate" ] && [ "$rate" != "?" ] &&
           awk -v r="$rate" 'BEGIN { exit !(r >= 2 && r <= 16) }'; then
            ok "evacuate --dry-run on Xen ($k): $g's dirty rate sampled through log-dirty: $rate MiB/s"
        else
            not_ok "evacuate --dry-run on Xen ($k): $g's dirty rate sampled (exit $rc, rate '${rate:-none}' MiB/s)"
        fi
    done
    # Every write to a job's progress node, timed; the job's phase and
    # progress sampled every second (few processes: each one started
    # costs a TCG dom0 dearly, and the migration runs there too).
    lab_run hosta "cat >/root/xs-watch.sh <<'EOF'
xenstore-watch /xlmig/job | grep --line-buffered '/progress\$' |
    while read p; do echo \"\$(date +%s.%N) \$p\"; done
EOF
cat >/root/xs-poll.sh <<'EOF'
while :; do
    j=\$(xenstore-read /xlmig/request/xs-good/job 2>/dev/null) && break
    sleep 1
done
while :; do
    echo \$(xenstore-read /xlmig/job/\$j/phase /xlmig/job/\$j/progress)
    sleep 1
done
EOF
rm -f /root/xs-watch.out /root/xs-poll.out"
    lab_run hosta "nohup sh /root/xs-watch.sh >/root/xs-watch.out 2>&1 </dev/null &
        nohup sh /root/xs-poll.sh >/root/xs-poll.out 2>&1 </dev/null &"
    timed hosta hostb xs-good "xsreq xs-good cmd=migrate domain=$g host=hostb max_rounds=4"
    lab_run hosta "pkill -f '[x]s-watch.sh'; pkill -f '[x]s-poll.sh'; pkill -x xenstore-watch"
    sed 's/^/#   /' "$LAB_RUN/xs-good.log"
    what="pv xlmig through XenStore hosta->hostb"
    if [ $rc -ne 0 ]; then
        not_ok "$what: the request is done and its job ended ok (exit $rc)"
        lab_run hosta "grep XenStore /var/log/xlmigd.log | tail -10" | sed 's/^/#   /'
        return 1
    fi
    ok "$what: the request is done and its job ended ok in $wall s"
    verdict "$what" hostb "$before"
    no_copy "$what" hosta
    j=$(lab_run hosta "xenstore-read /xlmig/request/xs-good/job")
    total=$(xs_job hosta "$j" total_ms)
    writes=$(lab_run hosta "grep -c ' /xlmig/job/$j/progress\$' /root/xs-watch.out")
    phases=$(lab_run hosta "cat /root/xs-poll.out" | awk '{ print $1 }' | uniq | wc -l)
    lab_run hosta "cat /root/xs-poll.out" >"$LAB_RUN/xs-poll.out"
    back=$(awk 'NF == 2 && $2 != "" { if (p != "" && $2 + 0 < p + 0) b++; p = $2 } END { print b + 0 }' "$LAB_RUN/xs-poll.out")
    last=$(awk 'NF == 2 { p = $2 } END { print p }' "$LAB_RUN/xs-poll.out")
    samples=$(grep -c . "$LAB_RUN/xs-poll.out")
    note "$what: job $j took ${total:-?} ms; its progress node was written $writes times; $samples samples of phase and progress, $phases phases seen, last progress $last"
    # Once a second, plus once at each phase change and at the end.
    if [ -n "$total" ] && [ "${writes:-0}" -ge 3 ] &&
       [ "$writes" -le $((total / 1000 + 12)) ]; then
        ok "$what: progress written $writes times in $((total / 1000)) s: at most once a second beside the phase changes"
    else
        not_ok "$what: progress written at most once a second ($writes times in ${total:-?} ms)"
    fi
    if [ "$back" -eq 0 ] && [ "$last" = 1000 ] && [ "$samples" -ge 10 ]; then
        ok "$what: progress never went back and ended at 1000 (permille)"
    else
        not_ok "$what: progress never goes back and ends at 1000 ($back times back, last '$last', $samples samples)"
    fi
    inj=$(lab_run hostb "for n in \$(xenstore-list /xlmig/job); do
        [ \"\$(xenstore-read /xlmig/job/\$n/direction)\" = in ] &&
        [ \"\$(xenstore-read /xlmig/job/\$n/domain)\" = $g ] &&
        echo \"\$n \$(xenstore-read /xlmig/job/\$n/result) \$(xenstore-read /xlmig/job/\$n/peer)\"; done | tail -1")
    if echo "$inj" | grep -q ' ok hosta$'; then
        ok "xenstore: hostb shows the incoming job (job ${inj%% *}, ok, from hosta)"
    else
        not_ok "xenstore: hostb shows the incoming job ok from hosta ('$inj')"
    fi
    lab_run hosta "xenstore-rm /xlmig/request/xs-good"
    n=0
    while [ $n -lt 10 ] && lab_run hosta "xenstore-exists /xlmig/job/$j"; do
        sleep 1; n=$((n + 1))
    done
    if lab_run hosta "xenstore-exists /xlmig/job/$j"; then
        not_ok "xenstore: removing the request removes its finished job's node"
    else
        ok "xenstore: removing the request removed its finished job's node (within $n s)"
    fi

    # Cancel: the guest is on hostb; its move back, slowed to 1 MiB/s,
    # is cancelled mid-pre-copy by removing the job's cancel node.
    what="pv xlmig through XenStore, cancelled"
    sleep 3
    before=$(lab_ask hostb)
    lab_run hostb "xsreq -n xs-cancel cmd=migrate domain=$g host=hosta bandwidth_mib=1 max_rounds=4"
    n=0 j="" sent=0
    while [ $n -lt 120 ]; do
        j=$(lab_run hostb "xenstore-read /xlmig/request/xs-cancel/job 2>/dev/null")
        [ -n "$j" ] && sent=$(xs_job hostb "$j" bytes_sent) &&
            [ "$(xs_job hostb "$j" phase)" = precopy ] && [ "${sent:-0}" -gt 4000000 ] && break
        sleep 1; n=$((n + 1))
    done
    note "$what: job $j in $(xs_job hostb "$j" phase) with ${sent:-0} bytes sent, progress $(xs_job hostb "$j" progress), after $n s"
    lab_run hostb "xenstore-rm /xlmig/job/$j/cancel"
    lab_run hostb "XSREQ_WAIT=120 xsreq -w xs-cancel" >"$LAB_RUN/xs-cancel.log" 2>&1
    rc=$?
    sed 's/^/#   /' "$LAB_RUN/xs-cancel.log"
    res=$(xs_job hostb "$j" result)
    st=$(lab_run hostb "xenstore-read /xlmig/request/xs-cancel/state")
    if [ $rc -ne 0 ] && [ "$res" = cancelled ] && [ "$st" = done ]; then
        ok "$what: removing job $j's cancel node cancelled it ($(xs_job hostb "$j" error))"
    else
        not_ok "$what: removing the cancel node cancels the job (result '$res', request '$st')"
    fi
    n=0
    while [ $n -lt 60 ] && lab_run hosta "xl list" | grep -q "^$g "; do
        sleep 2; n=$((n + 2))
    done
    no_copy "$what" hosta
    unchanged_on "$what" hostb "$before"

    # Drain through XenStore; then a request written while xlmigd is
    # down, taken when it starts again.
    lab_run hosta "xsreq xs-drain cmd=drain 'reason=lab maintenance'" >"$LAB_RUN/xs-drain.log" 2>&1
    rc=$?
    hd=$(lab_run hosta "xenstore-read /xlmig/host/drained /xlmig/host/drained_reason" | tr '\n' ';')
    if [ $rc -eq 0 ] && [ "$hd" = "1;lab maintenance;" ] &&
       lab_run hosta "xlmig status" | grep -q "^hosta: drained since .*: lab maintenance$"; then
        ok "xenstore: a drain request drained hosta: /xlmig/host says $hd and so does xlmig status"
    else
        not_ok "xenstore: a drain request drains hosta (exit $rc, /xlmig/host: $hd)"
    fi
    lab_run hosta "pkill -TERM -x xlmigd; n=0
        while pgrep -x xlmigd >/dev/null && [ \$n -lt 50 ]; do sleep 0.2; n=\$((n + 1)); done
        xsreq -n xs-undrain cmd=undrain
        setsid xlmigd </dev/null >>/var/log/xlmigd.log 2>&1 &
        XSREQ_WAIT=60 xsreq -w xs-undrain" >"$LAB_RUN/xs-undrain.log" 2>&1
    rc=$?
    sed 's/^/#   /' "$LAB_RUN/xs-undrain.log"
    hd=$(lab_run hosta "xenstore-read /xlmig/host/drained")
    if [ $rc -eq 0 ] && [ "$hd" = 0 ]; then
        ok "xenstore: an undrain request written while xlmigd was stopped was taken when it started"
    else
        not_ok "xenstore: a request written while xlmigd was stopped is taken at start (exit $rc, drained '$hd')"
    fi
    lab_run hosta "xl destroy $g" >/dev/null 2>&1
    lab_run hostb "xl destroy $g" >/dev/null 2>&1
}

# The CPU models differ where the defaults say they do: dom0 (a PV
# guest of Xen) sees the features Xen offers on that host.
has_avx2() { lab_run "$1" "grep -qw avx2 /proc/cpuinfo"; }
if [ "$CPU_A" = "max,-avx2" ] && [ "$CPU_B" = max ]; then
    if ! has_avx2 hosta && has_avx2 hostb; then
        ok "CPU models differ: avx2 offered by Xen on hostb ($CPU_B), not on hosta ($CPU_A)"
    else
        not_ok "CPU models differ: avx2 on hostb only"
    fi
    if [ -n "$PREFLIGHT" ] && budget preflight 240; then
        preflight_case
    fi
fi

for t in $TYPES; do
    g=guest-$t
    lab_run hosta "xl destroy $g" >/dev/null 2>&1
    lab_run hostb "xl destroy $g" >/dev/null 2>&1
    budget "$t" "$(type_cost "$t")" || continue
    if ! in_list "$BASELINE_TYPES" "$t"; then
        # No stock xl baseline: xlmig alone, both ways.
        if ! in_list "$XLMIG_TYPES" "$t" || [ -z "$XLMIG_CASES" ]; then
            :
        elif in_list "$FRESH_TYPES" "$t"; then
            xlmig_fresh_pair "$t"
        else
            fresh "$t" hosta && xlmig_move "$t" hosta hostb &&
                xlmig_move "$t" hostb hosta
        fi
        lab_run hosta "xl destroy $g" >/dev/null 2>&1
        lab_run hostb "xl destroy $g" >/dev/null 2>&1
        continue
    fi
    t0=$(date +%s)
    if ! lab_guest hosta "$t" >/dev/null 2>&1; then
        not_ok "$t: xl create on hosta"
        lab_run hosta "xl dmesg | tail -20" | sed 's/^/#   /'
        continue
    fi
    if ! lab_wait_guest hosta 300; then
        not_ok "$t: the guest answers on hosta"
        lab_run hosta "xl list; xl dmesg | tail -20" | sed 's/^/#   /'
        lab_run hosta "xl destroy $g" >/dev/null 2>&1
        continue
    fi
    up=$(($(date +%s) - t0))
    sleep 5             # let it write for a while
    before=$(lab_ask hosta)
    note "$t: answering $up s after xl create: $before"

    # The baseline: stock xl, hosta -> hostb.
    cap_start hosta
    probe_start hostb
    t1=$(date +%s)
    lab_run hosta "xl migrate $g 10.99.0.2" >"$LAB_RUN/migrate-$t.log" 2>&1
    rc=$?
    wall=$(($(date +%s) - t1))
    mid=""                      # as timed() does: heard after the unpause
    if [ $rc -eq 0 ] && lab_wait_guest hostb 60; then
        mid=$(lab_ask hostb)
        sleep 2
    fi
    probe=$(probe_stop hostb "probe-$t.out")
    cap_stop hosta "announce-$t-xl"
    note "$t xl hosta->hostb: what announced the guest (its own netfront, for PV): hosta saw from hostb $cap"
    tail -3 "$LAB_RUN/migrate-$t.log" | sed 's/^/#   /'
    if [ $rc -ne 0 ]; then
        not_ok "$t: xl migrate to hostb (exit $rc)"
        lab_run hosta "xl destroy $g" >/dev/null 2>&1
        lab_run hostb "xl destroy $g" >/dev/null 2>&1
        continue
    fi
    ok "$t: xl migrate to hostb in $wall s"
    verdict "$t xl hosta->hostb" hostb "$before"
    no_copy "$t xl hosta->hostb" hosta
    echo "RESULT $t: boot-to-answer ${up} s, xl migrate wall ${wall} s, heartbeat gap ${gap:-?} ms inside the guest, ${ogap:-?} ms from outside"
    bench_row "$t" "xl (stock, over ssh)" hosta hostb "$wall" ""

    # xlmig, both ways: hostb -> hosta, then hosta -> hostb again (each
    # from a fresh guest for LAB_FRESH_TYPES).
    if [ -n "$XLMIG_CASES" ] && echo " $XLMIG_TYPES " | grep -q " $t "; then
        if echo " $FRESH_TYPES " | grep -q " $t "; then
            xlmig_fresh_pair "$t"
        else
            xlmig_move "$t" hostb hosta && xlmig_move "$t" hosta hostb
        fi
    fi
    # What follows starts from hostb.
    if ! lab_run hostb "xl list" | grep -q "^$g "; then
        note "$t: the guest is not on hostb: no fault or tunnel case"
    elif [ -n "$XLMIG_CASES" ] && echo " $FAULT_TYPES " | grep -q " $t "; then
        fault "$t" kill
        fault "$t" cut
        fault "$t" helper
    fi
    if lab_run hostb "xl list" | grep -q "^$g " &&
       echo " $TUNNEL_TYPES " | grep -q " $t "; then
        tunnel_move "$t" hostb hosta
    fi
    if [ -n "$XLMIG_CASES" ] && lab_run hosta "xl list" | grep -q "^$g " &&
       echo " $XL_TYPES " | grep -q " $t "; then
        xl_move "$t" hosta hostb
    fi
    if [ -n "$XLMIG_CASES" ] && lab_run hostb "xl list" | grep -q "^$g " &&
       in_list "$INDOUBT_TYPES" "$t"; then
        indoubt_case "$t"
    fi
    lab_run hosta "xl destroy $g" >/dev/null 2>&1
    lab_run hostb "xl destroy $g" >/dev/null 2>&1
done
if [ -n "$XLMIG_CASES" ] && [ -n "$XENSTORE" ] && budget xenstore 360; then
    xenstore_case
fi
if [ -n "$XLMIG_CASES" ] && [ -n "$HEAVY" ] && budget heavy 480; then
    heavy
fi
bench_table
[ -z "$SKIPPED" ] || note "not run, for LAB_DEADLINE:$SKIPPED"
exit $FAILED
