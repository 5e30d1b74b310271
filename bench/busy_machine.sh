#!/usr/bin/env bash
# Default-settings speed of two `supra` binaries on a busy machine, side by side in one run:
# a CPU hog (one busy loop per core) runs beside them, as another user's job would.
#
#   bench/busy_machine.sh BEFORE_SUPRA AFTER_SUPRA [ROUNDS]
#
# Measures, for each binary, alternating BEFORE and AFTER for ROUNDS rounds (default 3), the
# median wall time of:
#   serve-first-token  `supra serve` on the shipped model, one /v1/completions request with a
#                      1,700-token prompt and max_tokens 1 (the time to its first token)
#   perplexity         `supra perplexity` on the first 2,000 tokens of tests/data/imatrix's text
# The environment is the caller's: leave OMP_* unset to measure the defaults a user gets.
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n 2,13p "$0" | sed 's/^# \{0,1\}//'
  exit 1
fi
before=$(realpath "$1") after=$(realpath "$2") rounds=${3:-3}
cd "$(dirname "$0")/.."
model=models/stories260K-supra
work=$(mktemp -d)
hogs=()
stop() {
  [ ${#hogs[@]} -gt 0 ] && kill "${hogs[@]}" 2>/dev/null
  rm -rf "$work"
}
trap stop EXIT

# ~2,000 tokens of text (the model's 512-piece vocabulary: about 1.6 characters per token) and a
# prompt of ~1,700 tokens as a JSON request.
head -c 3330 tests/data/imatrix/shakespeare-20k.txt >"$work/text.txt"
head -c 2780 tests/data/imatrix/shakespeare-20k.txt | jq -Rs '{prompt: ., max_tokens: 1, temperature: 0}' >"$work/request.json"

seconds() {  # the wall time of a command that must succeed
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >"$work/out" 2>&1 || { echo "failed: $* (stdout and stderr below)" >&2; cat "$work/out" >&2; exit 1; }
  t1=$(date +%s.%N)
  awk "BEGIN {print $t1 - $t0}"
}

serve_first_token() {  # binary
  local port=$((20000 + RANDOM % 20000)) pid
  "$1" serve -m "$model" --port "$port" >"$work/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.05; done
  seconds curl -sf "http://127.0.0.1:$port/v1/completions" -H 'Content-Type: application/json' -d @"$work/request.json"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
perplexity() { seconds "$1" perplexity -m "$model" -f "$work/text.txt" --ctx 256; }
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

prompt_tokens=$("$after" tokenize -m "$model" -p "$(jq -r .prompt "$work/request.json")" 2>/dev/null | wc -w || true)
text_tokens=$("$after" tokenize -m "$model" -p "$(cat "$work/text.txt")" 2>/dev/null | wc -w || true)
for _ in $(seq "$(nproc)"); do (while :; do :; done) & hogs+=($!); done
echo "busy machine: $(nproc) cores, $(nproc) busy loops beside supra; prompt ${prompt_tokens} tokens, perplexity text ${text_tokens} tokens"
declare -A times
for _ in $(seq "$rounds"); do
  for which in before after; do
    bin=$before; [ $which = after ] && bin=$after
    times[$which-serve]+="$(serve_first_token "$bin") "
    times[$which-ppl]+="$(perplexity "$bin") "
  done
done
printf '| measurement | before (s) | after (s) | before / after |\n| --- | --- | --- | --- |\n'
for m in serve ppl; do
  b=$(tr ' ' '\n' <<<"${times[before-$m]}" | grep . | median)
  a=$(tr ' ' '\n' <<<"${times[after-$m]}" | grep . | median)
  name=serve-first-token; [ $m = ppl ] && name=perplexity
  awk -v n="$name" -v b="$b" -v a="$a" 'BEGIN {printf "| %s | %.2f | %.2f | %.1fx |\n", n, b, a, b / a}'
done
