#!/usr/bin/env bash
# The main job with defaults, on a fresh Debian 12 machine: install and build (scripts/setup.sh), get MNIST
# if it is not already found ($MNIST_DIR or data/mnist; data/fetch_mnist.sh checks SHA-256), train the
# `seed` network on the best device (CUDA if present, else the CPU), evaluate it, save the model.
# Usage: scripts/quickstart.sh [extra `digits train` flags, e.g. --preset keras --epochs 3]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [[ -z "${MNIST_DIR:-}" && ! -e data/mnist/train-images-idx3-ubyte.gz && ! -e data/mnist/train-images-idx3-ubyte ]]; then
  data/fetch_mnist.sh data/mnist
fi
mkdir -p out
build/digits train --preset seed --out out/seed.safetensors "$@"
build/digits eval --model out/seed.safetensors
echo "model saved to out/seed.safetensors; try: build/digits predict --model out/seed.safetensors IMAGE.png"
