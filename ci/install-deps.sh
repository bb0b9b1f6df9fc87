#!/usr/bin/env bash
# Installs what the tests need beyond a Rust toolchain: bash, sh and python3
# (children in other languages), coreutils (head, tr, sleep, cat, mkfifo),
# dbus-daemon with its session config (a real program that reports its
# address on an inherited fd, in tests/real_programs.rs), and iproute2 and
# OpenSSH (the two test hosts of tests/remote.rs, made by ci/netns.sh), and
# pytest (the README's pytest fixture, run by tests/pytest_fixture.rs), and
# Slurm with munge (the one-node cluster of tests/slurm.rs, made by
# ci/slurm.sh).
#
#   ci/install-deps.sh         what the Linux test suite needs
#   ci/install-deps.sh cross   Debian's Rust 1.96 with its std source and
#                              clippy, for ci/cross.sh's -Zbuild-std checks,
#                              and mingw-w64 and Wine for ci/wine.sh
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi

if [ "${1:-}" = cross ]; then
  echo "ci/install-deps.sh: installing Debian's rustc-web, cargo-web, rust-web-src, rust-web-clippy, mingw-w64, wine64"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    rustc-web cargo-web rust-web-src rust-web-clippy mingw-w64 wine64
  exit 0
fi

missing=()
for tool in bash sh python3 head tr sleep cat mkfifo dbus-daemon ip ssh ssh-keygen /usr/sbin/sshd \
    srun squeue scancel sinfo /usr/sbin/slurmctld /usr/sbin/slurmd /usr/sbin/munged nsenter unshare; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ -f /usr/share/dbus-1/session.conf ] || missing+=("dbus session config")
/usr/bin/python3 -c 'import pytest' >/dev/null 2>&1 || missing+=("pytest for Debian's python3")
if [ ${#missing[@]} -eq 0 ]; then
  echo "ci/install-deps.sh: everything the tests need is present"
  exit 0
fi
echo "ci/install-deps.sh: installing for: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
  bash python3 coreutils dbus-daemon dbus-session-bus-common iproute2 \
  openssh-client openssh-server python3-pytest slurm-wlm munge util-linux
