#!/usr/bin/env bash
# Compares supra with llama.cpp on the same model shape, precision and thread count.
#
#   bench/compare_llamacpp.sh LLAMA_CPP_BUILD_DIR [SHAPE] [DTYPES] [THREADS]
#     SHAPE    a softmax teacher shape of `supra bench --synthetic` (default llama-1b)
#     DTYPES   comma-separated supra dtypes: f16, q8, q4 (default f16,q8,q4)
#     THREADS  default: the number of cores
#
# For each dtype, supra writes a GGUF file of the teacher with random weights of that shape
# (`supra quantize --synthetic SHAPE --type DTYPE -o DIR`, writing DIR/model.gguf: the
# synthetic input of the quantization work's `supra quantize -m`), llama-bench measures it
# (-p 512 -n 128), and `supra bench`
# measures both the same teacher and its SUPRA twin (the linear-attention model of the same
# dims). One table with the ratios is printed at the end.
#
# llama.cpp is never vendored. To get and build llama-bench (CPU only, outside this repo):
#   git clone https://github.com/ggml-org/llama.cpp /work/llama.cpp
#   cmake -S /work/llama.cpp -B /work/llama-build -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF
#   cmake --build /work/llama-build --target llama-bench -j2
# then run this script with /work/llama-build.
set -euo pipefail

if [ $# -lt 1 ]; then
  sed -n 2,20p "$0" | sed 's/^# \{0,1\}//'
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
"$supra" quantize --help 2>/dev/null | grep -q -- --synthetic ||
  { echo "error: this supra has no 'quantize --synthetic' (GGUF writer) to give llama.cpp the same model" >&2; exit 1; }

# The SUPRA twin of each teacher shape.
case $shape in
  llama-1b) twin=supra-1b ;;
  mistral-7b) twin=mistral-supra-7b ;;
  *) echo "error: no SUPRA twin known for $shape" >&2; exit 1 ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rows=()
for dtype in ${dtypes//,/ }; do
  gguf=$work/$shape-$dtype/model.gguf
  "$supra" quantize --synthetic "$shape" --type "$dtype" -o "$work/$shape-$dtype" >&2
  lj=$("$llama_bench" -m "$gguf" -p 512 -n 128 -t "$threads" -o json)
  l_pp=$(jq '[.[] | select(.n_prompt == 512) | .avg_ts] | first' <<<"$lj")
  l_tg=$(jq '[.[] | select(.n_gen == 128) | .avg_ts] | first' <<<"$lj")
  for model in "$shape" "$twin"; do
    sj=$("$supra" bench --synthetic "$model" --dtype "$dtype" --threads "$threads" --depths 0 --json)
    s_pp=$(jq .prefill_tok_s <<<"$sj")
    s_tg=$(jq '.decode_tok_s["0"]' <<<"$sj")
    rows+=("$(printf '%-18s %-5s %10.2f %10.2f %8.2fx %10.2f %10.2f %8.2fx' "$model" "$dtype" \
      "$l_pp" "$s_pp" "$(jq -n "$s_pp / $l_pp")" "$l_tg" "$s_tg" "$(jq -n "$s_tg / $l_tg")")")
  done
done
printf '%-18s %-5s %10s %10s %9s %10s %10s %9s\n' model dtype llama-pp512 supra-pp512 ratio llama-tg supra-tg ratio
printf '%s\n' "${rows[@]}"
echo "(llama.cpp numbers are for the softmax teacher $shape in both rows; threads $threads)"
