"""Do the pooling forwards match brute-force window loops, PyTorch, and the course's numbers?

The oracles are written here, independently of ``cnncourse.ops.pool``: explicit loops over
every window (``brute_*``) and ``torch.nn.functional`` in float64.
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncourse.ops import pool as pool_module
from cnncourse.ops.pool import (
    avg_pool2d,
    channel_pool,
    global_avg_pool2d,
    lp_pool2d,
    max_pool2d,
)

# ------------------------------------------------------------------ brute-force oracles

def out_size(n, k, s, p, d, ceil_mode):
    """Output length from PyTorch's documented formula (nn.MaxPool2d), floor or ceil."""
    exact = (n + 2 * p - d * (k - 1) - 1) / s
    o = (math.ceil(exact) if ceil_mode else math.floor(exact)) + 1
    if ceil_mode and (o - 1) * s >= n + p:  # the last window must start before the right pad
        o -= 1
    return o


def windows(h, w, k, s, p, d=(1, 1), ceil_mode=False):
    """Yield (i, j, taps): the input coordinates of window (i, j), row-major, pad included."""
    ho = out_size(h, k[0], s[0], p[0], d[0], ceil_mode)
    wo = out_size(w, k[1], s[1], p[1], d[1], ceil_mode)
    for i in range(ho):
        for j in range(wo):
            taps = [(i * s[0] - p[0] + u * d[0], j * s[1] - p[1] + v * d[1])
                    for u in range(k[0]) for v in range(k[1])]
            yield i, j, taps


def _pairs(k, s, p, d=1):
    two = lambda v: v if isinstance(v, tuple) else (v, v)
    k = two(k)
    return k, two(k if s is None else s), two(p), two(d)


def brute_max(x, k, s=None, p=0, d=1, ceil_mode=False):
    """Max and argmax per window, scanning taps in order and keeping the first maximum."""
    k, s, p, d = _pairs(k, s, p, d)
    n, c, h, w = x.shape
    ho, wo = out_size(h, k[0], s[0], p[0], d[0], ceil_mode), out_size(w, k[1], s[1], p[1], d[1],
                                                                       ceil_mode)
    out, idx = np.empty((n, c, ho, wo)), np.empty((n, c, ho, wo), dtype=np.int64)
    for b in range(n):
        for ch in range(c):
            for i, j, taps in windows(h, w, k, s, p, d, ceil_mode):
                best, arg = -np.inf, None
                for r, col in taps:
                    if 0 <= r < h and 0 <= col < w and (arg is None or x[b, ch, r, col] > best):
                        best, arg = x[b, ch, r, col], r * w + col
                out[b, ch, i, j], idx[b, ch, i, j] = best, arg
    return out, idx


def brute_avg(x, k, s=None, p=0, ceil_mode=False, count_include_pad=True):
    """Window sums over real pixels, divided as nn.AvgPool2d documents."""
    k, s, p, _ = _pairs(k, s, p)
    n, c, h, w = x.shape
    rows = []
    for i, j, taps in windows(h, w, k, s, p, (1, 1), ceil_mode):
        real = [(r, col) for r, col in taps if 0 <= r < h and 0 <= col < w]
        # taps inside the padded input (padding counts, ceil_mode's overhang does not)
        padded = [(r, col) for r, col in taps if r < h + p[0] and col < w + p[1]]
        divisor = len(padded) if count_include_pad else len(real)
        rows.append(((i, j), sum(x[:, :, r, col] for r, col in real) / divisor))
    ho = 1 + max(i for (i, _), _ in rows)
    wo = 1 + max(j for (_, j), _ in rows)
    out = np.empty((n, c, ho, wo))
    for (i, j), value in rows:
        out[:, :, i, j] = value
    return out


# (N, C, H, W, kernel_size, stride, padding, dilation, ceil_mode)
CONFIGS = [
    (1, 1, 4, 4, 2, None, 0, 1, False),       # the textbook F=2, S=2
    (3, 4, 6, 8, 2, 2, 0, 1, False),          # batch and channels
    (2, 3, 7, 9, 3, 2, 0, 1, False),          # overlapping F=3, S=2, odd sizes
    (2, 2, 7, 7, 3, 2, 1, 1, False),          # with padding
    (1, 3, 5, 8, (2, 3), (1, 2), 0, 1, False),  # rectangular kernel, stride != kernel
    (2, 1, 9, 6, (3, 2), (2, 1), (1, 1), 1, False),
    (1, 2, 9, 10, 3, 1, 1, 2, False),         # dilation
    (2, 2, 8, 11, (2, 3), 2, (1, 0), (2, 1), False),
    (2, 3, 5, 7, 2, None, 0, 1, True),        # ceil_mode keeps the last partial window
    (1, 2, 6, 6, 3, 2, 1, 1, True),
    (2, 2, 8, 9, (3, 2), (3, 2), (1, 1), 1, True),
    (1, 1, 1, 5, (1, 3), 2, 0, 1, True),      # a single row
]
AVG_CONFIGS = [c for c in CONFIGS if c[7] == 1]
LP_CONFIGS = [c for c in AVG_CONFIGS if c[6] == 0]


def _input(config, seed, dtype=np.float64):
    n, c, h, w = config[:4]
    return np.random.default_rng(seed).standard_normal((n, c, h, w)).astype(dtype)


# ------------------------------------------------------------------ max_pool2d

@pytest.mark.parametrize("config", CONFIGS)
def test_max_pool2d_matches_brute_force(config):
    """Is every output the maximum of its window, and every index the first such maximum?"""
    x = _input(config, 0)
    k, s, p, d, ceil_mode = config[4:]
    out, idx = max_pool2d(x, k, s, p, d, ceil_mode, return_indices=True)
    want, want_idx = brute_max(x, k, s, p, d, ceil_mode)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(max_pool2d(x, k, s, p, d, ceil_mode), want)


@pytest.mark.parametrize("config", CONFIGS)
def test_max_pool2d_matches_torch(torch, config):
    x = _input(config, 1)
    k, s, p, d, ceil_mode = config[4:]
    t_out, t_idx = torch.nn.functional.max_pool2d(torch.from_numpy(x), k, s, p, d, ceil_mode,
                                                  return_indices=True)
    out, idx = max_pool2d(x, k, s, p, d, ceil_mode, return_indices=True)
    np.testing.assert_array_equal(out, t_out.numpy())
    np.testing.assert_array_equal(idx, t_idx.numpy())
    assert idx.dtype == np.int64


def test_max_pool2d_stride_defaults_to_kernel_size():
    x = _input((2, 3, 9, 8), 2)
    np.testing.assert_array_equal(max_pool2d(x, 3), max_pool2d(x, 3, stride=3))
    assert max_pool2d(x, 3).shape == (2, 3, 3, 2)


def test_seed_example_224x224x64_pooled_to_112x112x64_discards_75_percent():
    """F=2, S=2 on a [224x224x64] volume gives [112x112x64]: one activation in four is kept."""
    x = np.random.default_rng(3).standard_normal((1, 64, 224, 224)).astype(np.float32)
    out, idx = max_pool2d(x, 2, stride=2, return_indices=True)
    assert out.shape == (1, 64, 112, 112)
    assert out.dtype == np.float32
    assert 1 - out.size / x.size == 0.75
    # independent oracle: each 2x2 block as its own axes
    np.testing.assert_array_equal(out, x.reshape(1, 64, 112, 2, 112, 2).max(axis=(3, 5)))
    # every kept activation comes from a distinct input position: 25% of them
    assert np.unique(idx + np.arange(64).reshape(1, 64, 1, 1) * 224 * 224).size == x.size // 4


def test_max_pool2d_ties_pick_the_first_maximum_in_window_order(torch):
    x = np.kron(np.random.default_rng(4).integers(0, 3, (2, 2, 3, 3)), np.ones((2, 2)))
    for k, s, p in [(2, 2, 0), (3, 2, 1), (2, 1, 0)]:
        idx = max_pool2d(x, k, s, p, return_indices=True)[1]
        np.testing.assert_array_equal(idx, brute_max(x, k, s, p)[1])
        t_idx = torch.nn.functional.max_pool2d(torch.from_numpy(x), k, s, p,
                                               return_indices=True)[1]
        np.testing.assert_array_equal(idx, t_idx.numpy())


def test_max_pool2d_nan_and_minus_inf_follow_torch(torch):
    """NaN wins its window (torch reports its last NaN); an all -inf window its first pixel."""
    x = np.random.default_rng(5).standard_normal((1, 2, 5, 6))
    x[0, 0, 1, 1] = x[0, 0, 1, 2] = np.nan
    x[0, 1, :3, :3] = -np.inf
    for kwargs in [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1}]:
        out, idx = max_pool2d(x, return_indices=True, **kwargs)
        t_out, t_idx = torch.nn.functional.max_pool2d(torch.from_numpy(x), return_indices=True,
                                                      **kwargs)
        np.testing.assert_array_equal(out, t_out.numpy())  # NaN == NaN for this assert
        np.testing.assert_array_equal(idx, t_idx.numpy())
        assert np.isnan(out[0, 0, 0, 0])


@pytest.mark.parametrize("func", ["max", "avg", "lp"])
def test_unbatched_input_is_the_batched_result_without_its_batch_axis(func):
    x = _input((1, 3, 7, 6), 6)
    pool = {"max": lambda a: max_pool2d(a, 3, 2, 1), "avg": lambda a: avg_pool2d(a, 3, 2, 1),
            "lp": lambda a: lp_pool2d(a, 2, 3, 2)}[func]
    np.testing.assert_array_equal(pool(x[0]), pool(x)[0])
    assert pool(x[0]).ndim == 3


def test_unbatched_indices_match_torch(torch):
    x = _input((1, 3, 7, 6), 7)[0]
    out, idx = max_pool2d(x, 3, 2, 1, return_indices=True)
    t_idx = torch.nn.functional.max_pool2d(torch.from_numpy(x), 3, 2, 1, return_indices=True)[1]
    np.testing.assert_array_equal(idx, t_idx.numpy())
    assert out.shape == (3, 4, 3)


def test_zero_batch_gives_an_empty_batch_like_torch(torch):
    x = np.zeros((0, 3, 6, 6))
    assert max_pool2d(x, 2).shape == torch.nn.functional.max_pool2d(torch.zeros(0, 3, 6, 6),
                                                                     2).shape
    assert avg_pool2d(x, 3, 2, 1).shape == (0, 3, 3, 3)


@pytest.mark.parametrize(
    "call",
    [lambda a: max_pool2d(a, 2), lambda a: max_pool2d(a, 3, 2, 1, return_indices=True)[0],
     lambda a: avg_pool2d(a, 3, 2, 1), lambda a: lp_pool2d(a, 2, 2),
     lambda a: channel_pool(a, 2, mode="avg"), lambda a: channel_pool(a, 2),
     global_avg_pool2d],
)
def test_float32_is_preserved_and_integers_become_float64(call):
    x = np.random.default_rng(8).integers(0, 9, (2, 4, 6, 6))
    assert call(x.astype(np.float32)).dtype == np.float32
    assert call(x).dtype == np.float64
    np.testing.assert_allclose(call(x.astype(np.float32)), call(x), rtol=1e-6)


# ------------------------------------------------------------------ avg_pool2d, lp_pool2d

@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("config", AVG_CONFIGS)
def test_avg_pool2d_matches_brute_force_and_torch(torch, config, count_include_pad):
    x = _input(config, 9)
    k, s, p, _, ceil_mode = config[4:]
    out = avg_pool2d(x, k, s, p, ceil_mode, count_include_pad)
    np.testing.assert_allclose(out, brute_avg(x, k, s, p, ceil_mode, count_include_pad),
                               rtol=1e-12, atol=1e-12)
    want = torch.nn.functional.avg_pool2d(torch.from_numpy(x), k, s, p, ceil_mode,
                                          count_include_pad)
    np.testing.assert_allclose(out, want.numpy(), rtol=1e-12, atol=1e-12)


def test_avg_pool2d_count_include_pad_changes_only_the_border():
    x = np.ones((1, 1, 4, 4))
    with_pad = avg_pool2d(x, 3, 1, 1)
    without = avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    np.testing.assert_array_equal(without, np.ones((1, 1, 4, 4)))
    assert with_pad[0, 0, 0, 0] == 4 / 9 and with_pad[0, 0, 0, 1] == 6 / 9
    assert with_pad[0, 0, 1, 1] == 1.0


@pytest.mark.parametrize("norm_type", [1, 2, 3, 1.5])
@pytest.mark.parametrize("config", [c for c in LP_CONFIGS if not c[8]])
def test_lp_pool2d_is_the_p_norm_of_each_window(config, norm_type):
    """Without ceil_mode every window is whole, and y = (sum x^p)^(1/p) exactly."""
    x = np.abs(_input(config, 10)) + 0.1
    k, s = config[4:6]
    (kh, kw), (sh, sw), _, _ = _pairs(k, s, 0)
    out = lp_pool2d(x, norm_type, k, s)
    want = np.empty_like(out)
    for i, j, taps in windows(*x.shape[2:], (kh, kw), (sh, sw), (0, 0)):
        want[:, :, i, j] = sum(x[:, :, r, c] ** norm_type for r, c in taps) ** (1 / norm_type)
    np.testing.assert_allclose(out, want, rtol=1e-12)


def test_l2_pooling_of_a_3_4_window_is_5():
    x = np.array([[[[3.0, 0.0], [0.0, 4.0]]]])
    assert lp_pool2d(x, 2, 2)[0, 0, 0, 0] == pytest.approx(5.0)
    assert lp_pool2d(x, float("inf"), 2)[0, 0, 0, 0] == 4.0
    assert lp_pool2d(-x, float("-inf"), 2)[0, 0, 0, 0] == 0.0


@pytest.mark.parametrize("norm_type", [1, 2, 3, 1.5, float("inf"), float("-inf")])
@pytest.mark.parametrize("config", LP_CONFIGS)
def test_lp_pool2d_matches_torch(torch, config, norm_type):
    x = _input(config, 11)
    if norm_type == 1.5:
        x = np.abs(x)  # a fractional power of a negative number is NaN in both
    k, s, _, _, ceil_mode = config[4:]
    out = lp_pool2d(x, norm_type, k, s, ceil_mode)
    want = torch.nn.functional.lp_pool2d(torch.from_numpy(x), norm_type, k, s, ceil_mode)
    np.testing.assert_allclose(out, want.numpy(), rtol=1e-10, atol=1e-12, equal_nan=True)


# ------------------------------------------------------------------ channel and global pooling

@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("c, k, s", [(4, 2, None), (6, 3, 1), (7, 2, 3), (5, 5, 1), (1, 1, 1)])
@pytest.mark.parametrize("n", [1, 3])
def test_channel_pool_matches_brute_force_and_torch(torch, n, c, k, s, mode):
    """Pooling across depth keeps H and W and leaves floor((C - K)/S) + 1 channels."""
    x = np.random.default_rng(12).standard_normal((n, c, 5, 4))
    out = channel_pool(x, k, s, mode=mode)
    step = k if s is None else s
    c_out = (c - k) // step + 1
    assert out.shape == (n, c_out, 5, 4)
    reduce = np.max if mode == "max" else np.mean
    want = np.stack([reduce(x[:, o * step : o * step + k], axis=1) for o in range(c_out)], axis=1)
    np.testing.assert_allclose(out, want, rtol=1e-12)
    f = torch.nn.functional.max_pool3d if mode == "max" else torch.nn.functional.avg_pool3d
    t_out = f(torch.from_numpy(x)[:, None], (k, 1, 1), (step, 1, 1))[:, 0]
    np.testing.assert_allclose(out, t_out.numpy(), rtol=1e-12)
    np.testing.assert_array_equal(channel_pool(x[0], k, s, mode=mode), out[0])


@pytest.mark.parametrize("shape", [(1, 1, 3, 3), (4, 5, 7, 2), (3, 6, 5)])
def test_global_avg_pool2d_matches_adaptive_avg_pool(torch, shape):
    x = np.random.default_rng(13).standard_normal(shape)
    out = global_avg_pool2d(x)
    assert out.shape == (*shape[:-2], 1, 1)
    want = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(x), 1)
    np.testing.assert_allclose(out, want.numpy(), rtol=1e-12)
    np.testing.assert_allclose(out[..., 0, 0], x.reshape(*shape[:-2], -1).mean(-1), rtol=1e-12)


# ------------------------------------------------------------------ invariance (the seeds' claim)

def moved_feature_violations(pool, background, r, c, r2, c2, amplitude=2.0):
    """Which promises of "small translations of a feature give the same output" does `pool` break?

    `background` is a map of weak activations in [0, 1); a strong feature (`amplitude` > 1) sits
    at (r, c) and then moves to (r2, c2). For 2x2 cells aligned with the pooling grid, an
    operation that is locally translation invariant must:
      1. report the feature in the cell that holds it, wherever in the cell it is, and
      2. give exactly the same output when the feature moves without leaving its cell.
    Max pooling keeps both promises for every input; subsampling (keeping the top-left pixel of
    each cell, a stride-2 layer without pooling) breaks them whenever the feature is elsewhere.
    """
    before, after = background.copy(), background.copy()
    before[..., r, c] = amplitude
    after[..., r2, c2] = amplitude
    y1, y2 = pool(before), pool(after)
    broken = []
    if y1[..., r // 2, c // 2].item() != amplitude or y2[..., r2 // 2, c2 // 2].item() != amplitude:
        broken.append("feature lost")
    if (r // 2, c // 2) == (r2 // 2, c2 // 2) and not np.array_equal(y1, y2):
        broken.append("output changed by a move inside the cell")
    return broken


def _subsample(x):
    return x[..., ::2, ::2]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    cells=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    where=st.tuples(st.floats(0, 1, exclude_max=True), st.floats(0, 1, exclude_max=True)),
    move=st.tuples(st.integers(-1, 1), st.integers(-1, 1)),
)
def test_max_pooling_is_invariant_to_a_feature_moving_one_pixel(seed, cells, where, move):
    """A feature moved by one pixel is still detected, and inside its cell nothing changes.

    The property holds for every background and position (hypothesis searches for a
    counterexample); the next test shows that subsampling without max fails the same check.
    """
    h, w = 2 * cells[0], 2 * cells[1]
    background = np.random.default_rng(seed).random((1, 1, h, w))
    r, c = int(where[0] * h), int(where[1] * w)
    r2, c2 = min(max(r + move[0], 0), h - 1), min(max(c + move[1], 0), w - 1)
    assert moved_feature_violations(lambda a: max_pool2d(a, 2, 2), background, r, c, r2, c2) == []


def test_subsampling_without_max_fails_the_invariance_check():
    """The check is not vacuous: keeping one pixel per cell loses features and changes outputs."""
    background = np.random.default_rng(14).random((1, 1, 4, 4))
    moves_in_cell = [((0, 0), (0, 1)), ((0, 0), (1, 1)), ((1, 0), (1, 1))]
    results = [moved_feature_violations(_subsample, background, *a, *b) for a, b in moves_in_cell]
    assert all(results)
    assert "output changed by a move inside the cell" in results[0]
    lost = sum("feature lost" in moved_feature_violations(_subsample, background, r, c, r, c)
               for r in range(4) for c in range(4))
    assert lost == 12  # only the 4 sampled corners of the 16 positions are seen
    for r in range(4):
        for c in range(4):
            assert moved_feature_violations(lambda a: max_pool2d(a, 2), background,
                                            r, c, r, c) == []


# ------------------------------------------------------------------ errors

X = np.zeros((2, 3, 7, 7))
ERRORS = [
    # (a call through a functional namespace, exception, message pattern)
    (lambda F: F.max_pool2d(X, 0, stride=1), RuntimeError, r"kernel_size.*got \(0, 0\)"),
    (lambda F: F.max_pool2d(X, (2, 0), stride=1), RuntimeError, r"kernel_size.*got \(2, 0\)"),
    (lambda F: F.max_pool2d(X, 2, stride=0), RuntimeError, r"stride.*got \(0, 0\)"),
    (lambda F: F.avg_pool2d(X, 2, stride=-1), RuntimeError, r"stride.*got \(-1, -1\)"),
    (lambda F: F.max_pool2d(X, 3, dilation=0), RuntimeError, r"dilation.*got \(0, 0\)"),
    (lambda F: F.max_pool2d(X, 2, padding=-1), RuntimeError, r"negative padding.*\(-1, -1\)"),
    (lambda F: F.max_pool2d(X, 3, padding=2), RuntimeError,
     (r"pad should be at most half of effective kernel size, but got pad=2, kernel_size=3 "
      r"and dilation=1$")),
    (lambda F: F.max_pool2d(X, 3, padding=2, dilation=2), RuntimeError,
     r"pad=2, kernel_size=3 and dilation=2 \(the bound is kernel_size // 2 = 1\)"),
    (lambda F: F.avg_pool2d(X, (3, 5), padding=(1, 3)), RuntimeError,
     r"pad should be at most half .* pad=3, kernel_size=5"),
    (lambda F: F.max_pool2d(np.zeros((1, 64, 2, 2)), 3), RuntimeError,
     (r"Given input size: \(64x2x2\)\. Calculated output size: \(64x0x0\)\. Output size is "
      r"too small")),
    (lambda F: F.avg_pool2d(np.zeros((64, 2, 2)), 3), RuntimeError,
     r"Given input size: \(64x2x2\)\. Calculated output size: \(64x0x0\)"),
    (lambda F: F.lp_pool2d(np.zeros((1, 64, 2, 2)), 2, 3), RuntimeError,
     r"Calculated output size: \(64x0x0\)\. Output size is too small"),
    (lambda F: F.max_pool2d(np.zeros((1, 1, 1, 7, 7)), 2), RuntimeError,
     r"expected input to be 3D or 4D.*got input of shape \(1, 1, 1, 7, 7\)"),
    (lambda F: F.max_pool2d(np.zeros((2, 0, 4, 4)), 2), RuntimeError,
     r"non-zero channels, height and width .* \(2, 0, 4, 4\)"),
    (lambda F: F.avg_pool2d(np.zeros((2, 2, 0, 4)), 2), RuntimeError, r"\(2, 2, 0, 4\)"),
    (lambda F: F.max_pool2d(X, 2.0), TypeError, r"kernel_size must be an int or a pair of ints"),
    (lambda F: F.lp_pool2d(X, 0, 2), ZeroDivisionError, r"norm_type must be non-zero"),
]
OURS_ONLY = [
    (lambda: max_pool2d(np.zeros((7, 7)), 2), RuntimeError,
     (r"max_pool2d: expected input to be 3D or 4D \(\(C, H, W\) or \(N, C, H, W\)\), but got "
      r"input of shape \(7, 7\)")),
    (lambda: max_pool2d(np.array([["a"]]), 1), TypeError, r"input must be an array of real"),
    (lambda: lp_pool2d(X, "2", 2), TypeError, r"norm_type must be a real number p, got '2'"),
    (lambda: channel_pool(X, 2, mode="min"), ValueError, r"mode must be 'max' or 'avg', got 'min'"),
    (lambda: channel_pool(X, 4), RuntimeError,
     (r"Given input size: \(3x7x7\)\. Calculated output size: \(0x7x7\)\. Output size is "
      r"too small \(kernel_size=4 is more than the 3 channels\)")),
    (lambda: channel_pool(X, 0), RuntimeError, r"kernel_size should be greater than zero"),
    (lambda: channel_pool(X, 2, stride=-1), RuntimeError, r"stride should be greater than zero"),
    (lambda: channel_pool(X, 1.5), TypeError, r"kernel_size must be an int, got 1\.5"),
    (lambda: channel_pool(np.zeros((3, 3)), 1), RuntimeError, r"channel_pool: expected input"),
    (lambda: global_avg_pool2d(np.zeros((3, 3))), RuntimeError,
     r"global_avg_pool2d: expected input to be 3D or 4D"),
]


@pytest.mark.parametrize("call, exc, match", ERRORS)
def test_bad_arguments_raise_what_torch_raises(torch, call, exc, match):
    """Same exception type as torch.nn.functional, and a message that says what went wrong."""
    with pytest.raises(exc, match=match):
        call(pool_module)

    class TorchF:  # the same call, through torch
        def __getattr__(self, name):
            f = getattr(torch.nn.functional, name)
            return lambda x, *a, **kw: f(torch.from_numpy(np.asarray(x)), *a, **kw)

    with pytest.raises(exc):
        call(TorchF())


@pytest.mark.parametrize("call, exc, match", OURS_ONLY)
def test_bad_arguments_raise_with_a_helpful_message(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_docstring_examples_run():
    failures, tried = doctest.testmod(pool_module, extraglobs={"np": np})[:2]
    assert tried >= 3 and failures == 0
