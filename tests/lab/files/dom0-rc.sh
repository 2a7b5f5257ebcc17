#!/bin/sh
# The lab dom0's start-up (busybox init runs it, see inittab): kernel
# file systems, udev, the Xen modules and daemons, the bridge xenbr0 on the
# private link with this host's lab address, the user-mode NIC for ssh from
# the build machine, sshd, xlmigd.  Ends by printing LAB-DOM0-READY on the
# console, which tests/lab/lab.sh waits for.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc 2>/dev/null
mount -t sysfs sysfs /sys 2>/dev/null
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -o remount,rw /
mkdir -p /run/lock /run/sshd /var/log /var/lib/xen

name=dom0 addr=10.99.0.1
for arg in $(cat /proc/cmdline); do
    case "$arg" in
    lab.host=*) name=${arg#*=} ;;
    lab.ip=*) addr=${arg#*=} ;;
    esac
done
hostname "$name"
echo "$name" >/etc/hostname

echo "dom0-rc: udev"
/lib/systemd/systemd-udevd --daemon
udevadm trigger --action=add --type=subsystems
udevadm trigger --action=add --type=devices
udevadm settle --timeout=120

echo "dom0-rc: Xen"
for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-netback \
         xen-blkback bridge loop tun; do
    modprobe "$m" || echo "dom0-rc: modprobe $m failed"
done
mountpoint -q /proc/xen || mount -t xenfs xenfs /proc/xen
/etc/init.d/xen start

echo "dom0-rc: network"
ip link set lo up
link="" user=""
for dev in /sys/class/net/*; do
    case "$(cat "$dev/address")" in
    52:54:00:99:*) link=${dev##*/} ;;     # the private link between hosts
    52:54:00:00:*) user=${dev##*/} ;;     # QEMU user-mode: ssh from outside
    esac
done
ip link add xenbr0 type bridge forward_delay 0 stp_state 0
if [ -n "$link" ]; then
    ip link set "$link" master xenbr0
    ip link set "$link" up
fi
ip link set xenbr0 up
ip addr add "$addr/24" dev xenbr0
if [ -n "$user" ]; then
    ip link set "$user" up
    ip addr add 10.0.2.15/24 dev "$user"
    ip route add default via 10.0.2.2
fi
/usr/sbin/sshd
echo "$link" >/run/lab-link          # lab-check's link cut takes it down
if [ -f "/etc/xlmig/xlmigd-$name.conf" ]; then
    echo "dom0-rc: xlmigd"
    # where xlmig tunnel (and a restarted xlmigd) look for it
    ln -sf "xlmigd-$name.conf" /etc/xlmig/xlmigd.conf
    xlmigd >>/var/log/xlmigd.log 2>&1 </dev/null &
fi
echo "LAB-DOM0-READY host=$name ip=$addr link=$link user=$user" \
     "uptime=$(cut -d' ' -f1 /proc/uptime)"
