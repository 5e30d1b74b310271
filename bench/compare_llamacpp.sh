#!/usr/bin/env bash
# Compares supra with llama.cpp on the same model shape, precision and thread count.
#
#   [DEPTH16K=0] bench/compare_llamacpp.sh LLAMA_CPP_BUILD_DIR [SHAPE] [DTYPES] [THREADS]
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
# end. The decode-at-16K columns are the ones a fixed-size state is about.
#
# llama.cpp is never vendored. To get and build llama-bench (CPU only, outside this repo):
#   git clone https://github.com/ggml-org/llama.cpp /work/llama.cpp
#   cmake -S /work/llama.cpp -B /work/llama-build -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF
#   cmake --build /work/llama-build --target llama-bench -j2
# then run this script with /work/llama-build.
set -euo pipefail

if [ $# -lt 1 ]; then
  sed -n 2,21p "$0" | sed 's/^# \{0,1\}//'
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

# The SUPRA twin of each teacher shape.
case $shape in
  llama-1b) twin=supra-1b ;;
  mistral-7b) twin=mistral-supra-7b ;;
  *) echo "error: no SUPRA twin known for $shape" >&2; exit 1 ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
depth16k=${DEPTH16K:-1}
rows=()
for dtype in ${dtypes//,/ }; do
  for model in "$shape" "$twin"; do
    "$supra" quantize --synthetic "$model" --type "$dtype" -o "$work/$model-$dtype" >&2
  done
  lj=$("$llama_bench" -m "$work/$shape-$dtype/model.gguf" -p 512 -n 128 -t "$threads" -o json)
  l_pp=$(jq '[.[] | select(.n_prompt == 512) | .avg_ts] | first' <<<"$lj")
  l_tg=$(jq '[.[] | select(.n_gen == 128) | .avg_ts] | first' <<<"$lj")
  l_tg16=null
  if [ "$depth16k" = 1 ]; then
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
done
printf '%-18s %-5s %9s %9s %8s %9s %9s %8s %9s %9s %8s\n' model dtype llama-pp supra-pp ratio llama-tg supra-tg ratio \
  llama-16K supra-16K ratio
printf '%s\n' "${rows[@]}"
echo "(llama.cpp numbers are for the softmax teacher $shape in both rows; pp = prefill 512 tokens, tg = decode"
echo " tok/s at empty context, 16K = decode tok/s after 16384 tokens; threads $threads)"
