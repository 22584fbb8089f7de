"""Checks for notebook 04_1x1_convolution, part 1: the 1x1 convolution and what layers cost.

``conv1x1`` (against ``conv2d`` and against an FC layer applied to every pixel's depth column),
``conv_cost`` and ``bottleneck_cost`` (parameters and multiply-adds, the latter against
``arch.summary``). Part 2 (``fc_to_conv``, ``score_map_size``, ``crop_scores``) is in
``cnncourse.checks.fc_conversion``; both register under the topic ``"04_1x1_convolution"``.

Every ``check_*`` takes the student's function and a `seed`: visible cells use the default,
hidden cells another, so hidden cases are new inputs of the same kinds. Known mistakes are
recognised by what they output and named in the message.
"""

from __future__ import annotations

import contextlib
import io
import numbers
import sys

import numpy as np

from cnncourse import arch as _arch
from cnncourse.ops import conv as _conv
from cnncourse.ops import linear as _linear_module

from . import _core, register
from ._core import Case, CheckFailure, Mistake, run_exercise_check
from ._structured import check_components

__all__ = [
    "check_bottleneck_cost",
    "check_conv1x1_bias",
    "check_conv1x1_edge_cases",
    "check_conv1x1_one_product",
    "check_conv1x1_per_pixel_linear",
    "check_conv1x1_shape",
    "check_conv1x1_values",
    "check_conv_cost_macs",
    "check_conv_cost_params",
]

TOPIC = "04_1x1_convolution"
VISIBLE_SEED = 0

# Bound now: the expected answers never depend on what the notebook does to these names later.
_conv2d = _conv.conv2d
_linear = _linear_module.linear
_summary = _arch.summary
_Conv = _arch.Conv
_einsum = np.einsum
_moveaxis = np.moveaxis
_settrace, _gettrace = sys.settrace, sys.gettrace
_core.watch(_conv, ["conv2d"])
_core.watch(_linear_module, ["linear"])
_core.watch(_arch, ["summary"])


def _which(seed: int) -> str:
    return "visible" if seed == VISIBLE_SEED else "hidden"


def _normal(g, shape):
    return g.standard_normal(shape)


# ----------------------------------------------------------------------------------------------
# conv1x1


def _conv1x1(input, weight, bias=None):
    return _conv2d(input, weight, bias)


def _per_pixel_linear(input, weight, bias=None):
    """The FC layer W = weight[:, :, 0, 0] applied to the depth column of every pixel."""
    columns = _moveaxis(np.asarray(input), 1, -1)  # (N, H, W, C): one column per pixel
    return _moveaxis(_linear(columns, np.asarray(weight)[:, :, 0, 0], bias), -1, 1)


def _matrix(weight):
    return np.asarray(weight)[:, :, 0, 0]


def _with_bias(compute, add_bias):
    """A conv1x1 mistake: `compute(x, W)` without bias, then `add_bias(out, b)` if given."""
    def fn(input, weight, bias=None):
        out = compute(np.asarray(input), _matrix(weight))
        return out if bias is None else add_bias(out, np.asarray(bias))
    return fn


def _bias_mistake(add):
    def fn(input, weight, bias=None):
        return None if bias is None else add(_conv1x1(input, weight), np.asarray(bias))
    return fn


_BIAS_HINT = ("bias[k] belongs to output channel k: add it to every pixel of out[:, k], e.g. "
              "out + bias[None, :, None, None].")
_AXIS_HINT = ("A 1x1 convolution mixes the CHANNELS of one pixel and never two pixels: contract "
              "axis 1 of the (N, C, H, W) input with axis 1 of W = weight[:, :, 0, 0], e.g. "
              "np.einsum('kc,nchw->nkhw', W, input).")
_LAYOUT_HINT = ("weight has shape (C_out, C_in, 1, 1), so W = weight[:, :, 0, 0] (or "
                "weight.reshape(C_out, C_in)) holds filter k in row k: out[n, k, i, j] = sum_c "
                "W[k, c] * input[n, c, i, j]. Neither transpose W nor reshape it to (C_in, C_out).")
CONV1X1_MISTAKES = [
    Mistake("bias missing", "You were given a bias but did not add it. " + _BIAS_HINT,
            _bias_mistake(lambda out, b: out)),
    Mistake("bias not broadcast per output channel (added along the width axis)",
            "`out + bias` lines bias up with the LAST axis (width). " + _BIAS_HINT,
            _bias_mistake(lambda out, b: out + b)),
    Mistake("bias not broadcast per output channel (bias[0] added to every channel)",
            _BIAS_HINT, _bias_mistake(lambda out, b: out + b[0])),
    Mistake("bias not broadcast per output channel (the sum of the biases added everywhere)",
            _BIAS_HINT, _bias_mistake(lambda out, b: out + b.sum())),
    Mistake("NHWC layout instead of NCHW",
            "Your output is (N, H, W, C_out), channels last. The course, like PyTorch, uses "
            "NCHW: the output is (N, C_out, H, W). Move the channel axis back to position 1.",
            lambda input, weight, bias=None: _conv1x1(input, weight, bias).transpose(0, 2, 3, 1)),
    Mistake("matmul over the wrong axis (mixes the pixels of each row instead of the channels)",
            "Your product contracts the WIDTH axis (as `input @ W.T` does: matmul works on the "
            "last axis). " + _AXIS_HINT,
            _with_bias(lambda x, w: _einsum("nchw,kw->nchk", x, w), lambda o, b: o + b)),
    Mistake("matmul over the wrong axis (mixes the pixels of each column instead of the "
            "channels)",
            "Your product contracts the HEIGHT axis (as `W @ input` does: matmul uses the last "
            "two axes as matrices). " + _AXIS_HINT,
            _with_bias(lambda x, w: _einsum("kh,nchw->nckw", w, x), lambda o, b: o + b[:, None])),
    *(Mistake("weight matrix used as (C_in, C_out) instead of (C_out, C_in)", _LAYOUT_HINT,
              _with_bias(lambda x, w, read=read: _einsum("ck,nchw->nkhw", read(w), x),
                         lambda o, b: o + b[None, :, None, None]))
      for read in (lambda w: w, lambda w: w.reshape(w.shape[1], w.shape[0]))),
]


def _conv1x1_case(g, n, c, k, h, w, bias: bool, label: str = "") -> Case:
    args = (_normal(g, (n, c, h, w)), _normal(g, (k, c, 1, 1)))
    return Case(args, {"bias": _normal(g, (k,))} if bias else {}, label)


def _conv1x1_cases(seed: int, *, bias: bool) -> list[Case]:
    g = _core.rng(seed)
    c, n = int(g.integers(3, 6)), int(g.integers(1, 4))
    return [
        # C_in == C_out == H == W: a product over a wrong axis or with a transposed weight runs
        # without an error, so its wrong values can be recognised and named
        _conv1x1_case(g, 2, c, c, c, c, bias),
        _conv1x1_case(g, n, c, c - 1, c, c + 1, bias),
        _conv1x1_case(g, n, 2, int(g.integers(3, 6)), int(g.integers(2, 6)),
                      int(g.integers(2, 7)), bias),
    ]


def check_conv1x1_shape(conv1x1, seed: int = VISIBLE_SEED) -> None:
    """Is the output (N, C_out, H, W): same spatial size, one channel per filter?"""
    __tracebackhide__ = True
    run_exercise_check(conv1x1, _conv1x1, _conv1x1_cases(seed + 11, bias=False),
                       name="conv1x1 shape", mistakes=CONV1X1_MISTAKES, values=False)


def check_conv1x1_values(conv1x1, seed: int = VISIBLE_SEED) -> None:
    """Does conv1x1 (no bias) equal conv2d with the same (C_out, C_in, 1, 1) weight?"""
    __tracebackhide__ = True
    run_exercise_check(conv1x1, _conv1x1, _conv1x1_cases(seed + 12, bias=False),
                       name=f"conv1x1 values ({_which(seed)} cases)", mistakes=CONV1X1_MISTAKES)


def check_conv1x1_per_pixel_linear(conv1x1, seed: int = VISIBLE_SEED) -> None:
    """Is out[n, :, i, j] the FC layer (W, b) applied to the depth column input[n, :, i, j]?"""
    __tracebackhide__ = True
    run_exercise_check(conv1x1, _per_pixel_linear, _conv1x1_cases(seed + 13, bias=True),
                       name=f"conv1x1 = an FC layer on every pixel ({_which(seed)} cases)",
                       mistakes=CONV1X1_MISTAKES)


def check_conv1x1_bias(conv1x1, seed: int = VISIBLE_SEED) -> None:
    """Is bias[k] added to every pixel of output channel k (and nothing without a bias)?"""
    __tracebackhide__ = True
    g = _core.rng(seed + 14)
    cases = [  # W == C_out, so a bias broadcast along the width runs without an error
        _conv1x1_case(g, 2, 3, 4, 3, 4, True, "with bias, 4 output channels, width 4"),
        _conv1x1_case(g, 1, 2, 3, 5, 3, True, "with bias, 3 output channels, width 3"),
        _conv1x1_case(g, 2, 3, 2, 4, 5, False, "bias=None"),
    ]
    run_exercise_check(conv1x1, _conv1x1, cases, name=f"conv1x1 bias ({_which(seed)} cases)",
                       mistakes=CONV1X1_MISTAKES)


def check_conv1x1_edge_cases(conv1x1, seed: int = VISIBLE_SEED) -> None:
    """One input channel (pure scaling), one filter, a 1x1 image, a single row, float32."""
    __tracebackhide__ = True
    g = _core.rng(seed + 15)
    f32 = _conv1x1_case(g, 2, 3, 2, 3, 4, True, "float32 input and weight")
    f32.args = tuple(a.astype(np.float32) for a in f32.args)
    f32.kwargs["bias"] = f32.kwargs["bias"].astype(np.float32)
    cases = [
        _conv1x1_case(g, 2, 1, 3, 4, 5, True, "one input channel: each filter only scales"),
        _conv1x1_case(g, 2, 4, 1, 3, 3, True, "one output channel"),
        _conv1x1_case(g, 3, 5, 2, 1, 1, True, "a 1x1 image"),
        _conv1x1_case(g, 1, 3, 2, 1, 6, False, "a single row"),
        f32,
    ]
    run_exercise_check(conv1x1, _conv1x1, cases, name=f"conv1x1 edge cases ({_which(seed)} cases)",
                       mistakes=CONV1X1_MISTAKES, rtol=1e-5, atol=1e-6)


def _counting_lines(fn, module: str, counter: list):
    """`fn`, run with every executed line of Python code of `module` counted in counter[0]."""
    def local(frame, event, arg):
        if event == "line":
            counter[0] += 1
        return local

    def tracer(frame, event, arg):
        return local if frame.f_globals.get("__name__") == module else None

    def traced(*args, **kwargs):
        previous = _gettrace()
        _settrace(tracer)
        try:
            return fn(*args, **kwargs)
        finally:
            _settrace(previous)
    return traced


# A vectorised conv1x1 runs a handful of lines; a loop over the 512 pixels of the case runs
# hundreds. Loops over the 2 images or the 4 filters stay well under the limit.
_MAX_LINES = 100


def check_conv1x1_one_product(conv1x1, seed: int = VISIBLE_SEED) -> None:
    """Does conv1x1 handle all pixels at once (one product, no Python loop over positions)?"""
    __tracebackhide__ = True
    name = "conv1x1 without a loop over pixels"
    case = _conv1x1_case(_core.rng(seed + 16), 2, 3, 4, 16, 16, True, "two 16x16 images")
    counter = [0]
    student = conv1x1
    if callable(conv1x1):
        student = _counting_lines(conv1x1, getattr(conv1x1, "__module__", None), counter)
    with contextlib.redirect_stdout(io.StringIO()) as line:
        run_exercise_check(student, _conv1x1, [case], name=name, mistakes=CONV1X1_MISTAKES)
    if counter[0] > _MAX_LINES:
        raise CheckFailure(
            f"{name}: your function ran {counter[0]} lines of Python for {case.label} (512 "
            "pixels): it loops over pixel positions. A 1x1 convolution is ONE matrix product "
            "for the whole batch: np.einsum('kc,nchw->nkhw', W, input), or reshape input to "
            "(N, C_in, H*W) and compute W @ it.")
    print(line.getvalue().strip())


# ----------------------------------------------------------------------------------------------
# conv_cost and bottleneck_cost: (parameters, multiply-adds) pairs


def _pair(value):
    return (int(value), int(value)) if isinstance(value, numbers.Integral) else tuple(value)


def _conv_cost(in_shape, out_shape, kernel_size):
    """A filter has C_in*kH*kW weights + 1 bias and does C_in*kH*kW multiply-adds per output."""
    (c_in, _, _), (c_out, h_out, w_out) = in_shape, out_shape
    kh, kw = _pair(kernel_size)
    return c_out * (c_in * kh * kw + 1), c_out * h_out * w_out * c_in * kh * kw


def _bottleneck_cost(in_shape, reduce_channels, out_channels, kernel_size):
    k = int(kernel_size)
    s = _summary([_Conv(reduce_channels, 1), _Conv(out_channels, k, padding=k // 2)],
                 tuple(in_shape))
    return s.total_params, s.total_flops


def _cost_mistake(*, params=None, macs=None):
    """A conv_cost mistake: the right pair with one count replaced.

    `params` or `macs` is called as ``(C_in, H_in*W_in, C_out, H_out*W_out, kH*kW)``.
    """
    def fn(in_shape, out_shape, kernel_size):
        (c_in, h_in, w_in), (c_out, h_out, w_out) = in_shape, out_shape
        kh, kw = _pair(kernel_size)
        sizes = (c_in, h_in * w_in, c_out, h_out * w_out, kh * kw)
        right = _conv_cost(in_shape, out_shape, kernel_size)
        return (params(*sizes) if params else right[0], macs(*sizes) if macs else right[1])
    return fn


_COUNTS = ("params", "multiply_adds")
_PER_FILTER = "One filter has C_in * kH * kW weights and one bias"
_PER_OUTPUT = ("Each output value (there are C_out * H_out * W_out of them) costs C_in * kH * kW "
               "multiply-adds")
COST_MISTAKES = [
    Mistake("parameter count forgets the bias",
            f"{_PER_FILTER}: params = C_out * (C_in * kH * kW + 1).",
            _cost_mistake(params=lambda ci, pi, co, po, kk: co * ci * kk)),
    Mistake("input channels forgotten in the parameter count",
            f"A filter spans the full input depth. {_PER_FILTER}.",
            _cost_mistake(params=lambda ci, pi, co, po, kk: co * (kk + 1))),
    Mistake("parameters counted once per output position (weights are shared)",
            "The same filters are used at every position: the parameter count does not depend "
            "on H_out * W_out.",
            _cost_mistake(params=lambda ci, pi, co, po, kk: co * (ci * kk + 1) * po)),
    Mistake("multiply-adds counted per input position instead of per output position",
            f"{_PER_OUTPUT}: use H_out * W_out from out_shape, not H_in * W_in.",
            _cost_mistake(macs=lambda ci, pi, co, po, kk: co * ci * kk * pi)),
    Mistake("multiply-adds of one output position only",
            f"{_PER_OUTPUT}: multiply by H_out * W_out as well.",
            _cost_mistake(macs=lambda ci, pi, co, po, kk: co * ci * kk)),
    Mistake("output channels forgotten in the multiply-adds",
            f"{_PER_OUTPUT}: every one of the C_out filters is applied at every position.",
            _cost_mistake(macs=lambda ci, pi, co, po, kk: ci * kk * po)),
    Mistake("bias counted as a multiply-add",
            "Adding the bias is an addition, not a multiply-add: count C_in * kH * kW per output "
            "value (as arch.summary does).",
            _cost_mistake(macs=lambda ci, pi, co, po, kk: co * (ci * kk + 1) * po)),
]


def _cost_cases(seed: int) -> list[Case]:
    g = _core.rng(seed)
    cases = []
    if seed == VISIBLE_SEED + 21:  # GoogLeNet 3a: the direct 5x5 and its 1x1 reduction
        cases += [Case(((192, 28, 28), (32, 28, 28), 5), label="GoogLeNet 3a, direct 5x5"),
                  Case(((192, 28, 28), (16, 28, 28), 1), label="GoogLeNet 3a, 1x1 reduce")]
    for i in range(4):
        c_in, c_out = int(g.integers(1, 65)), int(g.integers(2, 129))
        kh, kw = (int(g.choice([1, 3, 5, 7])),) * 2 if i % 2 else tuple(
            int(v) for v in g.integers(1, 6, size=2))
        stride, h, w = int(g.integers(1, 3)), int(g.integers(8, 33)), int(g.integers(8, 33))
        pad = 0 if i < 2 else int(g.integers(0, 2))  # mostly 'valid': H_out != H_in
        out = (c_out, (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1)
        cases.append(Case(((c_in, h, w), out, (kh, kw) if i % 2 == 0 else kh)))
    return cases


def _check_cost(conv_cost, seed: int, index: int) -> None:
    __tracebackhide__ = True
    what = ("parameters", "multiply-adds")[index]
    check_components(conv_cost, _conv_cost, _cost_cases(seed + 21),
                     name=f"conv_cost {what} ({_which(seed)} cases)", fields=_COUNTS,
                     order=[index], mistakes=COST_MISTAKES)


def check_conv_cost_params(conv_cost, seed: int = VISIBLE_SEED) -> None:
    """First item of conv_cost: C_out * (C_in * kH * kW + 1) parameters."""
    __tracebackhide__ = True
    _check_cost(conv_cost, seed, 0)


def check_conv_cost_macs(conv_cost, seed: int = VISIBLE_SEED) -> None:
    """Second item of conv_cost: C_out * H_out * W_out * C_in * kH * kW multiply-adds."""
    __tracebackhide__ = True
    _check_cost(conv_cost, seed, 1)


def _bottleneck(change):
    def fn(in_shape, reduce_channels, out_channels, kernel_size):
        return change(tuple(in_shape), reduce_channels, out_channels, int(kernel_size))
    return fn


def _add(*pairs):
    return tuple(sum(p[i] for p in pairs) for i in range(2))


BOTTLENECK_MISTAKES = [
    Mistake("the 1x1 reduce layer's cost left out",
            "The bottleneck is two layers: add the 1x1 conv (C_in -> reduce_channels) to the "
            "k x k conv (reduce_channels -> out_channels).",
            _bottleneck(lambda s, r, o, k: _conv_cost((r, *s[1:]), (o, *s[1:]), k))),
    Mistake("the k x k conv counted on all C_in input channels",
            "After the 1x1 reduction the k x k conv reads only reduce_channels channels.",
            _bottleneck(lambda s, r, o, k: _add(_conv_cost(s, (r, *s[1:]), 1),
                                                _conv_cost(s, (o, *s[1:]), k)))),
    Mistake("biases forgotten", "Each of the two layers has one bias per output channel.",
            _bottleneck(lambda s, r, o, k: (_bottleneck_cost(s, r, o, k)[0] - r - o,
                                            _bottleneck_cost(s, r, o, k)[1]))),
]


def check_bottleneck_cost(bottleneck_cost, seed: int = VISIBLE_SEED) -> None:
    """1x1 reduce + k x k 'same' conv, against arch.summary of the same two layers."""
    __tracebackhide__ = True
    g = _core.rng(seed + 22)
    cases = [Case(((192, 28, 28), 16, 32, 5), label="GoogLeNet 3a, 5x5 branch")] if (
        seed == VISIBLE_SEED) else []
    for _ in range(3):
        c_in, r = int(g.integers(16, 257)), int(g.integers(4, 33))
        h, w = int(g.integers(5, 30)), int(g.integers(5, 30))
        cases.append(Case(((c_in, h, w), r, int(g.integers(8, 129)), int(g.choice([3, 5, 7])))))
    check_components(bottleneck_cost, _bottleneck_cost, cases,
                     name=f"bottleneck_cost ({_which(seed)} cases)", fields=_COUNTS, order=[0, 1],
                     mistakes=BOTTLENECK_MISTAKES)


register(TOPIC, "conv1x1", [check_conv1x1_shape, check_conv1x1_values,
                            check_conv1x1_per_pixel_linear, check_conv1x1_bias,
                            check_conv1x1_edge_cases, check_conv1x1_one_product])
register(TOPIC, "conv_cost", [check_conv_cost_params, check_conv_cost_macs])
register(TOPIC, "bottleneck_cost", [check_bottleneck_cost])
_core.protect(__name__)
