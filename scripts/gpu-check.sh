#!/usr/bin/env bash
# The GPU check, one prepared run for a machine with an NVIDIA GPU and CUDA 13 but no internet and maybe no
# Debian packages: nvidia-smi, `digits info`, a Release build (tests if GoogleTest is found), `ctest -L cuda`,
# the CUDA benchmarks, a 12-epoch `keras` and a 3-epoch `best` training on MNIST, each step under `timeout`, all within
# 8 minutes, then a summary. A missing optional piece is reported and skipped, never fatal.
#
#   scripts/gpu-check.sh              on the GPU machine (exit 1 if a step failed or timed out)
#   scripts/gpu-check.sh --prebuilt   same, but skip the build and use build-prebuilt.tar.gz
#   scripts/gpu-check.sh --prepare    on a build machine (no GPU needed): build Release with tests and
#                                     benchmarks, then pack binaries, the shared libraries they need that
#                                     a CUDA image may lack (OpenBLAS, libpng, ...) and MNIST into
#                                     build-prebuilt.tar.gz (~30 MB, git-ignored): carry it to the GPU
#                                     machine, where it is used when the build there cannot be done.
# Environment: BUILD_DIR (build), MNIST_DIR (data/mnist, shared/data/mnist, ../shared/data/mnist),
# JOBS (16), GPU_CHECK_BUDGET seconds (470), OUT (logs go there when set, else $BUILD_DIR/gpu-check).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-16}
BUDGET=${GPU_CHECK_BUDGET:-470}
PREBUILT_TGZ=$ROOT/build-prebuilt.tar.gz
MODE=check
case "${1:-}" in
  --prepare) MODE=prepare ;;
  --prebuilt) MODE=prebuilt ;;
  "" ) ;;
  -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
  *) echo "gpu-check: unknown argument '$1' (see --help)"; exit 2 ;;
esac

T0=$(date +%s)
elapsed() { echo $(( $(date +%s) - T0 )); }

# nvcc without PATH (non-login shells): CUDA_HOME, CUDA_PATH, /usr/local/cuda.
for d in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda /usr/local/cuda-13.0 /usr/local/cuda-13; do
  if [[ -n "$d" && -x "$d/bin/nvcc" ]]; then export CUDA_HOME=$d; break; fi
done
GENERATOR=()
if command -v ninja >/dev/null 2>&1; then GENERATOR=(-G Ninja); fi

# Finds MNIST (the four gzip IDX files) or prints nothing.
find_mnist() {
  local d
  for d in "${MNIST_DIR:-}" data/mnist shared/data/mnist ../shared/data/mnist "$@"; do
    if [[ -n "$d" && -f "$d/train-images-idx3-ubyte.gz" || -n "$d" && -f "$d/train-images-idx3-ubyte" ]]; then
      (cd "$d" && pwd); return
    fi
  done
}

# The path of a built program in $BUILD_DIR (top level or its folder), or nothing.
find_bin() {
  local f
  for f in "$BUILD_DIR/$1" "$BUILD_DIR/tests/$1" "$BUILD_DIR/bench/$1" "$BUILD_DIR/host/cli/$1"; do
    [[ -f "$f" && -x "$f" ]] && { echo "$f"; return; }
  done
}

# ---- prepare (build machine) ----------------------------------------------------------------------------
if [[ $MODE == prepare ]]; then
  echo "== gpu-check --prepare: Release build in $BUILD_DIR, pack into $PREBUILT_TGZ"
  cmake -S . -B "$BUILD_DIR" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release -DDIGITS_WITH_CUDA=ON \
    -DDIGITS_WITH_GUI=OFF || exit 1
  cmake --build "$BUILD_DIR" -j "$JOBS" --target digits digits_cuda_tests digits-bench || exit 1
  STAGE=$(mktemp -d)
  mkdir -p "$STAGE/prebuilt/bin" "$STAGE/prebuilt/lib" "$STAGE/prebuilt/mnist"
  for b in digits digits_cuda_tests digits-bench; do
    f=$(find_bin "$b")
    [[ -n "$f" ]] && strip -o "$STAGE/prebuilt/bin/$b" "$f"
  done
  # Shared libraries a bare CUDA image may lack; not glibc, libstdc++/libgcc_s (the GPU machine's are as new),
  # nor the driver, CUDA runtime, cuBLAS and cuDNN (the GPU machine's own are used).
  for b in "$STAGE"/prebuilt/bin/*; do ldd "$b"; done | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u |
    grep -Ev '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*|libstdc\+\+|libgcc_s|libcuda|libcudart|libcublas[^/]*|libcudnn[^/]*)\.so' |
    while read -r lib; do cp -L "$lib" "$STAGE/prebuilt/lib/"; done
  MN=$(find_mnist)
  if [[ -n "$MN" ]]; then cp "$MN"/*-ubyte* "$STAGE/prebuilt/mnist/"; else echo "gpu-check: MNIST not found: not packed"; fi
  git rev-parse --short HEAD >"$STAGE/prebuilt/COMMIT" 2>/dev/null
  tar -C "$STAGE" -czf "$PREBUILT_TGZ" prebuilt && rm -rf "$STAGE"
  ls -la "$PREBUILT_TGZ"
  tar -tzf "$PREBUILT_TGZ" | sed 's/^/  /'
  echo "Carry build-prebuilt.tar.gz to the GPU machine and run scripts/gpu-check.sh there."
  exit 0
fi

# ---- check (GPU machine) --------------------------------------------------------------------------------
LOG_DIR=${OUT:-$BUILD_DIR/gpu-check}
mkdir -p "$LOG_DIR"
exec > >(tee -a "$LOG_DIR/gpu-check.log") 2>&1
SUMMARY=()
FAILED=0
note() { SUMMARY+=("$(printf '%-8s %-10s %4ss  %s' "$1" "$2" "$3" "$4")"); }

# step NAME CAP RESERVE COMMAND...: runs COMMAND under `timeout`, for at most CAP seconds and never into the
# RESERVE seconds kept for the steps after it. Records PASS / FAIL (rc) / TIMEOUT in the summary.
LAST_RC=0
step() {
  local name=$1 cap=$2 reserve=$3; shift 3
  local left=$(( BUDGET - $(elapsed) - reserve ))
  local limit=$(( cap < left ? cap : left ))
  if (( limit < 5 )); then
    note SKIP "$name" 0 "no time left in the ${BUDGET}s budget"; LAST_RC=125; return 125
  fi
  echo; echo "== [$(elapsed)s] $name (limit ${limit}s): $*"
  local t; t=$(date +%s)
  timeout -k 10 "$limit" "$@"
  LAST_RC=$?
  local took=$(( $(date +%s) - t ))
  if (( LAST_RC == 0 )); then note PASS "$name" "$took" ""
  elif (( LAST_RC == 124 || LAST_RC == 137 )); then note TIMEOUT "$name" "$took" "stopped after ${limit}s"; FAILED=1
  else note FAIL "$name" "$took" "exit $LAST_RC"; FAILED=1
  fi
  return $LAST_RC
}

echo "== gpu-check on $(hostname) at $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), budget ${BUDGET}s"

# 1. the GPU
if command -v nvidia-smi >/dev/null 2>&1; then
  step nvidia-smi 20 400 nvidia-smi
else
  note SKIP nvidia-smi 0 "nvidia-smi not on PATH"
fi

# Shared libraries at run time: cuDNN (and cuBLAS) may live only in the Python wheels.
RT_LIBS=""
if command -v python3 >/dev/null 2>&1; then
  for pkg in nvidia.cudnn nvidia.cublas; do
    d=$(python3 -c "import importlib.util as u; s=u.find_spec('$pkg'); print(list(s.submodule_search_locations)[0] if s else '')" 2>/dev/null)
    [[ -n "$d" && -d "$d/lib" ]] && RT_LIBS="$RT_LIBS:$d/lib"
  done
fi
[[ -n "${CUDA_HOME:-}" ]] && RT_LIBS="$RT_LIBS:$CUDA_HOME/lib64:$CUDA_HOME/lib"

# 2. build here, or use the prebuilt binaries
BIN_DIGITS="" BIN_TESTS="" BIN_BENCH="" USE_CTEST=0
# Unpacks build-prebuilt.tar.gz and takes from it each program not built here.
use_prebuilt() {
  if [[ ! -f "$PREBUILT_TGZ" ]]; then
    note SKIP prebuilt 0 "no build-prebuilt.tar.gz (make it with --prepare on a build machine)"; return 1
  fi
  PRE=$(mktemp -d)/prebuilt
  tar -C "$(dirname "$PRE")" -xzf "$PREBUILT_TGZ" || { note FAIL prebuilt 0 "cannot unpack $PREBUILT_TGZ"; FAILED=1; return 1; }
  note PASS prebuilt 0 "binaries of commit $(cat "$PRE/COMMIT" 2>/dev/null || echo '?')"
  export LD_LIBRARY_PATH="$PRE/lib$RT_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  [[ -z "$BIN_DIGITS" && -x "$PRE/bin/digits" ]] && BIN_DIGITS=$PRE/bin/digits
  [[ -z "$BIN_TESTS" && -x "$PRE/bin/digits_cuda_tests" ]] && BIN_TESTS=$PRE/bin/digits_cuda_tests
  [[ -z "$BIN_BENCH" && -x "$PRE/bin/digits-bench" ]] && BIN_BENCH=$PRE/bin/digits-bench
  PREBUILT_MNIST=$PRE/mnist
  return 0
}

PREBUILT_MNIST=""
if [[ $MODE == prebuilt ]]; then
  use_prebuilt
else
  export LD_LIBRARY_PATH="${RT_LIBS#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  CACHE_SRC=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null)
  FAILED_BEFORE_BUILD=$FAILED
  if [[ -n "$CACHE_SRC" && "$CACHE_SRC" != "$ROOT" ]]; then
    note SKIP configure 0 "$BUILD_DIR was configured for $CACHE_SRC: set BUILD_DIR to a fresh folder"
  elif step configure 90 300 cmake -S . -B "$BUILD_DIR" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release \
      -DDIGITS_WITH_CUDA=ON -DDIGITS_WITH_GUI=OFF -DDIGITS_WITH_TESTS=AUTO -DDIGITS_WITH_BENCH=AUTO; then
    # CMake makes CMakeFiles/<target>.dir for every target it generated: the tests need GoogleTest, the
    # benchmarks Google Benchmark.
    targets=(digits)
    [[ -d "$BUILD_DIR/tests/CMakeFiles/digits_cuda_tests.dir" ]] && targets+=(digits_cuda_tests)
    [[ -d "$BUILD_DIR/bench/CMakeFiles/digits-bench.dir" ]] && targets+=(digits-bench)
    [[ " ${targets[*]} " == *" digits_cuda_tests "* ]] || echo "gpu-check: GoogleTest not found: no CUDA tests built"
    [[ " ${targets[*]} " == *" digits-bench "* ]] || echo "gpu-check: Google Benchmark not found: no benchmarks built"
    if step build 300 210 cmake --build "$BUILD_DIR" -j "$JOBS" --target "${targets[@]}"; then
      BIN_DIGITS=$(find_bin digits)
      BIN_TESTS=$(find_bin digits_cuda_tests)
      BIN_BENCH=$(find_bin digits-bench)
      [[ -n "$BIN_TESTS" ]] && USE_CTEST=1
    fi
  fi
  if [[ -z "$BIN_DIGITS" ]]; then
    echo "gpu-check: no build here; trying the prebuilt binaries"
    # A build that could not be done here is no failure when the prebuilt binaries stand in for it.
    use_prebuilt && [[ -n "$BIN_DIGITS" ]] && FAILED=$FAILED_BEFORE_BUILD
  elif [[ (-z "$BIN_TESTS" || -z "$BIN_BENCH") && -f "$PREBUILT_TGZ" ]]; then
    echo "gpu-check: tests or benchmarks not built here; taking them from the prebuilt binaries"
    use_prebuilt
  fi
fi

# 3. versions and devices as the program sees them
if [[ -n "$BIN_DIGITS" ]]; then
  step info 20 200 "$BIN_DIGITS" info
else
  note SKIP info 0 "no digits binary"
fi

# 4. CUDA tests: ctest in a build made here, else the test binary itself
if [[ -n "$BIN_TESTS" ]]; then
  if (( USE_CTEST )) && command -v ctest >/dev/null 2>&1; then
    step "ctest-cuda" 150 140 ctest --test-dir "$BUILD_DIR" -L cuda --output-on-failure -j 8 --timeout 120
  else
    step "cuda-tests" 150 140 "$BIN_TESTS" --gtest_brief=1
  fi
else
  note SKIP "cuda-tests" 0 "digits_cuda_tests not built (GoogleTest not found?) and no prebuilt one"
fi

# 5. CUDA benchmarks
if [[ -n "$BIN_BENCH" ]]; then
  step "bench-cuda" 100 100 "$BIN_BENCH" --benchmark_filter='_(Cudnn|Cublas|CudaKernel)/' --benchmark_min_time=0.05 \
    --benchmark_out="$LOG_DIR/bench-cuda.json" --benchmark_out_format=json
else
  note SKIP "bench-cuda" 0 "digits-bench not built (Google Benchmark not found?) and no prebuilt one"
fi

# 6. train the keras and best presets on the GPU
MNIST=$(find_mnist "$PREBUILT_MNIST")
if [[ -z "$BIN_DIGITS" ]]; then
  note SKIP train 0 "no digits binary"
elif [[ -z "$MNIST" ]]; then
  note SKIP train 0 "MNIST not found (set MNIST_DIR, or put the IDX files in data/mnist)"
else
  TRAIN_DIR=$(mktemp -d)
  step train 200 70 "$BIN_DIGITS" train --preset keras --epochs 12 --device cuda --data "$MNIST" \
    --out "$TRAIN_DIR/keras-gpu.safetensors"
  # the best preset (batch norm, augmentation on the device, cosine schedule) for 3 epochs
  step train-best 70 0 "$BIN_DIGITS" train --preset best --epochs 3 --device cuda --data "$MNIST" \
    --out "$TRAIN_DIR/best-gpu.safetensors"
fi

# ---- summary --------------------------------------------------------------------------------------------
{
  echo
  echo "== gpu-check summary ($(elapsed)s of ${BUDGET}s; logs in $LOG_DIR)"
  printf '%s\n' "${SUMMARY[@]}"
  (( FAILED )) && echo "RESULT: FAILED" || echo "RESULT: OK"
} | tee "$LOG_DIR/summary.txt"
exit $FAILED
