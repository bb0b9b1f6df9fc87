#!/usr/bin/env bash
# Builds the core with no features, and checks the library with each feature alone.
set -euo pipefail
cd "$(dirname "$0")/.."

features=$(sed -n '/^\[features\]/,/^\[/p' Cargo.toml | grep -oE '^[a-z][a-z0-9-]* =' | cut -d' ' -f1 | grep -v '^default$')
echo "no features: a full build of the core"
cargo build --lib --no-default-features --locked
for feature in $features; do
  echo "feature $feature alone"
  cargo check --lib --no-default-features --features "$feature" --locked
done
