"""A NumPy stand-in for the few PyTorch names the README's PyTorch lines use, for machines without torch.

PyTorch from PyPI is gigabytes of CUDA wheels and Debian's python3-torch pulls Qt, OpenCV and GDAL, so CI
may have neither. check.py then runs the README's lines against this module instead: it checks the lines'
own logic (the layers built from the spec, their parameter names and shapes under a strict
load_state_dict, padding, batch norm 1d/2d, eval mode) with PyTorch's documented semantics written in
NumPy. It does not check PyTorch itself; with torch importable, check.py uses the real one.
"""
import sys
import types
from contextlib import contextmanager

import numpy as np
from safetensors.numpy import load_file as _np_load_file


class Tensor(np.ndarray):
    """A float32 array with the two Tensor methods the README calls."""

    def float(self):
        return self.astype(np.float32)

    def numpy(self):
        return np.asarray(self)


def from_numpy(a):
    return np.asarray(a).view(Tensor)


def softmax(x, dim):
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return (e / e.sum(axis=dim, keepdims=True)).astype(np.float32).view(Tensor)


@contextmanager
def no_grad():
    yield


class Module:
    def __init__(self):
        self.training = True
        self._params = {}    # name -> array, in registration order (PyTorch's state_dict order)
        self._children = []  # (name, module)

    def __call__(self, x):
        return self.forward(x)

    def eval(self):
        self.training = False
        for _, child in self._children:
            child.eval()
        return self

    def state_shapes(self, prefix=""):
        shapes = {prefix + k: v.shape for k, v in self._params.items()}
        for name, child in self._children:
            shapes.update(child.state_shapes(prefix + name + "."))
        return shapes

    def _assign(self, state, prefix):
        for k in self._params:
            self._params[k] = np.asarray(state[prefix + k], dtype=np.float32)
        for name, child in self._children:
            child._assign(state, prefix + name + ".")

    def load_state_dict(self, state):
        """strict=True: every key present with its shape, no unexpected key (as torch.nn.Module)."""
        state = dict(state)
        want = self.state_shapes()
        for key in want:  # BatchNorm fills a missing num_batches_tracked, as PyTorch's _NormBase does
            if key.endswith("num_batches_tracked") and key not in state:
                state[key] = np.zeros((), np.int64)
        missing = sorted(set(want) - set(state))
        unexpected = sorted(set(state) - set(want))
        if missing or unexpected:
            raise RuntimeError(f"Error(s) in loading state_dict: missing {missing}, unexpected {unexpected}")
        for key, shape in want.items():
            if tuple(state[key].shape) != tuple(shape):
                raise RuntimeError(f"size mismatch for {key}: {state[key].shape} in the file, {shape} here")
        self._assign(state, "")


class Sequential(Module):
    def __init__(self, *layers):
        super().__init__()
        self._children = [(str(i), m) for i, m in enumerate(layers)]

    def forward(self, x):
        for _, m in self._children:
            x = m(x)
        return x


class Conv2d(Module):
    def __init__(self, in_channels, out_channels, kernel_size, padding=0):
        super().__init__()
        self.padding = padding
        self._params = {"weight": np.zeros((out_channels, in_channels, kernel_size, kernel_size), np.float32),
                        "bias": np.zeros(out_channels, np.float32)}

    def forward(self, x):
        p, w = self.padding, self._params["weight"]
        x = np.pad(np.asarray(x, np.float32), ((0, 0), (0, 0), (p, p), (p, p)))
        win = np.lib.stride_tricks.sliding_window_view(x, w.shape[2:], axis=(2, 3))  # N C P Q R S
        # im2col and one matrix product per 64 images (float32, as PyTorch), bounding the copied windows
        y = np.concatenate([np.tensordot(win[i:i + 64], w, axes=([1, 4, 5], [1, 2, 3]))  # N P Q K
                            for i in range(0, len(x), 64)])
        return (y.transpose(0, 3, 1, 2) + self._params["bias"][:, None, None]).view(Tensor)


class Linear(Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self._params = {"weight": np.zeros((out_features, in_features), np.float32),
                        "bias": np.zeros(out_features, np.float32)}

    def forward(self, x):
        y = np.asarray(x, np.float64) @ self._params["weight"].T.astype(np.float64) + self._params["bias"]
        return y.astype(np.float32).view(Tensor)


class _BatchNorm(Module):
    def __init__(self, num_features, rank):
        super().__init__()
        self.rank = rank
        c = num_features
        self._params = {"weight": np.ones(c, np.float32), "bias": np.zeros(c, np.float32),
                        "running_mean": np.zeros(c, np.float32), "running_var": np.ones(c, np.float32),
                        "num_batches_tracked": np.zeros((), np.int64)}

    def forward(self, x):
        if x.ndim != self.rank:
            raise ValueError(f"expected {self.rank}D input (got {x.ndim}D input)")
        if self.training:
            raise NotImplementedError("the stand-in has inference only: call .eval()")
        shape = (1, -1) + (1,) * (x.ndim - 2)
        p = {k: v.astype(np.float64).reshape(shape) for k, v in self._params.items() if k != "num_batches_tracked"}
        y = (np.asarray(x, np.float64) - p["running_mean"]) / np.sqrt(p["running_var"] + 1e-5) * p["weight"] + p["bias"]
        return y.astype(np.float32).view(Tensor)


def BatchNorm1d(num_features):
    return _BatchNorm(num_features, 2)


def BatchNorm2d(num_features):
    return _BatchNorm(num_features, 4)


class _Elementwise(Module):
    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, x):
        return self.f(self, np.asarray(x)).astype(np.float32).view(Tensor)


def ReLU():
    return _Elementwise(lambda m, x: np.maximum(x, 0))


def Flatten():
    return _Elementwise(lambda m, x: x.reshape(x.shape[0], -1))


def Dropout(p=0.5):
    def f(m, x):
        if m.training:
            raise NotImplementedError("the stand-in has inference only: call .eval()")
        return x
    return _Elementwise(f)


def MaxPool2d(kernel_size):
    k = kernel_size

    def f(m, x):
        n, c, h, w = x.shape
        return x[:, :, :h // k * k, :w // k * k].reshape(n, c, h // k, k, w // k, k).max(axis=(3, 5))
    return _Elementwise(f)


def AdaptiveAvgPool2d(output_size):
    if output_size != 1:
        raise NotImplementedError("the stand-in pools to 1x1 only")
    return _Elementwise(lambda m, x: x.astype(np.float64).mean(axis=(2, 3), keepdims=True))


def install():
    """Registers `torch`, `torch.nn` and `safetensors.torch` (load_file) as this stand-in."""
    torch = types.ModuleType("torch")
    nn = types.ModuleType("torch.nn")
    for name in ("Module", "Sequential", "Conv2d", "Linear", "BatchNorm1d", "BatchNorm2d", "ReLU", "Flatten",
                 "Dropout", "MaxPool2d", "AdaptiveAvgPool2d"):
        setattr(nn, name, globals()[name])
    torch.nn, torch.from_numpy, torch.softmax, torch.no_grad = nn, from_numpy, softmax, no_grad
    torch.__version__ = "stand-in (NumPy)"
    st = types.ModuleType("safetensors.torch")
    st.load_file = lambda path: {k: v.view(Tensor) for k, v in _np_load_file(path).items()}
    sys.modules.update({"torch": torch, "torch.nn": nn, "safetensors.torch": st})
