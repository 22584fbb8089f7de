"""Checks for notebook 03_pooling, part 2: the backward pass of max pooling.

Part 1 (the forward poolings) is in ``cnncourse.checks.pooling``; both register under the topic
``"03_pooling"``. The cases are built so that the classic mistakes really change the answer:
overlapping windows (F=3, S=2) with an input that wins two to four windows, where ``=`` and
``+=`` differ, and tied maxima (zeros after a ReLU, small integers, constant planes), where the
gradient must go to exactly one position.
"""

from __future__ import annotations

import numpy as np

from cnncourse.ops import pool as _pool

from . import _core, register
from ._core import Case, Mistake
from .pooling import _STRIDE_HINT, TOPIC, VISIBLE_SEED, _check, _normal, _pair, _which

__all__ = [
    "check_max_pool2d_backward_default_stride",
    "check_max_pool2d_backward_overlap",
    "check_max_pool2d_backward_shape",
    "check_max_pool2d_backward_ties",
    "check_max_pool2d_backward_values",
]

# Bound now: the expected answers never depend on what the notebook does to these names later.
_max_pool2d_backward = _pool.max_pool2d_backward
_avg_pool2d_backward = _pool.avg_pool2d_backward
_core.watch(_pool, ["max_pool2d_backward", "avg_pool2d_backward"])


# ----------------------------------------------------------------------------------------------
# Routing the gradient through the switches, right and wrong

def _route(g, x, k, stride=None, *, pick="first", assign=False, column_major=False):
    """Send each output gradient to the max of its window; `pick`: first, last, all or split."""
    g, x = np.asarray(g, dtype=float), np.asarray(x, dtype=float)
    (kh, kw), (sh, sw) = _pair(k), _pair(k if stride is None else stride)
    grad = np.zeros(x.shape)
    ho, wo = g.shape[-2:]
    order = [(i, j) for j in range(wo) for i in range(ho)] if column_major else \
        [(i, j) for i in range(ho) for j in range(wo)]
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i, j in order:
                window = x[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw]
                hits = np.argwhere(window == window.max())
                hits = {"first": hits[:1], "last": hits[-1:]}.get(pick, hits)
                share = g[n, c, i, j] / (len(hits) if pick == "split" else 1)
                for u, v in hits:
                    if assign:
                        grad[n, c, i * sh + u, j * sw + v] = share
                    else:
                        grad[n, c, i * sh + u, j * sw + v] += share
    return grad


def _routing(**options):
    return lambda g, x, k, stride=None: _route(g, x, k, stride, **options)


_ASSIGN_HINT = ("Where windows overlap (kernel_size > stride) one input can be the maximum of "
                "several windows, and then it receives the SUM of their gradients: use "
                "grad[...] += g, not grad[...] = g.")
_TIE_HINT = ("When several values of a window tie for the maximum, PyTorch (and this course) "
             "sends the whole gradient to ONE of them: the first in row-major order, the one "
             "np.argmax(window) finds (its index is what max_pool2d(..., return_indices=True) "
             "returns, the 'switch').")
MAX_BACKWARD_MISTAKES = [
    Mistake("gradient assigned instead of accumulated where windows overlap", _ASSIGN_HINT,
            _routing(assign=True)),
    Mistake("gradient assigned instead of accumulated where windows overlap", _ASSIGN_HINT,
            _routing(assign=True, column_major=True)),
    Mistake("gradient sent to every tied maximum", _TIE_HINT, _routing(pick="all")),
    Mistake("gradient split between the tied maxima", _TIE_HINT, _routing(pick="split")),
    Mistake("gradient sent to the last tied maximum instead of the first", _TIE_HINT +
            " Comparing with >= keeps the last one; use > or np.argmax.", _routing(pick="last")),
    Mistake("stride defaults to 1 instead of kernel_size", _STRIDE_HINT,
            lambda g, x, k, stride=None: _route(g, x, k, 1) if stride is None else None),
    Mistake("gradient spread over the whole window (that is average pooling's backward)",
            "Max pooling passes each output's gradient to the ONE input that was the maximum "
            "(the switch); the others get 0.",
            lambda g, x, k, stride=None: _avg_pool2d_backward(g, x, k, stride=stride)),
]

_BACKWARD_ERROR_HINT = (
    " Things to check: stride=None means stride = kernel_size (if you used 1 there, that is the "
    "mistake 'stride defaults to 1 instead of kernel_size'); input and grad_output are NCHW; "
    "grad_output has the forward output's shape (N, C, H_out, W_out).")


# ----------------------------------------------------------------------------------------------
# Cases and checks

def _backward_case(g, x, k, stride=None, label="") -> Case:
    (kh, kw), (sh, sw) = _pair(k), _pair(k if stride is None else stride)
    out = ((x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1)
    grad_output = _normal(g, x.shape[:2] + out)
    return Case((grad_output, x, k), {} if stride is None else {"stride": stride}, label)


def _shared_maxima(g, shape, k, stride):
    """Random input with, in every plane, a large value where two to four windows overlap."""
    (kh, kw), (sh, sw) = _pair(k), _pair(stride)
    x = _normal(g, shape)
    ho, wo = (shape[2] - kh) // sh + 1, (shape[3] - kw) // sw + 1
    for n in range(shape[0]):
        for c in range(shape[1]):
            # row a * sH is in windows a - 1 and a when kH > sH (likewise for columns)
            a = int(g.integers(1, ho)) if kh > sh and ho > 1 else 0
            b = int(g.integers(1, wo)) if kw > sw and wo > 1 else 0
            x[n, c, a * sh, b * sw] = 4.0 + g.random()
    return x


def _ties(g, shape, kind):
    if kind == "relu":  # after a ReLU: many zeros, some windows entirely zero
        x = np.maximum(_normal(g, shape), 0.0)
        x[..., :2, :2] = 0.0
        return x
    if kind == "small integers":
        return g.integers(0, 3, size=shape).astype(float)
    return np.full(shape, 0.5)


def _overlap_cases(seed: int) -> list[Case]:
    g = _core.rng(seed)
    specs = [((2, 2, 7, 7), 3, 2, "overlapping 3x3 windows, stride 2"),
             ((1, 2, 5, 6), 3, 1, "3x3 windows, stride 1"),
             ((1, 3, 7, 6), (3, 2), (2, 1), "3x2 windows, stride (2, 1)"),
             ((2, 1, 9, 9), 3, 2, "3x3 windows, stride 2, larger input")]
    return [_backward_case(g, _shared_maxima(g, shape, k, s), k, s, label)
            for shape, k, s, label in specs]


def _tie_cases(seed: int) -> list[Case]:
    g = _core.rng(seed)
    specs = [((2, 2, 6, 6), 2, "relu"), ((1, 3, 7, 7), 3, "small integers"),
             ((2, 2, 6, 8), 2, "small integers"), ((1, 2, 5, 7), 3, "constant"),
             ((1, 1, 4, 6), 2, "constant")]
    return [_backward_case(g, _ties(g, shape, kind), k, 2, f"{kind}, {k}x{k} windows, stride 2")
            for shape, k, kind in specs]


def check_max_pool2d_backward_shape(max_pool2d_backward, seed: int = VISIBLE_SEED) -> None:
    """Does the gradient have the shape of the forward input (N, C, H, W)?"""
    __tracebackhide__ = True
    g = _core.rng(seed + 61)
    cases = [_backward_case(g, _normal(g, (2, 3, 6, 8)), 2, 2),
             _backward_case(g, _normal(g, (1, 2, 7, 5)), 3, 2),
             _backward_case(g, _normal(g, (1, 1, 5, 6)), (2, 3), (1, 2))]
    _check(max_pool2d_backward, _max_pool2d_backward, cases, "max_pool2d_backward shape",
           MAX_BACKWARD_MISTAKES, values=False, error_hint=_BACKWARD_ERROR_HINT)


def check_max_pool2d_backward_values(max_pool2d_backward, seed: int = VISIBLE_SEED) -> None:
    """Non-overlapping windows, distinct values: each gradient goes to its window's maximum."""
    __tracebackhide__ = True
    g = _core.rng(seed + 62)
    cases = [_backward_case(g, _normal(g, (2, 3, 6, 8)), 2, 2, "2x2 windows, stride 2"),
             _backward_case(g, _normal(g, (1, 2, 7, 9)), (2, 3), (2, 3), "2x3 windows"),
             _backward_case(g, _normal(g, (2, 2, 9, 7)), 2, 3, "stride larger than the window"),
             _backward_case(g, _normal(g, (1, 3, 4, 5)), (4, 5), None,
                            "kernel as large as the input")]
    _check(max_pool2d_backward, _max_pool2d_backward, cases,
           f"max_pool2d_backward values ({_which(seed)} cases)", MAX_BACKWARD_MISTAKES,
           error_hint=_BACKWARD_ERROR_HINT)


def check_max_pool2d_backward_overlap(max_pool2d_backward, seed: int = VISIBLE_SEED) -> None:
    """Overlapping windows (F=3, S=2 and others): an input that wins two windows gets both."""
    __tracebackhide__ = True
    _check(max_pool2d_backward, _max_pool2d_backward, _overlap_cases(seed + 63),
           f"max_pool2d_backward overlapping windows ({_which(seed)} cases)",
           MAX_BACKWARD_MISTAKES, error_hint=_BACKWARD_ERROR_HINT)


def check_max_pool2d_backward_ties(max_pool2d_backward, seed: int = VISIBLE_SEED) -> None:
    """Tied maxima (zeros after a ReLU, small integers, a constant plane): one winner each."""
    __tracebackhide__ = True
    _check(max_pool2d_backward, _max_pool2d_backward, _tie_cases(seed + 64),
           f"max_pool2d_backward ties ({_which(seed)} cases)", MAX_BACKWARD_MISTAKES,
           error_hint=_BACKWARD_ERROR_HINT)


def check_max_pool2d_backward_default_stride(max_pool2d_backward,
                                             seed: int = VISIBLE_SEED) -> None:
    """Without a stride, do the windows step by kernel_size, as in the forward pass?"""
    __tracebackhide__ = True
    g = _core.rng(seed + 65)
    cases = [_backward_case(g, _normal(g, (2, 2, 6, 8)), 2, None, "kernel_size=2, no stride"),
             _backward_case(g, _normal(g, (1, 3, 7, 6)), 3, None, "kernel_size=3, no stride")]
    _check(max_pool2d_backward, _max_pool2d_backward, cases,
           f"max_pool2d_backward stride=None ({_which(seed)} cases)", MAX_BACKWARD_MISTAKES,
           error_hint=_BACKWARD_ERROR_HINT)


register(TOPIC, "max_pool2d_backward", [
    check_max_pool2d_backward_shape, check_max_pool2d_backward_values,
    check_max_pool2d_backward_overlap, check_max_pool2d_backward_ties,
    check_max_pool2d_backward_default_stride])
_core.protect(__name__)
