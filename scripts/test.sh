#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite twice: an optimized build, then the same
# tests under AddressSanitizer + UndefinedBehaviorSanitizer; then the core tests (file formats,
# kernels, tokenizer) under valgrind's memcheck, and a short run of every fuzz target
# (fuzz/README.md).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
"$here/install-deps.sh"
# Two threads per test process; spinning OpenMP workers on shared cores waste time.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"

# The openai npm client test (tests/serve/node) needs its package; without npm it skips itself.
if command -v npm >/dev/null; then
  npm ci --prefix tests/serve/node --no-audit --no-fund || echo "npm ci failed: the node client test will report itself skipped"
fi

echo "== release build and tests"
BUILD_DIR=build "$here/build.sh"
ctest --test-dir build --output-on-failure -j "$(nproc)"

echo "== ASan+UBSan build and tests"
BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo "$here/build.sh" -DSUPRA_SANITIZE=ON
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$(nproc)"

echo "== valgrind memcheck of the core tests"
# Uninstrumented code too (libraries, the release build): what the sanitizers cannot see.
# One thread: valgrind serialises threads anyway, and libgomp's pool confuses it.
for t in io kernels tokenizer; do
  OMP_NUM_THREADS=1 valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite -q \
    "build/tests/$t/test_$t" --gtest_brief=1
done

echo "== fuzz smoke run"
"$here/../fuzz/run.sh"
