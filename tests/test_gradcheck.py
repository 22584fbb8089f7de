"""Does gradcheck accept right backward passes, reject wrong ones, and say where they are wrong?"""

from __future__ import annotations

import doctest
import re

import numpy as np
import pytest

import cnncourse.gradcheck as gradcheck_module
from cnncourse.gradcheck import (
    GradcheckError,
    default_grad_output,
    gradcheck,
    numerical_gradient,
    rel_error,
)
from cnncourse.ops.activations import relu, relu_backward, softmax, softmax_backward
from cnncourse.ops.linear import linear, linear_backward
from cnncourse.ops.losses import cross_entropy


def _off_kink(x):
    # Keep ReLU inputs well away from 0, where the slope is undefined.
    return np.where(np.abs(x) < 1e-2, 0.5, x)


def _relu_backward_with_shifted_mask(grad_output, input):
    """A plausible student bug: the mask is off by one element."""
    return grad_output * np.roll(input > 0, 1)


# ---------------------------------------------------------------- rel_error

def test_rel_error_is_cs231n_definition():
    a = np.array([1.0, 0.0, -2.0, 0.0])
    b = np.array([1.1, 0.0, -2.0, 1e-9])
    # per element: 0.1/2.1, 0 (0/1e-8), 0, 1e-9/1e-8 = 0.1 -> the max is 0.1
    assert rel_error(a, b) == pytest.approx(0.1, rel=1e-12)
    assert rel_error(a[:1], b[:1]) == pytest.approx(0.1 / 2.1, rel=1e-12)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(np.array([3.0]), np.array([-3.0])) == pytest.approx(1.0)


def test_rel_error_refuses_different_shapes():
    with pytest.raises(ValueError, match=r"same shape, got \(2,\) and \(3,\)"):
        rel_error(np.zeros(2), np.zeros(3))


# ---------------------------------------------------------------- numerical_gradient

def test_numerical_gradient_of_known_functions():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4))
    y = rng.normal(size=(4, 2))
    g = rng.normal(size=(3, 2))
    gx, gy = numerical_gradient(lambda a, b: a @ b, [x, y], grad_output=g)
    np.testing.assert_allclose(gx, g @ y.T, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(gy, x.T @ g, rtol=1e-7, atol=1e-9)
    (gsq,) = numerical_gradient(lambda a: a**3, [x], grad_output=g[:, :1] * np.ones((3, 4)))
    np.testing.assert_allclose(gsq, 3 * x**2 * g[:, :1], rtol=1e-7, atol=1e-9)


def test_numerical_gradient_works_in_float64_for_float32_inputs():
    x = np.random.default_rng(1).uniform(1, 20, size=(5,)).astype(np.float32)
    (grad,) = numerical_gradient(np.sin, [x], grad_output=np.ones(5))
    assert grad.dtype == np.float64
    # In float32 a step of 1e-6 is below the spacing of numbers near 20: this would be garbage.
    np.testing.assert_allclose(grad, np.cos(x.astype(np.float64)), rtol=1e-8, atol=1e-9)


def test_default_grad_output_is_seeded_random_or_one_for_scalars():
    expected = np.random.default_rng(0).standard_normal((2, 3))
    np.testing.assert_array_equal(default_grad_output((2, 3)), expected)
    np.testing.assert_array_equal(default_grad_output((2, 3)), default_grad_output((2, 3)))
    assert default_grad_output(()) == 1.0
    x = np.random.default_rng(2).normal(size=(2, 3))
    (grad,) = numerical_gradient(lambda a: 3 * a, [x])
    np.testing.assert_allclose(grad, 3 * expected, rtol=1e-8)
    (grad,) = numerical_gradient(lambda a: np.sum(a**2), [x])
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-7)


def test_numerical_gradient_never_modifies_its_inputs():
    x = np.random.default_rng(3).normal(size=(3, 3))
    before = x.copy()

    def relu_in_place(a):
        return np.maximum(a, 0, out=a)

    (grad,) = numerical_gradient(relu_in_place, [x], grad_output=np.ones((3, 3)))
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(grad, (before > 0).astype(float), atol=1e-9)


def test_numerical_gradient_errors():
    x = np.zeros(3)
    with pytest.raises(TypeError, match=r"inputs must be a list or tuple.*\[x\]"):
        numerical_gradient(relu, x)
    with pytest.raises(TypeError, match="f must return one array, got a tuple"):
        numerical_gradient(lambda z: cross_entropy(z, np.array([0])), [np.zeros((1, 2))])
    with pytest.raises(RuntimeError, match=r"grad_output must have the shape of f's output \(3,\)"):
        numerical_gradient(relu, [x], grad_output=np.ones(4))


# ---------------------------------------------------------------- gradcheck passes

def test_gradcheck_passes_a_correct_relu_backward_both_ways():
    x = _off_kink(np.random.default_rng(4).normal(size=(4, 5)))
    before = x.copy()
    assert gradcheck(relu, [x], lambda g: [relu_backward(g, x)]) is True
    g = np.random.default_rng(5).normal(size=x.shape)
    assert gradcheck(relu, [x], [relu_backward(g, x)], grad_output=g) is True
    np.testing.assert_array_equal(x, before)


def test_gradcheck_passes_linear_with_three_inputs_and_a_scalar_loss():
    rng = np.random.default_rng(6)
    x, w, b = rng.normal(size=(3, 4)), rng.normal(size=(2, 4)), rng.normal(size=2)
    snapshot = [a.copy() for a in (x, w, b)]
    assert gradcheck(linear, [x, w, b], lambda g: list(linear_backward(g, x, w))) is True
    for a, s in zip((x, w, b), snapshot):
        np.testing.assert_array_equal(a, s)
    targets = np.array([1, 0, 2])
    logits = rng.normal(size=(3, 3))
    loss_grad = cross_entropy(logits, targets)[1]
    # A scalar output needs no grad_output: it defaults to 1.
    assert gradcheck(lambda z: cross_entropy(z, targets)[0], [logits], [loss_grad]) is True


# ---------------------------------------------------------------- gradcheck raises

def test_gradcheck_raises_for_a_relu_mask_off_by_one_and_says_where():
    x = _off_kink(np.random.default_rng(7).normal(size=(4, 4)))
    g = np.random.default_rng(8).normal(size=x.shape)
    wrong = _relu_backward_with_shifted_mask(g, x)
    assert not np.allclose(wrong, relu_backward(g, x))  # the bug must actually change something
    with pytest.raises(GradcheckError) as info:
        gradcheck(relu, [x], [wrong], grad_output=g)
    message = str(info.value)
    assert "input 0" in message
    found = re.search(r"max relative error ([0-9.e+-]+)", message)
    assert found and float(found.group(1)) == pytest.approx(rel_error(wrong, g * (x > 0)), rel=1e-3)
    found = re.search(r"index \((\d+), (\d+)\): analytic ([-0-9.e+]+), numerical ([-0-9.e+]+)",
                      message)
    assert found, message
    pos = (int(found.group(1)), int(found.group(2)))
    assert wrong[pos] != pytest.approx(g[pos] * (x[pos] > 0), abs=1e-6)  # a wrong element
    assert float(found.group(3)) == pytest.approx(wrong[pos], rel=1e-9, abs=1e-12)
    assert float(found.group(4)) == pytest.approx(g[pos] * (x[pos] > 0), rel=1e-6, abs=1e-8)


def test_gradcheck_names_the_second_input_when_only_its_gradient_is_wrong():
    rng = np.random.default_rng(9)
    x, w = rng.normal(size=(3, 4)), rng.normal(size=(2, 4))

    def wrong_backward(g):
        gx, gw, _ = linear_backward(g, x, w)
        return [gx, gw * 1.01]

    with pytest.raises(GradcheckError, match=r"failed for input 1 \(shape \(2, 4\)\): max relative "
                                             r"error 4\.975e-03"):
        gradcheck(lambda a, b: linear(a, b), [x, w], wrong_backward)


def test_default_grad_output_catches_what_all_ones_would_hide():
    # The outputs of softmax sum to 1, so with grad_output = 1 the true gradient is 0 and a
    # backward that returns zeros would pass; the random default must expose it.
    x = np.random.default_rng(10).normal(size=(2, 4))

    def zero_backward(g):
        return [np.zeros_like(x)]

    ones = np.ones(x.shape)
    assert gradcheck(softmax, [x], zero_backward(ones), grad_output=ones) is True
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(softmax, [x], zero_backward)
    assert gradcheck(softmax, [x], lambda g: [softmax_backward(g, softmax(x))]) is True


def test_tolerances_decide():
    x = np.random.default_rng(11).normal(size=(3,))
    slightly_off = [2 * x * (1 + 1e-3)]
    with pytest.raises(GradcheckError):
        gradcheck(lambda a: np.sum(a**2), [x], slightly_off)
    assert gradcheck(lambda a: np.sum(a**2), [x], slightly_off, rtol=1e-2) is True


def test_nan_in_the_analytic_gradient_fails():
    x = np.array([1.0, 2.0])
    with pytest.raises(GradcheckError, match=r"index \(1,\): analytic nan"):
        gradcheck(lambda a: np.sum(a**2), [x], [np.array([2.0, np.nan])])


def test_gradcheck_usage_errors():
    x = np.ones((2, 2))
    with pytest.raises(GradcheckError, match="got 2 analytic gradients for 1 inputs"):
        gradcheck(relu, [x], lambda g: [g, g])
    with pytest.raises(GradcheckError, match=r"analytic gradient has shape \(4,\) but input 0 has "
                                             r"shape \(2, 2\)"):
        gradcheck(relu, [x], lambda g: [g.ravel()])
    with pytest.raises(GradcheckError, match="one array per input, got ndarray"):
        gradcheck(relu, [x], lambda g: g)
    with pytest.raises(TypeError, match="pass the grad_output they were computed with"):
        gradcheck(relu, [x], [np.ones((2, 2))])


def test_gradcheck_error_is_a_runtime_error():
    assert issubclass(GradcheckError, RuntimeError)


def test_docstring_examples_run():
    result = doctest.testmod(gradcheck_module, extraglobs={"np": np})
    assert result.attempted > 0 and result.failed == 0
