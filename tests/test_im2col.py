"""Are im2col and col2im torch's unfold and fold, and is a convolution one matrix multiply?"""

from __future__ import annotations

import numpy as np
import pytest

from cnncourse.ops.conv import conv2d
from cnncourse.ops.im2col import col2im, im2col


def loop_im2col(x, kernel, dilation, padding, stride):
    """Column l = i*W_out + j holds block (i, j), channel-major then kernel row then column."""
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel, dilation, padding, stride
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, c = x.shape[:2]
    h_out = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    w_out = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    cols = np.zeros((n, c * kh * kw, h_out * w_out))
    for i in range(h_out):
        for j in range(w_out):
            for ch in range(c):
                for u in range(kh):
                    for v in range(kw):
                        cols[:, ch * kh * kw + u * kw + v, i * w_out + j] = \
                            xp[:, ch, i * sh + u * dh, j * sw + v * dw]
    return cols


def loop_col2im(cols, size, kernel, dilation, padding, stride):
    """Every column entry is added back to the pixel it was copied from."""
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel, dilation, padding, stride
    h, w = size
    n, rows, length = cols.shape
    c = rows // (kh * kw)
    w_out = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw))
    for l in range(length):
        i, j = divmod(l, w_out)
        for ch in range(c):
            for u in range(kh):
                for v in range(kw):
                    row = ch * kh * kw + u * kw + v
                    xp[:, ch, i * sh + u * dh, j * sw + v * dw] += cols[:, row, l]
    return xp[:, :, ph: ph + h, pw: pw + w]


# (input shape, kernel, dilation, padding, stride)
CASES = [
    ((1, 1, 4, 4), (2, 2), (1, 1), (0, 0), (1, 1)),
    ((2, 3, 7, 8), (2, 3), (1, 2), (1, 0), (2, 1)),
    ((3, 2, 6, 5), (3, 3), (1, 1), (1, 1), (2, 2)),
    ((1, 4, 9, 7), (3, 2), (2, 1), (2, 1), (3, 2)),
    ((2, 2, 5, 5), (1, 1), (1, 1), (0, 0), (1, 1)),
    ((2, 1, 5, 5), (5, 5), (1, 1), (0, 0), (1, 1)),
]
IDS = [f"{c[0]}-k{c[1]}-d{c[2]}-p{c[3]}-s{c[4]}" for c in CASES]


def _kwargs(kernel, dilation, padding, stride):
    return {"kernel_size": kernel, "dilation": dilation, "padding": padding, "stride": stride}


@pytest.mark.parametrize("shape, kernel, dilation, padding, stride", CASES, ids=IDS)
def test_im2col_matches_loops_and_torch_unfold(rng, torch, shape, kernel, dilation, padding,
                                               stride):
    x = rng.standard_normal(shape)
    kw = _kwargs(kernel, dilation, padding, stride)
    got = im2col(x, **kw)
    np.testing.assert_array_equal(got, loop_im2col(x, kernel, dilation, padding, stride))
    want = torch.nn.functional.unfold(torch.from_numpy(x), **kw).numpy()
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(im2col(x[0], **kw), got[0])


@pytest.mark.parametrize("shape, kernel, dilation, padding, stride", CASES, ids=IDS)
def test_col2im_matches_loops_and_torch_fold(rng, torch, shape, kernel, dilation, padding, stride):
    kw = _kwargs(kernel, dilation, padding, stride)
    cols_shape = im2col(np.zeros(shape), **kw).shape
    cols = rng.standard_normal(cols_shape)
    size = shape[2:]
    got = col2im(cols, size, **kw)
    assert got.shape == shape
    np.testing.assert_allclose(got, loop_col2im(cols, size, kernel, dilation, padding, stride),
                               rtol=1e-12, atol=1e-12)
    want = torch.nn.functional.fold(torch.from_numpy(cols), size, **kw).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(col2im(cols[0], size, **kw), got[0], rtol=1e-12)


@pytest.mark.parametrize("shape, kernel, dilation, padding, stride", CASES, ids=IDS)
def test_col2im_is_the_adjoint_of_im2col(rng, shape, kernel, dilation, padding, stride):
    # <im2col(x), y> == <x, col2im(y)>: what makes col2im the backward pass of im2col.
    kw = _kwargs(kernel, dilation, padding, stride)
    x = rng.standard_normal(shape)
    y = rng.standard_normal(im2col(x, **kw).shape)
    np.testing.assert_allclose(np.vdot(im2col(x, **kw), y), np.vdot(x, col2im(y, shape[2:], **kw)),
                               rtol=1e-12)


def test_col2im_of_im2col_counts_the_blocks_covering_each_pixel():
    counts = col2im(im2col(np.ones((1, 1, 5, 6)), 3, stride=(2, 1)), (5, 6), 3, stride=(2, 1))
    want = np.zeros((5, 6))
    for i in range(0, 3, 2):  # top rows of the blocks: 0 and 2
        for j in range(4):
            want[i: i + 3, j: j + 3] += 1
    np.testing.assert_array_equal(counts[0, 0], want)


def test_a_convolution_is_one_matrix_multiply_with_im2col(rng):
    # The weights stretched into rows times the receptive fields stretched into columns.
    x, w = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 2))
    cols = im2col(x, (3, 2), padding=1, stride=2)
    out = (w.reshape(4, -1) @ cols).reshape(2, 4, *conv2d(x, w, padding=1, stride=2).shape[2:])
    np.testing.assert_allclose(out, conv2d(x, w, padding=1, stride=2), rtol=1e-12)


def test_dtypes_are_kept(rng):
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    cols = im2col(x, 2)
    assert cols.dtype == np.float32
    assert col2im(cols, 5, 2).dtype == np.float32
    assert im2col(np.ones((1, 1, 3, 3), dtype=int), 2).dtype == np.float64


@pytest.mark.parametrize("call, error, match", [
    (lambda: im2col(np.zeros((5, 5)), 2), RuntimeError, r"expected input to be 3D or 4D.*\(5, 5\)"),
    (lambda: im2col(np.zeros((1, 1, 2, 2)), 3), RuntimeError,
     r"spatial size \(2, 2\).*shape \(0, 0\), but its components must be at least one"),
    (lambda: im2col(np.zeros((1, 1, 4, 4)), 0), RuntimeError, r"non-positive kernel_size"),
    (lambda: im2col(np.zeros((1, 1, 4, 4)), 2, stride=0), RuntimeError, r"non-positive stride"),
    (lambda: im2col(np.zeros((1, 1, 4, 4)), 2, dilation=0), RuntimeError, r"non-positive dilation"),
    (lambda: im2col(np.zeros((1, 1, 4, 4)), 2, padding=-1), RuntimeError, r"negative padding"),
    (lambda: im2col(np.zeros((1, 1, 4, 4)), 2.5), TypeError, r"kernel_size must be an int or a"),
    (lambda: im2col(np.full((1, 1, 4, 4), "a"), 2), TypeError, r"input must be an array of real"),
    (lambda: col2im(np.zeros(27), 5, 3), RuntimeError, r"expected cols to be 2D or 3D.*\(27,\)"),
    (lambda: col2im(np.zeros((1, 26, 9)), 5, 3), RuntimeError,
     r"expected dimension 1 of cols to be divisible by the product of kernel_size \(3, 3\) = 9"),
    (lambda: col2im(np.zeros((1, 27, 8)), 5, 3), RuntimeError,
     r"number of sliding blocks 3 \* 3 = 9, but got cols of shape \(1, 27, 8\)"),
    (lambda: col2im(np.zeros((1, 27, 9)), 0, 3), RuntimeError, r"non-positive output_size"),
])
def test_bad_arguments_raise(call, error, match):
    with pytest.raises(error, match=match):
        call()
