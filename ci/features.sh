#!/usr/bin/env bash
# Builds the library with no features, and with each feature alone.
set -euo pipefail
cd "$(dirname "$0")/.."

features=$(sed -n '/^\[features\]/,/^\[/p' Cargo.toml | grep -oE '^[a-z][a-z0-9-]* =' | cut -d' ' -f1 | grep -v '^default$')
echo "no features"
cargo check --lib --no-default-features --locked
for feature in $features; do
  echo "feature $feature alone"
  cargo check --lib --no-default-features --features "$feature" --locked
done
