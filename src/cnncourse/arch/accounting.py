"""Layer-by-layer accounting of a network: volumes, activations, parameters, multiply-adds, memory.

The counting rules (the same ones the course's VGG-16 table follows):

* **activations** of a layer: the values in its output volume, C*H*W per image. The input
  image is the first row. A layer that writes over its input (ReLU and dropout, applied in
  place as Caffe and ``inplace=True`` do, and the addition of a residual block) or merely
  reshapes it (flatten) adds no new memory: its row shows the volume but is not counted in
  the totals, unless ``inplace_activations=False``.
* **weights** and **biases** separately; params = weights + biases.
* **flops**: multiply-adds (MACs) of convolutions and FC layers. Comparisons (max pool, ReLU)
  and additions (average pool, bias, residual) are not counted.
* **memory** in bytes per image, ``bytes_per_value`` (4 for float32) per number. Training
  keeps every activation and its gradient (2x), and every parameter, its gradient and
  ``optimizer_slots`` more arrays of the same size (1 for momentum, 2 for Adam): that is
  (2 + optimizer_slots)x the parameter memory. MiB in the table are 2**20 bytes, dividing by
  1024 twice as the seed says.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from .layers import Dropout, Flatten, ReLU, Residual, check_input_shape, label, trace
from .network import spec_from_model

__all__ = ["MIB", "Summary", "SummaryRow", "summary"]

#: Bytes in a mebibyte, the "MB" of the seed's divide-by-1024 rule.
MIB = 2**20


@dataclass(frozen=True)
class SummaryRow:
    """One layer of a :class:`Summary`.

    Attributes
    ----------
    key : str
        Dotted path of the layer in the spec ("" for the input row); parameters are named
        ``key + ".weight"`` and ``key + ".bias"``.
    name : str
        Display name (``CONV3-64``, ``POOL2``, ``FC-4096``, ...).
    kind : str
        The spec class name ("Input" for the first row).
    output_shape : tuple
        (C, H, W) or (F,).
    activations : int
        Values in the output volume.
    storage : {"new", "in place", "view"}
        Whether the layer allocates its output; only "new" rows count in the totals.
    weights, biases : int
    flops : int
        Multiply-adds.
    weight_shape, bias_shape : tuple or None
    """

    key: str
    name: str
    kind: str
    output_shape: tuple
    activations: int
    storage: str
    weights: int
    biases: int
    flops: int
    weight_shape: tuple | None = None
    bias_shape: tuple | None = None

    @property
    def params(self) -> int:
        return self.weights + self.biases

    @property
    def counted(self) -> bool:
        return self.storage == "new"


class Summary:
    """The accounting of one network for one input size; ``print`` it for the table.

    Attributes
    ----------
    rows : list of SummaryRow
        The input first, then every layer (the parts of a composite block before its row).
    input_shape, output_shape : tuple
    total_weights, total_biases, total_params : int
    total_activations : int
        Values in the counted rows, input included.
    total_flops : int
        Multiply-adds for one image.
    activation_memory_forward : int
        ``total_activations * bytes_per_value`` bytes.
    activation_memory_training : int
        Twice that: every activation and its gradient.
    param_memory : int
        ``total_params * bytes_per_value`` bytes.
    param_memory_training : int
        ``param_memory * (2 + optimizer_slots)``: parameters, gradients, optimiser state.
    bytes_per_value, optimizer_slots : int
    """

    def __init__(self, rows, input_shape, bytes_per_value: int, optimizer_slots: int):
        self.rows = list(rows)
        self.input_shape = tuple(input_shape)
        self.output_shape = self.rows[-1].output_shape
        self.bytes_per_value = bytes_per_value
        self.optimizer_slots = optimizer_slots
        self.total_weights = sum(r.weights for r in self.rows)
        self.total_biases = sum(r.biases for r in self.rows)
        self.total_params = self.total_weights + self.total_biases
        self.total_activations = sum(r.activations for r in self.rows if r.counted)
        self.total_flops = sum(r.flops for r in self.rows)
        self.activation_memory_forward = self.total_activations * bytes_per_value
        self.activation_memory_training = 2 * self.activation_memory_forward
        self.param_memory = self.total_params * bytes_per_value
        self.param_memory_training = self.param_memory * (2 + optimizer_slots)

    def __str__(self) -> str:
        header = ("layer", "key", "output", "activations", "weights", "biases", "MACs")
        lines = []
        for r in self.rows:
            acts = f"{r.activations:,}" + ("" if r.counted else f" ({r.storage})")
            lines.append((r.name, r.key, "x".join(map(str, r.output_shape)), acts,
                          f"{r.weights:,}", f"{r.biases:,}", f"{r.flops:,}"))
        width = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]

        def fmt(row):
            left = [row[i].ljust(width[i]) for i in range(3)]
            return "  ".join(left + [row[i].rjust(width[i]) for i in range(3, len(row))])

        rule = "-" * len(fmt(header))
        b, slots = self.bytes_per_value, self.optimizer_slots
        footer = [
            f"total activations: {self.total_activations:,} (input included)",
            (f"total params: {self.total_params:,} ({self.total_weights:,} weights + "
             f"{self.total_biases:,} biases)"),
            f"total MACs: {self.total_flops:,}",
            (f"activation memory: {_bytes(self.activation_memory_forward)} forward, "
             f"{_bytes(self.activation_memory_training)} with gradients ({b} bytes per value)"),
            (f"parameter memory: {_bytes(self.param_memory)}, "
             f"{_bytes(self.param_memory_training)} training (x{2 + slots}: params, grads, "
             f"{slots} optimiser slot{'s' if slots != 1 else ''})"),
        ]
        return "\n".join([fmt(header), rule, *map(fmt, lines), rule, *footer])

    __repr__ = __str__


def _bytes(n: int) -> str:
    return f"{n:,} bytes ({n / MIB:,.1f} MiB)"


def _storage(layer, inplace: bool) -> str:
    if isinstance(layer, Flatten):
        return "view"
    if isinstance(layer, (ReLU, Dropout, Residual)):
        return "in place" if inplace else "new"
    return "new"


def _count(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"summary: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def summary(spec_or_model, input_shape, *, bytes_per_value: int = 4, optimizer_slots: int = 1,
            inplace_activations: bool = True) -> Summary:
    """Volumes, activations, parameters, multiply-adds and memory of a network, per layer.

    Parameters
    ----------
    spec_or_model : list of layer specs, or a ``cnncourse.nn`` module
        A model is converted with ``spec_from_model``.
    input_shape : tuple (C, H, W) or (F,)
        One image.
    bytes_per_value : int
        4 for float32, 8 for float64.
    optimizer_slots : int
        Arrays the optimiser keeps per parameter (0 plain SGD, 1 momentum, 2 Adam).
    inplace_activations : bool
        Whether ReLU, dropout and residual additions reuse their input's memory.

    Returns
    -------
    Summary

    Notes
    -----
    For a conv layer with C_in input channels, output (C_out, H_out, W_out), a kH x kW kernel
    and g groups:

    .. math::
        \\text{weights} = C_{out} \\frac{C_{in}}{g} k_H k_W, \\quad
        \\text{MACs} = \\text{weights} \\cdot H_{out} W_{out}

    and an FC layer from n to m features has n*m weights and as many MACs. Spatial sizes come
    from ``cnncourse.ops.padding.conv_output_size``.

    Examples
    --------
    >>> from cnncourse.arch import vgg16
    >>> s = summary(vgg16(), (3, 224, 224))
    >>> s.total_params, s.output_shape
    (138357544, (1000,))
    """
    if isinstance(spec_or_model, (list, tuple)):
        spec = spec_or_model
    else:
        spec = spec_from_model(spec_or_model)
    shape = check_input_shape(input_shape, "summary")
    bytes_per_value = _count("bytes_per_value", bytes_per_value, 1)
    optimizer_slots = _count("optimizer_slots", optimizer_slots, 0)
    rows = [SummaryRow("", "INPUT", "Input", shape, math.prod(shape), "new", 0, 0, 0)]
    for step in trace(spec, shape):
        g = step.geometry
        rows.append(SummaryRow(
            step.key, label(step.layer), type(step.layer).__name__, g.output_shape,
            math.prod(g.output_shape), _storage(step.layer, inplace_activations),
            math.prod(g.weight_shape) if g.weight_shape else 0,
            math.prod(g.bias_shape) if g.bias_shape else 0,
            g.macs, g.weight_shape, g.bias_shape))
    return Summary(rows, shape, bytes_per_value, optimizer_slots)
