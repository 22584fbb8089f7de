"""Checks for notebook 02_padding_stride, part 2: conv2d with stride, padding and dilation, the
receptive field of stacked layers, im2col and the convolution as one matrix multiply.

Part 1 (output sizes, pad2d, unpad2d) is in ``cnncourse.checks.padding_stride``; both register
under the topic ``"02_padding_stride"``. As there, every ``check_*`` takes the student's function
and a `seed` (visible cells: the default; hidden cells: another), and known mistakes are named.
"""

from __future__ import annotations

import math

import numpy as np

from cnncourse import arch as _arch
from cnncourse.ops import conv as _conv
from cnncourse.ops import im2col as _im2col_module
from cnncourse.ops import padding as _padding
from cnncourse.ops._validate import pair as _pair

from . import _core, register
from ._core import Case, Mistake, run_exercise_check
from .padding_stride import _FORMULA, TOPIC, VISIBLE_SEED, _nchw, _which

__all__ = [
    "check_conv2d_dilation",
    "check_conv2d_edge_cases",
    "check_conv2d_im2col_stride_padding",
    "check_conv2d_im2col_values",
    "check_conv2d_padding",
    "check_conv2d_shape",
    "check_conv2d_stride",
    "check_im2col_shape",
    "check_im2col_stride_padding",
    "check_im2col_values",
    "check_receptive_field_examples",
    "check_receptive_field_values",
]

# Bound now: the expected answers never depend on what the notebook does to these names later.
_conv_output_size = _padding.conv_output_size
_conv2d = _conv.conv2d
_im2col = _im2col_module.im2col
_arch_receptive_field = _arch.receptive_field
_Conv = _arch.Conv
_np_pad = np.pad
_core.watch(_conv, ["conv2d"])
_core.watch(_im2col_module, ["im2col"])
_core.watch(_arch, ["receptive_field"])

# conv2d and im2col may reuse the course's pad2d/conv_output_size (the padding exercise is graded
# on its own); everything else in cnncourse.ops stays off limits.
_ALLOW_PADDING = ("cnncourse.ops.padding",)


def _im2col_ref(input, kernel_size, stride=1, padding=0):
    return _im2col(input, kernel_size, padding=padding, stride=stride)


def _conv2d_im2col_ref(input, weight, bias=None, stride=1, padding=0):
    return _conv2d(input, weight, bias, stride=stride, padding=padding)


def _receptive_field(kernel_sizes, strides=None, dilations=None):
    n = len(kernel_sizes)
    spec = [_Conv(1, k, stride=s, dilation=d)
            for k, s, d in zip(kernel_sizes, strides or [1] * n, dilations or [1] * n)]
    return int(_arch_receptive_field(spec)[-1].size[0])  # the last layer's (rows, cols) field


# ----------------------------------------------------------------------------------------------
# conv2d with stride, padding and dilation (and conv2d_im2col, which shares its mistakes)


def _conv_variant(change):
    """A conv2d mistake: `change(x, w, bias, stride, padding, dilation)` with pairs, or None."""
    def fn(x, w, bias=None, stride=1, padding=0, dilation=1):
        return change(np.asarray(x), np.asarray(w), bias, _pair(stride, "stride"),
                      _pair(padding, "padding"), _pair(dilation, "dilation"))
    return fn


def _stride_not_in_start(x, w, b, s, p, d):
    if s == (1, 1):
        return None
    h_out, w_out = _conv_output_size(x.shape[-2:], w.shape[-2:], s, p, d)
    return _conv2d(x, w, b, 1, p, d)[..., :h_out, :w_out]


def _swapped(x, w, b, s, p, d, which):
    hyper = {"stride": s, "padding": p, "dilation": d}
    if hyper[which][0] == hyper[which][1]:
        return None
    hyper[which] = hyper[which][::-1]
    return _conv2d(x, w, b, **hyper)


def _one_side(x, w, b, s, p, d, before: bool):
    widths = ((0, 0), (0, 0)) + (((p[0], 0), (p[1], 0)) if before else ((0, p[0]), (0, p[1])))
    return None if p == (0, 0) else _conv2d(_np_pad(x, widths), w, b, s, 0, d)


_STRIDE_START = Mistake(
    "stride left out of the window start (windows start at i instead of i*stride)",
    "Output (i, j) reads the window whose top-left corner is at row i*stride_h, column "
    "j*stride_w of the padded input: x_pad[..., i*sH : i*sH + kH, j*sW : j*sW + kW].",
    _conv_variant(_stride_not_in_start))
_SWAP_HINT = "Pairs are (height, width): the first number acts along the rows, the second along " \
             "the columns."
STRIDED_CONV_MISTAKES = [
    _STRIDE_START,
    Mistake("stride ignored (every position computed, as with stride 1)",
            "With stride S only every S-th window is computed; the output is smaller.",
            _conv_variant(lambda x, w, b, s, p, d: _conv2d(x, w, b, 1, p, d))),
    Mistake("output size off by one (one row and one column short)",
            f"Allocate the output with {_FORMULA} rows (and the same for columns).",
            _conv_variant(lambda x, w, b, s, p, d: _conv2d(x, w, b, s, p, d)[..., :-1, :-1])),
    Mistake("padding ignored",
            "Pad the input first (pad2d(input, padding)) and slide the windows over the padded "
            "array.",
            _conv_variant(lambda x, w, b, s, p, d: _conv2d(x, w, b, s, 0, d))),
    *(Mistake("padding added on one side only",
              "pad2d adds the zeros on both sides: padding rows on top AND bottom.",
              _conv_variant(lambda x, w, b, s, p, d, first=first: _one_side(x, w, b, s, p, d,
                                                                             first)))
      for first in (True, False)),
    Mistake("stride pair swapped", _SWAP_HINT,
            _conv_variant(lambda *a: _swapped(*a, "stride"))),
    Mistake("padding pair swapped", _SWAP_HINT,
            _conv_variant(lambda *a: _swapped(*a, "padding"))),
    Mistake("NHWC layout instead of NCHW",
            "Your output has shape (N, H_out, W_out, C_out): the course (like PyTorch) uses "
            "NCHW, so the output is (N, C_out, H_out, W_out).",
            _conv_variant(lambda x, w, b, s, p, d: _conv2d(x, w, b, s, p, d).transpose(0, 2, 3, 1))),
    Mistake("bias missing",
            "bias[o] is added to every position of output channel o: out + bias[None, :, None, None].",
            _conv_variant(lambda x, w, b, s, p, d: None if b is None else _conv2d(x, w, None, s, p, d))),
    Mistake("flipped kernel (true convolution instead of cross-correlation)",
            "A convolutional layer cross-correlates: weight[o, c, u, v] multiplies "
            "x_pad[n, c, i*sH + u*dH, j*sW + v*dW], without flipping.",
            _conv_variant(lambda x, w, b, s, p, d: _conv2d(x, w[..., ::-1, ::-1], b, s, p, d))),
]
CONV2D_MISTAKES = [
    *STRIDED_CONV_MISTAKES,
    Mistake("dilation ignored",
            "With dilation D the kernel taps are D pixels apart: row i*sH + u*D, so a window spans "
            "D(kH - 1) + 1 rows (slice with step D).",
            _conv_variant(lambda x, w, b, s, p, d: None if d == (1, 1) else _conv2d(x, w, b, s, p))),
    Mistake("dilation counted as the gap between taps (PyTorch's dilation=1 means no gap)",
            "PyTorch's dilation D puts D - 1 pixels between taps (the course text's 'dilation 1' is "
            "PyTorch's dilation=2): taps at u*D, not u*(D + 1).",
            _conv_variant(lambda x, w, b, s, p, d: _conv2d(x, w, b, s, p, (d[0] + 1, d[1] + 1)))),
    Mistake("dilation pair swapped", _SWAP_HINT,
            _conv_variant(lambda *a: _swapped(*a, "dilation"))),
]


def _weight_rows_channels_last(x, w, b, s, p, d):
    o, _, kh, kw = w.shape
    cols = _im2col(x, (kh, kw), padding=p, stride=s)
    out = w.transpose(0, 2, 3, 1).reshape(o, -1) @ cols
    h_out, w_out = _conv_output_size(x.shape[-2:], (kh, kw), s, p)
    out = out.reshape(x.shape[0], o, h_out, w_out)
    return out if b is None else out + np.asarray(b)[None, :, None, None]


def _reshaped(shape_of):
    def change(x, w, b, s, p, d):
        out = _conv2d(x, w, b, s, p)
        shape = shape_of(*out.shape)
        return None if shape is None else out.reshape(shape)
    return _conv_variant(change)


CONV2D_IM2COL_MISTAKES = [
    Mistake("weight flattened in a different order than the im2col rows",
            "im2col rows run over (c, u, v) in that order, so weight.reshape(C_out, -1) lines up "
            "with them; do not move the channel axis.",
            _conv_variant(_weight_rows_channels_last)),
    Mistake("result not reshaped to (N, C_out, H_out, W_out)",
            "The product has shape (N, C_out, L) with L = H_out * W_out: reshape it to "
            "(N, C_out, H_out, W_out).",
            _reshaped(lambda n, o, h, w: (n, o, h * w))),
    Mistake("output positions reshaped as (W_out, H_out)",
            "im2col's columns run row by row (l = i * W_out + j): reshape to (..., H_out, W_out).",
            _reshaped(lambda n, o, h, w: (n, o, w, h) if h != w else None)),
    *STRIDED_CONV_MISTAKES,
]


def _conv_case(g, n, cin, cout, h, w, k, *, bias=False, label="", dtype=np.float64, **hyper):
    weight = g.standard_normal((cout, cin, *_pair(k, "k"))).astype(dtype)
    kwargs = {"bias": g.standard_normal(cout).astype(dtype)} if bias else {}
    return Case((_nchw(g, n, cin, h, w, dtype), weight), {**kwargs, **hyper}, label)


def _size(g, low=5, high=9):
    return int(g.integers(low, high))


def _stride_cases(seed: int) -> list[Case]:
    g = _core.rng(seed)
    return [
        _conv_case(g, 1, 2, 2, 7, 7, 3, stride=2, label="7x7 input, 3x3 filter, stride 2"),
        _conv_case(g, 2, 2, 3, _size(g, 7, 10), _size(g, 7, 10), 3, stride=3, label="stride 3"),
        _conv_case(g, 2, 1, 2, _size(g), _size(g), (2, 3), stride=(2, 1), label="stride (2, 1)"),
        _conv_case(g, 1, 3, 2, _size(g), _size(g, 7, 10), 2, stride=(1, 3), label="stride (1, 3)"),
        _conv_case(g, 1, 1, 2, 10, 10, 3, stride=2, label="W=10, F=3, S=2: windows do not fit"),
    ]


def _padding_cases(seed: int) -> list[Case]:
    g = _core.rng(seed)
    return [
        _conv_case(g, 2, 2, 2, _size(g), _size(g), 3, padding=1, label="F=3, P=1 keeps the size"),
        _conv_case(g, 1, 2, 3, 5, 6, 5, padding=2, label="F=5, P=2 keeps the size"),
        _conv_case(g, 1, 3, 2, 5, 5, 3, stride=2, padding=1, bias=True,
                   label="the conv demo: 5x5x3, two 3x3 filters, S=2, P=1"),
        _conv_case(g, 2, 1, 2, _size(g), _size(g), (3, 2), padding=(1, 0), label="padding (1, 0)"),
        _conv_case(g, 1, 2, 1, 4, 5, 2, stride=2, padding=(0, 2), label="padding (0, 2), stride 2"),
    ]


def _dilation_cases(seed: int) -> list[Case]:
    g = _core.rng(seed)
    return [
        _conv_case(g, 1, 2, 2, _size(g, 7, 10), _size(g, 7, 10), 3, dilation=2, label="dilation 2"),
        _conv_case(g, 2, 1, 2, 6, 7, 3, dilation=(2, 1), padding=2, label="dilation (2, 1)"),
        _conv_case(g, 1, 2, 2, 9, 8, 3, dilation=3, stride=2, padding=1,
                   label="dilation 3, stride 2, padding 1"),
        _conv_case(g, 1, 1, 3, _size(g), _size(g, 7, 10), (2, 3), dilation=(1, 2),
                   stride=(2, 1), label="dilation (1, 2), stride (2, 1)"),
    ]


def _conv_edge_cases(seed: int) -> list[Case]:
    g = _core.rng(seed)
    return [
        _conv_case(g, 2, 3, 2, 5, 6, 1, stride=2, bias=True, label="1x1 kernel, stride 2"),
        _conv_case(g, 1, 2, 2, 3, 4, (5, 6), padding=1, label="kernel as large as the padded input"),
        _conv_case(g, 2, 2, 3, 5, 5, 3, stride=(2, 3), padding=(1, 2), dilation=(2, 1), bias=True,
                   label="every hyper-parameter a pair, with bias"),
        _conv_case(g, 1, 1, 1, 6, 6, 3, stride=2, padding=1, dtype=np.float32, label="float32"),
        _conv_case(g, 3, 1, 1, 4, 4, 2, stride=2, bias=True, label="non-overlapping windows"),
    ]


def _run_conv(conv2d, cases, label):
    __tracebackhide__ = True
    # float32 cases: the reference sums in float32, a student may sum in float64
    run_exercise_check(conv2d, _conv2d, cases, name=f"conv2d {label}", mistakes=CONV2D_MISTAKES,
                       allow=_ALLOW_PADDING, rtol=1e-5, atol=1e-6)


def check_conv2d_shape(conv2d, seed: int = VISIBLE_SEED) -> None:
    """Is the output (N, C_out, H_out, W_out) with the output-size formula on both axes?"""
    __tracebackhide__ = True
    cases = (_stride_cases(seed + 9)[:2] + _padding_cases(seed + 9)[2:4]
             + _dilation_cases(seed + 9)[:1])
    run_exercise_check(conv2d, _conv2d, cases, name="conv2d shape", mistakes=CONV2D_MISTAKES,
                       values=False, allow=_ALLOW_PADDING)


def check_conv2d_stride(conv2d, seed: int = VISIBLE_SEED) -> None:
    """Does window (i, j) start at (i*sH, j*sW), for int and pair strides?"""
    __tracebackhide__ = True
    _run_conv(conv2d, _stride_cases(seed + 10), f"stride ({_which(seed)} cases)")


def check_conv2d_padding(conv2d, seed: int = VISIBLE_SEED) -> None:
    """Is the input zero-padded on both sides of H and W before the windows slide?"""
    __tracebackhide__ = True
    _run_conv(conv2d, _padding_cases(seed + 11), f"padding ({_which(seed)} cases)")


def check_conv2d_dilation(conv2d, seed: int = VISIBLE_SEED) -> None:
    """Are the kernel taps dilation pixels apart (PyTorch's meaning of dilation)?"""
    __tracebackhide__ = True
    _run_conv(conv2d, _dilation_cases(seed + 12), f"dilation ({_which(seed)} cases)")


def check_conv2d_edge_cases(conv2d, seed: int = VISIBLE_SEED) -> None:
    """1x1 kernels with stride, a kernel as large as the padded input, pairs, bias, float32."""
    __tracebackhide__ = True
    _run_conv(conv2d, _conv_edge_cases(seed + 13), f"edge cases ({_which(seed)} cases)")


# ----------------------------------------------------------------------------------------------
# Receptive field of stacked layers


def _rf_variant(change):
    """A receptive_field mistake: `change(ks, ss, ds)` on complete lists."""
    def fn(kernel_sizes, strides=None, dilations=None):
        n = len(kernel_sizes)
        return change(list(kernel_sizes), list(strides or [1] * n), list(dilations or [1] * n))
    return fn


def _rf(ks, ss, ds, *, own_stride=False, one=1):
    r, jump = one, 1
    for k, s, d in zip(ks, ss, ds):
        if own_stride:
            jump *= s
        r += d * (k - 1) * jump
        if not own_stride:
            jump *= s
    return r


_RF_RULE = ("Each layer adds D(F - 1) times the jump, the product of the strides of the layers "
            "BELOW it: r = 1 + sum_l D_l (F_l - 1) * S_1 ... S_(l-1).")
RF_MISTAKES = [
    Mistake("kernel sizes added (3 + 3 + 3 = 9, not 7)",
            "A second 3x3 layer sees 3 positions of the first, which overlap: it adds F - 1 = 2 "
            "input pixels, not 3. " + _RF_RULE,
            _rf_variant(lambda ks, ss, ds: sum(ks))),
    Mistake("the + 1 is missing (one pixel already sees itself)",
            "Start from r = 1 (a pixel of the input) and add D(F - 1) * jump per layer. " + _RF_RULE,
            _rf_variant(lambda ks, ss, ds: _rf(ks, ss, ds, one=0))),
    Mistake("strides ignored",
            "After a stride-S layer, one step of the next layer moves S input pixels: multiply by "
            "the strides below. " + _RF_RULE,
            _rf_variant(lambda ks, ss, ds: _rf(ks, [1] * len(ks), ds))),
    Mistake("a layer's own stride used in its jump",
            "A layer's stride only affects the layers ABOVE it. " + _RF_RULE,
            _rf_variant(lambda ks, ss, ds: _rf(ks, ss, ds, own_stride=True))),
    Mistake("dilations ignored",
            "A dilated kernel of size F spans D(F - 1) + 1 positions. " + _RF_RULE,
            _rf_variant(lambda ks, ss, ds: _rf(ks, ss, [1] * len(ks)))),
    Mistake("kernel sizes multiplied",
            "Receptive fields grow by addition, layer by layer. " + _RF_RULE,
            _rf_variant(lambda ks, ss, ds: math.prod(ks))),
    Mistake("dilation counted as the gap between taps (PyTorch's dilation=1 means no gap)",
            "dilation=D puts D - 1 pixels between taps: the span is D(F - 1) + 1.",
            _rf_variant(lambda ks, ss, ds: _rf(ks, ss, [d + 1 for d in ds]))),
]


def _rf_examples() -> list[Case]:
    return [
        Case(([3],), label="one 3x3 layer"),
        Case(([3, 3],), label="two stacked 3x3 layers"),
        Case(([3, 3, 3],), label="three stacked 3x3 layers"),
        Case(([3, 3, 3], [1, 1, 1], [1, 2, 4]), label="3x3 layers with dilations 1, 2, 4"),
        Case(([3, 3, 2], [1, 1, 2]), label="VGG: conv3, conv3, 2x2 pool"),
        Case(([11, 3, 5], [4, 2, 1]), label="AlexNet: conv 11/4, pool 3/2, conv 5"),
    ]


def _rf_cases(seed: int, n: int) -> list[Case]:
    g = _core.rng(seed)
    cases = []
    for i in range(n):
        depth = int(g.integers(2, 6))
        ks = [int(v) for v in g.integers(1, 8, size=depth)]
        ss = [int(v) for v in g.integers(1, 4, size=depth)]
        ds = [int(v) for v in g.integers(1, 4, size=depth)]
        cases.append(Case((ks, ss) if i % 3 == 1 else (ks, ss, ds)))
    return cases


def check_receptive_field_examples(receptive_field) -> None:
    """Three stacked 3x3 layers see 7x7; dilations 1, 2, 4 see 15; strides multiply the jump."""
    __tracebackhide__ = True
    run_exercise_check(receptive_field, _receptive_field, _rf_examples(),
                       name="receptive_field (course examples)", mistakes=RF_MISTAKES)


def check_receptive_field_values(receptive_field, seed: int = VISIBLE_SEED, n_cases: int = 8):
    """Random stacks of kernels, strides and dilations."""
    __tracebackhide__ = True
    run_exercise_check(receptive_field, _receptive_field, _rf_cases(seed + 14, n_cases),
                       name=f"receptive_field values ({_which(seed)} cases)", mistakes=RF_MISTAKES)


# ----------------------------------------------------------------------------------------------
# im2col and conv2d_im2col


def _cols_variant(change):
    """An im2col mistake: `change(x, cols, (kh, kw), stride, padding, (h_out, w_out))`."""
    def fn(input, kernel_size, stride=1, padding=0):
        x = np.asarray(input)
        k, s, p = (_pair(v, "v") for v in (kernel_size, stride, padding))
        cols = _im2col(x, k, padding=p, stride=s)
        return change(x, cols, k, s, p, _conv_output_size(x.shape[-2:], k, s, p))
    return fn


def _positions(cols, h_out, w_out):
    return cols.reshape(cols.shape[0], cols.shape[1], h_out, w_out)


def _cols_stride_not_in_start(x, cols, k, s, p, out):
    if s == (1, 1):
        return None
    full = _im2col(x, k, padding=p, stride=1)
    full_hw = _conv_output_size(x.shape[-2:], k, 1, p)
    return _positions(full, *full_hw)[..., :out[0], :out[1]].reshape(cols.shape)


def _rows_reordered(order):
    def change(x, cols, k, s, p, out):
        n, c = x.shape[:2]
        blocks = cols.reshape(n, c, k[0], k[1], -1).transpose(order)
        return blocks.reshape(cols.shape)
    return _cols_variant(change)


IM2COL_MISTAKES = [
    Mistake(_STRIDE_START.name,
            "Column l = i * W_out + j holds the window whose top-left corner is at row i*sH, "
            "column j*sW of the padded input.",
            _cols_variant(_cols_stride_not_in_start)),
    Mistake("stride ignored (every position computed, as with stride 1)",
            "With stride S only every S-th window becomes a column: L = H_out * W_out.",
            _cols_variant(lambda x, cols, k, s, p, out: _im2col(x, k, padding=p, stride=1))),
    Mistake("padding ignored",
            "Pad the input first (pad2d) and take the windows of the padded array.",
            _cols_variant(lambda x, cols, k, s, p, out: _im2col(x, k, padding=0, stride=s))),
    Mistake("patch flattened channels-last: rows ordered (kH, kW, C) instead of (C, kH, kW)",
            "torch.nn.functional.unfold flattens a window of an NCHW array as window.reshape(-1) "
            "of its (C, kH, kW) block: row = c * kH * kW + u * kW + v.",
            _rows_reordered((0, 2, 3, 1, 4))),
    Mistake("kernel axes swapped within a patch: rows ordered (C, kW, kH)",
            "Row c * kH * kW + u * kW + v holds the pixel at offset u down, v across.",
            _rows_reordered((0, 1, 3, 2, 4))),
    Mistake("window positions in column-major order (j before i)",
            "Columns run row by row, like reading: l = i * W_out + j.",
            _cols_variant(lambda x, cols, k, s, p, out:
                          _positions(cols, *out).transpose(0, 1, 3, 2).reshape(cols.shape))),
    Mistake("result transposed: (N, L, C*kH*kW) instead of (N, C*kH*kW, L)",
            "Like torch.nn.functional.unfold, each WINDOW is a column: shape (N, C*kH*kW, L).",
            _cols_variant(lambda x, cols, k, s, p, out: cols.transpose(0, 2, 1))),
    Mistake("output size off by one (the last row and column of windows missing)",
            f"{_FORMULA}: there are H_out * W_out windows.",
            _cols_variant(lambda x, cols, k, s, p, out:
                          _positions(cols, *out)[..., :-1, :-1].reshape(*cols.shape[:2], -1))),
    Mistake("stride pair swapped", _SWAP_HINT,
            _cols_variant(lambda x, cols, k, s, p, out: None if s[0] == s[1]
                          else _im2col(x, k, padding=p, stride=s[::-1]))),
    Mistake("padding pair swapped", _SWAP_HINT,
            _cols_variant(lambda x, cols, k, s, p, out: None if p[0] == p[1]
                          else _im2col(x, k, padding=p[::-1], stride=s))),
]


def _cols_cases(seed: int, *, strided: bool) -> list[Case]:
    g = _core.rng(seed)
    cases = []
    for i in range(4):
        n, c = int(g.integers(1, 3)), int(g.integers(1, 4))
        h, w = _size(g, 4, 8), _size(g, 4, 8)
        k = int(g.integers(2, 4)) if i % 2 else (int(g.integers(1, 4)), int(g.integers(2, 4)))
        kwargs = {}
        if strided:
            kwargs = {"stride": (2, 1) if i == 1 else int(g.integers(2, 4)),
                      "padding": (0, 2) if i == 2 else int(g.integers(1, 3))}
        cases.append(Case((_nchw(g, n, c, h, w), k), kwargs))
    return cases


def check_im2col_shape(im2col, seed: int = VISIBLE_SEED) -> None:
    """Is the result (N, C*kH*kW, H_out*W_out), one column per window?"""
    __tracebackhide__ = True
    cases = _cols_cases(seed + 15, strided=False)[:2] + _cols_cases(seed + 15, strided=True)[:2]
    run_exercise_check(im2col, _im2col_ref, cases, name="im2col shape", mistakes=IM2COL_MISTAKES,
                       values=False, allow=_ALLOW_PADDING)


def check_im2col_values(im2col, seed: int = VISIBLE_SEED) -> None:
    """Same layout as torch.nn.functional.unfold (stride 1, no padding)?"""
    __tracebackhide__ = True
    run_exercise_check(im2col, _im2col_ref, _cols_cases(seed + 16, strided=False),
                       name=f"im2col values ({_which(seed)} cases)", mistakes=IM2COL_MISTAKES,
                       allow=_ALLOW_PADDING)


def check_im2col_stride_padding(im2col, seed: int = VISIBLE_SEED) -> None:
    """Same layout as unfold with strides and paddings (ints and pairs)?"""
    __tracebackhide__ = True
    run_exercise_check(im2col, _im2col_ref, _cols_cases(seed + 17, strided=True),
                       name=f"im2col stride and padding ({_which(seed)} cases)",
                       mistakes=IM2COL_MISTAKES, allow=_ALLOW_PADDING)


def _matmul_cases(seed: int, *, strided: bool) -> list[Case]:
    g = _core.rng(seed)
    if not strided:
        return [
            _conv_case(g, 2, 3, 4, 6, 5, 3, label="no bias"),
            _conv_case(g, 1, 2, 3, 5, 7, (2, 3), bias=True, label="bias, rectangular kernel"),
            _conv_case(g, 3, 1, 2, 4, 4, 1, bias=True, label="1x1 kernel"),
        ]
    return [
        _conv_case(g, 1, 3, 2, 5, 5, 3, stride=2, padding=1, bias=True, label="S=2, P=1"),
        _conv_case(g, 2, 2, 3, 7, 6, 3, stride=(2, 1), padding=(0, 1), label="pairs"),
        _conv_case(g, 1, 2, 2, 8, 8, 2, stride=2, padding=0, label="non-overlapping windows"),
        _conv_case(g, 2, 1, 3, 6, 9, (3, 2), stride=3, padding=2, bias=True, label="S=3, P=2"),
    ]


def check_conv2d_im2col_values(conv2d_im2col, seed: int = VISIBLE_SEED) -> None:
    """Does im2col + one matrix multiply give conv2d's result (stride 1, no padding)?"""
    __tracebackhide__ = True
    run_exercise_check(conv2d_im2col, _conv2d_im2col_ref, _matmul_cases(seed + 18, strided=False),
                       name=f"conv2d_im2col values ({_which(seed)} cases)",
                       mistakes=CONV2D_IM2COL_MISTAKES, allow=_ALLOW_PADDING)


def check_conv2d_im2col_stride_padding(conv2d_im2col, seed: int = VISIBLE_SEED) -> None:
    """Same result as conv2d with strides, paddings and bias?"""
    __tracebackhide__ = True
    run_exercise_check(conv2d_im2col, _conv2d_im2col_ref, _matmul_cases(seed + 19, strided=True),
                       name=f"conv2d_im2col stride and padding ({_which(seed)} cases)",
                       mistakes=CONV2D_IM2COL_MISTAKES, allow=_ALLOW_PADDING)


register(TOPIC, "conv2d", [check_conv2d_shape, check_conv2d_stride, check_conv2d_padding,
                           check_conv2d_dilation, check_conv2d_edge_cases])
register(TOPIC, "receptive_field", [check_receptive_field_examples, check_receptive_field_values])
register(TOPIC, "im2col", [check_im2col_shape, check_im2col_values, check_im2col_stride_padding])
register(TOPIC, "conv2d_im2col", [check_conv2d_im2col_values, check_conv2d_im2col_stride_padding])
_core.protect(__name__)
