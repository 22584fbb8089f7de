"""Do the 03_pooling checks (pooling, pooling_backward) pass right answers and name mistakes?

The "students" here are brute-force loops written in this file, each with one deliberate mistake
switched on; the checks' reference (cnncourse.ops.pool) is never used as the student's answer.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from cnncourse import checks
from cnncourse.checks import CheckFailure, _core
from cnncourse.checks import pooling as cp
from cnncourse.checks import pooling_backward as cpb

HIDDEN = 7321

# Submitted through real nbgrader by tests/test_notebooks.py: (answer cell, its buggy source,
# text the autograded feedback must contain).
NOTEBOOK_MISTAKES = {
    "03_pooling": [
        ("max_pool2d_backward_solution", textwrap.dedent("""
            def max_pool2d_backward(grad_output, input, kernel_size, stride=None):
                kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
                if stride is None:
                    stride = kernel_size
                sh, sw = (stride, stride) if isinstance(stride, int) else stride
                grad = np.zeros(input.shape)
                n, c, h_out, w_out = grad_output.shape
                for b in range(n):
                    for ch in range(c):
                        for i in range(h_out):
                            for j in range(w_out):
                                window = input[b, ch, i * sh:i * sh + kh, j * sw:j * sw + kw]
                                u, v = np.unravel_index(np.argmax(window), window.shape)
                                grad[b, ch, i * sh + u, j * sw + v] = grad_output[b, ch, i, j]
                return grad
            """), "gradient assigned instead of accumulated where windows overlap"),
        ("avg_pool2d_solution", textwrap.dedent("""
            def avg_pool2d(input, kernel_size, stride=None):
                kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
                if stride is None:
                    stride = 1
                sh, sw = (stride, stride) if isinstance(stride, int) else stride
                n, c, h, w = input.shape
                out = np.zeros((n, c, (h - kh) // sh + 1, (w - kw) // sw + 1))
                for i in range(out.shape[2]):
                    for j in range(out.shape[3]):
                        window = input[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                        out[:, :, i, j] = window.mean(axis=(2, 3))
                return out
            """), "stride defaults to 1 instead of kernel_size"),
        ("max_pool2d_backward_solution", textwrap.dedent("""
            def max_pool2d_backward(grad_output, input, kernel_size, stride=None):
                x = np.asarray(input, dtype=float)
                g = np.asarray(grad_output, dtype=float)
                kh, kw = as_pair(kernel_size)
                sh, sw = as_pair(kernel_size if stride is None else stride)
                grad = np.zeros(x.shape)
                n, c, h_out, w_out = g.shape
                for b in range(n):
                    for ch in range(c):
                        for i in range(h_out):
                            for j in range(w_out):
                                window = x[b, ch, i * sh:i * sh + kh, j * sw:j * sw + kw]
                                mask = window == window.max()  # every tied maximum
                                grad[b, ch, i * sh:i * sh + kh, j * sw:j * sw + kw] += mask * g[b, ch, i, j]
                return grad
            """), "gradient sent to every tied maximum"),
    ],
}


def as_pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# ------------------------------------------------------------------------------------------
# Brute-force students, with one mistake switched on by `bug`


def _reduce(window, kind, p, bug):
    values = [float(v) for v in window.ravel()]
    if kind == "max":
        best = 0.0 if bug == "zero start" else -np.inf
        for v in values:
            best = max(best, v)
        return best
    if kind == "avg":
        kh = window.shape[0]
        divisor = {"sum": 1, "kh": kh, "kh*kh": kh * kh}.get(bug, len(values))
        return sum(values) / divisor
    total = sum(v ** p for v in values)
    if bug == "power mean":
        total /= len(values)
    if bug == "no root":
        return total
    return total ** (0.5 if bug == "sqrt" else 1.0 / p)


def student_pool(x, kernel_size, stride=None, *, kind="max", p=2, bug=None):
    x = np.asarray(x, dtype=float)
    kh, kw = as_pair(kernel_size)
    if stride is None:
        stride = 1 if bug == "stride 1" else kernel_size
    sh, sw = as_pair(stride)
    if bug == "stride ignored":
        sh, sw = kh, kw
    if bug == "swapped":
        kh, kw, sh, sw = kw, kh, sw, sh
    if bug == "nhwc":  # reads x as (N, H, W, C) and pools axes 1 and 2
        n, h, w, c = x.shape
        out = np.zeros((n, (h - kh) // sh + 1, (w - kw) // sw + 1, c))
        for b, i, j, ch in np.ndindex(*out.shape):
            out[b, i, j, ch] = _reduce(x[b, i * sh:i * sh + kh, j * sw:j * sw + kw, ch], kind,
                                       p, None)
        return out
    n, c, h, w = x.shape
    if bug == "border":  # windows at range(0, H, stride), cut off at the border
        ho, wo = len(range(0, h, sh)), len(range(0, w, sw))
    else:
        ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.zeros((n, c, ho, wo))
    for b, ch, i, j in np.ndindex(*out.shape):
        window = x[b, ch, i * sh:i * sh + kh, j * sw:j * sw + kw]
        out[b, ch, i, j] = _reduce(window, kind, p, bug)
    if bug == "stride area":
        out *= kh * kw / (sh * sw)
    if bug == "mutate":
        x[...] = 0.0
    return out


def student_max_pool2d(input, kernel_size, stride=None, *, bug=None):
    return student_pool(input, kernel_size, stride, kind="max", bug=bug)


def student_avg_pool2d(input, kernel_size, stride=None, *, bug=None):
    return student_pool(input, kernel_size, stride, kind="avg", bug=bug)


def student_lp_pool2d(input, norm_type, kernel_size, stride=None, *, bug=None):
    return student_pool(input, kernel_size, stride, kind="lp", p=norm_type, bug=bug)


def student_channel_pool(input, kernel_size, stride=None, mode="max", *, bug=None):
    x = np.asarray(input, dtype=float)
    if stride is None:
        stride = 1 if bug == "stride 1" else kernel_size
    if bug == "always max":
        mode = "max"
    if bug == "always avg":
        mode = "avg"
    if bug == "spatial":
        return student_pool(x, kernel_size, stride, kind=mode)
    axis = 3 if bug == "nhwc" else 1
    x = np.moveaxis(x, axis, 1)
    c_out = (x.shape[1] - kernel_size) // stride + 1
    out = np.zeros((x.shape[0], c_out) + x.shape[2:])
    for o in range(c_out):
        group = x[:, o * stride:o * stride + kernel_size]
        if mode == "max":
            out[:, o] = group.max(axis=1)
        else:
            out[:, o] = group.sum(axis=1) / (1 if bug == "sum" else kernel_size)
    return np.moveaxis(out, 1, axis)


def student_global_avg_pool2d(input, *, bug=None):
    x = np.asarray(input, dtype=float)
    n, c, h, w = x.shape
    if bug == "nhwc":
        return x.sum(axis=(1, 2), keepdims=True) / (c * h)
    if bug == "channels too":
        return x.sum(axis=(1, 2, 3), keepdims=True) / (c * h * w)
    if bug == "batch":
        return x.sum(axis=(0, 2, 3), keepdims=True) / (n * h * w)
    out = np.zeros((n, c, 1, 1))
    for b, ch in np.ndindex(n, c):
        plane = x[b, ch]
        out[b, ch, 0, 0] = plane.max() if bug == "max" else plane.sum() / (
            1 if bug == "sum" else h * w)
    return out[:, :, 0, 0] if bug == "no keepdims" else out


def student_max_pool2d_backward(grad_output, input, kernel_size, stride=None, *, bug=None):
    g, x = np.asarray(grad_output, dtype=float), np.asarray(input, dtype=float)
    kh, kw = as_pair(kernel_size)
    if stride is None:
        stride = 1 if bug in ("stride 1", "stride 1 crash") else kernel_size
    sh, sw = as_pair(stride)
    n, c, h, w = x.shape
    ho, wo = g.shape[2:]
    if bug == "stride 1 crash":
        ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    grad = np.zeros(x.shape)
    order = [(i, j) for j in range(wo) for i in range(ho)] if bug == "assign, columns first" \
        else [(i, j) for i in range(ho) for j in range(wo)]
    for b in range(n):
        for ch in range(c):
            for i, j in order:
                window = x[b, ch, i * sh:i * sh + kh, j * sw:j * sw + kw]
                if bug == "average":
                    grad[b, ch, i * sh:i * sh + kh, j * sw:j * sw + kw] += g[b, ch, i, j] / (
                        kh * kw)
                    continue
                best, winners = -np.inf, []
                for u in range(kh):
                    for v in range(kw):
                        value = window[u, v]
                        if value > best or (bug == "last" and value == best):
                            best, winners = value, [(u, v)]
                        elif value == best:
                            winners.append((u, v))
                if bug not in ("all", "split"):
                    winners = winners[:1]
                share = g[b, ch, i, j] / (len(winners) if bug == "split" else 1)
                for u, v in winners:
                    if bug in ("assign", "assign, columns first"):
                        grad[b, ch, i * sh + u, j * sw + v] = share
                    else:
                        grad[b, ch, i * sh + u, j * sw + v] += share
    if bug == "mutate":
        grad_output *= 0.0
    return grad


def _fails(check, fn, match, **kwargs):
    with pytest.raises(CheckFailure, match=match) as info:
        check(fn, **kwargs)
    return str(info.value)


# ------------------------------------------------------------------------------------------
# Right answers pass, visible and hidden, with one line each


ALL_CHECKS = [
    (cp.check_max_pool2d_shape, student_max_pool2d),
    (cp.check_max_pool2d_values, student_max_pool2d),
    (cp.check_max_pool2d_default_stride, student_max_pool2d),
    (cp.check_max_pool2d_edge_cases, student_max_pool2d),
    (cp.check_avg_pool2d_values, student_avg_pool2d),
    (cp.check_avg_pool2d_edge_cases, student_avg_pool2d),
    (cp.check_lp_pool2d_values, student_lp_pool2d),
    (cp.check_lp_pool2d_other_p, student_lp_pool2d),
    (cp.check_channel_pool_shape, student_channel_pool),
    (cp.check_channel_pool_values, student_channel_pool),
    (cp.check_global_avg_pool2d_shape, student_global_avg_pool2d),
    (cp.check_global_avg_pool2d_values, student_global_avg_pool2d),
    (cpb.check_max_pool2d_backward_shape, student_max_pool2d_backward),
    (cpb.check_max_pool2d_backward_values, student_max_pool2d_backward),
    (cpb.check_max_pool2d_backward_overlap, student_max_pool2d_backward),
    (cpb.check_max_pool2d_backward_ties, student_max_pool2d_backward),
    (cpb.check_max_pool2d_backward_default_stride, student_max_pool2d_backward),
]
_ids = [check.__name__.removeprefix("check_") for check, _ in ALL_CHECKS]


@pytest.mark.parametrize("seed", [0, HIDDEN])
@pytest.mark.parametrize(("check", "fn"), ALL_CHECKS, ids=_ids)
def test_a_correct_implementation_passes_with_one_line(check, fn, seed, capsys):
    check(fn, seed=seed)
    out = capsys.readouterr()
    assert out.out.count("\n") == 1 and out.out.rstrip().endswith(": OK"), out.out
    assert out.err == ""


@pytest.mark.parametrize(("check", "fn"), ALL_CHECKS, ids=_ids)
def test_an_unfinished_stub_fails_only_with_not_implemented(check, fn):
    def stub(*args, **kwargs):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        check(stub)


@pytest.mark.parametrize(("check", "fn"), ALL_CHECKS, ids=_ids)
def test_a_function_that_modifies_its_input_is_caught(check, fn):
    def mutating(*args, **kwargs):
        out = fn(*args, **kwargs)
        args[0][...] = 0.0  # the input (or grad_output) is the first argument
        return out

    _fails(check, mutating, "input modified in place")


def test_hidden_cases_differ_from_visible_ones():
    visible = cp._channel_cases(0 + 42, 4)
    hidden = cp._channel_cases(HIDDEN + 42, 4)
    assert not any(np.array_equal(a.args[0], b.args[0]) for a, b in zip(visible, hidden))


# ------------------------------------------------------------------------------------------
# Forward pooling: the geometry and layout mistakes, named by the check that should catch them

WINDOW_BUGS = [
    ("stride 1", "stride defaults to 1 instead of kernel_size",
     [cp.check_max_pool2d_shape, cp.check_max_pool2d_default_stride]),
    ("stride ignored", r"stride ignored \(windows always step by kernel_size\)",
     [cp.check_max_pool2d_shape, cp.check_max_pool2d_values]),
    ("nhwc", r"NHWC layout instead of NCHW \(pooled over the wrong axes\)",
     [cp.check_max_pool2d_shape, cp.check_max_pool2d_values]),
    ("border", r"partial windows kept at the border",
     [cp.check_max_pool2d_shape, cp.check_max_pool2d_values]),
    ("swapped", "kernel height and width swapped", [cp.check_max_pool2d_edge_cases]),
]


@pytest.mark.parametrize("seed", [0, HIDDEN])
@pytest.mark.parametrize(("bug", "match", "which"), WINDOW_BUGS, ids=[b[0] for b in WINDOW_BUGS])
def test_max_pool2d_geometry_mistakes_are_named(bug, match, which, seed):
    for check in which:
        kwargs = {} if check is cp.check_max_pool2d_shape else {"seed": seed}
        _fails(check, lambda *a, **k: student_max_pool2d(*a, **k, bug=bug), match, **kwargs)


@pytest.mark.parametrize("seed", [0, HIDDEN])
def test_max_pool2d_started_at_zero_is_named(seed):
    message = _fails(cp.check_max_pool2d_edge_cases,
                     lambda *a, **k: student_max_pool2d(*a, **k, bug="zero start"),
                     r"running maximum started at 0 instead of -inf", seed=seed)
    assert "every value negative" in message


@pytest.mark.parametrize(("check", "student", "bug", "match"), [
    (cp.check_avg_pool2d_values, student_avg_pool2d, "nhwc", "NHWC layout instead of NCHW"),
    (cp.check_lp_pool2d_values, student_lp_pool2d, "nhwc", "NHWC layout instead of NCHW"),
    (cp.check_avg_pool2d_edge_cases, student_avg_pool2d, "stride 1",
     "stride defaults to 1 instead of kernel_size"),
    (cp.check_lp_pool2d_values, student_lp_pool2d, "stride 1",
     "stride defaults to 1 instead of kernel_size"),
    (cp.check_avg_pool2d_values, student_avg_pool2d, "border", "partial windows kept"),
    (cp.check_avg_pool2d_edge_cases, student_avg_pool2d, "swapped",
     "kernel height and width swapped"),
])
def test_avg_and_lp_geometry_mistakes_are_named(check, student, bug, match):
    _fails(check, lambda *a, **k: student(*a, **k, bug=bug), match)


@pytest.mark.parametrize("seed", [0, HIDDEN])
@pytest.mark.parametrize(("bug", "match"), [
    ("sum", r"average divides by the wrong count \(the sum, never divided\)"),
    ("kh", r"average divides by the wrong count \(divided by kH instead of kH \* kW\)"),
    ("kh*kh", r"average divides by the wrong count \(divided by kH \* kH"),
    ("stride area", r"average divides by the wrong count \(divided by the stride area"),
])
def test_avg_pool2d_wrong_counts_are_named(bug, match, seed):
    message = _fails(cp.check_avg_pool2d_values,
                     lambda *a, **k: student_avg_pool2d(*a, **k, bug=bug), match, seed=seed)
    assert "kH * kW" in message


@pytest.mark.parametrize(("bug", "match", "check"), [
    ("power mean", r"mean of the powers instead of their sum", cp.check_lp_pool2d_values),
    ("no root", r"p-th root missing", cp.check_lp_pool2d_values),
    ("sqrt", "square root taken whatever p is", cp.check_lp_pool2d_other_p),
])
def test_lp_pool2d_mistakes_are_named(bug, match, check):
    _fails(check, lambda *a, **k: student_lp_pool2d(*a, **k, bug=bug), match)


# ------------------------------------------------------------------------------------------
# channel_pool and global_avg_pool2d


@pytest.mark.parametrize(("bug", "match", "check"), [
    ("stride 1", "stride defaults to 1 instead of kernel_size", cp.check_channel_pool_shape),
    ("spatial", "pooled over height and width instead of over the channels",
     cp.check_channel_pool_shape),
    ("nhwc", r"NHWC layout instead of NCHW \(the last axis pooled", cp.check_channel_pool_shape),
    ("always max", r"mode ignored \(always the maximum\)", cp.check_channel_pool_values),
    ("always avg", r"mode ignored \(always the average\)", cp.check_channel_pool_values),
    ("sum", r"average divides by the wrong count", cp.check_channel_pool_values),
])
def test_channel_pool_mistakes_are_named(bug, match, check):
    _fails(check, lambda *a, **k: student_channel_pool(*a, **k, bug=bug), match)


@pytest.mark.parametrize(("bug", "match", "check"), [
    ("no keepdims", r"output shape \(N, C\) instead of \(N, C, 1, 1\)",
     cp.check_global_avg_pool2d_shape),
    ("nhwc", "NHWC layout instead of NCHW", cp.check_global_avg_pool2d_shape),
    ("channels too", "averaged over the channels as well", cp.check_global_avg_pool2d_shape),
    ("batch", "averaged over the whole batch", cp.check_global_avg_pool2d_values),
    ("max", "maximum instead of average", cp.check_global_avg_pool2d_values),
    ("sum", r"average divides by the wrong count", cp.check_global_avg_pool2d_values),
])
def test_global_avg_pool2d_mistakes_are_named(bug, match, check):
    _fails(check, lambda x: student_global_avg_pool2d(x, bug=bug), match)


# ------------------------------------------------------------------------------------------
# max_pool2d_backward


def _backward(bug):
    return lambda *a, **k: student_max_pool2d_backward(*a, **k, bug=bug)


@pytest.mark.parametrize("seed", [0, HIDDEN])
@pytest.mark.parametrize("bug", ["assign", "assign, columns first"])
def test_assigning_instead_of_accumulating_is_named_where_windows_overlap(bug, seed):
    # non-overlapping windows cannot tell `=` from `+=`: that check passes ...
    cpb.check_max_pool2d_backward_values(_backward(bug), seed=seed)
    # ... overlapping ones (and the ties cases with F=3, S=2) must not
    for check in (cpb.check_max_pool2d_backward_overlap, cpb.check_max_pool2d_backward_ties):
        message = _fails(check, _backward(bug),
                         "gradient assigned instead of accumulated where windows overlap",
                         seed=seed)
        assert "+=" in message


def _wins(x, kernel_size, stride):
    """How many windows each input position is the (first) maximum of."""
    (kh, kw), (sh, sw) = as_pair(kernel_size), as_pair(stride)
    wins = np.zeros(x.shape, dtype=int)
    n, c, h, w = x.shape
    for b, ch, i, j in np.ndindex(n, c, (h - kh) // sh + 1, (w - kw) // sw + 1):
        window = x[b, ch, i * sh:i * sh + kh, j * sw:j * sw + kw]
        u, v = np.unravel_index(np.argmax(window), window.shape)
        wins[b, ch, i * sh + u, j * sw + v] += 1
    return wins


@pytest.mark.parametrize("seed", [0, HIDDEN])
def test_the_overlap_cases_have_an_input_that_wins_two_windows_in_every_plane(seed):
    for case in cpb._overlap_cases(seed + 63):
        _, x, k = case.args
        assert (_wins(x, k, case.kwargs["stride"]).max(axis=(2, 3)) >= 2).all(), case.label


@pytest.mark.parametrize("seed", [0, HIDDEN])
def test_the_tie_cases_have_a_tied_window_in_every_case(seed):
    for case in cpb._tie_cases(seed + 64):
        _, x, k = case.args
        s = case.kwargs["stride"]
        n, c, h, w = x.shape
        tied = [(window == window.max()).sum() >= 2
                for b, ch, i, j in np.ndindex(n, c, (h - k) // s + 1, (w - k) // s + 1)
                for window in [x[b, ch, i * s:i * s + k, j * s:j * s + k]]]
        assert any(tied), case.label


@pytest.mark.parametrize("seed", [0, HIDDEN])
@pytest.mark.parametrize(("bug", "match"), [
    ("all", "gradient sent to every tied maximum"),
    ("split", "gradient split between the tied maxima"),
    ("last", "gradient sent to the last tied maximum instead of the first"),
])
def test_tie_mistakes_are_named(bug, match, seed):
    cpb.check_max_pool2d_backward_values(_backward(bug), seed=seed)  # no ties there: passes
    message = _fails(cpb.check_max_pool2d_backward_ties, _backward(bug), match, seed=seed)
    assert "np.argmax" in message


def test_backward_stride_default_mistakes_are_named():
    _fails(cpb.check_max_pool2d_backward_default_stride, _backward("stride 1"),
           "stride defaults to 1 instead of kernel_size")
    # a version that crashes on it still gets the name in its message
    message = _fails(cpb.check_max_pool2d_backward_default_stride, _backward("stride 1 crash"),
                     "your function raised IndexError")
    assert "stride defaults to 1 instead of kernel_size" in message


def test_average_backward_for_max_pooling_is_named():
    _fails(cpb.check_max_pool2d_backward_values, _backward("average"),
           "gradient spread over the whole window")


def test_backward_that_modifies_grad_output_is_caught():
    _fails(cpb.check_max_pool2d_backward_values, _backward("mutate"),
           "input modified in place: your function changed its argument 1")


# ------------------------------------------------------------------------------------------
# Libraries earn nothing; tampering is refused; check_yourself covers the topic


def test_calling_the_reference_or_torch_earns_nothing():
    from cnncourse.ops import pool

    _fails(cp.check_max_pool2d_values, lambda x, k, stride=None: pool.max_pool2d(x, k, stride),
           r"^\[reference\] max_pool2d values")
    torch = pytest.importorskip("torch")

    def via_torch(x, k, stride=None):
        return torch.nn.functional.avg_pool2d(torch.from_numpy(x), k, stride).numpy()

    _fails(cp.check_avg_pool2d_values, via_torch, r"^\[reference\].*torch")


def test_replacing_a_pooling_check_or_the_reference_is_tampering():
    with pytest.raises(CheckFailure, match=r"^\[tampered\] cnncourse.checks.pooling"):
        cp.check_max_pool2d_values = lambda fn, seed=0: None
    _core._reset_tamper_log()
    from cnncourse.ops import pool

    original = pool.max_pool2d_backward
    pool.max_pool2d_backward = student_max_pool2d_backward
    try:
        _fails(cpb.check_max_pool2d_backward_values, student_max_pool2d_backward,
               r"^\[tampered\] cnncourse.ops.pool.max_pool2d_backward was replaced")
    finally:
        pool.max_pool2d_backward = original


def test_check_yourself_reports_each_exercise(capsys):
    namespace = {"max_pool2d": student_max_pool2d,
                 "avg_pool2d": lambda *a, **k: student_avg_pool2d(*a, **k, bug="sum"),
                 "lp_pool2d": student_lp_pool2d, "channel_pool": student_channel_pool,
                 "max_pool2d_backward": student_max_pool2d_backward}
    checks.check_yourself(namespace, "03_pooling")
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [
        "max_pool2d", "avg_pool2d", "lp_pool2d", "channel_pool", "global_avg_pool2d",
        "max_pool2d_backward"]
    assert all(lines[i].endswith("passed") for i in (0, 2, 3, 5)), lines
    assert "NOT YET: avg_pool2d values (visible cases): average divides by the wrong count" \
        in lines[1]
    assert "NOT YET: global_avg_pool2d is not defined" in lines[4]
