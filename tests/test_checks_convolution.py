"""Do the 01_convolution checks pass right answers and name every listed mistake?

Student implementations here are brute-force loops written in this file, each with one
deliberate mistake switched on; the checks' reference (cnncourse.ops.conv) is never used as the
student's answer.
"""

from __future__ import annotations

import sys
import textwrap
import warnings

import numpy as np
import pytest

from cnncourse.checks import CheckFailure, _core
from cnncourse.checks import convolution as cc

HIDDEN = 4242

# Submitted through real nbgrader by tests/test_notebooks.py: (answer cell, its buggy source,
# text the autograded feedback must contain).
NOTEBOOK_MISTAKES = {
    "01_convolution": [
        ("corr2d_solution", textwrap.dedent("""
            def corr2d(x, k):
                k = np.asarray(k, dtype=float)[::-1, ::-1]
                kh, kw = k.shape
                out = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1))
                for i in range(out.shape[0]):
                    for j in range(out.shape[1]):
                        out[i, j] = np.sum(x[i:i + kh, j:j + kw] * k)
                return out
            """), "flipped kernel"),
        ("conv2d_solution", textwrap.dedent("""
            def conv2d(input, weight, bias=None):
                n, c_in, h, w = input.shape
                c_out, _, kh, kw = weight.shape
                out = np.zeros((n, c_out, h - kh + 1, w - kw + 1))
                for b in range(n):
                    for o in range(c_out):
                        for c in range(c_in):
                            out[b, o] += corr2d(input[b, c], weight[o, c])
                return out
            """), "bias missing"),
    ],
}


def student_corr2d(x, k, *, flip=False, transpose=False, crop=(0, 0), same_size=False):
    x = np.asarray(x, dtype=float)
    k = np.asarray(k, dtype=float)
    if flip:
        k = k[::-1, ::-1]
    if transpose:
        k = k.T
    kh, kw = k.shape
    h_out, w_out = x.shape[0] - kh + 1, x.shape[1] - kw + 1
    out = np.zeros(x.shape if same_size else (h_out - crop[0], w_out - crop[1]))
    for i in range(h_out - crop[0]):
        for j in range(w_out - crop[1]):
            total = 0.0
            for u in range(kh):
                for v in range(kw):
                    total += x[i + u, j + v] * k[u, v]
            out[i, j] = total
    return out


def _mutating_corr2d(x, k):
    out = student_corr2d(x, k)
    x *= 0.0
    return out


def student_convolve2d(x, k, *, flip="both"):
    k = np.asarray(k, dtype=float)
    flipped = {"both": k[::-1, ::-1], "none": k, "rows": k[::-1, :], "cols": k[:, ::-1],
               "transpose": k.T}[flip]
    return student_corr2d(x, flipped)


def student_conv2d(input, weight, bias=None, *, mistake=None):
    x = np.asarray(input, dtype=float)
    w = np.asarray(weight, dtype=float)
    if mistake == "flip":
        w = w[..., ::-1, ::-1]
    if mistake == "kernel_transposed":
        w = w.transpose(0, 1, 3, 2)
    n, c_in, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    crop = 1 if mistake == "off_by_one" else 0
    out = np.zeros((n, c_out, h - kh + 1 - crop, wd - kw + 1 - crop))
    channels = 1 if mistake == "first_channel_only" else c_in
    for b in range(n):
        for o in range(c_out):
            for c in range(channels):
                out[b, o] += student_corr2d(x[b, c], w[o, c])[: out.shape[2], : out.shape[3]]
                if mistake == "bias_per_input_channel" and bias is not None:
                    out[b, o] += bias[o]
    if bias is not None:
        if mistake in (None, "flip", "kernel_transposed", "off_by_one", "first_channel_only",
                       "nhwc", "mutate"):
            out += np.asarray(bias)[None, :, None, None]
        elif mistake == "bias_width_axis":
            out += bias
        elif mistake == "bias_first":
            out += bias[0]
        elif mistake == "bias_sum":
            out += np.sum(bias)
    if mistake == "nhwc":
        out = out.transpose(0, 2, 3, 1)
    if mistake == "batch_channel_swapped":
        out = out.transpose(1, 0, 2, 3)
    if mistake == "mutate" and bias is not None:
        bias[:] = 0.0
    return out


def student_conv_params(cin, cout, k, bias=True, *, mistake=None):
    kh, kw = (k, k) if isinstance(k, int) else k
    weights = cout * (1 if mistake == "no_cin" else cin) * kh * kw
    if mistake == "no_bias":
        return weights
    if mistake == "bias_always":
        return weights + cout
    if mistake == "bias_per_weight":
        return 2 * weights if bias else weights
    return weights + (cout if bias else 0)


def student_lc_params(cin, cout, k, out, bias=True, *, mistake=None):
    kh, kw = (k, k) if isinstance(k, int) else k
    oh, ow = (out, out) if isinstance(out, int) else out
    per = (1 if mistake == "no_cin" else cin) * kh * kw
    if mistake == "shared":
        return student_conv_params(cin, cout, k, bias)
    if mistake == "bias_per_channel":
        return oh * ow * cout * per + (cout if bias else 0)
    if mistake == "no_bias":
        return oh * ow * cout * per
    return oh * ow * cout * (per + (1 if bias else 0))


def _fails(check, fn, match, **kwargs):
    with pytest.raises(CheckFailure, match=match) as info:
        check(fn, **kwargs)
    return str(info.value)


# ------------------------------------------------------------------------------------------
# Right answers pass, visible and hidden, with one line each


ALL_CHECKS = [
    (cc.check_corr2d_shape, student_corr2d),
    (cc.check_corr2d_values, student_corr2d),
    (cc.check_corr2d_edge_cases, student_corr2d),
    (cc.check_convolve2d_values, student_convolve2d),
    (cc.check_convolve2d_edge_cases, student_convolve2d),
    (cc.check_conv2d_shape, student_conv2d),
    (cc.check_conv2d_values, student_conv2d),
    (cc.check_conv2d_bias, student_conv2d),
    (cc.check_conv2d_edge_cases, student_conv2d),
    (cc.check_conv_params, student_conv_params),
    (cc.check_locally_connected_params, student_lc_params),
]



def test_hidden_cases_differ_from_visible_ones():
    visible = cc._corr2d_cases(0 + 1, 4)
    hidden = cc._corr2d_cases(HIDDEN + 1, 4)
    assert not all(np.array_equal(a.args[0], b.args[0]) for a, b in zip(visible, hidden))


# ------------------------------------------------------------------------------------------
# corr2d mistakes


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"flip": True}, r"flipped kernel \(true convolution instead of cross-correlation\)"),
    ({"transpose": True}, "kernel axes swapped"),
])
def test_corr2d_value_mistakes_are_named(kwargs, match):
    _fails(cc.check_corr2d_values, lambda x, k: student_corr2d(x, k, **kwargs), match)


@pytest.mark.parametrize(("crop", "match"), [
    ((1, 1), r"output size off by one \(one row and one column short\)"),
    ((1, 0), r"output size off by one \(one row short\)"),
    ((0, 1), r"output size off by one \(one column short\)"),
])
def test_corr2d_off_by_one_is_named_by_the_shape_check(crop, match):
    _fails(cc.check_corr2d_shape, lambda x, k: student_corr2d(x, k, crop=crop), match)


def test_corr2d_same_size_output_is_a_wrong_formula():
    message = _fails(cc.check_corr2d_shape, lambda x, k: student_corr2d(x, k, same_size=True),
                     r"wrong output size formula")
    assert "(H - kH + 1) x (W - kW + 1)" in message


def test_corr2d_that_modifies_its_input_is_caught():
    _fails(cc.check_corr2d_values, _mutating_corr2d, "input modified in place")


def test_corr2d_edge_cases_name_the_case():
    def no_single_row(x, k):
        if x.shape[0] == 1:
            raise IndexError("index 1 is out of bounds for axis 0 with size 1")
        return student_corr2d(x, k)

    _fails(cc.check_corr2d_edge_cases, no_single_row,
           r"your function raised IndexError: .* for the case 'single-row image'")


@pytest.mark.parametrize("library", ["cnncourse", "scipy", "torch"])
def test_corr2d_calling_a_library_earns_nothing(library):
    if library == "cnncourse":
        from cnncourse.ops.conv import corr2d as lazy
    elif library == "scipy":
        signal = pytest.importorskip("scipy.signal")

        def lazy(x, k):
            return signal.correlate2d(x, k, mode="valid")
    else:
        torch = pytest.importorskip("torch")

        def lazy(x, k):
            t = torch.nn.functional.conv2d(torch.from_numpy(x)[None, None],
                                           torch.from_numpy(k)[None, None])
            return t[0, 0].numpy()

    _fails(cc.check_corr2d_values, lazy, r"^\[reference\] corr2d values")


def test_warnings_of_the_student_are_reported_not_written_to_stderr(capsys):
    def warns(x, k):
        warnings.warn("loops are slow", RuntimeWarning)
        print("debug", file=sys.stderr)
        return student_corr2d(x, k)

    cc.check_corr2d_values(warns)
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "RuntimeWarning: loops are slow" in captured.out


# ------------------------------------------------------------------------------------------
# convolve2d mistakes


@pytest.mark.parametrize(("flip", "match"), [
    ("none", r"kernel not flipped \(cross-correlation instead of convolution\)"),
    ("rows", "kernel flipped along the rows only"),
    ("cols", "kernel flipped along the columns only"),
    ("transpose", "kernel transposed instead of flipped"),
])
def test_convolve2d_mistakes_are_named(flip, match):
    _fails(cc.check_convolve2d_values, lambda x, k: student_convolve2d(x, k, flip=flip), match)


# ------------------------------------------------------------------------------------------
# conv2d mistakes


@pytest.mark.parametrize(("check", "mistake", "match"), [
    (cc.check_conv2d_values, "flip", r"flipped kernel \(true convolution"),
    (cc.check_conv2d_values, "kernel_transposed", "kernel axes swapped"),
    (cc.check_conv2d_values, "first_channel_only", "input channels not summed"),
    (cc.check_conv2d_values, "nhwc", "NHWC layout instead of NCHW"),
    (cc.check_conv2d_values, "batch_channel_swapped", "batch and channel axes swapped"),
    (cc.check_conv2d_shape, "off_by_one", r"output size off by one"),
    (cc.check_conv2d_shape, "nhwc", "NHWC layout instead of NCHW"),
    (cc.check_conv2d_bias, None, None),
    (cc.check_conv2d_bias, "bias_width_axis",
     r"bias not broadcast per output channel \(added along the width axis\)"),
    (cc.check_conv2d_bias, "bias_per_input_channel",
     r"bias not broadcast per output channel \(added once per input channel\)"),
    (cc.check_conv2d_bias, "bias_first", r"bias not broadcast per output channel \(bias\[0\]"),
    (cc.check_conv2d_bias, "bias_sum", r"bias not broadcast per output channel \(the sum"),
    (cc.check_conv2d_bias, "mutate", "input modified in place.*'bias'"),
    (cc.check_conv2d_edge_cases, "flip", r"flipped kernel"),
])
def test_conv2d_mistakes_are_named(check, mistake, match):
    def fn(input, weight, bias=None):
        return student_conv2d(input, weight, bias, mistake=mistake)

    if mistake is None:
        check(fn)  # the control: no mistake, no failure
    else:
        _fails(check, fn, match)


def test_conv2d_missing_bias_is_named():
    def no_bias(input, weight, bias=None):
        return student_conv2d(input, weight, None)

    message = _fails(cc.check_conv2d_bias, no_bias, "bias missing")
    assert "bias[None, :, None, None]" in message


def test_conv2d_calling_torch_or_the_reference_earns_nothing():
    from cnncourse.ops import conv

    _fails(cc.check_conv2d_values, lambda input, weight, bias=None: conv.conv2d(input, weight),
           r"^\[reference\]")
    torch = pytest.importorskip("torch")

    def via_torch(input, weight, bias=None):
        return torch.nn.functional.conv2d(torch.from_numpy(input),
                                          torch.from_numpy(weight)).numpy()

    _fails(cc.check_conv2d_values, via_torch, r"^\[reference\].*torch")


# ------------------------------------------------------------------------------------------
# Parameter counts


def test_the_visible_cases_hold_the_alexnet_numbers_of_the_course_text():
    # AlexNet conv1: 96 filters of 11x11x3 = 34,848 weights + 96 biases; without sharing
    # 55*55*96 = 290,400 neurons of 364 parameters = 105,705,600.
    conv_case = cc._param_cases(0 + 9, local=False)[0]
    lc_case = cc._param_cases(0 + 9, local=True)[0]
    assert conv_case.args == (3, 96, 11) and lc_case.args == (3, 96, 11, 55)
    assert student_conv_params(*conv_case.args) == 34_944
    assert student_lc_params(*lc_case.args) == 105_705_600


@pytest.mark.parametrize(("mistake", "match"), [
    ("no_bias", "bias missing"),
    ("bias_always", "bias counted although bias=False"),
    ("no_cin", "input channels forgotten"),
    ("bias_per_weight", "one bias per weight instead of one per filter"),
])
def test_conv_params_mistakes_are_named(mistake, match):
    _fails(cc.check_conv_params, lambda *a, **k: student_conv_params(*a, **k, mistake=mistake),
           match)


@pytest.mark.parametrize(("mistake", "match"), [
    ("shared", r"weights shared \(that is the convolutional count\)"),
    ("bias_per_channel", "bias shared per output channel"),
    ("no_bias", "bias missing"),
    ("no_cin", "input channels forgotten"),
])
def test_locally_connected_params_mistakes_are_named(mistake, match):
    _fails(cc.check_locally_connected_params,
           lambda *a, **k: student_lc_params(*a, **k, mistake=mistake), match)


def test_a_float_count_is_refused():
    _fails(cc.check_conv_params, lambda *a, **k: float(student_conv_params(*a, **k)),
           "expected an int")


# ------------------------------------------------------------------------------------------
# Tampering and check_yourself on this topic


def test_replacing_a_convolution_check_is_refused():
    with pytest.raises(CheckFailure, match=r"^\[tampered\] cnncourse.checks.convolution"):
        cc.check_corr2d_values = lambda fn, seed=0: None
    _core._reset_tamper_log()


def test_replacing_the_bound_reference_inside_the_checks_is_refused():
    with pytest.raises(CheckFailure, match=r"^\[tampered\] cnncourse.checks.convolution._corr2d"):
        cc._corr2d = student_corr2d
    _core._reset_tamper_log()
    cc.check_corr2d_values(student_corr2d)


def test_replacing_the_reference_is_tampering():
    from cnncourse.ops import conv

    original = conv.corr2d
    conv.corr2d = student_corr2d
    try:
        _fails(cc.check_corr2d_values, student_corr2d,
               r"^\[tampered\] cnncourse.ops.conv.corr2d was replaced")
    finally:
        conv.corr2d = original


def test_check_yourself_reports_each_exercise(capsys):
    from cnncourse import checks

    namespace = {"corr2d": student_corr2d,
                 "convolve2d": lambda x, k: student_convolve2d(x, k, flip="none"),
                 "conv2d": student_conv2d, "conv_params": student_conv_params}
    checks.check_yourself(namespace, "01_convolution")
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [
        "corr2d", "convolve2d", "conv2d", "conv_params", "locally_connected_params"]
    assert lines[0].endswith("passed") and lines[2].endswith("passed")
    assert "NOT YET: convolve2d values (visible cases): kernel not flipped" in lines[1]
    assert "NOT YET: locally_connected_params is not defined" in lines[4]
