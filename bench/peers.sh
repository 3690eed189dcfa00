#!/usr/bin/env bash
# Runs bench/compare_peers.py (digits against PyTorch and TensorFlow/Keras, same machine, same run, same
# thread count) in a virtual environment of its own, made here from PyPI on the first run. The build and CI
# never need any of it.
#   usage: bench/peers.sh [compare_peers.py args...]     e.g. bench/peers.sh --threads 2
#                                                        bench/peers.sh --mode fast --seeds 1,2,3
#   env:   DIGITS_BENCH_VENV (default ~/.cache/digits/bench-venv), PYTHON (default python3)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${DIGITS_BENCH_VENV:-$HOME/.cache/digits/bench-venv}
PY=${PYTHON:-python3}

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "peers: making $VENV (PyTorch, TensorFlow CPU, NumPy from PyPI; a few GB, a few minutes)" >&2
  "$PY" -m venv "$VENV" || { echo "peers: '$PY -m venv' failed (Debian: apt-get install python3-venv)" >&2; exit 1; }
fi
if ! "$VENV/bin/python" -c "import torch, tensorflow, numpy" 2>/dev/null; then
  # torch from PyPI also pulls NVIDIA's CUDA wheels; they are not used on the CPU but are what PyPI offers.
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q "numpy>=1.26" "tensorflow-cpu>=2.16" "torch>=2.3" \
    || { echo "peers: pip could not install the peers (is PyPI reachable?)" >&2; exit 1; }
fi
exec "$VENV/bin/python" "$ROOT/bench/compare_peers.py" "$@"
