"""Do the checks of notebook 02_padding_stride (part 1: sizes, pad2d, unpad2d) pass a correct
student, fail each known mistake with its name, and stay quiet otherwise?

The "students" are written here with plain loops and index arithmetic, never with the reference.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest

from cnncourse.checks import CheckFailure
from cnncourse.checks import padding_stride as ps

HIDDEN = 9137

# tests/test_notebooks.py submits the solution notebook with this answer cell replaced and checks
# that nbgrader takes points off and the feedback names the mistake.
NOTEBOOK_MISTAKES = {
    "02_padding_stride": [
        ("unpad2d_solution", textwrap.dedent("""
            def unpad2d(x, padding):
                ph, pw = pair(padding, "padding")
                return x[:, :, ph:-ph, pw:-pw]
            """), "`x[p:-p]` with p = 0"),
        ("conv_output_size_solution", textwrap.dedent("""
            def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1, strict=False):
                span = dilation * (kernel_size - 1) + 1
                return (size + 2 * padding - span) // stride
            """), "output size off by one"),
        ("pad2d_solution", textwrap.dedent("""
            def pad2d(x, padding):
                ph, pw = pair(padding, "padding")
                return np.pad(x, ((ph, ph), (pw, pw), (0, 0), (0, 0)))
            """), "padding applied to the N and C axes instead of H and W"),
        ("pad2d_solution", textwrap.dedent("""
            def pad2d(x, padding):
                ph, pw = pair(padding, "padding")
                return np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
            """), "NHWC layout instead of NCHW"),
        ("pad2d_solution", textwrap.dedent("""
            def pad2d(x, padding):
                ph, pw = pair(padding, "padding")
                out = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
                x[...] = 0  # "clears the scratch space": modifies the caller's array
                return out
            """), "input modified in place"),
    ],
}


def as_pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# ------------------------------------------------------------------------------------------
# conv_output_size


def output_size(size, kernel_size, stride=1, padding=0, dilation=1, strict=False, *, bug=None):
    """Counts the window starts one by one, so it shares no formula with the reference."""
    if bug == "dilation ignored":
        dilation = 1
    span = (dilation + (bug == "dilation gap")) * (kernel_size - 1) + 1
    padded = size + (0 if bug == "padding ignored" else padding * (1 if bug == "P once" else 2))
    step = 1 if bug == "stride ignored" else stride
    starts = [s for s in range(padded) if s % step == 0 and s + span <= padded]
    if strict and starts[-1] + span != padded:  # the last window must end at the border
        raise ValueError(f"windows do not fit: ({padded} - {span}) / {step} is not an integer")
    count = len(starts)
    if bug == "no +1":
        count -= 1
    if bug == "ceil" and (padded - span) % step:
        count += 1
    if bug == "round":
        count = round((padded - span) / step) + 1
    if bug == "true division":
        return (padded - span) / step + 1
    return count


def test_the_course_examples_are_the_seed_numbers():
    got = [output_size(*c.args, **c.kwargs) for c in ps._size_examples()]
    # 7->5, 7->3 (S=2), AlexNet 227->55, P=(F-1)/2 keeps 32 and 224, demo 5->3, numpy example
    # 11->4, pooling 224->112, FC as conv 12->6, W=10 F=3 S=2 floors 4.5 to 4, 1-D dilation -> 1
    assert got == [5, 3, 55, 32, 224, 3, 4, 112, 6, 4, 1]


def test_a_correct_conv_output_size_passes(capsys):
    ps.check_conv_output_size_examples(output_size)
    for seed in (0, HIDDEN):
        ps.check_conv_output_size_values(output_size, seed=seed)
        ps.check_conv_output_size_strict(output_size, seed=seed)
    out = capsys.readouterr().out
    assert "conv_output_size (course examples): OK" in out
    assert "conv_output_size strict (hidden cases): OK" in out
    assert out.count("OK") == 5


SIZE_BUGS = [
    ("no +1", "output size off by one"),
    ("padding ignored", "padding ignored"),
    ("P once", "padding counted once instead of twice"),
    ("ceil", r"rounded up \(ceil or round\)"),
    ("round", r"rounded up \(ceil or round\)"),
    ("stride ignored", "stride ignored"),
    ("dilation ignored", "dilation ignored"),
    ("dilation gap", "dilation counted as the gap between taps"),
    ("true division", "expected an int, got float"),
]


@pytest.mark.parametrize("bug, name", SIZE_BUGS)
@pytest.mark.parametrize("check", [ps.check_conv_output_size_examples,
                                   ps.check_conv_output_size_values])
def test_each_output_size_mistake_is_named(bug, name, check):
    def student(size, kernel_size, stride=1, padding=0, dilation=1, strict=False):
        return output_size(size, kernel_size, stride, padding, dilation, bug=bug)

    with pytest.raises(CheckFailure, match=name):
        check(student)


def test_the_hidden_values_check_names_mistakes_too():
    def student(size, kernel_size, stride=1, padding=0, dilation=1, strict=False):
        return output_size(size, kernel_size, stride, padding, dilation, bug="ceil")

    with pytest.raises(CheckFailure, match=r"values \(hidden cases\): rounded up"):
        ps.check_conv_output_size_values(student, seed=HIDDEN)


def test_strict_that_never_raises_is_reported():
    def student(size, kernel_size, stride=1, padding=0, dilation=1, strict=False):
        return output_size(size, kernel_size, stride, padding, dilation)

    with pytest.raises(CheckFailure, match=r"no ValueError.*W=10, F=3, S=2, P=0"):
        ps.check_conv_output_size_strict(student)


def test_strict_that_raises_for_valid_configurations_is_reported():
    def student(size, kernel_size, stride=1, padding=0, dilation=1, strict=False):
        if strict and stride > 1:
            raise ValueError("strided windows never fit")
        return output_size(size, kernel_size, stride, padding, dilation)

    with pytest.raises(CheckFailure, match="raised ValueError for a configuration that fits"):
        ps.check_conv_output_size_strict(student)


def test_raising_without_strict_is_reported():
    def student(size, kernel_size, stride=1, padding=0, dilation=1, strict=False):
        return output_size(size, kernel_size, stride, padding, dilation, strict=True)

    with pytest.raises(CheckFailure, match="raised ValueError although strict=False"):
        ps.check_conv_output_size_strict(student)


def test_strict_with_the_wrong_exception_type_is_reported():
    def student(size, kernel_size, stride=1, padding=0, dilation=1, strict=False):
        assert not strict or (size + 2 * padding - kernel_size) % stride == 0, "does not fit"
        return output_size(size, kernel_size, stride, padding, dilation)

    with pytest.raises(CheckFailure, match="(?s)raised AssertionError.*must raise ValueError"):
        ps.check_conv_output_size_strict(student)


def test_strict_check_names_formula_mistakes_on_valid_configurations():
    def student(size, kernel_size, stride=1, padding=0, dilation=1, strict=False):
        return output_size(size, kernel_size, stride, padding, dilation, strict, bug="no +1")

    with pytest.raises(CheckFailure, match="strict .* output size off by one"):
        ps.check_conv_output_size_strict(student)


def test_calling_the_reference_for_the_size_is_reported():
    from cnncourse.ops import padding as reference

    def student(size, kernel_size, stride=1, padding=0, dilation=1, strict=False):
        return reference.conv_output_size(size, kernel_size, stride, padding, dilation)

    with pytest.raises(CheckFailure, match=r"^\[reference\]"):
        ps.check_conv_output_size_values(student)
    with pytest.raises(CheckFailure, match=r"^\[reference\]"):
        ps.check_conv_output_size_strict(student)


def test_unfinished_stubs_raise_not_implemented():
    def stub(*args, **kwargs):
        raise NotImplementedError()

    for check in (ps.check_conv_output_size_examples, ps.check_conv_output_size_strict,
                  ps.check_pad2d_shape, ps.check_unpad2d_edge_cases):
        with pytest.raises(NotImplementedError):
            check(stub)


# ------------------------------------------------------------------------------------------
# pad2d and unpad2d


def pad2d(x, padding, *, bug=None):
    """Zero padding by copying every element to its new place, one at a time."""
    ph, pw = as_pair(padding)
    if bug == "swap":
        ph, pw = pw, ph
    if bug == "double":
        ph, pw = 2 * ph, 2 * pw
    before = (0, 0) if bug == "bottom-right" else (ph, pw)
    after = (0, 0) if bug == "top-left" else (ph, pw)
    n, c, h, w = x.shape
    out = np.zeros((n, c, h + before[0] + after[0], w + before[1] + after[1]), dtype=x.dtype)
    for idx in np.ndindex(n, c, h, w):
        out[idx[0], idx[1], idx[2] + before[0], idx[3] + before[1]] = x[idx]
    return out


def pad_axes(axes):
    """A student who pads the given axes (pads = per-axis amounts from (ph, pw))."""
    def student(x, padding):
        ph, pw = as_pair(padding)
        widths = [(0, 0)] * 4
        for axis, p in zip(axes, (ph, pw, ph, pw)):
            widths[axis] = (p, p)
        return np.pad(x, widths)
    return student


def test_a_correct_pad2d_passes(capsys):
    for seed in (0, HIDDEN):
        ps.check_pad2d_shape(pad2d, seed)
        ps.check_pad2d_values(pad2d, seed)
        ps.check_pad2d_edge_cases(pad2d, seed)
    assert capsys.readouterr().out.count(": OK") == 6


@pytest.mark.parametrize("student, name", [
    (pad_axes((0, 1, 2, 3)), "padding applied to all four axes"),
    (pad_axes((0, 1)), "padding applied to the N and C axes instead of H and W"),
    (pad_axes((1, 2)), "NHWC layout instead of NCHW"),
    (lambda x, p: pad2d(x, p, bug="top-left"), r"one side only \(top and left\)"),
    (lambda x, p: pad2d(x, p, bug="bottom-right"), r"one side only \(bottom and right\)"),
    (lambda x, p: pad2d(x, p, bug="swap"), "padding pair swapped"),
    (lambda x, p: pad2d(x, p, bug="double"), "padding doubled"),
])
def test_each_pad2d_mistake_is_named(student, name):
    with pytest.raises(CheckFailure, match=name):
        ps.check_pad2d_values(student)
    with pytest.raises(CheckFailure, match=name):
        ps.check_pad2d_shape(student)


def test_pad2d_writing_into_x_p_minus_p_is_named_for_padding_zero():
    def student(x, padding):
        ph, pw = as_pair(padding)
        out = np.zeros(x.shape[:2] + (x.shape[2] + 2 * ph, x.shape[3] + 2 * pw))
        out[:, :, ph:-ph, pw:-pw] = x  # empty when a padding is 0
        return out

    ps.check_pad2d_values(student)  # no zero padding among the random cases
    with pytest.raises(CheckFailure, match=r"`x\[p:-p\]` with p = 0.*could not broadcast"):
        ps.check_pad2d_edge_cases(student)


def test_pad2d_that_modifies_its_input_is_reported():
    def student(x, padding):
        out = pad2d(x, padding)
        x *= 0  # "clears" the input it was given
        return out

    with pytest.raises(CheckFailure, match="input modified in place"):
        ps.check_pad2d_values(student)


def test_pad2d_calling_the_reference_is_reported():
    from cnncourse.ops import padding

    with pytest.raises(CheckFailure, match=r"^\[reference\] pad2d"):
        ps.check_pad2d_values(lambda x, p: padding.pad2d(x, p))


def unpad2d(x, padding, *, bug=None):
    ph, pw = as_pair(padding)
    if bug == "x[p:-p]":
        return x[:, :, ph:-ph, pw:-pw]
    if bug == "swap":
        ph, pw = pw, ph
    h, w = x.shape[2:]
    keep_h = range(ph, h - (0 if bug == "one side" else ph))
    keep_w = range(pw, w - (0 if bug == "one side" else pw))
    return x[:, :, list(keep_h)][:, :, :, list(keep_w)]


def test_a_correct_unpad2d_passes(capsys):
    for seed in (0, HIDDEN):
        ps.check_unpad2d_values(unpad2d, seed)
        ps.check_unpad2d_edge_cases(unpad2d, seed)
    assert capsys.readouterr().out.count(": OK") == 4


def test_unpad2d_with_x_p_minus_p_passes_values_but_fails_on_padding_zero():
    def student(x, padding):
        return unpad2d(x, padding, bug="x[p:-p]")

    ps.check_unpad2d_values(student)  # p >= 1 everywhere: the bug hides
    with pytest.raises(CheckFailure, match=r"`x\[p:-p\]` with p = 0 .*padding 0"):
        ps.check_unpad2d_edge_cases(student)


@pytest.mark.parametrize("student, name", [
    (lambda x, p: unpad2d(x, p, bug="one side"), "cropped one side only"),
    (lambda x, p: unpad2d(x, p, bug="swap"), "padding pair swapped"),
    (lambda x, p: x[as_pair(p)[0]:x.shape[0] - as_pair(p)[0],
                    as_pair(p)[1]:x.shape[1] - as_pair(p)[1]], "cropped the N and C axes"),
    (lambda x, p: x[:, as_pair(p)[0]:x.shape[1] - as_pair(p)[0],
                    as_pair(p)[1]:x.shape[2] - as_pair(p)[1]], "NHWC layout instead of NCHW"),
])
def test_each_unpad2d_mistake_is_named(student, name):
    with pytest.raises(CheckFailure, match=name):
        ps.check_unpad2d_values(student)


def test_the_strict_oracle_here_agrees_with_the_seed_about_4_5():
    # the course text: (10 - 3 + 0)/2 + 1 = 4.5 is invalid; 227 with F=11, S=4 is fine
    with pytest.raises(ValueError):
        output_size(10, 3, 2, strict=True)
    assert output_size(227, 11, 4, strict=True) == 55
    assert math.isclose((10 - 3 + 0) / 2 + 1, 4.5)
