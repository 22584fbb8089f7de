"""Checks for notebook 03_pooling, part 1: max, average, L^p, depth and global pooling.

Part 2 (the backward pass of max pooling) is in ``cnncourse.checks.pooling_backward``; both
register under the topic ``"03_pooling"``.

Every ``check_*`` function takes the student's function and a `seed`: the visible test cells use
the default seed, the hidden ones another, so hidden cases are new inputs of the same kinds. Each
check leads with a case on which the known mistakes give outputs different from the right one
and from each other, so the first failing case names the mistake.
"""

from __future__ import annotations

import numpy as np

from cnncourse.ops import pool as _pool
from cnncourse.ops._validate import pair as _pair_of

from . import _core, register
from ._core import Case, CheckFailure, Mistake, run_exercise_check

__all__ = [
    "check_avg_pool2d_edge_cases",
    "check_avg_pool2d_values",
    "check_channel_pool_shape",
    "check_channel_pool_values",
    "check_global_avg_pool2d_shape",
    "check_global_avg_pool2d_values",
    "check_lp_pool2d_other_p",
    "check_lp_pool2d_values",
    "check_max_pool2d_default_stride",
    "check_max_pool2d_edge_cases",
    "check_max_pool2d_shape",
    "check_max_pool2d_values",
]

TOPIC = "03_pooling"
VISIBLE_SEED = 0

# Bound now: the expected answers never depend on what the notebook does to these names later.
_max_pool2d = _pool.max_pool2d
_avg_pool2d = _pool.avg_pool2d
_lp_pool2d = _pool.lp_pool2d
_channel_pool = _pool.channel_pool
_global_avg_pool2d = _pool.global_avg_pool2d
_mean, _max, _sum = np.mean, np.max, np.sum
_core.watch(_pool, ["max_pool2d", "avg_pool2d", "lp_pool2d", "channel_pool",
                    "global_avg_pool2d"])


def _which(seed: int) -> str:
    return "visible" if seed == VISIBLE_SEED else "hidden"


def _pair(value) -> tuple[int, int]:
    return _pair_of(value, "kernel_size")


# ----------------------------------------------------------------------------------------------
# Mistakes of any sliding-window pooling `reference(x, *lead, kernel_size, stride=None)`

_STRIDE_HINT = ("stride=None means stride = kernel_size, as in PyTorch: windows side by side, "
                "without overlap. Start with `if stride is None: stride = kernel_size`.")
_NCHW = ("The course (like PyTorch) uses NCHW: input[n, c, i, j], channels on axis 1, height "
         "and width on axes 2 and 3. ")
_NHWC_HINT = _NCHW + ("Pool over the LAST two axes, each channel on its own; the output is "
                      "(N, C, H_out, W_out).")
_BORDER_HINT = ("A window must lie entirely inside the input: there are (H - kH) // sH + 1 "
                "window rows, starting at 0, sH, 2 sH, ... Loop over range(H_out), not over "
                "range(0, H, stride), and drop the rows and columns left over at the border.")


def _clipped_windows(reduce):
    """Windows starting at every multiple of the stride, cut off at the border (range(0, H, s))."""
    def fn(x, *rest, stride=None):
        x = np.asarray(x, dtype=float)
        (kh, kw), (sh, sw) = _pair(rest[-1]), _pair(rest[-1] if stride is None else stride)
        h, w = x.shape[-2:]
        out = np.zeros(x.shape[:2] + (-(-h // sh), -(-w // sw)))
        for i in range(out.shape[2]):
            for j in range(out.shape[3]):
                out[:, :, i, j] = reduce(x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw],
                                         *rest[:-1])
        return out
    return fn


def _window_mistakes(reference, reduce) -> list[Mistake]:
    """Geometry and layout bugs shared by max, average and L^p pooling."""
    def default_stride_one(x, *rest, stride=None):
        return reference(x, *rest, stride=1) if stride is None else None

    def stride_ignored(x, *rest, stride=None):
        if stride is None or _pair(stride) == _pair(rest[-1]):
            return None
        return reference(x, *rest)

    def nhwc(x, *rest, stride=None):
        return reference(np.asarray(x).transpose(0, 3, 1, 2), *rest,
                         stride=stride).transpose(0, 2, 3, 1)

    def ceil(x, *rest, stride=None):
        return reference(x, *rest, stride=stride, ceil_mode=True)

    def swapped(x, *rest, stride=None):
        kh, kw = _pair(rest[-1])
        if kh == kw and (stride is None or len(set(_pair(stride))) == 1):
            return None
        return reference(x, *rest[:-1], (kw, kh),
                         stride=None if stride is None else _pair(stride)[::-1])

    border = "partial windows kept at the border (output size rounded up)"
    return [
        Mistake("stride defaults to 1 instead of kernel_size", _STRIDE_HINT, default_stride_one),
        Mistake("stride ignored (windows always step by kernel_size)",
                "Window (i, j) starts at row i * sH and column j * sW, where (sH, sW) is the "
                "stride you were given; only stride=None means stride = kernel_size.",
                stride_ignored),
        Mistake("NHWC layout instead of NCHW (pooled over the wrong axes)", _NHWC_HINT, nhwc),
        Mistake(border, _BORDER_HINT, _clipped_windows(reduce)),
        Mistake(border, _BORDER_HINT, ceil),
        Mistake("kernel height and width swapped",
                "kernel_size=(kH, kW) and stride=(sH, sW) list the HEIGHT first: kH rows "
                "(axis 2) by kW columns (axis 3).", swapped),
    ]


def _window_max(w):
    return w.max(axis=(-2, -1))


def _window_mean(w):
    return w.mean(axis=(-2, -1))


def _window_lp(w, p):
    return (w ** p).sum(axis=(-2, -1)) ** (1.0 / p)


MAX_POOL_MISTAKES = [
    *_window_mistakes(_max_pool2d, _window_max),
    Mistake("running maximum started at 0 instead of -inf (a window of negative values gives 0)",
            "Start from the window's first value (or -np.inf), or simply use window.max(): "
            "a window whose values are all negative has a negative maximum.",
            lambda x, *rest, stride=None: np.maximum(_max_pool2d(x, *rest, stride=stride), 0.0)),
]


def _wrong_count(detail: str, divisor):
    """An average that divides the window sum by `divisor(kh, kw, sh, sw, h, w)`."""
    def fn(x, k, stride=None):
        (kh, kw), (sh, sw) = _pair(k), _pair(k if stride is None else stride)
        d = divisor(kh, kw, sh, sw, *np.shape(x)[-2:])
        return _avg_pool2d(x, k, stride=stride) * (kh * kw) / d
    return Mistake(f"average divides by the wrong count ({detail})",
                   "A kH x kW window holds kH * kW numbers: its average is their sum divided by "
                   "kH * kW, whatever the stride and the size of the input.", fn)


AVG_POOL_MISTAKES = [
    *_window_mistakes(_avg_pool2d, _window_mean),
    _wrong_count("the sum, never divided", lambda kh, kw, sh, sw, h, w: 1),
    _wrong_count("divided by kH instead of kH * kW", lambda kh, kw, sh, sw, h, w: kh),
    _wrong_count("divided by kW instead of kH * kW", lambda kh, kw, sh, sw, h, w: kw),
    _wrong_count("divided by kH * kH instead of kH * kW", lambda kh, kw, sh, sw, h, w: kh * kh),
    _wrong_count("divided by kW * kW instead of kH * kW", lambda kh, kw, sh, sw, h, w: kw * kw),
    _wrong_count("divided by the stride area sH * sW", lambda kh, kw, sh, sw, h, w: sh * sw),
    _wrong_count("divided by H * W, the size of the whole plane",
                 lambda kh, kw, sh, sw, h, w: h * w),
]


def _lp_scaled(change):
    def fn(x, p, k, stride=None):
        return change(_lp_pool2d(x, p, k, stride=stride), float(p), _pair(k))
    return fn


LP_POOL_MISTAKES = [
    *_window_mistakes(_lp_pool2d, _window_lp),
    Mistake("mean of the powers instead of their sum (a power mean, not the L^p norm)",
            "L^p pooling takes the p-th root of the SUM of x^p over the window, without dividing "
            "by kH * kW: (sum x^p) ** (1 / p).",
            _lp_scaled(lambda y, p, k: y / (k[0] * k[1]) ** (1.0 / p))),
    Mistake("p-th root missing (the sum of powers returned)",
            "After summing x^p over the window, take the p-th root: ** (1 / p).",
            _lp_scaled(lambda y, p, k: y ** p)),
    Mistake("square root taken whatever p is",
            "The root matches the power: for p = 3 it is the cube root, ** (1 / p).",
            _lp_scaled(lambda y, p, k: y ** (p / 2) if p != 2 else None)),
]


def _channel_variant(change):
    def fn(x, k, stride=None, mode="max"):
        return change(np.asarray(x), k, stride, mode)
    return fn


CHANNEL_POOL_MISTAKES = [
    Mistake("stride defaults to 1 instead of kernel_size", _STRIDE_HINT,
            _channel_variant(lambda x, k, s, m: _channel_pool(x, k, 1, m) if s is None else None)),
    Mistake("pooled over height and width instead of over the channels",
            "Depth pooling keeps every pixel: out[n, c, i, j] combines input[n, c*S : c*S + K, "
            "i, j], channels c*S to c*S + K - 1 at the SAME position (i, j).",
            _channel_variant(lambda x, k, s, m: (_max_pool2d if m == "max" else _avg_pool2d)(
                x, k, stride=s))),
    Mistake("NHWC layout instead of NCHW (the last axis pooled as channels)",
            _NCHW + "Pool over axis 1; the output is (N, C_out, H, W).",
            _channel_variant(lambda x, k, s, m: _channel_pool(
                x.transpose(0, 3, 1, 2), k, s, m).transpose(0, 2, 3, 1))),
    Mistake("mode ignored (always the maximum)", "mode='avg' asks for the mean of the K channels.",
            _channel_variant(lambda x, k, s, m: _channel_pool(x, k, s, "max") if m == "avg"
                             else None)),
    Mistake("mode ignored (always the average)", "mode='max' asks for the maximum of the K "
            "channels.", _channel_variant(lambda x, k, s, m: _channel_pool(x, k, s, "avg")
                                          if m == "max" else None)),
    Mistake("average divides by the wrong count (the sum of the K channels, never divided)",
            "mode='avg' is the mean of K channels: their sum divided by K.",
            _channel_variant(lambda x, k, s, m: k * _channel_pool(x, k, s, "avg") if m == "avg"
                             else None)),
]


def _global_variant(reduce, axes):
    return lambda x: reduce(np.asarray(x), axis=axes, keepdims=True)


GLOBAL_AVG_MISTAKES = [
    Mistake("output shape (N, C) instead of (N, C, 1, 1) (keepdims missing)",
            "Keep the two spatial axes with length 1, as PyTorch's adaptive_avg_pool2d(x, 1) "
            "does: x.mean(axis=(2, 3), keepdims=True).",
            lambda x: _global_avg_pool2d(x)[:, :, 0, 0]),
    Mistake("NHWC layout instead of NCHW (averaged over the wrong axes)",
            _NCHW + "Average over axes 2 and 3; the output is (N, C, 1, 1).",
            _global_variant(_mean, (1, 2))),
    Mistake("averaged over the channels as well", "Each channel gets its own mean: average over "
            "axes 2 and 3 only.", _global_variant(_mean, (1, 2, 3))),
    Mistake("averaged over the whole batch", "Each image gets its own means: average over axes "
            "2 and 3, never over axis 0.", _global_variant(_mean, (0, 2, 3))),
    Mistake("maximum instead of average (that is global max pooling)",
            "Global AVERAGE pooling: the mean of each channel.", _global_variant(_max, (2, 3))),
    Mistake("average divides by the wrong count (the sum, never divided)",
            "The mean of an H x W plane is its sum divided by H * W.",
            _global_variant(_sum, (2, 3))),
]


# ----------------------------------------------------------------------------------------------
# Cases

def _normal(g, shape):
    return g.standard_normal(shape)


# (input shape, kernel_size, stride or None, label)
_LEADING = [  # every mistake above gives its own output on one of these two cases:
    # C = 4 >= 2 (NHWC pools axes 1, 2), H = 7 odd (border), some 2x2 windows all negative
    ((2, 4, 7, 6), 2, 2, "2x2 windows, stride 2"),
    ((1, 3, 7, 8), 3, 2, "overlapping 3x3 windows, stride 2"),
]
_EDGES = [
    ((1, 2, 6, 9), (2, 3), (1, 2), "rectangular window and stride"),
    ((2, 3, 5, 4), (5, 4), None, "kernel as large as the input"),
    ((1, 2, 4, 5), 1, None, "1x1 kernel (the output is the input)"),
    ((2, 1, 7, 5), (3, 1), None, "tall 3x1 window, stride=None"),
    ((1, 2, 9, 7), 2, 3, "stride larger than the window"),
    ((1, 1, 4, 4), 2, None, "one image, one channel"),
]
_NO_STRIDE = [
    ((2, 3, 8, 6), 2, None, "kernel_size=2, stride not given"),
    ((1, 2, 9, 7), 3, None, "kernel_size=3, stride not given"),
    ((1, 2, 6, 8), (3, 2), None, "kernel_size=(3, 2), stride not given"),
]


def _fixed_cases(g, specs, lead=(), *, positive=False) -> list[Case]:
    """Random inputs of the given geometries; `lead` goes between input and kernel_size."""
    cases = []
    for shape, k, s, label in specs:
        x = _normal(g, shape)
        cases.append(Case((np.abs(x) if positive else x, *lead, k),
                          {} if s is None else {"stride": s}, label))
    return cases


def _random_window_cases(g, n, lead=(), *, positive=False) -> list[Case]:
    specs = []
    for _ in range(n):
        k = int(g.choice([2, 3]))
        h, w = (int(v) for v in g.integers(k + 2, 10, size=2))
        specs.append(((int(g.integers(1, 3)), int(g.integers(1, 4)), h, w), k,
                      int(g.integers(1, k + 1)), ""))
    return _fixed_cases(g, specs, lead, positive=positive)


def _check(student, reference, cases, name, mistakes, *, values=True, error_hint=""):
    __tracebackhide__ = True
    try:
        run_exercise_check(student, reference, cases, name=name, mistakes=mistakes,
                           values=values)
    except CheckFailure as failure:
        # a crash has no output to diagnose: add the likely causes to the message
        if error_hint and "your function raised" in str(failure):
            raise CheckFailure(f"{failure}{error_hint}") from failure.__cause__
        raise


# ----------------------------------------------------------------------------------------------
# max_pool2d

def check_max_pool2d_shape(max_pool2d, seed: int = VISIBLE_SEED) -> None:
    """Is the output (N, C, (H - kH) // sH + 1, (W - kW) // sW + 1), stride defaulting to the kernel?"""
    __tracebackhide__ = True
    g = _core.rng(seed + 11)
    cases = [*_fixed_cases(g, _LEADING + _NO_STRIDE[:1]), *_random_window_cases(g, 2)]
    _check(max_pool2d, _max_pool2d, cases, "max_pool2d shape", MAX_POOL_MISTAKES, values=False)


def check_max_pool2d_values(max_pool2d, seed: int = VISIBLE_SEED, n_cases: int = 4) -> None:
    """Is every output the maximum of its window, for 2x2/2, 3x3/2 and random windows?"""
    __tracebackhide__ = True
    g = _core.rng(seed + 12)
    _check(max_pool2d, _max_pool2d, _fixed_cases(g, _LEADING) + _random_window_cases(g, n_cases),
           f"max_pool2d values ({_which(seed)} cases)", MAX_POOL_MISTAKES)


def check_max_pool2d_default_stride(max_pool2d, seed: int = VISIBLE_SEED) -> None:
    """Without a stride, do the windows step by kernel_size (PyTorch's default)?"""
    __tracebackhide__ = True
    _check(max_pool2d, _max_pool2d, _fixed_cases(_core.rng(seed + 13), _NO_STRIDE),
           f"max_pool2d stride=None ({_which(seed)} cases)", MAX_POOL_MISTAKES)


def check_max_pool2d_edge_cases(max_pool2d, seed: int = VISIBLE_SEED) -> None:
    """Whole-input and 1x1 kernels, rectangular windows and strides, all-negative windows."""
    __tracebackhide__ = True
    g = _core.rng(seed + 14)
    negative = Case((-np.abs(_normal(g, (2, 2, 4, 6))) - 0.5, 2), {},
                    "every value negative")
    _check(max_pool2d, _max_pool2d, [negative, *_fixed_cases(g, _EDGES)],
           f"max_pool2d edge cases ({_which(seed)} cases)", MAX_POOL_MISTAKES)


# ----------------------------------------------------------------------------------------------
# avg_pool2d and lp_pool2d

def _rectangular_avg_case(g) -> Case:
    # 1, kH, kW, kH^2, kW^2, sH sW and H W all differ from each other and from kH kW = 12: every
    # wrong divisor gives its own numbers
    return Case((_normal(g, (2, 3, 8, 9)), (3, 4)), {"stride": (2, 1)},
                "3x4 windows, stride (2, 1)")


def check_avg_pool2d_values(avg_pool2d, seed: int = VISIBLE_SEED, n_cases: int = 4) -> None:
    """Is every output the mean of its kH * kW window values?"""
    __tracebackhide__ = True
    g = _core.rng(seed + 21)
    cases = [_rectangular_avg_case(g), *_fixed_cases(g, _LEADING),
             *_random_window_cases(g, n_cases)]
    _check(avg_pool2d, _avg_pool2d, cases, f"avg_pool2d values ({_which(seed)} cases)",
           AVG_POOL_MISTAKES)


def check_avg_pool2d_edge_cases(avg_pool2d, seed: int = VISIBLE_SEED) -> None:
    """Whole-input and 1x1 kernels, rectangular windows and strides, stride=None."""
    __tracebackhide__ = True
    g = _core.rng(seed + 22)
    cases = _fixed_cases(g, _EDGES + _NO_STRIDE)
    _check(avg_pool2d, _avg_pool2d, cases, f"avg_pool2d edge cases ({_which(seed)} cases)",
           AVG_POOL_MISTAKES)


def check_lp_pool2d_values(lp_pool2d, seed: int = VISIBLE_SEED, n_cases: int = 3) -> None:
    """L2 pooling (norm_type=2): the square root of the sum of squares of every window."""
    __tracebackhide__ = True
    g = _core.rng(seed + 31)
    cases = [*_fixed_cases(g, _LEADING, (2,)), *_random_window_cases(g, n_cases, (2,)),
             *_fixed_cases(g, _NO_STRIDE[:2], (2,))]
    _check(lp_pool2d, _lp_pool2d, cases, f"lp_pool2d values ({_which(seed)} cases)",
           LP_POOL_MISTAKES)


def check_lp_pool2d_other_p(lp_pool2d, seed: int = VISIBLE_SEED) -> None:
    """p = 3, 1 and 4 on non-negative inputs (as after a ReLU), and the edge cases."""
    __tracebackhide__ = True
    g = _core.rng(seed + 32)
    cases = [*_fixed_cases(g, _LEADING, (3,), positive=True),
             *_random_window_cases(g, 2, (1,), positive=True),
             *_fixed_cases(g, _EDGES[:3], (4,), positive=True),
             *_fixed_cases(g, _EDGES[3:], (2,))]
    _check(lp_pool2d, _lp_pool2d, cases, f"lp_pool2d other p and edge cases ({_which(seed)} "
           "cases)", LP_POOL_MISTAKES)


# ----------------------------------------------------------------------------------------------
# channel_pool and global_avg_pool2d

def _channel_cases(seed: int, n: int) -> list[Case]:
    g = _core.rng(seed)
    # every mistake gives its own shape on the first case, its own values on the next two
    cases = [Case((_normal(g, (2, 6, 4, 5)), 2), {}, "6 channels, kernel_size=2, stride=None"),
             Case((_normal(g, (1, 6, 3, 4)), 3), {"stride": 3, "mode": "avg"},
                  "average of groups of 3 channels"),
             Case((_normal(g, (2, 7, 3, 3)), 3), {"stride": 2, "mode": "max"},
                  "overlapping groups: 3 channels, stride 2")]
    for i in range(n):
        k = int(g.integers(2, 4))
        c = int(g.integers(k, 9))
        kwargs = {"mode": "max" if i % 2 else "avg"}
        if i % 3:
            kwargs["stride"] = int(g.integers(1, k + 1))
        cases.append(Case((_normal(g, (int(g.integers(1, 3)), c, 3, 4)), k), kwargs))
    cases.append(Case((_normal(g, (1, 5, 2, 3)), 5), {"mode": "max"},
                      "all 5 channels in one group (a maxout unit)"))
    return cases


def check_channel_pool_shape(channel_pool, seed: int = VISIBLE_SEED) -> None:
    """Is the output (N, (C - K) // S + 1, H, W): height and width kept, depth reduced?"""
    __tracebackhide__ = True
    _check(channel_pool, _channel_pool, _channel_cases(seed + 41, 2), "channel_pool shape",
           CHANNEL_POOL_MISTAKES, values=False)


def check_channel_pool_values(channel_pool, seed: int = VISIBLE_SEED, n_cases: int = 4) -> None:
    """Max and mean over groups of K neighbouring channels, pixel by pixel."""
    __tracebackhide__ = True
    _check(channel_pool, _channel_pool, _channel_cases(seed + 42, n_cases),
           f"channel_pool values ({_which(seed)} cases)", CHANNEL_POOL_MISTAKES)


def _global_cases(seed: int) -> list[Case]:
    g = _core.rng(seed)
    return [Case((_normal(g, (2, 3, 4, 5)),)), Case((_normal(g, (3, 4, 6, 6)),)),
            Case((_normal(g, (1, 5, 7, 3)),), label="one image"),
            Case((_normal(g, (2, 2, 1, 1)),), label="1x1 feature maps")]


def check_global_avg_pool2d_shape(global_avg_pool2d, seed: int = VISIBLE_SEED) -> None:
    """Is the output (N, C, 1, 1)?"""
    __tracebackhide__ = True
    _check(global_avg_pool2d, _global_avg_pool2d, _global_cases(seed + 51),
           "global_avg_pool2d shape", GLOBAL_AVG_MISTAKES, values=False)


def check_global_avg_pool2d_values(global_avg_pool2d, seed: int = VISIBLE_SEED) -> None:
    """Is out[n, c, 0, 0] the mean of input[n, c]?"""
    __tracebackhide__ = True
    _check(global_avg_pool2d, _global_avg_pool2d, _global_cases(seed + 52),
           f"global_avg_pool2d values ({_which(seed)} cases)", GLOBAL_AVG_MISTAKES)


register(TOPIC, "max_pool2d", [check_max_pool2d_shape, check_max_pool2d_values,
                               check_max_pool2d_default_stride, check_max_pool2d_edge_cases])
register(TOPIC, "avg_pool2d", [check_avg_pool2d_values, check_avg_pool2d_edge_cases])
register(TOPIC, "lp_pool2d", [check_lp_pool2d_values, check_lp_pool2d_other_p])
register(TOPIC, "channel_pool", [check_channel_pool_shape, check_channel_pool_values])
register(TOPIC, "global_avg_pool2d", [check_global_avg_pool2d_shape,
                                      check_global_avg_pool2d_values])
_core.protect(__name__)
