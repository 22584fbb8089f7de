"""Arrays stored images last ((N, C, H, W) with the memory of a (C, H, W, N) array) give the
results of the same arrays stored NCHW, and the nn layers pass small activations that way.

Oracles: the loop versions written in test_conv and test_pool_backward, np.where, and sums
written as loops.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_conv import CASES as CONV_CASES
from test_conv import loop_conv
from test_pool import CONFIGS as POOL_CONFIGS
from test_pool import brute_max
from test_pool_backward import brute_max_backward

from cnncourse import nn
from cnncourse.ops import _layout as layout
from cnncourse.ops import conv as conv_module
from cnncourse.ops import pool as pool_module
from cnncourse.ops._select import keep_where
from cnncourse.ops.activations import relu, relu_backward
from cnncourse.ops.conv import (
    _conv2d_backward_with_columns,
    _conv2d_keeping_columns,
    conv2d,
    conv2d_backward,
    conv2d_backward_naive,
)
from cnncourse.ops.pool import (
    _max_pool2d_backward_from_switches,
    _max_pool2d_with_switches,
    avg_pool2d,
    max_pool2d,
    max_pool2d_backward,
)


def images_last(a: np.ndarray) -> np.ndarray:
    """A copy of the 4-D `a` stored images last, checked to be so."""
    out = layout.empty(a.shape, a.dtype, layout.IMAGES_LAST)
    out[...] = a
    assert layout.is_images_last(out) and not out.flags.c_contiguous
    return out


def test_memory_order_tells_the_two_layouts_apart(rng):
    x = rng.standard_normal((3, 2, 4, 5))
    assert layout.memory_order(x) == layout.NCHW
    assert layout.memory_order(images_last(x)) == layout.IMAGES_LAST
    assert layout.memory_order(x.transpose(0, 1, 3, 2)) == layout.NCHW  # neither: NCHW code
    assert not layout.is_images_last(x[:1])  # one image: C-contiguous either way
    for order in (layout.NCHW, layout.IMAGES_LAST):
        z = layout.empty((3, 2, 4, 5), np.float32, order)
        assert z.shape == (3, 2, 4, 5) and layout.memory_order(z) == order


BATCHED_CONV_CASES = [c for c in CONV_CASES if len(c[0]) == 4 and c[0][0] > 1]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", BATCHED_CONV_CASES,
                         ids=[f"{x}-{w}-{k}" for x, w, k in BATCHED_CONV_CASES])
def test_conv2d_and_its_backward_take_images_last_inputs(rng, x_shape, w_shape, kwargs):
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    want = loop_conv(x, w, b, **kwargs)
    got = conv2d(images_last(x), w, b, **kwargs)
    assert got.flags.c_contiguous  # the public function's result is always C-contiguous
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    gy = rng.standard_normal(want.shape)
    for gg, xx in [(images_last(gy), images_last(x)), (gy, x)]:
        for got, expected in zip(conv2d_backward(gg, xx, w, **kwargs),
                                 conv2d_backward_naive(gy, x, w, **kwargs)):
            assert got.flags.c_contiguous
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("chunk", [1, 10**9])  # _CHUNK_ELEMENTS: 1 forces one image a chunk
@pytest.mark.parametrize("x_layout", ["NCHW", "images last"])
@pytest.mark.parametrize("shape, w_shape, kwargs", [
    ((5, 1, 8, 8), (4, 1, 3, 3), {"padding": 1}),  # the digits network's layers
    ((5, 4, 4, 4), (6, 4, 3, 3), {"padding": 1}),
    ((3, 4, 5, 6), (6, 2, 3, 2), {"stride": (2, 1), "groups": 2}),
    ((2, 2, 12, 12), (3, 2, 3, 3), {}),  # large enough for the per-image columns: NCHW out
])
def test_the_layer_functions_keep_small_outputs_images_last(rng, monkeypatch, nan_scratch,
                                                           chunk, x_layout, shape, w_shape,
                                                           kwargs):
    monkeypatch.setattr(conv_module, "_CHUNK_ELEMENTS", chunk)
    x = rng.standard_normal(shape)
    x = images_last(x) if x_layout == "images last" else x
    w = rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    out, columns = _conv2d_keeping_columns(x, w, b, **kwargs)
    small = out.shape[2] * out.shape[3] <= conv_module._SIDE_BY_SIDE_IMAGES_LAST_MAX_LENGTH
    assert layout.is_images_last(out) == small
    np.testing.assert_allclose(out, loop_conv(x, w, b, **kwargs), rtol=1e-12, atol=1e-12)
    gy = rng.standard_normal(out.shape)
    gy = images_last(gy) if small else gy
    got = _conv2d_backward_with_columns(gy, x, w, **kwargs, columns=columns)
    want = conv2d_backward_naive(gy, x, w, **kwargs)
    for g, expected in zip(got, want):
        np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-12)


def _tied_input(shape, seed):
    """Few distinct values, and pairs of equal rows: many ties inside the windows."""
    values = np.random.default_rng(seed).integers(0, 3, shape)
    return np.kron(values, np.ones((1, 1, 2, 1)))


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("config", POOL_CONFIGS)
def test_max_pooling_takes_images_last_inputs(monkeypatch, nan_scratch, chunked, config):
    if chunked:  # the tap planes, a few channels (the outer memory axis) at a time
        monkeypatch.setattr(pool_module, "_TAP_PLANES_ELEMENTS", 1)
    k, s, p, d, ceil_mode = config[4:]
    x = _tied_input((max(config[0], 2), *config[1:4]), 40)
    want, want_idx = brute_max(x, k, s, p, d, ceil_mode)
    out, idx = max_pool2d(images_last(x), k, s, p, d, ceil_mode, return_indices=True)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(idx, want_idx)
    g = np.random.default_rng(41).standard_normal(want.shape)
    want_grad = brute_max_backward(g, x, k, s, p, d, ceil_mode)
    for gg in (g, images_last(g)):  # the gradient may come stored either way
        np.testing.assert_allclose(max_pool2d_backward(gg, images_last(x), k, s, p, d, ceil_mode),
                                   want_grad, rtol=1e-12)
        out, switches = _max_pool2d_with_switches(images_last(x), k, s, p, d, ceil_mode)
        padded = any(switches.pool.padding) or any(switches.pool.extra)  # a padded NCHW copy
        assert layout.is_images_last(out) != padded
        grad = _max_pool2d_backward_from_switches(gg, switches)
        np.testing.assert_allclose(grad, want_grad, rtol=1e-12)


def test_avg_pooling_and_relu_take_images_last_inputs(rng):
    x = rng.standard_normal((3, 2, 6, 6))
    np.testing.assert_allclose(avg_pool2d(images_last(x), 3, 2, 1), avg_pool2d(x, 3, 2, 1),
                               rtol=1e-12)
    g = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(relu(images_last(x)), np.where(x > 0, x, 0))
    for gg, xx in [(images_last(g), images_last(x)), (g, images_last(x)), (images_last(g), x)]:
        np.testing.assert_array_equal(relu_backward(gg, xx), np.where(x > 0, g, 0))


@pytest.mark.parametrize("store", ["C-contiguous", "images last", "strided", "0-d"])
def test_relu_against_shared_zeros_is_max_with_zero_and_never_shared(rng, store):
    x = rng.standard_normal((4, 3, 5, 6)).astype(np.float32)
    x[0, 0, 0, :3] = [np.nan, -np.inf, np.inf]
    x = {"C-contiguous": x, "images last": images_last(x), "strided": x[:, :, ::2],
         "0-d": np.float32(-2.5)}[store]
    want = np.where(np.isnan(x), x, np.where(x > 0, x, 0))
    got = relu(x)
    np.testing.assert_array_equal(got, want)
    if np.ndim(got):  # (a 0-d input gives a numpy scalar, as np.maximum does)
        got[...] = 7  # the result is the caller's: writing it must not touch relu's zeros
    np.testing.assert_array_equal(relu(x), want)


def test_keep_where_broadcasts_either_way_bit_for_bit(rng):
    values = rng.standard_normal((3, 4))
    values[0, 0], values[1, 2] = np.nan, np.inf
    keep_3d = rng.random((2, 3, 4)) < 0.5  # values broadcast over keep
    keep_row = rng.random(4) < 0.5  # keep broadcast over values
    for keep in (keep_3d, keep_row):
        want = np.where(keep, values, 0.0)
        got = keep_where(keep, values)
        assert got.shape == want.shape
        np.testing.assert_array_equal(got.view(np.uint64), want.view(np.uint64))


def _digits_like_network():
    return [nn.Conv2d(1, 4, 3, padding=1, rng=0, dtype=np.float64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 6, 3, padding=1, rng=1, dtype=np.float64), nn.ReLU(), nn.MaxPool2d(2)]


def test_a_small_network_passes_images_last_activations_and_matches_nchw(rng):
    """The digits network in training: every small activation and gradient between its layers
    is stored images last, and the numbers are those of the same layers fed C-contiguous
    copies of everything."""
    x = rng.standard_normal((5, 1, 8, 8))
    ours, nchw = _digits_like_network(), _digits_like_network()
    outputs, copies = [x], [x]
    for m, twin in zip(ours, nchw):
        outputs.append(m(outputs[-1]))
        copies.append(np.ascontiguousarray(twin(np.ascontiguousarray(copies[-1]))))
    assert all(layout.is_images_last(a) for a in outputs[1:])
    g = rng.standard_normal(outputs[-1].shape)
    grads, grad_copies = [g], [g]
    for m, twin in zip(reversed(ours), reversed(nchw)):
        grads.append(m.backward(grads[-1]))
        grad_copies.append(np.ascontiguousarray(twin.backward(np.ascontiguousarray(
            grad_copies[-1]))))
    assert all(layout.is_images_last(a) for a in grads[1:-1])  # the last is the data's gradient
    for got, want in zip(outputs + grads, copies + grad_copies):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    for m, twin in zip(ours, nchw):
        for p, q in zip(m.parameters(), twin.parameters()):
            np.testing.assert_allclose(p.grad, q.grad, rtol=1e-12, atol=1e-12)
