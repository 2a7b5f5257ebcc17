#!/bin/sh
# The Xen lab's driver: two Xen 4.17 hosts (hosta, hostb) under QEMU TCG,
# joined by a private link (QEMU socket netdev; dom0s 10.99.0.1 and .2 on
# bridge xenbr0, guests on the same bridge).  Images come from
# tests/lab/build.sh (make lab).  Use it as a command or source it.
#
#   lab.sh start HOST [CPU]      boot hosta or hostb (QEMU CPU model, default
#                                max); returns when dom0 answers ssh
#   lab.sh stop [HOST|all]       stop QEMU, remove the host's overlay
#   lab.sh run HOST CMD...       run CMD in HOST's dom0: its output, its
#                                exit status
#   lab.sh copy HOST FILE DEST   copy a file into HOST's dom0
#   lab.sh guest HOST TYPE       create guest-TYPE (pv, pvh, hvm) on HOST
#   lab.sh wait-guest HOST [S]   wait until the guest answers (S seconds)
#   lab.sh ask HOST              the guest's guestwork line, via HOST's dom0
#   lab.sh status                which hosts run
#
# Environment: LAB_DIR (images, default /var/tmp/xlmig-lab), LAB_RUN
# (overlays, logs, pid files; default $LAB_DIR/run), LAB_MEM (MiB per
# host, 3072), LAB_READY_TIMEOUT (seconds, 600).
LAB_DIR=${LAB_DIR:-/var/tmp/xlmig-lab}
LAB_RUN=${LAB_RUN:-$LAB_DIR/run}
LAB_MEM=${LAB_MEM:-3072}
LAB_READY_TIMEOUT=${LAB_READY_TIMEOUT:-600}
GUEST_IP=10.99.0.10
GUEST_MAC=00:16:3e:00:00:10

lab_idx() {
    case $1 in
    hosta) echo 1 ;;
    hostb) echo 2 ;;
    *) echo "lab: no host $1 (hosta or hostb)" >&2; return 2 ;;
    esac
}

lab_pid() { cat "$LAB_RUN/$1.pid" 2>/dev/null; }
lab_running() { p=$(lab_pid "$1") && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

# lab_run HOST CMD...: CMD in HOST's dom0 over ssh, exit status passed on.
lab_run() {
    i=$(lab_idx "$1") || return 2
    shift
    ssh -q -i "$LAB_DIR/lab_key" -p "220$i" -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 \
        -o BatchMode=yes root@127.0.0.1 "$@"
}

lab_copy() {    # lab_copy HOST FILE DEST
    i=$(lab_idx "$1") || return 2
    scp -q -i "$LAB_DIR/lab_key" -P "220$i" -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o BatchMode=yes "$2" \
        "root@127.0.0.1:$3"
}

lab_start() {   # lab_start HOST [CPU]
    h=$1 cpu=${2:-max}
    i=$(lab_idx "$h") || return 2
    for f in xen.elf vmlinuz initrd.img dom0.img lab_key; do
        [ -f "$LAB_DIR/$f" ] || {
            echo "lab: $LAB_DIR/$f missing: run make lab" >&2; return 1; }
    done
    command -v qemu-system-x86_64 >/dev/null ||
        { echo "lab: qemu-system-x86_64 not installed (make lab installs it)" >&2; return 1; }
    if lab_running "$h"; then
        echo "lab: $h already runs (pid $(lab_pid "$h"))" >&2
        return 1
    fi
    mkdir -p "$LAB_RUN"
    rm -f "$LAB_RUN/$h.qcow2" "$LAB_RUN/$h.serial"
    qemu-img create -q -f qcow2 -b "$LAB_DIR/dom0.img" -F raw \
        "$LAB_RUN/$h.qcow2" || return 1
    # hostb dials hosta's end of the private link: start hosta first
    if [ "$h" = hosta ]; then link=listen=127.0.0.1:10990
    else link=connect=127.0.0.1:10990; fi
    date +%s >"$LAB_RUN/$h.t0"
    # smap=0: without it dom0 crashes in create_bounce_frame under TCG.
    # The dom0 command line goes in the multiboot module list, where a
    # comma would end it: it has none.
    qemu-system-x86_64 -name "xlmig-lab-$h" -machine pc,accel=tcg \
        -cpu "$cpu" -smp 2 -m "$LAB_MEM" \
        -kernel "$LAB_DIR/xen.elf" \
        -append "console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=1 loglvl=all guest_loglvl=all smap=0" \
        -initrd "$LAB_DIR/vmlinuz root=/dev/vda rw console=hvc0 earlyprintk=xen net.ifnames=0 lab.host=$h lab.ip=10.99.0.$i,$LAB_DIR/initrd.img" \
        -drive "file=$LAB_RUN/$h.qcow2,if=virtio,format=qcow2,cache=unsafe" \
        -netdev "socket,id=link,$link" \
        -device "virtio-net-pci,netdev=link,mac=52:54:00:99:00:0$i" \
        -netdev "user,id=user,restrict=on,hostfwd=tcp:127.0.0.1:220$i-:22" \
        -device "virtio-net-pci,netdev=user,mac=52:54:00:00:00:0$i" \
        -display none \
        -chardev "socket,id=ser,path=$LAB_RUN/$h.sock,server=on,wait=off,logfile=$LAB_RUN/$h.serial" \
        -serial chardev:ser \
        -pidfile "$LAB_RUN/$h.pid" -daemonize || return 1
    t0=$(cat "$LAB_RUN/$h.t0")
    n=0
    while [ $n -lt "$LAB_READY_TIMEOUT" ]; do
        if grep -aq LAB-DOM0-READY "$LAB_RUN/$h.serial" 2>/dev/null &&
           lab_run "$h" true 2>/dev/null; then
            echo "lab: $h ready $(($(date +%s) - t0)) s after QEMU started (cpu $cpu)"
            return 0
        fi
        if ! lab_running "$h"; then
            echo "lab: QEMU for $h died; its console ends:" >&2
            tail -20 "$LAB_RUN/$h.serial" >&2
            return 1
        fi
        sleep 2
        n=$((n + 2))
    done
    echo "lab: $h not ready after $LAB_READY_TIMEOUT s; its console ends:" >&2
    tail -20 "$LAB_RUN/$h.serial" >&2
    return 1
}

lab_stop() {    # lab_stop HOST
    p=$(lab_pid "$1")
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
        kill "$p"
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.5
        done
        kill -9 "$p" 2>/dev/null
    fi
    rm -f "$LAB_RUN/$1.pid" "$LAB_RUN/$1.qcow2"
}

lab_guest() {   # lab_guest HOST TYPE
    lab_run "$1" "xl create /etc/xen/guest-$2.cfg"
}

lab_ask() {     # lab_ask HOST: the guest's verdict line
    lab_run "$1" "nc -w 5 $GUEST_IP 7777" 2>/dev/null
}

lab_wait_guest() {  # lab_wait_guest HOST [SECONDS]
    n=0
    while [ $n -lt "${2:-300}" ]; do
        lab_ask "$1" | grep -q '^guestwork ' && return 0
        sleep 2
        n=$((n + 2))
    done
    return 1
}

if [ "${0##*/}" = lab.sh ]; then
    cmd=${1:-}
    [ $# -gt 0 ] && shift
    case $cmd in
    start) lab_start "$@" ;;
    stop)
        if [ "${1:-all}" = all ]; then lab_stop hostb; lab_stop hosta
        else lab_stop "$1"; fi ;;
    run) lab_run "$@" ;;
    copy) lab_copy "$@" ;;
    guest) lab_guest "$@" ;;
    wait-guest) lab_wait_guest "$@" ;;
    ask) lab_ask "$@" ;;
    status)
        for h in hosta hostb; do
            if lab_running $h; then echo "$h runs (pid $(lab_pid $h))"
            else echo "$h stopped"; fi
        done ;;
    *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
fi
