"""Check a backward pass against finite differences of its forward pass.

This is the tool to use on your own backward functions: if ``gradcheck`` passes, your analytic
gradient agrees with the slope of the forward function measured numerically.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .ops._validate import as_float_array

__all__ = ["GradcheckError", "default_grad_output", "gradcheck", "numerical_gradient", "rel_error"]

#: Seed of the random ``grad_output`` used when none is given (see :func:`default_grad_output`).
GRAD_OUTPUT_SEED = 0


class GradcheckError(RuntimeError):
    """An analytic gradient disagrees with the numerical one (or has the wrong shape)."""


def default_grad_output(shape) -> np.ndarray:
    """The upstream gradient used when ``grad_output`` is not given.

    Parameters
    ----------
    shape : tuple of int
        Shape of ``f``'s output.

    Returns
    -------
    ndarray of float64, shape `shape`
        1.0 for a scalar output (a loss: the gradient of the value itself). Otherwise standard
        normal numbers from ``np.random.default_rng(GRAD_OUTPUT_SEED)``, the same every call.

    Notes
    -----
    Why random rather than all ones: the check differentiates ``sum(f(x) * grad_output)``, and
    with all ones some mistakes cancel in the sum. The outputs of a softmax always sum to 1, so
    the gradient of ``sum(softmax(x))`` is exactly zero and a wrong backward that also returns
    zeros would pass. Random weights make every output element count differently.
    """
    shape = tuple(shape)
    if shape == ():
        return np.array(1.0)
    return np.random.default_rng(GRAD_OUTPUT_SEED).standard_normal(shape)


def _inputs_as_list(inputs) -> list:
    if isinstance(inputs, np.ndarray) or not isinstance(inputs, Sequence):
        raise TypeError(
            f"inputs must be a list or tuple of arrays, one per argument of f (e.g. [x] for "
            f"f(x)), got {type(inputs).__name__}"
        )
    return list(inputs)


def _evaluate(f: Callable, xs: list[np.ndarray]) -> np.ndarray:
    # f gets fresh copies, so an f that works in place cannot corrupt the points we perturb.
    out = f(*[x.copy() for x in xs])
    if isinstance(out, tuple):
        raise TypeError(
            "f must return one array, got a tuple; wrap it to pick the output to check, e.g. "
            "lambda z: cross_entropy(z, targets)[0]"
        )
    return np.asarray(out, dtype=np.float64)


def _resolve_grad_output(grad_output, out_shape: tuple) -> np.ndarray:
    if grad_output is None:
        return default_grad_output(out_shape)
    go = as_float_array(grad_output, "grad_output").astype(np.float64)
    if go.shape != out_shape:
        raise RuntimeError(
            f"grad_output must have the shape of f's output {out_shape}, got shape {go.shape}"
        )
    return go


def numerical_gradient(f: Callable, inputs, grad_output=None, eps: float = 1e-6) -> list[np.ndarray]:
    """Estimate the gradient of ``sum(f(*inputs) * grad_output)`` by centred differences.

    Parameters
    ----------
    f : callable
        ``f(*inputs)`` returns one array (or a float). Arguments that are not differentiated,
        such as integer targets, belong inside `f`: ``lambda z: cross_entropy(z, y)[0]``.
    inputs : list or tuple of ndarray
        The point at which to differentiate, one array per argument of `f`. Never modified.
    grad_output : ndarray, optional
        The upstream gradient, shaped like ``f``'s output. By default 1.0 for a scalar output,
        else fixed seeded random numbers (see :func:`default_grad_output` for why).
    eps : float
        Step size h.

    Returns
    -------
    list of ndarray of float64
        One gradient per input, each shaped like that input.

    Notes
    -----
    For each element :math:`x_k` of each input, with :math:`F(x) = \\sum f(x) \\odot g`:

    .. math:: \\frac{\\partial F}{\\partial x_k} \\approx
              \\frac{F(x + h e_k) - F(x - h e_k)}{2h}

    The error of this centred form is O(h^2), against O(h) for the one-sided
    :math:`(F(x + h e_k) - F(x)) / h`. It costs two evaluations of `f` per element, so keep the
    arrays small. Near a kink (ReLU at 0, max-pool ties) the slope is not defined; keep inputs
    more than `eps` away from such points.
    """
    xs = [
        # float64 whatever the input dtype: float32 carries ~7 significant digits, so with
        # h = 1e-6 the step is lost to rounding (x + h == x once |x| >= 32) and the difference
        # F(x+h) - F(x-h) would be mostly rounding noise divided by 2h.
        as_float_array(x, f"inputs[{i}]").astype(np.float64, copy=True)
        for i, x in enumerate(_inputs_as_list(inputs))
    ]
    out = _evaluate(f, xs)
    go = _resolve_grad_output(grad_output, out.shape)
    grads = []
    for x in xs:
        grad = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            old = x[idx]
            x[idx] = old + eps
            plus = np.sum(_evaluate(f, xs) * go)
            x[idx] = old - eps
            minus = np.sum(_evaluate(f, xs) * go)
            x[idx] = old  # restore exactly, not by adding eps back
            grad[idx] = (plus - minus) / (2 * eps)
        grads.append(grad)
    return grads


def rel_error(a, b) -> float:
    """Largest elementwise relative error between two arrays.

    Parameters
    ----------
    a, b : ndarray, same shape

    Returns
    -------
    float
        0.0 for identical (or empty) arrays.

    Notes
    -----
    CS231n's definition:

    .. math:: \\max_k \\frac{|a_k - b_k|}{\\max(10^{-8}, |a_k| + |b_k|)}

    The floor of 1e-8 keeps two tiny or zero entries from dividing by zero. As a rule of thumb
    in float64: above 1e-2 the gradient is probably wrong; below 1e-7 it is right.
    """
    a = as_float_array(a, "a").astype(np.float64)
    b = as_float_array(b, "b").astype(np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: a and b must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def gradcheck(
    f: Callable,
    inputs,
    analytic_grads,
    grad_output=None,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
) -> bool:
    """Compare analytic gradients with :func:`numerical_gradient`; raise if they disagree.

    Parameters
    ----------
    f : callable
        The forward function, ``f(*inputs)`` returning one array.
    inputs : list or tuple of ndarray
        Where to check. Never modified.
    analytic_grads : callable or list of ndarray
        Either a function ``grad_output -> [grad for each input]`` (it then receives exactly
        the `grad_output` the numerical side uses, so the default random one works), or the
        gradients already computed, in which case you must also pass the `grad_output` you
        computed them with (unless `f` returns a scalar, whose default is 1.0).
    grad_output : ndarray, optional
        See :func:`numerical_gradient`.
    eps : float
        Finite-difference step.
    rtol, atol : float
        Element k passes when ``|analytic_k - numerical_k| <= atol + rtol * |numerical_k|``.

    Returns
    -------
    bool
        True when every element of every gradient passes.

    Raises
    ------
    GradcheckError
        Naming the first failing input (its index), the maximum relative error
        (:func:`rel_error`), the worst element's position and both values there; or when
        `analytic_grads` has the wrong number of arrays or a wrong shape.

    Examples
    --------
    >>> from cnncourse.ops.activations import relu, relu_backward
    >>> x = np.array([[1.5, -0.3], [-2.0, 0.7]])
    >>> gradcheck(relu, [x], lambda g: [relu_backward(g, x)])
    True

    With gradients computed beforehand, pass the grad_output they were computed for:

    >>> g = np.ones_like(x)
    >>> gradcheck(relu, [x], [relu_backward(g, x)], grad_output=g)
    True

    A wrong backward (here: the gradient passed through unchanged) raises:

    >>> gradcheck(relu, [x], [g], grad_output=g)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cnncourse.gradcheck.GradcheckError: gradcheck failed for input 0 ...
    """
    xs = _inputs_as_list(inputs)
    if callable(analytic_grads):
        if grad_output is None:
            out = _evaluate(f, [as_float_array(x, f"inputs[{i}]") for i, x in enumerate(xs)])
            grad_output = default_grad_output(out.shape)
        analytic = analytic_grads(grad_output)
    else:
        analytic = analytic_grads
        if grad_output is None:
            out = _evaluate(f, [as_float_array(x, f"inputs[{i}]") for i, x in enumerate(xs)])
            if out.shape != ():
                raise TypeError(
                    f"analytic_grads were given as arrays, so pass the grad_output they were "
                    f"computed with (f's output has shape {out.shape}), or pass analytic_grads "
                    f"as a function of grad_output: lambda g: [my_backward(g, ...)]"
                )
    if isinstance(analytic, np.ndarray) or not isinstance(analytic, Sequence):
        raise GradcheckError(
            f"analytic gradients must be a list with one array per input, got "
            f"{type(analytic).__name__}"
        )
    if len(analytic) != len(xs):
        raise GradcheckError(
            f"got {len(analytic)} analytic gradients for {len(xs)} inputs; give one per input"
        )
    numeric = numerical_gradient(f, xs, grad_output=grad_output, eps=eps)
    for i, (a, n) in enumerate(zip(analytic, numeric)):
        a = as_float_array(a, f"analytic_grads[{i}]").astype(np.float64)
        if a.shape != n.shape:
            raise GradcheckError(
                f"gradcheck failed for input {i}: the analytic gradient has shape {a.shape} "
                f"but input {i} has shape {n.shape}"
            )
        diff = np.abs(a - n)
        allowed = atol + rtol * np.abs(n)
        if np.all(diff <= allowed):  # NaN fails this, as it should
            continue
        excess = np.where(np.isnan(diff), np.inf, diff / allowed)
        worst = np.unravel_index(np.argmax(excess), a.shape)
        pos = tuple(int(k) for k in worst)
        raise GradcheckError(
            f"gradcheck failed for input {i} (shape {a.shape}): max relative error "
            f"{rel_error(a, n):.3e}; worst element at index {pos}: analytic {a[worst]:.10g}, "
            f"numerical {n[worst]:.10g} (|difference| {diff[worst]:.3e} > atol + rtol * "
            f"|numerical| = {allowed[worst]:.3e})"
        )
    return True
