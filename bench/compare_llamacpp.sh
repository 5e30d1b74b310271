#!/usr/bin/env bash
# Compares supra with llama.cpp on the same model shape, precision and thread count.
#
#   [DEPTH16K=0] [BATCH=0] [BATCH_SIZES=1,4,8,16,32] \
#     bench/compare_llamacpp.sh LLAMA_CPP_BUILD_DIR [SHAPE] [DTYPES] [THREADS]
#     SHAPE    a softmax teacher shape of `supra bench --synthetic` (default llama-1b)
#     DTYPES   comma-separated supra dtypes: bf16, f16, q8, q4 (default f16,q8,q4)
#     THREADS  default: the number of cores
#
# For each dtype, supra writes the softmax teacher with random weights of that shape as GGUF
# (`supra quantize --synthetic SHAPE --type DTYPE -o DIR`: DIR/model.gguf in llama.cpp's
# "llama" layout with a synthetic vocabulary, DIR/config.json for supra). llama-bench measures
# that file (-p 512 -n 128, and decode after a 16K prompt with -d 16384 unless DEPTH16K=0), and
# `supra bench -m` measures the same file and the SUPRA twin of the same dims (the
# linear-attention model, written the same way). One table with the ratios is printed at the
# end. The decode-at-16K columns are the ones a fixed-size state is about (llama-bench builds
# older than its -d option have none: the column then says "-").
#
# Batched decode (unless BATCH=0): llama-batched-bench runs the same file with BATCH_SIZES
# sequences, each after its own 128-token prompt, decoding 32 tokens together (-npp 128 -ntg 32
# -npl BATCH_SIZES); `supra bench --batch BATCH_SIZES` runs the teacher and the SUPRA twin alike
# (a 128-token prefill forked N times, 32 batched steps), and, unless DEPTH16K=0, after 16384
# tokens too (supra only: llama.cpp would need 16K tokens of prompt per sequence; the teacher's
# larger batches there are skipped by supra's bound on the forked KV caches). A second table
# gives the aggregate decode tok/s (all sequences together) and the ratios to llama.cpp.
#
# llama.cpp is never vendored. To get and build llama-bench (CPU only, outside this repo):
#   git clone https://github.com/ggml-org/llama.cpp /work/llama.cpp
#   cmake -S /work/llama.cpp -B /work/llama-build -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF
#   cmake --build /work/llama-build --target llama-bench llama-batched-bench -j2
# then run this script with /work/llama-build.
set -euo pipefail

if [ $# -lt 1 ]; then
  sed -n 2,31p "$0" | sed 's/^# \{0,1\}//'
  exit 1
fi
llama_build=$1
shape=${2:-llama-1b}
dtypes=${3:-f16,q8,q4}
threads=${4:-$(nproc)}
here=$(cd "$(dirname "$0")/.." && pwd)
supra=${SUPRA:-$here/build/tools/supra/supra}
llama_bench=$(find "$llama_build" -type f -name llama-bench -perm -u+x | head -n 1)
[ -x "$supra" ] || { echo "error: $supra not built (cmake --build build --target supra_cli)" >&2; exit 1; }
[ -n "$llama_bench" ] || { echo "error: no llama-bench under $llama_build (see the build steps above)" >&2; exit 1; }
command -v jq >/dev/null || { echo "error: jq is needed (apt-get install jq)" >&2; exit 1; }
batch=${BATCH:-1}
batch_sizes=${BATCH_SIZES:-1,4,8,16,32}
if [ "$batch" = 1 ]; then
  llama_batched=$(find "$llama_build" -type f -name llama-batched-bench -perm -u+x | head -n 1)
  [ -n "$llama_batched" ] || { echo "error: no llama-batched-bench under $llama_build (see the build steps above)" >&2; exit 1; }
  [[ $batch_sizes =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || { echo "error: BATCH_SIZES must be like 1,4,8, got $batch_sizes" >&2; exit 1; }
fi

# The SUPRA twin of each teacher shape.
case $shape in
  llama-1b) twin=supra-1b ;;
  mistral-7b) twin=mistral-supra-7b ;;
  *) echo "error: no SUPRA twin known for $shape" >&2; exit 1 ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
depth16k=${DEPTH16K:-1}
llama_depth16k=$depth16k
if [ "$depth16k" = 1 ] && ! "$llama_bench" --help 2>&1 | grep -q -- '--n-depth'; then
  echo "note: this llama-bench has no -d/--n-depth; llama.cpp's 16K column is left out" >&2
  llama_depth16k=0
fi
rows=()
batch_rows=()
# A JSON number to two decimals, "-" for null; a / b as "1.23x", "-" when either is null.
num() {
  local v
  v=$(jq -rn "$1 | if type == \"number\" then . else \"-\" end")
  if [ "$v" = - ]; then echo -; else printf '%.2f' "$v"; fi
}
ratio() {
  local v
  v=$(jq -rn "if ($1 | type) == \"number\" and ($2 | type) == \"number\" then $1 / $2 else \"-\" end")
  if [ "$v" = - ]; then echo -; else printf '%.2fx' "$v"; fi
}
# supra's batched aggregate of MODEL at DEPTH for batch N (number, or null when skipped or not run).
declare -A sb=()
at() { jq ".batch_decode_tok_s_by_depth[\"$2\"][\"$3\"]" <<<"${sb[$1]}"; }
for dtype in ${dtypes//,/ }; do
  for model in "$shape" "$twin"; do
    "$supra" quantize --synthetic "$model" --type "$dtype" -o "$work/$model-$dtype" >&2
  done
  lj=$("$llama_bench" -m "$work/$shape-$dtype/model.gguf" -p 512 -n 128 -t "$threads" -o json)
  l_pp=$(jq '[.[] | select(.n_prompt == 512) | .avg_ts] | first' <<<"$lj")
  l_tg=$(jq '[.[] | select(.n_gen == 128) | .avg_ts] | first' <<<"$lj")
  l_tg16=null
  if [ "$llama_depth16k" = 1 ]; then
    lj16=$("$llama_bench" -m "$work/$shape-$dtype/model.gguf" -p 0 -n 32 -d 16384 -r 1 -t "$threads" -o json)
    l_tg16=$(jq '[.[] | select(.n_gen == 32) | .avg_ts] | first' <<<"$lj16")
  fi
  for model in "$shape" "$twin"; do
    depths=0
    [ "$depth16k" = 1 ] && depths=0,16384
    sj=$("$supra" bench -m "$work/$model-$dtype" --threads "$threads" --depths "$depths" --json)
    s_pp=$(jq .prefill_tok_s <<<"$sj")
    s_tg=$(jq '.decode_tok_s["0"]' <<<"$sj")
    s_tg16=$(jq '.decode_tok_s["16384"] // null' <<<"$sj")
    ratio16=$(jq -n "if $l_tg16 == null or $s_tg16 == null then \"-\" else ($s_tg16 / $l_tg16 * 100 | round / 100 | tostring) + \"x\" end" | tr -d '"')
    rows+=("$(printf '%-18s %-5s %9.2f %9.2f %7.2fx %9.2f %9.2f %7.2fx %9s %9s %8s' "$model" "$dtype" \
      "$l_pp" "$s_pp" "$(jq -n "$s_pp / $l_pp")" "$l_tg" "$s_tg" "$(jq -n "$s_tg / $l_tg")" \
      "$(jq -n "$l_tg16 // \"-\"" | tr -d '"' | cut -c1-6)" "$(jq -n "$s_tg16 // \"-\"" | tr -d '"' | cut -c1-6)" "$ratio16")")
  done
  [ "$batch" = 1 ] || continue
  # Batched decode: aggregate tok/s of every batch size, llama.cpp and supra on the same file.
  max_batch=$(tr , '\n' <<<"$batch_sizes" | sort -n | tail -n 1)
  # Context for the largest batch: each sequence its own 128 + 32 tokens.
  "$llama_batched" -m "$work/$shape-$dtype/model.gguf" -c $((max_batch * 160)) -npp 128 -ntg 32 \
    -npl "$batch_sizes" -t "$threads" --output-format jsonl >"$work/batched.jsonl" 2>"$work/batched.log" ||
    { echo "error: llama-batched-bench failed:" >&2; tail -n 5 "$work/batched.log" >&2; exit 1; }
  lb=$(grep '^{' "$work/batched.jsonl" | jq -s .)
  bdepths=128
  [ "$depth16k" = 1 ] && bdepths=128,16384
  for model in "$shape" "$twin"; do
    sb[$model]=$("$supra" bench -m "$work/$model-$dtype" --threads "$threads" --prefill-tokens 128 --decode-tokens 32 \
      --depths "$bdepths" --batch "$batch_sizes" --json)
  done
  for n in ${batch_sizes//,/ }; do
    l=$(jq "[.[] | select(.pl == $n) | .speed_tg] | first" <<<"$lb")
    batch_rows+=("$(printf '%-5s %5s %10s %10s %7s %10s %7s %11s %11s' "$dtype" "$n" "$(num "$l")" \
      "$(num "$(at "$shape" 128 "$n")")" "$(ratio "$(at "$shape" 128 "$n")" "$l")" \
      "$(num "$(at "$twin" 128 "$n")")" "$(ratio "$(at "$twin" 128 "$n")" "$l")" \
      "$(num "$(at "$shape" 16384 "$n")")" "$(num "$(at "$twin" 16384 "$n")")")")
  done
done
printf '%-18s %-5s %9s %9s %8s %9s %9s %8s %9s %9s %8s\n' model dtype llama-pp supra-pp ratio llama-tg supra-tg ratio \
  llama-16K supra-16K ratio
printf '%s\n' "${rows[@]}"
echo "(llama.cpp numbers are for the softmax teacher $shape in both rows; pp = prefill 512 tokens, tg = decode"
echo " tok/s at empty context, 16K = decode tok/s after 16384 tokens; threads $threads)"
if [ "$batch" = 1 ]; then
  echo
  printf '%-5s %5s %10s %10s %7s %10s %7s %11s %11s\n' dtype batch llama.cpp teacher ratio SUPRA ratio \
    teacher-16K SUPRA-16K
  printf '%s\n' "${batch_rows[@]}"
  echo "(aggregate decode tok/s of all sequences together. llama.cpp: llama-batched-bench on the softmax teacher"
  echo " $shape, -npp 128 -ntg 32, each sequence its own prompt; supra: bench --batch, the teacher $shape and the"
  echo " SUPRA twin $twin on the same dims, 32 batched steps after 128 tokens, and after 16384 (16K; '-': not run or"
  echo " over supra's bound on the forked KV caches); ratio = supra / llama.cpp; threads $threads)"
fi
