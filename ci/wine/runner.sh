#!/usr/bin/env bash
# Cargo's runner for x86_64-pc-windows-gnu (ci/wine.sh sets it): runs a
# Windows executable under Wine, with the ProcessPrng shim beside it and
# beside the binaries it starts (a test runs target/.../debug/*.exe from
# target/.../debug/deps/).
set -euo pipefail
exe="$1"; shift
for dir in "$(dirname "$exe")" "$(dirname "$exe")/.."; do
    [ -f "$dir/bcryptprimitives.dll" ] || cp "$DP_PROCESS_PRNG_DLL" "$dir/"
done
exec /usr/lib/wine/wine64 "$exe" "$@"
