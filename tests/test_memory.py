"""The scratch arrays behind conv2d: reused between calls, never handed out as results."""

from __future__ import annotations

import numpy as np

from cnncourse.ops import _memory


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
