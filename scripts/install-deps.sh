#!/bin/sh
# Install the Debian packages ringward needs to build, test and benchmark.
# Called by make when a dependency is missing; safe to run again.
set -eu
PKGS="clang llvm make pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev \
libyaml-dev libhyperscan-dev libpcre2-dev libsodium-dev libcurl4-openssl-dev \
libseccomp-dev libcmocka-dev libjson-c-dev libpng-dev libclang-rt-14-dev iproute2 procps \
nginx-light"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing (run as root to install them)" >&2
    exit 1
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
