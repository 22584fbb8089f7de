"""Scratch arrays reused from one call to the next.

A convolution done as im2col + matrix multiply writes megabytes of intermediate columns per
call. On a fresh array every page touched for the first time costs a page fault, which on a
virtual machine can cost as much as the copy itself; a scratch array that lives on between
calls pays that once. (Copying with several Python threads was tried and dropped: the copy
threads fought OpenBLAS's waiting threads for the cores and made conv2d slower, not faster.)

Small buffers whose calls always write the same constants into them (zero borders, a row of
ones) are `prepared` instead: kept per geometry, constants and views made once.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from ._layout import shaped, stored_order

# Scratch arrays larger than this many bytes are not kept between calls (memory stays bounded).
_SCRATCH_MAX_BYTES = 64 << 20
# Prepared buffers (see `prepared`) of at most this many bytes are kept, this many per thread.
_PREPARED_MAX_BYTES = 1 << 20
_PREPARED_PER_THREAD = 32

_local = threading.local()


def scratch(name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """An uninitialised array of `shape` that this thread gets back on the next call.

    The caller must be done with it before it asks for the same `name` again; results that
    leave the library are never scratch arrays.
    """
    dtype = np.dtype(dtype)
    size = math.prod(shape)
    if size * dtype.itemsize > _SCRATCH_MAX_BYTES:
        return np.empty(shape, dtype=dtype)
    return _kept(name, size, dtype, np.empty)[:size].reshape(shape)


def prepared(name: str, shape: tuple[int, ...], dtype, prepare, key: tuple = ()):
    """What ``prepare(buffer)`` returns for an uninitialised array `buffer` of `shape`: views
    of it, with the parts that are the same on every call (zero borders, a row of ones)
    written by `prepare`.

    A small buffer and its views are kept for this thread, `name`, `shape`, `dtype` and `key`
    (everything else `prepare` depends on), so that later calls skip the allocation, the
    constant writes and the making of views: a tenth of the time of a small convolution (7 of
    the 76 us of conv2d on the digits); a large one is scratch memory, prepared anew on every
    call. The caller must write everything but the constant parts on every call: a kept
    buffer starts out as NaN, so that a number read before it is written shows up.
    """
    dtype = np.dtype(dtype)
    if math.prod(shape) * dtype.itemsize > _PREPARED_MAX_BYTES:
        return prepare(scratch(name, shape, dtype))
    kept = _local.__dict__.setdefault("prepared", {})
    full_key = (name, shape, dtype, key)
    views = kept.pop(full_key, None)
    if views is None:
        views = prepare(np.full(shape, np.nan, dtype) if dtype.kind == "f"
                        else np.empty(shape, dtype))
        if len(kept) >= _PREPARED_PER_THREAD:
            del kept[next(iter(kept))]  # the least recently used: dicts keep insertion order
    kept[full_key] = views  # now the most recently used
    return views


def zeros_stored_like(x: np.ndarray) -> np.ndarray | None:
    """A read-only array of zeros with `x`'s shape, dtype and memory layout (C-contiguous or
    images last), shared between calls; None for other layouts or very large arrays."""
    order = stored_order(x)
    if x.nbytes > _SCRATCH_MAX_BYTES or order is None:
        return None
    flat = _kept("zeros", x.size, x.dtype, _read_only_zeros)
    if x.ndim != 4:
        return flat[:x.size].reshape(x.shape)
    return shaped(flat, x.shape, order)


def _kept(name: str, size: int, dtype: np.dtype, new) -> np.ndarray:
    """This thread's 1-D array of `dtype` kept under `name`, made anew by ``new(size, dtype)``
    when there is none of at least `size` numbers yet."""
    key, store = (name, dtype), _local.__dict__
    buf = store.get(key)
    if buf is None or buf.size < size:
        buf = store[key] = new(size, dtype)
    return buf


def _read_only_zeros(size: int, dtype) -> np.ndarray:
    zeros = np.zeros(size, dtype=dtype)
    zeros.flags.writeable = False
    return zeros
