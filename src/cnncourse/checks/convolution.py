"""Checks for notebook 01_convolution: corr2d, convolve2d, conv2d and parameter counts.

Every ``check_*`` function takes the student's function and a `seed`: the notebook's visible
test cells use the default seed, the hidden ones another seed, so hidden cases are new inputs of
the same kinds. Known mistakes are recognised by what they output and named in the message.
"""

from __future__ import annotations

import numbers

import numpy as np

from cnncourse.ops import conv as _conv

from . import _core, register
from ._core import Case, Mistake, run_exercise_check

__all__ = [
    "check_conv2d_bias",
    "check_conv2d_edge_cases",
    "check_conv2d_shape",
    "check_conv2d_values",
    "check_conv_params",
    "check_convolve2d_edge_cases",
    "check_convolve2d_values",
    "check_corr2d_edge_cases",
    "check_corr2d_shape",
    "check_corr2d_values",
    "check_locally_connected_params",
]

TOPIC = "01_convolution"
VISIBLE_SEED = 0

# Bound now: the expected answers never depend on what the notebook does to these names later.
_corr2d = _conv.corr2d
_convolve2d = _conv.convolve2d
_conv2d = _conv.conv2d
_zeros = np.zeros
_watch_names = ["corr2d", "convolve2d", "conv2d"]
_core.watch(_conv, _watch_names)


# ----------------------------------------------------------------------------------------------
# Mistakes, as the outputs they would produce


def _size_mistakes(reference) -> list[Mistake]:
    """Output-size bugs of any 'valid' sliding-window operation over the last two axes."""
    fix = ("A kernel of size kH x kW fits at H - kH + 1 row positions and W - kW + 1 column "
           "positions: loop with range(H - kH + 1) and allocate the output with that size.")

    def cropped(rows: int, cols: int):
        def fn(*args, **kwargs):
            out = reference(*args, **kwargs)
            return out[..., : out.shape[-2] - rows, : out.shape[-1] - cols]
        return fn

    def same_size(*args, **kwargs):
        out = reference(*args, **kwargs)
        full = _zeros(out.shape[:-2] + np.shape(args[0])[-2:])
        full[..., : out.shape[-2], : out.shape[-1]] = out
        return full

    return [
        Mistake("output size off by one (one row and one column short)", fix, cropped(1, 1)),
        Mistake("output size off by one (one row short)", fix, cropped(1, 0)),
        Mistake("output size off by one (one column short)", fix, cropped(0, 1)),
        Mistake("wrong output size formula (output as large as the input)",
                "Without padding the output is smaller than the input: "
                "(H - kH + 1) x (W - kW + 1), not H x W.", same_size),
    ]


_FLIPPED_CORR = Mistake(
    "flipped kernel (true convolution instead of cross-correlation)",
    "Your result equals the convolution with the kernel flipped in both axes. Cross-correlation "
    "uses the kernel as it is: z(i, j) = sum_u sum_v x(i + u, j + v) w(u, v).",
    lambda x, k: _convolve2d(x, k))
_TRANSPOSED_CORR = Mistake(
    "kernel axes swapped",
    "Your result uses w(v, u) instead of w(u, v): u walks down the rows (height), v along "
    "the columns (width).",
    lambda x, k: _corr2d(x, np.asarray(k).T))
CORR2D_MISTAKES = [_FLIPPED_CORR, _TRANSPOSED_CORR, *_size_mistakes(_corr2d)]

_FLIP_HINT = ("True convolution flips the kernel in BOTH axes (rows and columns) and then "
              "cross-correlates: k[::-1, ::-1].")
CONVOLVE2D_MISTAKES = [
    Mistake("kernel not flipped (cross-correlation instead of convolution)", _FLIP_HINT,
            lambda x, k: _corr2d(x, k)),
    Mistake("kernel flipped along the rows only", _FLIP_HINT,
            lambda x, k: _corr2d(x, np.asarray(k)[::-1, :])),
    Mistake("kernel flipped along the columns only", _FLIP_HINT,
            lambda x, k: _corr2d(x, np.asarray(k)[:, ::-1])),
    Mistake("kernel transposed instead of flipped",
            "Transposing swaps rows and columns; flipping reverses them: k[::-1, ::-1].",
            lambda x, k: _corr2d(x, np.asarray(k).T)),
    *_size_mistakes(_convolve2d),
]


def _without_bias(x, w, bias=None):
    return _conv2d(x, w, None)


def _bias_variant(add):
    """A conv2d mistake that adds `bias` in some wrong way to the bias-free output."""
    def fn(x, w, bias=None):
        if bias is None:
            return None
        return add(_without_bias(x, w), np.asarray(bias), np.shape(x)[1])
    return fn


_BIAS_HINT = ("bias[o] belongs to output channel o: add it to every position of out[:, o] "
              "(for an array: out + bias[None, :, None, None]), once per output value.")
CONV2D_MISTAKES = [
    Mistake("flipped kernel (true convolution instead of cross-correlation)",
            "Your result equals a convolution with every kernel flipped. A convolutional layer "
            "cross-correlates: use weight[o, c, u, v] with x[n, c, i + u, j + v].",
            lambda x, w, bias=None: _conv2d(x, np.asarray(w)[..., ::-1, ::-1], bias)),
    Mistake("bias missing", "You were given a bias but did not add it. " + _BIAS_HINT,
            _bias_variant(lambda out, b, cin: out)),
    Mistake("bias not broadcast per output channel (added along the width axis)",
            "`out + bias` lines bias up with the LAST axis (width). " + _BIAS_HINT,
            _bias_variant(lambda out, b, cin: out + b)),
    Mistake("bias not broadcast per output channel (added once per input channel)",
            "The bias was added inside the loop over input channels, so it counts C_in times. "
            + _BIAS_HINT,
            _bias_variant(lambda out, b, cin: out + cin * b[None, :, None, None])),
    Mistake("bias not broadcast per output channel (bias[0] added to every channel)",
            "Every output channel got the first bias. " + _BIAS_HINT,
            _bias_variant(lambda out, b, cin: out + b[0])),
    Mistake("bias not broadcast per output channel (the sum of the biases added everywhere)",
            "Every output channel got the sum of all biases. " + _BIAS_HINT,
            _bias_variant(lambda out, b, cin: out + b.sum())),
    Mistake("NHWC layout instead of NCHW",
            "Your output has shape (N, H_out, W_out, C_out): the course (like PyTorch) uses "
            "NCHW, so the output is (N, C_out, H_out, W_out).",
            lambda x, w, bias=None: _conv2d(x, w, bias).transpose(0, 2, 3, 1)),
    Mistake("batch and channel axes swapped",
            "Your output has shape (C_out, N, H, W); NCHW means out[n, o, i, j].",
            lambda x, w, bias=None: _conv2d(x, w, bias).transpose(1, 0, 2, 3)),
    Mistake("input channels not summed (only the first input channel is used)",
            "A filter spans the full input depth: sum over c of the cross-correlation of "
            "x[n, c] with weight[o, c].",
            lambda x, w, bias=None: _conv2d(np.asarray(x)[:, :1], np.asarray(w)[:, :1], bias)),
    Mistake("kernel axes swapped",
            "weight[o, c, u, v]: u walks down the rows, v along the columns.",
            lambda x, w, bias=None: _conv2d(x, np.asarray(w).transpose(0, 1, 3, 2), bias)),
    *_size_mistakes(_conv2d),
]


# ----------------------------------------------------------------------------------------------
# Cases


def _normal(g, shape):
    return g.standard_normal(shape)


def _corr2d_cases(seed: int, n: int, *, small: bool = False) -> list[Case]:
    g = _core.rng(seed)
    cases = []
    for _ in range(n):
        h, w = (int(v) for v in g.integers(3, 6 if small else 10, size=2))
        kh, kw = int(g.integers(2, min(h, 4) + 1)), int(g.integers(2, min(w, 4) + 1))
        cases.append(Case((_normal(g, (h, w)), _normal(g, (kh, kw)))))
    return cases


def _corr2d_edge_cases(seed: int) -> list[Case]:
    g = _core.rng(seed)
    return [
        Case((_normal(g, (5, 4)), _normal(g, (1, 1))), label="1x1 kernel"),
        Case((_normal(g, (3, 4)), _normal(g, (3, 4))), label="kernel as large as the image"),
        Case((_normal(g, (4, 7)), _normal(g, (2, 3))), label="non-square image and kernel"),
        Case((_normal(g, (7, 3)), _normal(g, (3, 1))), label="tall image, column kernel"),
        Case((_normal(g, (1, 6)), _normal(g, (1, 2))), label="single-row image"),
    ]


def _conv2d_case(g, n, cin, cout, h, w, kh, kw, bias: bool, label: str = "") -> Case:
    args = (_normal(g, (n, cin, h, w)), _normal(g, (cout, cin, kh, kw)))
    kwargs = {"bias": _normal(g, (cout,))} if bias else {}
    return Case(args, kwargs, label)


def _conv2d_cases(seed: int, n_cases: int, *, bias: bool | None) -> list[Case]:
    g = _core.rng(seed)
    cases = []
    for i in range(n_cases):
        n, cin, cout = (int(v) for v in g.integers(1, 4, size=3))
        h, w = (int(v) for v in g.integers(4, 8, size=2))
        kh, kw = (int(v) for v in g.integers(1, 4, size=2))
        with_bias = bool(i % 2) if bias is None else bias
        cases.append(_conv2d_case(g, n, max(cin, 2 if i == 0 else 1), cout, h, w, kh, kw,
                                  with_bias))
    return cases


# ----------------------------------------------------------------------------------------------
# corr2d and convolve2d


def check_corr2d_shape(corr2d, seed: int = VISIBLE_SEED) -> None:
    """Does corr2d return an array of shape (H - kH + 1, W - kW + 1)?"""
    __tracebackhide__ = True
    run_exercise_check(corr2d, _corr2d, _corr2d_cases(seed, 4), name="corr2d shape",
                       mistakes=CORR2D_MISTAKES, values=False)


def check_corr2d_values(corr2d, seed: int = VISIBLE_SEED, n_cases: int = 4) -> None:
    """Does corr2d compute z(i, j) = sum_u sum_v x(i + u, j + v) w(u, v) on random inputs?"""
    __tracebackhide__ = True
    run_exercise_check(corr2d, _corr2d, _corr2d_cases(seed + 1, n_cases),
                       name=f"corr2d values ({_which(seed)} cases)", mistakes=CORR2D_MISTAKES)


def check_corr2d_edge_cases(corr2d, seed: int = VISIBLE_SEED) -> None:
    """1x1 kernel, kernel as large as the image, non-square shapes, a single row."""
    __tracebackhide__ = True
    run_exercise_check(corr2d, _corr2d, _corr2d_edge_cases(seed + 2),
                       name=f"corr2d edge cases ({_which(seed)} cases)", mistakes=CORR2D_MISTAKES)


def check_convolve2d_values(convolve2d, seed: int = VISIBLE_SEED, n_cases: int = 4) -> None:
    """Is convolve2d the true convolution (kernel flipped in both axes) on random inputs?"""
    __tracebackhide__ = True
    run_exercise_check(convolve2d, _convolve2d, _corr2d_cases(seed + 3, n_cases),
                       name=f"convolve2d values ({_which(seed)} cases)",
                       mistakes=CONVOLVE2D_MISTAKES)


def check_convolve2d_edge_cases(convolve2d, seed: int = VISIBLE_SEED) -> None:
    """The corr2d edge cases, for true convolution."""
    __tracebackhide__ = True
    run_exercise_check(convolve2d, _convolve2d, _corr2d_edge_cases(seed + 4),
                       name=f"convolve2d edge cases ({_which(seed)} cases)",
                       mistakes=CONVOLVE2D_MISTAKES)


# ----------------------------------------------------------------------------------------------
# conv2d


def check_conv2d_shape(conv2d, seed: int = VISIBLE_SEED) -> None:
    """Is the output (N, C_out, H - kH + 1, W - kW + 1)?"""
    __tracebackhide__ = True
    run_exercise_check(conv2d, _conv2d, _conv2d_cases(seed + 5, 4, bias=False),
                       name="conv2d shape", mistakes=CONV2D_MISTAKES, values=False)


def check_conv2d_values(conv2d, seed: int = VISIBLE_SEED, n_cases: int = 3) -> None:
    """Does conv2d (no bias) match the multi-channel, multi-filter cross-correlation?"""
    __tracebackhide__ = True
    run_exercise_check(conv2d, _conv2d, _conv2d_cases(seed + 6, n_cases, bias=False),
                       name=f"conv2d values ({_which(seed)} cases)", mistakes=CONV2D_MISTAKES)


def check_conv2d_bias(conv2d, seed: int = VISIBLE_SEED) -> None:
    """Is bias[o] added to every position of output channel o (and nothing added without one)?"""
    __tracebackhide__ = True
    g = _core.rng(seed + 7)
    cases = [
        # W_out == C_out, so a bias broadcast along the width runs without an error
        _conv2d_case(g, 2, 2, 3, 5, 5, 3, 3, True, "with bias, 3 output channels"),
        _conv2d_case(g, 1, 3, 4, 6, 5, 2, 2, True, "with bias, 4 output channels"),
        _conv2d_case(g, 2, 1, 2, 4, 6, 3, 3, False, "bias=None"),
    ]
    run_exercise_check(conv2d, _conv2d, cases, name=f"conv2d bias ({_which(seed)} cases)",
                       mistakes=CONV2D_MISTAKES)


def check_conv2d_edge_cases(conv2d, seed: int = VISIBLE_SEED) -> None:
    """1x1 kernels, a kernel as large as the input, non-square shapes, batch and channel 1."""
    __tracebackhide__ = True
    g = _core.rng(seed + 8)
    cases = [
        _conv2d_case(g, 2, 3, 2, 4, 5, 1, 1, True, "1x1 kernel"),
        _conv2d_case(g, 1, 2, 3, 3, 4, 3, 4, True, "kernel as large as the input"),
        _conv2d_case(g, 3, 2, 2, 5, 8, 2, 3, False, "non-square input and kernel"),
        _conv2d_case(g, 1, 1, 1, 6, 6, 3, 3, True, "one image, one channel, one filter"),
    ]
    run_exercise_check(conv2d, _conv2d, cases, name=f"conv2d edge cases ({_which(seed)} cases)",
                       mistakes=CONV2D_MISTAKES)


# ----------------------------------------------------------------------------------------------
# Parameter counts


def _kernel_area(kernel_size) -> int:
    kh, kw = (kernel_size,) * 2 if isinstance(kernel_size, numbers.Integral) else kernel_size
    return int(kh) * int(kw)


def _conv_params(in_channels, out_channels, kernel_size, bias=True):
    """Weights shared over positions: out * in * kH * kW, plus one bias per output channel."""
    return out_channels * in_channels * _kernel_area(kernel_size) + (out_channels if bias else 0)


def _locally_connected_params(in_channels, out_channels, kernel_size, output_size, bias=True):
    """Every output neuron (out * H_out * W_out of them) has its own weights and bias."""
    oh, ow = (output_size,) * 2 if isinstance(output_size, numbers.Integral) else output_size
    return int(oh) * int(ow) * out_channels * (in_channels * _kernel_area(kernel_size) + bool(bias))


CONV_PARAMS_MISTAKES = [
    Mistake("bias missing", "With bias=True each filter also has one bias: + out_channels.",
            lambda cin, cout, k, bias=True: _conv_params(cin, cout, k, False) if bias else None),
    Mistake("bias counted although bias=False", "bias=False means no bias parameters.",
            lambda cin, cout, k, bias=True: None if bias else _conv_params(cin, cout, k, True)),
    Mistake("input channels forgotten",
            "A filter spans the full input depth: it has in_channels * kH * kW weights.",
            lambda cin, cout, k, bias=True: _conv_params(1, cout, k, bias)),
    Mistake("one bias per weight instead of one per filter",
            "A filter has a single bias, however many weights it has.",
            lambda cin, cout, k, bias=True: 2 * _conv_params(cin, cout, k, False) if bias
            else None),
]

LC_PARAMS_MISTAKES = [
    Mistake("weights shared (that is the convolutional count)",
            "A locally-connected layer has a separate filter at every output position: multiply "
            "by H_out * W_out.",
            lambda cin, cout, k, out, bias=True: _conv_params(cin, cout, k, bias)),
    Mistake("bias shared per output channel",
            "Without sharing, every output neuron has its own bias: out_channels * H_out * W_out "
            "biases.",
            lambda cin, cout, k, out, bias=True: (_locally_connected_params(cin, cout, k, out,
                                                                              False) + cout)
            if bias else None),
    Mistake("bias missing", "With bias=True every output neuron also has one bias.",
            lambda cin, cout, k, out, bias=True: _locally_connected_params(cin, cout, k, out,
                                                                             False)
            if bias else None),
    Mistake("input channels forgotten",
            "Each neuron looks at the full input depth: in_channels * kH * kW weights.",
            lambda cin, cout, k, out, bias=True: _locally_connected_params(1, cout, k, out, bias)),
]


def _param_cases(seed: int, *, local: bool) -> list[Case]:
    g = _core.rng(seed)
    cases = []
    if seed == VISIBLE_SEED + 9:  # the AlexNet conv1 numbers from the course text
        cases.append(Case((3, 96, 11, 55) if local else (3, 96, 11), label="AlexNet conv1"))
    for i in range(4):
        cin, cout = int(g.integers(1, 65)), int(g.integers(1, 129))
        k = int(g.choice([1, 3, 5, 7])) if i % 2 else (int(g.integers(1, 6)),
                                                       int(g.integers(1, 6)))
        out = int(g.integers(1, 33)) if i % 2 else (int(g.integers(1, 33)), int(g.integers(1, 33)))
        args = (cin, cout, k, out) if local else (cin, cout, k)
        cases.append(Case(args, {"bias": bool(i != 2)}))
    return cases


def check_conv_params(conv_params, seed: int = VISIBLE_SEED) -> None:
    """Parameter count of a convolutional layer (weights shared over positions)."""
    __tracebackhide__ = True
    run_exercise_check(conv_params, _conv_params, _param_cases(seed + 9, local=False),
                       name=f"conv_params ({_which(seed)} cases)", mistakes=CONV_PARAMS_MISTAKES)


def check_locally_connected_params(locally_connected_params, seed: int = VISIBLE_SEED) -> None:
    """Parameter count of a locally-connected layer (no sharing)."""
    __tracebackhide__ = True
    run_exercise_check(locally_connected_params, _locally_connected_params,
                       _param_cases(seed + 9, local=True),
                       name=f"locally_connected_params ({_which(seed)} cases)",
                       mistakes=LC_PARAMS_MISTAKES)


def _which(seed: int) -> str:
    return "visible" if seed == VISIBLE_SEED else "hidden"


register(TOPIC, "corr2d", [check_corr2d_shape, check_corr2d_values, check_corr2d_edge_cases])
register(TOPIC, "convolve2d", [check_convolve2d_values, check_convolve2d_edge_cases])
register(TOPIC, "conv2d", [check_conv2d_shape, check_conv2d_values, check_conv2d_bias,
                           check_conv2d_edge_cases])
register(TOPIC, "conv_params", [check_conv_params])
register(TOPIC, "locally_connected_params", [check_locally_connected_params])
_core.protect(__name__)
