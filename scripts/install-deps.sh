#!/usr/bin/env bash
# Installs the Debian 12 packages supra builds and tests with. apt runs unless every one of them
# is installed (each checked by name); CMake names the package of anything still missing.
set -euo pipefail
packages=(
  g++ cmake ninja-build pkg-config                       # toolchain
  libsentencepiece-dev nlohmann-json3-dev libcli11-dev   # tokenizer, JSON, command line
  libbz2-dev libcpp-httplib-dev                          # eval data (HellaSwag .bz2), HTTP server
  libpng-dev openmpi-bin libopenmpi-dev                  # training: loss plot, data-parallel runs
  libhwy-dev libdnnl-dev ocl-icd-opencl-dev              # SIMD kernels (Highway), prefill GEMM (oneDNN;
                                                         # its CMake config requires OpenCL, only recommended)
  libgtest-dev curl jq valgrind                          # tests (curl + jq drive the server)
  clang libclang-rt-14-dev libomp-14-dev                 # fuzz targets (libFuzzer)
  python3-dev python3-pybind11 pybind11-dev python3-numpy  # the Python module (python/, docs/PYTHON.md)
  python3-pytest python3-venv python3-pip python3-setuptools python3-wheel  # its tests, offline pip install
  chromium                                               # the chat page's test in a headless browser
)
# The openai npm client test needs Node.js and npm; use Debian's unless both are already here.
{ command -v node && command -v npm; } >/dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
log=$(mktemp /tmp/supra-install-deps.XXXXXX.log)
echo "installing ${#missing[@]} Debian packages (a few minutes on a new machine; apt's output in $log): ${missing[*]}"
if ! { "${sudo_cmd[@]}" apt-get update -qq &&
       DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  echo "error: apt-get could not install the packages above (full output in $log)" >&2
  exit 1
fi
rm -f "$log"
