"""Fixtures shared by the test modules: a seeded generator and PyTorch as an optional oracle."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh generator with a fixed seed, so every test sees the same numbers on every run."""
    return np.random.default_rng(20240521)


@pytest.fixture(scope="session")
def torch():
    """The ``torch`` module, or skip the test when PyTorch is missing (it is an oracle only)."""
    return pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def untampered_checks(request):
    """Tests of the graded checks start and end with an untampered checks state.

    Several of them tamper on purpose (that is what they test); a leftover entry in the tamper
    log would make every later check fail with "[tampered]".
    """
    if not request.module.__name__.rpartition(".")[2].startswith("test_checks_"):
        yield
        return
    from cnncourse import checks
    from cnncourse.checks import _core

    _core._reset_tamper_log()
    checks.verify_untampered()
    yield
    _core._reset_tamper_log()
    checks.verify_untampered()


@pytest.fixture
def nan_scratch(monkeypatch):
    """Scratch arrays full of NaN, fresh on every request, and no prepared buffer kept between
    calls (_memory.prepared prepares scratch arrays afresh): a code path that reads a number
    it did not write (left over from an earlier call with the same shapes) shows up as NaN."""
    from cnncourse.ops import _memory, conv, pool

    def full_of_nan(name, shape, dtype):
        return np.full(shape, np.nan, dtype=dtype)

    for module in (conv, pool, _memory):
        monkeypatch.setattr(module, "scratch", full_of_nan)
    monkeypatch.setattr(_memory, "_PREPARED_MAX_BYTES", -1)
