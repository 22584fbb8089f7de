"""Checks for notebook 02_padding_stride, part 1: output sizes and padding.

``conv_output_size`` (with the course's worked numbers and ``strict``), ``pad2d`` and
``unpad2d``. Part 2 (conv2d with stride, padding and dilation, receptive fields, im2col) is in
``cnncourse.checks.strided_conv``; both register under the topic ``"02_padding_stride"``.

Every ``check_*`` function takes the student's function and a `seed`: the visible test cells use
the default seed, the hidden ones another, so hidden cases are new inputs of the same kinds.
Known mistakes are recognised by what they output and named in the message.
"""

from __future__ import annotations

import re

import numpy as np

from cnncourse.ops import padding as _padding
from cnncourse.ops._validate import pair as _pair

from . import _core, register
from ._core import Case, CheckFailure, Mistake, run_exercise_check

__all__ = [
    "check_conv_output_size_examples",
    "check_conv_output_size_strict",
    "check_conv_output_size_values",
    "check_pad2d_edge_cases",
    "check_pad2d_shape",
    "check_pad2d_values",
    "check_unpad2d_edge_cases",
    "check_unpad2d_values",
]

TOPIC = "02_padding_stride"
VISIBLE_SEED = 0

# Bound now: the expected answers never depend on what the notebook does to these names later.
_conv_output_size = _padding.conv_output_size
_pad2d = _padding.pad2d
_core.watch(_padding, ["pad2d", "conv_output_size"])
_np_pad = np.pad


# ----------------------------------------------------------------------------------------------
# References, with the notebook's signatures


def _size_of(size, kernel_size, stride=1, padding=0, dilation=1, strict=False):
    return _conv_output_size(size, kernel_size, stride, padding, dilation, strict=strict)


def _unpad2d(x, padding):
    ph, pw = _pair(padding, "padding")
    h, w = np.shape(x)[-2:]
    return np.asarray(x)[..., ph:h - ph, pw:w - pw]


# ----------------------------------------------------------------------------------------------
# Output size


def _size_formula(change):
    """A conv_output_size mistake: `change(W, span, S, P, F, D)` replaces the right formula."""
    def fn(size, kernel_size, stride=1, padding=0, dilation=1, strict=False):
        return change(size, dilation * (kernel_size - 1) + 1, stride, padding, kernel_size,
                      dilation)
    return fn


_FORMULA = "W_out = floor((W + 2P - D(F - 1) - 1) / S) + 1"
SIZE_MISTAKES = [
    Mistake("output size off by one (the + 1 is missing)",
            f"Count the window positions: the first window starts at 0, and (W + 2P - F) // S "
            f"more steps of S fit after it, so {_FORMULA}.",
            _size_formula(lambda w, f, s, p, k, d: (w + 2 * p - f) // s)),
    Mistake("padding ignored",
            f"Zero padding adds P rows on each side before the window slides: {_FORMULA}.",
            _size_formula(lambda w, f, s, p, k, d: (w - f) // s + 1)),
    Mistake("padding counted once instead of twice (P, not 2P)",
            "Padding is added on BOTH sides (top and bottom, left and right): W + 2P.",
            _size_formula(lambda w, f, s, p, k, d: (w + p - f) // s + 1)),
    Mistake("rounded up (ceil or round) instead of floored",
            "A window that would stick out of the padded input is not computed: round DOWN "
            "with integer division //, so W=10, F=3, S=2, P=0 gives 4, not 5.",
            _size_formula(lambda w, f, s, p, k, d: -(-(w + 2 * p - f) // s) + 1)),
    Mistake("stride ignored",
            f"With stride S the window moves S pixels at a time: divide by S, {_FORMULA}.",
            _size_formula(lambda w, f, s, p, k, d: w + 2 * p - f + 1)),
    Mistake("dilation ignored",
            "A dilated kernel of size F spans D(F - 1) + 1 input pixels: use that span in place "
            "of F.",
            _size_formula(lambda w, f, s, p, k, d: (w + 2 * p - k) // s + 1)),
    Mistake("dilation counted as the gap between taps (PyTorch's dilation=1 means no gap)",
            "In PyTorch (and here) dilation D puts D - 1 zeros between taps: the span is "
            "D(F - 1) + 1, so dilation=1 is an ordinary kernel.",
            _size_formula(lambda w, f, s, p, k, d: (w + 2 * p - ((d + 1) * (k - 1) + 1)) // s + 1)),
]


def _size_examples() -> list[Case]:
    """The worked numbers of the course text."""
    return [
        Case((7, 3), {}, "7x7 input, 3x3 filter, stride 1"),
        Case((7, 3), {"stride": 2}, "7x7 input, 3x3 filter, stride 2"),
        Case((227, 11), {"stride": 4}, "AlexNet conv1: 227, F=11, S=4, P=0"),
        Case((32, 5), {"padding": 2}, "P=(F-1)/2 keeps 32x32 with F=5"),
        Case((224, 3), {"padding": 1}, "VGG: F=3, P=1 keeps 224"),
        Case((5, 3), {"stride": 2, "padding": 1}, "the conv demo: W=5, F=3, S=2, P=1"),
        Case((11, 5), {"stride": 2}, "the numpy example: W=11, F=5, S=2"),
        Case((224, 2), {"stride": 2}, "2x2 pooling, stride 2: 224 -> 112"),
        Case((12, 7), {}, "FC layer as a 7x7 conv on a 12x12 volume"),
        Case((10, 3), {"stride": 2}, "W=10, F=3, S=2: the last column is left out"),
        Case((5, 3), {"dilation": 2}, "1-D dilated example: 5 inputs, F=3, dilation 2"),
    ]


def _random_size_case(g, dilated: bool, exact: bool) -> Case:
    while True:
        k, s, p = int(g.integers(1, 8)), int(g.integers(1, 5)), int(g.integers(0, 4))
        d = int(g.integers(1, 4)) if dilated else 1
        span = d * (k - 1) + 1
        size = int(g.integers(max(1, span - 2 * p), 60))
        if exact or (size + 2 * p - span) % s:  # mostly inexact tilings: floor and ceil differ
            return Case((size, k), {"stride": s, "padding": p, "dilation": d})


def _size_cases(seed: int, n: int) -> list[Case]:
    g = _core.rng(seed)
    # Lead with a case on which every mistake gives its own number, so that the first failing
    # case names the right mistake (several mistakes can agree on a single case).
    return [_separating_size_case(g)] + [_random_size_case(g, i % 2 == 1, i % 3 == 2)
                                         for i in range(n - 1)]


def _separating_size_case(g) -> Case:
    for _ in range(1000):
        k, s, p, d = (int(g.integers(3, 8)), int(g.integers(2, 4)), int(g.integers(4, 9)),
                      int(g.integers(2, 4)))
        case = Case((int(g.integers(20, 60)), k), {"stride": s, "padding": p, "dilation": d})
        if _separates(case):
            return case
    return Case((20, 5), {"stride": 2, "padding": 6, "dilation": 2})  # a separating fallback


def _separates(case: Case) -> bool:
    right = _size_of(*case.args, **case.kwargs)
    wrong = [m.fn(*case.args, **case.kwargs) for m in SIZE_MISTAKES]
    return all(v != right for v in wrong) and len(set(wrong)) == len(wrong)


def check_conv_output_size_examples(conv_output_size) -> None:
    """Does conv_output_size reproduce the course's worked sizes (7->5, 7->3, 227->55, ...)?"""
    __tracebackhide__ = True
    run_exercise_check(conv_output_size, _size_of, _size_examples(),
                       name="conv_output_size (course examples)", mistakes=SIZE_MISTAKES)


def check_conv_output_size_values(conv_output_size, seed: int = VISIBLE_SEED, n_cases: int = 12):
    """Is floor((W + 2P - D(F-1) - 1)/S) + 1 right on random sizes, strides, paddings, dilations?"""
    __tracebackhide__ = True
    run_exercise_check(conv_output_size, _size_of, _size_cases(seed + 1, n_cases),
                       name=f"conv_output_size values ({_which(seed)} cases)",
                       mistakes=SIZE_MISTAKES)


def _strict_cases(seed: int) -> list[Case]:
    cases = [
        Case((10, 3), {"stride": 2, "strict": True}, "W=10, F=3, S=2, P=0: (10-3)/2+1 = 4.5"),
        Case((10, 3), {"stride": 2, "strict": False}, "W=10, F=3, S=2, P=0 without strict"),
        Case((227, 11), {"stride": 4, "strict": True}, "AlexNet conv1 with 227 inputs"),
        Case((224, 11), {"stride": 4, "strict": True}, "AlexNet conv1 with 224 inputs"),
        Case((5, 3), {"stride": 2, "padding": 1, "strict": True}, "W=5, F=3, S=2, P=1"),
        Case((8, 3), {"stride": 2, "dilation": 2, "strict": True}, "W=8, F=3, S=2, D=2"),
    ]
    if seed != VISIBLE_SEED:
        for c in _size_cases(seed + 3, 6):  # a mix of exact and inexact tilings
            c.kwargs["strict"] = True
            cases.append(c)
    return cases


def _raised_value_error(fn):
    """Wrap `fn` so that a ValueError becomes a returned marker (other errors propagate)."""
    def outcome(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ValueError as exc:
            return _Raised(str(exc))
    return outcome


class _Raised:
    def __init__(self, message: str):
        self.message = message


def check_conv_output_size_strict(conv_output_size, seed: int = VISIBLE_SEED) -> None:
    """With strict=True, is ValueError raised exactly when S does not divide W + 2P - span?"""
    __tracebackhide__ = True
    name = f"conv_output_size strict ({_which(seed)} cases)"
    _core.verify_untampered()
    for case in _strict_cases(seed):
        text = _core.describe_case(_size_of, case)
        try:
            call = _core.call_student(_raised_value_error(conv_output_size), *case.args,
                                      _name=name, _case=text, **case.kwargs)
        except CheckFailure as failure:
            if case.kwargs["strict"] and isinstance(failure.__cause__, Exception):
                raise CheckFailure(f"{failure} An invalid configuration must raise ValueError "
                                   "(raise ValueError(...)), not any other exception.") from None
            raise
        if call.reference_calls:
            raise CheckFailure(f"[reference] {name}: your function calls "
                               f"{', '.join(call.reference_calls[:3])}; compute the size yourself.")
        try:
            expected = _size_of(*case.args, **case.kwargs)
        except ValueError:
            expected = None
        got = call.result
        if expected is None and not isinstance(got, _Raised):
            raise CheckFailure(
                f"{name}: no ValueError for a configuration whose windows do not fit, for "
                f"{text}: got {got!r}. With strict=True, raise ValueError when (W + 2P - span) is not a "
                "multiple of S (check it with %).")
        if expected is not None and isinstance(got, _Raised):
            why = ("although strict=False: without strict, round down and return the size"
                   if not case.kwargs["strict"] else "for a configuration that fits exactly")
            raise CheckFailure(f"{name}: raised ValueError {why}, for {text} (expected "
                               f"{expected}). Your message: {got.message}")
        if expected is not None:
            _core.compare(got, expected, name=name, case_description=text,
                          mistakes=SIZE_MISTAKES, case=case)
    _core.verify_untampered()
    print(f"{name}: OK")


# ----------------------------------------------------------------------------------------------
# pad2d and unpad2d


def _pad_axes(widths_of):
    """A pad2d mistake: np.pad with the widths `widths_of(ph, pw)` (one pair per axis)."""
    def fn(x, padding):
        ph, pw = _pair(padding, "padding")
        return _np_pad(np.asarray(x, dtype=float), widths_of(ph, pw))
    return fn


_PAD_HINT = ("Only the two spatial axes of an (N, C, H, W) array get zeros: "
             "np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))).")
PAD2D_MISTAKES = [
    Mistake("padding applied to all four axes (N and C padded too)", _PAD_HINT,
            _pad_axes(lambda ph, pw: ((ph, ph), (pw, pw), (ph, ph), (pw, pw)))),
    Mistake("padding applied to the N and C axes instead of H and W", _PAD_HINT,
            _pad_axes(lambda ph, pw: ((ph, ph), (pw, pw), (0, 0), (0, 0)))),
    Mistake("NHWC layout instead of NCHW (axes 1 and 2 padded)",
            "The course, like PyTorch, stores images as (N, C, H, W): H and W are the LAST two "
            "axes. " + _PAD_HINT,
            _pad_axes(lambda ph, pw: ((0, 0), (ph, ph), (pw, pw), (0, 0)))),
    Mistake("padding added on one side only (top and left)",
            "Pad BOTH sides: ph rows above and ph below, pw columns left and pw right.",
            _pad_axes(lambda ph, pw: ((0, 0), (0, 0), (ph, 0), (pw, 0)))),
    Mistake("padding added on one side only (bottom and right)",
            "Pad BOTH sides: ph rows above and ph below, pw columns left and pw right.",
            _pad_axes(lambda ph, pw: ((0, 0), (0, 0), (0, ph), (0, pw)))),
    Mistake("padding pair swapped (pad_w used for the rows)",
            "padding=(ph, pw): ph rows on top and bottom (height), pw columns on the left and "
            "right (width).",
            _pad_axes(lambda ph, pw: ((0, 0), (0, 0), (pw, pw), (ph, ph)))),
    Mistake("padding doubled (2p on each side)",
            "padding=p adds p zeros on EACH side, so each spatial size grows by 2p in total.",
            _pad_axes(lambda ph, pw: ((0, 0), (0, 0), (2 * ph, 2 * ph), (2 * pw, 2 * pw)))),
]

_EMPTY_SLICE = Mistake(
    "`x[p:-p]` with p = 0 (an empty slice)",
    "When p == 0, x[p:-p] is x[0:0]: EMPTY, not the whole axis. Slice with explicit ends, "
    "x[..., p:H - p] (or p:p + H when writing into the padded array), which also works for 0.",
    lambda x, padding: np.asarray(x)[..., _pair(padding, "p")[0]:-_pair(padding, "p")[0],
                                     _pair(padding, "p")[1]:-_pair(padding, "p")[1]])


def _crop_axes(slices_of):
    def fn(x, padding):
        ph, pw = _pair(padding, "padding")
        return np.asarray(x)[slices_of(ph, pw, *np.shape(x))]
    return fn


UNPAD2D_MISTAKES = [
    _EMPTY_SLICE,
    Mistake("cropped the N and C axes instead of H and W",
            "Remove rows and columns of the two spatial axes: x[..., ph:H - ph, pw:W - pw].",
            _crop_axes(lambda ph, pw, n, c, h, w: (slice(ph, n - ph), slice(pw, c - pw)))),
    Mistake("NHWC layout instead of NCHW (axes 1 and 2 cropped)",
            "Images are (N, C, H, W): crop the LAST two axes, x[..., ph:H - ph, pw:W - pw].",
            _crop_axes(lambda ph, pw, n, c, h, w: (slice(None), slice(ph, c - ph),
                                                   slice(pw, h - pw)))),
    Mistake("cropped one side only",
            "Padding was added on both sides: remove ph rows at the top AND at the bottom.",
            _crop_axes(lambda ph, pw, n, c, h, w: (Ellipsis, slice(ph, None), slice(pw, None)))),
    Mistake("padding pair swapped (pad_w used for the rows)",
            "padding=(ph, pw): ph rows (height), pw columns (width).",
            _crop_axes(lambda ph, pw, n, c, h, w: (Ellipsis, slice(pw, h - pw),
                                                   slice(ph, w - ph)))),
]

_BROADCAST_INTO_EMPTY = re.compile(r"broadcast.*into shape \([^)]*\b0\b")


def _run_pad_check(student, reference, cases, *, name, mistakes, values=True):
    """run_exercise_check, naming `out[p:-p] = x` with p = 0 (numpy cannot broadcast into [])."""
    __tracebackhide__ = True
    try:
        run_exercise_check(student, reference, cases, name=name, mistakes=mistakes, values=values)
    except CheckFailure as failure:
        cause = failure.__cause__
        if isinstance(cause, ValueError) and _BROADCAST_INTO_EMPTY.search(str(cause)):
            raise CheckFailure(f"{name}: {_EMPTY_SLICE.name}: your function raised "
                               f"ValueError: {cause}. {_EMPTY_SLICE.hint}") from cause
        raise


def _nchw(g, n, c, h, w, dtype=np.float64):
    return g.standard_normal((n, c, h, w)).astype(dtype)


def _pad_cases(seed: int, n: int) -> list[Case]:
    g = _core.rng(seed)
    cases = []
    for i in range(n):
        x = _nchw(g, int(g.integers(1, 4)), int(g.integers(1, 4)), int(g.integers(2, 7)),
                  int(g.integers(2, 7)))
        p = int(g.integers(1, 4)) if i % 2 == 0 else tuple(int(v) for v in g.permutation(3)[:2] + 1)
        cases.append(Case((x, p)))
    return cases


def _pad_edge_cases(seed: int) -> list[Case]:
    g = _core.rng(seed)
    return [
        Case((_nchw(g, 2, 3, 4, 5), 0), label="padding 0"),
        Case((_nchw(g, 1, 2, 3, 4), (0, 2)), label="padding (0, 2): columns only"),
        Case((_nchw(g, 2, 1, 5, 3), (1, 0)), label="padding (1, 0): rows only"),
        Case((_nchw(g, 1, 1, 1, 1), 2), label="a single pixel"),
        Case((_nchw(g, 3, 2, 4, 4, np.float32), 1), label="float32 input"),
    ]


def check_pad2d_shape(pad2d, seed: int = VISIBLE_SEED) -> None:
    """Is the output (N, C, H + 2*ph, W + 2*pw)?"""
    __tracebackhide__ = True
    _run_pad_check(pad2d, _pad2d, _pad_cases(seed + 4, 4), name="pad2d shape",
                   mistakes=PAD2D_MISTAKES, values=False)


def check_pad2d_values(pad2d, seed: int = VISIBLE_SEED, n_cases: int = 4) -> None:
    """Is the input in the middle, with zeros around it, for int and pair paddings?"""
    __tracebackhide__ = True
    _run_pad_check(pad2d, _pad2d, _pad_cases(seed + 5, n_cases),
                   name=f"pad2d values ({_which(seed)} cases)", mistakes=PAD2D_MISTAKES)


def check_pad2d_edge_cases(pad2d, seed: int = VISIBLE_SEED) -> None:
    """Padding 0, a zero in a pair, a single pixel, float32."""
    __tracebackhide__ = True
    _run_pad_check(pad2d, _pad2d, _pad_edge_cases(seed + 6),
                   name=f"pad2d edge cases ({_which(seed)} cases)", mistakes=PAD2D_MISTAKES)


def _unpad_cases(cases: list[Case]) -> list[Case]:
    """Crop what pad2d added: the inputs are padded arrays."""
    return [Case((_pad2d(c.args[0], c.args[1]), c.args[1]), label=c.label) for c in cases]


def check_unpad2d_values(unpad2d, seed: int = VISIBLE_SEED) -> None:
    """Does unpad2d remove ph rows and pw columns from each side of H and W?"""
    __tracebackhide__ = True
    _run_pad_check(unpad2d, _unpad2d, _unpad_cases(_pad_cases(seed + 7, 4)),
                   name=f"unpad2d values ({_which(seed)} cases)", mistakes=UNPAD2D_MISTAKES)


def check_unpad2d_edge_cases(unpad2d, seed: int = VISIBLE_SEED) -> None:
    """Padding 0 (the whole array comes back), a zero in a pair, float32."""
    __tracebackhide__ = True
    _run_pad_check(unpad2d, _unpad2d, _unpad_cases(_pad_edge_cases(seed + 8)),
                   name=f"unpad2d edge cases ({_which(seed)} cases)", mistakes=UNPAD2D_MISTAKES)


def _which(seed: int) -> str:
    return "visible" if seed == VISIBLE_SEED else "hidden"


register(TOPIC, "conv_output_size", [check_conv_output_size_examples,
                                     check_conv_output_size_values, check_conv_output_size_strict])
register(TOPIC, "pad2d", [check_pad2d_shape, check_pad2d_values, check_pad2d_edge_cases])
register(TOPIC, "unpad2d", [check_unpad2d_values, check_unpad2d_edge_cases])
_core.protect(__name__)
