"""How fast are cnncourse's conv2d, conv2d_backward and max_pool2d next to PyTorch on the CPU?

Every (case, operation, library) is timed in a fresh subprocess, so the two libraries never
share a process (no thread-pool or allocator interference): a few warm-up calls, then the median
of the timed repeats (fast calls are looped to about 20 ms per repeat), float32, default thread
counts. That is done `--rounds` times, the two libraries taking turns, and each library's best
round is reported: on a shared virtual machine whole processes land in slow phases, and a slow
phase says nothing about either library. Each process also measures how fast one core copies
what another has just written (the last column): that speed drops in the phases that slow
numpy's multi-threaded im2col convolutions (see benchmarks/README.md). The parent prints a
markdown table and can write it to a file:

    .venv/bin/python benchmarks/bench_conv.py                  # every case and operation
    .venv/bin/python benchmarks/bench_conv.py --ops forward --cases digits 1x1
    .venv/bin/python benchmarks/bench_conv.py --out benchmarks/results/conv.md
    .venv/bin/python benchmarks/bench_conv.py --threads 1 --clock cpu   # per-core, busy machine

``ratio`` is numpy time / torch time (below 1 means numpy is faster). Targets apply to the
forward convolution only; the backward and pooling rows are reported for information.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from typing import NamedTuple


class Case(NamedTuple):
    name: str
    n: int
    c: int
    h: int
    w: int
    k: int
    f: int
    stride: int
    padding: int
    target: float  # numpy may take at most this many times torch's time (forward)


CASES = [
    Case("cifar 3x3", 64, 3, 32, 32, 32, 3, 1, 1, 1.5),
    Case("resnet 3x3", 8, 64, 56, 56, 64, 3, 1, 1, 1.5),
    Case("alexnet conv1", 8, 3, 227, 227, 96, 11, 4, 0, 1.5),
    Case("digits", 128, 1, 8, 8, 16, 3, 1, 1, 1.1),
    Case("1x1", 16, 256, 28, 28, 64, 1, 1, 0, 1.1),
]
OPS = ["forward", "backward", "max_pool2d"]
LIBS = ["numpy", "torch"]


def _output_hw(case: Case) -> tuple[int, int]:
    return tuple((size + 2 * case.padding - case.f) // case.stride + 1 for size in (case.h, case.w))


def _numpy_call(case: Case, op: str, rng):
    import numpy as np

    x = rng.standard_normal((case.n, case.c, case.h, case.w), dtype=np.float32)
    w = rng.standard_normal((case.k, case.c, case.f, case.f), dtype=np.float32)
    b = rng.standard_normal(case.k, dtype=np.float32)
    if op == "forward":
        from cnncourse.ops.conv import conv2d

        return lambda: conv2d(x, w, b, stride=case.stride, padding=case.padding)
    if op == "backward":
        from cnncourse.ops.conv import conv2d_backward

        gy = rng.standard_normal((case.n, case.k, *_output_hw(case)), dtype=np.float32)
        return lambda: conv2d_backward(gy, x, w, stride=case.stride, padding=case.padding)
    from cnncourse.ops.pool import max_pool2d

    y = rng.standard_normal((case.n, case.k, *_output_hw(case)), dtype=np.float32)
    return lambda: max_pool2d(y, 2, 2)


def _torch_call(case: Case, op: str, rng):
    import torch
    import torch.nn.functional as F

    def t(*shape):
        return torch.from_numpy(rng.standard_normal(shape).astype("float32"))

    x, w, b = t(case.n, case.c, case.h, case.w), t(case.k, case.c, case.f, case.f), t(case.k)
    if op == "forward":
        def forward():
            with torch.no_grad():
                return F.conv2d(x, w, b, stride=case.stride, padding=case.padding)
        return forward
    if op == "backward":
        xg, wg, bg = (a.clone().requires_grad_() for a in (x, w, b))
        y = F.conv2d(xg, wg, bg, stride=case.stride, padding=case.padding)
        gy = torch.randn_like(y)
        # Only the backward pass is timed: the graph is built once and kept.
        return lambda: torch.autograd.grad(y, (xg, wg, bg), gy, retain_graph=True)
    y = t(case.n, case.k, *_output_hw(case))
    return lambda: F.max_pool2d(y, 2, 2)


def _worker(lib: str, case_name: str, op: str, warmup: int, repeats: int, threads: int | None,
            clock: str) -> None:
    import numpy as np

    if threads and lib == "torch":
        import torch

        torch.set_num_threads(threads)
    # process time counts the CPU time of all the process's threads: only meaningful with one
    timer = time.process_time if clock == "cpu" else time.perf_counter
    case = next(c for c in CASES if c.name == case_name)
    rng = np.random.default_rng(0)
    cross_core = _cross_core_bandwidth()  # the machine's phase while this process runs
    try:
        call = (_numpy_call if lib == "numpy" else _torch_call)(case, op, rng)
    except ImportError as exc:  # e.g. cnncourse.ops.pool not written yet
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return
    for _ in range(warmup):
        call()
    start = timer()
    call()
    # fast calls are timed in loops of about 20 ms, so the clock's resolution does not matter
    loops = max(1, int(0.02 / max(timer() - start, 1e-6)))
    times = []
    for _ in range(repeats):
        start = timer()
        for _ in range(loops):
            call()
        times.append((timer() - start) / loops)
    print(json.dumps({"ms": float(np.median(times) * 1e3), "cross_core": cross_core}))


def _measure(lib: str, case: Case, op: str, args) -> dict | None:
    cmd = [sys.executable, __file__, "--worker", lib, case.name, op, "--warmup", str(args.warmup),
           "--repeats", str(args.repeats), "--clock", args.clock]
    env = dict(os.environ)
    if args.threads:
        cmd += ["--threads", str(args.threads)]
        # BLAS reads these when it is loaded, so they must be set before numpy is imported
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(args.threads)
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        print(f"{lib} {case.name} {op} failed:\n{done.stderr}", file=sys.stderr)
        return None
    result = json.loads(lines[-1])
    if "error" in result:
        print(f"{lib} {case.name} {op}: {result['error']}", file=sys.stderr)
        return None
    return result


def _fmt(ms: float | None) -> str:
    if ms is None:
        return "n/a"
    return f"{ms:.2f}" if ms >= 1 else f"{ms:.3f}"  # the digits case takes about 0.07 ms


def _fmt_speed(gb_per_s: float | None, unit: str = " GB/s") -> str:
    return "n/a" if gb_per_s is None else f"{gb_per_s:.0f}{unit}"


def _copy_bandwidth(megabytes: int = 8, repeats: int = 20) -> float:
    """GB/s of copying one array of `megabytes` into another, within one core: 50-78 on these
    machines in every run of 2026-11-30, slow phases included (earlier runs saw about 16 at
    times); compare `_cross_core_bandwidth`."""
    import numpy as np

    src = np.ones(megabytes << 18, dtype=np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    start = time.perf_counter()
    for _ in range(repeats):
        np.copyto(dst, src)
    return 2 * src.nbytes / 1e9 / ((time.perf_counter() - start) / repeats)


def _cross_core_bandwidth(megabytes: int = 8, repeats: int = 10) -> float | None:
    """GB/s of copying an array of `megabytes` that a thread on another CPU has just written
    (writer and reader pinned to two CPUs); None where threads cannot be pinned.

    On these machines it runs nearly as fast as `_copy_bandwidth` in most phases and at about
    half that in the phases where numpy's im2col convolutions take twice as long: there,
    presumably, the cores share no cache, and BLAS's second thread reads the columns the
    first one copied (see benchmarks/README.md)."""
    import numpy as np

    cpus = sorted(os.sched_getaffinity(0))[:2] if hasattr(os, "sched_setaffinity") else []
    if len(cpus) < 2:
        return None
    src = np.ones(megabytes << 18, dtype=np.float32)
    shared, dst = np.empty_like(src), np.empty_like(src)
    # a thread that fails (a CPU it may not use) breaks the barrier instead of hanging the other
    turns, times = threading.Barrier(2, timeout=30), []

    def writer():
        os.sched_setaffinity(0, {cpus[0]})  # on Linux, this thread only
        for _ in range(repeats + 1):
            np.copyto(shared, src)
            turns.wait()  # written: the reader's turn
            turns.wait()  # read: write again

    def reader():
        os.sched_setaffinity(0, {cpus[1]})
        for _ in range(repeats + 1):
            turns.wait()
            start = time.perf_counter()
            np.copyto(dst, shared)
            times.append(time.perf_counter() - start)
            turns.wait()

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if len(times) <= repeats:
        return None
    return 2 * src.nbytes / 1e9 / float(np.median(times[1:]))  # the first read warms up


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", help="substrings of case names to run (default: all)")
    parser.add_argument("--ops", nargs="*", choices=OPS, default=OPS)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3,
                        help="processes per library and case, taking turns; the best is shown")
    parser.add_argument("--threads", type=int,
                        help="limit both libraries to this many threads (default: their own)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="cpu: process CPU time, steadier on a busy machine (use --threads 1)")
    parser.add_argument("--out", help="also write the markdown table to this file")
    parser.add_argument("--worker", nargs=3, metavar=("LIB", "CASE", "OP"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(*args.worker, args.warmup, args.repeats, args.threads, args.clock)
        return 0

    cases = [c for c in CASES if not args.cases or any(s in c.name for s in args.cases)]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        (f"conv2d benchmark: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {load:.2f} at start, float32, median of {args.repeats} after "
        f"{args.warmup} warm-up calls, best of {args.rounds} processes per library and case, "
        f"{args.threads or 'default'} threads, {args.clock} clock; 8 MB copies at "
        f"{_copy_bandwidth():.0f} GB/s at start, {_fmt_speed(_cross_core_bandwidth())} from core "
        f"to core"),
        "",
        ("| case | op | shape (N,C,H,W) K F S P | numpy ms | torch ms | ratio | target | met? "
         "| cross-core GB/s (numpy / torch) |"),
        "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    print("\n".join(lines), flush=True)
    for case in cases:
        for op in args.ops:
            rounds = [{lib: _measure(lib, case, op, args) for lib in LIBS}
                      for _ in range(args.rounds)]
            best = {lib: min((r[lib] for r in rounds if r[lib] is not None),
                             key=lambda result: result["ms"], default=None) for lib in LIBS}
            ms = {lib: None if best[lib] is None else best[lib]["ms"] for lib in LIBS}
            cross_core = [None if best[lib] is None else best[lib].get("cross_core")
                          for lib in LIBS]
            ratio = ms["numpy"] / ms["torch"] if None not in ms.values() else None
            target = case.target if op == "forward" else None
            met = "-" if target is None or ratio is None else ("yes" if ratio <= target else "no")
            shape = (f"{case.n},{case.c},{case.h},{case.w} {case.k} {case.f} {case.stride} "
                     f"{case.padding}")
            row = (f"| {case.name} | {op} | {shape} | {_fmt(ms['numpy'])} | {_fmt(ms['torch'])} | "
                   f"{'n/a' if ratio is None else f'{ratio:.2f}'} | "
                   f"{'-' if target is None else f'{target:.1f}x'} | {met} | "
                   f"{' / '.join(_fmt_speed(speed, '') for speed in cross_core)} |")
            lines.append(row)
            print(row, flush=True)
    lines.append(f"\n8 MB copies at {_copy_bandwidth():.0f} GB/s at the end, "
                 f"{_fmt_speed(_cross_core_bandwidth())} from core to core. The last column: "
                 f"the core-to-core copy speed in the process of each library's best round.")
    print(lines[-1])
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as fh:
            fh.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
