"""Do the activations and their backward passes match PyTorch, the formulas and finite differences?"""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from oracles import fd_grad as _fd_grad

from cnncourse.ops import activations
from cnncourse.ops.activations import (
    log_softmax,
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    softmax,
    softmax_backward,
    tanh,
    tanh_backward,
)

SHAPES = [(5,), (1, 3), (4, 7), (2, 3, 4, 5), (1, 1, 3, 2)]





def _away_from_zero(x):
    # Finite differences across the ReLU kink are meaningless; push inputs off it.
    return np.where(np.abs(x) < 1e-3, 0.5, x)


# ---------------------------------------------------------------- the seed's examples

def test_relu_of_the_lecture_feature_map():
    fmap = np.array([[1, -1, -1, -4], [2, -2, 7, 3], [-3, -7, -1, -4], [3, 5, 4, -6]])
    expected = np.array([[1, 0, 0, 0], [2, 0, 7, 3], [0, 0, 0, 0], [3, 5, 4, 0]])
    np.testing.assert_array_equal(relu(fmap), expected)


def test_softmax_of_the_lecture_scores():
    y = np.array([2.0, 1.0, 0.1])
    p = softmax(y)
    np.testing.assert_array_equal(p.round(1), [0.7, 0.2, 0.1])
    np.testing.assert_allclose(p, np.exp(y) / np.sum(np.exp(y)), rtol=0, atol=1e-12)


# ---------------------------------------------------------------- forward vs formulas / torch

@pytest.mark.parametrize("shape", SHAPES)
def test_elementwise_activations_match_their_formulas(shape):
    x = np.random.default_rng(0).normal(scale=3, size=shape)
    np.testing.assert_array_equal(relu(x), np.where(x > 0, x, 0.0))
    np.testing.assert_allclose(sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-14)
    e, em = np.exp(x), np.exp(-x)
    np.testing.assert_allclose(tanh(x), (e - em) / (e + em), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("shape,dim", [((5,), 0), ((4, 7), 1), ((4, 7), 0), ((4, 7), -1),
                                       ((2, 3, 4, 5), 1), ((2, 3, 4, 5), -2), ((1, 1, 3, 2), 3)])
def test_softmax_and_log_softmax_match_a_loop(shape, dim):
    x = np.random.default_rng(1).normal(scale=4, size=shape)
    moved = np.moveaxis(x, dim, -1)
    expected = np.empty_like(moved)
    for idx in np.ndindex(moved.shape[:-1]):
        row = moved[idx]
        expected[idx] = [np.exp(v) / sum(np.exp(w) for w in row) for v in row]
    expected = np.moveaxis(expected, -1, dim)
    np.testing.assert_allclose(softmax(x, dim=dim), expected, rtol=1e-13)
    np.testing.assert_allclose(log_softmax(x, dim=dim), np.log(expected), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(softmax(x, dim=dim).sum(axis=dim), 1.0, rtol=1e-14)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "softmax", "log_softmax"])
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_matches_torch(torch, name, shape):
    F = torch.nn.functional
    x = np.random.default_rng(2).normal(scale=3, size=shape)
    ours = getattr(activations, name)
    theirs = {"relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
              "softmax": lambda t: F.softmax(t, dim=-1),
              "log_softmax": lambda t: F.log_softmax(t, dim=-1)}[name]
    np.testing.assert_allclose(ours(x), theirs(torch.from_numpy(x)).numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("fn", [relu, sigmoid, tanh, softmax, log_softmax])
def test_dtype_is_preserved_and_ints_are_promoted(fn):
    x32 = np.array([[0.5, -1.0, 2.0]], dtype=np.float32)
    assert fn(x32).dtype == np.float32
    assert fn(x32.astype(np.float64)).dtype == np.float64
    out = fn(np.array([[1, -2, 3]]))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, fn(np.array([[1.0, -2.0, 3.0]])), rtol=0)


def test_relu_keeps_nan_like_torch():
    assert np.isnan(relu(np.array([np.nan, -1.0]))[0])


def test_softmax_of_a_scalar_is_one():
    assert softmax(np.array(3.0)).shape == ()
    assert softmax(np.array(3.0)) == 1.0
    assert log_softmax(np.array(3.0), dim=0) == 0.0


# ---------------------------------------------------------------- stability

@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_saturates_without_overflow(dtype):
    out = sigmoid(np.array([-1000.0, -100.0, 0.0, 100.0, 1000.0], dtype=dtype))
    assert out.dtype == dtype
    assert out[0] == 0.0 and out[-1] == 1.0 and out[2] == 0.5
    assert np.all(np.isfinite(out))


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_and_log_softmax_of_huge_logits_are_exact(dtype):
    logits = np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -1000.0]], dtype=dtype)
    p = softmax(logits)
    np.testing.assert_array_equal(p[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(p[1], [1 / 3] * 3, rtol=1e-6)
    log_p = log_softmax(logits)
    np.testing.assert_array_equal(log_p[0], [0.0, -1000.0, -2000.0])
    np.testing.assert_allclose(log_p[1], [-np.log(3)] * 3, rtol=1e-6)
    assert p.dtype == log_p.dtype == dtype


@pytest.mark.filterwarnings("error")
def test_tanh_saturates_without_overflow():
    np.testing.assert_array_equal(tanh(np.array([-1000.0, 1000.0])), [-1.0, 1.0])


@pytest.mark.filterwarnings("error")
def test_rows_without_a_finite_maximum_give_nan_like_torch(torch):
    x = np.array([[-np.inf, -np.inf], [np.inf, 0.0], [0.0, -np.inf]])
    t = torch.from_numpy(x)
    np.testing.assert_array_equal(softmax(x), torch.softmax(t, -1).numpy())
    np.testing.assert_array_equal(log_softmax(x), torch.log_softmax(t, -1).numpy())


# ---------------------------------------------------------------- backward passes

def _forward_and_backward(name):
    """(forward, backward(g, x)) pairs, the backward fed what its signature asks for."""
    return {
        "relu": (relu, lambda g, x: relu_backward(g, x)),
        "sigmoid": (sigmoid, lambda g, x: sigmoid_backward(g, sigmoid(x))),
        "tanh": (tanh, lambda g, x: tanh_backward(g, tanh(x))),
        "softmax": (softmax, lambda g, x: softmax_backward(g, softmax(x))),
    }[name]


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "softmax"])
@pytest.mark.parametrize("shape", SHAPES)
def test_backward_matches_torch_autograd(torch, name, shape):
    rng = np.random.default_rng(3)
    x = rng.normal(scale=2, size=shape)
    x.flat[0] = 0.0  # the ReLU kink: both conventions give 0 there
    g = rng.normal(size=shape)
    _, backward = _forward_and_backward(name)
    tx = torch.from_numpy(x).requires_grad_(True)
    ty = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
          "softmax": lambda t: torch.softmax(t, -1)}[name](tx)
    ty.backward(torch.from_numpy(g))
    np.testing.assert_allclose(backward(g, x), tx.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "softmax"])
@pytest.mark.parametrize("shape", [(6,), (3, 4), (2, 2, 3)])
def test_backward_matches_finite_differences(name, shape):
    rng = np.random.default_rng(4)
    x = _away_from_zero(rng.normal(size=shape))
    g = rng.normal(size=shape)
    forward, backward = _forward_and_backward(name)
    np.testing.assert_allclose(backward(g, x), _fd_grad(forward, x, g), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dim", [0, 1, -1, 2])
def test_softmax_backward_along_other_axes(dim):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 4, 2))
    g = rng.normal(size=x.shape)
    analytic = softmax_backward(g, softmax(x, dim=dim), dim=dim)
    np.testing.assert_allclose(analytic, _fd_grad(lambda z: softmax(z, dim=dim), x, g),
                               rtol=1e-6, atol=1e-9)


def test_relu_backward_blocks_non_finite_gradients_behind_a_closed_gate():
    out = relu_backward(np.array([np.nan, np.inf, 2.0]), np.array([-1.0, 0.0, 3.0]))
    np.testing.assert_array_equal(out, [0.0, 0.0, 2.0])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_relu_backward_is_the_elementwise_definition_bit_for_bit(dtype):
    # relu_backward selects bits with an integer mask instead of np.where; an element loop is
    # the oracle, over special values in both operands and non-contiguous views.
    rng = np.random.default_rng(6)
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30])
    x = rng.normal(size=(4, 6, 10)).astype(dtype)
    g = rng.normal(size=(4, 6, 10)).astype(dtype)
    x.flat[:special.size] = special
    g.flat[special.size:2 * special.size] = special
    g.flat[:special.size] = special[::-1]
    x, g = x[:, ::2, 1:], g[:, 1::2, :-1]  # strided views
    got = relu_backward(g, x)
    want = np.array([gi if xi > 0 else dtype(0) for gi, xi in zip(g.ravel(), x.ravel())],
                    dtype=dtype).reshape(g.shape)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got.view(f"u{got.itemsize}"), want.view(f"u{want.itemsize}"))


@pytest.mark.parametrize("backward", [relu_backward, sigmoid_backward, tanh_backward,
                                      softmax_backward])
def test_backward_dtypes(backward):
    g32 = np.array([[0.5, -1.0]], dtype=np.float32)
    y32 = np.array([[0.25, 0.75]], dtype=np.float32)
    assert backward(g32, y32).dtype == np.float32
    assert backward(g32, y32.astype(np.float64)).dtype == np.float64


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("backward,saved", [(relu_backward, "input"), (sigmoid_backward, "output"),
                                            (tanh_backward, "output"),
                                            (softmax_backward, "output")])
def test_backward_refuses_mismatched_shapes(backward, saved):
    with pytest.raises(RuntimeError, match=rf"grad_output must have the same shape as {saved}.*"
                                           rf"\(2, 3\).*\(3, 2\)"):
        backward(np.zeros((2, 3)), np.zeros((3, 2)))


@pytest.mark.parametrize("fn", [softmax, log_softmax])
def test_softmax_dim_out_of_range_is_an_index_error_like_torch(fn):
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of "
                                         r"\[-2, 1\], but got 2\)"):
        fn(np.zeros((2, 3)), dim=2)
    with pytest.raises(IndexError, match=r"\[-2, 1\], but got -3"):
        fn(np.zeros((2, 3)), dim=-3)
    with pytest.raises(TypeError, match="dim must be an int"):
        fn(np.zeros((2, 3)), dim=1.0)


@pytest.mark.parametrize("fn", [relu, sigmoid, tanh, softmax, log_softmax])
def test_non_numeric_input_is_a_type_error(fn):
    with pytest.raises(TypeError, match="input must be an array of real numbers"):
        fn(np.array(["a", "b"]))


def test_docstring_examples_run():
    result = doctest.testmod(activations, extraglobs={"np": np})
    assert result.attempted > 0 and result.failed == 0
