#!/usr/bin/env python3
"""digits against PyTorch and TensorFlow/Keras (the seed's own framework) on this machine, in one run, with
the same networks, recipe and thread count. Run it through bench/peers.sh, which makes its virtual environment.

  --mode epochs (default): per preset (seed, keras): training images/s over timed steps on synthetic data
      (forward, cross-entropy, backward, update, batch and optimizer as the preset), the MNIST epoch time that
      implies, batch-1 latency (median, p99) and batch-1000 images/s. digits is measured by
      `digits bench --json`, which also says which network and recipe it ran; the peers build that network
      from the spec it printed.
  --mode fast: time to 99%: the `fast` preset trained on real MNIST from the start, as a user runs it, by each
      framework, per seed: the whole process from launch to the test accuracy (data loading and the final test
      pass included; for the peers also their import), and the test accuracy reached.

Each framework runs in a process of its own (their thread pools never share one). Peer workers are this file
run with --worker. Usage:
  bench/peers.sh [--digits build/digits] [--threads 2] [--presets seed,keras] [--steps 30] [--rounds 3] [--json]
  bench/peers.sh --mode fast [--seeds 1,2,3] [--data DIR]
"""
import argparse
import gzip
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

T_START = time.perf_counter()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = ("pytorch", "tensorflow")


# ---- the network, from digits' spec text ---------------------------------------------------------------------
def parse_spec(spec):
    """[(kind, [args])] from e.g. "conv(32,5) relu maxpool(2) flatten dense(10)"."""
    layers = []
    for tok in spec.split():
        m = re.fullmatch(r"([a-z]+)(?:\(([^)]*)\))?", tok)
        if not m:
            raise ValueError(f"spec token {tok!r}")
        args = [a.strip() for a in m.group(2).split(",")] if m.group(2) else []
        layers.append((m.group(1), args))
    return layers


def torch_net(torch, spec):
    nn = torch.nn
    mods, ch, hw, flat = [], 1, 28, None
    for kind, args in parse_spec(spec):
        if kind == "conv":
            k, same = int(args[1]), len(args) > 2 and args[2] == "same"
            mods.append(nn.Conv2d(ch, int(args[0]), k, padding=k // 2 if same else 0))
            ch, hw = int(args[0]), hw if same else hw - k + 1
        elif kind == "relu":
            mods.append(nn.ReLU())
        elif kind == "maxpool":
            mods.append(nn.MaxPool2d(int(args[0])))
            hw //= int(args[0])
        elif kind == "batchnorm":  # momentum 0.1, eps 1e-5: digits' values (and PyTorch's defaults)
            mods.append(nn.BatchNorm2d(ch) if flat is None else nn.BatchNorm1d(flat))
        elif kind == "flatten":
            mods.append(nn.Flatten())
            flat = ch * hw * hw
        elif kind == "gap":
            mods += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
            flat = ch
        elif kind == "dense":
            mods.append(nn.Linear(flat, int(args[0])))
            flat = int(args[0])
        elif kind == "dropout":
            mods.append(nn.Dropout(float(args[0])))
        else:
            raise ValueError(f"layer {kind!r}")
    return nn.Sequential(*mods)


def keras_net(keras, spec):
    L = keras.layers
    mods = [keras.Input((28, 28, 1))]
    for kind, args in parse_spec(spec):
        if kind == "conv":
            same = len(args) > 2 and args[2] == "same"
            mods.append(L.Conv2D(int(args[0]), int(args[1]), padding="same" if same else "valid"))
        elif kind == "relu":
            mods.append(L.ReLU())
        elif kind == "maxpool":
            mods.append(L.MaxPooling2D(int(args[0])))
        elif kind == "batchnorm":  # Keras' momentum 0.9 is PyTorch's and digits' 0.1
            mods.append(L.BatchNormalization(momentum=0.9, epsilon=1e-5))
        elif kind == "flatten":
            mods.append(L.Flatten())
        elif kind == "gap":
            mods.append(L.GlobalAveragePooling2D())
        elif kind == "dense":
            mods.append(L.Dense(int(args[0])))
        elif kind == "dropout":
            mods.append(L.Dropout(float(args[0])))
        else:
            raise ValueError(f"layer {kind!r}")
    return keras.Sequential(mods)


def scheduled_lr(cfg, step, steps_per_epoch):
    """digits' learning rate at a step (host/optimizer.cpp scheduled_lr): constant, or linear warm-up from
    lr/10 then cosine decay to 0."""
    lr = cfg["lr"]
    if cfg["schedule"] == "constant":
        return lr
    total = max(1, cfg["epochs"] * steps_per_epoch)
    warm = min(total, cfg["warmup"] * steps_per_epoch)
    if step < warm:
        return lr * (0.1 + 0.9 * step / warm)
    progress = min(1.0, (step - warm) / max(1.0, total - warm))
    return lr * 0.5 * (1.0 + math.cos(math.pi * progress))


# ---- PyTorch -------------------------------------------------------------------------------------------------
def torch_optimizer(torch, params, cfg):
    if cfg["optimizer"] == "adadelta":
        return torch.optim.Adadelta(params, lr=cfg["lr"], rho=0.95, eps=1e-7)
    if cfg["optimizer"] == "adam":
        return torch.optim.Adam(params, lr=cfg["lr"], eps=1e-7)
    return torch.optim.SGD(params, lr=cfg["lr"], momentum=cfg["momentum"])


def torch_epochs(spec, cfg, steps, latency_runs):
    import torch
    torch.manual_seed(1)
    model, batch = torch_net(torch, spec), cfg["batch"]
    opt, loss_fn = torch_optimizer(torch, model.parameters(), cfg), torch.nn.CrossEntropyLoss()
    x, y = torch.rand(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    train_ips = steps * batch / (time.perf_counter() - t0)
    model.eval()
    with torch.no_grad():
        x1, xb = torch.rand(1, 1, 28, 28), torch.rand(1000, 1, 28, 28)
        infer1 = lambda: torch.softmax(model(x1), dim=1)  # noqa: E731
        infer_big = lambda: torch.softmax(model(xb), dim=1)  # noqa: E731
        return summary(train_ips, infer1, infer_big, latency_runs)


def torch_fast(spec, cfg, seed, data):
    import torch
    torch.manual_seed(seed)
    (xtr, ytr), (xte, yte) = [(torch.from_numpy(x).reshape(-1, 1, 28, 28), torch.from_numpy(y).long())
                              for x, y in data]
    model, batch = torch_net(torch, spec), cfg["batch"]
    opt, loss_fn = torch_optimizer(torch, model.parameters(), cfg), torch.nn.CrossEntropyLoss()
    steps = (len(xtr) + batch - 1) // batch
    step = 0
    for _ in range(cfg["epochs"]):
        model.train()
        order = torch.randperm(len(xtr))
        for i in range(steps):
            idx = order[i * batch:(i + 1) * batch]
            for g in opt.param_groups:
                g["lr"] = scheduled_lr(cfg, step, steps)
            opt.zero_grad(set_to_none=True)
            loss_fn(model(xtr[idx]), ytr[idx]).backward()
            opt.step()
            step += 1
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(xte[i:i + 1000]).argmax(1) for i in range(0, len(xte), 1000)])
    return float((pred == yte).float().mean())


# ---- TensorFlow / Keras --------------------------------------------------------------------------------------
def keras_setup(threads):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    return tf, tf.keras


def keras_optimizer(keras, cfg, lr):
    if cfg["optimizer"] == "adadelta":
        return keras.optimizers.Adadelta(learning_rate=lr, rho=0.95, epsilon=1e-7)
    if cfg["optimizer"] == "adam":
        return keras.optimizers.Adam(learning_rate=lr, epsilon=1e-7)
    return keras.optimizers.SGD(learning_rate=lr, momentum=cfg["momentum"])


def keras_epochs(spec, cfg, steps, latency_runs, threads):
    tf, keras = keras_setup(threads)
    keras.utils.set_random_seed(1)
    import numpy as np
    batch = cfg["batch"]
    model = keras_net(keras, spec)
    model.compile(optimizer=keras_optimizer(keras, cfg, cfg["lr"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.rand(batch * steps, 28, 28, 1).astype("float32")
    y = np.random.randint(0, 10, batch * steps)
    model.fit(x[:3 * batch], y[:3 * batch], batch_size=batch, epochs=1, verbose=0)  # compile, warm up

    class Clock(keras.callbacks.Callback):  # the steps alone, without fit()'s start and end
        def on_train_batch_end(self, b, logs=None):
            if b == 2:
                self.t0 = time.perf_counter()
            self.t1 = time.perf_counter()

    clock = Clock()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False, callbacks=[clock])
    train_ips = (steps - 3) * batch / (clock.t1 - clock.t0)
    x1, xb = tf.constant(np.random.rand(1, 28, 28, 1).astype("float32")), tf.constant(x[:1000])
    infer = tf.function(lambda v: tf.nn.softmax(model(v, training=False)), reduce_retracing=True)
    return summary(train_ips, lambda: infer(x1).numpy(), lambda: infer(xb).numpy(), latency_runs)


def keras_fast(spec, cfg, seed, data, threads):
    tf, keras = keras_setup(threads)
    keras.utils.set_random_seed(seed)
    (xtr, ytr), (xte, yte) = [(x.reshape(-1, 28, 28, 1), y.astype("int64")) for x, y in data]
    batch = cfg["batch"]
    steps = (len(xtr) + batch - 1) // batch

    class Schedule(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            return tf.numpy_function(lambda s: np_float(scheduled_lr(cfg, int(s), steps)), [step], tf.float32)

    model = keras_net(keras, spec)
    model.compile(optimizer=keras_optimizer(keras, cfg, Schedule()),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(xtr, ytr, batch_size=batch, epochs=cfg["epochs"], shuffle=True, verbose=0)
    pred = model.predict(xte, batch_size=1000, verbose=0).argmax(1)
    return float((pred == yte).mean())


def np_float(v):
    import numpy as np
    return np.float32(v)


# ---- shared --------------------------------------------------------------------------------------------------
def summary(train_ips, infer1, infer_big, latency_runs):
    times = []
    for r in range(latency_runs + 10):
        t0 = time.perf_counter()
        infer1()
        if r >= 10:
            times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    infer_big()
    t0 = time.perf_counter()
    for _ in range(5):
        infer_big()
    return {"train_images_per_s": train_ips, "train_epoch_s_estimate": 60000 / train_ips,
            "infer_b1_ms_median": statistics.median(times),
            "infer_b1_ms_p99": times[min(len(times) - 1, int(len(times) * 0.99))],
            "infer_b1000_images_per_s": 5000 / (time.perf_counter() - t0)}


def read_idx(path, images):
    import numpy as np
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if images:
        return np.frombuffer(raw, np.uint8, offset=16).astype("float32").reshape(-1, 28, 28) * (1.0 / 255.0)
    return np.frombuffer(raw, np.uint8, offset=8).copy()


def load_mnist(data_dir):
    f = lambda n: os.path.join(data_dir, n)  # noqa: E731
    return ((read_idx(f("train-images-idx3-ubyte.gz"), True), read_idx(f("train-labels-idx1-ubyte.gz"), False)),
            (read_idx(f("t10k-images-idx3-ubyte.gz"), True), read_idx(f("t10k-labels-idx1-ubyte.gz"), False)))


def worker(a):
    """One peer, one job, in its own process; prints one JSON line."""
    job = json.loads(a.worker_job)
    if a.worker == "pytorch":
        import torch
        torch.set_num_threads(a.threads)
        version = torch.__version__
    else:
        tf, _ = keras_setup(a.threads)
        version = tf.__version__
    imported = time.perf_counter()
    if job["mode"] == "epochs":
        run = torch_epochs if a.worker == "pytorch" else keras_epochs
        extra = () if a.worker == "pytorch" else (a.threads,)
        out = run(job["spec"], job["train_config"], job["steps"], job["latency_runs"], *extra)
    else:
        data = load_mnist(job["data"])
        loaded = time.perf_counter()
        if a.worker == "pytorch":
            acc = torch_fast(job["spec"], job["train_config"], job["seed"], data)
        else:
            acc = keras_fast(job["spec"], job["train_config"], job["seed"], data, a.threads)
        out = {"test_accuracy": acc, "import_s": imported - T_START, "load_s": loaded - imported,
               "train_and_test_s": time.perf_counter() - loaded}
    out["version"] = version
    print(json.dumps(out))


def run_worker(peer, job, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", peer, "--worker-job", json.dumps(job),
                        "--threads", str(threads)], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"compare_peers: the {peer} worker failed:\n{p.stderr[-3000:]}")
    out = json.loads(p.stdout.strip().splitlines()[-1])
    out["process_s"] = wall
    return out


# ---- the two modes -------------------------------------------------------------------------------------------
# (label, key, higher is better) of every measure mode_epochs reports
EPOCH_ROWS = [("train epoch (s, 60000 images)", "train_epoch_s_estimate", False),
              ("train images/s", "train_images_per_s", True),
              ("inference batch 1, median ms", "infer_b1_ms_median", False),
              ("inference batch 1, p99 ms", "infer_b1_ms_p99", False),
              ("inference batch 1000, images/s", "infer_b1000_images_per_s", True)]


def keep_best(into, new):
    """Per measure, the better of two runs of one framework on one network."""
    for _, key, higher_better in EPOCH_ROWS:
        if key not in into or (new[key] > into[key]) == higher_better:
            into[key] = new[key]


def mode_epochs(a):
    cmd = [a.digits, "bench", "--device", "cpu", "--threads", str(a.threads), "--json", "--presets", a.presets,
           "--train-steps", str(a.steps), "--latency-runs", str(a.latency_runs)]
    result = {"threads": a.threads, "rounds": a.rounds, "digits": {}}
    # Rounds interleave the frameworks (digits, PyTorch, TensorFlow, digits, ...) and each keeps its best:
    # this machine's speed drifts by 10-30% within minutes, which a single pass would charge to one of them.
    for _ in range(a.rounds):
        ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        result["machine"] = ours.get("machine")
        for name, d in ours["presets"].items():
            keep_best(result["digits"].setdefault(name, dict(d)), d)
        for peer in PEERS:
            for name, d in ours["presets"].items():
                job = {"mode": "epochs", "spec": d["spec"], "train_config": d["train_config"], "steps": a.steps,
                       "latency_runs": a.latency_runs}
                out = run_worker(peer, job, a.threads)
                keep_best(result.setdefault(peer, {}).setdefault(name, dict(out)), out)
    ours["presets"] = result["digits"]
    if a.json:
        print(json.dumps(result))
        return
    print(f"machine: {ours['machine']['cpu']}  threads: {a.threads}  PyTorch {result['pytorch'][name]['version']}"
          f"  TensorFlow {result['tensorflow'][name]['version']}")
    print(f"best of {a.rounds} interleaved round(s) per framework")
    for name in ours["presets"]:
        print(f"\n{name}:  {ours['presets'][name]['spec']}")
        print(f"  {'measure':32s} {'digits':>9s} {'PyTorch':>9s} {'TF/Keras':>9s} {'vs PyTorch':>11s} {'vs TF':>7s}")
        for label, key, higher_better in EPOCH_ROWS:
            d, t, k = ours["presets"][name][key], result["pytorch"][name][key], result["tensorflow"][name][key]
            adv = (lambda o: d / o) if higher_better else (lambda o: o / d)
            print(f"  {label:32s} {d:9.3f} {t:9.3f} {k:9.3f} {adv(t):10.2f}x {adv(k):6.2f}x")


def mode_fast(a):
    seeds = [int(s) for s in a.seeds.split(",")]
    runs = {"digits": [], "pytorch": [], "tensorflow": []}
    spec = cfg = None
    # Per seed, digits then each peer, so that the machine's drift over the run falls on all three alike.
    with tempfile.TemporaryDirectory() as tmp:
        for s in seeds:
            out = os.path.join(tmp, f"fast-{s}.safetensors")
            cmd = [a.digits, "train", "--preset", "fast", "--seed", str(s), "--device", "cpu", "--threads",
                   str(a.threads), "--data", a.data, "--out", out, "--checkpoint", "none", "--json"]
            t0 = time.perf_counter()
            p = subprocess.run(cmd, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if p.returncode != 0:
                sys.exit(f"compare_peers: {' '.join(cmd)} failed:\n{p.stderr[-3000:]}")
            j = json.loads(p.stdout)
            runs["digits"].append({"seed": s, "process_s": wall, "test_accuracy": j["test_accuracy"]})
            spec, cfg = j["spec"], j["train_config"]
            for peer in PEERS:
                job = {"mode": "fast", "spec": spec, "train_config": cfg, "seed": s, "data": a.data}
                runs[peer].append(dict(run_worker(peer, job, a.threads), seed=s))
    if a.json:
        print(json.dumps({"threads": a.threads, "spec": spec, "train_config": cfg, "runs": runs}))
        return
    print(f"fast preset: {spec}\n  {json.dumps(cfg)}\n  threads: {a.threads}, seeds {a.seeds}\n")
    print(f"  {'':11s} {'test accuracy (mean, min)':>26s} {'process s (mean)':>17s} {'of which import':>16s}")
    base = statistics.mean(r["process_s"] for r in runs["digits"])
    for who, rs in runs.items():
        accs = [100 * r["test_accuracy"] for r in rs]
        proc = statistics.mean(r["process_s"] for r in rs)
        imp = statistics.mean(r.get("import_s", 0.0) for r in rs)
        print(f"  {who:11s} {statistics.mean(accs):17.2f}% {min(accs):6.2f}% {proc:17.2f} {imp:16.2f}"
              f"   ({proc / base:.2f}x digits' time)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", default="epochs", choices=["epochs", "fast"])
    ap.add_argument("--digits", default=os.path.join(ROOT, "build", "digits"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--steps", type=int, default=30, help="epochs mode: timed training steps")
    ap.add_argument("--rounds", type=int, default=1, help="epochs mode: interleaved rounds, best kept per framework")
    ap.add_argument("--latency-runs", type=int, default=200)
    ap.add_argument("--presets", default="seed,keras")
    ap.add_argument("--seeds", default="1,2,3", help="fast mode: seeds to train")
    ap.add_argument("--data", default=os.environ.get("MNIST_DIR", os.path.join(ROOT, "data", "mnist")))
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--worker", choices=PEERS, help=argparse.SUPPRESS)
    ap.add_argument("--worker-job", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        worker(a)
    elif a.mode == "epochs":
        mode_epochs(a)
    else:
        mode_fast(a)


if __name__ == "__main__":
    main()
