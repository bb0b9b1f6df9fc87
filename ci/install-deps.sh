#!/usr/bin/env bash
# Installs what the tests need beyond a Rust toolchain: bash and python3
# (children in other languages) and coreutils (head, tr, sleep, cat, mkfifo).
set -euo pipefail

missing=()
for tool in bash sh python3 head tr sleep cat mkfifo; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "ci/install-deps.sh: bash, python3 and coreutils are present"
  exit 0
fi
echo "ci/install-deps.sh: installing for: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq bash python3 coreutils
