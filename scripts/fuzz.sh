#!/usr/bin/env bash
# Fuzzes the readers of untrusted files with libFuzzer (clang, ASan + UBSan): builds the targets in
# build-fuzz, makes the seed corpora, then runs each target for the given time, one after the other.
# Usage: scripts/fuzz.sh [seconds per target (default 60)] [target...]   targets: idx safetensors image
#   FUZZ_BUILD_DIR=build-fuzz   FUZZ_JOBS=<build jobs>
# Each target's corpus grows in build-fuzz/corpus/<target> across runs (seeds and tests/fuzz/regressions
# are read too). Crash, leak, timeout and out-of-memory inputs land in build-fuzz/crashes/<target>/; the
# script prints executions and findings per target and exits non-zero on any finding. Once a finding is
# fixed, copy its input to tests/fuzz/regressions/<target>-<what> so the unit suite replays it.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
shift || true
targets=("$@")
if (( ${#targets[@]} == 0 )); then targets=(idx safetensors image); fi
BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
JOBS=${FUZZ_JOBS:-$(nproc)}

if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ not found: install clang and libclang-rt-14-dev (scripts/setup.sh does)" >&2
  exit 1
fi
mkdir -p "$BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DDIGITS_FUZZ=ON -DDIGITS_WITH_CUDA=OFF -DDIGITS_WITH_GUI=OFF \
  -DDIGITS_WITH_TESTS=OFF -DDIGITS_WITH_BENCH=OFF >"$BUILD_DIR/configure.log" 2>&1 \
  || { cat "$BUILD_DIR/configure.log"; exit 1; }
cmake --build "$BUILD_DIR" --target digits_fuzz -j "$JOBS"

bin="$BUILD_DIR/fuzz"
seeds="$BUILD_DIR/seeds"
rm -rf "$seeds"
"$bin/digits_fuzz_seeds" "$seeds"

# Halt on the first report; leaks count as findings; symbolized stacks in the report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
summary=()
for t in "${targets[@]}"; do
  case "$t" in idx | safetensors | image) ;; *) echo "fuzz: unknown target '$t' (idx, safetensors, image)" >&2; exit 2 ;; esac
  corpus="$BUILD_DIR/corpus/$t"
  crashes="$BUILD_DIR/crashes/$t"
  mkdir -p "$corpus" "$crashes"
  log="$BUILD_DIR/fuzz_$t.log"
  echo "fuzz: fuzz_$t for ${secs} s (log: $log)"
  rc=0
  "$bin/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
    -dict="tests/fuzz/$t.dict" -artifact_prefix="$crashes/" "$corpus" "$seeds/$t" tests/fuzz/regressions \
    >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  found=$(find "$crashes" -type f | wc -l)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  summary+=("$(printf '%-12s %4s s  %10s executions  coverage %6s  corpus %5s  findings %s  (exit %s)' "$t" "$secs" \
    "${execs:-?}" "${cov:-?}" "$(find "$corpus" -type f | wc -l)" "$found" "$rc")")
  if (( rc != 0 || found > 0 )); then
    failed=1
    echo "fuzz: fuzz_$t FOUND A PROBLEM (exit $rc); inputs in $crashes:" >&2
    ls -l "$crashes" >&2 || true
    grep -m1 -E 'ERROR: |runtime error|==ERROR|deadly signal|Timeout|out-of-memory' "$log" >&2 || true
    tail -n 40 "$log" >&2
  fi
done

echo "fuzz: summary (clang libFuzzer, ASan + UBSan)"
printf '  %s\n' "${summary[@]}"
exit $failed
