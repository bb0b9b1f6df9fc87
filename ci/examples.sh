#!/usr/bin/env bash
# Runs every example end to end and checks what it prints.
set -euo pipefail
cd "$(dirname "$0")/.."

run() {
  local name=$1 expect=$2 out
  out=$(timeout 120 cargo run --quiet --locked --all-features --example "$name")
  printf '%s\n' "$out"
  grep -q -- "$expect" <<<"$out" || { echo "example $name did not print: $expect" >&2; exit 1; }
}

run demo "the child says: hello from child"
run tokio_echo "tokio child echoes: hello from the parent"
run smol_echo "smol child echoes: hello from the parent"
run async_std_echo "async-std child echoes: hello from the parent"
run axum_hello "body: hello from axum on port"
run resources "threads the library adds in all"
run dbus_address "answers: REJECTED"
