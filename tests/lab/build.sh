#!/bin/sh
# make lab: build the Xen lab's images from Debian's packages only, into
# $LAB_DIR (default /var/tmp/xlmig-lab), reusing what an earlier run built:
#
#   xen.elf        Debian's Xen 4.17 hypervisor rebuilt from Debian's source
#                  package with CONFIG_SHADOW_PAGING=y (PV log-dirty needs it)
#   rootfs/        the dom0 root (debootstrap bookworm), with xlmig's freshly
#                  built binaries in /usr/local
#   vmlinuz, initrd.img   the dom0 kernel, also the guests' kernel
#   guest-initrd.gz       the guests' initramfs: busybox and guestwork
#   dom0.img       the root as an ext4 image (no mount needed)
#
# docs/lab.md explains the lab; ../shared/LAB.md has the facts it rests on.
set -eu
LAB_DIR=${LAB_DIR:-/var/tmp/xlmig-lab}
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "${BUILD:-build}" 2>/dev/null && pwd) ||
    { echo "lab build: no build directory: run make first" >&2; exit 1; }
XENSRC_VER=${XENSRC_VER:-4.17.5+72-g01140da4e8-1}
PKGS=xen-utils-4.17,xenstore-utils,qemu-system-xen,linux-image-amd64,\
openssh-server,iproute2,busybox,netcat-openbsd,kmod,procps,socat,\
bridge-utils,udev,libyajl2,libssl3,tcpdump
HOST_PKGS="qemu-system-x86 qemu-utils debootstrap expect socat cpio \
busybox-static openssh-client e2fsprogs dpkg-dev bc bison flex python3 \
libxen-dev gcc make"

say() { echo "lab build: $*"; }
die() { echo "lab build: $*" >&2; exit 1; }
stamp_ok() { [ -f "$LAB_DIR/$1" ]; }

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot)"
mkdir -p "$LAB_DIR"
cd "$LAB_DIR"
t_start=$(date +%s)

# ---- this machine's tools, from Debian ----
missing=""
for p in $HOST_PKGS; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    say "installing$missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
        die "cannot install$missing"
fi
MIRROR=${MIRROR:-$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ { print $2; exit }' \
    /etc/apt/sources.list.d/debian.sources 2>/dev/null)}
[ -n "$MIRROR" ] || MIRROR=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' \
    /etc/apt/sources.list 2>/dev/null)
[ -n "$MIRROR" ] || die "no Debian mirror found in apt's sources: set MIRROR"

# ---- 1. the hypervisor, with shadow paging ----
if ! stamp_ok xen.elf; then
    t=$(date +%s)
    say "rebuilding Xen $XENSRC_VER with CONFIG_SHADOW_PAGING=y"
    rm -rf xensrc apt && mkdir -p xensrc apt/lists/partial apt/cache/archives/partial
    echo "deb-src $MIRROR bookworm main" >apt/sources.list
    echo "deb $MIRROR bookworm main" >>apt/sources.list
    APTO="-o Dir::Etc::SourceList=$LAB_DIR/apt/sources.list
          -o Dir::Etc::SourceParts=/nonexistent
          -o Dir::State::Lists=$LAB_DIR/apt/lists
          -o Dir::Cache=$LAB_DIR/apt/cache
          -o APT::Sandbox::User=root"
    # shellcheck disable=SC2086
    apt-get $APTO update -qq
    # Debian's own configuration, from its hypervisor package
    (cd xensrc && apt-get $APTO download -qq xen-hypervisor-4.17-amd64 &&
        dpkg-deb -x xen-hypervisor-4.17-amd64_*.deb deb)
    (cd xensrc && apt-get $APTO source -qq "xen=$XENSRC_VER" >/dev/null)
    xs=$(ls -d xensrc/xen-4.17*/ | head -1)
    cp xensrc/deb/boot/xen-4.17-amd64.config "$xs/xen/.config"
    sed -i 's/^# CONFIG_SHADOW_PAGING is not set/CONFIG_SHADOW_PAGING=y/' \
        "$xs/xen/.config"
    make -s -C "$xs/xen" olddefconfig XEN_TARGET_ARCH=x86_64 >/dev/null
    grep -q '^CONFIG_SHADOW_PAGING=y' "$xs/xen/.config" ||
        die "CONFIG_SHADOW_PAGING did not stick"
    make -s -C "$xs/xen" -j"$(nproc)" XEN_TARGET_ARCH=x86_64 \
        XEN_VENDORVERSION=-xlmiglab >xen-build.log 2>&1 ||
        { tail -20 xen-build.log; die "Xen build failed (xen-build.log)"; }
    zcat "$xs/xen/xen.gz" >xen.elf.new && mv xen.elf.new xen.elf
    rm -rf xensrc
    say "hypervisor built in $(($(date +%s) - t)) s"
fi

# ---- 2. the dom0 root ----
if ! stamp_ok rootfs/usr/sbin/xl; then
    t=$(date +%s)
    say "debootstrap bookworm from $MIRROR"
    rm -rf rootfs
    debootstrap --variant=minbase --include="$PKGS" bookworm rootfs \
        "$MIRROR" >debootstrap.log 2>&1 ||
        { tail -20 debootstrap.log; die "debootstrap failed"; }
    say "dom0 root in $(($(date +%s) - t)) s"
fi
R=$LAB_DIR/rootfs
KVER=$(ls "$R/lib/modules" | head -1)
install -D -m755 "$HERE/files/dom0-rc.sh" "$R/etc/lab/dom0-rc.sh"
install -m644 "$HERE/files/inittab" "$R/etc/inittab"
ln -sf /bin/busybox "$R/sbin/init"
chroot "$R" passwd -d root >/dev/null
echo "/dev/vda / ext4 rw 0 1" >"$R/etc/fstab"
printf '127.0.0.1 localhost\n10.99.0.1 hosta\n10.99.0.2 hostb\n' >"$R/etc/hosts"
# one lab key: the driver's way in, and dom0 to dom0 for `xl migrate` over ssh
[ -f lab_key ] || ssh-keygen -q -t ed25519 -N '' -C xlmig-lab -f lab_key
install -d -m700 "$R/root/.ssh"
install -m600 lab_key "$R/root/.ssh/id_ed25519"
install -m644 lab_key.pub "$R/root/.ssh/authorized_keys"
printf 'Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n' \
    >"$R/root/.ssh/config"
sed -i 's/^#\?UseDNS.*/UseDNS no/' "$R/etc/ssh/sshd_config"

# xlmig, as just built (dom0 has the same libxen as this machine)
for b in xlmig xlmigd xlmig-simdom xlmig-save-helper; do
    [ -x "$BUILD/$b" ] || die "$BUILD/$b missing: run make first"
    install -m755 "$BUILD/$b" "$R/usr/local/sbin/$b"
done
install -m755 "$TOP/dom0/xlmig-certs" "$R/usr/local/sbin/xlmig-certs"
# the test build of xlmigd with its fault hooks (tests/hooks/fault_hooks.c),
# for lab-check's jobs in doubt; never started unless a case asks
[ -x "$BUILD/tests/xlmigd" ] || die "$BUILD/tests/xlmigd missing: run make first"
install -m755 "$BUILD/tests/xlmigd" "$R/usr/local/sbin/xlmigd-faults"
# an orchestrator's XenStore request, for lab-check's XenStore case
install -m755 "$HERE/files/xsreq.sh" "$R/usr/local/sbin/xsreq"
# the lab's cluster CA and host certificates, made once; xlmigd's
# configuration for each host (dom0-rc.sh starts the one it is)
if [ ! -f pki/hostb.crt ]; then
    rm -rf pki
    sh "$TOP/dom0/xlmig-certs" init-ca pki >/dev/null &&
    sh "$TOP/dom0/xlmig-certs" host pki hosta >/dev/null &&
    sh "$TOP/dom0/xlmig-certs" host pki hostb >/dev/null ||
        die "cannot make the lab's certificates"
fi
install -d -m755 "$R/etc/xlmig"
for h in hosta hostb; do
    install -m644 "pki/$h.crt" "$R/etc/xlmig/$h.crt"
    install -m600 "pki/$h.key" "$R/etc/xlmig/$h.key"
    ip=10.99.0.1; [ $h = hostb ] && ip=10.99.0.2
    cat >"$R/etc/xlmig/xlmigd-$h.conf" <<CONF
# xlmigd in the Xen lab's $h (tests/lab/build.sh writes it)
host_name = "$h"
backend = "xen"
listen = "$ip"
certificate = "/etc/xlmig/$h.crt"
key = "/etc/xlmig/$h.key"
ca = "/etc/xlmig/ca.crt"
peers = [ "hosta@10.99.0.1", "hostb@10.99.0.2" ]
io_timeout = 20
# What a handover costs here beyond the last pages (suspend, device
# state, the destination's devices), measured as a migration's downtime
# less its last pages over the bandwidth: 2.1-2.9 s under TCG.
handover_ms = 2500
CONF
done
install -m644 pki/ca.crt "$R/etc/xlmig/ca.crt"

# ---- 3. the guests: the dom0 kernel, busybox and guestwork ----
rm -rf ginit && mkdir -p ginit/bin ginit/sbin ginit/proc ginit/sys ginit/dev \
    ginit/tmp ginit/lib
cp /bin/busybox ginit/bin/busybox
gcc -O2 -static -Wall -Werror -o ginit/bin/guestwork "$HERE/files/guestwork.c"
# the same program is dom0's outside probe (guestwork -P)
install -m755 ginit/bin/guestwork "$R/usr/local/sbin/guestwork"
install -m755 "$HERE/files/guest-init" ginit/init
for m in xen-netfront; do
    find "$R/lib/modules/$KVER" -name "$m.ko*" -exec cp {} ginit/lib/ \;
done
(cd ginit && find . | cpio -o -H newc 2>/dev/null | gzip -9) >guest-initrd.gz
install -d "$R/root/guest"
cp guest-initrd.gz "$R/root/guest/initrd.gz"
cp "$R/boot/vmlinuz-$KVER" "$R/root/guest/vmlinuz"
for t in pv pvh hvm; do
    sed "s/@TYPE@/$t/g" "$HERE/files/guest.cfg" >"$R/etc/xen/guest-$t.cfg"
done
# HVM: serial console, an emulated NIC, the device model's direct boot
sed -i 's/console=hvc0/console=ttyS0/; s/^vif.*/vif = [ "mac=00:16:3e:00:00:10,bridge=xenbr0,model=e1000" ]/' \
    "$R/etc/xen/guest-hvm.cfg"
echo 'serial = "pty"' >>"$R/etc/xen/guest-hvm.cfg"
# QEMU TCG's SVM reports RDTSCP as an RDTSC intercept: Xen's "Insn
# mismatch" crashes the guest unless RDTSCP is hidden from it.
for t in pvh hvm; do
    echo 'cpuid = "host,rdtscp=0"' >>"$R/etc/xen/guest-$t.cfg"
done

# ---- 4. pack ----
cp "$R/boot/vmlinuz-$KVER" vmlinuz
cp "$R/boot/initrd.img-$KVER" initrd.img
rm -f dom0.img.new
mkfs.ext4 -q -F -L xlmiglab -d "$R" dom0.img.new 2G >/dev/null
mv dom0.img.new dom0.img
say "ready in $(($(date +%s) - t_start)) s: $LAB_DIR"
