#!/usr/bin/env bash
# Interop test (ctest label `interop`): exports every bundled model (data/models/*.safetensors) and a small
# network with gap with `digits export --onnx`, then runs the README's "Use a model elsewhere" blocks
# (PyTorch, ONNX Runtime) on the first 1,000 MNIST test images and compares their probabilities with
# `digits eval --probabilities` (check.py).
# Makes its own venv from PyPI (tests/interop/requirements.txt), cached in $DIGITS_INTEROP_VENV or
# ~/.cache/digits/interop-venv-<hash> so that reruns are quick; it sees the system's packages, so Debian's
# python3-torch is used when installed (otherwise check.py's NumPy stand-in runs the PyTorch lines).
# Exit 77 (ctest: skipped) without MNIST or without a venv (no PyPI); with DIGITS_REQUIRE_DATA=1, exit 1.
# Usage: tests/interop/run.sh [BUILD_DIR]   (MNIST: $MNIST_DIR, else data/mnist)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}

unavailable() {
  if [[ "${DIGITS_REQUIRE_DATA:-}" == 1 ]]; then
    echo "interop: FAILED: $1 (DIGITS_REQUIRE_DATA=1: nothing may be skipped)" >&2
    exit 1
  fi
  echo "interop: skipped: $1" >&2
  exit 77
}

mnist=${MNIST_DIR:-data/mnist}
[[ -e $mnist/t10k-images-idx3-ubyte.gz || -e $mnist/t10k-images-idx3-ubyte ]] ||
  unavailable "no MNIST test set in $mnist (set MNIST_DIR, or run data/fetch_mnist.sh)"
[[ -x $build/digits ]] || { echo "interop: $build/digits not built" >&2; exit 1; }

# Debian's python (its venv module comes with python3-venv, and python3-torch lives in its dist-packages).
python=/usr/bin/python3
[[ -x $python ]] || python=$(command -v python3)
key=$( (cat tests/interop/requirements.txt; "$python" --version) | sha256sum | cut -c1-12)
venv=${DIGITS_INTEROP_VENV:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/digits/interop-venv-$key}
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9  # two test runs at once build the venv once
if [[ ! -f $venv/.complete ]]; then
  rm -rf "$venv"
  echo "interop: making $venv (PyPI: $(grep -v '^#' tests/interop/requirements.txt | xargs))" >&2
  if ! { "$python" -m venv --system-site-packages "$venv" &&
         "$venv/bin/python" -m pip install -q --disable-pip-version-check --retries 2 --timeout 30 \
           -r tests/interop/requirements.txt; } >&2; then
    rm -rf "$venv"
    unavailable "could not make the venv with $python (python3-venv installed? PyPI reachable?)"
  fi
  touch "$venv/.complete"
fi
flock -u 9

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A small network with the layer kinds the bundled models lack (gap, conv "same"), trained for 60 steps (27%
# accuracy, but confident enough: its closest top-two probabilities differ by 1.4e-4, far above 1e-5).
"$build/digits" train --device cpu --data "$mnist" --spec "conv(8,3,same) batchnorm relu maxpool(2) conv(16,3) relu gap dense(10)" \
  --epochs 1 --max-steps 60 --optimizer adam --lr 0.01 --checkpoint none --progress plain --out "$tmp/gap.safetensors" \
  >"$tmp/train.log" 2>&1 || { cat "$tmp/train.log" >&2; exit 1; }
status=0
for model in data/models/*.safetensors "$tmp/gap.safetensors"; do
  name=$(basename "$model" .safetensors)
  "$build/digits" export --model "$model" --onnx "$tmp/$name.onnx" >/dev/null
  "$build/digits" eval --device cpu --model "$model" --data "$mnist" --probabilities "$tmp/$name.csv" \
    >"$tmp/eval.log" 2>&1 || { cat "$tmp/eval.log" >&2; exit 1; }
  "$venv/bin/python" tests/interop/check.py --readme README.md --model "$model" --onnx "$tmp/$name.onnx" \
    --digits "$tmp/$name.csv" --mnist "$mnist" --count 1000 || status=1
done
exit $status
