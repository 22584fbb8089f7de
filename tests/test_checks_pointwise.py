"""Do the 04_1x1_convolution checks of part 1 (conv1x1, conv_cost, bottleneck_cost) pass right
answers and name every listed mistake?

Part 2 (fc_to_conv, score_map_size, crop_scores) is tested in tests/test_checks_fc_conversion.py.
The "students" are written here with loops and index arithmetic, each with one deliberate mistake
switched on; the checks' references are never used as a student's answer.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from cnncourse import checks
from cnncourse.arch import Conv, summary
from cnncourse.checks import CheckFailure, _core
from cnncourse.checks import pointwise as pw

HIDDEN = 6161

# Submitted through real nbgrader by tests/test_notebooks.py: (answer cell, its buggy source,
# text the autograded feedback must contain).
NOTEBOOK_MISTAKES = {
    "04_1x1_convolution": [
        ("conv1x1_solution", textwrap.dedent("""
            def conv1x1(input, weight, bias=None):
                out = weight[:, :, 0, 0] @ input
                if bias is not None:
                    out = out + bias[:, None]
                return out
            """), "matmul over the wrong axis"),
    ],
}


def _fails(check, fn, match, **kwargs):
    with pytest.raises(CheckFailure, match=match) as info:
        check(fn, **kwargs)
    return str(info.value)


# ------------------------------------------------------------------------------------------
# Students


def student_conv1x1(input, weight, bias=None, *, mistake=None):
    """Pixel by pixel: out[n, :, i, j] = W @ input[n, :, i, j] (+ b), W = weight[:, :, 0, 0]."""
    x, w = np.asarray(input, dtype=float), np.asarray(weight, dtype=float)
    matrix = w[:, :, 0, 0]
    if mistake == "axis width":
        out = x @ matrix.T
        return out if bias is None else out + bias
    if mistake == "axis height":
        out = matrix @ x
        return out if bias is None else out + bias[:, None]
    if mistake == "reshape (C_in, C_out)":
        matrix = w.reshape(w.shape[1], w.shape[0]).T
    if mistake == "transposed":
        matrix = matrix.T
    n, _, h, wd = x.shape
    out = np.zeros((n, matrix.shape[0], h, wd))
    for b in range(n):
        for i in range(h):
            for j in range(wd):
                out[b, :, i, j] = matrix @ x[b, :, i, j]
    if bias is not None:
        bias = np.asarray(bias, dtype=float)
        if mistake == "bias width":
            out = out + bias
        elif mistake == "bias first":
            out = out + bias[0]
        elif mistake == "bias sum":
            out = out + bias.sum()
        elif mistake != "bias missing":
            out = out + bias[None, :, None, None]
    return out.transpose(0, 2, 3, 1) if mistake == "nhwc" else out


def student_conv1x1_vectorized(input, weight, bias=None):
    """All pixels at once: (C_out, C_in) @ (N, C_in, H*W), then back to (N, C_out, H, W)."""
    n, c, h, w = input.shape
    out = weight.reshape(weight.shape[0], c) @ input.reshape(n, c, h * w)
    if bias is not None:
        out = out + bias[:, None]
    return out.reshape(n, -1, h, w)


def student_conv_cost(in_shape, out_shape, kernel_size, *, mistake=None):
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    c_in, h_in, w_in = in_shape
    c_out, h_out, w_out = out_shape
    per_filter = c_in * kh * kw
    params = c_out * (per_filter + 1)
    positions = h_out * w_out
    if mistake == "no bias":
        params = c_out * per_filter
    elif mistake == "no c_in":
        params = c_out * (kh * kw + 1)
    elif mistake == "per position":
        params *= positions
    macs = {"per input": c_out * h_in * w_in * per_filter, "one position": c_out * per_filter,
            "no c_out": positions * per_filter,
            "bias macs": c_out * positions * (per_filter + 1)}.get(mistake,
                                                                     c_out * positions * per_filter)
    return params, macs


def student_bottleneck_cost(in_shape, reduce_channels, out_channels, kernel_size, *,
                            mistake=None):
    c_in, h, w = in_shape
    reduce = student_conv_cost(in_shape, (reduce_channels, h, w), 1)
    reads = c_in if mistake == "reads C_in" else reduce_channels
    big = student_conv_cost((reads, h, w), (out_channels, h, w), kernel_size)
    if mistake == "no reduce":
        return big
    params, macs = reduce[0] + big[0], reduce[1] + big[1]
    if mistake == "no biases":
        params -= reduce_channels + out_channels
    return params, macs


# ------------------------------------------------------------------------------------------
# Right answers pass, visible and hidden, with one line each


ALL_CHECKS = [
    (pw.check_conv1x1_shape, student_conv1x1),
    (pw.check_conv1x1_values, student_conv1x1),
    (pw.check_conv1x1_per_pixel_linear, student_conv1x1),
    (pw.check_conv1x1_bias, student_conv1x1),
    (pw.check_conv1x1_edge_cases, student_conv1x1),
    (pw.check_conv1x1_one_product, student_conv1x1_vectorized),
    (pw.check_conv_cost_params, student_conv_cost),
    (pw.check_conv_cost_macs, student_conv_cost),
    (pw.check_bottleneck_cost, student_bottleneck_cost),
]



def test_hidden_cases_differ_from_visible_ones():
    visible, hidden = pw._conv1x1_cases(0 + 12, bias=False), pw._conv1x1_cases(HIDDEN + 12,
                                                                              bias=False)
    assert not any(a.args[0].shape == b.args[0].shape and np.array_equal(a.args[0], b.args[0])
                   for a, b in zip(visible, hidden, strict=True))


# ------------------------------------------------------------------------------------------
# conv1x1


@pytest.mark.parametrize(("check", "mistake", "match"), [
    (pw.check_conv1x1_values, "axis width",
     r"matmul over the wrong axis \(mixes the pixels of each row"),
    (pw.check_conv1x1_values, "axis height",
     r"matmul over the wrong axis \(mixes the pixels of each column"),
    (pw.check_conv1x1_shape, "axis height", "matmul over the wrong axis"),
    (pw.check_conv1x1_values, "reshape (C_in, C_out)",
     r"weight matrix used as \(C_in, C_out\) instead of \(C_out, C_in\)"),
    (pw.check_conv1x1_values, "transposed", r"weight matrix used as \(C_in, C_out\)"),
    (pw.check_conv1x1_per_pixel_linear, "reshape (C_in, C_out)", r"weight matrix used as"),
    (pw.check_conv1x1_values, "nhwc", "NHWC layout instead of NCHW"),
    (pw.check_conv1x1_shape, "nhwc", "NHWC layout instead of NCHW"),
    (pw.check_conv1x1_per_pixel_linear, "nhwc", "NHWC layout instead of NCHW"),
    (pw.check_conv1x1_bias, "bias missing", "bias missing"),
    (pw.check_conv1x1_per_pixel_linear, "bias missing", "bias missing"),
    (pw.check_conv1x1_bias, "bias width",
     r"bias not broadcast per output channel \(added along the width axis\)"),
    (pw.check_conv1x1_bias, "bias first", r"bias not broadcast per output channel \(bias\[0\]"),
    (pw.check_conv1x1_bias, "bias sum", r"bias not broadcast per output channel \(the sum"),
    (pw.check_conv1x1_edge_cases, "bias missing", "bias missing"),
])
def test_conv1x1_mistakes_are_named(check, mistake, match):
    message = _fails(check, lambda *a, **k: student_conv1x1(*a, **k, mistake=mistake), match)
    assert message.splitlines()[0].startswith("conv1x1")


def test_a_loop_over_pixels_is_refused_and_loops_over_filters_are_not(capsys):
    message = _fails(pw.check_conv1x1_one_product, student_conv1x1, r"loops over pixel positions")
    assert "ONE matrix product" in message and "two 16x16 images" in message

    def per_filter(input, weight, bias=None):
        out = np.zeros((input.shape[0], weight.shape[0], *input.shape[2:]))
        for k in range(weight.shape[0]):
            out[:, k] = np.tensordot(weight[k, :, 0, 0], input, axes=([0], [1]))
            if bias is not None:
                out[:, k] += bias[k]
        return out

    pw.check_conv1x1_one_product(per_filter)
    assert capsys.readouterr().out.strip() == "conv1x1 without a loop over pixels: OK"


def test_the_pixel_loop_check_still_names_wrong_values():
    def vectorized_without_bias(input, weight, bias=None):
        return student_conv1x1_vectorized(input, weight)

    _fails(pw.check_conv1x1_one_product, vectorized_without_bias, "bias missing")


def test_the_wrong_axis_message_says_how_to_fix_it():
    message = _fails(pw.check_conv1x1_values,
                     lambda *a, **k: student_conv1x1(*a, **k, mistake="axis width"), "wrong axis")
    assert "np.einsum('kc,nchw->nkhw', W, input)" in message


def test_a_single_input_channel_is_pure_scaling():
    # The seed's point: with one input map a 1x1 filter multiplies the whole map by one number.
    case = pw._conv1x1_case(np.random.default_rng(3), 1, 1, 3, 4, 5, False)
    x, w = case.args
    out = student_conv1x1(x, w)
    for k in range(3):
        np.testing.assert_allclose(out[0, k], w[k, 0, 0, 0] * x[0, 0], rtol=1e-12)


def test_conv1x1_calling_the_reference_or_torch_earns_nothing():
    from cnncourse.ops import conv

    _fails(pw.check_conv1x1_values, lambda input, weight, bias=None: conv.conv2d(input, weight),
           r"^\[reference\] conv1x1")
    torch = pytest.importorskip("torch")

    def via_torch(input, weight, bias=None):
        return torch.nn.functional.conv2d(torch.from_numpy(input),
                                          torch.from_numpy(weight)).numpy()

    _fails(pw.check_conv1x1_values, via_torch, r"^\[reference\].*torch")


def test_conv1x1_that_modifies_its_input_is_caught():
    def mutating(input, weight, bias=None):
        out = student_conv1x1(input, weight, bias)
        input *= 2.0
        return out

    _fails(pw.check_conv1x1_values, mutating, "input modified in place")


# ------------------------------------------------------------------------------------------
# conv_cost and bottleneck_cost


def test_the_cost_reference_agrees_with_arch_summary():
    # The checks' formula against arch's independent accounting, on the check's own cases.
    for case in pw._cost_cases(0 + 21) + pw._cost_cases(HIDDEN + 21):
        (c_in, h, w), (c_out, h_out, w_out), k = case.args
        kh, kw = (k, k) if isinstance(k, int) else k
        geometry = [(s, p) for s in (1, 2) for p in range(3)  # the one the case was built with
                    if ((h + 2 * p - kh) // s + 1, (w + 2 * p - kw) // s + 1) == (h_out, w_out)]
        stride, pad = geometry[0]
        rows = summary([Conv(c_out, (kh, kw), stride=stride, padding=pad)], (c_in, h, w))
        assert rows.output_shape == (c_out, h_out, w_out)
        assert pw._conv_cost(*case.args) == (rows.total_params, rows.total_flops)


def test_the_googlenet_numbers():
    # GoogLeNet 3a, 28x28x192 -> 32 maps of 5x5: direct, or 1x1-reduced to 16 maps first.
    direct = student_conv_cost((192, 28, 28), (32, 28, 28), 5)
    assert direct == (32 * (192 * 25 + 1), 28 * 28 * 32 * 192 * 25) == (153_632, 120_422_400)
    reduced = student_bottleneck_cost((192, 28, 28), 16, 32, 5)
    assert reduced[0] - 16 - 32 == 15_872  # the weights of arch.inception_module's docstring
    assert reduced == (15_920, 12_443_648)
    assert pw._bottleneck_cost((192, 28, 28), 16, 32, 5) == reduced
    assert pw._cost_cases(0 + 21)[0].label == "GoogLeNet 3a, direct 5x5"


@pytest.mark.parametrize(("check", "mistake", "match"), [
    (pw.check_conv_cost_params, "no bias", "parameter count forgets the bias"),
    (pw.check_conv_cost_params, "no c_in", "input channels forgotten in the parameter count"),
    (pw.check_conv_cost_params, "per position",
     r"parameters counted once per output position \(weights are shared\)"),
    (pw.check_conv_cost_macs, "per input",
     "multiply-adds counted per input position instead of per output position"),
    (pw.check_conv_cost_macs, "one position", "multiply-adds of one output position only"),
    (pw.check_conv_cost_macs, "no c_out", "output channels forgotten in the multiply-adds"),
    (pw.check_conv_cost_macs, "bias macs", "bias counted as a multiply-add"),
])
def test_conv_cost_mistakes_are_named(check, mistake, match):
    _fails(check, lambda *a: student_conv_cost(*a, mistake=mistake), match)


@pytest.mark.parametrize("mistake", ["no bias", "per position"])
def test_a_parameter_mistake_does_not_fail_the_macs_check(mistake, capsys):
    pw.check_conv_cost_macs(lambda *a: student_conv_cost(*a, mistake=mistake))
    assert capsys.readouterr().out.strip().endswith(": OK")


@pytest.mark.parametrize(("result", "match"), [
    (lambda *a: student_conv_cost(*a)[0],
     r"return a tuple \(params, multiply_adds\); got int 153632"),
    (lambda *a: np.array(student_conv_cost(*a)), r"return a tuple.*got an array of shape \(2,\)"),
    (lambda *a: tuple(float(v) for v in student_conv_cost(*a)), "expected an int"),
])
def test_conv_cost_must_return_a_pair_of_ints(result, match):
    _fails(pw.check_conv_cost_params, result, match)


def test_conv_cost_calling_arch_summary_earns_nothing():
    def lazy(in_shape, out_shape, kernel_size):
        s = summary([Conv(out_shape[0], kernel_size)], in_shape)
        return s.total_params, s.total_flops

    _fails(pw.check_conv_cost_params, lazy, r"^\[reference\]")


@pytest.mark.parametrize(("mistake", "match"), [
    ("no reduce", "the 1x1 reduce layer's cost left out"),
    ("reads C_in", "the k x k conv counted on all C_in input channels"),
    ("no biases", "biases forgotten"),
])
def test_bottleneck_cost_mistakes_are_named(mistake, match):
    _fails(pw.check_bottleneck_cost, lambda *a: student_bottleneck_cost(*a, mistake=mistake),
           match)


# ------------------------------------------------------------------------------------------
# Tampering and check_yourself on this topic


@pytest.mark.parametrize(("module", "attribute"), [(pw, "check_conv1x1_values"),
                                                   (pw, "_conv1x1"), (pw, "COST_MISTAKES")])
def test_replacing_a_check_or_its_reference_is_refused(module, attribute):
    with pytest.raises(CheckFailure, match=rf"^\[tampered\] {module.__name__}.{attribute}"):
        setattr(module, attribute, lambda *a, **k: None)
    _core._reset_tamper_log()


def test_check_yourself_reports_each_exercise(capsys):
    namespace = {"conv1x1": student_conv1x1_vectorized, "conv_cost": student_conv_cost,
                 "bottleneck_cost": lambda *a: student_bottleneck_cost(*a, mistake="no reduce"),
                 "fc_to_conv": lambda w, v: np.asarray(w).reshape(len(w), *v).copy(),
                 "score_map_size": lambda i, n, s: len(range(0, i - n + 1, s))}
    checks.check_yourself(namespace, "04_1x1_convolution")
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [
        "conv1x1", "conv_cost", "bottleneck_cost", "fc_to_conv", "score_map_size", "crop_scores"]
    assert all(lines[i].endswith("passed") for i in (0, 1, 3, 4))
    assert "NOT YET: bottleneck_cost (visible cases): params: the 1x1 reduce" in lines[2]
    assert "NOT YET: crop_scores is not defined" in lines[5]

