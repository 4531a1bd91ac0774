#!/usr/bin/env bash
# Bounded fuzzing of the component's parsers: tool arguments, Graph answers
# and webhook payloads. `tests/fuzz/run.sh 30` gives each target 30 seconds;
# a longer local run: `tests/fuzz/run.sh 3600`.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-30}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.2 --locked
# Coverage instrumentation without a sanitizer builds on the stable toolchain.
cargo fuzz build -s none --fuzz-dir .
for target in tool_arguments graph_response webhook_payload; do
  corpus="${FUZZ_CORPUS_DIR:-${TMPDIR:-/tmp}/whatsapp-connector-fuzz}/$target"
  mkdir -p "$corpus"
  echo "--- fuzz $target for ${seconds}s"
  log="$corpus.log"
  if ! cargo fuzz run -s none --fuzz-dir . "$target" "$corpus" "seeds/$target" -- \
    -max_total_time="$seconds" -dict=json.dict -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz target $target failed; the reproducer is in tests/fuzz/artifacts/$target"
    exit 1
  fi
  grep -E "^(Done|stat::number_of_executed_units|stat::new_units_added)" "$log"
done
