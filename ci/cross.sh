#!/usr/bin/env bash
# Type-checks and lints the crate for macOS, FreeBSD and Windows, with Debian's
# rustc-web, cargo-web and rust-web-src (Rust 1.96 and its std source) and
# -Zbuild-std, which needs no target's std installed. Linux runs the code
# paths these targets share with it (`--cfg dynamic_port_posix`): ci/check.sh.
#
#   ci/cross.sh            every target, with all features and with none
#   ci/cross.sh TARGET...  only those
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/rustc ] || [ ! -x /usr/bin/clippy-driver ] || [ ! -d /usr/lib/rustlib/src/rust/library ]; then
    bash ci/install-deps.sh cross
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(x86_64-apple-darwin aarch64-apple-darwin x86_64-unknown-freebsd
             x86_64-pc-windows-gnu x86_64-pc-windows-msvc)
fi

# Debian's toolchain, not rustup's: its std source is what -Zbuild-std builds.
export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=target/cross
unset RUSTC_WRAPPER
# Debian's clippy for 1.96 (rust-web-clippy) comes first on PATH, before rustup's.
export PATH="/usr/bin:$PATH"

for target in "${targets[@]}"; do
    for features in --all-features --no-default-features; do
        echo "== cross: $target $features"
        # The library and the binary: the tests' dev-dependencies build C
        # (criterion's alloca), which needs the target's C toolchain.
        # `cargo clippy` is `cargo check` with the lints: one pass does both.
        what=(--lib --bins)
        cargo clippy -Zbuild-std=std,panic_abort --target "$target" "${what[@]}" $features --locked \
            -- -D warnings
    done
done
echo "ci/cross.sh: ${targets[*]}: type-checked and clippy-clean"
