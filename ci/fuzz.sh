#!/usr/bin/env bash
# A smoke run of every fuzz target (fuzz/), SECS seconds each (default 10),
# with the nightly toolchain and cargo-fuzz (installed here if missing).
# For a real run: FUZZ_SECS=600 bash ci/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECS:-10}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
cd fuzz
cargo +nightly fuzz build
for target in writer_text report postcard judge; do
  echo "fuzz target $target, $secs s"
  # A crash makes cargo fuzz exit non-zero, with the input under fuzz/artifacts/.
  cargo +nightly fuzz run "$target" -- -max_total_time="$secs" 2>&1 | grep -E '^(#[0-9]+.*DONE|==|SUMMARY|Done)' || true
  test "${PIPESTATUS[0]}" -eq 0
done
