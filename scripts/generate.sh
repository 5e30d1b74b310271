#!/usr/bin/env bash
# Sets up, builds and runs `supra generate` on the model shipped in models/ (any supra
# generate flags may follow, e.g. -p "Once upon a time" -n 100 --temperature 0.8).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/install-deps.sh"
"$here/build.sh" >/dev/null
[ $# -eq 0 ] && set -- -p "Once upon a time" -n 128
exec "$here/../build/tools/supra/supra" generate "$@"
