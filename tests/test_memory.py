"""The scratch arrays and the threaded copy behind conv2d: results must not depend on them."""

from __future__ import annotations

import numpy as np
import pytest

from cnncourse.ops import _memory
from cnncourse.ops.conv import conv2d


def test_scratch_hands_back_the_same_memory_for_the_same_name():
    a = _memory.scratch("test a", (3, 4), np.float32)
    b = _memory.scratch("test a", (2, 5), np.float32)  # smaller: a view of the same buffer
    c = _memory.scratch("test b", (3, 4), np.float32)
    assert a.shape == (3, 4) and b.shape == (2, 5) and a.dtype == np.float32
    assert np.shares_memory(a, b)
    assert not np.shares_memory(a, c)
    assert not np.shares_memory(a, _memory.scratch("test a", (3, 4), np.float64))


def test_scratch_larger_than_the_limit_is_not_kept(monkeypatch):
    monkeypatch.setattr(_memory, "_SCRATCH_MAX_BYTES", 100)
    a = _memory.scratch("test big", (50,), np.float32)  # 200 bytes
    b = _memory.scratch("test big", (50,), np.float32)
    assert not np.shares_memory(a, b)


@pytest.mark.parametrize("shape, transpose", [
    ((7, 5, 3), (0, 1, 2)),
    ((1, 1, 9, 4), (0, 1, 3, 2)),  # the only long axis is the third
    ((3, 64, 5), (2, 1, 0)),
    ((1,), (0,)),
])
def test_parallel_copy_copies_every_element(monkeypatch, shape, transpose):
    monkeypatch.setattr(_memory, "_PARALLEL_MIN_ELEMENTS", 1)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    src = np.arange(np.prod(shape), dtype=np.float64).reshape(shape).transpose(transpose)
    dst = np.full(src.shape, -1.0)
    _memory.parallel_copyto(dst, src)
    np.testing.assert_array_equal(dst, src)


@pytest.mark.parametrize("env, expected", [({"OPENBLAS_NUM_THREADS": "1"}, 1),
                                           ({"OMP_NUM_THREADS": "2"}, 2)])
def test_copies_use_no_more_threads_than_blas_is_allowed(monkeypatch, env, expected):
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert _memory.copy_threads() <= expected


def test_conv2d_with_threaded_copies_matches_single_threaded(rng, monkeypatch):
    x = rng.standard_normal((3, 5, 12, 11))
    w = rng.standard_normal((4, 5, 3, 3))
    want = conv2d(x, w, padding=1)
    monkeypatch.setattr(_memory, "_PARALLEL_MIN_ELEMENTS", 1)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    np.testing.assert_array_equal(conv2d(x, w, padding=1), want)
