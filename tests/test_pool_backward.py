"""Do the pooling backward passes route gradients where they should?

Oracles, written here: brute-force loops over the windows (the "switches" of max pooling),
centred finite differences, and torch autograd in float64.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from oracles import fd_grad as _fd_grad
from test_pool import AVG_CONFIGS, CONFIGS, LP_CONFIGS, _input, _pairs, brute_max, windows

from cnncourse.ops import pool as pool_module
from cnncourse.ops.pool import (
    avg_pool2d,
    avg_pool2d_backward,
    lp_pool2d,
    lp_pool2d_backward,
    max_pool2d,
    max_pool2d_backward,
)

# A step of 1e-5 stays far below the 0.1 gaps of distinct_values, so no argmax moves.
fd_grad = functools.partial(_fd_grad, h=1e-5)


def distinct_values(shape, seed):
    """An input without ties, values 0.1 apart, so a step of 1e-5 never changes an argmax."""
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(n).reshape(shape) * 0.1 - n * 0.05


def brute_max_backward(g, x, k, s=None, p=0, d=1, ceil_mode=False):
    """Send each window's gradient to its switch, adding up over windows (loops only)."""
    _, idx = brute_max(x, k, s, p, d, ceil_mode)
    grad = np.zeros_like(x, dtype=np.float64)
    w = x.shape[-1]
    for b, ch, i, j in np.ndindex(g.shape):
        r, col = divmod(int(idx[b, ch, i, j]), w)
        grad[b, ch, r, col] += g[b, ch, i, j]
    return grad


def torch_grad(torch, f, x, g):
    t = torch.tensor(x, requires_grad=True)
    f(t).backward(torch.from_numpy(g))
    return t.grad.numpy()


# ------------------------------------------------------------------ max_pool2d_backward

@pytest.mark.parametrize("config", CONFIGS)
def test_max_pool2d_backward_matches_the_switches_and_torch(torch, config):
    x = _input(config, 20)
    k, s, p, d, ceil_mode = config[4:]
    g = np.random.default_rng(21).standard_normal(max_pool2d(x, k, s, p, d, ceil_mode).shape)
    grad = max_pool2d_backward(g, x, k, s, p, d, ceil_mode)
    np.testing.assert_allclose(grad, brute_max_backward(g, x, k, s, p, d, ceil_mode),
                               rtol=1e-12, atol=1e-12)
    want = torch_grad(torch, lambda t: torch.nn.functional.max_pool2d(t, k, s, p, d, ceil_mode),
                      x, g)
    np.testing.assert_allclose(grad, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("config", [CONFIGS[i] for i in (1, 2, 3, 6, 9)])
def test_max_pool2d_backward_matches_finite_differences(config):
    k, s, p, d, ceil_mode = config[4:]
    x = distinct_values(config[:4], 22)
    g = np.random.default_rng(23).standard_normal(max_pool2d(x, k, s, p, d, ceil_mode).shape)
    numeric = fd_grad(lambda a: max_pool2d(a, k, s, p, d, ceil_mode), x, g)
    np.testing.assert_allclose(max_pool2d_backward(g, x, k, s, p, d, ceil_mode), numeric,
                               rtol=1e-6, atol=1e-8)


def test_a_pixel_that_wins_two_overlapping_windows_gets_both_gradients(torch):
    """F=3, S=2: windows share a column. An implementation that writes the gradient with `=`
    instead of adding it with `+=` keeps only one of the two and fails here."""
    x = np.random.default_rng(24).random((1, 1, 3, 5))
    x[0, 0, 1, 2] = 10.0  # column 2 belongs to both windows, and this is the max of each
    g = np.array([[[[0.25, 0.5]]]])
    grad = max_pool2d_backward(g, x, 3, stride=2)
    assert grad[0, 0, 1, 2] == 0.75  # 0.25 + 0.5, not 0.25 or 0.5 alone
    assert np.count_nonzero(grad) == 1
    np.testing.assert_array_equal(grad, brute_max_backward(g, x, 3, 2))
    want = torch_grad(torch, lambda t: torch.nn.functional.max_pool2d(t, 3, 2), x, g)
    np.testing.assert_array_equal(grad, want)


@pytest.mark.parametrize("k, s, p", [(2, 2, 0), (3, 2, 1), (2, 1, 0), ((2, 3), (1, 2), (1, 1))])
def test_ties_send_each_window_gradient_to_exactly_one_position(torch, k, s, p):
    """An input full of equal values: every window is a tie, yet each gradient goes to one
    pixel only (the first maximum), never copied to every tied maximum."""
    x = np.full((2, 3, 6, 7), 0.5)
    out = max_pool2d(x, k, s, p)
    g = np.random.default_rng(25).random(out.shape) + 0.5  # all positive: no cancellation
    grad = max_pool2d_backward(g, x, k, s, p)
    assert grad.sum() == pytest.approx(g.sum())
    (kh, kw), (sh, sw), (ph, pw), _ = _pairs(k, s, p)
    n_windows = out.shape[2] * out.shape[3]
    if (sh, sw) == (kh, kw) and (ph, pw) == (0, 0):  # non-overlapping: one pixel per window
        assert np.count_nonzero(grad[0, 0]) == n_windows
    np.testing.assert_allclose(grad, brute_max_backward(g, x, k, s, p), rtol=1e-12)
    want = torch_grad(torch, lambda t: torch.nn.functional.max_pool2d(t, k, s, p), x, g)
    np.testing.assert_allclose(grad, want, rtol=1e-12)


def test_constant_blocks_route_to_the_first_pixel_of_each_tie(torch):
    x = np.kron(np.random.default_rng(26).integers(0, 3, (2, 2, 4, 4)), np.ones((2, 2)))
    for k, s, p in [(2, 2, 0), (3, 2, 1), (2, 1, 0)]:
        g = np.random.default_rng(27).random(max_pool2d(x, k, s, p).shape)
        grad = max_pool2d_backward(g, x, k, s, p)
        assert grad.sum() == pytest.approx(g.sum())
        np.testing.assert_allclose(grad, brute_max_backward(g, x, k, s, p), rtol=1e-12)
        want = torch_grad(torch, lambda t, k=k, s=s, p=p: torch.nn.functional.max_pool2d(t, k, s, p),
                          x, g)
        np.testing.assert_allclose(grad, want, rtol=1e-12)


@pytest.mark.parametrize("config", CONFIGS)
def test_switches_found_a_few_images_at_a_time_are_the_same(monkeypatch, nan_scratch, config):
    # The switches are found from tap planes of a few images at a time; force one image per
    # chunk, on an input with ties (pairs of equal rows and few distinct values).
    monkeypatch.setattr(pool_module, "_TAP_PLANES_ELEMENTS", 1)
    k, s, p, d, ceil_mode = config[4:]
    x = np.kron(np.random.default_rng(29).integers(0, 3, config[:4]), np.ones((1, 1, 2, 1)))
    g = np.random.default_rng(30).random(max_pool2d(x, k, s, p, d, ceil_mode).shape)
    np.testing.assert_allclose(max_pool2d_backward(g, x, k, s, p, d, ceil_mode),
                               brute_max_backward(g, x, k, s, p, d, ceil_mode), rtol=1e-12)


def test_a_nan_gradient_reaches_only_its_switch(torch):
    # PyTorch adds each output gradient at its switch only; g * (tap == t) would put NaN * 0 =
    # NaN on every other pixel of the window.
    x = np.random.default_rng(31).random((1, 2, 4, 6))
    for k, s in [(2, 2), (3, 2)]:
        g = np.random.default_rng(32).random(max_pool2d(x, k, s).shape)
        g[0, 0, 0, 0], g[0, 1, -1, -1] = np.nan, np.inf
        grad = max_pool2d_backward(g, x, k, s)
        np.testing.assert_array_equal(grad, brute_max_backward(g, x, k, s))
        want = torch_grad(torch, lambda t, k=k, s=s: torch.nn.functional.max_pool2d(t, k, s), x, g)
        np.testing.assert_array_equal(grad, want)


def test_seed_example_backward_keeps_a_quarter_of_the_positions():
    """F=2, S=2 on a 224x224x64 volume: one switch per 2x2 block, so 25% of the input gets
    a gradient (a random input has no ties)."""
    x = np.random.default_rng(28).standard_normal((1, 64, 224, 224)).astype(np.float32)
    g = np.ones((1, 64, 112, 112), dtype=np.float32)
    grad = max_pool2d_backward(g, x, 2, 2)
    assert grad.shape == x.shape and grad.dtype == np.float32
    assert np.count_nonzero(grad) / grad.size == 0.25
    blocks = grad.reshape(1, 64, 112, 2, 112, 2)
    np.testing.assert_array_equal(blocks.sum(axis=(3, 5)), g)  # exactly one 1 in every block
    winners = x.reshape(1, 64, 112, 2, 112, 2) == x.reshape(1, 64, 112, 2, 112, 2).max(
        axis=(3, 5), keepdims=True)
    np.testing.assert_array_equal(blocks != 0, winners)


def test_a_window_of_padding_only_gets_no_gradient():
    """With dilation 2 and padding 1, a 1-row input has windows whose taps all miss it: their
    output is -inf and their gradient goes nowhere (PyTorch returns an index off the plane)."""
    x = np.arange(4.0).reshape(1, 1, 1, 4)
    out = max_pool2d(x, 2, padding=1, dilation=2)
    assert np.all(out == -np.inf)
    np.testing.assert_array_equal(max_pool2d_backward(np.ones(out.shape), x, 2, None, 1, 2),
                                  np.zeros_like(x))


# ------------------------------------------------------------------ avg_pool2d_backward

@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("config", AVG_CONFIGS)
def test_avg_pool2d_backward_matches_torch(torch, config, count_include_pad):
    x = _input(config, 29)
    k, s, p, _, ceil_mode = config[4:]
    g = np.random.default_rng(30).standard_normal(avg_pool2d(x, k, s, p, ceil_mode).shape)
    grad = avg_pool2d_backward(g, x, k, s, p, ceil_mode, count_include_pad)
    want = torch_grad(torch, lambda t: torch.nn.functional.avg_pool2d(
        t, k, s, p, ceil_mode, count_include_pad), x, g)
    np.testing.assert_allclose(grad, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("config", [AVG_CONFIGS[i] for i in (2, 3, 4, 7)])
def test_avg_pool2d_backward_matches_finite_differences(config, count_include_pad):
    x = _input(config, 31)
    k, s, p, _, ceil_mode = config[4:]
    g = np.random.default_rng(32).standard_normal(avg_pool2d(x, k, s, p, ceil_mode).shape)
    numeric = fd_grad(lambda a: avg_pool2d(a, k, s, p, ceil_mode, count_include_pad), x, g)
    np.testing.assert_allclose(avg_pool2d_backward(g, x, k, s, p, ceil_mode, count_include_pad),
                               numeric, rtol=1e-6, atol=1e-9)


def test_avg_pool2d_backward_spreads_each_gradient_evenly_over_its_window():
    x = np.zeros((1, 1, 7, 7))
    g = np.zeros((1, 1, 3, 3))
    g[0, 0, 1, 1] = 9.0  # one 3x3 window (rows 2..4, columns 2..4) of F=3, S=2
    grad = avg_pool2d_backward(g, x, 3, 2)
    want = np.zeros((7, 7))
    for i, j, taps in windows(7, 7, (3, 3), (2, 2), (0, 0)):
        for r, c in taps:
            want[r, c] += g[0, 0, i, j] / 9
    np.testing.assert_array_equal(grad[0, 0], want)
    assert grad.sum() == 9.0


# ------------------------------------------------------------------ lp_pool2d_backward

@pytest.mark.parametrize("norm_type", [1, 2, 3, 1.5, float("inf"), float("-inf")])
@pytest.mark.parametrize("config", LP_CONFIGS)
def test_lp_pool2d_backward_matches_torch(torch, config, norm_type):
    x = np.abs(_input(config, 33)) + 0.1  # away from 0, where x^(p-1) is not differentiable
    k, s, _, _, ceil_mode = config[4:]
    g = np.random.default_rng(34).standard_normal(lp_pool2d(x, norm_type, k, s, ceil_mode).shape)
    grad = lp_pool2d_backward(g, x, norm_type, k, s, ceil_mode)
    want = torch_grad(torch, lambda t: torch.nn.functional.lp_pool2d(t, norm_type, k, s,
                                                                     ceil_mode), x, g)
    np.testing.assert_allclose(grad, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("norm_type", [2, 3, float("inf")])
@pytest.mark.parametrize("config", [LP_CONFIGS[i] for i in (1, 2, 3, 4)])
def test_lp_pool2d_backward_matches_finite_differences(config, norm_type):
    x = distinct_values(config[:4], 35)
    x = np.where(np.abs(x) < 0.05, 0.35, x)  # keep clear of 0 (|x| is not smooth there)
    if norm_type != float("inf"):
        x = np.abs(x) + 0.2  # odd powers of negatives can make a window's sum vanish
    k, s, _, _, ceil_mode = config[4:]
    g = np.random.default_rng(36).standard_normal(lp_pool2d(x, norm_type, k, s, ceil_mode).shape)
    numeric = fd_grad(lambda a: lp_pool2d(a, norm_type, k, s, ceil_mode), x, g, h=1e-6)
    np.testing.assert_allclose(lp_pool2d_backward(g, x, norm_type, k, s, ceil_mode), numeric,
                               rtol=1e-5, atol=1e-7)


def test_lp_pool2d_backward_is_zero_where_a_window_sums_to_zero():
    """PyTorch documents a zero gradient when the sum of x^p over a window is zero."""
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, :2, :2] = [[1.0, 2.0], [2.0, 4.0]]
    grad = lp_pool2d_backward(np.ones((1, 1, 2, 2)), x, 2, 2)
    assert np.all(np.isfinite(grad))
    np.testing.assert_array_equal(grad[0, 0, 2:, :], 0.0)
    np.testing.assert_allclose(grad[0, 0, :2, :2], x[0, 0, :2, :2] / 5.0)  # x / ||x||, ||x|| = 5


# ------------------------------------------------------------------ dtypes, shapes, errors

@pytest.mark.parametrize("backward, extra", [
    (max_pool2d_backward, ()), (avg_pool2d_backward, ()), (lp_pool2d_backward, (2,)),
])
def test_backward_keeps_float32_and_unbatched_shapes(backward, extra):
    x = np.abs(np.random.default_rng(37).standard_normal((3, 6, 6))).astype(np.float32) + 0.1
    g = np.ones((3, 3, 3), dtype=np.float32)
    grad = backward(g, x, *extra, 2)
    assert grad.shape == x.shape and grad.dtype == np.float32
    np.testing.assert_allclose(backward(g.astype(np.float64)[None], x[None], *extra, 2)[0], grad,
                               rtol=1e-6)
    assert backward(g.astype(np.float64), x, *extra, 2).dtype == np.float64


@pytest.mark.parametrize("call", [
    lambda g, x: max_pool2d_backward(g, x, 2),
    lambda g, x: avg_pool2d_backward(g, x, 2),
    lambda g, x: lp_pool2d_backward(g, x, 2, 2),
])
def test_backward_refuses_a_grad_output_of_the_wrong_shape(call):
    x = np.ones((2, 3, 6, 6))
    with pytest.raises(RuntimeError, match=r"expected grad_output of shape \(2, 3, 3, 3\).*"
                                           r"got grad_output of shape \(2, 3, 2, 2\)"):
        call(np.ones((2, 3, 2, 2)), x)


def test_backward_validates_its_configuration_like_the_forward():
    with pytest.raises(RuntimeError, match=r"max_pool2d_backward: pad should be at most half"):
        max_pool2d_backward(np.ones((1, 1, 4, 4)), np.ones((1, 1, 6, 6)), 3, padding=2)
