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
