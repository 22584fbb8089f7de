"""Activation functions and their backward passes, each backward beside its forward.

Every function works elementwise (or along one axis for softmax) on arrays of any shape, keeps
float32 as float32 and float64 as float64, and promotes ints and bools to float64, as
``torch.nn.functional`` does for floating tensors.
"""

from __future__ import annotations

import numpy as np

from ._memory import zeros_stored_like
from ._select import keep_where
from ._validate import as_float_array, result_dtype, wrap_dim

__all__ = [
    "log_softmax",
    "relu",
    "relu_backward",
    "sigmoid",
    "sigmoid_backward",
    "softmax",
    "softmax_backward",
    "tanh",
    "tanh_backward",
]



def _check_same_shape(grad_output: np.ndarray, other: np.ndarray, other_name: str, op: str) -> None:
    if grad_output.shape != other.shape:
        raise RuntimeError(
            f"{op}: grad_output must have the same shape as {other_name}, got grad_output of "
            f"shape {grad_output.shape} and {other_name} of shape {other.shape}"
        )


def _backward_operands(grad_output, saved, saved_name: str, op: str):
    """Validate a backward's two operands and return them with the dtype of the result."""
    g = as_float_array(grad_output, "grad_output")
    s = as_float_array(saved, saved_name)
    _check_same_shape(g, s, saved_name, op)
    dtype = result_dtype(g, s)
    return g.astype(dtype, copy=False), s.astype(dtype, copy=False)


def relu(input) -> np.ndarray:
    """Rectified linear unit, ``max(0, x)`` elementwise.

    Parameters
    ----------
    input : ndarray, shape (*)
        Any shape; typically the (N, C, H, W) output of a convolution.

    Returns
    -------
    ndarray, shape (*)
        Same shape and floating dtype as `input`: every negative entry replaced by zero.

    Notes
    -----
    .. math:: \\mathrm{relu}(x) = \\max(0, x), \\qquad
              \\frac{d\\,\\mathrm{relu}}{dx} = [x > 0]

    Examples
    --------
    >>> relu(np.array([[1.0, -1.0], [-3.0, 7.0]]))
    array([[1., 0.],
           [0., 7.]])
    """
    x = as_float_array(input, "input")
    # NaN must stay NaN (as in PyTorch), which np.maximum does and a mask would not. Its loop
    # against a scalar 0 is not vectorised: against zeros stored like x it is 2.5x faster.
    zeros = zeros_stored_like(x)
    return np.maximum(x, x.dtype.type(0) if zeros is None else zeros)


def relu_backward(grad_output, input) -> np.ndarray:
    """Gradient of :func:`relu` with respect to its input.

    Parameters
    ----------
    grad_output : ndarray, shape (*)
        Gradient of the loss with respect to ``relu(input)``.
    input : ndarray, shape (*)
        The input the forward pass received.

    Returns
    -------
    ndarray, shape (*)
        ``grad_output`` where ``input > 0`` and 0 elsewhere.

    Notes
    -----
    The derivative at exactly 0 is taken to be 0, PyTorch's convention.
    """
    g, x = _backward_operands(grad_output, input, "input", "relu_backward")
    # Not g * mask: a NaN or inf gradient behind a closed gate must still give 0.
    return keep_where(x > 0, g)


def sigmoid(input) -> np.ndarray:
    """Logistic sigmoid ``1 / (1 + exp(-x))`` elementwise, without overflow for large ``|x|``.

    Parameters
    ----------
    input : ndarray, shape (*)

    Returns
    -------
    ndarray, shape (*)
        Values in [0, 1], same dtype as `input`.

    Notes
    -----
    .. math:: \\sigma(x) = \\frac{1}{1 + e^{-x}} = \\frac{e^{x}}{1 + e^{x}}

    The first form overflows in ``exp(-x)`` for very negative x and the second in ``exp(x)``
    for very positive x. With :math:`z = e^{-|x|} \\in (0, 1]` both become safe:
    :math:`\\sigma(x) = 1/(1+z)` for :math:`x \\ge 0` and :math:`z/(1+z)` for :math:`x < 0`.

    Examples
    --------
    >>> sigmoid(np.array([0.0]))
    array([0.5])
    """
    x = as_float_array(input, "input")
    z = np.exp(-np.abs(x))
    one = x.dtype.type(1)
    return np.where(x >= 0, one / (one + z), z / (one + z))


def sigmoid_backward(grad_output, output) -> np.ndarray:
    """Gradient of :func:`sigmoid`, written in terms of its output ``y = sigmoid(x)``.

    Parameters
    ----------
    grad_output : ndarray, shape (*)
    output : ndarray, shape (*)
        What the forward pass returned (cheaper and safer than recomputing from the input).

    Returns
    -------
    ndarray, shape (*)

    Notes
    -----
    .. math:: \\frac{d\\sigma}{dx} = \\sigma(x)\\,(1 - \\sigma(x)) = y\\,(1 - y)
    """
    g, y = _backward_operands(grad_output, output, "output", "sigmoid_backward")
    return g * y * (1 - y)


def tanh(input) -> np.ndarray:
    """Hyperbolic tangent elementwise.

    Parameters
    ----------
    input : ndarray, shape (*)

    Returns
    -------
    ndarray, shape (*)
        Values in [-1, 1], same dtype as `input`.

    Notes
    -----
    .. math:: \\tanh x = \\frac{e^{x} - e^{-x}}{e^{x} + e^{-x}} = 2\\sigma(2x) - 1

    ``np.tanh`` is used rather than the formula, which overflows for ``|x|`` above ~710.
    """
    return np.tanh(as_float_array(input, "input"))


def tanh_backward(grad_output, output) -> np.ndarray:
    """Gradient of :func:`tanh`, written in terms of its output ``y = tanh(x)``.

    Parameters
    ----------
    grad_output : ndarray, shape (*)
    output : ndarray, shape (*)

    Returns
    -------
    ndarray, shape (*)

    Notes
    -----
    .. math:: \\frac{d\\tanh x}{dx} = 1 - \\tanh^2 x = 1 - y^2
    """
    g, y = _backward_operands(grad_output, output, "output", "tanh_backward")
    return g * (1 - y * y)


def _at_least_1d(x: np.ndarray) -> np.ndarray:
    # PyTorch treats a 0-d input to softmax as one row of one element.
    return x.reshape(1) if x.ndim == 0 else x


def _shifted(x: np.ndarray, axis: int) -> np.ndarray:
    """``x - max(x)`` along `axis`: the exponentials then lie in (0, 1] and cannot overflow.

    Softmax is unchanged by subtracting a constant from a row, so this costs nothing. A row
    whose maximum is infinite (all -inf, or a +inf) gets NaN from inf - inf, as in PyTorch.
    """
    # initial=-inf lets a row of length 0 through, as PyTorch does for empty tensors.
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    with np.errstate(invalid="ignore"):
        return x - m


def _exponentials(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(s, e, sums)``: ``s = x - max(x)`` along `axis`, ``e = exp(s)`` and the sums of `e`
    along `axis` (kept as an axis of length 1). softmax is ``e / sums``, log_softmax
    ``s - log(sums)``; cross_entropy needs all three."""
    s = _shifted(x, axis)
    e = np.exp(s)
    return s, e, e.sum(axis=axis, keepdims=True)


def softmax(input, dim: int = -1) -> np.ndarray:
    """Turn scores into probabilities along `dim`: positive entries that sum to 1.

    Parameters
    ----------
    input : ndarray, shape (*)
        Scores ("logits"), e.g. shape (N, C) for N samples and C classes.
    dim : int
        The axis that sums to 1 (negative counts from the end). Unlike PyTorch, which warns
        and guesses when `dim` is omitted, the default is the last axis.

    Returns
    -------
    ndarray, shape (*)
        Same shape and dtype as `input`.

    Notes
    -----
    .. math:: S(y)_i = \\frac{e^{y_i}}{\\sum_j e^{y_j}}
              = \\frac{e^{y_i - m}}{\\sum_j e^{y_j - m}}, \\quad m = \\max_j y_j

    The shifted form is the one computed, so logits like 1000 do not overflow.

    Examples
    --------
    >>> softmax(np.array([2.0, 1.0, 0.1])).round(1)
    array([0.7, 0.2, 0.1])
    """
    x = as_float_array(input, "input")
    axis = wrap_dim(dim, x.ndim)
    _, e, sums = _exponentials(_at_least_1d(x), axis)
    with np.errstate(invalid="ignore"):  # 0/0 only for rows PyTorch also turns into NaN
        return (e / sums).reshape(x.shape)


def log_softmax(input, dim: int = -1) -> np.ndarray:
    """Logarithm of :func:`softmax`, computed without ever forming the (possibly 0) softmax.

    Parameters
    ----------
    input : ndarray, shape (*)
    dim : int
        The axis along which ``exp(output)`` sums to 1.

    Returns
    -------
    ndarray, shape (*)
        Same shape and dtype as `input`; all entries <= 0.

    Notes
    -----
    .. math:: \\log S(y)_i = (y_i - m) - \\log \\sum_j e^{y_j - m}, \\quad m = \\max_j y_j

    ``np.log(softmax(y))`` would give ``log(0) = -inf`` for logits like [1000, 0, -1000], whose
    exact answer is [0, -1000, -2000]; the form above gets it right, because the sum is at least
    1 (the term :math:`e^{0}`), so its logarithm is finite.

    Examples
    --------
    >>> log_softmax(np.array([1000.0, 0.0, -1000.0]))
    array([    0., -1000., -2000.])
    """
    x = as_float_array(input, "input")
    axis = wrap_dim(dim, x.ndim)
    s, _, sums = _exponentials(_at_least_1d(x), axis)
    # log(0) and inf - inf only occur for rows without a finite maximum; PyTorch gives NaN too.
    with np.errstate(divide="ignore", invalid="ignore"):
        return (s - np.log(sums)).reshape(x.shape)


def softmax_backward(grad_output, output, dim: int = -1) -> np.ndarray:
    """Gradient of :func:`softmax`, written in terms of its output ``y = softmax(x, dim)``.

    Parameters
    ----------
    grad_output : ndarray, shape (*)
    output : ndarray, shape (*)
    dim : int
        The `dim` the forward pass used.

    Returns
    -------
    ndarray, shape (*)

    Notes
    -----
    The Jacobian is :math:`\\partial y_i / \\partial x_j = y_i(\\delta_{ij} - y_j)`, so the
    vector-Jacobian product never needs the full C x C matrix:

    .. math:: \\frac{\\partial L}{\\partial x_j} = y_j \\Big(g_j - \\sum_i g_i y_i\\Big)
    """
    g, y = _backward_operands(grad_output, output, "output", "softmax_backward")
    axis = wrap_dim(dim, y.ndim)
    g1, y1 = _at_least_1d(g), _at_least_1d(y)
    return (y1 * (g1 - np.sum(g1 * y1, axis=axis, keepdims=True))).reshape(y.shape)
