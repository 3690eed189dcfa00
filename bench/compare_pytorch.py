#!/usr/bin/env python3
"""Runs the same networks in PyTorch and in digits on this machine, in one run, and prints both and the ratio.

Measures, per preset (seed, keras), with the same batch (128) and thread count:
  - training: images/s over timed Adadelta steps (forward, cross-entropy, backward, update), and the epoch time
    that implies for MNIST's 60000 images;
  - inference at batch 1: median and p99 latency (ms);
  - inference at batch 1000: images/s.
digits is measured by `digits bench --json` (same definitions; see host/cli/cmd_bench.cpp).

Usage: bench/compare_pytorch.py [--digits build/digits] [--device cpu|cuda] [--threads N] [--steps 30]
PyTorch: Debian's python3-torch (1.13, oneDNN) or `pip install torch`. Data is synthetic (timing only).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def build(torch, preset):
    nn = torch.nn
    if preset == "seed":
        return nn.Sequential(
            nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 64), nn.ReLU(),
            nn.Dropout(0.5), nn.Linear(64, 10))
    if preset == "keras":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
            nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))
    raise ValueError(preset)


def sync(torch, device):
    if device == "cuda":
        torch.cuda.synchronize()


def bench_torch(torch, preset, device, steps, latency_runs, big_batch):
    dev = torch.device(device)
    model = build(torch, preset).to(dev)
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0, rho=0.95, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.rand(128, 1, 28, 28, device=dev)
    y = torch.randint(0, 10, (128,), device=dev)
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    sync(torch, device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync(torch, device)
    train_ips = steps * 128 / (time.perf_counter() - t0)

    model.eval()
    x1 = torch.rand(1, 1, 28, 28)
    times = []
    with torch.no_grad():
        for r in range(latency_runs + 10):
            t0 = time.perf_counter()
            probs = torch.softmax(model(x1.to(dev)), dim=1).cpu()
            if r >= 10:
                times.append((time.perf_counter() - t0) * 1e3)
        times.sort()
        xb = torch.rand(big_batch, 1, 28, 28, device=dev)
        torch.softmax(model(xb), dim=1)
        sync(torch, device)
        t0 = time.perf_counter()
        reps = 5
        for _ in range(reps):
            torch.softmax(model(xb), dim=1)
        sync(torch, device)
        big_ips = reps * big_batch / (time.perf_counter() - t0)
    del probs
    return {
        "train_images_per_s": train_ips,
        "train_epoch_s_estimate": 60000 / train_ips,
        "infer_b1_ms_median": statistics.median(times),
        "infer_b1_ms_p99": times[min(len(times) - 1, int(len(times) * 0.99))],
        "infer_b1000_images_per_s": big_ips,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--digits", default=os.path.join(root, "build", "digits"))
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--latency-runs", type=int, default=200)
    ap.add_argument("--presets", default="seed,keras")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    a = ap.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("compare_pytorch: PyTorch is not installed (apt-get install python3-torch, or pip install torch)")
    torch.set_num_threads(a.threads)
    presets = a.presets.split(",")

    cmd = [a.digits, "bench", "--device", a.device, "--threads", str(a.threads), "--json", "--presets", a.presets,
           "--train-steps", str(a.steps), "--latency-runs", str(a.latency_runs)]
    if a.device == "cuda":
        cmd.remove("--threads"), cmd.remove(str(a.threads))
    ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    theirs = {p: bench_torch(torch, p, a.device, a.steps, a.latency_runs, 1000) for p in presets}

    result = {"machine": ours.get("machine"), "device": ours.get("device"), "threads": a.threads,
              "torch": torch.__version__, "digits": ours["presets"], "pytorch": theirs}
    if a.json:
        print(json.dumps(result))
        return
    print(f"machine: {ours.get('machine')}  device: {ours.get('device')}  threads: {a.threads}  "
          f"PyTorch {torch.__version__}")
    rows = [("train epoch (s, 60000 images)", "train_epoch_s_estimate", False),
            ("train images/s", "train_images_per_s", True),
            ("inference batch 1, median ms", "infer_b1_ms_median", False),
            ("inference batch 1, p99 ms", "infer_b1_ms_p99", False),
            ("inference batch 1000, images/s", "infer_b1000_images_per_s", True)]
    for p in presets:
        print(f"\n{p}:")
        print(f"  {'measure':34s} {'digits':>10s} {'PyTorch':>10s} {'digits advantage':>17s}")
        for label, key, higher_better in rows:
            d, t = ours["presets"][p][key], theirs[p][key]
            adv = (d / t) if higher_better else (t / d)
            print(f"  {label:34s} {d:10.3f} {t:10.3f} {adv:16.2f}x")


if __name__ == "__main__":
    main()
