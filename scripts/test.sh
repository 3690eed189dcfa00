#!/usr/bin/env bash
# The test suite: builds (scripts/setup.sh, no package install) then runs every ctest label
# (unit, data, slow, gui, interop; cuda tests skip with a reason when no GPU is present).
# MNIST: $MNIST_DIR or data/mnist. With DIGITS_REQUIRE_DATA=1 (CI), tests that need it fail instead of skipping.
# Usage: scripts/test.sh [ctest args...], e.g. scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -n "${MNIST_DIR:-}" && -d "$MNIST_DIR" ]]; then export MNIST_DIR=$(cd "$MNIST_DIR" && pwd); fi
BUILD_DIR=${BUILD_DIR:-build}
# Tests run two at a time on two cores: threads that sleep instead of spinning at barriers keep
# OpenMP from collapsing when a core is taken by the other test.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
scripts/setup.sh --no-install
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "${JOBS:-$(nproc)}" --timeout 1500 "$@"
