#!/usr/bin/env bash
# Fails when a library of src/ includes a header of a library above it (its own headers and
# those of the libraries it depends on, directly or through others, are allowed), counting the
# public headers of include/supra as their implementing library's; when a public header
# includes anything of src/; or when a front end (tools/, python/src) includes anything of src/
# rather than the public headers of include/supra. The layers are those of
# docs/ARCHITECTURE.md; every library must be listed here, so a new one is placed on purpose.
# Usage: scripts/check-layering.sh [REPO]   (exit 1 with one line per offending include)
set -euo pipefail
repo="${1:-$(cd "$(dirname "$0")/.." && pwd)}"

declare -A deps=(
  [io]=""
  [kernels]="io"
  [tokenizer]="io"
  [model]="io kernels tokenizer"
  [generate]="model tokenizer"
  [eval]="model tokenizer io"
  [serve]="generate"
  [train]="model tokenizer io"
  [bench]="model"
  [convert]="model"
)
# The library that implements each public header.
declare -A owner=(
  [error.h]=io [tensor.h]=io [checkpoint.h]=io [npy.h]=io
  [token.h]=tokenizer [tokenizer.h]=tokenizer
  [config.h]=model [state.h]=model [model.h]=model [state_file.h]=model
  [sampler.h]=generate [generate.h]=generate [stop_strings.h]=generate [chat_template.h]=generate
  [eval.h]=eval [eval_metrics.h]=eval [eval_run.h]=eval [eval_report.h]=eval [perplexity.h]=eval [serve.h]=serve [bench.h]=bench [op_profile.h]=model [quantize.h]=convert
  [train.h]=train
)

# The library and everything below it.
closure() {
  local todo=("$1") seen=" " lib
  while ((${#todo[@]})); do
    lib="${todo[0]}"; todo=("${todo[@]:1}")
    [[ "$seen" == *" $lib "* ]] && continue
    seen+="$lib "
    for d in ${deps[$lib]}; do todo+=("$d"); done
  done
  echo "$seen"
}

status=0
for dir in "$repo"/src/*/; do
  lib="$(basename "$dir")"
  if [[ -z "${deps[$lib]+set}" ]]; then
    echo "src/$lib: not a layer of scripts/check-layering.sh (add it with its dependencies)"
    status=1
    continue
  fi
  allowed="$(closure "$lib")"
  while IFS=: read -r file line include; do
    target="${include#\#include \"}"
    target="${target%\"*}"
    top="${target%%/*}"
    if [[ "$top" == supra ]]; then
      header="${target#supra/}"
      layer="${owner[$header]:-}"
      if [[ -z "$layer" ]]; then
        echo "${file#"$repo"/}:$line: $target has no owning library in scripts/check-layering.sh"
        status=1
        continue
      fi
    elif [[ -n "${deps[$top]+set}" ]]; then
      layer="$top"
    else
      continue  # a header of this folder or a third-party one
    fi
    if [[ "$allowed" != *" $layer "* ]]; then
      echo "${file#"$repo"/}:$line: $lib includes $target of $layer, which is not below it"
      status=1
    fi
  done < <(grep -rnE '^#include "[^"]+"' "$dir" --include='*.h' --include='*.cpp' --include='*.cc' || true)
done

# Public headers and front ends: include/supra and their own folder's headers only.
for dir in "$repo"/include "$repo"/tools "$repo"/python/src; do
  [[ -d "$dir" ]] || continue
  while IFS=: read -r file line include; do
    target="${include#\#include \"}"
    target="${target%\"*}"
    top="${target%%/*}"
    if [[ "$target" == */* && "$top" != supra ]] || [[ "$top" == supra && ! -f "$repo/include/$target" ]]; then
      echo "${file#"$repo"/}:$line: includes $target, not a public header of include/supra"
      status=1
    elif [[ "$top" == supra && -z "${owner[${target#supra/}]:-}" ]]; then
      echo "${file#"$repo"/}:$line: $target has no owning library in scripts/check-layering.sh"
      status=1
    fi
  done < <(grep -rnE '^#include "[^"]+"' "$dir" --include='*.h' --include='*.cpp' --include='*.cc' || true)
done
exit "$status"
