"""Class labels as one-hot vectors, and the softmax cross-entropy loss with its gradient."""

from __future__ import annotations

import numbers

import numpy as np

from ._validate import as_float_array
from .activations import _exponentials

__all__ = ["cross_entropy", "one_hot"]


def _as_class_indices(x, name: str, op: str, requirement: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        raise RuntimeError(
            f"{op}: expected {name} to hold integer class indices, got dtype {arr.dtype} "
            f"(PyTorch: {requirement})"
        )
    return arr


def one_hot(tensor, num_classes: int = -1) -> np.ndarray:
    """Encode integer class labels as rows with a single 1, like ``F.one_hot``.

    Parameters
    ----------
    tensor : ndarray of int, shape (*)
        Class indices in ``[0, num_classes)``.
    num_classes : int
        Length of each one-hot vector; -1 uses ``tensor.max() + 1``.

    Returns
    -------
    ndarray of int64, shape (*, num_classes)
        ``out[..., c] = 1`` where ``tensor[...] == c``, 0 elsewhere.

    Raises
    ------
    RuntimeError
        Non-integer labels, negative labels, labels >= `num_classes`, or an empty `tensor`
        with ``num_classes=-1`` (there is no maximum to infer the count from).

    Examples
    --------
    With classes (Rome, Paris, London), Rome is 0 and Paris is 1:

    >>> one_hot(np.array([0, 1]), num_classes=3)
    array([[1, 0, 0],
           [0, 1, 0]])
    """
    labels = _as_class_indices(
        tensor, "tensor", "one_hot", "one_hot is only applicable to index tensor of type LongTensor"
    )
    if not isinstance(num_classes, numbers.Integral) or isinstance(num_classes, bool):
        raise TypeError(f"num_classes must be an int, got {num_classes!r}")
    if num_classes == -1 and labels.size == 0:
        raise RuntimeError(
            "Can not infer total number of classes from empty tensor. "
            "Pass num_classes for an empty tensor."
        )
    if labels.size and labels.min() < 0:
        raise RuntimeError(
            f"Class values must be non-negative. Got minimum class value {labels.min()}"
        )
    if num_classes == -1:
        num_classes = int(labels.max()) + 1
    elif labels.size and labels.max() >= num_classes:
        raise RuntimeError(
            f"Class values must be smaller than num_classes. Got maximum class value "
            f"{labels.max()} with num_classes={num_classes}"
        )
    elif num_classes < 0:
        raise RuntimeError(f"num_classes must be -1 or non-negative, got {num_classes}")
    return (labels[..., None] == np.arange(num_classes)).astype(np.int64)


def cross_entropy(logits, targets) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy over a batch, and its gradient with respect to the logits.

    Parameters
    ----------
    logits : ndarray, shape (N, C)
        Unnormalised scores for N samples and C classes (the output of the last
        :func:`~cnncourse.ops.linear.linear`, before any softmax).
    targets : ndarray of int, shape (N,)
        The correct class of each sample, in ``[0, C)``.

    Returns
    -------
    loss : float
        ``F.cross_entropy(logits, targets)`` (mean reduction).
    grad_logits : ndarray, shape (N, C)
        d loss / d logits, same dtype as `logits`.

    Raises
    ------
    ValueError
        N differs between `logits` and `targets`.
    IndexError
        A target outside ``[0, C)``. (PyTorch's ``ignore_index=-100`` is not supported.)
    RuntimeError
        Wrong ranks or non-integer targets.

    Notes
    -----
    With :math:`p = \\mathrm{softmax}(z)` row by row and :math:`t_n` the target of row n:

    .. math:: L = -\\frac{1}{N} \\sum_n \\log p_{n, t_n}, \\qquad
              \\frac{\\partial L}{\\partial z_{nc}} = \\frac{p_{nc} - [c = t_n]}{N}

    ``log p`` is computed as :func:`~cnncourse.ops.activations.log_softmax` does it,
    :math:`\\log p_{nc} = s_{nc} - \\log \\sum_k e^{s_{nk}}` with :math:`s = z - \\max_k z_{nk}`,
    never as ``log(softmax(z))``, which is ``log(0) = -inf`` once a logit trails the largest by
    about 745 (about 104 in float32), where its exponential underflows to 0.

    Examples
    --------
    >>> loss, grad = cross_entropy(np.zeros((2, 4)), np.array([0, 3]))
    >>> round(loss, 4)  # log(4): uniform scores over 4 classes
    1.3863
    """
    z = as_float_array(logits, "logits")
    t = _as_class_indices(
        targets, "targets", "cross_entropy", "expected target dtype to be Long or Byte"
    )
    if z.ndim != 2:
        raise RuntimeError(
            f"cross_entropy: expected logits of shape (N, C), got logits of shape {z.shape}"
        )
    if t.ndim != 1:
        raise RuntimeError(
            f"cross_entropy: expected targets of shape (N,), got targets of shape {t.shape}"
        )
    n, c = z.shape
    if t.shape[0] != n:
        raise ValueError(
            f"Expected input batch_size ({n}) to match target batch_size ({t.shape[0]}). "
            f"logits has shape {z.shape} and targets has shape {t.shape}"
        )
    bad = (t < 0) | (t >= c)
    if bad.any():
        raise IndexError(
            f"Target {t[np.argmax(bad)]} is out of bounds. Targets must lie in [0, {c - 1}] "
            f"for logits with C = {c} classes"
        )
    if n == 0:
        return float("nan"), np.zeros_like(z)  # a mean over nothing, as in PyTorch
    # log_softmax's steps, keeping the exponentials for the gradient (one small array operation
    # fewer than exponentiating log p again, and a sum, not np.mean: each costs microseconds at
    # this size, every batch)
    s, e, sums = _exponentials(z, 1)
    rows = np.arange(n)
    with np.errstate(divide="ignore", invalid="ignore"):  # as in log_softmax
        loss = (np.log(sums[:, 0]) - s[rows, t]).sum() / n
        grad = e / sums  # softmax, minus the one-hot targets, over n
    grad[rows, t] -= 1
    grad /= n
    return float(loss), grad
