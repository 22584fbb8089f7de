"""im2col and col2im: convolution as one matrix multiply.

``im2col`` stretches every receptive field of the input into a column, so that a convolution
becomes ``weight.reshape(K, -1) @ cols``; ``col2im`` is its adjoint, adding every column back
into the image it came from. They are ``torch.nn.functional.unfold`` and ``fold``, with the
same argument names, defaults and column order (channel, then kernel row, then kernel column).

``conv2d`` and ``conv2d_backward`` in :mod:`cnncourse.ops.conv` use the private helpers below:
:func:`_window_view` and :func:`_fold_add`, which work on an already padded array, and the
faster ways of copying a batch's windows into columns that conv2d chooses between.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ._memory import prepared
from ._validate import as_float_array, check_non_negative, check_positive, check_rank, pair
from .padding import _strided_view, pad2d, sliding_windows

if TYPE_CHECKING:
    from .conv import _ConvArgs

__all__ = ["col2im", "im2col"]

# Per image, stride-1 convolutions whose output is as wide as the input read each tap's windows
# as one run of the flat image (_unfold_rows_wrapped); tests switch it off to reach the others.
_WRAP_ROWS = True
# _shift_taps copies each channel's shifted taps on their own (no temporary array) when they are
# at least this many numbers; below it one copy of all of them costs less than the extra calls.
_SHIFT_ONE_AT_A_TIME_MIN_ELEMENTS = 1 << 15


def _window_view(xp: np.ndarray, kernel_size: tuple[int, int], stride: tuple[int, int],
                 dilation: tuple[int, int]) -> np.ndarray:
    """The windows of a padded ``(..., Hp, Wp)`` array as a ``(..., kH, kW, H_out, W_out)``
    view (no copy).

    The output position varies fastest, so a contiguous copy reshaped to
    ``(N, C*kH*kW, L)`` is one matrix per image, ready for BLAS, and the copy reads whole rows
    of the input.
    """
    windows = sliding_windows(xp, kernel_size, stride, dilation)  # (..., Ho, Wo, kH, kW)
    lead = tuple(range(windows.ndim - 4))
    return windows.transpose(*lead, -2, -1, -4, -3)


def _fold_add(cols: np.ndarray, xp: np.ndarray, stride: tuple[int, int],
              dilation: tuple[int, int]) -> np.ndarray:
    """Add columns ``(N, C, kH, kW, H_out, W_out)`` back into the padded image `xp`, in place.

    One strided slice per kernel offset ``(u, v)``: every output position (i, j) read pixel
    ``(i*sH + u*dH, j*sW + v*dW)``, so its contribution goes back there. Slices of one offset
    never overlap, which is why a plain ``+=`` is correct and no ``np.add.at`` is needed.
    """
    (sh, sw), (dh, dw) = stride, dilation
    kh, kw, h_out, w_out = cols.shape[-4:]
    for u in range(kh):
        rows = slice(u * dh, u * dh + sh * (h_out - 1) + 1, sh)
        for v in range(kw):
            xp[..., rows, v * dw: v * dw + sw * (w_out - 1) + 1: sw] += cols[..., u, v, :, :]
    return xp


def _copy_windows(target: np.ndarray, windows: np.ndarray, stride: tuple[int, int],
                  dilation: tuple[int, int]) -> None:
    """``np.copyto(target, windows)`` for im2col arrays (..., kH, kW, H_out, W_out), most taps
    copied as shifted runs of taps already in `target`.

    Kernel row u + k reads for output row y the input row that kernel row u reads for output
    row y + j, with k = sH / gcd(sH, dH) and j = dH * k / sH (k = sH, j = 1 without
    dilation). In the flattened H_out*W_out axis that is one contiguous run shifted by
    j*W_out, where copying from the input gathers W_out numbers at a time (at a stride of sW);
    likewise kernel column v + k is column v shifted by j outputs along each row. Only the
    taps u < k (and, with a stride across, v < k) and the outputs at the far edge come from
    the input.
    """
    (sh, sw), (dh, dw) = stride, dilation
    kh, kw, ho, wo = target.shape[-4:]
    ku, ju = _shift_step(sh, dh)
    kv, jv = _shift_step(sw, dw) if sw > 1 else (kw, 0)  # stride 1 reads contiguous runs
    ku, kv = (ku if ju < ho else kh), (kv if jv < wo else kw)
    head, head_windows = target[..., :ku, :, :, :], windows[..., :ku, :, :, :]
    np.copyto(head[..., :kv, :, :], head_windows[..., :kv, :, :])
    _shift_taps(head, head_windows, -3, kv, jv)
    _shift_taps(target, windows, -4, ku, ju)


def _shift_step(stride: int, dilation: int) -> tuple[int, int]:
    """(k, j): tap t + k reads, for output i, what tap t reads for output i + j."""
    k = stride // math.gcd(stride, dilation)
    return k, dilation * k // stride


def _shift_taps(target: np.ndarray, windows: np.ndarray, axis: int, k: int, j: int) -> None:
    """Fill the taps ``k, k+1, ...`` along kernel `axis` (-4: rows, -3: columns) of `target`
    from the taps k before them, shifted by j output rows or columns; the last j output rows
    or columns, which the shift cannot reach, come from `windows`.

    numpy copies through a temporary array whenever source and destination might overlap,
    judged by their bounds alone; the taps of several channels (or kernel rows) interleave, so
    one copy over all of them pays twice. Where each one's taps are many numbers, they are
    copied one at a time, with bounds that do not overlap.
    """
    ho, wo = target.shape[-2:]
    flat = target.reshape(*target.shape[:-2], ho * wo)  # merging the last two axes: a view
    shift = j * wo if axis == -4 else j
    edge = (slice(ho - j, None), slice(None)) if axis == -4 else (slice(None), slice(wo - j, None))
    outer, n = target.shape[:axis], target.shape[axis]
    one_at_a_time = k * math.prod(target.shape[axis + 1:]) >= _SHIFT_ONE_AT_A_TIME_MIN_ELEMENTS
    blocks = list(np.ndindex(outer)) if one_at_a_time else [(...,)]
    for t in range(k, n, k):
        taps = [slice(None), slice(None)]
        taps[axis + 4] = slice(t, min(t + k, n))
        before = list(taps)
        before[axis + 4] = slice(t - k, min(t + k, n) - k)
        for block in blocks:
            flat[(*block, *taps[axis + 4:], slice(0, ho * wo - shift))] = (
                flat[(*block, *before[axis + 4:], slice(shift, None))])
        target[(..., *taps, *edge)] = windows[(..., *taps, *edge)]


def _blocks(size: tuple[int, int], k, d, p, s, op: str) -> tuple[int, int]:
    """Number of sliding blocks along each axis; refuse configurations with none."""
    blocks = tuple((size[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2))
    if min(blocks) < 1:
        raise RuntimeError(
            f"{op}: given input with spatial size {tuple(size)}, kernel_size={k}, dilation={d}, "
            f"padding={p}, the array of sliding blocks would have shape {blocks}, but its "
            f"components must be at least one"
        )
    return blocks


def _window_args(kernel_size, dilation, padding, stride):
    k = pair(kernel_size, "kernel_size")
    d = pair(dilation, "dilation")
    p = pair(padding, "padding")
    s = pair(stride, "stride")
    check_positive(k, "kernel_size")
    check_positive(d, "dilation")
    check_non_negative(p, "padding")
    check_positive(s, "stride")
    return k, d, p, s


def im2col(input, kernel_size, dilation=1, padding=0, stride=1) -> np.ndarray:
    """Extract every sliding block of an image batch as a column (``torch.nn.functional.unfold``).

    Parameters
    ----------
    input : ndarray, shape (N, C, H, W) or (C, H, W)
    kernel_size, dilation, padding, stride : int or pair of ints
        As in ``torch.nn.Unfold``; zero padding is added on both sides.

    Returns
    -------
    ndarray, shape (N, C*kH*kW, L) or (C*kH*kW, L)
        Row ``c*kH*kW + u*kW + v`` holds pixel ``(u, v)`` of channel ``c`` of each block;
        column ``l = i*W_out + j`` is the block at output position (i, j).

    Notes
    -----
    :math:`L = H_{out} W_{out}` with
    :math:`H_{out} = \\lfloor (H + 2P - D(k - 1) - 1)/S \\rfloor + 1` (same for W).
    For a 227x227x3 image, 11x11 blocks at stride 4 give a 363 x 3025 matrix.

    Examples
    --------
    >>> im2col(np.arange(9.0).reshape(1, 1, 3, 3), 2)[0]
    array([[0., 1., 3., 4.],
           [1., 2., 4., 5.],
           [3., 4., 6., 7.],
           [4., 5., 7., 8.]])
    """
    x = as_float_array(input, "input")
    check_rank(x, "input", (3, 4), "im2col", "N, C, H, W or unbatched C, H, W")
    k, d, p, s = _window_args(kernel_size, dilation, padding, stride)
    x4 = x if x.ndim == 4 else x[None]
    h_out, w_out = _blocks(x4.shape[-2:], k, d, p, s, "im2col")
    xp = pad2d(x4, p) if any(p) else x4
    n, c = x4.shape[:2]
    cols = np.empty((n, c, k[0], k[1], h_out, w_out), dtype=xp.dtype)
    _copy_windows(cols, _window_view(xp, k, s, d), s, d)
    cols = cols.reshape(n, c * k[0] * k[1], h_out * w_out)
    return cols if x.ndim == 4 else cols[0]


def col2im(cols, output_size, kernel_size, dilation=1, padding=0, stride=1) -> np.ndarray:
    """Sum columns back into an image batch (``torch.nn.functional.fold``), the adjoint of im2col.

    Parameters
    ----------
    cols : ndarray, shape (N, C*kH*kW, L) or (C*kH*kW, L)
    output_size : int or pair of ints
        Spatial size (H, W) of the image to rebuild, without padding.
    kernel_size, dilation, padding, stride : int or pair of ints
        The values given to :func:`im2col`.

    Returns
    -------
    ndarray, shape (N, C, H, W) or (C, H, W)
        Overlapping blocks are summed, so ``col2im(im2col(x))`` multiplies each pixel by the
        number of blocks that contain it; entries falling in the padding are dropped.

    Notes
    -----
    For any `x` and `y` of the right shapes,
    :math:`\\langle \\mathrm{im2col}(x), y\\rangle = \\langle x, \\mathrm{col2im}(y)\\rangle`,
    which is why ``col2im`` computes the input gradient of a convolution done with ``im2col``.

    Examples
    --------
    >>> col2im(np.ones((1, 4, 4)), 3, 2)[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    y = as_float_array(cols, "cols")
    check_rank(y, "cols", (2, 3), "col2im", "N, C*kH*kW, L or unbatched C*kH*kW, L")
    size = pair(output_size, "output_size")
    check_positive(size, "output_size")
    k, d, p, s = _window_args(kernel_size, dilation, padding, stride)
    y3 = y if y.ndim == 3 else y[None]
    n, rows, length = y3.shape
    if rows % (k[0] * k[1]):
        raise RuntimeError(
            f"col2im: expected dimension 1 of cols to be divisible by the product of "
            f"kernel_size {k} = {k[0] * k[1]}, but got cols of shape {tuple(y.shape)}"
        )
    h_out, w_out = _blocks(size, k, d, p, s, "col2im")
    if length != h_out * w_out:
        raise RuntimeError(
            f"col2im: given output_size={size}, kernel_size={k}, dilation={d}, padding={p}, "
            f"stride={s}, expected the last dimension of cols to be the number of sliding blocks "
            f"{h_out} * {w_out} = {h_out * w_out}, but got cols of shape {tuple(y.shape)}"
        )
    c = rows // (k[0] * k[1])
    xp = np.zeros((n, c, size[0] + 2 * p[0], size[1] + 2 * p[1]), dtype=y.dtype)
    _fold_add(y3.reshape(n, c, k[0], k[1], h_out, w_out), xp, s, d)
    x = xp[:, :, p[0]: p[0] + size[0], p[1]: p[1] + size[1]]
    x = np.ascontiguousarray(x)
    return x if y.ndim == 3 else x[0]


# conv2d's other ways of copying the windows of a chunk of images into its columns (the layouts
# are described in conv._column_chunks).


def _rows_wrap(a: _ConvArgs) -> bool:
    """Stride 1 and an output as wide as the input: each tap's windows are then one run of
    the image read as a flat array (see _unfold_rows_wrapped)."""
    left, right = a.padding[:2]
    return (_WRAP_ROWS and a.stride == (1, 1)
            and left + right == a.dilation[1] * (a.weight.shape[3] - 1))


def _unfold_rows_wrapped(x: np.ndarray, target: np.ndarray, a: _ConvArgs) -> None:
    """im2col for _rows_wrap convolutions: copy the windows of `x` (..., H, W) into `target`
    (..., kH, kW, H_out, W).

    Output row y and input row y + u*dh - top both have W pixels, so tap (u, v) reads output
    position p = y*W + j at flat index p + u*dh*W + v*dw - left of the image stored row after
    row: one contiguous run per tap and channel, from a flat copy with the padding rows above
    and below. Reads that cross the left or right edge wrap into the neighbouring row; they
    belong to the zero padding and are zeroed after the copy.
    """
    body, runs = _rows_wrapped_reads(x.shape, target.shape[-2], a)
    body[...] = x.reshape(body.shape)
    np.copyto(target, runs)
    left, w, dw = a.padding[0], x.shape[-1], a.dilation[1]
    for v in range(a.weight.shape[3]):
        shift = v * dw - left  # the input column read by output column j is j + shift
        if shift:
            target[..., v, :, _wrapped_columns(shift, w)] = 0


def _rows_wrapped_reads(shape: tuple[int, ...], h_out: int,
                        a: _ConvArgs) -> tuple[np.ndarray, np.ndarray]:
    """``(body, runs)`` for _unfold_rows_wrapped on images of `shape` (..., H, W): a flat copy
    of each image with its padding rows of zeros, `body` the part the images are copied into
    and `runs` the view of it whose tap (u, v) and output position p is the pixel read there
    (kept between calls for small batches, see _memory.prepared)."""
    (dh, dw), (left, right, top, bottom) = a.dilation, a.padding
    kh, kw = a.weight.shape[2:]
    *lead, h, w = shape
    head, body = left + top * w, h * w

    def prepare(flat):
        flat[..., :head] = 0
        flat[..., head + body:] = 0
        item = flat.itemsize
        runs = _strided_view(flat, (*lead, kh, kw, h_out, w),
                             (*flat.strides[:-1], dh * w * item, dw * item, w * item, item))
        return flat[..., head:head + body], runs

    return prepared("conv2d rows", (*lead, head + body + bottom * w + right), a.dtype, prepare,
                    key=(kh, kw, dh, dw, h_out, w, head, body))


def _wrapped_columns(shift: int, width: int) -> slice:
    """The output columns j of a rows-wrapped read whose input column ``j + shift`` lies
    outside ``[0, width)``: read from a flat image, they wrap into the neighbouring row and
    belong to the zero padding instead."""
    if shift < 0:
        return slice(0, -shift)
    return slice(max(width - shift, 0), width)


def _column_shifted_images(x: np.ndarray, target: np.ndarray, a: _ConvArgs) -> None:
    """For _rows_wrap convolutions: write into `target` (..., kW, Hp * W) one copy of each image
    of `x` (..., H, W) per kernel column v, read as a flat array with `top` rows of zeros above
    and `bottom` below and shifted by ``v * dW - left`` pixels, zeros where a read wraps into
    the neighbouring row.

    Kernel row u's columns (what im2col would copy) are then ``target[..., u*dH*W :][:L]``
    with ``L = H_out * W``: the kH matrices share the copies, a kH-th of im2col's.
    """
    (_, dw), (left, _, top, _) = a.dilation, a.padding
    *_, h, w = x.shape
    kw, span = target.shape[-2:]
    flat = x.reshape(*x.shape[:-2], h * w)
    for v in range(kw):
        shift = v * dw - left  # the input column read by output column j is j + shift
        start = top * w - shift  # where the image's first pixel lands
        first, stop = max(start, 0), min(span, start + h * w)
        copy = target[..., v, :]
        copy[..., :first] = 0
        copy[..., first:stop] = flat[..., first - start:stop - start]
        copy[..., stop:] = 0
        if shift:
            grid = copy.reshape(*copy.shape[:-1], span // w, w)
            grid[..., _wrapped_columns(shift, w)] = 0


def _valid_outputs(n_out: int, stride: int, offset: int, size: int) -> tuple[int, int, int]:
    """``(first, stop, pixel)``: outputs ``first <= i < stop`` read pixel ``i*stride + offset``
    inside ``[0, size)``, and `pixel` is the one the first of them reads."""
    first = min(n_out, max(0, -(offset // stride)))  # ceil(-offset / stride), clipped
    stop = max(first, min(n_out, (size - 1 - offset) // stride + 1))
    return first, stop, first * stride + offset


def _unfold_with_padding(x: np.ndarray, target: np.ndarray, a: _ConvArgs,
                         zero_border: bool = True) -> None:
    """im2col straight from the unpadded images: copy the windows of `x` (..., H, W) into
    `target` (..., kH, kW, H_out, W_out) and write zeros where a window reaches into the
    padding. One copy per kernel tap (u, v), with no padded image built first.

    The zeros land in the same places for every chunk of one call: with ``zero_border=False``
    they are taken to be there already (written by the call's first chunk into the same
    buffer) and only the windows are copied.
    """
    (sh, sw), (dh, dw), (ho, wo) = a.stride, a.dilation, a.output_size
    left, _, top, _ = a.padding
    h, w = x.shape[-2:]
    kh, kw = a.weight.shape[2:]
    for u in range(kh):
        i0, i1, r0 = _valid_outputs(ho, sh, u * dh - top, h)
        for v in range(kw):
            j0, j1, c0 = _valid_outputs(wo, sw, v * dw - left, w)
            tap = target[..., u, v, :, :]
            if zero_border:
                tap[..., :i0, :] = 0
                tap[..., i1:, :] = 0
                tap[..., i0:i1, :j0] = 0
                tap[..., i0:i1, j1:] = 0
            tap[..., i0:i1, j0:j1] = x[..., r0:r0 + (i1 - i0 - 1) * sh + 1:sh,
                                         c0:c0 + (j1 - j0 - 1) * sw + 1:sw]


def _image_last_windows(a: _ConvArgs, start: int, stop: int) -> np.ndarray:
    """Images start:stop, padded, as a (groups, C/groups, kH, kW, H_out, W_out, m) view of
    them stored images last, (C, H_padded, W_padded, m): the input itself if it is stored so
    and needs no padding, else a copy in a prepared buffer (see _memory.prepared) that the
    caller must copy out of before the next call."""
    x = a.input[start:stop]
    xt = x.transpose(1, 2, 3, 0)
    if not any(a.padding) and xt.flags.c_contiguous:
        return _images_last_window_view(xt, a)
    inside, windows = _padded_images_last(x.shape, a)
    inside[...] = xt
    return windows


def _padded_images_last(shape: tuple[int, int, int, int],
                        a: _ConvArgs) -> tuple[np.ndarray, np.ndarray]:
    """``(inside, windows)`` of a buffer for images of `shape` (m, C, H, W), padded and stored
    images last: `inside` is where the images go, the border around it is zeros, and
    `windows` is its _images_last_window_view."""
    m, c, h, w = shape
    left, right, top, bottom = a.padding

    def prepare(padded):
        # only the border needs zeros: the inside is overwritten on every call
        padded[:, :top] = padded[:, top + h:] = 0
        padded[:, top:top + h, :left] = padded[:, top:top + h, left + w:] = 0
        return padded[:, top:top + h, left:left + w], _images_last_window_view(padded, a)

    return prepared("conv2d images last", (c, h + top + bottom, w + left + right, m), a.dtype,
                    prepare, key=(a.padding, a.weight.shape[2:], a.stride, a.dilation,
                                  a.groups))


def _images_last_window_view(xt: np.ndarray, a: _ConvArgs) -> np.ndarray:
    """The (groups, C/groups, kH, kW, H_out, W_out, m) windows of padded images stored images
    last, `xt` (C, H_padded, W_padded, m)."""
    c, m = xt.shape[0], xt.shape[3]
    # (m, C, kH, kW, H_out, W_out) windows of the (m, C, Hp, Wp) view, images moved last
    windows = _window_view(xt.transpose(3, 0, 1, 2), a.weight.shape[2:], a.stride, a.dilation)
    return windows.transpose(1, 2, 3, 4, 5, 0).reshape(a.groups, c // a.groups,
                                                       *windows.shape[2:], m)
