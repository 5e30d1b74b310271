#!/usr/bin/env bash
# Builds the fuzz targets with clang and runs them.
#   fuzz/run.sh                 every target for 5 s (the CI smoke run)
#   fuzz/run.sh TARGET SECONDS  one target (e.g. fuzz_pickle 600), corpus kept in fuzz/corpus/TARGET
# A crash leaves its input as crash-* in the current folder and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-fuzz
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DSUPRA_FUZZ=ON -DSUPRA_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=(fuzz_safetensors fuzz_gguf fuzz_torch_zip fuzz_pickle fuzz_config fuzz_json fuzz_tokenizer fuzz_csv fuzz_eval_data
  fuzz_train_checkpoint fuzz_http_request fuzz_state_import)
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}" fuzz_make_seeds

seeds="$build/seeds"
rm -rf "$seeds" && "$build/fuzz/fuzz_make_seeds" . "$seeds"

# The JSON targets get inputs up to 1 MB and the nesting dictionary: deep nesting needs far
# more than libFuzzer's default 4 KB (100k levels crashed the parser before the depth limit).
options_for() {  # target
  case $1 in
    fuzz_config | fuzz_json | fuzz_safetensors | fuzz_eval_data | fuzz_http_request)
      echo "-max_len=1048576 -dict=fuzz/json.dict" ;;
    *) echo "-max_len=65536" ;;
  esac
}

run() {  # target seconds
  local target=$1 seconds=$2 corpus="fuzz/corpus/$1"
  mkdir -p "$corpus"
  echo "== $target for ${seconds}s"
  # -timeout catches hangs, -rss_limit_mb over-allocation; the seed folder is read only.
  local log="$build/logs/$target.log"
  mkdir -p "$build/logs"
  local status=0
  # shellcheck disable=SC2046  # the options are words on purpose
  "$build/fuzz/$target" "$corpus" "$seeds/${target#fuzz_}" -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2048 $(options_for "$target") -print_final_stats=1 >"$log" 2>&1 || status=$?
  # The last status line (coverage, features, corpus size), the final statistics, and on
  # failure the report.
  grep -E '^#[0-9]+' "$log" | tail -n 1
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log"
  if [ "$status" -ne 0 ]; then
    grep -vE '^(INFO|#[0-9]+)' "$log" | tail -n 40
    return "$status"
  fi
}

if [ $# -ge 1 ]; then
  run "$1" "${2:-60}"
else
  for t in "${targets[@]}"; do run "$t" 5; done
fi
