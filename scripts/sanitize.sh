#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer: builds build-asan (-DDIGITS_SANITIZE=ON, CPU only), runs
# the unit suite there, then a leak check (LeakSanitizer) of a short `digits train` and a full
# `digits predict`. Any sanitizer report fails the run.
# Usage: scripts/sanitize.sh [ctest args...]        e.g. scripts/sanitize.sh -R Hostile
#   ASAN_BUILD_DIR=build-asan   JOBS=<cores>
#   MNIST_DIR: the leak-check training uses it when set (else data/mnist, else a small synthetic set).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${ASAN_BUILD_DIR:-build-asan}
JOBS=${JOBS:-$(nproc)}

mkdir -p "$BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDIGITS_SANITIZE=ON -DDIGITS_WITH_CUDA=OFF \
  -DDIGITS_WITH_GUI=OFF -DDIGITS_WITH_BENCH=OFF >"$BUILD_DIR/configure.log" 2>&1 \
  || { cat "$BUILD_DIR/configure.log"; exit 1; }
cmake --build "$BUILD_DIR" --target digits digits_tests -j "$JOBS"

# Exit codes of their own (not 1, which digits uses for a refused input), so a report can never pass for
# the clean error a hostile-input test expects; the tests also look for sanitizer text in the output.
# allocator_may_return_null: an impossible allocation returns null (as glibc's does, and as the CPU
# backend's out-of-memory test expects) instead of aborting.
supp="$(pwd)/tests/sanitizers"
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:exitcode=86:check_initialization_order=1:strict_init_order=1:detect_invalid_pointer_pairs=1:print_summary=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=87"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0:exitcode=88"

echo "sanitize: unit tests under ASan + UBSan ($BUILD_DIR)"
ctest --test-dir "$BUILD_DIR" -L unit --output-on-failure -j "$JOBS" --timeout 900 "$@"

# ---- leak check: a short training, then predict with the model it wrote ----
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
data=${MNIST_DIR:-data/mnist}
if [[ ! -f "$data/train-labels-idx1-ubyte.gz" && ! -f "$data/train-labels-idx1-ubyte" ]]; then
  # No MNIST: 64 training and 32 test images of noise with labels 0..9 (enough to exercise every path).
  data="$work/data"
  mkdir -p "$data"
  for split in train:64 t10k:32; do
    stem=${split%%:*} n=${split##*:} count=$(printf '\\x%02x' "${split##*:}")
    { printf "\x00\x00\x08\x03\x00\x00\x00$count\x00\x00\x00\x1c\x00\x00\x00\x1c"
      head -c $((n * 784)) /dev/urandom; } >"$data/$stem-images-idx3-ubyte"
    { printf "\x00\x00\x08\x01\x00\x00\x00$count"
      for ((i = 0; i < n; i++)); do printf "\\x0$((i % 10))"; done; } >"$data/$stem-labels-idx1-ubyte"
  done
fi
echo "sanitize: leak check of digits train (data: $data) and digits predict"
"$BUILD_DIR/digits" train --data "$data" --device cpu --spec "conv(4,3) relu maxpool(2) flatten dense(10)" \
  --epochs 2 --max-steps 5 --batch 32 --progress plain --out "$work/m.safetensors" >"$work/train.log" 2>&1 \
  || { cat "$work/train.log"; echo "sanitize: digits train failed (exit $?)" >&2; exit 1; }
"$BUILD_DIR/digits" train --data "$data" --device cpu --max-steps 5 --epochs 3 --progress plain \
  --resume "$work/m.ckpt.safetensors" --out "$work/m.safetensors" >>"$work/train.log" 2>&1 \
  || { cat "$work/train.log"; echo "sanitize: digits train --resume failed" >&2; exit 1; }
{ printf 'P5 40 28 255\n'
  for ((y = 0; y < 28; y++)); do for ((x = 0; x < 40; x++)); do
    if (( (x >= 8 && x < 11 && y > 4 && y < 24) || (x >= 24 && x < 34 && (y == 5 || y == 6 || y == 22 || y == 23)) )); then
      printf '\xff'; else printf '\x00'; fi
  done; done; } >"$work/digits.pgm"
"$BUILD_DIR/digits" predict --device cpu --model "$work/m.safetensors" "$work/digits.pgm" - <"$work/digits.pgm" \
  >"$work/predict.log" 2>&1 || { cat "$work/predict.log"; echo "sanitize: digits predict failed" >&2; exit 1; }
if grep -qE 'Sanitizer|runtime error' "$work/train.log" "$work/predict.log"; then
  cat "$work/train.log" "$work/predict.log"
  echo "sanitize: sanitizer report in the leak check" >&2
  exit 1
fi
echo "sanitize: OK (unit tests, train + resume + predict without leaks or reports)"
