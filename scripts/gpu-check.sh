#!/usr/bin/env bash
# The GPU check: one prepared run for a machine with an NVIDIA GPU and CUDA 13 but no internet and maybe no
# Debian packages. Steps: nvidia-smi, a build (or the prebuilt bundle), `digits info` (a device must be
# found), `ctest -L cuda` (a skipped test is a failure), one CUDA benchmark per op at a `keras` shape, the
# short kernel report (CPU and CUDA halves), the `fast` preset's time to 99% (two seeds), and a 12-epoch `keras` and a 3-epoch `best` training on MNIST, each under `timeout`, all within 330 s (half the
# device time of a 15-minute loan is left for a rerun), then a summary table and the exit code.
#
#   scripts/gpu-check.sh              on the GPU machine (exit 1 if a step failed, skipped or timed out)
#   scripts/gpu-check.sh --prebuilt   same, but skip the build and use build-prebuilt.tar.gz
#   scripts/gpu-check.sh --dry-run    on any machine (CI): every step that needs no GPU, on the existing
#                                     build/ (incremental, no MNIST): library probe, build, info, the cuda
#                                     tests (their skips are counted, not failed), the benchmark filter,
#                                     symbol versions of the binaries; GPU-only steps are listed as DRY
#   scripts/gpu-check.sh --prepare    on a build machine (no GPU needed): build Release in build-prebuilt/
#                                     with libstdc++ and libgcc linked statically (so it runs on an older
#                                     Linux than Debian 12), check the binaries' GLIBC/GLIBCXX symbol versions,
#                                     and pack binaries, the shared libraries a bare CUDA image may lack and
#                                     MNIST into build-prebuilt.tar.gz (git-ignored): carry it to the GPU machine.
# Environment: BUILD_DIR (build), PREP_DIR (build-prebuilt), MNIST_DIR (data/mnist, shared/data/mnist,
# ../shared/data/mnist), JOBS (16; 2 with --dry-run), GPU_CHECK_BUDGET seconds (330), OUT (logs go there
# when set, else $BUILD_DIR/gpu-check), GLIBC_MAX (2.34: the oldest glibc the bundle must run on; a build
# on Debian 12 cannot go lower: its crt and libgomp need 2.34. Ubuntu 22.04, RHEL 9 and Debian 12 have it).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build}
PREP_DIR=${PREP_DIR:-build-prebuilt}
BUDGET=${GPU_CHECK_BUDGET:-330}
GLIBC_MAX=${GLIBC_MAX:-2.34}
PREBUILT_TGZ=$ROOT/build-prebuilt.tar.gz
MODE=check
DRY=0
case "${1:-}" in
  --prepare) MODE=prepare ;;
  --prebuilt) MODE=prebuilt ;;
  --dry-run) DRY=1 ;;
  "" ) ;;
  -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
  *) echo "gpu-check: unknown argument '$1' (see --help)"; exit 2 ;;
esac
JOBS=${JOBS:-$( (( DRY )) && echo 2 || echo 16)}

T0=$(date +%s)
elapsed() { echo $(( $(date +%s) - T0 )); }

# nvcc without PATH (non-login shells): CUDA_HOME, CUDA_PATH, /usr/local/cuda.
for d in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda /usr/local/cuda-13.0 /usr/local/cuda-13; do
  if [[ -n "$d" && -x "$d/bin/nvcc" ]]; then export CUDA_HOME=$d; break; fi
done
GENERATOR=()
if command -v ninja >/dev/null 2>&1; then GENERATOR=(-G Ninja); fi

# Finds MNIST (the four IDX files, gzip or raw) or prints nothing.
find_mnist() {
  local d
  for d in "${MNIST_DIR:-}" data/mnist shared/data/mnist ../shared/data/mnist "$@"; do
    if [[ -n "$d" && ( -f "$d/train-images-idx3-ubyte.gz" || -f "$d/train-images-idx3-ubyte" ) ]]; then
      (cd "$d" && pwd); return
    fi
  done
}

# The path of a built program in a build folder (top level or its subfolders), or nothing.
find_bin() {
  local f
  for f in "$2/$1" "$2/tests/$1" "$2/bench/$1" "$2/host/cli/$1"; do
    [[ -f "$f" && -x "$f" ]] && { echo "$f"; return; }
  done
}

# Where cuDNN 9 and cuBLAS (CUDA 13 or 12) are, by probing for the libraries themselves: the CUDA home, then
# every site-packages' NVIDIA wheels (CUDA 12 layout nvidia/<lib>/lib, CUDA 13 layout nvidia/cu13/lib).
# Sets CUDNN_DIR and CUBLAS_DIR (empty when not found).
find_gpu_libs() {
  local cands=() d sp
  for d in "${CUDA_HOME:-}" "${CUDNN_ROOT:-}" /usr/local/cuda; do
    [[ -n "$d" ]] && cands+=("$d/lib64" "$d/lib" "$d/targets/x86_64-linux/lib")
  done
  cands+=(/usr/lib/x86_64-linux-gnu)
  if command -v python3 >/dev/null 2>&1; then
    while read -r sp; do
      [[ -d "$sp/nvidia" ]] && cands+=("$sp"/nvidia/cu13/lib "$sp"/nvidia/cu12/lib "$sp"/nvidia/*/lib)
    done < <(python3 -c 'import site, sys; print("\n".join(dict.fromkeys(site.getsitepackages() + [site.getusersitepackages()] + sys.path)))' 2>/dev/null)
  fi
  CUDNN_DIR="" CUBLAS_DIR=""
  for d in "${cands[@]}"; do
    [[ -d "$d" ]] || continue
    [[ -z "$CUDNN_DIR" ]] && compgen -G "$d/libcudnn.so.9*" >/dev/null && CUDNN_DIR=$d
    [[ -z "$CUBLAS_DIR" ]] && compgen -G "$d/libcublas.so.1[23]*" >/dev/null && CUBLAS_DIR=$d
  done
}

# Prints the newest GLIBC and GLIBCXX symbol versions FILE needs; returns 1 when it needs libstdc++ symbols
# or a glibc newer than $GLIBC_MAX (it would not start on an older Linux).
check_portable() {
  local f=$1 glibc glibcxx
  glibc=$(objdump -T "$f" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -Vu | tail -1)
  glibcxx=$(objdump -T "$f" 2>/dev/null | grep -o 'GLIBCXX_[0-9.]*' | sort -Vu | tail -1)
  echo "$(basename "$f"): needs GLIBC ${glibc:-none}, ${glibcxx:-no libstdc++ symbols}"
  [[ -z "$glibcxx" ]] && [[ "$(printf '%s\n%s\n' "$glibc" "$GLIBC_MAX" | sort -V | tail -1)" == "$GLIBC_MAX" ]]
}

# ---- prepare (build machine) ----------------------------------------------------------------------------
if [[ $MODE == prepare ]]; then
  echo "== gpu-check --prepare: Release build in $PREP_DIR (static libstdc++/libgcc), pack into $PREBUILT_TGZ"
  cmake -S . -B "$PREP_DIR" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release -DDIGITS_WITH_CUDA=ON \
    -DDIGITS_WITH_GUI=OFF "-DCMAKE_EXE_LINKER_FLAGS=-static-libstdc++ -static-libgcc" || exit 1
  cmake --build "$PREP_DIR" -j "$JOBS" --target digits digits_cuda_tests digits-bench || exit 1
  STAGE=$(mktemp -d)
  mkdir -p "$STAGE/prebuilt/bin" "$STAGE/prebuilt/lib" "$STAGE/prebuilt/mnist"
  portable=1
  for b in digits digits_cuda_tests digits-bench; do
    f=$(find_bin "$b" "$PREP_DIR")
    [[ -n "$f" ]] || continue
    strip -o "$STAGE/prebuilt/bin/$b" "$f"
    check_portable "$STAGE/prebuilt/bin/$b" || portable=0
  done
  (( portable )) || { echo "gpu-check: a binary needs libstdc++ or a glibc newer than $GLIBC_MAX"; exit 1; }
  # Shared libraries a bare CUDA image may lack; not glibc, nor the driver, cuBLAS and cuDNN (the GPU
  # machine's own are used: find_gpu_libs finds them there). Our binaries link cudart, libstdc++ and libgcc
  # statically; libgfortran (OpenBLAS) still needs a libgcc_s, and every Linux has an older one that serves.
  for b in "$STAGE"/prebuilt/bin/*; do ldd "$b"; done | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u |
    grep -Ev '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*|libstdc\+\+|libgcc_s|libcuda|libcudart|libcublas[^/]*|libcudnn[^/]*)\.so' |
    while read -r lib; do cp -L "$lib" "$STAGE/prebuilt/lib/"; done
  for lib in "$STAGE"/prebuilt/lib/*; do check_portable "$lib" || portable=0; done
  (( portable )) || { echo "gpu-check: a packed library needs a glibc newer than $GLIBC_MAX"; exit 1; }
  MN=$(find_mnist)
  if [[ -n "$MN" ]]; then cp "$MN"/*-ubyte* "$STAGE/prebuilt/mnist/"; else echo "gpu-check: MNIST not found: not packed"; fi
  git rev-parse --short HEAD >"$STAGE/prebuilt/COMMIT" 2>/dev/null
  tar -C "$STAGE" -czf "$PREBUILT_TGZ" prebuilt && rm -rf "$STAGE"
  ls -la "$PREBUILT_TGZ"
  tar -tzf "$PREBUILT_TGZ" | sed 's/^/  /'
  echo "Carry build-prebuilt.tar.gz to the GPU machine and run scripts/gpu-check.sh --prebuilt there."
  exit 0
fi

# ---- check (GPU machine) or dry run ---------------------------------------------------------------------
LOG_DIR=${OUT:-$BUILD_DIR/gpu-check}
mkdir -p "$LOG_DIR"
exec > >(tee "$LOG_DIR/gpu-check.log") 2>&1
SUMMARY=()
FAILED=0
note() { SUMMARY+=("$(printf '%-8s %-12s %4ss  %s' "$1" "$2" "$3" "$4")"); }
# A step that needs a GPU: on the GPU machine its absence is a failure, in a dry run it is listed.
gpu_missing() {
  if (( DRY )); then note DRY "$1" 0 "dry run: $2"; else note FAIL "$1" 0 "$2"; FAILED=1; fi
}

# step NAME CAP RESERVE COMMAND...: runs COMMAND under `timeout`, for at most CAP seconds and never into the
# RESERVE seconds kept for the steps after it. Records PASS / FAIL (rc) / TIMEOUT in the summary.
LAST_RC=0
step() {
  local name=$1 cap=$2 reserve=$3; shift 3
  local left=$(( BUDGET - $(elapsed) - reserve ))
  local limit=$(( cap < left ? cap : left ))
  if (( limit < 5 )); then
    note FAIL "$name" 0 "no time left in the ${BUDGET}s budget"; FAILED=1; LAST_RC=125; return 125
  fi
  echo; echo "== [$(elapsed)s] $name (limit ${limit}s): $*"
  local t; t=$(date +%s)
  timeout -k 10 "$limit" "$@"
  LAST_RC=$?
  local took=$(( $(date +%s) - t ))
  if (( LAST_RC == 0 )); then note PASS "$name" "$took" "${STEP_NOTE:-}"
  elif (( LAST_RC == 124 || LAST_RC == 137 )); then note TIMEOUT "$name" "$took" "stopped after ${limit}s"; FAILED=1
  else note FAIL "$name" "$took" "exit $LAST_RC"; FAILED=1
  fi
  STEP_NOTE=""
  return $LAST_RC
}
STEP_NOTE=""

echo "== gpu-check$( (( DRY )) && echo ' --dry-run') on $(hostname) at $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), budget ${BUDGET}s"

# 1. the GPU, as the driver sees it
if (( DRY )); then
  gpu_missing nvidia-smi "not run"
elif command -v nvidia-smi >/dev/null 2>&1; then
  step nvidia-smi 20 300 nvidia-smi
else
  gpu_missing nvidia-smi "nvidia-smi not on PATH: no NVIDIA driver?"
fi

# 2. cuDNN and cuBLAS at run time: under the CUDA home or in the pip wheels (CUDA 12 and 13 layouts)
find_gpu_libs
if [[ -n "$CUDNN_DIR" && -n "$CUBLAS_DIR" ]]; then
  note PASS libraries 0 "cuDNN in $CUDNN_DIR, cuBLAS in $CUBLAS_DIR"
else
  note FAIL libraries 0 "cuDNN 9: ${CUDNN_DIR:-not found}; cuBLAS: ${CUBLAS_DIR:-not found}"; FAILED=1
fi
RT_LIBS=$(printf '%s\n' "$CUDNN_DIR" "$CUBLAS_DIR" | awk 'NF && !seen[$0]++' | paste -sd:)
export LD_LIBRARY_PATH="$RT_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# 3. build here (incremental when $BUILD_DIR exists), or use the prebuilt binaries
BIN_DIGITS="" BIN_TESTS="" BIN_BENCH="" PREBUILT_MNIST=""
# Unpacks build-prebuilt.tar.gz and takes from it each program not built here.
use_prebuilt() {
  if [[ ! -f "$PREBUILT_TGZ" ]]; then
    note FAIL prebuilt 0 "no build-prebuilt.tar.gz (make it with --prepare on a build machine)"; FAILED=1; return 1
  fi
  PRE=$(mktemp -d)/prebuilt
  tar -C "$(dirname "$PRE")" -xzf "$PREBUILT_TGZ" || { note FAIL prebuilt 0 "cannot unpack $PREBUILT_TGZ"; FAILED=1; return 1; }
  note PASS prebuilt 0 "binaries of commit $(cat "$PRE/COMMIT" 2>/dev/null || echo '?')"
  export LD_LIBRARY_PATH="$PRE/lib:$LD_LIBRARY_PATH"
  [[ -z "$BIN_DIGITS" && -x "$PRE/bin/digits" ]] && BIN_DIGITS=$PRE/bin/digits
  [[ -z "$BIN_TESTS" && -x "$PRE/bin/digits_cuda_tests" ]] && BIN_TESTS=$PRE/bin/digits_cuda_tests
  [[ -z "$BIN_BENCH" && -x "$PRE/bin/digits-bench" ]] && BIN_BENCH=$PRE/bin/digits-bench
  PREBUILT_MNIST=$PRE/mnist
  return 0
}

# Configures (architectures: the cache's when there is one, so nothing is rebuilt from scratch; else this
# GPU's own, or sm_90 in a dry run) and builds the programs whose dependencies were found.
build_here() {
  local archs=()
  grep -q '^CMAKE_CUDA_ARCHITECTURES:' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null ||
    archs=("-DCMAKE_CUDA_ARCHITECTURES=$( (( DRY )) && echo 90-real || echo native)")
  step configure 60 250 cmake -S . -B "$BUILD_DIR" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DDIGITS_WITH_CUDA=ON -DDIGITS_WITH_TESTS=AUTO -DDIGITS_WITH_BENCH=AUTO "${archs[@]}" || return 1
  # CMake makes CMakeFiles/<target>.dir for every target it generated (tests: GoogleTest; bench: Benchmark).
  local targets=(digits)
  [[ -d "$BUILD_DIR/tests/CMakeFiles/digits_cuda_tests.dir" ]] && targets+=(digits_cuda_tests)
  [[ -d "$BUILD_DIR/bench/CMakeFiles/digits-bench.dir" ]] && targets+=(digits-bench)
  step build 150 180 cmake --build "$BUILD_DIR" -j "$JOBS" --target "${targets[@]}" || return 1
  BIN_DIGITS=$(find_bin digits "$BUILD_DIR")
  BIN_TESTS=$(find_bin digits_cuda_tests "$BUILD_DIR")
  BIN_BENCH=$(find_bin digits-bench "$BUILD_DIR")
}

if [[ $MODE == prebuilt ]]; then
  use_prebuilt
else
  CACHE_SRC=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null)
  if [[ -n "$CACHE_SRC" && "$CACHE_SRC" != "$ROOT" ]]; then
    note FAIL configure 0 "$BUILD_DIR was configured for $CACHE_SRC: set BUILD_DIR to a fresh folder"; FAILED=1
  else
    build_here
  fi
  if [[ -z "$BIN_DIGITS" || -z "$BIN_TESTS" || -z "$BIN_BENCH" ]] && [[ -f "$PREBUILT_TGZ" ]] && (( ! DRY )); then
    echo "gpu-check: programs missing here; taking them from the prebuilt binaries"
    use_prebuilt
  fi
fi
for b in BIN_DIGITS:digits BIN_TESTS:digits_cuda_tests BIN_BENCH:digits-bench; do
  var=${b%%:*}
  [[ -n "${!var}" ]] || { note FAIL "${b#*:}" 0 "not built (GoogleTest/Benchmark missing?) and no prebuilt one"; FAILED=1; }
done

# 4. the device as the program sees it (a device must be found), and the symbol versions it needs
if [[ -n "$BIN_DIGITS" ]]; then
  step info 20 220 bash -c '"$0" info | tee "$1"; exit ${PIPESTATUS[0]}' "$BIN_DIGITS" "$LOG_DIR/info.txt"
  if grep -Eq '^CUDA devices: [1-9]' "$LOG_DIR/info.txt"; then note PASS device 0 "$(grep -E '^GPU 0:' "$LOG_DIR/info.txt")"
  else gpu_missing device "no CUDA device found: $(grep -E '^CUDA devices:' "$LOG_DIR/info.txt")"
  fi
  if (( DRY )); then  # an explicit --device cuda without a device must exit 1 with the probe's line
    "$BIN_DIGITS" train --device cuda --data /nonexistent >"$LOG_DIR/refused.txt" 2>&1
    rc=$?
    if (( rc == 1 )) && grep -q -- '--device cuda: ' "$LOG_DIR/refused.txt"; then note PASS cuda-refused 0 "$(head -c 100 "$LOG_DIR/refused.txt")..."
    else note FAIL cuda-refused 0 "exit $rc: $(head -c 100 "$LOG_DIR/refused.txt")"; FAILED=1
    fi
  fi
  for b in "$BIN_DIGITS" "$BIN_TESTS" "$BIN_BENCH"; do [[ -n "$b" ]] && check_portable "$b"; done >"$LOG_DIR/symbols.txt"
  note INFO symbols 0 "$(paste -sd';' "$LOG_DIR/symbols.txt")"
fi

# 5. CUDA tests, in one process; a skipped test fails the check (it proves nothing)
if [[ -n "$BIN_TESTS" ]]; then
  step cuda-tests 60 150 bash -c '"$0" --gtest_color=no 2>&1 | tee "$1" | grep -E "^\[  (FAILED|SKIPPED) +\] [0-9]+ test|^\[  FAILED  \] [A-Za-z]|^\[==========\]"; exit ${PIPESTATUS[0]}' \
    "$BIN_TESTS" "$LOG_DIR/cuda-tests.txt"
  skipped=$(grep -oE '^\[  SKIPPED \] [0-9]+ test' "$LOG_DIR/cuda-tests.txt" | grep -oE '[0-9]+' | head -1)
  ran=$(grep -oE '^\[==========\] [0-9]+ tests? from' "$LOG_DIR/cuda-tests.txt" | tail -1 | grep -oE '[0-9]+')
  if (( ${ran:-0} == 0 )); then note FAIL cuda-skips 0 "no CUDA test ran"; FAILED=1
  elif (( ${skipped:-0} == 0 )); then note PASS cuda-skips 0 "none of ${ran} skipped"
  else gpu_missing cuda-skips "${skipped} of ${ran} CUDA tests skipped: $(grep -m1 -oE '^no CUDA device.*' "$LOG_DIR/cuda-tests.txt")"
  fi
fi

# 6. CUDA benchmarks: one per benchmark function (op and implementation), at a keras shape: the keras.*
# labels where the names carry them, else each function's last case (the keras shapes come last).
bench_filter() {
  local list
  list=$("$1" --benchmark_list_tests=true 2>/dev/null | grep -E '^BM_[A-Za-z0-9_]+_(Cuda[A-Za-z]*|Cudnn|Cublas)/')
  grep -q '/keras\.' <<<"$list" && list=$(grep '/keras\.' <<<"$list")
  awk -F/ '!($1 in last) {order[++n] = $1} {last[$1] = $0} END {for (i = 1; i <= n; i++) print last[order[i]]}' <<<"$list" |
    sed 's/[.[\]*+?()^$]/\\&/g' | paste -sd'|' | sed 's/.*/^(&)$/'
}
if [[ -n "$BIN_BENCH" ]]; then
  FILTER=$(bench_filter "$BIN_BENCH")
  echo "$FILTER" >"$LOG_DIR/bench-filter.txt"
  cases=$(( $(tr -cd '|' <<<"$FILTER" | wc -c) + 1 ))
  if [[ -z "$FILTER" || "$FILTER" == '^()$' ]]; then note FAIL bench-cuda 0 "no CUDA benchmarks listed"; FAILED=1
  elif (( DRY )); then note DRY bench-cuda 0 "dry run: $cases cases selected (filter in $LOG_DIR/bench-filter.txt)"
  else
    STEP_NOTE="$cases cases"
    step bench-cuda 50 100 "$BIN_BENCH" "--benchmark_filter=$FILTER" --benchmark_min_time=0.05 \
      --benchmark_out="$LOG_DIR/bench-cuda.json" --benchmark_out_format=json
    # A case that skipped with an error (no device, a failed check against the CPU) proves nothing either.
    errors=$(grep -c '"error_occurred": true' "$LOG_DIR/bench-cuda.json" 2>/dev/null)
    if (( ${errors:-0} > 0 )); then
      note FAIL bench-errors 0 "$errors cases stopped: $(grep -m1 -o '"error_message": "[^"]*"' "$LOG_DIR/bench-cuda.json")"; FAILED=1
    fi
  fi
fi

# 7. the kernel report's short form, both halves (docs/kernels.md holds the CPU one of the build machine):
# every op at the presets' shapes on cuDNN/cuBLAS/our kernels against the GPU's measured peaks, in
# $LOG_DIR/kernels/kernels.{md,json,png}; 145 s stay for the trainings
if (( DRY )); then
  gpu_missing kernels "digits bench --kernels --quick --device cuda (the CUDA half of the kernel report)"
elif [[ -n "$BIN_DIGITS" ]]; then
  step kernels 45 145 "$BIN_DIGITS" bench --kernels --quick --device cuda --report "$LOG_DIR/kernels"
fi

# 8. train the fast preset (time to 99%: the whole process, start to saved model and test accuracy), then
# the keras and best presets, on the GPU
MNIST=$(find_mnist "$PREBUILT_MNIST")
if (( DRY )); then
  gpu_missing train "fast (1 epoch, time to 99%), keras 12 epochs and best 3 epochs on --device cuda"
elif [[ -z "$BIN_DIGITS" ]]; then
  note FAIL train 0 "no digits binary"; FAILED=1
elif [[ -z "$MNIST" ]]; then
  note FAIL train 0 "MNIST not found (set MNIST_DIR, or put the IDX files in data/mnist)"; FAILED=1
else
  TRAIN_DIR=$(mktemp -d)
  for seed in 1 2; do
    step train-fast 15 100 bash -c 'TIMEFORMAT="fast seed $0: %R s wall, start to saved model"; time "${@}"' "$seed" \
      "$BIN_DIGITS" train --preset fast --seed "$seed" --device cuda --data "$MNIST" --progress plain \
      --checkpoint none --json --out "$TRAIN_DIR/fast-gpu-$seed.safetensors"
  done
  step train 60 40 "$BIN_DIGITS" train --preset keras --epochs 12 --device cuda --data "$MNIST" \
    --progress plain --out "$TRAIN_DIR/keras-gpu.safetensors"
  step train-best 40 0 "$BIN_DIGITS" train --preset best --epochs 3 --device cuda --data "$MNIST" \
    --progress plain --out "$TRAIN_DIR/best-gpu.safetensors"
fi

# ---- summary --------------------------------------------------------------------------------------------
{
  echo
  echo "== gpu-check summary ($(elapsed)s of ${BUDGET}s; logs in $LOG_DIR)"
  printf '%-8s %-12s %5s  %s\n' RESULT STEP TIME NOTE
  printf '%s\n' "${SUMMARY[@]}"
  if (( FAILED )); then echo "RESULT: FAILED"
  elif (( DRY )); then echo "RESULT: DRY RUN OK (the DRY steps need a GPU: run without --dry-run there)"
  else echo "RESULT: OK"
  fi
} | tee "$LOG_DIR/summary.txt"
exit $FAILED
