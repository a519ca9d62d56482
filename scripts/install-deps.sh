#!/bin/sh
# Install the Debian packages ringward needs to build, test and benchmark.
# Called by make when a dependency is missing; safe to run again.
#
# PKGS are needed to build and test; a failure to install them stops the
# build. OPT_PKGS serve one test each (nginx-light: the end-to-end content
# delivery test, which skips with the reason when nginx is missing;
# openssl: its https part, which makes a CA and a certificate): they are
# installed when possible, and a failure only warns.
set -eu
PKGS="clang llvm make pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev \
libyaml-dev libhyperscan-dev libpcre2-dev libsodium-dev libcurl4-openssl-dev \
libseccomp-dev libcmocka-dev libjson-c-dev libpng-dev libclang-rt-14-dev iproute2 procps"
OPT_PKGS="nginx-light openssl"

missing_of() {
    m=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || m="$m $p"
    done
    echo "$m"
}

# shellcheck disable=SC2086
missing=$(missing_of $PKGS)
# shellcheck disable=SC2086
optional=$(missing_of $OPT_PKGS)
[ -z "$missing$optional" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    [ -n "$optional" ] && echo "install-deps: optional packages missing:$optional" >&2
    [ -z "$missing" ] && exit 0
    echo "install-deps: missing packages:$missing (run as root to install them)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if [ -n "$missing" ]; then
    echo "install-deps: installing$missing" >&2
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >&2
fi
if [ -n "$optional" ]; then
    echo "install-deps: installing (optional)$optional" >&2
    # nginx is for tests: it must not start a service on port 80 here
    # shellcheck disable=SC2086
    { [ -n "$missing" ] || apt-get update -qq; } &&
        RUNLEVEL=1 apt-get install -y -qq --no-install-recommends $optional >&2 ||
        echo "install-deps: could not install$optional; the tests that need it will skip" >&2
fi
exit 0
