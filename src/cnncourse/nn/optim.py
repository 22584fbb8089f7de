"""Optimisers that update ``Parameter.data`` in place from ``Parameter.grad``, as torch.optim does.

Both follow PyTorch's update rules exactly (checked step by step against ``torch.optim`` in
the tests), so hyper-parameters tuned in one carry over to the other.
"""

from __future__ import annotations

import numbers

import numpy as np

from .base import Parameter

__all__ = ["SGD", "Adam", "Optimizer"]


def _check_hyper(name: str, value, low: float = 0.0, high: float | None = None,
                 inclusive_high: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    too_high = high is not None and (value > high if inclusive_high else value >= high)
    if value < low or too_high:
        raise ValueError(f"Invalid {name}: {value}")
    return float(value)


class Optimizer:
    """Base class: holds the parameter list; subclasses implement :meth:`step`."""

    def __init__(self, params):
        self.params: list[Parameter] = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Parameter):
                raise TypeError(f"optimizer can only optimize Parameters, but params[{i}] is a "
                                f"{type(p).__name__}; pass model.parameters()")
        self.state: list[dict] = [{} for _ in self.params]

    def zero_grad(self) -> None:
        """Forget every gradient (set to None, PyTorch's default ``set_to_none=True``)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        raise NotImplementedError(f"{type(self).__name__}.step is not implemented")


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and L2 weight decay.

    Parameters
    ----------
    params : iterable of Parameter
        Usually ``model.parameters()``.
    lr : float
        Learning rate.
    momentum : float
        Momentum factor (0 disables it).
    weight_decay : float
        L2 penalty coefficient added to the gradient.
    dampening : float
        Fraction of the new gradient left out of the momentum buffer.
    nesterov : bool
        Nesterov momentum (needs momentum > 0 and dampening 0).

    Notes
    -----
    PyTorch's formulation, where the learning rate multiplies the buffer rather than each
    gradient inside it:

    .. math:: g_t = \\nabla_\\theta L + \\lambda \\theta_{t-1}, \\quad
              b_t = \\mu b_{t-1} + (1 - \\tau) g_t \\ (b_1 = g_1), \\quad
              \\theta_t = \\theta_{t-1} - \\eta\\, b_t

    (with Nesterov, :math:`\\theta_t = \\theta_{t-1} - \\eta (g_t + \\mu b_t)`). Parameters
    whose ``grad`` is None are skipped.
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                 dampening: float = 0.0, nesterov: bool = False):
        super().__init__(params)
        self.lr = _check_hyper("learning rate", lr)
        self.momentum = _check_hyper("momentum value", momentum)
        self.weight_decay = _check_hyper("weight_decay value", weight_decay)
        self.dampening = _check_hyper("dampening value", dampening)
        if nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        self.nesterov = bool(nesterov)

    def step(self) -> None:
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            d = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad
            if self.momentum:
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = np.array(d, dtype=p.data.dtype, copy=True)
                else:
                    buf *= self.momentum
                    buf += (1 - self.dampening) * d if self.dampening else d
                state["momentum_buffer"] = buf
                d = d + self.momentum * buf if self.nesterov else buf
            p.data -= self.lr * d


class Adam(Optimizer):
    """Adam: per-parameter step sizes from running averages of the gradient and its square.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
    betas : (float, float)
        Decay rates of the first and second moment averages, each in [0, 1).
    eps : float
        Added to the denominator so that it is never 0.
    weight_decay : float
        L2 penalty added to the gradient (Adam's, not AdamW's decoupled decay).

    Notes
    -----
    With :math:`g_t` the gradient (plus :math:`\\lambda\\theta`) at step t = 1, 2, ...:

    .. math:: m_t = \\beta_1 m_{t-1} + (1 - \\beta_1) g_t, \\quad
              v_t = \\beta_2 v_{t-1} + (1 - \\beta_2) g_t^2

    .. math:: \\theta_t = \\theta_{t-1} - \\frac{\\eta}{1 - \\beta_1^t}
              \\frac{m_t}{\\sqrt{v_t} / \\sqrt{1 - \\beta_2^t} + \\epsilon}

    The divisions by :math:`1 - \\beta^t` undo the bias of averages that start at 0. This is
    where PyTorch places epsilon (outside the bias-corrected square root).
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params)
        self.lr = _check_hyper("learning rate", lr)
        self.eps = _check_hyper("epsilon value", eps)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair of floats, got {betas!r}")
        self.betas = tuple(
            _check_hyper(f"beta parameter at index {i}", b, 0.0, 1.0, inclusive_high=False)
            for i, b in enumerate(betas)
        )
        self.weight_decay = _check_hyper("weight_decay value", weight_decay)

    def step(self) -> None:
        b1, b2 = self.betas
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            g = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad
            if not state:
                state.update(step=0, exp_avg=np.zeros_like(p.data), exp_avg_sq=np.zeros_like(p.data))
            state["step"] += 1
            m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            denom = np.sqrt(v) / np.sqrt(1 - b2**t) + self.eps
            p.data -= (self.lr / (1 - b1**t) * m / denom).astype(p.data.dtype, copy=False)
