"""Scratch buffers and a parallel copy: the parts of conv2d's speed that are about memory.

A convolution done as im2col + matrix multiply spends a fair share of its time not computing:
writing the padded input and the columns, and (on a fresh multi-megabyte array) taking a page
fault for every page it touches the first time. Reusing the same scratch arrays from one call
to the next avoids the faults, and splitting the big copies over the cores that BLAS uses
anyway halves the rest. Neither changes a single result.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# Scratch arrays larger than this many bytes are not kept between calls (memory stays bounded).
_SCRATCH_MAX_BYTES = 64 << 20
# Copies of fewer elements run on one thread: below this, handing work to a thread costs more
# than it saves.
_PARALLEL_MIN_ELEMENTS = 1 << 19

_local = threading.local()
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def scratch(name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """An uninitialised array of `shape` that this thread gets back on the next call.

    The caller must be done with it before it asks for the same `name` again; results that
    leave the library are never scratch arrays.
    """
    dtype = np.dtype(dtype)
    size = math.prod(shape)
    if size * dtype.itemsize > _SCRATCH_MAX_BYTES:
        return np.empty(shape, dtype=dtype)
    store = _local.__dict__
    key = (name, dtype)
    buf = store.get(key)
    if buf is None or buf.size < size:
        buf = store[key] = np.empty(size, dtype=dtype)
    return buf[:size].reshape(shape)


def copy_threads() -> int:
    """How many threads a large copy may use: as many as BLAS may (its usual environment
    variables), at most the cores this process may run on and at most 4."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            cores = min(cores, int(value))
            break
    return max(1, min(cores, 4))


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="cnncourse-copy")
        return _pool


def _split_axis(shape: tuple[int, ...], threads: int) -> int:
    """The first axis that splits into `threads` blocks of nearly equal size (else the longest)."""
    for axis, length in enumerate(shape):
        if length % threads == 0 or length >= 4 * threads:
            return axis
    return int(np.argmax(shape))


def parallel_copyto(dst: np.ndarray, src: np.ndarray) -> None:
    """``np.copyto(dst, src)`` (same shapes), split into blocks copied by several threads.

    numpy releases the GIL while it copies, so the blocks really are copied at the same time.
    """
    threads = 1 if dst.size < _PARALLEL_MIN_ELEMENTS else copy_threads()
    if threads < 2:
        np.copyto(dst, src)
        return
    axis = _split_axis(dst.shape, threads)
    threads = min(threads, dst.shape[axis])
    bounds = np.linspace(0, dst.shape[axis], threads + 1).astype(int)

    def block(i: int) -> None:
        index = (slice(None),) * axis + (slice(bounds[i], bounds[i + 1]),)
        np.copyto(dst[index], src[index])

    # The calling thread copies the first block itself while the pool copies the others.
    futures = [_executor().submit(block, i) for i in range(1, threads)]
    block(0)
    for future in futures:
        future.result()
