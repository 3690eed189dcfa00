#!/usr/bin/env bash
# Installs the Debian packages digits needs (idempotent, quiet), then configures and builds Release in build/.
# Usage: scripts/setup.sh [--no-install] [extra cmake args...]
#   BUILD_DIR=build (default)   JOBS=<cores> (default)
set -euo pipefail
cd "$(dirname "$0")/.."

install=1
if [[ "${1:-}" == "--no-install" ]]; then install=0; shift; fi

# Why each package is here:
#   cmake ninja-build g++      the build
#   zlib1g-dev                 gzip IDX files and the data set's CRC-32
#   libpng-dev libjpeg-dev     reading drawings/images in predict and the window, writing PNGs
#   nlohmann-json3-dev         safetensors headers, --json output
#   libcli11-dev               the command line
#   libopenblas-openmp-dev     sgemm for the CPU path (OpenMP build: shares our thread pool)
#   libgtest-dev libbenchmark-dev   the test suite and kernel benchmarks
#   libwxgtk3.2-dev            the drawing window (digits-gui)
#   xvfb xauth xdotool imagemagick  the window's gui tests (ImageMagick makes the photo-like test image) and screenshots under a virtual display
#   python3                    scripts/personal_styles.py: the handwriting style the finetune CLI test learns
#   clang libclang-rt-14-dev libomp-dev  scripts/fuzz.sh: libFuzzer and the sanitizer runtimes come with
#                              libclang-rt-14-dev; libomp-dev is OpenMP for the clang build
packages=(cmake ninja-build g++ pkg-config zlib1g-dev libpng-dev libjpeg-dev nlohmann-json3-dev libcli11-dev
          libopenblas-openmp-dev libgtest-dev googletest libbenchmark-dev libwxgtk3.2-dev
          xvfb xauth xdotool imagemagick python3 curl ca-certificates clang libclang-rt-14-dev libomp-dev)

if (( install )); then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if (( ${#missing[@]} )); then
    echo "setup: installing ${missing[*]}"
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >/dev/null
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
# nvcc is found by CMake even without PATH (CUDA_HOME, /usr/local/cuda); no GPU is needed to build it.
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >"$BUILD_DIR.configure.log" 2>&1 \
  || { cat "$BUILD_DIR.configure.log"; exit 1; }
grep -E '^-- digits' "$BUILD_DIR.configure.log" || true
cmake --build "$BUILD_DIR" -j "$JOBS"
