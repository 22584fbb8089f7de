"""Pooling layers (max, average, L^p, across channels, global) and their backward passes.

Every function follows ``torch.nn.functional``: NCHW (or unbatched CHW) input, ``stride``
defaulting to ``kernel_size``, implicit padding that is at most half the kernel, ``ceil_mode``,
and PyTorch's exception types for bad arguments. Each backward sits beside its forward.

The work is vectorised over the whole batch: the loops below run over the ``kH * kW`` kernel
taps, each tap being one strided slice of the (padded) input, never over windows or pixels.
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import numpy as np

from . import _layout as layout
from ._memory import scratch
from ._select import keep_where
from ._validate import (
    as_float_array,
    check_non_negative,
    check_positive,
    check_rank,
    pair,
    result_dtype,
)
from .im2col import _window_view
from .padding import pad2d

__all__ = [
    "avg_pool2d", "avg_pool2d_backward", "channel_pool", "global_avg_pool2d",
    "lp_pool2d", "lp_pool2d_backward", "max_pool2d", "max_pool2d_backward",
]

_LAYOUT = "(C, H, W) or (N, C, H, W)"
# The max pooling switches copy the taps of at most this many output numbers at a time (about
# 8 MB in float32): memory stays bounded and the copy stays in cache for the comparisons.
_TAP_PLANES_ELEMENTS = 1 << 21


class _Pool(NamedTuple):
    """A validated pooling configuration for one input (all spatial values are (h, w) pairs)."""

    x: np.ndarray  # the input as a float array, always 4-D (a batch axis is added if needed)
    unbatched: bool  # the caller gave (C, H, W); results lose the batch axis again
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    out: tuple[int, int]  # (H_out, W_out)
    extra: tuple[int, int]  # rows/columns added after the bottom/right padding for ceil_mode

    def taps(self):
        """Yield ``(u, v, index)``: ``padded[index]`` holds tap (u, v) of every window."""
        (kh, kw), (sh, sw), (dh, dw), (ho, wo) = self.kernel, self.stride, self.dilation, self.out
        for u in range(kh):
            rows = slice(u * dh, u * dh + (ho - 1) * sh + 1, sh)
            for v in range(kw):
                yield u, v, (..., rows, slice(v * dw, v * dw + (wo - 1) * sw + 1, sw))

    def padded(self, array: np.ndarray, value: float) -> np.ndarray:
        """`array` with the implicit padding (and ceil_mode's extra rows) filled with `value`."""
        (ph, pw), (eh, ew) = self.padding, self.extra
        if ph == pw == eh == ew == 0:
            return array
        return pad2d(array, (pw, pw + ew, ph, ph + eh), value=value)

    def result(self, array: np.ndarray) -> np.ndarray:
        return array[0] if self.unbatched else array


def _output_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    # PyTorch's pooling_output_shape: floor (or ceil) division, and in ceil mode the last window
    # must start inside the input or its left padding, never in the right padding alone.
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _check_nonempty(x: np.ndarray, op: str) -> None:
    if 0 in x.shape[-3:]:
        raise RuntimeError(
            f"{op}: expected input with non-zero channels, height and width (only the batch "
            f"size may be 0), but got input of shape {tuple(x.shape)}"
        )


def _setup(op, input, kernel_size, stride, padding, dilation, ceil_mode) -> _Pool:
    """Validate a 2-D pooling call as PyTorch does and work out its geometry."""
    x = as_float_array(input, "input")
    check_rank(x, "input", (3, 4), op, _LAYOUT)
    _check_nonempty(x, op)
    k = pair(kernel_size, "kernel_size")
    s = k if stride is None else pair(stride, "stride")
    p = pair(padding, "padding")
    d = pair(dilation, "dilation")
    check_positive(k, "kernel_size")
    check_positive(s, "stride")
    check_positive(d, "dilation")
    check_non_negative(p, "padding")
    for ki, pi, di in zip(k, p, d):
        if pi > ki // 2:  # PyTorch's bound, whatever the dilation
            raise RuntimeError(
                f"{op}: pad should be at most half of effective kernel size, but got pad={pi}, "
                f"kernel_size={ki} and dilation={di}"
                + ("" if di == 1 else f" (the bound is kernel_size // 2 = {ki // 2})")
            )
    c, h, w = x.shape[-3:]
    ho = _output_size(h, k[0], s[0], p[0], d[0], ceil_mode)
    wo = _output_size(w, k[1], s[1], p[1], d[1], ceil_mode)
    if ho < 1 or wo < 1:
        raise RuntimeError(
            f"{op}: Given input size: ({c}x{h}x{w}). Calculated output size: ({c}x{ho}x{wo}). "
            f"Output size is too small (kernel_size={k}, stride={s}, padding={p}, dilation={d})"
        )
    # ceil_mode's last window may reach past the right padding: pad a little more
    extra = (max(0, (ho - 1) * s[0] + d[0] * (k[0] - 1) + 1 - (h + 2 * p[0])),
             max(0, (wo - 1) * s[1] + d[1] * (k[1] - 1) + 1 - (w + 2 * p[1])))
    unbatched = x.ndim == 3
    return _Pool(x[None] if unbatched else x, unbatched, k, s, p, d, (ho, wo), extra)


def _check_grad_output(grad_output, pool: _Pool, op: str) -> np.ndarray:
    g = as_float_array(grad_output, "grad_output")
    expected = (*pool.x.shape[int(pool.unbatched) : 2], *pool.out)
    if g.shape != expected:
        raise RuntimeError(
            f"{op}: expected grad_output of shape {expected} (the forward output for this input "
            f"and configuration), but got grad_output of shape {tuple(g.shape)}"
        )
    return g[None] if pool.unbatched else g


def _first_real_tap(n_out: int, k: int, s: int, p: int, d: int) -> np.ndarray:
    """Per output row (or column): the first tap of its window that lies inside the input."""
    start = np.arange(n_out) * s - p
    return np.minimum(np.maximum(0, -(start // d)), k - 1)  # ceil(-start / d), clipped


def _max_values(pool: _Pool, x: np.ndarray) -> np.ndarray:
    """The window maxima, separably: first down the kH rows of each window, then across its kW
    columns (a max of maxes). Both passes read contiguous runs, where taking the kH*kW taps
    one by one would step through memory in runs of W_out."""
    xp = pool.padded(x, -np.inf)
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = pool.kernel, pool.stride, pool.dilation, pool.out
    rows = [xp[..., u * dh:u * dh + (ho - 1) * sh + 1:sh, :] for u in range(kh)]
    row_max = rows[0].copy()  # (N, C, H_out, W_padded)
    for r in rows[1:]:
        np.maximum(row_max, r, out=row_max)  # propagates NaN, as PyTorch does
    w_padded = row_max.shape[-1]
    if w_padded == sw * wo:
        # window j of a row starts at j*sW, so across rows too the start of output q is q*sW:
        # one long strided run over the whole array
        flat, q = row_max.reshape(-1), row_max.size // w_padded * wo
        cols = [flat[v * dw:v * dw + (q - 1) * sw + 1:sw] for v in range(kw)]
    else:
        cols = [row_max[..., v * dw:v * dw + (wo - 1) * sw + 1:sw] for v in range(kw)]
    out = cols[0].copy()
    for c in cols[1:]:
        np.maximum(out, c, out=out)
    return out.reshape(*row_max.shape[:-1], wo)


def _max_taps(pool: _Pool, x: np.ndarray):
    """Return ``(output, tap)``: `tap` is the window offset ``u * kW + v`` of each output's
    chosen maximum (the "switch"), as PyTorch chooses it."""
    xp = pool.padded(x, -np.inf)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (ho, wo) = (
        pool.kernel, pool.stride, pool.padding, pool.dilation, pool.out
    )
    # Every tap of the windows, copied into one contiguous plane per tap: comparing the strided
    # tap views directly (inner runs of W_out numbers) costs several times more per element
    # than one copy followed by contiguous comparisons. The planes, `out` and `tap` are stored
    # in the input's memory order (NCHW or images last, where the copy reads runs of N).
    order = layout.memory_order(xp)
    out = layout.empty((*xp.shape[:2], ho, wo), xp.dtype, order)
    tap = layout.empty(out.shape, np.min_scalar_type(kh * kw), order)
    out_memory, tap_memory = out.transpose(order), tap.transpose(order)
    # (kH, kW, ...) the taps first, then the outputs in memory order
    windows = _tiles(pool, xp, order)
    if windows is None:
        windows = _window_view(xp, pool.kernel, pool.stride, pool.dilation)[..., :ho, :wo]
        windows = windows.transpose(2, 3, *((0, 1, 4, 5)[i] for i in order))
    lead, step = out_memory.shape[0], _planes_step(out_memory.shape, kh * kw)
    for start in range(0, lead, step):
        m = min(step, lead - start)
        planes = scratch("max_pool2d taps", (kh, kw, m, *out_memory.shape[1:]), xp.dtype)
        np.copyto(planes, windows[:, :, start:start + m])
        _first_maximum(planes.reshape(kh * kw, *planes.shape[2:]),
                       out_memory[start:start + m], tap_memory[start:start + m])
    # only a window that has no pixel of the input can have a -inf maximum from the padding
    if (ph or pw or any(pool.extra)) and (out == -np.inf).any():
        first_u = _first_real_tap(ho, kh, sh, ph, dh)
        first_v = _first_real_tap(wo, kw, sw, pw, dw)
        first = (first_u[:, None] * kw + first_v[None, :]).astype(tap.dtype)
        np.copyto(tap, np.broadcast_to(first, out.shape), where=out == -np.inf)
    return out, tap


def _planes_step(memory_shape: tuple[int, ...], taps: int) -> int:
    """How many rows of the outermost memory axis of an output of `memory_shape` get their
    `taps` planes at once: at most _TAP_PLANES_ELEMENTS numbers, at least one row."""
    per_row = taps * math.prod(memory_shape[1:])
    return max(1, min(memory_shape[0], _TAP_PLANES_ELEMENTS // max(per_row, 1)))


def _first_maximum(planes: np.ndarray, out: np.ndarray, tap: np.ndarray) -> None:
    """Into `out` and `tap`: the maximum over the first axis of `planes` and where it was.

    PyTorch scans each window in row-major order and takes a value if it is larger than the
    maximum so far or NaN: ties keep the FIRST maximum, NaNs the LAST NaN, and a window of -inf
    its first real pixel (fixed by the caller). The first maximum is counted without a branch:
    with ``later[t] = planes[t] != max``, it is at
    ``later[0] * (1 + later[1] * (1 + ... * (1 + later[T-2])))``. NaN is rare and fixed
    afterwards.
    """
    if len(planes) == 1:
        np.copyto(out, planes[0])
        tap[...] = 0
        return
    np.maximum(planes[0], planes[1], out=out)  # propagates NaN, as PyTorch does
    for plane in planes[2:]:
        np.maximum(out, plane, out=out)
    later = np.not_equal(planes[:-1], out).view(np.uint8)  # uint8 * uint8 is the fast loop
    np.copyto(tap, later[-1])
    for t in range(len(planes) - 3, -1, -1):
        tap += 1
        np.multiply(tap, later[t], out=tap)
    if np.isnan(out).any():
        for t in range(len(planes)):
            np.putmask(tap, np.isnan(planes[t]), t)


def _max_with_indices(pool: _Pool, x: np.ndarray):
    """Return ``(output, flat indices into each input plane)``."""
    out, tap = _max_taps(pool, x)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (ho, wo) = (
        pool.kernel, pool.stride, pool.padding, pool.dilation, pool.out
    )
    # flat index = index of the window's top-left tap + offset of the chosen tap in the window
    w = x.shape[-1]
    row0, col0 = np.arange(ho) * sh - ph, np.arange(wo) * sw - pw
    offsets = (np.arange(kh)[:, None] * (dh * w) + np.arange(kw)[None, :] * dw).ravel()
    return out, offsets[tap] + (row0[:, None] * w + col0[None, :])


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling: the largest value of every window, channel by channel.

    Parameters
    ----------
    input : ndarray, shape (N, C, H, W) or (C, H, W)
    kernel_size : int or pair of ints
        Window size F (or (kH, kW)).
    stride : int or pair of ints, optional
        Step S between windows; defaults to `kernel_size` (non-overlapping windows).
    padding : int or pair of ints
        Implicit padding with ``-inf`` on both sides; at most half the kernel size.
    dilation : int or pair of ints
        Spacing between the taps of a window.
    ceil_mode : bool
        Round the output size up instead of down; the extra window must start inside the input
        or its left padding.
    return_indices : bool
        Also return, for every output, the flat index ``row * W + col`` into its input plane of
        the chosen maximum (the first one in row-major window order on ties).

    Returns
    -------
    output : ndarray, shape (N, C, H_out, W_out) or (C, H_out, W_out)
        Same floating dtype as `input`.
    indices : ndarray of int64, same shape as `output`
        Only when `return_indices` is True.

    Notes
    -----
    .. math:: H_{out} = \\left\\lfloor \\frac{H + 2P - D(F - 1) - 1}{S} \\right\\rfloor + 1

    (ceiling instead of floor with ``ceil_mode``). The usual F=2, S=2 keeps one value out of
    four: a 224x224x64 volume becomes 112x112x64 and 75% of the activations are discarded.

    Examples
    --------
    >>> max_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2)
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    """
    pool = _setup("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode)
    if return_indices:
        out, indices = _max_with_indices(pool, pool.x)
        return pool.result(out), pool.result(indices)
    return pool.result(_max_values(pool, pool.x))


def max_pool2d_backward(grad_output, input, kernel_size, stride=None, padding=0, dilation=1,
                        ceil_mode=False) -> np.ndarray:
    """Gradient of :func:`max_pool2d` with respect to its input.

    Parameters
    ----------
    grad_output : ndarray, shape (N, C, H_out, W_out) or (C, H_out, W_out)
    input : ndarray, shape (N, C, H, W) or (C, H, W)
        The forward input; the positions of the maxima (the "switches") are found again from it.
    kernel_size, stride, padding, dilation, ceil_mode
        As in the forward call.

    Returns
    -------
    ndarray, shape of `input`

    Notes
    -----
    Each output's gradient goes to the one input position that won its window (the first
    maximum on ties, the index :func:`max_pool2d` returns). Where windows overlap (F=3, S=2)
    a position can win several windows and its gradients add up:

    .. math:: \\frac{\\partial L}{\\partial x_p} = \\sum_{o \\,:\\, \\mathrm{argmax}(o) = p}
              \\frac{\\partial L}{\\partial y_o}
    """
    op = "max_pool2d_backward"
    pool = _setup(op, input, kernel_size, stride, padding, dilation, ceil_mode)
    g = _check_grad_output(grad_output, pool, op)
    return pool.result(_max_backward(pool, pool.x, g))


class _Switches(NamedTuple):
    """Where every window's maximum was: what max pooling's backward pass needs from the
    forward one (the "switches" of the max pooling layer)."""

    pool: _Pool
    tap: np.ndarray  # (N, C, H_out, W_out) window offsets u * kW + v


def _max_pool2d_with_switches(input, kernel_size, stride=None, padding=0, dilation=1,
                              ceil_mode=False) -> tuple[np.ndarray, _Switches]:
    """:func:`max_pool2d` that also records the switches for
    :func:`_max_pool2d_backward_from_switches` (the MaxPool2d layer's forward pass)."""
    pool = _setup("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode)
    out, tap = _max_taps(pool, pool.x)
    return pool.result(out), _Switches(pool, tap)


def _max_pool2d_backward_from_switches(grad_output, switches: _Switches) -> np.ndarray:
    """:func:`max_pool2d_backward` with the switches recorded by the forward pass."""
    op = "max_pool2d_backward"
    g = _check_grad_output(grad_output, switches.pool, op)
    return switches.pool.result(_route_to_switches(switches, g))


def _max_backward(pool: _Pool, x: np.ndarray, g: np.ndarray) -> np.ndarray:
    return _route_to_switches(_Switches(pool, _max_taps(pool, x)[1]), g)


def _tiles(pool: _Pool, array: np.ndarray, order) -> np.ndarray | None:
    """The windows of `array` (the padded input, or its gradient) as a (kH, kW, ...) view, the
    outputs in memory `order` after the taps, when the windows tile it exactly (stride equal to
    the kernel, no dilation, nothing left over); None otherwise.

    Then splitting H into (H_out, kH) and W into (W_out, kW) gives the windows: a reshape,
    cheaper than the general strided window view, and a writable view of `array` when it is
    stored in `order` (else a copy, fine for reading).
    """
    (kh, kw), (ho, wo) = pool.kernel, pool.out
    if pool.stride != pool.kernel or pool.dilation != (1, 1) or array.shape[2:] != (ho * kh,
                                                                                    wo * kw):
        return None
    split, outer, kernel = [], [], []
    for axis in order:
        outer.append(len(split))
        if axis < 2:
            split.append(array.shape[axis])
        else:  # H or W: (outputs, kernel taps)
            kernel.append(len(split) + 1)
            split += [pool.out[axis - 2], pool.kernel[axis - 2]]
    return array.transpose(order).reshape(split).transpose(*kernel, *outer)


def _route_to_switches(switches: _Switches, g: np.ndarray) -> np.ndarray:
    """Send each output's gradient to the input pixel its switch points at."""
    pool, tap = switches.pool, switches.tap
    (kh, kw), (sh, sw), (dh, dw) = pool.kernel, pool.stride, pool.dilation
    (ph, pw), (eh, ew), (n, c, h, w) = pool.padding, pool.extra, pool.x.shape
    shape, dtype = (n, c, h + 2 * ph + eh, w + 2 * pw + ew), result_dtype(g, pool.x)
    # grad and the planes below are stored as the switches are (NCHW or images last). Windows
    # that tile the (padded) input write every pixel once (images last, in one copy of runs of
    # N numbers); others leave pixels unwritten, or (F=3, S=2) reach a pixel through several
    # taps, whose gradients add up.
    order = layout.memory_order(tap)
    grad = layout.empty(shape, dtype, order)
    tiles = _tiles(pool, grad, order)
    if tiles is None:
        grad[...] = 0
    elif order != layout.IMAGES_LAST:
        tiles = None  # NCHW, one copy would step through runs of kW numbers: tap by tap is faster
    overlap = sh < dh * (kh - 1) + 1 or sw < dw * (kw - 1) + 1
    taps = np.arange(kh * kw, dtype=tap.dtype).reshape(kh, kw, 1, 1, 1, 1)
    tap_memory, g_memory = tap.transpose(order), g.transpose(order)
    grad_memory, to_nchw = grad.transpose(order), layout.undo(order)
    # one plane per tap of the chosen gradients, a few outer memory rows of them at a time
    lead, step = tap_memory.shape[0], _planes_step(tap_memory.shape, kh * kw)
    for start in range(0, lead, step):
        rows = slice(start, start + step)
        chosen = np.empty((kh, kw, *tap_memory[rows].shape), dtype=bool)
        np.equal(tap_memory[rows], taps, out=chosen)
        # not g * chosen: a NaN gradient reaches its switch only
        routed = keep_where(chosen, g_memory[rows])
        if tiles is not None:
            np.copyto(tiles[:, :, rows], routed)
            continue
        grad_chunk = grad_memory[rows].transpose(to_nchw)
        for u, v, index in pool.taps():
            plane = routed[u, v].transpose(to_nchw)
            if overlap:  # within one tap the windows' pixels are distinct, so += is exact
                grad_chunk[index] += plane
            else:
                grad_chunk[index] = plane
    # Padding (and a window made of padding only, whose -inf "maximum" points at its first tap,
    # which lies in the padding) gets gradient here and is cut off.
    if grad.shape[-2:] == (h, w):
        return grad
    return np.ascontiguousarray(grad[..., ph:ph + h, pw:pw + w])


def _avg_divisor(pool: _Pool, count_include_pad: bool) -> np.ndarray:
    """The (H_out, W_out) number each window sum is divided by, with PyTorch's rule."""
    factors = []
    for n, n_out, k, s, p in zip(pool.x.shape[-2:], pool.out, pool.kernel, pool.stride,
                                 pool.padding):
        start = np.arange(n_out) * s - p
        end = np.minimum(start + k, n + p)  # padding counts, ceil_mode's overhang never does
        if count_include_pad:
            factors.append(end - start)
        else:
            factors.append(np.minimum(end, n) - np.maximum(start, 0))
    return np.outer(*factors)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True) -> np.ndarray:
    """2-D average pooling: the mean of every window, channel by channel.

    Parameters
    ----------
    input : ndarray, shape (N, C, H, W) or (C, H, W)
    kernel_size, stride, padding, ceil_mode
        As in :func:`max_pool2d` (zero padding here).
    count_include_pad : bool
        Whether the zeros of the implicit padding count in the divisor.

    Returns
    -------
    ndarray, shape (N, C, H_out, W_out) or (C, H_out, W_out)

    Notes
    -----
    .. math:: y_{ij} = \\frac{1}{|R_{ij}|} \\sum_{(u, v) \\in R_{ij}} x_{uv}

    :math:`|R_{ij}|` is ``kH * kW`` for a window inside the (padded) input. A ceil_mode window
    that runs past the padding is divided by the part that lies inside it, and with
    ``count_include_pad=False`` only by its pixels of the input itself.

    Examples
    --------
    >>> avg_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2)
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]])
    """
    pool = _setup("avg_pool2d", input, kernel_size, stride, padding, 1, ceil_mode)
    return pool.result(_avg(pool, pool.x, count_include_pad))


def _avg(pool: _Pool, x: np.ndarray, count_include_pad: bool) -> np.ndarray:
    xp = pool.padded(x, 0.0)
    taps = pool.taps()
    total = xp[next(taps)[2]].copy()
    for _, _, index in taps:
        np.add(total, xp[index], out=total)
    return (total / _avg_divisor(pool, count_include_pad)).astype(x.dtype, copy=False)


def avg_pool2d_backward(grad_output, input, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True) -> np.ndarray:
    """Gradient of :func:`avg_pool2d` with respect to its input.

    Parameters
    ----------
    grad_output : ndarray, shape (N, C, H_out, W_out) or (C, H_out, W_out)
    input : ndarray, shape (N, C, H, W) or (C, H, W)
        Only its shape and dtype matter: average pooling is linear.
    kernel_size, stride, padding, ceil_mode, count_include_pad
        As in the forward call.

    Returns
    -------
    ndarray, shape of `input`

    Notes
    -----
    Every pixel of a window receives the window's gradient divided by the window's divisor;
    overlapping windows add their shares.
    """
    op = "avg_pool2d_backward"
    pool = _setup(op, input, kernel_size, stride, padding, 1, ceil_mode)
    g = _check_grad_output(grad_output, pool, op)
    return pool.result(_avg_backward(pool, g, count_include_pad, result_dtype(g, pool.x)))


def _avg_backward(pool: _Pool, g: np.ndarray, count_include_pad: bool, dtype) -> np.ndarray:
    share = (g / _avg_divisor(pool, count_include_pad)).astype(dtype, copy=False)
    grad = pool.padded(np.zeros(pool.x.shape, dtype=dtype), 0.0)
    for _, _, index in pool.taps():
        grad[index] += share  # one tap never repeats a pixel, so += adds each share once
    (ph, pw), (h, w) = pool.padding, pool.x.shape[-2:]
    return np.ascontiguousarray(grad[..., ph : ph + h, pw : pw + w])


def _check_norm_type(norm_type) -> float:
    if not isinstance(norm_type, numbers.Real) or isinstance(norm_type, bool):
        raise TypeError(f"lp_pool2d: norm_type must be a real number p, got {norm_type!r}")
    if norm_type == 0:  # PyTorch fails computing 1.0 / norm_type
        raise ZeroDivisionError("lp_pool2d: norm_type must be non-zero, the output is s ** (1/p)")
    return float(norm_type)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False) -> np.ndarray:
    """2-D power-average (L^p) pooling; ``norm_type=2`` is L2 pooling.

    Parameters
    ----------
    input : ndarray, shape (N, C, H, W) or (C, H, W)
    norm_type : float
        The power p; ``inf`` gives max pooling of ``|x|`` and ``-inf`` its minimum, as in PyTorch.
    kernel_size, stride, ceil_mode
        As in :func:`max_pool2d`; there is no padding.

    Returns
    -------
    ndarray, shape (N, C, H_out, W_out) or (C, H_out, W_out)

    Notes
    -----
    PyTorch computes it from an average pool, and so does this function:

    .. math:: y = \\left(k_H k_W \\cdot \\mathrm{avg\\_pool2d}(x^p)\\right)^{1/p}
              = \\Big(\\sum_{(u, v) \\in R} x_{uv}^p\\Big)^{1/p}

    The second form holds for windows inside the input; a ceil_mode window that overhangs
    is scaled from its average, as PyTorch does. Negative sums give NaN for fractional 1/p.
    """
    p = _check_norm_type(norm_type)
    pool = _setup("lp_pool2d", input, kernel_size, stride, 0, 1, ceil_mode)
    if np.isinf(p):
        sign = 1.0 if p > 0 else -1.0  # inf: max of |x|; -inf: -max(-|x|), the min of |x|
        return pool.result(sign * _max_values(pool, sign * np.abs(pool.x)))
    with np.errstate(divide="ignore", invalid="ignore"):
        return pool.result(_lp_forward(pool, p)[1])


def _lp_forward(pool: _Pool, p: float):
    """Return ``(avg_pool2d(x**p), output)`` for a finite power p."""
    mean = _avg(pool, pool.x**p, True)
    return mean, (mean * (pool.kernel[0] * pool.kernel[1])) ** (1.0 / p)


def lp_pool2d_backward(grad_output, input, norm_type, kernel_size, stride=None,
                       ceil_mode=False) -> np.ndarray:
    """Gradient of :func:`lp_pool2d` with respect to its input.

    Parameters
    ----------
    grad_output : ndarray, shape (N, C, H_out, W_out) or (C, H_out, W_out)
    input : ndarray, shape (N, C, H, W) or (C, H, W)
    norm_type, kernel_size, stride, ceil_mode
        As in the forward call.

    Returns
    -------
    ndarray, shape of `input`

    Notes
    -----
    With :math:`a = \\mathrm{avg\\_pool2d}(x^p)` and :math:`y = (k a)^{1/p}`:

    .. math:: \\frac{\\partial y}{\\partial x_{uv}} = \\frac{y}{p\\,a}
              \\cdot \\frac{\\partial a}{\\partial x_{uv}}, \\qquad
              \\frac{\\partial a}{\\partial x_{uv}} = \\frac{p\\,x_{uv}^{p-1}}{|R|}

    Where a window's sum of powers is zero the gradient is set to zero, as PyTorch documents.
    """
    op = "lp_pool2d_backward"
    p = _check_norm_type(norm_type)
    pool = _setup(op, input, kernel_size, stride, 0, 1, ceil_mode)
    g = _check_grad_output(grad_output, pool, op)
    x, dtype = pool.x, result_dtype(g, pool.x)
    if np.isinf(p):
        sign = 1.0 if p > 0 else -1.0  # y = sign * max_pool(sign * |x|)
        grad = _max_backward(pool, sign * np.abs(x), sign * g) * (sign * np.sign(x))
        return pool.result(grad.astype(dtype, copy=False))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean, out = _lp_forward(pool, p)
        nonzero = mean != 0
        grad_mean = np.where(nonzero, g * out / (p * np.where(nonzero, mean, 1)), 0)
        grad = _avg_backward(pool, grad_mean, True, dtype) * (p * x ** (p - 1))
    return pool.result(grad.astype(dtype, copy=False))


def channel_pool(input, kernel_size, stride=None, mode="max") -> np.ndarray:
    """Pooling across depth: max or mean over groups of neighbouring channels.

    Parameters
    ----------
    input : ndarray, shape (N, C, H, W) or (C, H, W)
    kernel_size : int
        Number K of consecutive channels pooled together.
    stride : int, optional
        Step between channel groups; defaults to `kernel_size`.
    mode : {"max", "avg"}

    Returns
    -------
    ndarray, shape (N, C_out, H, W) or (C_out, H, W)
        The spatial size is unchanged; only the depth shrinks.

    Notes
    -----
    .. math:: C_{out} = \\left\\lfloor \\frac{C - K}{S} \\right\\rfloor + 1, \\qquad
              y_{c,i,j} = \\max_{0 \\le t < K} x_{cS + t,\\, i,\\, j}

    PyTorch has no function of its own for this; it equals ``max_pool3d`` (or ``avg_pool3d``)
    with kernel (K, 1, 1) over the channel axis.

    Examples
    --------
    >>> channel_pool(np.arange(4.0).reshape(1, 4, 1, 1), 2)[:, :, 0, 0]
    array([[1., 3.]])
    """
    op = "channel_pool"
    if mode not in ("max", "avg"):
        raise ValueError(f"{op}: mode must be 'max' or 'avg', got {mode!r}")
    x = as_float_array(input, "input")
    check_rank(x, "input", (3, 4), op, _LAYOUT)
    _check_nonempty(x, op)
    if stride is None:
        stride = kernel_size
    for name, value in (("kernel_size", kernel_size), ("stride", stride)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            raise TypeError(f"{op}: {name} must be an int, got {value!r}")
        if value <= 0:
            raise RuntimeError(f"{op}: {name} should be greater than zero, but got {name}={value}")
    c, h, w = x.shape[-3:]
    c_out = (c - kernel_size) // stride + 1
    if c_out < 1:
        raise RuntimeError(
            f"{op}: Given input size: ({c}x{h}x{w}). Calculated output size: ({c_out}x{h}x{w}). "
            f"Output size is too small (kernel_size={kernel_size} is more than the {c} channels)"
        )
    span = (c_out - 1) * stride + 1
    taps = (x[..., t : t + span : stride, :, :] for t in range(kernel_size))
    out = next(taps).copy()
    combine = np.maximum if mode == "max" else np.add
    for tap in taps:
        combine(out, tap, out=out)
    return out if mode == "max" else (out / kernel_size).astype(x.dtype, copy=False)


def global_avg_pool2d(input) -> np.ndarray:
    """Mean of every channel over all its positions, like ``F.adaptive_avg_pool2d(x, 1)``.

    Parameters
    ----------
    input : ndarray, shape (N, C, H, W) or (C, H, W)

    Returns
    -------
    ndarray, shape (N, C, 1, 1) or (C, 1, 1)

    Notes
    -----
    .. math:: y_c = \\frac{1}{HW} \\sum_{i, j} x_{c,i,j}

    GoogLeNet uses it in place of fully connected layers, which removes their parameters.
    """
    op = "global_avg_pool2d"
    x = as_float_array(input, "input")
    check_rank(x, "input", (3, 4), op, _LAYOUT)
    _check_nonempty(x, op)
    return x.mean(axis=(-2, -1), keepdims=True, dtype=x.dtype)
