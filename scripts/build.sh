#!/usr/bin/env bash
# Configures and builds supra in BUILD_DIR (default build/), passing extra CMake flags through.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${BUILD_DIR:-build}"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" "$@" >/dev/null
cmake --build "$build_dir" -j "${JOBS:-$(nproc)}"
