#!/usr/bin/env bash
# Installs what the tests need beyond a Rust toolchain: bash, sh and python3
# (children in other languages), coreutils (head, tr, sleep, cat, mkfifo),
# dbus-daemon with its session config (a real program that reports its
# address on an inherited fd, in tests/real_programs.rs), and iproute2 and
# OpenSSH (the two test hosts of tests/remote.rs, made by ci/netns.sh), and
# pytest (the README's pytest fixture, run by tests/pytest_fixture.rs).
set -euo pipefail

missing=()
for tool in bash sh python3 head tr sleep cat mkfifo dbus-daemon ip ssh ssh-keygen /usr/sbin/sshd; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ -f /usr/share/dbus-1/session.conf ] || missing+=("dbus session config")
/usr/bin/python3 -c 'import pytest' >/dev/null 2>&1 || missing+=("pytest for Debian's python3")
if [ ${#missing[@]} -eq 0 ]; then
  echo "ci/install-deps.sh: everything the tests need is present"
  exit 0
fi
echo "ci/install-deps.sh: installing for: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
  bash python3 coreutils dbus-daemon dbus-session-bus-common iproute2 \
  openssh-client openssh-server python3-pytest
