"""im2col and col2im: convolution as one matrix multiply.

``im2col`` stretches every receptive field of the input into a column, so that a convolution
becomes ``weight.reshape(K, -1) @ cols``; ``col2im`` is its adjoint, adding every column back
into the image it came from. They are ``torch.nn.functional.unfold`` and ``fold``, with the
same argument names, defaults and column order (channel, then kernel row, then kernel column).

``conv2d`` and ``conv2d_backward`` in :mod:`cnncourse.ops.conv` use the private helpers
:func:`_window_view` and :func:`_fold_add`, which work on an already padded array.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_float_array, check_non_negative, check_positive, check_rank, pair
from .padding import pad2d, sliding_windows

__all__ = ["col2im", "im2col"]


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
    cols = np.ascontiguousarray(_window_view(xp, k, s, d)).reshape(n, c * k[0] * k[1],
                                                                    h_out * w_out)
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
