"""The training loop: mini-batches, cross-entropy, backward, optimiser step, and the record of it."""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ..ops.losses import cross_entropy
from .base import Module, _backward

__all__ = ["History", "evaluate", "fit", "predict"]


@dataclass
class History:
    """What :func:`fit` measured, one entry per epoch.

    Attributes
    ----------
    train_loss, train_accuracy : list of float
        Averaged over the epoch's mini-batches as they were trained on (weighted by batch size),
        so they lag slightly behind the model at the end of the epoch.
    val_loss, val_accuracy : list of float
        On the validation set after each epoch, in evaluation mode; empty without one.
    time : list of float
        Wall-clock seconds per epoch (training and validation).
    """

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def as_dict(self) -> dict[str, list[float]]:
        """The five lists by name (copies), e.g. for ``pandas.DataFrame(history.as_dict())``."""
        return asdict(self)


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _model_dtype(model: Module) -> np.dtype:
    for p in model.parameters():
        return p.data.dtype
    return np.dtype(np.float64)


def _check_data(x, y, suffix: str, dtype) -> tuple[np.ndarray, np.ndarray]:
    xn, yn = "x" + suffix, "y" + suffix
    x = np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise TypeError(f"{xn} must hold real numbers, got dtype {x.dtype}")
    # Batches in the parameters' dtype: float64 data would silently run a float32 model in
    # float64, twice as slow.
    x = x.astype(dtype, copy=False)
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise RuntimeError(f"{yn} must be a 1-D array of integer class labels, got dtype "
                           f"{y.dtype} and shape {y.shape}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{xn} and {yn} must hold the same number of samples, got "
                         f"{x.shape[0]} and {y.shape[0]}")
    if y.shape[0] == 0:
        raise ValueError(f"{xn} and {yn} are empty")
    return x, y


def _forward_in_batches(model: Module, x: np.ndarray, batch_size: int) -> np.ndarray:
    """Logits for all of `x`, in evaluation mode (the model's mode is restored afterwards)."""
    modes = [m.training for m in model.modules()]
    model.eval()
    try:
        return np.concatenate([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    finally:
        for m, mode in zip(model.modules(), modes):
            m.training = mode


def evaluate(model: Module, x, y, batch_size: int = 256) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of `model` on (x, y), in evaluation mode.

    Parameters
    ----------
    model : Module
    x : ndarray, shape (N, ...)
    y : ndarray of int, shape (N,)
    batch_size : int
        Samples per forward pass (only memory depends on it).

    Returns
    -------
    loss : float
    accuracy : float
        Fraction of samples whose largest logit is the correct class.
    """
    batch_size = _check_positive_int(batch_size, "batch_size")
    x, y = _check_data(x, y, "", _model_dtype(model))
    logits = _forward_in_batches(model, x, batch_size)
    loss, _ = cross_entropy(logits, y)
    return loss, float(np.mean(logits.argmax(axis=1) == y))


def predict(model: Module, x, batch_size: int = 256) -> np.ndarray:
    """Predicted class of each sample: the index of its largest logit, in evaluation mode.

    Parameters
    ----------
    model : Module
    x : ndarray, shape (N, ...)
    batch_size : int

    Returns
    -------
    ndarray of int64, shape (N,)
    """
    batch_size = _check_positive_int(batch_size, "batch_size")
    x = np.asarray(x).astype(_model_dtype(model), copy=False)
    return _forward_in_batches(model, x, batch_size).argmax(axis=1)


def fit(model: Module, x_train, y_train, *, epochs: int, batch_size: int = 64, optimizer,
        x_val=None, y_val=None, seed: int = 0, progress: bool = True) -> History:
    """Train `model` with mini-batch gradient descent on the softmax cross-entropy.

    Parameters
    ----------
    model : Module
        Maps a batch (B, ...) to logits (B, num_classes). Put in training mode here.
    x_train : ndarray, shape (N, ...)
        Cast to the dtype of the model's parameters.
    y_train : ndarray of int, shape (N,)
    epochs : int
        Passes over the training set.
    batch_size : int
        Samples per step; the last batch of an epoch may be smaller.
    optimizer : Optimizer
        Built on ``model.parameters()``, e.g. ``SGD(model.parameters(), lr=0.1, momentum=0.9)``.
    x_val, y_val : ndarray, optional
        Evaluated after every epoch.
    seed : int
        Seeds the order in which samples are visited (a fresh permutation each epoch). With
        the same model initialisation the same seed gives the same history, number for number.
        Dropout masks come from the Dropout layers' own generators, not from this seed.
    progress : bool
        Show a tqdm progress bar (on stderr) with the running loss and accuracy.

    Returns
    -------
    History

    Notes
    -----
    One step on a batch (X, t): ``logits = model(X)``, ``loss, g = cross_entropy(logits, t)``,
    ``optimizer.zero_grad()``, ``model.backward(g)``, ``optimizer.step()``.
    """
    epochs = _check_positive_int(epochs, "epochs")
    batch_size = _check_positive_int(batch_size, "batch_size")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int, got {seed!r}")
    if (x_val is None) != (y_val is None):
        raise ValueError("give both x_val and y_val, or neither")
    dtype = _model_dtype(model)
    x_train, y_train = _check_data(x_train, y_train, "_train", dtype)
    if x_val is not None:
        x_val, y_val = _check_data(x_val, y_val, "_val", dtype)

    rng = np.random.default_rng(seed)
    n = len(x_train)
    steps = math.ceil(n / batch_size)
    history = History()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs * steps, unit="batch", dynamic_ncols=True)
    try:
        for epoch in range(epochs):
            start = time.perf_counter()
            model.train()
            order = rng.permutation(n)
            loss_sum, correct = 0.0, 0
            for k in range(steps):
                idx = order[k * batch_size:(k + 1) * batch_size]
                xb, yb = x_train[idx], y_train[idx]
                logits = model(xb)
                loss, grad = cross_entropy(logits, yb)
                optimizer.zero_grad()
                _backward(model, grad, input_grad=False)  # the data needs no gradient
                optimizer.step()
                loss_sum += loss * len(idx)
                correct += int(np.sum(logits.argmax(axis=1) == yb))
                if bar is not None:
                    seen = min((k + 1) * batch_size, n)
                    bar.set_description(f"epoch {epoch + 1}/{epochs}", refresh=False)
                    bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.4f}",
                                    refresh=False)
                    bar.update(1)
            history.train_loss.append(loss_sum / n)
            history.train_accuracy.append(correct / n)
            if x_val is not None:
                val_loss, val_acc = evaluate(model, x_val, y_val)
                history.val_loss.append(val_loss)
                history.val_accuracy.append(val_acc)
                if bar is not None:
                    bar.set_postfix(loss=f"{loss_sum / n:.4f}", acc=f"{correct / n:.4f}",
                                    val_loss=f"{val_loss:.4f}", val_acc=f"{val_acc:.4f}")
            history.time.append(time.perf_counter() - start)
    finally:
        if bar is not None:
            bar.close()
    return history
