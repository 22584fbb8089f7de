"""Convolution: the layer a CNN is named after, forward and backward.

``conv2d`` has ``torch.nn.functional.conv2d``'s signature and semantics: NCHW input, weight
``(out_channels, in_channels/groups, kH, kW)``, cross-correlation (the kernel is not flipped),
stride, zero padding (also ``'valid'`` and ``'same'``), dilation and groups. It is fast (im2col
plus batched matrix multiplies); ``conv2d_naive`` computes the same thing with plain loops and is
the definition to read first. ``corr2d`` and ``convolve2d`` show the difference between
cross-correlation and true convolution on a single 2-D array (the layer without parameter
sharing, ``locally_connected2d``, is in ``local.py``).
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from . import _layout as layout
from ._memory import prepared, scratch
from ._validate import (
    as_float_array,
    check_non_negative,
    check_positive,
    check_rank,
    pair,
    result_dtype,
)
from .im2col import (
    _column_shifted_images,
    _copy_windows,
    _fold_add,
    _image_last_windows,
    _rows_wrap,
    _unfold_rows_wrapped,
    _unfold_with_padding,
    _window_view,
)
from .padding import pad2d, sliding_windows

__all__ = [
    "conv2d",
    "conv2d_backward",
    "conv2d_backward_naive",
    "conv2d_naive",
    "convolve2d",
    "corr2d",
]

# im2col copies the windows of this many numbers at most at a time (about 8 MB in float32):
# the columns of one chunk stay in cache while BLAS multiplies them, and memory stays bounded.
_CHUNK_ELEMENTS = 1 << 21
# Up to this many output pixels per image, the columns of all the images of a chunk are laid
# side by side in one matrix: one large matrix multiply instead of many thin ones, which at 7x7
# or 4x4 images cost more in per-call overhead than in arithmetic. The product comes out images
# last; where it may stay so (the nn layers), no transposing copy is needed, and 8x8 images gain
# too (the pooling and ReLU after them then read runs of N numbers; at 12x12 and up per image
# is faster, measured on a digits-sized layer).
_SIDE_BY_SIDE_MAX_LENGTH = 63
_SIDE_BY_SIDE_IMAGES_LAST_MAX_LENGTH = 64
# With padding, chunks of at least this many column entries are copied tap by tap straight from
# the unpadded input (no padded copy first); smaller ones pad, then copy once (fewer calls).
_UNFOLD_PER_TAP_MIN_ELEMENTS = 1 << 18
# A per-image convolution of rows-wrapped windows multiplies kernel row by kernel row
# (_kernel_row_products) when its C/g * kW kernel-row columns are at least this many times its
# K/g output channels (measured on 3x3 and 5x5 layers: from 2 on it gains 6-40 %, below 1.5
# it loses up to 70 %).
_KERNEL_ROWS_MIN_RATIO = 2
# conv2d_backward computes the input gradient as a convolution of grad_output (see
# _input_gradient_as_convolution) when out_channels <= this * in_channels, else with col2im.
_TRANSPOSED_MAX_RATIO = 4


class _ConvArgs(NamedTuple):
    input: np.ndarray  # (N, C, H, W), converted to `dtype`
    weight: np.ndarray  # (K, C/groups, kH, kW)
    bias: np.ndarray | None  # (K,)
    grad_output: np.ndarray | None  # (N, K, H_out, W_out), backward only
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]  # (left, right, top, bottom), pad2d's order
    dilation: tuple[int, int]
    groups: int
    output_size: tuple[int, int]
    batched: bool
    dtype: np.dtype


def _padding_amounts(padding, kernel_size, stride, dilation, op):
    """(left, right, top, bottom) for an int, a pair, ``'valid'`` or ``'same'``."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise RuntimeError(
                f"{op}: invalid padding string {padding!r}: expected 'valid' or 'same', "
                f"or an int or a pair of ints"
            )
        if stride != (1, 1):
            raise RuntimeError(
                f"{op}: padding='same' is not supported for strided convolutions "
                f"(expected stride 1, got stride={stride})"
            )
        # A dilated kernel spans d*(k-1)+1 pixels: pad d*(k-1) in total, and when that is
        # odd put the extra pixel on the right/bottom, exactly as PyTorch does.
        total_h, total_w = (d * (k - 1) for d, k in zip(dilation, kernel_size))
        return (total_w // 2, total_w - total_w // 2, total_h // 2, total_h - total_h // 2)
    ph, pw = pair(padding, "padding")
    check_non_negative((ph, pw), "padding")
    return (pw, pw, ph, ph)


def _torch_size(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _parse_conv_args(input, weight, bias, stride, padding, dilation, groups, op,
                     grad_output=None) -> _ConvArgs:
    """Validate conv2d's arguments once, for the forward, the naive loops and the backward.

    Shapes and messages follow ``torch.nn.functional.conv2d``; an unbatched ``(C, H, W)``
    input is given a batch axis of 1 and ``batched`` says to remove it again.
    """
    x = as_float_array(input, "input")
    w = as_float_array(weight, "weight")
    b = None if bias is None else as_float_array(bias, "bias")
    check_rank(x, "input", (3, 4), op, "N, C, H, W or unbatched C, H, W")
    check_rank(w, "weight", (4,), op, "out_channels, in_channels/groups, kH, kW")
    if type(groups) is not int and (not isinstance(groups, numbers.Integral)
                                    or isinstance(groups, bool)):
        raise TypeError(f"{op}: groups must be an int, got {groups!r}")
    if groups <= 0:
        raise RuntimeError(f"{op}: non-positive groups is not supported: expected groups >= 1, "
                           f"got groups={groups}")
    s = pair(stride, "stride")
    check_positive(s, "stride")
    d = pair(dilation, "dilation")
    check_positive(d, "dilation")
    kernel = w.shape[2:]
    pads = _padding_amounts(padding, kernel, s, d, op)

    batched = x.ndim == 4
    x = x if batched else x[None]
    out_channels, in_per_group = w.shape[:2]
    if out_channels == 0 or out_channels % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0 "
            f"(out_channels), but got weight of size {_torch_size(w.shape)} instead"
        )
    if x.shape[1] != in_per_group * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {_torch_size(w.shape)}, expected "
            f"input{_torch_size(x.shape)} to have {in_per_group * groups} channels, but got "
            f"{x.shape[1]} channels instead"
        )
    if b is not None and b.shape != (out_channels,):
        raise RuntimeError(
            f"Given weight of size {_torch_size(w.shape)}, expected bias to be 1-dimensional "
            f"with {out_channels} elements, but got bias of size {_torch_size(b.shape)} instead"
        )
    padded = (x.shape[2] + pads[2] + pads[3], x.shape[3] + pads[0] + pads[1])
    span = tuple(dd * (k - 1) + 1 for dd, k in zip(d, kernel))
    if padded[0] < span[0] or padded[1] < span[1]:
        raise RuntimeError(
            f"Calculated padded input size per channel: ({padded[0]} x {padded[1]}). "
            f"Kernel size: ({span[0]} x {span[1]}). "
            f"Kernel size can't be greater than actual input size"
        )
    # padding.conv_output_size's formula, inlined: this function runs on every call and the
    # checks above already hold.
    output_size = ((padded[0] - span[0]) // s[0] + 1, (padded[1] - span[1]) // s[1] + 1)

    gy = None
    if grad_output is not None:
        gy = as_float_array(grad_output, "grad_output")
        expected = (x.shape[0], out_channels, *output_size)
        if gy.shape != (expected if batched else expected[1:]):
            raise RuntimeError(
                f"{op}: expected grad_output of shape {expected if batched else expected[1:]} "
                f"(the shape of the forward output), got grad_output of shape {gy.shape}"
            )
        gy = gy if batched else gy[None]

    dtype = result_dtype(x, w, b, gy)
    x, w = x.astype(dtype, copy=False), w.astype(dtype, copy=False)
    b = None if b is None else b.astype(dtype, copy=False)
    gy = None if gy is None else gy.astype(dtype, copy=False)
    return _ConvArgs(x, w, b, gy, s, pads, d, int(groups), output_size, batched, dtype)


def _padded(a: _ConvArgs) -> np.ndarray:
    return pad2d(a.input, a.padding) if any(a.padding) else a.input


def _is_pointwise(a: _ConvArgs) -> bool:
    """A 1x1 kernel at stride 1 with no padding: the convolution is one matrix multiply."""
    return (a.weight.shape[2:] == (1, 1) and a.stride == (1, 1) and not any(a.padding)
            and a.groups == 1)


def _column_chunks(a: _ConvArgs, ones: bool, side_by_side: bool, fresh: bool = False):
    """Yield ``(start, stop, cols)``: the im2col columns of images ``start:stop``.

    Per image (``side_by_side=False``) `cols` is ``(m, groups, R, L)``, one matrix per image
    and group; ``R = C/groups * kH * kW``, plus a last row of ones when `ones` (the bias
    trick), and ``L = H_out * W_out``. Side by side it is ``(groups, R, L * m)``: one matrix
    per group whose columns run over output positions and, fastest, images; that order lets
    the copy read runs of ``W_out * m`` numbers instead of ``W_out``. The chunks share one
    buffer that stays in cache while BLAS reads it, prepared with its row of ones (see
    _memory.prepared; with `fresh` and a single chunk, a new array that the caller may keep).
    """
    g, n = a.groups, a.input.shape[0]
    _, c_g, kh, kw = a.weight.shape
    (ho, wo), rows = a.output_size, c_g * kh * kw
    total, length = rows + ones, ho * wo
    step = max(1, min(n, _CHUNK_ELEMENTS // max(g * total * length, 1)))
    shape = (g, total, length * step) if side_by_side else (step, g, total, length)

    def with_ones(columns):
        columns[..., rows:, :] = 1  # the row of ones under every image's columns (if any)
        return columns

    # a fresh array only when one chunk holds the whole batch: only then is it worth keeping
    buf = (with_ones(np.empty(shape, a.dtype)) if fresh and step >= n
           else prepared("conv2d columns", shape, a.dtype, with_ones, key=(rows,)))
    for start in range(0, n, step):
        m = min(step, n - start)
        if side_by_side:
            cols = buf[:, :, :length * m]
            target = cols[:, :rows].reshape(g, c_g, kh, kw, ho, wo, m)
            windows = _image_last_windows(a, start, start + m)
            np.copyto(target, windows)
        else:
            cols = buf[:m]
            target = cols[:, :, :rows].reshape(m, g, c_g, kh, kw, ho, wo)
            x = _grouped(a.input[start:start + m], g)
            if _rows_wrap(a):
                _unfold_rows_wrapped(x, target, a)
            elif any(a.padding) and target.size >= _UNFOLD_PER_TAP_MIN_ELEMENTS:
                _unfold_with_padding(x, target, a, zero_border=start == 0)
            else:  # from the input itself, or (small chunks) a padded copy of it
                xp = pad2d(x, a.padding) if any(a.padding) else x
                _copy_windows(target, _window_view(xp, a.weight.shape[2:], a.stride,
                                                   a.dilation), a.stride, a.dilation)
        yield start, start + m, cols


def _side_by_side(length: int, images_last: bool) -> bool:
    """Whether the columns of outputs of `length` pixels are laid side by side (forward and
    backward must agree: the backward reuses the forward's columns)."""
    limit = _SIDE_BY_SIDE_IMAGES_LAST_MAX_LENGTH if images_last else _SIDE_BY_SIDE_MAX_LENGTH
    return length <= limit


def _grouped(x: np.ndarray, groups: int) -> np.ndarray:
    """View (N, C, H, W) as (N, groups, C/groups, H, W)."""
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h, w)


def _unbatch(y: np.ndarray, batched: bool) -> np.ndarray:
    return y if batched else y[0]


def _forward(a: _ConvArgs, keep_columns: bool = False,
             images_last: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """conv2d on validated arguments: ``(output (N, K, H_out, W_out), columns)``.

    `columns` is None unless `keep_columns` and the batch fit in one chunk: then it is the
    im2col matrix of the whole batch (_column_chunks' layout, bias row included), which the
    weight gradient can use again. With `images_last`, small images (the side-by-side
    columns) give an output stored images last (see ``_layout``): the matrix product computes
    it in that order, and the C-contiguous output would cost a transposing copy.
    """
    x, w, g = a.input, a.weight, a.groups
    n, c = x.shape[:2]
    k, c_g, kh, kw = w.shape
    h_out, w_out = a.output_size
    if _is_pointwise(a):
        out = np.matmul(w.reshape(k, c), x.reshape(n, c, h_out * w_out))
        if a.bias is not None:
            # Adding a stored (K, H_out*W_out) plane of the bias is about twice as fast as
            # adding the (K, 1) column: numpy's loops with a repeated operand are not vectorised.
            plane = scratch("conv2d bias plane", (k, h_out * w_out), a.dtype)
            plane[...] = a.bias[:, None]
            out += plane
        return out.reshape(n, k, h_out, w_out), None

    rows, length = c_g * kh * kw, h_out * w_out
    side_by_side = _side_by_side(length, images_last)
    images_last = images_last and side_by_side
    if not (side_by_side or keep_columns) and _by_kernel_rows(a):
        out = np.empty((n, g, k // g, length), a.dtype)
        _kernel_row_products(a, out)
        return out.reshape(n, k, h_out, w_out), None
    w_mat = _with_bias_column(w.reshape(g, k // g, rows), a)  # one matrix per group
    # images last, `out` is the (g, K/g, L, N) memory; else (N, g, K/g, L)
    out = np.empty((g, k // g, length, n) if images_last else (n, g, k // g, length), a.dtype)
    kept = None
    for start, stop, cols in _column_chunks(a, a.bias is not None, side_by_side,
                                            fresh=keep_columns):
        kept = cols if keep_columns and (start, stop) == (0, n) else None
        if images_last and (start, stop) == (0, n):
            np.matmul(w_mat, cols, out=out.reshape(g, k // g, length * n))
        elif side_by_side:
            y = np.matmul(w_mat, cols)  # (g, K/g, L*m): every image of the chunk at once
            y = y.reshape(g, k // g, length, stop - start)
            if images_last:
                out[..., start:stop] = y
            else:
                out[start:stop] = y.transpose(3, 0, 1, 2)
        else:
            np.matmul(w_mat, cols, out=out[start:stop])
    if images_last:
        return out.reshape(k, h_out, w_out, n).transpose(3, 0, 1, 2), kept
    return out.reshape(n, k, h_out, w_out), kept


def _with_bias_column(w_mat: np.ndarray, a: _ConvArgs) -> np.ndarray:
    """The bias trick: `w_mat` (g, K/g, R) with the bias as one more column, for columns with a
    row of ones under them, so that the matrix product adds the bias with no extra pass over
    the output; `w_mat` itself without a bias."""
    if a.bias is None:
        return w_mat
    g, k_g = w_mat.shape[:2]
    return np.concatenate([w_mat, a.bias.reshape(g, k_g, 1)], axis=2)


def _by_kernel_rows(a: _ConvArgs) -> bool:
    """Whether a per-image forward pass takes _kernel_row_products instead of im2col: for
    _rows_wrap convolutions whose kernel-row columns (C/g * kW rows) are at least
    _KERNEL_ROWS_MIN_RATIO times the output channels of a group, so that the copying saved
    outweighs the kH - 1 additions of the output."""
    k, c_g, kh, kw = a.weight.shape
    return _rows_wrap(a) and kh > 1 and c_g * kw >= _KERNEL_ROWS_MIN_RATIO * (k // a.groups)


def _kernel_row_products(a: _ConvArgs, out: np.ndarray) -> None:
    """conv2d for _rows_wrap convolutions into `out` (N, g, K/g, H_out * W), image by image,
    as kH matrix products that share one copy of the image per kernel column.

    With the image read as a flat array, kernel row u's im2col columns are kernel row 0's read
    u * dH image rows further on (_column_shifted_images). So the kW shifted copies serve every
    kernel row, each product reads them at its own offset, and the products add up: a kH-th of
    im2col's copying, for kH - 1 additions of the output.
    """
    x, w, g = a.input, a.weight, a.groups
    k, c_g, kh, kw = w.shape
    h, width = x.shape[2:]
    dh, (_, _, top, bottom) = a.dilation[0], a.padding
    rows, length, span = c_g * kw, a.output_size[0] * width, (top + h + bottom) * width
    # kernel row u's weights as (g, K/g, C/g * kW), columns in the copies' row order (c, v)
    w_rows = w.reshape(g, k // g, c_g, kh, kw).transpose(3, 0, 1, 2, 4).reshape(
        kh, g, k // g, rows)
    first = _with_bias_column(w_rows[0], a)  # the bias is added by kernel row 0's product
    copies = scratch("conv2d shifted copies", (g, rows + (a.bias is not None), span), a.dtype)
    if a.bias is not None:
        copies[:, rows] = 1
    product = scratch("conv2d kernel row product", (g, k // g, length), a.dtype)
    for i in range(x.shape[0]):
        _column_shifted_images(_grouped(x[i:i + 1], g)[0],
                               copies[:, :rows].reshape(g, c_g, kw, span), a)
        np.matmul(first, copies[:, :, :length], out=out[i])
        for u in range(1, kh):
            offset = u * dh * width
            np.matmul(w_rows[u], copies[:, :rows, offset:offset + length], out=product)
            out[i] += product


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """2-D convolution (cross-correlation) of an image batch, as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    input : ndarray, shape (N, C_in, H, W) or (C_in, H, W)
    weight : ndarray, shape (C_out, C_in / groups, kH, kW)
    bias : ndarray, shape (C_out,), optional
    stride : int or pair of ints
    padding : int, pair of ints, 'valid' or 'same'
        Zeros added on both sides. ``'same'`` keeps H and W (stride 1 only); with an even
        kernel the extra zero goes on the bottom/right, as in PyTorch.
    dilation : int or pair of ints
        Spacing between kernel taps (1 = contiguous kernel).
    groups : int
        Input and output channels are split into `groups` independent convolutions;
        ``groups == C_in`` is a depthwise convolution.

    Returns
    -------
    ndarray, shape (N, C_out, H_out, W_out) or (C_out, H_out, W_out)
        float32 only if every operand is float32, float64 otherwise.

    Notes
    -----
    .. math:: y_{n,k,i,j} = b_k + \\sum_{c,u,v} w_{k,c,u,v}\\,
              x_{n,\\,g C_g + c,\\; i s_H + u d_H - p_{top},\\; j s_W + v d_W - p_{left}}

    where :math:`g = \\lfloor k / (C_{out}/\\mathrm{groups}) \\rfloor` is the group of output
    channel k and :math:`C_g = C_{in}/\\mathrm{groups}`, and

    .. math:: H_{out} = \\left\\lfloor \\frac{H + 2P - D(k_H - 1) - 1}{S} \\right\\rfloor + 1

    (same for W). Implementation: the receptive fields are copied into columns (im2col) and
    every output is one matrix product ``weight.reshape(C_out, -1) @ columns``; a 1x1 kernel at
    stride 1 needs no copy at all.

    Examples
    --------
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> conv2d(x, np.ones((1, 1, 3, 3)))[0, 0]
    array([[45., 54.],
           [81., 90.]])
    """
    a = _parse_conv_args(input, weight, bias, stride, padding, dilation, groups, "conv2d")
    return _unbatch(_forward(a)[0], a.batched)


def conv2d_naive(input, weight, bias=None, stride=1, padding=0, dilation=1,
                 groups=1) -> np.ndarray:
    """:func:`conv2d` written as the loops of its definition: slow, but easy to read.

    Same parameters, shapes and errors as :func:`conv2d`.
    """
    a = _parse_conv_args(input, weight, bias, stride, padding, dilation, groups, "conv2d_naive")
    x, w = _padded(a), a.weight
    (sh, sw), (dh, dw) = a.stride, a.dilation
    n = x.shape[0]
    out_channels, in_per_group, kh, kw = w.shape
    out_per_group = out_channels // a.groups
    h_out, w_out = a.output_size
    out = np.zeros((n, out_channels, h_out, w_out), dtype=a.dtype)
    for b in range(n):
        for k in range(out_channels):
            first = (k // out_per_group) * in_per_group  # the input channels k's group sees
            channels = slice(first, first + in_per_group)
            for i in range(h_out):
                for j in range(w_out):
                    # the dilated receptive field of output pixel (i, j): kh x kw taps
                    rows = slice(i * sh, i * sh + dh * (kh - 1) + 1, dh)
                    cols = slice(j * sw, j * sw + dw * (kw - 1) + 1, dw)
                    out[b, k, i, j] = np.sum(x[b, channels, rows, cols] * w[k])
            if a.bias is not None:
                out[b, k] += a.bias[k]
    return _unbatch(out, a.batched)


def conv2d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1, *,
                    output_mask=(True, True, True)) -> tuple[np.ndarray | None, ...]:
    """Gradients of :func:`conv2d` with respect to its input, weight and bias.

    Parameters
    ----------
    grad_output : ndarray, shape (N, C_out, H_out, W_out) or (C_out, H_out, W_out)
        Gradient of the loss with respect to the output of :func:`conv2d`.
    input, weight, stride, padding, dilation, groups
        The forward call's arguments (the bias does not change any gradient).
    output_mask : three bools
        Which of (grad_input, grad_weight, grad_bias) to compute, as in PyTorch's
        ``convolution_backward``; the others are returned as None. A network's first layer
        needs no gradient with respect to its input (the data): skipping it saves time.

    Returns
    -------
    grad_input : ndarray, shape like `input`
    grad_weight : ndarray, shape like `weight`
    grad_bias : ndarray, shape (C_out,)

    Notes
    -----
    With the im2col matrix :math:`X` of the input (one column per output position):

    .. math:: \\frac{\\partial L}{\\partial W} = \\sum_n G_n X_n^T, \\qquad
              \\frac{\\partial L}{\\partial X_n} = W^T G_n, \\qquad
              \\frac{\\partial L}{\\partial b_k} = \\sum_{n,i,j} G_{n,k,i,j}

    and col2im adds the column gradients back into the image. At stride 1 the input gradient
    is also a *full* convolution of `grad_output` with the spatially flipped filters, input and
    output channels swapped (the backward pass of a convolution is a convolution); it is
    computed that way when that is faster.
    """
    a = _parse_conv_args(input, weight, None, stride, padding, dilation, groups,
                         "conv2d_backward", grad_output=grad_output)
    return _backward(a, _output_mask(output_mask))


def _conv2d_keeping_columns(input, weight, bias=None, stride=1, padding=0, dilation=1,
                            groups=1):
    """:func:`conv2d` for the Conv2d layer in training: also returns the columns its backward
    pass can reuse (or None where they are not kept), and small outputs stay images last."""
    a = _parse_conv_args(input, weight, bias, stride, padding, dilation, groups, "conv2d")
    out, kept = _forward(a, keep_columns=True, images_last=True)
    return _unbatch(out, a.batched), kept


def _conv2d_backward_with_columns(grad_output, input, weight, stride=1, padding=0, dilation=1,
                                  groups=1, *, output_mask=(True, True, True),
                                  columns: np.ndarray | None = None):
    """:func:`conv2d_backward` for the Conv2d layer: reuses the columns kept by
    :func:`_conv2d_keeping_columns` for the same input and weight, and a small input gradient
    stays images last."""
    a = _parse_conv_args(input, weight, None, stride, padding, dilation, groups,
                         "conv2d_backward", grad_output=grad_output)
    return _backward(a, _output_mask(output_mask), columns, images_last=True)


def _backward(a: _ConvArgs, mask: tuple[bool, bool, bool], columns: np.ndarray | None = None,
              images_last: bool = False):
    """conv2d_backward on validated arguments (`images_last` as in :func:`_forward`)."""
    x, w, g = a.input, a.weight, a.groups
    n, c, h, wd = x.shape
    k, c_g, kh, kw = w.shape
    h_out, w_out = a.output_size
    rows, length = c_g * kh * kw, h_out * w_out
    want_input, want_weight, want_bias = mask
    gy = a.grad_output.reshape(n, g, k // g, length)
    grad_bias = _channel_sums(a.grad_output) if want_bias else None
    grad_input = grad_w = None
    if _is_pointwise(a):
        if want_weight:
            xs = x.reshape(n, c, length)
            grad_w = np.matmul(gy[:, 0], xs.transpose(0, 2, 1)).sum(axis=0)
        if want_input:
            grad_input = np.matmul(w.reshape(k, c).T, gy[:, 0]).reshape(x.shape)
        return _backward_results(a, grad_input, grad_w, grad_bias)

    as_conv = _input_gradient_as_convolution(a) if want_input else None
    if as_conv is not None:
        grad_input = _forward(as_conv, images_last=images_last)[0]
    col2im = want_input and as_conv is None
    if col2im:
        left, right, top, bottom = a.padding
        grad_xp = np.zeros((n, c, h + top + bottom, wd + left + right), dtype=a.dtype)
    if want_weight:
        grad_w = np.zeros((g, k // g, rows), dtype=a.dtype)
    if not (want_weight or col2im):
        return _backward_results(a, grad_input, grad_w, grad_bias)
    side_by_side = _side_by_side(length, images_last)
    w_t = w.reshape(g, k // g, rows).transpose(0, 2, 1)  # (g, C/g*kH*kW, K/g)
    if columns is not None:  # same input, weight and geometry, so the same layout
        kept = columns[:, :rows] if side_by_side else columns[:, :, :rows]
        chunks = [(0, n, kept)]  # the forward pass's columns, without its row of ones
    else:
        chunks = _column_chunks(a, False, side_by_side)
    for start, stop, cols in chunks:
        m = stop - start
        gy_chunk = gy[start:stop]
        if side_by_side:
            gy_chunk = np.ascontiguousarray(gy_chunk.transpose(1, 2, 3, 0)).reshape(
                g, k // g, length * m)
        if want_weight:  # dL/dW = sum over images of G X^T
            if side_by_side:
                grad_w += np.matmul(gy_chunk, cols.transpose(0, 2, 1))
            else:
                grad_w += np.matmul(gy_chunk, cols.transpose(0, 1, 3, 2)).sum(axis=0)
        if col2im:
            # dL/dX as columns is W^T G; col2im adds each column back where it was read
            grad_cols = np.matmul(w_t, gy_chunk)
            if side_by_side:
                grad_cols = (grad_cols.reshape(g, c_g, kh, kw, h_out, w_out, m)
                             .transpose(6, 0, 1, 2, 3, 4, 5))
            _fold_add(grad_cols.reshape(m, c, kh, kw, h_out, w_out), grad_xp[start:stop],
                      a.stride, a.dilation)
    if col2im:
        grad_input = np.ascontiguousarray(grad_xp[:, :, top:top + h, left:left + wd])
    return _backward_results(a, grad_input, grad_w, grad_bias)


def _channel_sums(gy: np.ndarray) -> np.ndarray:
    """The (K,) sums of an (N, K, H, W) array over all axes but K, reading its memory in order
    (a sum over an axis that is not the innermost in memory runs one short loop per output)."""
    k = gy.shape[1]
    if layout.is_images_last(gy):
        return gy.transpose(layout.IMAGES_LAST).reshape(k, -1).sum(axis=1)
    return gy.reshape(gy.shape[0], k, -1).sum(axis=0).sum(axis=-1)


def _output_mask(mask) -> tuple[bool, bool, bool]:
    values = tuple(mask) if isinstance(mask, (tuple, list)) else None
    if values is None or len(values) != 3 or not all(isinstance(v, bool) for v in values):
        raise TypeError(f"conv2d_backward: output_mask must be three bools (grad_input, "
                        f"grad_weight, grad_bias), got {mask!r}")
    return values


def _backward_results(a: _ConvArgs, grad_input, grad_w, grad_bias):
    return (None if grad_input is None else _unbatch(grad_input, a.batched),
            None if grad_w is None else grad_w.reshape(a.weight.shape), grad_bias)


def _input_gradient_as_convolution(a: _ConvArgs) -> _ConvArgs | None:
    """Arguments of the convolution that computes dL/dinput, or None to use col2im instead.

    At stride 1, input pixel (r, s) met weight (u, v) at output (r - u, s - v), so dL/dx is a
    correlation of grad_output with the filters flipped in both spatial axes and with input
    and output channels swapped, zero-padded by d*(k-1) - p: a "full" convolution.
    """
    k, c_g, kh, kw = a.weight.shape
    c, g = a.input.shape[1], a.groups
    span_h, span_w = a.dilation[0] * (kh - 1), a.dilation[1] * (kw - 1)
    left, right, top, bottom = a.padding
    pads = (span_w - left, span_w - right, span_h - top, span_h - bottom)
    # Copying grad_output's windows (K*kH*kW rows per pixel) is faster than col2im's strided
    # adds (C*kH*kW rows) unless there are many more output than input channels.
    if a.stride != (1, 1) or min(pads) < 0 or k > _TRANSPOSED_MAX_RATIO * c:
        return None
    flipped = (a.weight.reshape(g, k // g, c_g, kh, kw).transpose(0, 2, 1, 3, 4)
               .reshape(c, k // g, kh, kw)[:, :, ::-1, ::-1])
    return a._replace(input=a.grad_output, weight=flipped, bias=None, grad_output=None,
                      padding=pads, output_size=a.input.shape[2:])


def conv2d_backward_naive(grad_output, input, weight, stride=1, padding=0, dilation=1,
                          groups=1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`conv2d_backward` as loops: each output pixel sends its gradient back along the
    connections it was computed from. Same parameters and results as :func:`conv2d_backward`.
    """
    a = _parse_conv_args(input, weight, None, stride, padding, dilation, groups,
                         "conv2d_backward_naive", grad_output=grad_output)
    x, w, gy = _padded(a), a.weight, a.grad_output
    (sh, sw), (dh, dw) = a.stride, a.dilation
    n = x.shape[0]
    out_channels, in_per_group, kh, kw = w.shape
    out_per_group = out_channels // a.groups
    h_out, w_out = a.output_size
    grad_x = np.zeros_like(x)
    grad_w = np.zeros_like(w)
    for b in range(n):
        for k in range(out_channels):
            first = (k // out_per_group) * in_per_group
            channels = slice(first, first + in_per_group)
            for i in range(h_out):
                for j in range(w_out):
                    rows = slice(i * sh, i * sh + dh * (kh - 1) + 1, dh)
                    cols = slice(j * sw, j * sw + dw * (kw - 1) + 1, dw)
                    # y[b,k,i,j] = sum(x[window] * w[k]): each factor's gradient is the other
                    grad_x[b, channels, rows, cols] += gy[b, k, i, j] * w[k]
                    grad_w[k] += gy[b, k, i, j] * x[b, channels, rows, cols]
    grad_bias = gy.sum(axis=(0, 2, 3))
    left, _, top, _ = a.padding
    h, wd = a.input.shape[2:]
    grad_input = grad_x[:, :, top:top + h, left:left + wd].copy()
    return _unbatch(grad_input, a.batched), grad_w, grad_bias


def _as_2d(x, name: str, op: str) -> np.ndarray:
    arr = as_float_array(x, name)
    check_rank(arr, name, (2,), op, "H, W")
    return arr


def corr2d(x, k) -> np.ndarray:
    """Valid 2-D cross-correlation of one image with one kernel (what ``conv2d`` computes).

    Parameters
    ----------
    x : ndarray, shape (H, W)
    k : ndarray, shape (kH, kW)
        At most as large as `x` in each axis.

    Returns
    -------
    ndarray, shape (H - kH + 1, W - kW + 1)

    Notes
    -----
    .. math:: y_{i,j} = \\sum_{u,v} x_{i+u,\\,j+v}\\, k_{u,v}

    The kernel slides over the image as it is; :func:`convolve2d` flips it first.

    Examples
    --------
    >>> corr2d(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), np.array([[1.0, 0.0]]))
    array([[1., 2.],
           [4., 5.]])
    """
    image, kernel = _as_2d(x, "x", "corr2d"), _as_2d(k, "k", "corr2d")
    if kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]:
        raise RuntimeError(
            f"corr2d: kernel k of shape {kernel.shape} is larger than the image x of shape "
            f"{image.shape}; a valid correlation needs kH <= H and kW <= W"
        )
    windows = sliding_windows(image, kernel.shape)  # (H_out, W_out, kH, kW)
    return np.tensordot(windows, kernel, axes=([2, 3], [0, 1])).astype(
        result_dtype(image, kernel), copy=False)


def convolve2d(x, k) -> np.ndarray:
    """Valid 2-D convolution in the signal-processing sense: the kernel is flipped in both axes.

    Parameters
    ----------
    x : ndarray, shape (H, W)
    k : ndarray, shape (kH, kW)

    Returns
    -------
    ndarray, shape (H - kH + 1, W - kW + 1)
        Equal to ``scipy.signal.convolve2d(x, k, mode='valid')``.

    Notes
    -----
    .. math:: y_{i,j} = \\sum_{u,v} x_{i+u,\\,j+v}\\, k_{kH-1-u,\\,kW-1-v}

    Convolution is commutative and associative, correlation is not; for a learned kernel the
    difference does not matter (the network learns the flipped kernel), which is why deep
    learning libraries compute correlations and call them convolutions.

    Examples
    --------
    >>> convolve2d(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), np.array([[1.0, 0.0]]))
    array([[2., 3.],
           [5., 6.]])
    """
    kernel = _as_2d(k, "k", "convolve2d")
    return corr2d(x, kernel[::-1, ::-1])
