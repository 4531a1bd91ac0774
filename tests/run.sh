#!/usr/bin/env bash
# Every test: unit and end-to-end tests in Rust, then real MCP clients
# (Python SDK, MCP Inspector, conformance suite) against the built binary.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

rustup target add wasm32-wasip2 >/dev/null
cargo test --workspace --locked
cargo build -p host-harness --locked
target_dir="$(cargo metadata --format-version 1 --no-deps --locked |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
bash tests/mcp/run.sh "$target_dir/debug/host-harness"
# A bounded fuzz run of the component's parsers (longer runs: tests/fuzz/run.sh 3600).
bash tests/fuzz/run.sh "${FUZZ_SECONDS:-30}"
