"""Runs the README's "Use a model elsewhere" code blocks exactly as written (PyTorch, then ONNX Runtime) on
the first --count MNIST test images and compares their probabilities with `digits eval --probabilities`:
max abs difference <= 1e-5 and the same argmax for every image. Exit 1 with the worst image on a mismatch.
Called by tests/interop/run.sh, once per model.
"""
import argparse
import gzip
import os
import re
import sys

import numpy as np

TOLERANCE = 1e-5
SECTION = "## Use a model elsewhere"


def read_idx(path):
    """An IDX file of uint8 (raw or gzip, like host/mnist_idx.cpp) as an array of its declared shape."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if data[:3] != b"\x00\x00\x08":
        raise SystemExit(f"{path}: not an IDX file of unsigned bytes")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def mnist_test(directory, count):
    def find(stem):
        for name in (stem, stem + ".gz"):
            if os.path.exists(os.path.join(directory, name)):
                return os.path.join(directory, name)
        raise SystemExit(f"{directory}: no {stem}[.gz]")
    images = read_idx(find("t10k-images-idx3-ubyte"))[:count].copy()  # writable, as torch.from_numpy wants
    labels = read_idx(find("t10k-labels-idx1-ubyte"))[:count]
    return images, labels


def readme_blocks(readme):
    """The ```python blocks of the README's SECTION, in order."""
    text = open(readme, encoding="utf-8").read()
    start = text.find("\n" + SECTION + "\n")
    if start < 0:
        raise SystemExit(f"{readme}: no section '{SECTION}'")
    end = text.find("\n## ", start + 1)
    section = text[start:end if end > 0 else len(text)]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def digits_probabilities(csv, count):
    rows = np.loadtxt(csv, delimiter=",", skiprows=1, max_rows=count)
    return rows[:, 3:], rows[:, 2].astype(int)


def compare(what, probs, reference, labels, first=0):
    """first: the test-set index of reference's first row (for the message)."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.shape != reference.shape:
        raise SystemExit(f"{what}: probabilities of shape {probs.shape}, digits gives {reference.shape}")
    diff = np.abs(probs - reference)
    worst = np.unravel_index(np.argmax(diff), diff.shape)
    same = int((probs.argmax(1) == reference.argmax(1)).sum())
    accuracy = (probs.argmax(1) == labels).mean()
    print(f"  {what}: max |p - p_digits| = {diff.max():.3g} (test image {first + worst[0]}, class {worst[1]}), "
          f"argmax equal for {same}/{len(probs)}, accuracy {100 * accuracy:.2f}%")
    return diff.max() <= TOLERANCE and same == len(probs)


def run_block(code, names, title):
    namespace = dict(names)
    exec(compile(code, f"README.md ({title} block)", "exec"), namespace)
    if "probs" not in namespace:
        raise SystemExit("a README block must leave its answer in `probs`")
    probs = namespace["probs"]
    return probs.numpy() if hasattr(probs, "numpy") else probs


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--readme", required=True)
    ap.add_argument("--model", required=True, help="the digits model file (.safetensors)")
    ap.add_argument("--onnx", required=True, help="its `digits export --onnx` file")
    ap.add_argument("--digits", required=True, help="its `digits eval --probabilities` CSV")
    ap.add_argument("--mnist", required=True)
    ap.add_argument("--count", type=int, default=1000)
    a = ap.parse_args()

    try:
        import torch
    except ImportError:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import torch_standin
        torch_standin.install()
        import torch
    import onnxruntime

    images, labels = mnist_test(a.mnist, a.count)
    reference, predicted = digits_probabilities(a.digits, a.count)
    if not np.array_equal(predicted, reference.argmax(1)):
        raise SystemExit(f"{a.digits}: the predicted column is not the argmax of the probabilities")
    blocks = readme_blocks(a.readme)
    if len(blocks) != 2 or "import torch" not in blocks[0] or "onnxruntime" not in blocks[1]:
        raise SystemExit(f"{a.readme}: '{SECTION}' must hold two python blocks, PyTorch then ONNX Runtime")
    names = {"model_path": a.model, "onnx_path": a.onnx, "images": images}
    print(f"{os.path.basename(a.model)}: {len(images)} MNIST test images")
    ok = compare(f"PyTorch {torch.__version__}", run_block(blocks[0], names, "PyTorch"), reference, labels)
    ok &= compare(f"ONNX Runtime {onnxruntime.__version__}", run_block(blocks[1], names, "ONNX Runtime"), reference, labels)
    # The batch dimension is dynamic: one image alone gives its row of the batch.
    one = run_block(blocks[1], dict(names, images=images[7:8]), "ONNX Runtime")
    ok &= compare("ONNX Runtime, test image 7 alone", one, reference[7:8], labels[7:8], first=7)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
