"""Does conv2d compute torch.nn.functional.conv2d, for every stride, padding, dilation and group?

Oracles: a shift-and-add loop written here (independent of the package's im2col and of its
naive loops), scipy.signal for the single-channel correlation/convolution, and PyTorch in
float64 when it is installed.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cnncourse.ops import conv as conv_module
from cnncourse.ops import im2col as im2col_module
from cnncourse.ops.conv import (
    conv2d,
    conv2d_backward,
    conv2d_naive,
    convolve2d,
    corr2d,
)
from cnncourse.ops.local import locally_connected2d


# --------------------------------------------------------------------------- the oracle
def _as_pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _pads(padding, kernel, dilation):
    """(top, bottom, left, right) zeros, with PyTorch's rule for 'same' (extra zero after)."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        th, tw = (d * (k - 1) for d, k in zip(dilation, kernel))
        return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
    ph, pw = _as_pair(padding)
    return (ph, ph, pw, pw)


def loop_conv(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """y[n, o] = sum over (c, u, v) of w[o, c, u, v] * (the input plane shifted by (u, v))."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    (sh, sw), (dh, dw) = _as_pair(stride), _as_pair(dilation)
    k, c_g, kh, kw = w.shape
    top, bottom, left, right = _pads(padding, (kh, kw), (dh, dw))
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    h_out = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    w_out = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((x.shape[0], k, h_out, w_out))
    for o in range(k):
        group = o // (k // groups)
        for ci in range(c_g):
            for u in range(kh):
                for v in range(kw):
                    plane = xp[:, group * c_g + ci,
                               u * dh: u * dh + sh * (h_out - 1) + 1: sh,
                               v * dw: v * dw + sw * (w_out - 1) + 1: sw]
                    out[:, o] += w[o, ci, u, v] * plane
        if b is not None:
            out[:, o] += b[o]
    return out[0] if unbatched else out


# (input shape, weight shape, keyword arguments): batch 1 and many, 1 and many channels,
# rectangular images and kernels, strides, paddings, dilations, groups, windows that do not
# tile the input evenly, 'same'/'valid', unbatched input, 1x1 kernels.
CASES = [
    ((1, 1, 5, 5), (1, 1, 3, 3), {}),
    ((4, 3, 7, 6), (5, 3, 3, 2), {"stride": 2, "padding": 1}),
    ((2, 2, 9, 8), (3, 2, 3, 3), {"stride": (2, 3), "padding": (2, 0), "dilation": (2, 1)}),
    ((1, 2, 11, 13), (3, 2, 5, 3), {"stride": 3, "padding": (1, 2)}),
    ((2, 4, 6, 6), (6, 2, 3, 3), {"groups": 2, "padding": 1}),
    ((3, 4, 5, 7), (4, 1, 3, 3), {"groups": 4, "padding": "same"}),
    ((2, 3, 6, 5), (6, 1, 2, 2), {"groups": 3, "stride": 2}),
    ((2, 3, 7, 8), (2, 3, 4, 2), {"padding": "same"}),
    ((2, 3, 7, 8), (2, 3, 3, 2), {"padding": "same", "dilation": (2, 3)}),
    ((2, 3, 5, 6), (4, 3, 2, 3), {"padding": "valid"}),
    ((3, 6, 5, 4), (4, 6, 1, 1), {}),
    ((2, 6, 5, 4), (4, 6, 1, 1), {"stride": 2, "padding": 1}),
    ((2, 6, 5, 4), (4, 3, 1, 1), {"groups": 2}),
    ((5, 1, 8, 8), (16, 1, 3, 3), {"padding": 1}),
    ((1, 2, 3, 4), (2, 2, 3, 4), {}),
    ((3, 6, 6), (2, 3, 3, 3), {"padding": 1}),
    ((5, 4, 6), (3, 5, 1, 1), {}),
    ((2, 3, 5, 6), (4, 3, 3, 3), {"padding": (2, 1)}),
    ((2, 2, 6, 5), (3, 2, 3, 1), {"padding": (1, 0)}),
    ((1, 2, 4, 2), (3, 2, 3, 7), {"padding": "same"}),
    # strides smaller than the kernel in both axes: taps filled by shifting rows and columns
    ((2, 3, 13, 15), (4, 3, 5, 7), {"stride": 2, "padding": (1, 2)}),
    ((2, 2, 15, 17), (3, 2, 3, 5), {"stride": (1, 2), "dilation": (1, 2)}),
    ((2, 2, 12, 14), (3, 2, 4, 3), {"stride": (2, 2), "dilation": (3, 3)}),
    ((1, 3, 23, 27), (4, 3, 11, 11), {"stride": 4}),
]
IDS = [f"{x}-{w}-{kw}" for x, w, kw in CASES]


def _operands(rng, x_shape, w_shape, bias=True, dtype=np.float64):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype) if bias else None
    return x, w, b


# --------------------------------------------------------------------------- values
@pytest.mark.parametrize("fn", [conv2d, conv2d_naive])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape, w_shape, kwargs", CASES, ids=IDS)
def test_conv2d_matches_the_loop_oracle(rng, fn, bias, x_shape, w_shape, kwargs):
    x, w, b = _operands(rng, x_shape, w_shape, bias)
    got = fn(x, w, b, **kwargs)
    want = loop_conv(x, w, b, **kwargs)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("x_shape, w_shape, kwargs", CASES, ids=IDS)
def test_conv2d_matches_torch_float64(rng, torch, x_shape, w_shape, kwargs):
    x, w, b = _operands(rng, x_shape, w_shape)
    want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                                      torch.from_numpy(b), **kwargs).numpy()
    got = conv2d(x, w, b, **kwargs)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_an_empty_batch_gives_an_empty_output(rng):
    x, w, b = _operands(rng, (0, 3, 5, 5), (2, 3, 3, 3))
    assert conv2d(x, w, b).shape == (0, 2, 3, 3)


# conv2d lays the columns of small images side by side (one matrix multiply for the batch) and
# those of larger images per image; 0 and 10**9 force each layout whatever the image size.
LAYOUTS = {"per image": 0, "side by side": 10**9}


# Per image, stride-1 inputs whose output is as wide as the input are read as runs of the flat
# image ("rows wrapped"); other padded inputs are unfolded tap by tap (large chunks) or padded
# first (small ones). Values: (_WRAP_ROWS, _UNFOLD_PER_TAP_MIN_ELEMENTS).
UNFOLDS = {"rows wrapped": (True, 10**9), "tap by tap": (False, 0),
           "padded first": (False, 10**9)}


@pytest.mark.parametrize("layout, unfold", [("side by side", "padded first"),
                                            ("per image", "rows wrapped"),
                                            ("per image", "tap by tap"),
                                            ("per image", "padded first")])
@pytest.mark.parametrize("x_shape, w_shape, kwargs", CASES, ids=IDS)
def test_every_way_of_unfolding_matches_the_loop_oracle(rng, monkeypatch, nan_scratch, layout,
                                                        unfold, x_shape, w_shape, kwargs):
    monkeypatch.setattr(conv_module, "_SIDE_BY_SIDE_MAX_LENGTH", LAYOUTS[layout])
    monkeypatch.setattr(im2col_module, "_WRAP_ROWS", UNFOLDS[unfold][0])
    monkeypatch.setattr(conv_module, "_UNFOLD_PER_TAP_MIN_ELEMENTS", UNFOLDS[unfold][1])
    x, w, b = _operands(rng, x_shape, w_shape)
    np.testing.assert_allclose(conv2d(x, w, b, **kwargs), loop_conv(x, w, b, **kwargs),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CASES, ids=IDS)
def test_taps_shifted_one_channel_at_a_time_match_the_loop_oracle(rng, monkeypatch, nan_scratch,
                                                                  x_shape, w_shape, kwargs):
    # The small cases above copy the shifted taps of all channels at once; large ones copy them
    # channel by channel (and kernel row by kernel row), which a threshold of 0 forces here.
    monkeypatch.setattr(conv_module, "_SIDE_BY_SIDE_MAX_LENGTH", LAYOUTS["per image"])
    monkeypatch.setattr(im2col_module, "_WRAP_ROWS", False)
    monkeypatch.setattr(conv_module, "_UNFOLD_PER_TAP_MIN_ELEMENTS", 10**9)
    monkeypatch.setattr(im2col_module, "_SHIFT_ONE_AT_A_TIME_MIN_ELEMENTS", 0)
    x, w, b = _operands(rng, x_shape, w_shape)
    np.testing.assert_allclose(conv2d(x, w, b, **kwargs), loop_conv(x, w, b, **kwargs),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel_rows", [0, 10**9], ids=["kernel rows", "im2col"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape, w_shape, kwargs", CASES, ids=IDS)
def test_products_kernel_row_by_kernel_row_match_the_loop_oracle(rng, monkeypatch, nan_scratch,
                                                                 kernel_rows, bias, x_shape,
                                                                 w_shape, kwargs):
    # Per image, rows-wrapped convolutions with many input channels per output channel are
    # multiplied kernel row by kernel row from shared shifted copies; 0 forces that for every
    # rows-wrapped case here (the others keep im2col), 10**9 never.
    monkeypatch.setattr(conv_module, "_SIDE_BY_SIDE_MAX_LENGTH", LAYOUTS["per image"])
    monkeypatch.setattr(conv_module, "_KERNEL_ROWS_MIN_RATIO", kernel_rows)
    x, w, b = _operands(rng, x_shape, w_shape, bias)
    np.testing.assert_allclose(conv2d(x, w, b, **kwargs), loop_conv(x, w, b, **kwargs),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("chunk", [1, 3 * 2 * 9 * 25 * 2])
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_in_batch_chunks_gives_the_same_result(rng, monkeypatch, nan_scratch, chunk, bias,
                                                      layout):
    # Large batches are unfolded a few images at a time; force that path, including a short
    # last chunk (5 images in chunks of 2) and grouped weights.
    monkeypatch.setattr(conv_module, "_CHUNK_ELEMENTS", chunk)
    monkeypatch.setattr(conv_module, "_SIDE_BY_SIDE_MAX_LENGTH", LAYOUTS[layout])
    x, w, b = _operands(rng, (5, 4, 5, 5), (6, 2, 3, 3), bias)
    np.testing.assert_allclose(conv2d(x, w, b, padding=1, groups=2),
                               loop_conv(x, w, b, padding=1, groups=2), rtol=1e-12, atol=1e-12)


def test_a_result_is_not_overwritten_by_the_next_call(rng):
    # conv2d reuses scratch arrays between calls; what it returns must never be one of them.
    x, w, b = _operands(rng, (3, 2, 6, 6), (4, 2, 3, 3))
    first = conv2d(x, w, b, padding=1)
    kept = first.copy()
    conv2d(2 * x, -w, b, padding=1)
    np.testing.assert_array_equal(first, kept)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_calls_that_reuse_prepared_buffers_match_the_loop_oracle(rng, monkeypatch, layout):
    # Small calls keep their columns and padded copies, with the zeros and ones in them, from
    # one call to the next (_memory.prepared): the same geometries again with other numbers
    from cnncourse.ops import _memory

    monkeypatch.setattr(conv_module, "_SIDE_BY_SIDE_MAX_LENGTH", LAYOUTS[layout])
    monkeypatch.setitem(_memory._local.__dict__, "prepared", {})
    # pairs whose buffers have the same shape: 9 rows of columns and a row of ones, or 10
    # rows; padded flat images of 2h + 6 numbers, two rows and two pixels or three rows
    geometries = [((3, 1, 6, 6), (4, 1, 3, 3), {"padding": 1}, True),
                  ((3, 1, 6, 6), (4, 1, 2, 5), {"padding": "same"}, False),
                  ((2, 3, 5, 2), (8, 3, 3, 3), {"padding": 1}, True),
                  ((2, 3, 5, 2), (8, 3, 4, 1), {"padding": "same"}, True),
                  ((2, 3, 7, 5), (4, 3, 3, 3), {"padding": (2, 1)}, True),
                  ((3, 2, 6, 6), (4, 2, 3, 3), {"padding": 1, "stride": 2}, True)]
    for x_shape, w_shape, kwargs, bias in geometries * 2:
        x, w, b = _operands(rng, x_shape, w_shape, bias)
        np.testing.assert_allclose(conv2d(x, w, b, **kwargs), loop_conv(x, w, b, **kwargs),
                                   rtol=1e-12, atol=1e-12)
    kept = {key[0] for key in _memory._local.__dict__["prepared"]}
    assert "conv2d columns" in kept
    assert ("conv2d images last" if layout == "side by side" else "conv2d rows") in kept


def test_unbatched_input_is_the_first_image_of_a_batch(rng):
    x, w, b = _operands(rng, (1, 3, 6, 7), (4, 3, 3, 3))
    np.testing.assert_array_equal(conv2d(x[0], w, b, stride=2), conv2d(x, w, b, stride=2)[0])


def test_same_padding_keeps_the_spatial_size(rng):
    for kernel in [(1, 1), (2, 2), (3, 4), (5, 3)]:
        x, w, b = _operands(rng, (2, 3, 7, 6), (4, 3, *kernel))
        assert conv2d(x, w, b, padding="same").shape == (2, 4, 7, 6)
        assert conv2d(x, w, b, padding="same", dilation=2).shape == (2, 4, 7, 6)


def test_the_kernel_is_not_flipped():
    # A kernel with a single 1 at its top-left picks the pixel at the window's top-left:
    # cross-correlation. A true convolution would pick the bottom-right one.
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.zeros((1, 1, 2, 2))
    w[0, 0, 0, 0] = 1.0
    np.testing.assert_array_equal(conv2d(x, w)[0, 0], x[0, 0, :3, :3])


# --------------------------------------------------------------------------- dtypes
def test_float32_stays_float32_and_agrees_with_float64(rng):
    x, w, b = _operands(rng, (3, 4, 9, 9), (5, 4, 3, 3))
    got = conv2d(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32), padding=1)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, loop_conv(x, w, b, padding=1), rtol=1e-4, atol=1e-4)
    pointwise = conv2d(x.astype(np.float32), w[:, :, :1, :1].astype(np.float32))
    assert pointwise.dtype == np.float32


def test_any_float64_operand_gives_float64(rng):
    x, w, b = _operands(rng, (1, 2, 5, 5), (3, 2, 3, 3))
    assert conv2d(x.astype(np.float32), w, b.astype(np.float32)).dtype == np.float64
    assert conv2d(x, w.astype(np.float32)).dtype == np.float64


def test_integer_and_bool_inputs_are_promoted_to_float64():
    x = np.arange(25).reshape(1, 1, 5, 5)
    w = np.ones((1, 1, 2, 2), dtype=bool)
    got = conv2d(x, w)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, loop_conv(x, w.astype(float)))


# --------------------------------------------------------------------------- corr2d, convolve2d
@pytest.mark.parametrize("image, kernel", [((5, 5), (3, 3)), ((6, 9), (2, 4)), ((4, 4), (4, 4)),
                                           ((7, 3), (1, 1))])
def test_corr2d_is_scipy_correlate2d_valid(rng, image, kernel):
    x, k = rng.standard_normal(image), rng.standard_normal(kernel)
    np.testing.assert_allclose(corr2d(x, k), scipy.signal.correlate2d(x, k, mode="valid"),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("image, kernel", [((5, 5), (3, 3)), ((6, 9), (2, 4)), ((7, 3), (1, 1))])
def test_convolve2d_is_scipy_convolve2d_valid(rng, image, kernel):
    x, k = rng.standard_normal(image), rng.standard_normal(kernel)
    np.testing.assert_allclose(convolve2d(x, k), scipy.signal.convolve2d(x, k, mode="valid"),
                               rtol=1e-12, atol=1e-12)


def test_correlation_and_convolution_differ_by_flipping_the_kernel(rng):
    x, k = rng.standard_normal((6, 6)), rng.standard_normal((3, 3))
    assert not np.allclose(corr2d(x, k), convolve2d(x, k))
    np.testing.assert_allclose(convolve2d(x, k), corr2d(x, k[::-1, ::-1]), rtol=1e-12)
    # a symmetric kernel cannot tell them apart
    sym = k + k[::-1, ::-1]
    np.testing.assert_allclose(convolve2d(x, sym), corr2d(x, sym), rtol=1e-12)


def test_conv2d_on_one_channel_is_corr2d(rng):
    x, k = rng.standard_normal((7, 5)), rng.standard_normal((3, 2))
    np.testing.assert_allclose(conv2d(x[None, None], k[None, None])[0, 0],
                               scipy.signal.correlate2d(x, k, mode="valid"), rtol=1e-12)


def test_corr2d_keeps_float32():
    assert corr2d(np.ones((4, 4), np.float32), np.ones((2, 2), np.float32)).dtype == np.float32


# --------------------------------------------------------------------------- locally connected
def loop_locally_connected(x, w, b, stride, padding):
    (sh, sw), (ph, pw) = _as_pair(stride), _as_pair(padding)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    h_out, w_out, k, _, kh, kw = w.shape
    out = np.zeros((x.shape[0], k, h_out, w_out))
    for n in range(x.shape[0]):
        for o in range(k):
            for i in range(h_out):
                for j in range(w_out):
                    patch = xp[n, :, i * sh: i * sh + kh, j * sw: j * sw + kw]
                    out[n, o, i, j] = np.sum(patch * w[i, j, o])
                    out[n, o, i, j] += 0.0 if b is None else b[o, i, j]
    return out


@pytest.mark.parametrize("x_shape, k, kernel, stride, padding, out_hw", [
    ((2, 3, 6, 5), 4, (3, 2), 1, 0, (4, 4)),
    ((1, 2, 7, 7), 3, (3, 3), 2, 1, (4, 4)),
    ((3, 1, 5, 8), 2, (2, 3), (1, 2), (0, 1), (4, 4)),
])
@pytest.mark.parametrize("bias", [True, False])
def test_locally_connected2d_matches_loops(rng, x_shape, k, kernel, stride, padding, out_hw, bias):
    w = rng.standard_normal((*out_hw, k, x_shape[1], *kernel))
    b = rng.standard_normal((k, *out_hw)) if bias else None
    x = rng.standard_normal(x_shape)
    got = locally_connected2d(x, w, b, stride=stride, padding=padding)
    np.testing.assert_allclose(got, loop_locally_connected(x, w, b, stride, padding),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(locally_connected2d(x[0], w, b, stride=stride, padding=padding),
                               got[0], rtol=1e-12)


def test_locally_connected2d_with_tied_weights_is_a_convolution(rng):
    # Parameter sharing is exactly what separates the two layers: give every position the same
    # filters and biases and the locally connected layer becomes conv2d.
    x, w, b = _operands(rng, (2, 3, 7, 6), (4, 3, 3, 3))
    tied_w = np.broadcast_to(w, (3, 2, *w.shape))
    tied_b = np.broadcast_to(b[:, None, None], (4, 3, 2))
    np.testing.assert_allclose(locally_connected2d(x, tied_w, tied_b, stride=2),
                               loop_conv(x, w, b, stride=2), rtol=1e-12)


def test_locally_connected2d_keeps_float32(rng):
    x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    w = rng.standard_normal((2, 2, 3, 2, 3, 3)).astype(np.float32)
    assert locally_connected2d(x, w).dtype == np.float32


# --------------------------------------------------------------------------- equivariance
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    size=st.tuples(st.integers(6, 11), st.integers(6, 11)),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.integers(1, 2),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 2),
    shift=st.tuples(st.integers(-2, 2), st.integers(-2, 2)),
    seed=st.integers(0, 2**16),
)
def test_shifting_the_input_shifts_the_output(size, kernel, stride, padding, dilation, shift, seed):
    """Equivariance: move the image by (dy, dx) (a multiple of the stride, zeros coming in) and
    the feature map moves by (dy, dx)/stride, wherever no window touches the border."""
    rng = np.random.default_rng(seed)
    h, w = size
    x = rng.standard_normal((1, 2, h, w))
    weight = rng.standard_normal((3, 2, *kernel))
    dy, dx = shift[0] * stride, shift[1] * stride
    moved = np.zeros_like(x)
    moved[..., max(dy, 0): h + min(dy, 0), max(dx, 0): w + min(dx, 0)] = \
        x[..., max(-dy, 0): h - max(dy, 0), max(-dx, 0): w - max(dx, 0)]
    kw = {"stride": stride, "padding": padding, "dilation": dilation}
    assume(min(h, w) + 2 * padding >= dilation * (max(kernel) - 1) + 1)
    y, y_moved = conv2d(x, weight, **kw), conv2d(moved, weight, **kw)

    def clear_of_borders(n_out, n_in, k, move):
        # output positions whose whole window lies inside the image before and after the move
        return [i for i in range(n_out)
                if 0 <= i + move // stride < n_out
                and all(0 <= i * stride - padding + u * dilation < n_in
                        and 0 <= i * stride - padding + u * dilation + move < n_in
                        for u in range(k))]

    rows = clear_of_borders(y.shape[2], h, kernel[0], dy)
    cols = clear_of_borders(y.shape[3], w, kernel[1], dx)
    assume(rows and cols)
    r, c = np.ix_(rows, cols)
    np.testing.assert_allclose(y_moved[..., r + dy // stride, c + dx // stride], y[..., r, c],
                               rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- errors
def _backward(x, w, *args, **kwargs):
    """conv2d_backward with a grad_output of the right shape (the shape check comes later)."""
    y = conv2d_naive(x, w, None, *args, **kwargs)
    return conv2d_backward(np.ones_like(y), x, w, *args, **kwargs)


X = np.zeros((1, 3, 5, 5))
W = np.zeros((2, 3, 3, 3))


@pytest.mark.parametrize("fn", [conv2d, conv2d_naive])
@pytest.mark.parametrize("args, kwargs, error, match", [
    ((np.zeros((5, 5)), W), {}, RuntimeError,
     r"expected input to be 3D or 4D.*got input of shape \(5, 5\)"),
    ((X, np.zeros((2, 3, 3))), {}, RuntimeError,
     r"expected weight to be 4D.*got weight of shape \(2, 3, 3\)"),
    ((np.zeros((1, 4, 5, 5)), W), {}, RuntimeError,
     (r"Given groups=1, weight of size \[2, 3, 3, 3\], expected input\[1, 4, 5, 5\] to have 3 "
     r"channels, but got 4 channels instead")),
    ((np.zeros((4, 5, 5)), W), {}, RuntimeError,
     r"expected input\[1, 4, 5, 5\] to have 3 channels, but got 4 channels instead"),
    ((np.zeros((1, 4, 5, 5)), np.zeros((3, 2, 3, 3))), {"groups": 2}, RuntimeError,
     r"Given groups=2, expected weight to be divisible by 2 at dimension 0.*\[3, 2, 3, 3\]"),
    ((np.zeros((1, 3, 5, 5)), np.zeros((4, 2, 3, 3))), {"groups": 2}, RuntimeError,
     (r"Given groups=2, weight of size \[4, 2, 3, 3\], expected input\[1, 3, 5, 5\] to have 4 "
     r"channels, but got 3")),
    ((X, W), {"groups": 0}, RuntimeError, r"non-positive groups is not supported.*groups=0"),
    ((X, W), {"groups": 1.5}, TypeError, r"groups must be an int, got 1.5"),
    ((np.zeros((1, 3, 2, 2)), W), {}, RuntimeError,
     (r"Calculated padded input size per channel: \(2 x 2\)\. Kernel size: \(3 x 3\)\. "
     r"Kernel size can't be greater than actual input size")),
    ((np.zeros((1, 3, 5, 6)), W), {"dilation": 3}, RuntimeError,
     r"padded input size per channel: \(5 x 6\)\. Kernel size: \(7 x 7\)"),
    ((np.zeros((1, 3, 2, 2)), W), {"padding": 1, "dilation": 2}, RuntimeError,
     r"padded input size per channel: \(4 x 4\)\. Kernel size: \(5 x 5\)"),
    ((X, W), {"stride": 0}, RuntimeError, r"non-positive stride is not supported.*\(0, 0\)"),
    ((X, W), {"stride": (1, -1)}, RuntimeError, r"non-positive stride.*\(1, -1\)"),
    ((X, W), {"dilation": 0}, RuntimeError, r"non-positive dilation is not supported"),
    ((X, W), {"padding": -1}, RuntimeError, r"negative padding is not supported.*\(-1, -1\)"),
    ((X, W), {"padding": "full"}, RuntimeError, r"invalid padding string 'full'"),
    ((X, W), {"padding": "same", "stride": 2}, RuntimeError,
     r"padding='same' is not supported for strided convolutions"),
    ((X, W, np.zeros(3)), {}, RuntimeError,
     r"expected bias to be 1-dimensional with 2 elements, but got bias of size \[3\]"),
    ((X, W, np.zeros((2, 1))), {}, RuntimeError, r"but got bias of size \[2, 1\]"),
    ((X, W), {"stride": (1, 2, 3)}, TypeError, r"stride must be an int or a pair of ints"),
    ((X, W), {"padding": 1.5}, TypeError, r"padding must be an int or a pair of ints"),
    ((np.full((1, 3, 5, 5), "a"), W), {}, TypeError, r"input must be an array of real numbers"),
    ((X, W.astype(complex)), {}, TypeError, r"weight must be an array of real numbers.*complex"),
    ((X, W, ["a", "b"]), {}, TypeError, r"bias must be an array of real numbers"),
])
def test_bad_arguments_raise_like_pytorch(fn, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        fn(*args, **kwargs)


def test_the_backward_pass_validates_its_arguments_the_same_way():
    with pytest.raises(RuntimeError, match=r"expected input\[1, 4, 5, 5\] to have 3 channels"):
        conv2d_backward(np.zeros((1, 2, 3, 3)), np.zeros((1, 4, 5, 5)), W)
    with pytest.raises(RuntimeError, match=r"padding='same' is not supported for strided"):
        _backward(X, W, stride=2, padding="same")


@pytest.mark.parametrize("args, kwargs, match", [
    ((X, np.zeros((3, 3, 2, 3, 3))), {}, r"expected weight to be 6D.*\(H_out, W_out"),
    ((X, np.zeros((3, 3, 2, 4, 3, 3))), {}, r"expects input with 4 channels.*3 channels"),
    ((X, np.zeros((2, 3, 2, 3, 3, 3))), {},
     r"gives outputs of size \(3, 3\).*expected weight\.shape\[:2\] == \(3, 3\)"),
    ((X, np.zeros((3, 3, 2, 3, 3, 3)), np.zeros(2)), {},
     r"expected bias of shape.*\(2, 3, 3\), got bias of shape \(2,\)"),
    ((X, np.zeros((2, 2, 2, 3, 3, 3))), {"stride": 0}, r"non-positive stride"),
])
def test_locally_connected2d_rejects_bad_arguments(args, kwargs, match):
    with pytest.raises(RuntimeError, match=match):
        locally_connected2d(*args, **kwargs)


@pytest.mark.parametrize("fn", [corr2d, convolve2d])
def test_corr2d_and_convolve2d_reject_bad_arguments(fn):
    with pytest.raises(RuntimeError, match=r"expected x to be 2D \(H, W\), but got x of shape "
                                           r"\(1, 4, 4\)"):
        fn(np.zeros((1, 4, 4)), np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match=r"expected k to be 2D"):
        fn(np.zeros((4, 4)), np.zeros(2))
    with pytest.raises(RuntimeError, match=r"kernel k of shape \(2, 5\) is larger than the "
                                           r"image x of shape \(4, 4\)"):
        fn(np.zeros((4, 4)), np.zeros((2, 5)))
    with pytest.raises(TypeError, match=r"x must be an array of real numbers"):
        fn(np.array([["a"]]), np.zeros((1, 1)))
