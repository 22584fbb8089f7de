"""Checks for notebook 05_architectures, part 2: the backward pass of a convolution.

``conv2d_backward(dout, x, weight, stride=1, padding=0) -> (dx, dweight, dbias)`` is compared
with ``cnncourse.ops.conv.conv2d_backward`` one gradient at a time, each with the mistakes that
show in it (the other two gradients of a mistake's output are the right ones). Part 1 is
``cnncourse.checks.architectures``, whose topic, seeds and helpers this module shares.
"""

from __future__ import annotations

import numpy as np

from cnncourse.ops import conv as _conv

from . import _core, register
from ._core import Case, Mistake
from ._structured import check_components
from .architectures import TOPIC, VISIBLE_SEED, _which

__all__ = [
    "check_conv2d_backward_bias",
    "check_conv2d_backward_edge_cases",
    "check_conv2d_backward_input",
    "check_conv2d_backward_shapes",
    "check_conv2d_backward_weight",
]

# Bound now: the expected answers never depend on what the notebook does to these names later.
_conv2d = _conv.conv2d
_conv2d_backward = _conv.conv2d_backward
_asarray, _einsum, _pad, _zeros = np.asarray, np.einsum, np.pad, np.zeros
_windows = np.lib.stride_tricks.sliding_window_view
_core.watch(_conv, ["conv2d", "conv2d_backward"])

def _backward(dout, x, weight, stride=1, padding=0):
    return _conv2d_backward(dout, x, weight, stride=stride, padding=padding)


def _padded(x, p):
    return _pad(np.asarray(x, dtype=float), ((0, 0), (0, 0), (p, p), (p, p)))


def _dx_scatter(dout, x, weight, stride, padding, step):
    """Each output gradient sent back through its window; windows `step` apart."""
    n, c, h, w = np.shape(x)
    kh, kw = np.shape(weight)[2:]
    dxp = _zeros((n, c, h + 2 * padding, w + 2 * padding))
    part = _einsum("noij,ocuv->ncijuv", dout, weight)
    for i in range(np.shape(dout)[2]):
        for j in range(np.shape(dout)[3]):
            dxp[:, :, i * step:i * step + kh, j * step:j * step + kw] += part[:, :, i, j]
    return dxp


def _dx_as_conv(dout, x, weight, stride, padding, flip=True):
    """The input gradient as a full correlation of the (dilated) output gradient with the
    filters, channels swapped and (rightly) flipped."""
    dout, weight = np.asarray(dout), np.asarray(weight)
    (n, o, ho, wo), (h, w) = dout.shape, np.shape(x)[2:]
    kh, kw = weight.shape[2:]
    dil = _zeros((n, o, (ho - 1) * stride + 1, (wo - 1) * stride + 1))
    dil[:, :, ::stride, ::stride] = dout
    extra_h = h + 2 * padding - (ho - 1) * stride - kh  # rows no window reached
    extra_w = w + 2 * padding - (wo - 1) * stride - kw
    full = _pad(dil, ((0, 0), (0, 0), (kh - 1, kh - 1 + extra_h), (kw - 1, kw - 1 + extra_w)))
    kernel = weight.transpose(1, 0, 2, 3)
    dxp = _conv2d(full, kernel[..., ::-1, ::-1] if flip else kernel)
    return dxp[:, :, padding:padding + h, padding:padding + w]


def _dw(dout, x, weight, stride, padding, step):
    kh, kw = np.shape(weight)[2:]
    ho, wo = np.shape(dout)[2:]
    win = _windows(_padded(x, padding), (kh, kw), axis=(2, 3))
    win = win[:, :, :(ho - 1) * step + 1:step, :(wo - 1) * step + 1:step]
    return _einsum("noij,ncijuv->ocuv", dout, win)


def _part(index, fn):
    """A mistake in one gradient; the other two are right (`fn` returning None: n/a)."""
    def variant(dout, x, weight, stride=1, padding=0):
        out = fn(np.asarray(dout), np.asarray(x), np.asarray(weight), stride, padding)
        if out is None:
            return None
        grads = list(_backward(dout, x, weight, stride, padding))
        grads[index] = out
        return tuple(grads)
    return variant


def _right(index):
    return lambda d, x, w, s, p: _backward(d, x, w, s, p)[index]


_NCHW = "The course (like PyTorch) is NCHW: gradients have the shapes of what they differentiate"
_BIAS_HINT = ("dbias[o] = sum over n, i, j of dout[n, o, i, j]: the bias was added to every "
              "position of every image, so every one of them sends its gradient back: "
              "dout.sum(axis=(0, 2, 3)), shape (C_out,).")
_STRIDE_HINT = ("Output position (i, j) read the window that starts at (i * stride, j * stride) "
                "of the padded input; that is where its gradient goes.")
BACKWARD_MISTAKES = [
    Mistake("x[p:-p] with p = 0 when cropping the padded input gradient (empty result)",
            "With padding = 0, dx_padded[:, :, 0:-0] is EMPTY (-0 is 0). Crop with explicit "
            "ends: dx_padded[:, :, p:p + H, p:p + W].",
            _part(0, lambda d, x, w, s, p: None if p else
                  _right(0)(d, x, w, s, p)[:, :, p:-p, p:-p])),
    Mistake("padding not cropped from the input gradient",
            "The gradient of the padded input is (N, C, H + 2p, W + 2p); the zeros of the "
            "padding are not inputs: return dx_padded[:, :, p:p + H, p:p + W].",
            _part(0, lambda d, x, w, s, p: _dx_scatter(d, x, w, s, p, s) if p else None)),
    Mistake("input gradient using the unflipped filter",
            "Written as a convolution, dx is the FULL correlation of dout with each filter "
            "flipped in both axes (w[o, c, ::-1, ::-1]) and its channel axes swapped. Or "
            "scatter: dx_padded[n, :, window] += dout[n, o, i, j] * w[o], which needs no flip.",
            _part(0, lambda d, x, w, s, p: _dx_as_conv(d, x, w, s, p, flip=False))),
    Mistake("input gradient missing the stride (windows start at i instead of i*stride)",
            _STRIDE_HINT, _part(0, lambda d, x, w, s, p: None if s == 1 else
                                _dx_scatter(d, x, w, s, p, 1)[:, :, p:p + x.shape[2],
                                                                p:p + x.shape[3]])),
    Mistake("NHWC instead of NCHW (grad_input returned as (N, H, W, C))",
            _NCHW + ": dx is (N, C, H, W) like x.",
            _part(0, lambda d, x, w, s, p: _right(0)(d, x, w, s, p).transpose(0, 2, 3, 1))),
    Mistake("weight gradient missing the stride (windows start at i instead of i*stride)",
            "dweight[o] = sum over n, i, j of dout[n, o, i, j] * x_padded[n, :, window(i, j)]. "
            + _STRIDE_HINT, _part(1, lambda d, x, w, s, p: None if s == 1 else
                                  _dw(d, x, w, s, p, 1))),
    Mistake("weight gradient not summed over the batch (first image only)",
            "Every image used the same weights: add the contributions of all N images.",
            _part(1, lambda d, x, w, s, p: None if len(x) == 1 else
                  _dw(d[:1], x[:1], w, s, p, s))),
    Mistake("weight gradient flipped",
            "dweight[o, c, u, v] pairs w[o, c, u, v] with x_padded[n, c, i*s + u, j*s + v]: "
            "no flip.", _part(1, lambda d, x, w, s, p: _right(1)(d, x, w, s, p)[..., ::-1, ::-1])),
    Mistake("NHWC instead of NCHW (grad_weight as (kH, kW, C_in, C_out))",
            _NCHW + ": dweight is (C_out, C_in, kH, kW) like weight.",
            _part(1, lambda d, x, w, s, p: _right(1)(d, x, w, s, p).transpose(2, 3, 1, 0))),
    Mistake("bias gradient not summed over batch and positions (summed over positions only)",
            _BIAS_HINT, _part(2, lambda d, x, w, s, p: d.sum(axis=(2, 3)))),
    Mistake("bias gradient not summed over batch and positions (summed over the batch only)",
            _BIAS_HINT, _part(2, lambda d, x, w, s, p: d.sum(axis=0))),
    Mistake("bias gradient not summed over batch and positions (first image only)",
            _BIAS_HINT, _part(2, lambda d, x, w, s, p: None if len(d) == 1 else
                              d[0].sum(axis=(1, 2)))),
    Mistake("bias gradient not summed over batch and positions (averaged instead)",
            _BIAS_HINT, _part(2, lambda d, x, w, s, p: d.mean(axis=(0, 2, 3)))),
    Mistake("bias gradient summed over the output channels too (one number)",
            _BIAS_HINT, _part(2, lambda d, x, w, s, p: np.asarray(d.sum()))),
]

_PARTS = ("grad_input", "grad_weight", "grad_bias")


def _backward_case(g, n, c_in, c_out, h, w, k, stride=1, padding=0, label="") -> Case:
    kh, kw = (k, k) if isinstance(k, int) else k
    ho, wo = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    args = (g.standard_normal((n, c_out, ho, wo)), g.standard_normal((n, c_in, h, w)),
            g.standard_normal((c_out, c_in, kh, kw)))
    return Case(args, {"stride": stride, "padding": padding}, label)


def _backward_cases(seed: int, kind: str) -> list[Case]:
    g = _core.rng(seed)
    if kind == "shapes":
        return [_backward_case(g, 2, 2, 3, 5, 6, 3),
                _backward_case(g, 1, 3, 2, 7, 6, (3, 2), 2, 1),
                _backward_case(g, 2, 1, 2, 4, 5, 3, 1, 2)]
    if kind == "input":
        return [_backward_case(g, 2, 2, 3, 5, 6, 3, 1, 0), _backward_case(g, 2, 3, 2, 6, 5, 3, 1, 1),
                _backward_case(g, 1, 2, 2, 7, 7, (2, 3), 2, 1)]
    if kind == "weight":
        return [_backward_case(g, 2, 2, 3, 7, 8, 3, 2, 0), _backward_case(g, 3, 2, 2, 8, 7, 3, 2, 1),
                _backward_case(g, 2, 1, 2, 9, 9, 2, 3, 1)]
    if kind == "bias":
        return [_backward_case(g, 3, 2, 3, 5, 5, 3, 1, 1), _backward_case(g, 2, 1, 4, 6, 4, 2, 2, 0)]
    return [_backward_case(g, 2, 2, 2, 5, 5, 3, 1, 0, "padding = 0"),
            _backward_case(g, 2, 3, 2, 6, 5, 1, 2, 0, "1x1 kernel, stride 2"),
            _backward_case(g, 1, 2, 3, 4, 4, 6, 1, 1, "kernel as large as the padded input"),
            _backward_case(g, 2, 2, 2, 9, 7, 3, 3, 1, "stride 3: the last row is never read"),
            _backward_case(g, 1, 1, 1, 5, 6, 3, 2, 2, "one image, one channel, one filter")]


def _check_backward(conv2d_backward, cases, name, parts, values=True) -> None:
    __tracebackhide__ = True
    check_components(conv2d_backward, _backward, cases, name=name, fields=_PARTS, order=parts,
                     mistakes=BACKWARD_MISTAKES, arrays=True, values=values,
                     allow=("cnncourse.ops.padding",))


def check_conv2d_backward_shapes(conv2d_backward, seed: int = VISIBLE_SEED) -> None:
    """Are dx, dweight and dbias shaped like x, weight and (C_out,)?"""
    __tracebackhide__ = True
    _check_backward(conv2d_backward, _backward_cases(seed + 6, "shapes"),
                    "conv2d_backward shapes", (0, 1, 2), values=False)


def check_conv2d_backward_input(conv2d_backward, seed: int = VISIBLE_SEED) -> None:
    """Is dx right (stride 1 and 2, with and without padding, non-symmetric kernels)?"""
    __tracebackhide__ = True
    _check_backward(conv2d_backward, _backward_cases(seed + 7, "input"),
                    f"conv2d_backward input gradient ({_which(seed)} cases)", (0,))


def check_conv2d_backward_weight(conv2d_backward, seed: int = VISIBLE_SEED) -> None:
    """Is dweight right, in particular with strides 2 and 3 and several images?"""
    __tracebackhide__ = True
    _check_backward(conv2d_backward, _backward_cases(seed + 8, "weight"),
                    f"conv2d_backward weight gradient ({_which(seed)} cases)", (1,))


def check_conv2d_backward_bias(conv2d_backward, seed: int = VISIBLE_SEED) -> None:
    """Is dbias the sum of dout over the batch and all positions?"""
    __tracebackhide__ = True
    _check_backward(conv2d_backward, _backward_cases(seed + 9, "bias"),
                    f"conv2d_backward bias gradient ({_which(seed)} cases)", (2,))


def check_conv2d_backward_edge_cases(conv2d_backward, seed: int = VISIBLE_SEED) -> None:
    """padding = 0, 1x1 kernels, one output position, rows no window reads, one of everything."""
    __tracebackhide__ = True
    _check_backward(conv2d_backward, _backward_cases(seed + 10, "edge"),
                    f"conv2d_backward edge cases ({_which(seed)} cases)", (0, 1, 2))


register(TOPIC, "conv2d_backward", [check_conv2d_backward_shapes, check_conv2d_backward_input,
                                    check_conv2d_backward_weight, check_conv2d_backward_bias,
                                    check_conv2d_backward_edge_cases])
_core.protect(__name__)
