"""Layers as objects: thin wrappers that hold parameters and call the pure functions of ``ops``.

Each module's ``forward`` keeps what its ``backward`` needs; ``backward(grad_output)`` returns
the gradient with respect to the module's input and adds the parameter gradients to
``Parameter.grad`` (accumulating, as PyTorch does, until an optimiser's ``zero_grad``).
Initial weights follow PyTorch's defaults; see :mod:`cnncourse.nn.base` for the random numbers.

In training, Conv2d and MaxPool2d keep the activations and gradients of small images (up to 8x8)
stored images last, like PyTorch's ``channels_last``: shapes, indexing and values are the usual
(N, C, H, W) ones, only the strides differ (see ``cnncourse.ops._layout``), and the next layer
reads runs of N numbers instead of 4 or 8.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..ops._validate import pair
from ..ops.activations import relu, relu_backward
from ..ops.conv import _conv2d_backward_with_columns, _conv2d_keeping_columns, conv2d
from ..ops.linear import flatten, linear, linear_backward
from ..ops.pool import (
    _max_pool2d_backward_from_switches,
    _max_pool2d_with_switches,
    avg_pool2d,
    avg_pool2d_backward,
    max_pool2d,
    max_pool2d_backward,
)
from .base import Module, Parameter, _backward, _float_dtype, _generator, _new_generator

__all__ = [
    "AvgPool2d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "Linear",
    "MaxPool2d",
    "ReLU",
    "Sequential",
]


def _uniform(rng: np.random.Generator, bound: float, shape: tuple, dtype) -> np.ndarray:
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


class Conv2d(Module):
    """2-D convolution layer over an (N, C_in, H, W) batch, like ``torch.nn.Conv2d``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, dilation : int or pair of ints
    padding : int, pair of ints, "valid" or "same"
    groups : int
        Both channel counts must be divisible by it.
    bias : bool
    rng : numpy Generator or int, optional
        Source of the initial weights; without it, the default generator of
        :mod:`cnncourse.nn.base` (reset by :func:`~cnncourse.nn.manual_seed`).
    dtype : float32 (default) or float64

    Attributes
    ----------
    weight : Parameter, shape (out_channels, in_channels // groups, kH, kW)
    bias : Parameter, shape (out_channels,), or None

    Notes
    -----
    Initialisation as PyTorch: ``kaiming_uniform_(a=sqrt(5))`` for the weight, which is
    U(-b, b) with :math:`b = \\text{gain}\\sqrt{3 / \\text{fan\\_in}} = 1/\\sqrt{\\text{fan\\_in}}`
    (gain :math:`\\sqrt{2 / (1 + a^2)} = \\sqrt{1/3}`), and U(-b, b) for the bias, with
    ``fan_in = in_channels // groups * kH * kW``. The weight's standard deviation is then
    :math:`b / \\sqrt{3}`.
    """

    _param_names = ("weight", "bias")

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, *, rng=None, dtype=np.float32):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("groups", groups)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if in_channels % groups:
            raise ValueError(f"in_channels must be divisible by groups, got in_channels="
                             f"{in_channels} and groups={groups}")
        if out_channels % groups:
            raise ValueError(f"out_channels must be divisible by groups, got out_channels="
                             f"{out_channels} and groups={groups}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(stride, "stride")
        self.padding = padding if isinstance(padding, str) else pair(padding, "padding")
        self.dilation = pair(dilation, "dilation")
        dt = _float_dtype(dtype)
        fan_in = in_channels // groups * self.kernel_size[0] * self.kernel_size[1]
        bound = 1.0 / math.sqrt(fan_in)
        gen = _generator(rng)
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(_uniform(gen, bound, shape, dt), "weight")
        self.bias = Parameter(_uniform(gen, bound, (out_channels,), dt), "bias") if bias else None
        self._columns = None

    def _hyper(self) -> dict:
        return {"stride": self.stride, "padding": self.padding, "dilation": self.dilation,
                "groups": self.groups}

    def forward(self, x):
        self._input, self._columns = x, None
        b = None if self.bias is None else self.bias.data
        if not self.training:
            return conv2d(x, self.weight.data, b, **self._hyper())
        # Training: keep the im2col columns, which the weight gradient needs again.
        out, self._columns = _conv2d_keeping_columns(x, self.weight.data, b, **self._hyper())
        return out

    def backward(self, grad_output, *, input_grad: bool = True):
        gi, gw, gb = _conv2d_backward_with_columns(
            grad_output, self._saved_input(), self.weight.data, **self._hyper(),
            output_mask=(input_grad, True, self.bias is not None), columns=self._columns)
        self.weight.accumulate_grad(gw)
        if self.bias is not None:
            self.bias.accumulate_grad(gb)
        return gi

    def extra_repr(self) -> str:
        # PyTorch's format, so the two print the same for the same layer.
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class MaxPool2d(Module):
    """Max pooling over (N, C, H, W), like ``torch.nn.MaxPool2d``; no parameters.

    `stride` defaults to `kernel_size` (non-overlapping windows). The backward pass routes each
    output gradient to the input position that held the window's maximum. In training mode the
    forward pass records those positions (the "switches") for it; in eval mode a backward call
    finds them again from the saved input.
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation, self.ceil_mode = padding, dilation, ceil_mode
        self._switches = None

    def _hyper(self) -> dict:
        return {"kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding,
                "dilation": self.dilation, "ceil_mode": self.ceil_mode}

    def forward(self, x):
        self._input, self._switches = x, None
        if not self.training:
            return max_pool2d(x, **self._hyper())
        # Training: record where each maximum was (the switches) for the backward pass.
        out, self._switches = _max_pool2d_with_switches(x, **self._hyper())
        return out

    def backward(self, grad_output, *, input_grad: bool = True):
        if self._switches is not None:
            return _max_pool2d_backward_from_switches(grad_output, self._switches)
        return max_pool2d_backward(grad_output, self._saved_input(), **self._hyper())

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """Average pooling over (N, C, H, W), like ``torch.nn.AvgPool2d``; no parameters."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad = count_include_pad

    def _hyper(self) -> dict:
        return {"kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding,
                "ceil_mode": self.ceil_mode, "count_include_pad": self.count_include_pad}

    def forward(self, x):
        self._input = x
        return avg_pool2d(x, **self._hyper())

    def backward(self, grad_output, *, input_grad: bool = True):
        return avg_pool2d_backward(grad_output, self._saved_input(), **self._hyper())

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class ReLU(Module):
    """Elementwise ``max(0, x)``."""

    def forward(self, x):
        self._input = x
        return relu(x)

    def backward(self, grad_output, *, input_grad: bool = True):
        return relu_backward(grad_output, self._saved_input())


class Flatten(Module):
    """Merge axes ``start_dim..end_dim``; the default keeps the batch axis: (N, C, H, W) -> (N, C*H*W)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        self._input = x
        return flatten(x, self.start_dim, self.end_dim)

    def backward(self, grad_output, *, input_grad: bool = True):
        return np.reshape(grad_output, np.shape(self._saved_input()))

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Linear(Module):
    """Fully connected layer ``y = x W^T + b``, like ``torch.nn.Linear``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
    rng : numpy Generator or int, optional
    dtype : float32 (default) or float64

    Attributes
    ----------
    weight : Parameter, shape (out_features, in_features)
    bias : Parameter, shape (out_features,), or None

    Notes
    -----
    Weight and bias drawn from U(-b, b), :math:`b = 1/\\sqrt{\\text{in\\_features}}`, as
    PyTorch does (see :class:`Conv2d`).
    """

    _param_names = ("weight", "bias")

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, rng=None,
                 dtype=np.float32):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        self.in_features, self.out_features = in_features, out_features
        dt = _float_dtype(dtype)
        bound = 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
        gen = _generator(rng)
        self.weight = Parameter(_uniform(gen, bound, (out_features, in_features), dt), "weight")
        self.bias = Parameter(_uniform(gen, bound, (out_features,), dt), "bias") if bias else None

    def forward(self, x):
        self._input = x
        return linear(x, self.weight.data, None if self.bias is None else self.bias.data)

    def backward(self, grad_output, *, input_grad: bool = True):
        gi, gw, gb = linear_backward(grad_output, self._saved_input(), self.weight.data)
        self.weight.accumulate_grad(gw)
        if self.bias is not None:
            self.bias.accumulate_grad(gb)
        return gi

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Dropout(Module):
    """Inverted dropout: in training, zero each entry with probability `p` and scale the rest.

    Parameters
    ----------
    p : float
        Probability of zeroing an entry, in [0, 1].
    rng : numpy Generator or int, optional
        Source of the masks. Without it the layer takes a generator of its own, seeded from the
        default generator when it is built, so a model built after ``manual_seed(s)`` draws the
        same masks every run.

    Notes
    -----
    Training: :math:`y = x \\odot m / (1 - p)` with :math:`m_k \\sim \\text{Bernoulli}(1 - p)`,
    so :math:`E[y] = x` and nothing needs rescaling at test time. Evaluation: :math:`y = x`.
    The backward pass multiplies by the same :math:`m / (1 - p)`.
    """

    def __init__(self, p: float = 0.5, *, rng=None):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p!r}")
        self.p = float(p)
        self.rng = _generator(rng) if rng is not None else _new_generator()
        self._scale: np.ndarray | None = None

    def forward(self, x):
        x = np.asarray(x)
        if not self.training or self.p == 0:
            self._scale = None
            return x
        keep = self.rng.random(x.shape) >= self.p
        # p == 1 keeps nothing: the scale is 0, not 1/0.
        factor = 0.0 if self.p == 1 else 1.0 / (1.0 - self.p)
        self._scale = keep.astype(x.dtype if x.dtype.kind == "f" else np.float64) * factor
        return x * self._scale

    def backward(self, grad_output, *, input_grad: bool = True):
        return grad_output if self._scale is None else grad_output * self._scale

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Sequential(Module):
    """Modules applied in order; backward runs them in reverse.

    Examples
    --------
    >>> model = Sequential(Flatten(), Linear(64, 10))
    >>> model(np.zeros((2, 1, 8, 8), dtype=np.float32)).shape
    (2, 10)
    """

    def __init__(self, *modules: Module):
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: argument {i} must be a Module, got "
                                f"{type(m).__name__}")
        self.layers = list(modules)

    def forward(self, x):
        for m in self.layers:
            x = m(x)
        return x

    def backward(self, grad_output, *, input_grad: bool = True):
        for m in reversed(self.layers[1:]):
            grad_output = m.backward(grad_output)
        # Only the first layer may skip its input gradient: every other one feeds a layer.
        if self.layers:
            grad_output = _backward(self.layers[0], grad_output, input_grad)
        return grad_output

    def children(self):
        return iter(self.layers)

    def named_parameters(self, prefix: str = ""):
        for i, m in enumerate(self.layers):
            yield from m.named_parameters(f"{prefix}{i}.")

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self.layers[index])
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self) -> str:
        if not self.layers:
            return "Sequential()"
        lines = ["Sequential("]
        for i, m in enumerate(self.layers):
            child = repr(m).replace("\n", "\n  ")  # nested containers indent one more level
            lines.append(f"  ({i}): {child}")
        return "\n".join(lines + [")"])
