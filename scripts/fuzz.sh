#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (preset `fuzz`) and runs each one
# for FUZZ_SECONDS (default 30) on a copy of its committed seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-30}"
cmake --preset fuzz >/dev/null
ninja -C build-fuzz -j"$(nproc)" resp_parser_fuzz log_reader_fuzz
for target in resp_parser log_reader; do
  bin="build-fuzz/${target}_fuzz"
  [[ -x "$bin" ]] || { echo "missing fuzz target $bin"; exit 1; }
  work="build-fuzz/corpus-$target"
  rm -rf "$work" && mkdir -p "$work"
  cp fuzz/corpus/"$target"/* "$work"/
  echo "fuzzing $target for ${seconds}s"
  "$bin" -max_total_time="$seconds" -print_final_stats=1 "$work" 2>&1 | tail -4
done
