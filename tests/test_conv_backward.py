"""Are conv2d_backward's gradients right, and is the backward pass of a convolution a convolution?

Oracles: centred finite differences of the forward pass (written here), PyTorch autograd in
float64, scipy.signal's full convolution and valid correlation, and the naive loops.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from cnncourse.ops import conv as conv_module
from cnncourse.ops import im2col as im2col_module
from cnncourse.ops.conv import conv2d, conv2d_backward, conv2d_backward_naive

# (input shape, weight shape, keyword arguments), small enough for finite differences.
CASES = [
    ((2, 2, 5, 5), (3, 2, 3, 3), {}),
    ((1, 3, 6, 5), (2, 3, 2, 3), {"stride": 2, "padding": 1}),
    ((2, 2, 7, 6), (2, 2, 3, 2), {"stride": (2, 1), "padding": (1, 0), "dilation": (2, 1)}),
    ((1, 1, 7, 7), (1, 1, 3, 3), {"stride": 3}),  # the last row and column are never read
    ((2, 4, 5, 5), (4, 2, 3, 3), {"groups": 2, "padding": 1}),
    ((2, 3, 5, 6), (3, 1, 3, 3), {"groups": 3, "padding": "same"}),
    ((1, 2, 6, 6), (2, 2, 4, 4), {"padding": "same"}),
    ((3, 4, 4, 5), (2, 4, 1, 1), {}),
    ((2, 4, 5, 5), (3, 4, 1, 1), {"stride": 2}),
    ((2, 5, 6), (3, 2, 3, 3), {"padding": 1}),
    ((4, 1, 8, 8), (4, 1, 3, 3), {"padding": 1}),
    ((2, 2, 4, 5), (3, 2, 3, 3), {"padding": 2, "dilation": (1, 2)}),
    ((2, 2, 11, 13), (3, 2, 5, 5), {"stride": 2, "padding": 1}),
]
IDS = [f"{x}-{w}-{kw}" for x, w, kw in CASES]


def _problem(rng, x_shape, w_shape, kwargs):
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    gy = rng.standard_normal(conv2d(x, w, b, **kwargs).shape)
    return x, w, b, gy


def centred_differences(loss, array, eps=1e-6):
    """d loss / d array, one entry at a time: (loss(a + eps) - loss(a - eps)) / (2 eps)."""
    grad = np.zeros_like(array)
    flat = array.reshape(-1)  # a view: nudging it nudges `array`
    for i in range(flat.size):
        kept = flat[i]
        flat[i] = kept + eps
        up = loss()
        flat[i] = kept - eps
        down = loss()
        flat[i] = kept
        grad.reshape(-1)[i] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CASES, ids=IDS)
def test_gradients_match_centred_finite_differences(rng, x_shape, w_shape, kwargs):
    x, w, b, gy = _problem(rng, x_shape, w_shape, kwargs)

    def loss():
        return np.sum(conv2d(x, w, b, **kwargs) * gy)

    want = [centred_differences(loss, a) for a in (x, w, b)]
    for fn in (conv2d_backward, conv2d_backward_naive):
        for got, expected, name in zip(fn(gy, x, w, **kwargs), want, ("input", "weight", "bias")):
            assert got.shape == expected.shape, name
            np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7,
                                       err_msg=f"{fn.__name__}: grad_{name}")


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("x_shape, w_shape, kwargs", CASES, ids=IDS)
def test_gradients_match_torch_autograd_float64(rng, torch, x_shape, w_shape, kwargs):
    x, w, b, gy = _problem(rng, x_shape, w_shape, kwargs)
    xt, wt, bt = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, w, b))
    torch.nn.functional.conv2d(xt, wt, bt, **kwargs).backward(torch.from_numpy(gy))
    got = conv2d_backward(gy, x, w, **kwargs)
    for g, t in zip(got, (xt, wt, bt)):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CASES, ids=IDS)
def test_fast_backward_matches_the_naive_loops(rng, x_shape, w_shape, kwargs):
    x, w, _, gy = _problem(rng, x_shape, w_shape, kwargs)
    for fast, naive in zip(conv2d_backward(gy, x, w, **kwargs),
                           conv2d_backward_naive(gy, x, w, **kwargs)):
        np.testing.assert_allclose(fast, naive, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ratio", [0, 10**9])
@pytest.mark.parametrize("x_shape, w_shape, kwargs", CASES, ids=IDS)
def test_both_ways_of_computing_the_input_gradient_agree(rng, monkeypatch, ratio, x_shape,
                                                         w_shape, kwargs):
    # At stride 1 the input gradient is computed as a convolution of grad_output unless there
    # are many more output than input channels (then col2im is faster): force each way.
    monkeypatch.setattr(conv_module, "_TRANSPOSED_MAX_RATIO", ratio)
    x, w, _, gy = _problem(rng, x_shape, w_shape, kwargs)
    np.testing.assert_allclose(conv2d_backward(gy, x, w, **kwargs)[0],
                               conv2d_backward_naive(gy, x, w, **kwargs)[0],
                               rtol=1e-12, atol=1e-12)


# Columns side by side (small images) or per image (larger ones): 0 and 10**9 force each.
LAYOUTS = {"per image": 0, "side by side": 10**9}


@pytest.mark.parametrize("layout, wrap, unfold", [("side by side", False, 10**9),
                                                  ("per image", True, 10**9),
                                                  ("per image", False, 0),
                                                  ("per image", False, 10**9)])
@pytest.mark.parametrize("ratio", [0, 10**9])
@pytest.mark.parametrize("x_shape, w_shape, kwargs", CASES, ids=IDS)
def test_every_column_layout_gives_the_naive_gradients(rng, monkeypatch, nan_scratch, layout,
                                                       wrap, unfold, ratio, x_shape, w_shape,
                                                       kwargs):
    # wrap: stride-1 windows as runs of the flat image where the output is as wide as the input
    # unfold: per image, padded inputs are copied tap by tap from chunks this large (0: always)
    monkeypatch.setattr(conv_module, "_SIDE_BY_SIDE_MAX_LENGTH", LAYOUTS[layout])
    monkeypatch.setattr(im2col_module, "_WRAP_ROWS", wrap)
    monkeypatch.setattr(conv_module, "_UNFOLD_PER_TAP_MIN_ELEMENTS", unfold)
    monkeypatch.setattr(conv_module, "_TRANSPOSED_MAX_RATIO", ratio)
    x, w, _, gy = _problem(rng, x_shape, w_shape, kwargs)
    for got, want in zip(conv2d_backward(gy, x, w, **kwargs),
                         conv2d_backward_naive(gy, x, w, **kwargs)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CASES, ids=IDS)
def test_input_gradient_by_kernel_rows_gives_the_naive_gradients(rng, monkeypatch, nan_scratch,
                                                                 x_shape, w_shape, kwargs):
    # The input gradient as a convolution of grad_output (always, here), per image, multiplied
    # kernel row by kernel row wherever its windows wrap rows (conv._kernel_row_products)
    monkeypatch.setattr(conv_module, "_SIDE_BY_SIDE_MAX_LENGTH", LAYOUTS["per image"])
    monkeypatch.setattr(conv_module, "_TRANSPOSED_MAX_RATIO", 10**9)
    monkeypatch.setattr(conv_module, "_KERNEL_ROWS_MIN_RATIO", 0)
    x, w, _, gy = _problem(rng, x_shape, w_shape, kwargs)
    for got, want in zip(conv2d_backward(gy, x, w, **kwargs),
                         conv2d_backward_naive(gy, x, w, **kwargs)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("ratio", [0, 10**9])
@pytest.mark.parametrize("chunk", [1, 2 * 4 * 9 * 25 * 2])
def test_backward_in_batch_chunks_gives_the_same_gradients(rng, monkeypatch, nan_scratch, chunk,
                                                           ratio, layout):
    x, w, _, gy = _problem(rng, (5, 4, 5, 5), (6, 2, 3, 3), {"padding": 1, "groups": 2})
    want = conv2d_backward_naive(gy, x, w, padding=1, groups=2)
    monkeypatch.setattr(conv_module, "_CHUNK_ELEMENTS", chunk)
    monkeypatch.setattr(conv_module, "_TRANSPOSED_MAX_RATIO", ratio)
    monkeypatch.setattr(conv_module, "_SIDE_BY_SIDE_MAX_LENGTH", LAYOUTS[layout])
    for got, expected in zip(conv2d_backward(gy, x, w, padding=1, groups=2), want):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


# padding p <= k - 1, so that the flipped convolution below needs padding k - 1 - p >= 0
@pytest.mark.parametrize("kernel, padding", [((3, 3), 0), ((3, 3), 1), ((3, 3), 2), ((2, 3), 0),
                                             ((2, 3), 1), ((1, 1), 0)])
def test_input_gradient_is_a_full_convolution_with_flipped_filters(rng, kernel, padding):
    """At stride 1, dL/dx is grad_output convolved with the filters flipped in both spatial axes,
    with in/out channels swapped, zero-padded by k - 1 - p so that the result is "full" size."""
    kh, kw = kernel
    x, w, _, gy = _problem(rng, (2, 3, 6, 7), (4, 3, kh, kw), {"padding": padding})
    grad_input = conv2d_backward(gy, x, w, padding=padding)[0]
    flipped = w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]  # (C_in, C_out, kH, kW)
    as_conv = conv2d(gy, flipped, padding=(kh - 1 - padding, kw - 1 - padding))
    np.testing.assert_allclose(grad_input, as_conv, rtol=1e-12, atol=1e-12)
    if padding == 0:
        # the same thing in signal-processing words: a full 2-D convolution (scipy flips)
        full = np.array([[sum(scipy.signal.convolve2d(gy[n, k], w[k, c], mode="full")
                              for k in range(w.shape[0]))
                          for c in range(x.shape[1])] for n in range(x.shape[0])])
        np.testing.assert_allclose(grad_input, full, rtol=1e-12, atol=1e-12)


def test_weight_gradient_is_a_correlation_of_input_and_grad_output(rng):
    """At stride 1 without padding, dL/dw[k, c] = sum over the batch of x[n, c] correlated with
    grad_output[n, k]: the output gradient plays the role of the kernel."""
    x, w, _, gy = _problem(rng, (3, 2, 7, 6), (4, 2, 3, 2), {})
    grad_weight = conv2d_backward(gy, x, w)[1]
    want = np.array([[sum(scipy.signal.correlate2d(x[n, c], gy[n, k], mode="valid")
                          for n in range(x.shape[0]))
                      for c in range(x.shape[1])] for k in range(w.shape[0])])
    np.testing.assert_allclose(grad_weight, want, rtol=1e-12, atol=1e-12)


def test_bias_gradient_sums_grad_output_over_batch_and_positions(rng):
    x, w, _, gy = _problem(rng, (3, 2, 5, 5), (4, 2, 3, 3), {})
    np.testing.assert_allclose(conv2d_backward(gy, x, w)[2],
                               [gy[:, k].sum() for k in range(4)], rtol=1e-12)


def test_pixels_no_window_reads_get_zero_gradient(rng):
    # 7x7 input, 3x3 kernel, stride 3: windows start at 0 and 3, so row/column 6 is never used.
    x, w, _, gy = _problem(rng, (1, 1, 7, 7), (1, 1, 3, 3), {"stride": 3})
    grad_input = conv2d_backward(gy, x, w, stride=3)[0]
    assert np.all(grad_input[..., 6, :] == 0) and np.all(grad_input[..., :, 6] == 0)
    assert np.all(grad_input[..., :6, :6] != 0)


@pytest.mark.parametrize("w_shape, kwargs", [((3, 4, 3, 3), {"padding": 1}), ((3, 4, 1, 1), {})])
def test_float32_stays_float32(rng, w_shape, kwargs):
    x, w, _, gy = _problem(rng, (2, 4, 6, 6), w_shape, kwargs)
    got = conv2d_backward(gy.astype(np.float32), x.astype(np.float32), w.astype(np.float32),
                          **kwargs)
    want = conv2d_backward(gy, x, w, **kwargs)
    for g, expected in zip(got, want):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fn", [conv2d_backward, conv2d_backward_naive])
def test_grad_output_of_the_wrong_shape_is_refused(fn):
    with pytest.raises(RuntimeError, match=r"expected grad_output of shape \(2, 3, 3, 3\) "
                                           r"\(the shape of the forward output\), got "
                                           r"grad_output of shape \(2, 3, 5, 5\)"):
        fn(np.zeros((2, 3, 5, 5)), np.zeros((2, 4, 5, 5)), np.zeros((3, 4, 3, 3)))
    with pytest.raises(RuntimeError, match=r"expected grad_output of shape \(3, 3, 3\)"):
        fn(np.zeros((1, 3, 3, 3)), np.zeros((4, 5, 5)), np.zeros((3, 4, 3, 3)))
    with pytest.raises(TypeError, match=r"grad_output must be an array of real numbers"):
        fn(np.full((2, 3, 3, 3), "x"), np.zeros((2, 4, 5, 5)), np.zeros((3, 4, 3, 3)))


@pytest.mark.parametrize("mask", [(False, True, True), (True, False, True), (True, True, False),
                                  (False, False, True), (False, True, False)])
@pytest.mark.parametrize("x_shape, w_shape, kwargs", [CASES[0], CASES[1], CASES[7],
                                                      CASES[10]], ids=str)
def test_output_mask_skips_exactly_the_masked_gradients(rng, mask, x_shape, w_shape, kwargs):
    x, w, _, gy = _problem(rng, x_shape, w_shape, kwargs)
    full = conv2d_backward_naive(gy, x, w, **kwargs)
    got = conv2d_backward(gy, x, w, **kwargs, output_mask=mask)
    for wanted, g, want in zip(mask, got, full):
        if wanted:
            np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-12)
        else:
            assert g is None


@pytest.mark.parametrize("mask", [(True, True), [1, 1, 1], "yes", (True, None, True)])
def test_a_bad_output_mask_is_refused(rng, mask):
    x, w, _, gy = _problem(rng, *CASES[0][:2], {})
    with pytest.raises(TypeError, match="output_mask must be three bools"):
        conv2d_backward(gy, x, w, output_mask=mask)
