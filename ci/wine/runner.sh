#!/usr/bin/env bash
# Cargo's runner for x86_64-pc-windows-gnu (ci/wine.sh sets it): runs a
# Windows executable under Wine, with the ProcessPrng shim beside it.
set -euo pipefail
exe="$1"; shift
dll="$(dirname "$exe")/bcryptprimitives.dll"
[ -f "$dll" ] || cp "$DP_PROCESS_PRNG_DLL" "$dll"
exec /usr/lib/wine/wine64 "$exe" "$@"
