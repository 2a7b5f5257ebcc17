#!/bin/sh
# Install the Debian packages xlmig builds and tests with, if any is
# missing.  Run by "make check", "make demo" and "make bench".
set -eu

pkgs="gcc make pkg-config libxen-dev libyajl-dev libssl-dev libcmocka-dev
clang libclang-rt-14-dev valgrind bc openssl iproute2"

missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "xlmig: missing Debian packages:$missing" >&2
    echo "xlmig: install them as root (apt-get install$missing)" >&2
    exit 1
fi
echo "xlmig: installing missing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
