"""Do the checks of notebook 02_padding_stride (part 2: strided/padded/dilated conv2d, receptive
fields, im2col, conv2d_im2col) pass a correct student and name each known mistake?

The "students" are brute-force loops written here, with a `bug` switch for each mistake; the
correct ones (bug=None) share no code with the reference implementations.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from cnncourse import checks
from cnncourse.checks import CheckFailure
from cnncourse.checks import strided_conv as sc

HIDDEN = 9137

# tests/test_notebooks.py submits the solution notebook with this answer cell replaced and checks
# that nbgrader takes points off and the feedback names the mistake.
NOTEBOOK_MISTAKES = {
    "02_padding_stride": [
        ("conv2d_solution", textwrap.dedent("""
            def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1):
                (sh, sw), (ph, pw), (dh, dw) = (pair(stride, "stride"), pair(padding, "padding"),
                                                pair(dilation, "dilation"))
                n, c_in, h, w = input.shape
                c_out, _, kh, kw = weight.shape
                h_out = conv_output_size(h, kh, sh, ph, dh)
                w_out = conv_output_size(w, kw, sw, pw, dw)
                x = pad2d(input, (ph, pw))
                out = np.zeros((n, c_out, h_out, w_out))
                for i in range(h_out):
                    for j in range(w_out):
                        rows = slice(i, i + dh * (kh - 1) + 1, dh)   # stride forgotten
                        cols = slice(j, j + dw * (kw - 1) + 1, dw)
                        out[:, :, i, j] = np.tensordot(x[:, :, rows, cols], weight,
                                                       axes=([1, 2, 3], [1, 2, 3]))
                if bias is not None:
                    out = out + bias[None, :, None, None]
                return out
            """), "stride left out of the window start"),
    ],
}


def as_pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def zero_pad(x, before, after):
    n, c, h, w = x.shape
    out = np.zeros((n, c, h + before[0] + after[0], w + before[1] + after[1]))
    out[:, :, before[0]:before[0] + h, before[1]:before[1] + w] = x
    return out


# ------------------------------------------------------------------------------------------
# conv2d


def conv2d(x, w, bias=None, stride=1, padding=0, dilation=1, *, bug=None):
    """Seven nested loops: out[n, o, i, j] = sum_c,u,v x_pad[n, c, i*sH + u*dH, j*sW + v*dW] w."""
    (sh, sw), (ph, pw), (dh, dw) = as_pair(stride), as_pair(padding), as_pair(dilation)
    if bug == "stride swap":
        sh, sw = sw, sh
    if bug == "padding swap":
        ph, pw = pw, ph
    if bug == "dilation swap":
        dh, dw = dw, dh
    if bug == "stride ignored":
        sh = sw = 1
    if bug == "padding ignored":
        ph = pw = 0
    if bug == "dilation ignored":
        dh = dw = 1
    if bug == "dilation gap":
        dh, dw = dh + 1, dw + 1
    before = (0, 0) if bug == "one side" else (ph, pw)
    xp = zero_pad(x, before, (ph, pw))
    n, c, hp, wp = xp.shape
    o, _, kh, kw = w.shape
    h_out = (hp - dh * (kh - 1) - 1) // sh + 1 - (bug == "off by one")
    w_out = (wp - dw * (kw - 1) - 1) // sw + 1 - (bug == "off by one")
    step_h, step_w = (1, 1) if bug == "stride start" else (sh, sw)
    out = np.zeros((n, o, h_out, w_out))
    for b, f, i, j, ch, u, v in np.ndindex(n, o, h_out, w_out, c, kh, kw):
        tap = (kh - 1 - u, kw - 1 - v) if bug == "flip" else (u, v)
        out[b, f, i, j] += xp[b, ch, i * step_h + u * dh, j * step_w + v * dw] * w[f, ch, *tap]
    if bias is not None and bug != "bias missing":
        out += np.asarray(bias)[None, :, None, None]
    return out.transpose(0, 2, 3, 1) if bug == "NHWC" else out


def buggy(fn, bug):
    def student(*args, **kwargs):
        return fn(*args, **kwargs, bug=bug)
    return student


def test_a_correct_conv2d_passes(capsys):
    for seed in (0, HIDDEN):
        for check in (sc.check_conv2d_shape, sc.check_conv2d_stride, sc.check_conv2d_padding,
                      sc.check_conv2d_dilation, sc.check_conv2d_edge_cases):
            check(conv2d, seed)
    out = capsys.readouterr().out
    assert out.count(": OK") == 10 and "conv2d dilation (hidden cases): OK" in out


CONV_BUGS = [
    ("stride start", sc.check_conv2d_stride,
     r"stride left out of the window start \(windows start at i instead of i\*stride\)"),
    ("stride ignored", sc.check_conv2d_stride, "stride ignored"),
    ("off by one", sc.check_conv2d_stride, "output size off by one"),
    ("padding ignored", sc.check_conv2d_padding, "padding ignored"),
    ("one side", sc.check_conv2d_padding, "padding added on one side only"),
    ("stride swap", sc.check_conv2d_stride, "stride pair swapped"),
    ("padding swap", sc.check_conv2d_padding, "padding pair swapped"),
    ("dilation swap", sc.check_conv2d_dilation, "dilation pair swapped"),
    ("dilation ignored", sc.check_conv2d_dilation, "dilation ignored"),
    ("dilation gap", sc.check_conv2d_dilation, "dilation counted as the gap between taps"),
    ("NHWC", sc.check_conv2d_stride, "NHWC layout instead of NCHW"),
    ("bias missing", sc.check_conv2d_edge_cases, "bias missing"),
    ("flip", sc.check_conv2d_stride, "flipped kernel"),
]


@pytest.mark.parametrize("bug, check, name", CONV_BUGS)
def test_each_conv2d_mistake_is_named(bug, check, name):
    with pytest.raises(CheckFailure, match=name):
        check(buggy(conv2d, bug))


@pytest.mark.parametrize("bug", ["NHWC", "off by one", "stride ignored", "padding ignored"])
def test_size_mistakes_are_named_by_the_shape_check(bug):
    name = {b: n for b, _, n in CONV_BUGS}[bug]
    with pytest.raises(CheckFailure, match=r"^conv2d shape: " + name):
        sc.check_conv2d_shape(buggy(conv2d, bug))


def test_the_shape_check_passes_a_function_with_the_right_shape_and_wrong_values(capsys):
    sc.check_conv2d_shape(buggy(conv2d, "stride start"))
    assert "conv2d shape: OK" in capsys.readouterr().out


def test_conv2d_may_reuse_the_course_pad2d_but_not_the_course_conv2d(capsys):
    from cnncourse.ops import conv, padding

    def with_course_padding(x, w, bias=None, stride=1, padding_=0, dilation=1):
        p = as_pair(padding_)
        return conv2d(padding.pad2d(x, p), w, bias, stride, 0, dilation)

    def student(x, w, bias=None, stride=1, padding=0, dilation=1):
        return with_course_padding(x, w, bias, stride, padding, dilation)

    sc.check_conv2d_padding(student)
    assert "OK" in capsys.readouterr().out
    with pytest.raises(CheckFailure, match=r"^\[reference\] conv2d"):
        sc.check_conv2d_stride(lambda x, w, bias=None, **kw: conv.conv2d(x, w, bias, **kw))


def test_unfinished_conv2d_raises_not_implemented():
    def stub(*args, **kwargs):
        raise NotImplementedError()

    for check in (sc.check_conv2d_shape, sc.check_receptive_field_examples, sc.check_im2col_values,
                  sc.check_conv2d_im2col_values):
        with pytest.raises(NotImplementedError):
            check(stub)


# ------------------------------------------------------------------------------------------
# receptive field


def receptive_field(kernel_sizes, strides=None, dilations=None, *, bug=None):
    """Tracks the first and last input pixel one top-layer output depends on, layer by layer."""
    n = len(kernel_sizes)
    strides = [1] * n if strides is None or bug == "strides ignored" else strides
    dilations = [1] * n if dilations is None or bug == "dilations ignored" else dilations
    if bug == "sum":
        return sum(kernel_sizes)
    if bug == "product":
        return int(np.prod(kernel_sizes))
    # walk down from one output unit: the span [lo, hi] of positions it sees in each layer below
    lo, hi = 0, 0
    for k, s, d in reversed(list(zip(kernel_sizes, strides, dilations))):
        d += bug == "dilation gap"
        extent = d * (k - 1) * (s if bug == "own stride" else 1)
        lo, hi = lo * s, hi * s + extent
    return hi - lo + 1 - (bug == "no +1")


def test_the_receptive_field_oracle_agrees_with_the_course_text():
    assert receptive_field([3, 3]) == 5  # "a 5x5 view of the input volume"
    assert receptive_field([3, 3, 3]) == 7  # "a 7x7 view"
    assert receptive_field([3, 3, 3], [1, 1, 1], [1, 2, 4]) == 15  # grows much quicker


def test_a_correct_receptive_field_passes(capsys):
    sc.check_receptive_field_examples(receptive_field)
    for seed in (0, HIDDEN):
        sc.check_receptive_field_values(receptive_field, seed)
    assert capsys.readouterr().out.count(": OK") == 3


@pytest.mark.parametrize("bug, name", [
    ("sum", r"kernel sizes added \(3 \+ 3 \+ 3 = 9, not 7\)"),
    ("no +1", r"the \+ 1 is missing"),
    ("strides ignored", "strides ignored"),
    ("own stride", "a layer's own stride used in its jump"),
    ("dilations ignored", "dilations ignored"),
    ("dilation gap", "dilation counted as the gap between taps"),
    ("product", "kernel sizes multiplied"),
])
@pytest.mark.parametrize("check", [sc.check_receptive_field_examples,
                                   sc.check_receptive_field_values])
def test_each_receptive_field_mistake_is_named(bug, name, check):
    with pytest.raises(CheckFailure, match=name):
        check(buggy(receptive_field, bug))


# ------------------------------------------------------------------------------------------
# im2col and conv2d_im2col


def im2col(x, kernel_size, stride=1, padding=0, *, bug=None):
    """One column per window, filled element by element from the row/column index formulas."""
    (kh, kw), (sh, sw), (ph, pw) = as_pair(kernel_size), as_pair(stride), as_pair(padding)
    if bug == "stride swap":
        sh, sw = sw, sh
    if bug == "padding swap":
        ph, pw = pw, ph
    if bug == "stride ignored":
        sh = sw = 1
    if bug == "padding ignored":
        ph = pw = 0
    xp = zero_pad(x, (ph, pw), (ph, pw))
    n, c, hp, wp = xp.shape
    h_out = (hp - kh) // sh + 1 - (bug == "off by one")
    w_out = (wp - kw) // sw + 1 - (bug == "off by one")
    step_h, step_w = (1, 1) if bug == "stride start" else (sh, sw)
    cols = np.zeros((n, c * kh * kw, h_out * w_out))
    for b, i, j, ch, u, v in np.ndindex(n, h_out, w_out, c, kh, kw):
        row = {"channels last": (u * kw + v) * c + ch,
               "kernel swap": ch * kh * kw + v * kh + u}.get(bug, ch * kh * kw + u * kw + v)
        col = j * h_out + i if bug == "column-major" else i * w_out + j
        cols[b, row, col] = xp[b, ch, i * step_h + u, j * step_w + v]
    return cols.transpose(0, 2, 1) if bug == "transposed" else cols


def test_a_correct_im2col_passes(capsys):
    for seed in (0, HIDDEN):
        for check in (sc.check_im2col_shape, sc.check_im2col_values,
                      sc.check_im2col_stride_padding):
            check(im2col, seed)
    assert capsys.readouterr().out.count(": OK") == 6


@pytest.mark.parametrize("bug, check, name", [
    ("stride start", sc.check_im2col_stride_padding, "stride left out of the window start"),
    ("stride ignored", sc.check_im2col_stride_padding, "stride ignored"),
    ("padding ignored", sc.check_im2col_stride_padding, "padding ignored"),
    ("channels last", sc.check_im2col_values, r"rows ordered \(kH, kW, C\)"),
    ("kernel swap", sc.check_im2col_values, "kernel axes swapped within a patch"),
    ("column-major", sc.check_im2col_values, "window positions in column-major order"),
    ("transposed", sc.check_im2col_values, r"result transposed: \(N, L, C\*kH\*kW\)"),
    ("off by one", sc.check_im2col_values, "output size off by one"),
    ("stride swap", sc.check_im2col_stride_padding, "stride pair swapped"),
    ("padding swap", sc.check_im2col_stride_padding, "padding pair swapped"),
])
def test_each_im2col_mistake_is_named(bug, check, name):
    with pytest.raises(CheckFailure, match=name):
        check(buggy(im2col, bug))


def conv2d_im2col(x, w, bias=None, stride=1, padding=0, *, bug=None, cols_of=im2col):
    o, _, kh, kw = w.shape
    cols = cols_of(x, (kh, kw), stride=stride, padding=padding)
    rows = (w.transpose(0, 2, 3, 1) if bug == "weight order" else w).reshape(o, -1)
    out = np.matmul(rows, cols)  # (O, K) @ (N, K, L) -> (N, O, L)
    if bias is not None and bug != "bias missing":
        out = out + np.asarray(bias)[:, None]
    (sh, sw), (ph, pw) = as_pair(stride), as_pair(padding)
    h_out = (x.shape[2] + 2 * ph - kh) // sh + 1
    w_out = (x.shape[3] + 2 * pw - kw) // sw + 1
    if bug == "not reshaped":
        return out
    out = out.reshape(x.shape[0], o, *((w_out, h_out) if bug == "W, H" else (h_out, w_out)))
    return out.transpose(0, 2, 3, 1) if bug == "NHWC" else out


def test_a_correct_conv2d_im2col_passes(capsys):
    for seed in (0, HIDDEN):
        sc.check_conv2d_im2col_values(conv2d_im2col, seed)
        sc.check_conv2d_im2col_stride_padding(conv2d_im2col, seed)
    assert capsys.readouterr().out.count(": OK") == 4


@pytest.mark.parametrize("student, check, name", [
    (buggy(conv2d_im2col, "weight order"), sc.check_conv2d_im2col_values,
     "weight flattened in a different order than the im2col rows"),
    (buggy(conv2d_im2col, "not reshaped"), sc.check_conv2d_im2col_values,
     r"result not reshaped to \(N, C_out, H_out, W_out\)"),
    (buggy(conv2d_im2col, "W, H"), sc.check_conv2d_im2col_values,
     r"output positions reshaped as \(W_out, H_out\)"),
    (buggy(conv2d_im2col, "bias missing"), sc.check_conv2d_im2col_values, "bias missing"),
    (lambda *a, **k: conv2d_im2col(*a, **k, cols_of=buggy(im2col, "stride start")),
     sc.check_conv2d_im2col_stride_padding, "stride left out of the window start"),
    (buggy(conv2d_im2col, "NHWC"), sc.check_conv2d_im2col_stride_padding,
     "NHWC layout instead of NCHW"),
])
def test_each_conv2d_im2col_mistake_is_named(student, check, name):
    with pytest.raises(CheckFailure, match=name):
        check(student)


def test_conv2d_im2col_calling_the_course_im2col_is_reported():
    from cnncourse.ops import im2col as reference

    def student(x, w, bias=None, stride=1, padding=0):
        def cols_of(x, k, stride, padding):
            return reference.im2col(x, k, padding=padding, stride=stride)
        return conv2d_im2col(x, w, bias, stride, padding, cols_of=cols_of)

    with pytest.raises(CheckFailure, match=r"^\[reference\] conv2d_im2col"):
        sc.check_conv2d_im2col_values(student)


def test_check_yourself_lists_the_exercises_in_notebook_order(capsys):
    from cnncourse.checks import padding_stride  # noqa: F401  (registers part 1)

    checks.check_yourself({"conv2d": conv2d, "im2col": im2col}, "02_padding_stride")
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [
        "conv_output_size", "pad2d", "unpad2d", "conv2d", "receptive_field", "im2col",
        "conv2d_im2col"]
    assert lines[3].endswith("passed") and lines[5].endswith("passed")
    assert "NOT YET: conv_output_size is not defined" in lines[0]
