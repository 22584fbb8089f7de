"""The fully connected tail of a CNN: flatten the feature maps, then an affine map.

``linear`` uses PyTorch's weight layout ``(out_features, in_features)``, so a weight copied
from ``torch.nn.Linear`` works unchanged, and ``flatten`` has ``torch.flatten``'s semantics.
"""

from __future__ import annotations

import math

import numpy as np

from ._validate import as_float_array, check_rank, result_dtype, wrap_dim

__all__ = ["flatten", "linear", "linear_backward"]


def _check_linear_shapes(x: np.ndarray, w: np.ndarray, op: str) -> None:
    check_rank(w, "weight", (2,), op, "(out_features, in_features)")
    if x.ndim < 1:
        raise RuntimeError(f"{op}: expected input with at least 1 dimension (*, in_features), got a scalar")
    if x.shape[-1] != w.shape[1]:
        raise RuntimeError(
            f"{op}: the last dimension of input must equal in_features = weight.shape[1] = "
            f"{w.shape[1]}, got input of shape {x.shape} and weight of shape {w.shape} "
            f"(PyTorch: mat1 and mat2 shapes cannot be multiplied)"
        )


def linear(input, weight, bias=None) -> np.ndarray:
    """Fully connected (affine) layer ``y = x W^T + b``.

    Parameters
    ----------
    input : ndarray, shape (*, in_features)
        Any number of leading axes; usually (N, in_features) after :func:`flatten`.
    weight : ndarray, shape (out_features, in_features)
        PyTorch's layout: row ``o`` holds the weights of output unit ``o``.
    bias : ndarray, shape (out_features,), optional

    Returns
    -------
    ndarray, shape (*, out_features)
        float32 only if every operand is float32, float64 otherwise.

    Notes
    -----
    .. math:: y_{\\ldots o} = \\sum_i x_{\\ldots i} W_{o i} + b_o

    Parameter count: ``out_features * (in_features + 1)`` with a bias.

    Examples
    --------
    >>> linear(np.array([[1.0, 2.0]]), np.array([[1.0, 0.0], [1.0, 1.0], [0.0, -1.0]]))
    array([[ 1.,  3., -2.]])
    """
    x = as_float_array(input, "input")
    w = as_float_array(weight, "weight")
    _check_linear_shapes(x, w, "linear")
    b = None
    if bias is not None:
        b = as_float_array(bias, "bias")
        if b.shape != (w.shape[0],):
            raise RuntimeError(
                f"linear: expected bias of shape (out_features,) = ({w.shape[0]},), "
                f"got bias of shape {b.shape}"
            )
    dtype = result_dtype(x, w, b)
    out = x.astype(dtype, copy=False) @ w.astype(dtype, copy=False).T
    if b is not None:
        out += b.astype(dtype, copy=False)
    return out


def linear_backward(grad_output, input, weight) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`linear` with respect to its input, weight and bias.

    Parameters
    ----------
    grad_output : ndarray, shape (*, out_features)
        Gradient of the loss with respect to the output of :func:`linear`.
    input : ndarray, shape (*, in_features)
        The input the forward pass received.
    weight : ndarray, shape (out_features, in_features)

    Returns
    -------
    grad_input : ndarray, shape (*, in_features)
    grad_weight : ndarray, shape (out_features, in_features)
    grad_bias : ndarray, shape (out_features,)
        Always returned; ignore it for a layer without bias.

    Notes
    -----
    With every leading axis folded into one batch axis (rows of X, G):

    .. math:: \\frac{\\partial L}{\\partial X} = G W, \\qquad
              \\frac{\\partial L}{\\partial W} = G^T X, \\qquad
              \\frac{\\partial L}{\\partial b} = \\sum_{\\text{rows}} G

    The weight and bias gradients sum over the batch because the same weights serve every
    sample.
    """
    g = as_float_array(grad_output, "grad_output")
    x = as_float_array(input, "input")
    w = as_float_array(weight, "weight")
    _check_linear_shapes(x, w, "linear_backward")
    expected = x.shape[:-1] + (w.shape[0],)
    if g.shape != expected:
        raise RuntimeError(
            f"linear_backward: expected grad_output of shape (*, out_features) = {expected}, "
            f"got grad_output of shape {g.shape}"
        )
    dtype = result_dtype(g, x, w)
    g, x, w = (a.astype(dtype, copy=False) for a in (g, x, w))
    g2 = g.reshape(-1, w.shape[0])
    x2 = x.reshape(-1, w.shape[1])
    return g @ w, g2.T @ x2, g2.sum(axis=0)


def flatten(input, start_dim: int = 0, end_dim: int = -1) -> np.ndarray:
    """Merge the axes ``start_dim .. end_dim`` (inclusive) into one, in C (row-major) order.

    Parameters
    ----------
    input : ndarray, shape (d_0, ..., d_{n-1})
        Any array; the dtype is kept (flattening moves no values, as in ``torch.flatten``).
    start_dim, end_dim : int
        First and last axis to merge; negative values count from the end. Use
        ``start_dim=1`` to keep the batch axis of an (N, C, H, W) stack, giving (N, C*H*W).

    Returns
    -------
    ndarray, shape (d_0, ..., d_{start} * ... * d_{end}, ..., d_{n-1})
        A view of `input` when NumPy can make one, a copy otherwise. A 0-d input gives
        shape (1,).

    Raises
    ------
    IndexError
        A dim outside ``[-ndim, ndim - 1]``.
    RuntimeError
        `start_dim` after `end_dim`.

    Notes
    -----
    Row-major order means the last axis varies fastest: a matrix becomes its rows laid end to
    end, and a stack of matrices becomes its first matrix, then the second, and so on.

    Examples
    --------
    >>> flatten(np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]]))
    array([1, 2, 3, 4, 5, 6, 7, 8, 9])
    >>> flatten(np.zeros((2, 3, 4, 5)), start_dim=1).shape
    (2, 60)
    """
    x = np.asarray(input)
    start = wrap_dim(start_dim, x.ndim, "start_dim")
    end = wrap_dim(end_dim, x.ndim, "end_dim")
    if start > end:
        raise RuntimeError(
            f"flatten() has invalid args: start_dim cannot come after end_dim, got "
            f"start_dim={start_dim} and end_dim={end_dim} for an input with {x.ndim} dimensions"
        )
    if x.ndim == 0:
        return x.reshape(1)
    # An explicit size, not -1, which NumPy cannot resolve when another axis has length 0.
    merged = math.prod(x.shape[start:end + 1])
    return x.reshape(x.shape[:start] + (merged,) + x.shape[end + 1:])
