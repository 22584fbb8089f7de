"""Layer specifications: small frozen records that describe a network without holding weights.

A *spec* is a plain list of these records, in order. Each leaf record knows its own geometry
(:meth:`Conv.geometry` and friends): given the shape of the volume it receives, the shape it
produces, the shapes of its weight and bias, and the multiply-adds it performs. :func:`trace`
walks a whole spec, including the two composite blocks (:class:`Inception`, :class:`Residual`),
and is what ``summary``, ``receptive_field`` and ``forward_spec`` are built on.

Shapes are per image: ``(C, H, W)`` for a volume, ``(F,)`` for a flat vector.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import NamedTuple

from ..ops._validate import pair
from ..ops.padding import conv_output_size

__all__ = [
    "Conv",
    "Dropout",
    "Flatten",
    "Geometry",
    "GlobalAvgPool",
    "Inception",
    "Linear",
    "Pool",
    "ReLU",
    "Residual",
    "Step",
    "label",
    "output_shape",
    "trace",
]

Shape = tuple[int, ...]


class Geometry(NamedTuple):
    """What one layer does to a volume: output shape, parameter shapes, multiply-adds."""

    output_shape: Shape
    weight_shape: Shape | None = None
    bias_shape: Shape | None = None
    macs: int = 0


def _set(obj, name: str, value) -> None:
    object.__setattr__(obj, name, value)  # frozen dataclasses normalise in __post_init__


def _positive_int(value, name: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def _positive_pair(value, name: str, owner: str) -> tuple[int, int]:
    p = pair(value, f"{owner}: {name}")
    if min(p) < 1:
        raise ValueError(f"{owner}: {name} must be >= 1, got {value!r}")
    return p


def _non_negative_pair(value, name: str, owner: str) -> tuple[int, int]:
    p = pair(value, f"{owner}: {name}")
    if min(p) < 0:
        raise ValueError(f"{owner}: {name} must be >= 0, got {value!r}")
    return p


def _optional_positive(value, name: str, owner: str) -> int | None:
    return None if value is None else _positive_int(value, name, owner)


def _volume(shape: Shape, owner: str) -> Shape:
    if len(shape) != 3:
        raise RuntimeError(
            f"{owner}: expected a (C, H, W) volume, got shape {shape}; a flat vector cannot be "
            f"convolved or pooled"
        )
    return shape


def _size(shape: Shape, kernel, stride, padding, dilation, owner: str) -> tuple[int, int]:
    try:
        return conv_output_size(shape[1:], kernel, stride, padding, dilation)
    except ValueError as err:
        raise ValueError(f"{owner} on input {shape}: {err}") from None


@dataclass(frozen=True)
class Conv:
    """A 2-D convolution, as ``torch.nn.Conv2d`` without ``in_channels`` (read from the input).

    Parameters
    ----------
    out_channels : int
    kernel_size, stride, dilation : int or pair of ints
    padding : int, pair of ints, "same" or "valid"
    groups : int
        Both channel counts must be divisible by it.
    bias : bool
    in_channels : int, optional
        When given, the channels the layer must receive (checked when the spec is traced).
    name : str, optional
        A label for tables; the default is the seed's notation, e.g. ``CONV3-64``.

    Notes
    -----
    A layer reading C_in channels has ``out_channels * (C_in / groups) * kH * kW`` weights and
    performs that many multiply-adds at every one of its ``H_out * W_out`` output positions.
    """

    out_channels: int
    kernel_size: int | tuple[int, int]
    stride: int | tuple[int, int] = 1
    padding: int | tuple[int, int] | str = 0
    dilation: int | tuple[int, int] = 1
    groups: int = 1
    bias: bool = True
    in_channels: int | None = field(default=None, kw_only=True)
    name: str = field(default="", kw_only=True, compare=False)

    def __post_init__(self):
        owner = "Conv"
        _positive_int(self.out_channels, "out_channels", owner)
        _set(self, "kernel_size", _positive_pair(self.kernel_size, "kernel_size", owner))
        _set(self, "stride", _positive_pair(self.stride, "stride", owner))
        _set(self, "dilation", _positive_pair(self.dilation, "dilation", owner))
        _positive_int(self.groups, "groups", owner)
        _optional_positive(self.in_channels, "in_channels", owner)
        if isinstance(self.padding, str):
            if self.padding not in ("same", "valid"):
                raise ValueError(f"Conv: padding must be an int, a pair, 'same' or 'valid', "
                                 f"got {self.padding!r}")
            if self.padding == "same" and self.stride != (1, 1):
                raise ValueError("Conv: padding='same' is not supported for strided "
                                 f"convolutions (stride={self.stride}), as in PyTorch")
        else:
            _set(self, "padding", _non_negative_pair(self.padding, "padding", owner))
        if self.out_channels % self.groups:
            raise ValueError(f"Conv: out_channels must be divisible by groups, got "
                             f"out_channels={self.out_channels} and groups={self.groups}")

    def span(self) -> tuple[int, int]:
        """The extent a (dilated) kernel covers: ``d * (k - 1) + 1`` per axis."""
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation))

    def leading_padding(self) -> tuple[int, int]:
        """Zeros added before the first row/column (for 'same', PyTorch puts the odd one after)."""
        if self.padding == "valid":
            return (0, 0)
        if self.padding == "same":
            return tuple((s - 1) // 2 for s in self.span())
        return self.padding

    def geometry(self, input_shape: Shape) -> Geometry:
        c_in, h, w = _volume(input_shape, label(self))
        if self.in_channels is not None and c_in != self.in_channels:
            raise RuntimeError(f"{label(self)}: expected input to have {self.in_channels} "
                               f"channels, but got {c_in} channels (input {input_shape})")
        if c_in % self.groups:
            raise ValueError(f"{label(self)}: in_channels must be divisible by groups, got "
                             f"in_channels={c_in} and groups={self.groups}")
        if self.padding == "same":
            h_out, w_out = h, w  # what 'same' means; stride is 1 (checked above)
        else:
            pad = (0, 0) if self.padding == "valid" else self.padding
            h_out, w_out = _size(input_shape, self.kernel_size, self.stride, pad,
                                 self.dilation, label(self))
        weight = (self.out_channels, c_in // self.groups, *self.kernel_size)
        per_output = weight[1] * weight[2] * weight[3]
        return Geometry((self.out_channels, h_out, w_out), weight,
                        (self.out_channels,) if self.bias else None,
                        self.out_channels * h_out * w_out * per_output)


@dataclass(frozen=True)
class Pool:
    """Max or average pooling over each channel, as ``torch.nn.MaxPool2d``/``AvgPool2d``.

    Parameters
    ----------
    kind : {"max", "avg"}
    kernel_size : int or pair of ints
    stride : int or pair of ints, optional
        Defaults to `kernel_size` (non-overlapping windows).
    padding : int or pair of ints
        At most half the kernel, as PyTorch requires.
    """

    kind: str = "max"
    kernel_size: int | tuple[int, int] = 2
    stride: int | tuple[int, int] | None = None
    padding: int | tuple[int, int] = 0
    name: str = field(default="", kw_only=True, compare=False)

    def __post_init__(self):
        owner = "Pool"
        if self.kind not in ("max", "avg"):
            raise ValueError(f"Pool: kind must be 'max' or 'avg', got {self.kind!r}")
        _set(self, "kernel_size", _positive_pair(self.kernel_size, "kernel_size", owner))
        stride = self.kernel_size if self.stride is None else self.stride
        _set(self, "stride", _positive_pair(stride, "stride", owner))
        _set(self, "padding", _non_negative_pair(self.padding, "padding", owner))
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"Pool: padding should be at most half of the kernel size, got "
                             f"padding={self.padding} and kernel_size={self.kernel_size}")

    def span(self) -> tuple[int, int]:
        return self.kernel_size

    def leading_padding(self) -> tuple[int, int]:
        return self.padding

    def geometry(self, input_shape: Shape) -> Geometry:
        c, _, _ = _volume(input_shape, label(self))
        h_out, w_out = _size(input_shape, self.kernel_size, self.stride, self.padding, 1,
                             label(self))
        return Geometry((c, h_out, w_out))


@dataclass(frozen=True)
class _Elementwise:
    """Base of the layers that keep the shape of what they receive."""

    name: str = field(default="", kw_only=True, compare=False)

    def geometry(self, input_shape: Shape) -> Geometry:
        return Geometry(tuple(input_shape))


@dataclass(frozen=True)
class ReLU(_Elementwise):
    """``max(0, x)`` elementwise; no parameters."""


@dataclass(frozen=True)
class Dropout(_Elementwise):
    """Zero each value with probability `p` while training; the identity at test time."""

    p: float = 0.5

    def __post_init__(self):
        if not 0.0 <= self.p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {self.p!r}")


@dataclass(frozen=True)
class Flatten:
    """Lay a (C, H, W) volume out as a vector of C*H*W values in C, H, W (row-major) order."""

    name: str = field(default="", kw_only=True, compare=False)

    def geometry(self, input_shape: Shape) -> Geometry:
        n = 1
        for d in input_shape:
            n *= d
        return Geometry((n,))


@dataclass(frozen=True)
class GlobalAvgPool:
    """Mean of each channel over all positions: (C, H, W) -> (C, 1, 1), no parameters."""

    name: str = field(default="", kw_only=True, compare=False)

    def geometry(self, input_shape: Shape) -> Geometry:
        c, _, _ = _volume(input_shape, label(self))
        return Geometry((c, 1, 1))


@dataclass(frozen=True)
class Linear:
    """A fully connected layer, as ``torch.nn.Linear`` (``in_features`` read from the input).

    The input must be a flat vector: put a :class:`Flatten` after the last volume.
    """

    out_features: int
    bias: bool = True
    in_features: int | None = field(default=None, kw_only=True)
    name: str = field(default="", kw_only=True, compare=False)

    def __post_init__(self):
        _positive_int(self.out_features, "out_features", "Linear")
        _optional_positive(self.in_features, "in_features", "Linear")

    def geometry(self, input_shape: Shape) -> Geometry:
        if len(input_shape) != 1:
            raise RuntimeError(f"{label(self)}: expected a flat input (features,), got volume "
                               f"{input_shape}; insert Flatten() before the first Linear")
        (n_in,) = input_shape
        if self.in_features is not None and n_in != self.in_features:
            raise RuntimeError(f"{label(self)}: expected {self.in_features} input features, "
                               f"got {n_in}")
        return Geometry((self.out_features,), (self.out_features, n_in),
                        (self.out_features,) if self.bias else None, self.out_features * n_in)


LEAVES = (Conv, Pool, ReLU, Dropout, Flatten, GlobalAvgPool, Linear)


def _layers(value, owner: str) -> tuple:
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{owner} must be a list of layer specs, got {type(value).__name__}")
    for i, layer in enumerate(value):
        if not isinstance(layer, (*LEAVES, Inception, Residual)):
            raise TypeError(f"{owner}[{i}] must be a layer spec (Conv, Pool, ReLU, ...), got "
                            f"{type(layer).__name__}")
    return tuple(value)


@dataclass(frozen=True)
class Inception:
    """Parallel branches applied to the same input, their outputs concatenated on channels.

    Every branch must produce the same H and W; the output has the sum of their channels.
    """

    branches: tuple
    name: str = field(default="", kw_only=True, compare=False)

    def __post_init__(self):
        if not isinstance(self.branches, (list, tuple)) or not self.branches:
            raise ValueError("Inception: branches must be a non-empty list of layer lists")
        _set(self, "branches", tuple(_layers(b, f"Inception.branches[{i}]")
                                     for i, b in enumerate(self.branches)))
        for i, b in enumerate(self.branches):
            if not b:
                raise ValueError(f"Inception: branch {i} is empty")


@dataclass(frozen=True)
class Residual:
    """``body(x) + shortcut(x)``: an empty `shortcut` is the identity (ResNet's skip)."""

    body: tuple
    shortcut: tuple = ()
    name: str = field(default="", kw_only=True, compare=False)

    def __post_init__(self):
        _set(self, "body", _layers(self.body, "Residual.body"))
        _set(self, "shortcut", _layers(self.shortcut, "Residual.shortcut"))
        if not self.body:
            raise ValueError("Residual: body is empty")


def label(layer) -> str:
    """The layer's name, or a default in the seed's notation (``CONV3-64``, ``POOL2``, ``FC-10``)."""
    if layer.name:
        return layer.name
    if isinstance(layer, Conv):
        kh, kw = layer.kernel_size
        return f"CONV{kh if kh == kw else f'{kh}x{kw}'}-{layer.out_channels}"
    if isinstance(layer, Pool):
        kh, kw = layer.kernel_size
        return f"{'POOL' if layer.kind == 'max' else 'AVGPOOL'}{kh if kh == kw else f'{kh}x{kw}'}"
    if isinstance(layer, Linear):
        return f"FC-{layer.out_features}"
    return {ReLU: "RELU", Dropout: "DROPOUT", Flatten: "FLATTEN", GlobalAvgPool: "GAP",
            Inception: "CONCAT", Residual: "ADD"}[type(layer)]


class Step(NamedTuple):
    """One row of a traced spec.

    ``key`` is the dotted path of the layer (``"3"``, ``"5.branches.1.0"``, ``"6.body.2"``),
    the prefix of its parameter names (``"3.weight"``). A composite block gets a row of its own,
    after the rows of its parts, for the concatenation or addition.
    """

    key: str
    layer: object
    input_shape: Shape
    geometry: Geometry


def check_input_shape(input_shape, owner: str) -> Shape:
    """Validate a per-image shape: (C, H, W) or (F,) with positive ints."""
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) not in (1, 3) or not all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in input_shape
    ):
        raise TypeError(f"{owner}: input_shape must be a tuple (C, H, W) or (F,) of ints, got "
                        f"{input_shape!r}")
    if min(input_shape) < 1:
        raise ValueError(f"{owner}: input_shape must be positive, got {tuple(input_shape)}")
    return tuple(int(d) for d in input_shape)


def _trace(layers, shape: Shape, prefix: str, steps: list) -> Shape:
    for i, layer in enumerate(layers):
        key = f"{prefix}{i}"
        if isinstance(layer, Inception):
            outs = [_trace(b, shape, f"{key}.branches.{j}.", steps)
                    for j, b in enumerate(layer.branches)]
            if any(len(o) != 3 or o[1:] != outs[0][1:] for o in outs):
                raise RuntimeError(f"{key} (Inception): branches must all give (C, H, W) "
                                   f"volumes of the same H and W to concatenate, got {outs}")
            out = (sum(o[0] for o in outs), *outs[0][1:])
        elif isinstance(layer, Residual):
            body = _trace(layer.body, shape, f"{key}.body.", steps)
            skip = _trace(layer.shortcut, shape, f"{key}.shortcut.", steps)
            if body != skip:
                raise RuntimeError(
                    f"{key} (Residual): the body gives {body} but the shortcut gives {skip}; "
                    f"they must match to be added (use a 1x1 projection shortcut)")
            out = body
        else:
            try:
                geom = layer.geometry(shape)
            except (RuntimeError, ValueError) as err:
                raise type(err)(f"layer {key}: {err}") from None
            steps.append(Step(key, layer, shape, geom))
            shape = geom.output_shape
            continue
        steps.append(Step(key, layer, shape, Geometry(out)))
        shape = out
    return shape


def trace(spec, input_shape) -> list[Step]:
    """Propagate `input_shape` through `spec`, one :class:`Step` per layer (depth first).

    Parameters
    ----------
    spec : list of layer specs
    input_shape : tuple (C, H, W) or (F,)

    Returns
    -------
    list of Step
        Raises RuntimeError naming the layer where the shapes stop fitting.

    Examples
    --------
    >>> [s.geometry.output_shape for s in trace([Conv(6, 5), Pool()], (1, 32, 32))]
    [(6, 28, 28), (6, 14, 14)]
    """
    steps: list[Step] = []
    _trace(_layers(spec, "spec"), check_input_shape(input_shape, "trace"), "", steps)
    return steps


def output_shape(spec, input_shape) -> Shape:
    """The shape `spec` turns `input_shape` into (the input shape for an empty spec).

    Examples
    --------
    >>> output_shape([Conv(96, 11, stride=4)], (3, 227, 227))
    (96, 55, 55)
    """
    shape = check_input_shape(input_shape, "output_shape")
    return _trace(_layers(spec, "spec"), shape, "", [])
