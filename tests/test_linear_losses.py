"""Do linear, flatten, one_hot and cross_entropy match PyTorch, loops and finite differences?"""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from oracles import fd_grad as _fd_grad

import cnncourse.ops.linear as linear_module
import cnncourse.ops.losses as losses_module
from cnncourse.ops.linear import flatten, linear, linear_backward
from cnncourse.ops.losses import cross_entropy, one_hot

# (input shape, out_features): batch 1 and many, extra leading axes, a single vector
LINEAR_CASES = [((1, 3), 2), ((5, 4), 3), ((2, 3, 4), 6), ((4,), 1), ((2, 1, 3, 5), 2)]


def _linear_operands(in_shape, out_features, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=in_shape)
    w = rng.normal(size=(out_features, in_shape[-1]))
    b = rng.normal(size=out_features)
    return x, w, b


# ---------------------------------------------------------------- linear

@pytest.mark.parametrize("in_shape,out_features", LINEAR_CASES)
def test_linear_matches_a_loop(in_shape, out_features):
    x, w, b = _linear_operands(in_shape, out_features)
    expected = np.zeros(in_shape[:-1] + (out_features,))
    for lead in np.ndindex(in_shape[:-1]):
        for o in range(out_features):
            expected[lead + (o,)] = sum(x[lead + (i,)] * w[o, i] for i in range(in_shape[-1])) + b[o]
    np.testing.assert_allclose(linear(x, w, b), expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(linear(x, w), expected - b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("in_shape,out_features", LINEAR_CASES)
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_and_its_backward_match_torch(torch, in_shape, out_features, with_bias):
    x, w, b = _linear_operands(in_shape, out_features, seed=1)
    b = b if with_bias else None
    tx, tw = (torch.from_numpy(a).requires_grad_(True) for a in (x, w))
    tb = torch.from_numpy(b).requires_grad_(True) if with_bias else None
    ty = torch.nn.functional.linear(tx, tw, tb)
    np.testing.assert_allclose(linear(x, w, b), ty.detach().numpy(), rtol=1e-12, atol=1e-14)
    g = np.random.default_rng(2).normal(size=ty.shape)
    ty.backward(torch.from_numpy(g))
    gx, gw, gb = linear_backward(g, x, w)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gw, tw.grad.numpy(), rtol=1e-12, atol=1e-14)
    if with_bias:
        np.testing.assert_allclose(gb, tb.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("in_shape,out_features", [((1, 3), 2), ((4, 3), 2), ((2, 2, 3), 4)])
def test_linear_backward_matches_finite_differences(in_shape, out_features):
    x, w, b = _linear_operands(in_shape, out_features, seed=3)
    g = np.random.default_rng(4).normal(size=in_shape[:-1] + (out_features,))
    gx, gw, gb = linear_backward(g, x, w)
    np.testing.assert_allclose(gx, _fd_grad(lambda z: linear(z, w, b), x, g), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gw, _fd_grad(lambda z: linear(x, z, b), w, g), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gb, _fd_grad(lambda z: linear(x, w, z), b, g), rtol=1e-6, atol=1e-8)


def test_linear_dtypes():
    x, w, b = (a.astype(np.float32) for a in _linear_operands((3, 4), 2))
    assert linear(x, w, b).dtype == np.float32
    assert linear(x, w.astype(np.float64), b).dtype == np.float64
    assert linear(np.ones((2, 3), dtype=int), np.ones((1, 3), dtype=int)).dtype == np.float64
    g = np.ones((3, 2), dtype=np.float32)
    assert all(a.dtype == np.float32 for a in linear_backward(g, x, w))


def test_linear_refuses_mismatched_features():
    with pytest.raises(RuntimeError, match=r"in_features = weight.shape\[1\] = 5.*\(4, 3\).*\(2, 5\)"):
        linear(np.zeros((4, 3)), np.zeros((2, 5)))
    with pytest.raises(RuntimeError, match=r"bias of shape \(out_features,\) = \(2,\).*\(3,\)"):
        linear(np.zeros((4, 3)), np.zeros((2, 3)), np.zeros(3))
    with pytest.raises(RuntimeError, match=r"expected weight to be 2D.*\(3,\)"):
        linear(np.zeros((4, 3)), np.zeros(3))
    with pytest.raises(RuntimeError, match=r"grad_output of shape \(\*, out_features\) = \(4, 2\)"):
        linear_backward(np.zeros((4, 3)), np.zeros((4, 3)), np.zeros((2, 3)))


# ---------------------------------------------------------------- flatten

def test_flatten_of_the_lecture_matrix():
    out = flatten(np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]]))
    np.testing.assert_array_equal(out, [1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert out.dtype.kind == "i"  # flattening moves values, it does not convert them


def test_flatten_of_a_stack_puts_later_slices_at_the_end():
    first = np.array([[1, 2], [3, 4]])
    second = np.array([[5, 6], [7, 8]])
    third = np.array([[9, 10], [11, 12]])
    out = flatten(np.stack([first, second, third]))
    np.testing.assert_array_equal(out, np.concatenate([first.ravel(), second.ravel(), third.ravel()]))


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 1, 2, 2), (3,), (2, 0, 4)])
@pytest.mark.parametrize("start,end", [(0, -1), (1, -1), (1, 2), (-3, -2), (0, 0), (-1, -1), (2, 3)])
def test_flatten_matches_torch(torch, shape, start, end):
    x = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    try:
        expected = torch.flatten(torch.from_numpy(x), start, end).numpy()
    except (IndexError, RuntimeError) as err:
        with pytest.raises(type(err)):
            flatten(x, start, end)
        return
    out = flatten(x, start, end)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)


def test_flatten_keeps_the_batch_axis_with_start_dim_1():
    x = np.random.default_rng(5).normal(size=(4, 3, 2, 2))
    out = flatten(x, start_dim=1)
    assert out.shape == (4, 12)
    for n in range(4):
        np.testing.assert_array_equal(out[n], [x[n, c, i, j] for c in range(3) for i in range(2)
                                               for j in range(2)])


def test_flatten_of_a_scalar_is_a_vector_of_one():
    out = flatten(np.array(7.0))
    assert out.shape == (1,) and out[0] == 7.0


def test_flatten_errors_follow_torch():
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of "
                                         r"\[-2, 1\], but got 3\)"):
        flatten(np.zeros((2, 2)), 3)
    with pytest.raises(IndexError, match=r"\[-2, 1\], but got -3\).*end_dim"):
        flatten(np.zeros((2, 2)), 0, -3)
    with pytest.raises(RuntimeError, match="start_dim cannot come after end_dim"):
        flatten(np.zeros((2, 2)), 1, 0)
    with pytest.raises(TypeError, match="start_dim must be an int"):
        flatten(np.zeros((2, 2)), 1.0)


# ---------------------------------------------------------------- one_hot

def test_one_hot_of_cities():
    # Rome is class 0 and Paris class 1, out of six cities.
    out = one_hot(np.array([0, 1]), num_classes=6)
    np.testing.assert_array_equal(out, [[1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0]])
    assert out.dtype == np.int64


@pytest.mark.parametrize("shape", [(7,), (2, 3), (1,), (0,)])
@pytest.mark.parametrize("num_classes", [-1, 5, 9])
def test_one_hot_matches_torch(torch, shape, num_classes):
    labels = np.random.default_rng(6).integers(0, 5, size=shape)
    if labels.size == 0 and num_classes == -1:
        return  # covered by the error test
    expected = torch.nn.functional.one_hot(torch.from_numpy(labels), num_classes).numpy()
    out = one_hot(labels, num_classes)
    assert out.shape == expected.shape and out.dtype == np.int64
    np.testing.assert_array_equal(out, expected)


def test_one_hot_infers_max_plus_one_and_puts_one_one_per_row():
    labels = np.array([3, 0, 2, 3])
    out = one_hot(labels)
    assert out.shape == (4, 4)
    np.testing.assert_array_equal(out.sum(axis=1), 1)
    np.testing.assert_array_equal(out.argmax(axis=1), labels)


def test_one_hot_errors_follow_torch():
    with pytest.raises(RuntimeError, match=r"Class values must be smaller than num_classes\."):
        one_hot(np.array([0, 5]), 3)
    with pytest.raises(RuntimeError, match=r"Class values must be non-negative\."):
        one_hot(np.array([0, -1]), 3)
    with pytest.raises(RuntimeError, match=r"Class values must be non-negative\."):
        one_hot(np.array([0, -1]))
    with pytest.raises(RuntimeError, match="Can not infer total number of classes from empty"):
        one_hot(np.array([], dtype=np.int64))
    with pytest.raises(RuntimeError, match="tensor to hold integer class indices, got dtype float64"):
        one_hot(np.array([0.0, 1.0]))


# ---------------------------------------------------------------- cross_entropy

CE_CASES = [(1, 2), (1, 10), (8, 3), (32, 10)]


@pytest.mark.parametrize("n,c", CE_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cross_entropy_matches_torch(torch, n, c, dtype):
    rng = np.random.default_rng(7)
    logits = rng.normal(scale=3, size=(n, c)).astype(dtype)
    targets = rng.integers(0, c, size=n)
    tz = torch.from_numpy(logits.astype(np.float64)).requires_grad_(True)
    tloss = torch.nn.functional.cross_entropy(tz, torch.from_numpy(targets))
    tloss.backward()
    loss, grad = cross_entropy(logits, targets)
    assert isinstance(loss, float)
    assert grad.dtype == dtype
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert loss == pytest.approx(tloss.item(), rel=tol)
    np.testing.assert_allclose(grad, tz.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("n,c", CE_CASES)
def test_cross_entropy_matches_its_formula_and_finite_differences(n, c):
    rng = np.random.default_rng(8)
    logits = rng.normal(size=(n, c))
    targets = rng.integers(0, c, size=n)
    by_formula = np.mean([-np.log(np.exp(z[t]) / np.exp(z).sum()) for z, t in zip(logits, targets)])
    loss, grad = cross_entropy(logits, targets)
    assert loss == pytest.approx(by_formula, rel=1e-12)
    numeric = _fd_grad(lambda z: np.array(cross_entropy(z, targets)[0]), logits, 1.0)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cross_entropy_is_stable_for_huge_logits(dtype):
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, -1000.0]], dtype=dtype)
    loss, grad = cross_entropy(logits, np.array([2, 1]))
    # Sample 0 puts probability e^-2000 on its target: -log of it is 2000; sample 1 is certain.
    assert loss == pytest.approx((2000.0 + 0.0) / 2, rel=1e-6)
    np.testing.assert_allclose(grad, [[0.5, 0.0, -0.5], [0.0, 0.0, 0.0]], atol=1e-7)


def test_cross_entropy_errors_follow_torch():
    with pytest.raises(IndexError, match=r"Target 7 is out of bounds\."):
        cross_entropy(np.zeros((4, 3)), np.array([0, 1, 7, 1]))
    with pytest.raises(IndexError, match=r"Target -1 is out of bounds\."):
        cross_entropy(np.zeros((4, 3)), np.array([0, 1, -1, 1]))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(4\) to match target "
                                         r"batch_size \(3\)\."):
        cross_entropy(np.zeros((4, 3)), np.array([0, 1, 1]))
    with pytest.raises(RuntimeError, match="targets to hold integer class indices"):
        cross_entropy(np.zeros((4, 3)), np.array([0.0, 1.0, 1.0, 1.0]))
    with pytest.raises(RuntimeError, match=r"expected logits of shape \(N, C\).*\(4, 3, 2\)"):
        cross_entropy(np.zeros((4, 3, 2)), np.array([0, 1, 1, 1]))
    with pytest.raises(RuntimeError, match=r"expected targets of shape \(N,\).*\(4, 1\)"):
        cross_entropy(np.zeros((4, 3)), np.zeros((4, 1), dtype=int))


@pytest.mark.parametrize("module", [linear_module, losses_module])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, extraglobs={"np": np})
    assert result.attempted > 0 and result.failed == 0
