"""Seconds per training epoch on the digits: cnncourse (numpy) against the same network in PyTorch.

Usage: ``python benchmarks/bench_train.py [--epochs 5] [--warmup 1] [--threads N] [--rounds 3]``

Each framework runs in its own processes (so neither pays for the other's imports, threads or
caches) and trains the digits example's network (``cnncourse.examples.digits.build_model``:
conv-relu-pool-conv-relu-pool-linear) from the same initial weights, with the same batch size,
the same batch order and SGD with the same momentum. The first `warmup` epochs are discarded;
the table shows the median of the next `epochs`. The last column of the table, the mean training
loss of the final epoch, should agree between the two to a few digits: it shows that both did the
same computation.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from bench_conv import _cross_core_bandwidth, _fmt_speed  # this directory is on sys.path


def _numpy_worker(total: int) -> dict:
    from cnncourse.data import load_digits
    from cnncourse.examples.digits import BATCH_SIZE, build_model, make_optimizer
    from cnncourse.nn import fit

    x, y, _, _ = load_digits()
    model = build_model(seed=0)
    history = fit(model, x, y, epochs=total, batch_size=BATCH_SIZE,
                  optimizer=make_optimizer(model), seed=0, progress=False)
    return {"times": history.time, "loss": history.train_loss[-1], "threads": "numpy/BLAS"}


def _torch_layer(m):
    """The torch layer with the same configuration as the cnncourse layer `m`."""
    import torch

    from cnncourse import nn

    if isinstance(m, nn.Conv2d):
        return torch.nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                               m.dilation, m.groups, m.bias is not None)
    if isinstance(m, nn.Linear):
        return torch.nn.Linear(m.in_features, m.out_features, m.bias is not None)
    if isinstance(m, nn.MaxPool2d):
        return torch.nn.MaxPool2d(m.kernel_size, m.stride, m.padding, m.dilation,
                                  ceil_mode=m.ceil_mode)
    if isinstance(m, nn.ReLU):
        return torch.nn.ReLU()
    if isinstance(m, nn.Flatten):
        return torch.nn.Flatten(m.start_dim, m.end_dim)
    raise TypeError(f"no torch twin for {m!r}; extend _torch_layer")


def _torch_worker(total: int) -> dict:
    import torch
    import torch.nn.functional as F

    from cnncourse.data import load_digits
    from cnncourse.examples.digits import BATCH_SIZE, LEARNING_RATE, MOMENTUM, build_model

    ours = build_model(seed=0)
    model = torch.nn.Sequential(*[_torch_layer(m) for m in ours])
    with torch.no_grad():
        for t, p in zip(model.parameters(), ours.parameters(), strict=True):
            t.copy_(torch.from_numpy(p.data))
    opt = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    x_np, y_np, _, _ = load_digits()
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    rng = np.random.default_rng(0)  # the same batch order as cnncourse.nn.fit(seed=0)
    n = len(x)
    times, loss_sum = [], 0.0
    for _ in range(total):
        start = time.perf_counter()
        order = torch.from_numpy(rng.permutation(n))
        loss_sum = 0.0
        for k in range(0, n, BATCH_SIZE):
            idx = order[k:k + BATCH_SIZE]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
        times.append(time.perf_counter() - start)
    return {"times": times, "loss": loss_sum / n, "threads": f"torch {torch.get_num_threads()}"}


def _run_worker(name: str, total: int, threads: int | None) -> dict:
    env = dict(os.environ)
    if threads:
        # Read by OpenBLAS/MKL (numpy) and by torch's intra-op pool when each process starts.
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    result = subprocess.run([sys.executable, __file__, "--worker", name, "--total", str(total)],
                            capture_output=True, text=True, check=True, env=env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs (median reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed epochs first")
    parser.add_argument("--threads", type=int, help="limit both to this many threads")
    parser.add_argument("--rounds", type=int, default=3,
                        help="processes per library, taking turns; the best median is shown")
    parser.add_argument("--worker", choices=["numpy", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--total", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        cross_core = _cross_core_bandwidth()  # the machine's phase while this process runs
        work = _numpy_worker if args.worker == "numpy" else _torch_worker
        print(json.dumps({**work(args.total), "cross_core": cross_core}))
        return

    total = args.warmup + args.epochs
    # Rounds take turns so that a slow phase of a shared machine hits both libraries alike;
    # each library's best round (lowest median epoch) is reported.
    rounds = [{name: _run_worker(name, total, args.threads) for name in ("numpy", "torch")}
              for _ in range(args.rounds)]
    results = {name: min((r[name] for r in rounds),
                         key=lambda res: statistics.median(res["times"][args.warmup:]))
               for name in ("numpy", "torch")}
    med = {k: statistics.median(r["times"][args.warmup:]) for k, r in results.items()}
    print(f"digits CNN, one epoch of training ({args.epochs} timed after {args.warmup} warm-up; "
          f"median; best of {args.rounds} processes per library)")
    print(f"{'':10}{'numpy s/epoch':>15}{'torch s/epoch':>15}{'numpy/torch':>13}"
          f"{'last loss numpy':>17}{'last loss torch':>17}")
    print(f"{'digits':10}{med['numpy']:>15.4f}{med['torch']:>15.4f}"
          f"{med['numpy'] / med['torch']:>13.2f}{results['numpy']['loss']:>17.5f}"
          f"{results['torch']['loss']:>17.5f}")
    print("core-to-core copies in the best rounds' processes: "
          + ", ".join(f"{k} {_fmt_speed(r.get('cross_core'))}" for k, r in results.items())
          + " (below about 44 GB/s: a slow phase, see benchmarks/README.md)")
    print(f"threads: {results['torch']['threads']}; "
          f"all numpy epochs: {[round(t, 4) for t in results['numpy']['times']]}; "
          f"all torch epochs: {[round(t, 4) for t in results['torch']['times']]}")


if __name__ == "__main__":
    main()
