#!/bin/sh
# install-deps.sh: install everything tryst needs to build, test and fuzz on
# Debian (bookworm or later) or Ubuntu. Runs apt-get non-interactively; uses
# sudo when not run as root.
set -eu
SUDO=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "install-deps.sh: run as root or install sudo" >&2; exit 1; }
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# build: compiler, autotools; libraries: libevent, libsodium, OpenDHT (C wrapper), Check,
# and (optional, for faster packet encryption) OpenSSL's libcrypto;
# NAT lab: iproute2, iptables, nftables, conntrack; fuzzing: clang with libFuzzer.
PACKAGES="build-essential autoconf automake libtool pkg-config
	libevent-dev libsodium-dev libopendht-c-dev libopendht-dev check libssl-dev
	iproute2 iptables nftables conntrack
	clang libclang-rt-dev"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
echo "install-deps.sh: dependencies installed"
