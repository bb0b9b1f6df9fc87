#!/usr/bin/env bash
# The whole check, as CI runs it (.ci/run calls this). Run it locally too:
#   bash ci/check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

export RUSTFLAGS="${RUSTFLAGS:-} -D warnings"
export RUSTDOCFLAGS="${RUSTDOCFLAGS:-} -D warnings"

step "format"
cargo fmt --all -- --check

step "clippy, all targets, all features"
cargo clippy --all-targets --all-features --locked

step "every feature alone, and none"
bash ci/features.sh

step "docs"
cargo doc --no-deps --all-features --locked

# As root (CI), the remote tests must find their test hosts and the Slurm
# cluster (tests/slurm.rs, made by ci/slurm.sh), not skip.
if [ "$(id -u)" -eq 0 ]; then export DP_REQUIRE_NETNS=1 DP_REQUIRE_SLURM=1; fi
# Whatever happens, no test host and no cluster is left behind.
trap 'bash ci/netns.sh down >/dev/null 2>&1 || true; bash ci/slurm.sh down >/dev/null 2>&1 || true' EXIT

step "tests (the README's command)"
results=$(mktemp)
cargo test --all-features --locked 2>&1 | tee "$results"

step "tests again on macOS's code paths (no pipe2, getrandom, sigtimedwait; children watched by polling)"
RUSTFLAGS="$RUSTFLAGS --cfg dynamic_port_posix" CARGO_TARGET_DIR=target/posix \
  cargo test --all-features --locked 2>&1 | tee -a "$results"

step "type-check and clippy for macOS, FreeBSD and Windows (-Zbuild-std)"
env -u RUSTFLAGS bash ci/cross.sh

step "the Windows tests, built for x86_64-pc-windows-gnu, under Wine"
env -u RUSTFLAGS bash ci/wine.sh 2>&1 | tee -a "$results"

step "fuzzing, a smoke run of every target (nightly)"
env -u RUSTFLAGS bash ci/fuzz.sh

step "examples"
bash ci/examples.sh

step "benchmarks build, and the comparison runs (a short smoke run)"
cargo bench --no-run --all-features --locked
cargo bench --bench compare --locked -- --quick

echo
echo "ci/check.sh: all checks passed"
# The test count, summed over every test binary and the doctests.
awk '/^test result:/ { passed += $4; failed += $6 }
     END { printf "tests: %d passed, %d failed\n", passed, failed }' "$results"
rm -f "$results"
