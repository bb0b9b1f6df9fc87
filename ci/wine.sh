#!/usr/bin/env bash
# Builds the Windows tests for x86_64-pc-windows-gnu (Debian's Rust 1.96
# with -Zbuild-std, linked by mingw-w64) and runs them under Debian's Wine,
# with the ProcessPrng shim that Wine 8 lacks (ci/wine/process_prng.c).
#
#   ci/wine.sh [CARGO TEST ARGS...]    default: --tests (the unit tests and every test file)
#   ci/wine.sh bench [SECTIONS...]     the comparison bench (README: spawn server)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/rustc ] || [ ! -x /usr/bin/x86_64-w64-mingw32-gcc ] || [ ! -x /usr/lib/wine/wine64 ]; then
    bash ci/install-deps.sh cross
fi

target=x86_64-pc-windows-gnu
export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=target/cross
export PATH="/usr/bin:$PATH"
unset RUSTC_WRAPPER
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$PWD/ci/wine/runner.sh"

dll="$CARGO_TARGET_DIR/bcryptprimitives.dll"
if [ ! -f "$dll" ] || [ ci/wine/process_prng.c -nt "$dll" ]; then
    mkdir -p "$CARGO_TARGET_DIR"
    x86_64-w64-mingw32-gcc -shared -O2 -o "$dll" ci/wine/process_prng.c -ladvapi32
fi
export DP_PROCESS_PRNG_DLL="$PWD/$dll"

# Wine's own files, out of the way and fresh: its first start takes seconds.
export WINEPREFIX="${WINEPREFIX:-${TMPDIR:-/tmp}/dynamic-port-wine}"
export WINEDEBUG=-all
/usr/lib/wine/wine64 wineboot --init >/dev/null 2>&1 || true

if [ "${1:-}" = bench ]; then
    shift
    exec cargo bench -Zbuild-std=std,panic_abort --target "$target" --locked --all-features \
        --bench compare -- "$@"
fi
args=("$@")
# The library's unit tests and every test file: those that need fds,
# bash, python3 or /proc are `#![cfg(unix)]`, so they build to nothing here.
# One test at a time: Wine 8's CreateProcess fails now and then
# (ERROR_INTERNAL_ERROR, 1359) when several tests spawn children at once.
[ ${#args[@]} -gt 0 ] || args=(--tests -- --test-threads=1)
cargo test -Zbuild-std=std,panic_abort --target "$target" --locked --all-features "${args[@]}"
