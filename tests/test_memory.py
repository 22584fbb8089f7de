"""The scratch and prepared arrays behind conv2d: reused between calls, never handed out as
results."""

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


def _counting(prepare_calls):
    def prepare(buffer):
        prepare_calls.append(buffer)
        buffer[0] = 0  # a constant part
        return buffer, buffer[1:]
    return prepare


def test_a_small_prepared_buffer_is_prepared_once_and_starts_as_nan():
    calls = []
    first = _memory.prepared("test prepared", (5,), np.float32, _counting(calls), key=(1,))
    again = _memory.prepared("test prepared", (5,), np.float32, _counting(calls), key=(1,))
    assert len(calls) == 1 and again[0] is first[0] and again[1] is first[1]
    assert first[0][0] == 0 and np.isnan(first[1]).all()  # nothing else written yet


def test_prepared_buffers_differ_by_name_shape_dtype_and_key():
    calls = []
    base = _memory.prepared("test key", (4,), np.float64, _counting(calls), key=(1,))[0]
    others = [_memory.prepared("test key 2", (4,), np.float64, _counting(calls), key=(1,)),
              _memory.prepared("test key", (5,), np.float64, _counting(calls), key=(1,)),
              _memory.prepared("test key", (4,), np.float32, _counting(calls), key=(1,)),
              _memory.prepared("test key", (4,), np.float64, _counting(calls), key=(2,))]
    assert len(calls) == 5
    assert not any(np.shares_memory(base, other[0]) for other in others)


def test_a_large_prepared_buffer_is_scratch_prepared_on_every_call(monkeypatch):
    monkeypatch.setattr(_memory, "_PREPARED_MAX_BYTES", 8)
    calls = []
    first = _memory.prepared("test large", (5,), np.float32, _counting(calls))[0]
    second = _memory.prepared("test large", (5,), np.float32, _counting(calls))[0]
    assert len(calls) == 2 and np.shares_memory(first, second)
    assert np.shares_memory(first, _memory.scratch("test large", (5,), np.float32))


def test_only_the_most_recently_used_prepared_buffers_are_kept(monkeypatch):
    monkeypatch.setattr(_memory, "_PREPARED_PER_THREAD", 3)
    monkeypatch.setitem(_memory._local.__dict__, "prepared", {})  # none kept from other tests
    calls = []
    for key in (1, 2, 3, 1, 4):  # 2 is now the least recently used: 4 takes its place
        _memory.prepared("test lru", (2,), np.float32, _counting(calls), key=(key,))
    assert len(calls) == 4
    for key in (1, 3, 4):
        _memory.prepared("test lru", (2,), np.float32, _counting(calls), key=(key,))
    assert len(calls) == 4
    _memory.prepared("test lru", (2,), np.float32, _counting(calls), key=(2,))
    assert len(calls) == 5


def test_each_thread_prepares_its_own_buffer():
    import threading

    calls = []
    mine = _memory.prepared("test thread", (3,), np.float32, _counting(calls))[0]
    theirs = []
    thread = threading.Thread(target=lambda: theirs.append(
        _memory.prepared("test thread", (3,), np.float32, _counting(calls))[0]))
    thread.start()
    thread.join()
    assert len(calls) == 2 and not np.shares_memory(mine, theirs[0])
