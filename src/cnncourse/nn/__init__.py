"""Thin, ungraded layer objects, optimisers and a training loop over the pure functions of ``ops``.

PyTorch's names and meanings throughout (``Conv2d``, ``SGD``, ``model.eval()``, ...), with one
difference that is the point of the course: there is no autograd. Every module has an explicit
``backward(grad_output)``, and a training step reads::

    logits = model(x)
    loss, grad = cross_entropy(logits, y)
    optimizer.zero_grad()
    model.backward(grad)
    optimizer.step()

Submodules: ``base`` (:class:`Module`, :class:`Parameter`, :func:`manual_seed`), ``modules``
(the layers), ``optim`` (:class:`SGD`, :class:`Adam`) and ``training`` (:func:`fit`,
:func:`evaluate`, :func:`predict`).
"""

from .base import Module, Parameter, manual_seed
from .modules import (
    AvgPool2d,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
)
from .optim import SGD, Adam, Optimizer
from .training import History, evaluate, fit, predict

__all__ = [
    "SGD",
    "Adam",
    "AvgPool2d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "History",
    "Linear",
    "MaxPool2d",
    "Module",
    "Optimizer",
    "Parameter",
    "ReLU",
    "Sequential",
    "evaluate",
    "fit",
    "manual_seed",
    "predict",
]
