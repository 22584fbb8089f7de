"""What every layer shares: :class:`Parameter`, the :class:`Module` base class, the seeded RNG.

Random numbers (initial weights, dropout masks) come from numpy Generators. Pass ``rng=`` (a
Generator or an int seed) for a module of its own; without it the module draws from this
module's default generator, seeded with 0 when ``cnncourse.nn`` is imported and reset by
:func:`manual_seed`, so a script that builds its model the same way gets the same weights.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Iterator

import numpy as np

__all__ = ["Module", "Parameter", "manual_seed"]

#: Seed of the default generator when ``cnncourse.nn`` is first imported.
DEFAULT_SEED = 0
_default_generator = np.random.default_rng(DEFAULT_SEED)


def manual_seed(seed: int) -> None:
    """Reset the default generator that modules built without ``rng=`` draw from.

    Parameters
    ----------
    seed : int
        Like ``torch.manual_seed``: after ``manual_seed(s)`` the same sequence of module
        constructions gives the same weights.
    """
    global _default_generator
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int, got {seed!r}")
    _default_generator = np.random.default_rng(int(seed))


def _generator(rng) -> np.random.Generator:
    if rng is None:
        return _default_generator
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be None, an int seed or a numpy Generator, got {rng!r}")


def _float_dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _new_generator() -> np.random.Generator:
    """A generator of its own, seeded from the default one (for layers that draw every step)."""
    return np.random.default_rng(_default_generator.integers(2**63))


class Parameter:
    """A learnable array and the gradient the last backward passes accumulated for it.

    Attributes
    ----------
    data : ndarray
        The values an optimiser updates in place.
    grad : ndarray or None
        Same shape and dtype as `data`; None until a backward pass reaches this parameter
        (and again after ``zero_grad``).
    name : str
        "weight" or "bias"; :meth:`Module.named_parameters` gives the dotted path in a model.
    """

    __slots__ = ("data", "grad", "name")

    def __init__(self, data, name: str = ""):
        self.data = np.asarray(data)
        self.grad: np.ndarray | None = None
        self.name = name

    @property
    def shape(self) -> tuple:
        return self.data.shape

    def accumulate_grad(self, grad: np.ndarray) -> None:
        """Add `grad` to ``self.grad`` (kept in the parameter's dtype)."""
        grad = np.asarray(grad, dtype=self.data.dtype)
        self.grad = grad.copy() if self.grad is None else self.grad + grad

    def __repr__(self) -> str:
        return f"Parameter(name={self.name!r}, shape={self.data.shape}, dtype={self.data.dtype})"


def _backward(module: Module, grad_output: np.ndarray, input_grad: bool):
    """``module.backward(grad_output, input_grad=False)`` when the input gradient is not
    needed and the module's backward takes that argument (a module written before it existed,
    e.g. in a notebook, may not); the plain call otherwise."""
    if input_grad:
        return module.backward(grad_output)
    accepts = _ACCEPTS_INPUT_GRAD.get(type(module))
    if accepts is None:
        accepts = _ACCEPTS_INPUT_GRAD[type(module)] = (
            "input_grad" in inspect.signature(module.backward).parameters)
    return module.backward(grad_output, input_grad=False) if accepts else \
        module.backward(grad_output)


_ACCEPTS_INPUT_GRAD: dict[type, bool] = {}


class Module:
    """Base class: a layer with ``forward``, ``backward``, parameters and a train/eval mode."""

    #: Names of the attributes holding this module's own Parameters (None when absent).
    _param_names: tuple[str, ...] = ()

    def __init__(self):
        self.training = True
        self._input: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, grad_output: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """Gradient with respect to the input of the last forward call; parameter gradients
        are added to their ``.grad``. With ``input_grad=False`` (nothing needs it, as for the
        first layer of a network, whose input is the data) a layer may skip computing it and
        return None."""
        raise NotImplementedError(f"{type(self).__name__}.backward is not implemented")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def _saved_input(self) -> np.ndarray:
        if self._input is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward was called before forward: there is no saved "
                f"input to differentiate at; call the module on a batch first"
            )
        return self._input

    def children(self) -> Iterator[Module]:
        return iter(())

    def modules(self) -> Iterator[Module]:
        """This module, then every module inside it, depth first."""
        yield self
        for child in self.children():
            yield from child.modules()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for name in self._param_names:
            p = getattr(self, name)
            if p is not None:
                yield prefix + name, p

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active) on this module and all inside it; returns self."""
        for m in self.modules():
            m.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode (dropout off); returns self."""
        return self.train(False)

    def to(self, dtype) -> Module:
        """Cast every parameter to `dtype` (float32 or float64) and drop their gradients."""
        dt = _float_dtype(dtype)
        for p in self.parameters():
            p.data = p.data.astype(dt)
            p.grad = None
        return self

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"
