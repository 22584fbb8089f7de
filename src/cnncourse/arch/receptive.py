"""Receptive fields: how large a patch of the input one unit of each layer sees.

Why three stacked 3x3 convolutions are preferred to one 7x7: the same 7x7 view, two more
non-linearities, and 27C^2 instead of 49C^2 weights (:func:`stack_vs_single_params`).
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

from ..ops._validate import pair
from ..ops.padding import conv_output_size
from .layers import (
    Conv,
    Dropout,
    Flatten,
    GlobalAvgPool,
    Inception,
    Linear,
    Pool,
    ReLU,
    Residual,
    _layers,
    label,
)

__all__ = ["RFRow", "StackComparison", "receptive_field", "stack_vs_single_params"]


class RFRow(NamedTuple):
    """Receptive field of the units of one layer, per axis (rows, columns).

    Attributes
    ----------
    key, name : str
        As in ``summary`` ("" and "INPUT" for the input row).
    size : (int, int)
        Side of the input patch one output unit depends on.
    jump : (int, int)
        Input pixels between neighbouring output units: the product of the strides so far.
    start : (float, float)
        Input coordinate of the centre of the first unit's patch (pixel i has centre i;
        negative values reach into the zero padding).
    output_size : (int, int) or None
        Spatial size of the layer's output, when ``input_size`` was given.
    """

    key: str
    name: str
    size: tuple
    jump: tuple
    start: tuple
    output_size: tuple | None


class _State(NamedTuple):
    r: tuple
    j: tuple
    start: tuple
    hw: tuple | None  # spatial size, None when unknown


def _window(layer, state: _State, key: str):
    """(k_eff, stride, leading padding) of a layer, per axis; None for elementwise layers."""
    if isinstance(layer, (Conv, Pool)):
        return layer.span(), layer.stride, layer.leading_padding()
    if isinstance(layer, (Linear, GlobalAvgPool)):
        if state.hw is None:
            raise ValueError(f"receptive_field: layer {key} ({label(layer)}) sees the whole "
                             f"input volume, whose size is unknown; pass input_size")
        return state.hw, (1, 1), (0, 0)  # one window covering the volume (see fc_to_conv)
    if isinstance(layer, (ReLU, Dropout, Flatten)):
        return None
    raise TypeError(f"receptive_field: layer {key} is not a layer spec: {layer!r}")


def _next_size(layer, hw, window):
    if hw is None:
        return None
    if isinstance(layer, Conv) and layer.padding == "same":
        return hw
    if isinstance(layer, (Conv, Pool)):
        pad = (0, 0) if layer.padding == "valid" else layer.padding
        dil = layer.dilation if isinstance(layer, Conv) else (1, 1)
        return conv_output_size(hw, layer.kernel_size, layer.stride, pad, dil)
    return (1, 1) if isinstance(layer, (Linear, GlobalAvgPool)) else hw


def _merge(states: list[_State], key: str) -> _State:
    if any(s.j != states[0].j for s in states):
        raise RuntimeError(f"receptive_field: the paths of block {key} have different jumps "
                           f"{[s.j for s in states]}; their outputs cannot be aligned")
    return max(states, key=lambda s: s.r[0] * s.r[1])  # the widest path sets the block's view


def _walk(layers, state: _State, prefix: str, rows: list) -> _State:
    for i, layer in enumerate(layers):
        key = f"{prefix}{i}"
        if isinstance(layer, Inception):
            state = _merge([_walk(b, state, f"{key}.branches.{n}.", rows)
                            for n, b in enumerate(layer.branches)], key)
        elif isinstance(layer, Residual):
            state = _merge([_walk(layer.body, state, f"{key}.body.", rows),
                            _walk(layer.shortcut, state, f"{key}.shortcut.", rows)], key)
        else:
            window = _window(layer, state, key)
            hw = _next_size(layer, state.hw, window)
            if window is not None:
                k, s, p = window
                state = _State(
                    tuple(r + (kk - 1) * j for r, kk, j in zip(state.r, k, state.j)),
                    tuple(j * ss for j, ss in zip(state.j, s)),
                    tuple(st + ((kk - 1) / 2 - pp) * j
                          for st, kk, pp, j in zip(state.start, k, p, state.j)),
                    hw)
            else:
                state = state._replace(hw=hw)
        rows.append(RFRow(key, label(layer), state.r, state.j, state.start, state.hw))
    return state


def receptive_field(spec, input_size=None) -> list[RFRow]:
    """Receptive field size, jump and start of every layer of `spec`.

    Parameters
    ----------
    spec : list of layer specs
    input_size : int, (H, W) or (C, H, W), optional
        Needed only when the spec has FC or global-pooling layers (they see the whole
        volume); when given, each row also carries its output size.

    Returns
    -------
    list of RFRow
        The input row, then one row per layer (parts of a composite block before its row);
        the last row is the whole network's.

    Notes
    -----
    With :math:`k_{eff} = d(k - 1) + 1` for a kernel k with dilation d, stride s and leading
    padding p, starting from :math:`r_0 = 1, j_0 = 1, start_0 = 0`:

    .. math::
        r_{out} = r_{in} + (k_{eff} - 1)\\, j_{in}, \\qquad
        j_{out} = j_{in}\\, s, \\qquad
        start_{out} = start_{in} + \\left(\\frac{k_{eff} - 1}{2} - p\\right) j_{in}

    ReLU, dropout and flatten change nothing; an FC layer (and global pooling) is a window as
    large as its input volume. The branches of an Inception or Residual block must have the
    same jump; the block takes the widest branch's field.

    Examples
    --------
    >>> from cnncourse.arch import Conv
    >>> [row.size for row in receptive_field([Conv(8, 3)] * 3)]
    [(1, 1), (3, 3), (5, 5), (7, 7)]
    """
    if input_size is None:
        hw = None
    elif isinstance(input_size, (tuple, list)) and len(input_size) == 3:
        hw = pair(tuple(input_size[1:]), "input_size")
    else:
        hw = pair(input_size, "input_size")
    if hw is not None and min(hw) < 1:
        raise ValueError(f"receptive_field: input_size must be positive, got {input_size!r}")
    rows = [RFRow("", "INPUT", (1, 1), (1, 1), (0.0, 0.0), hw)]
    _walk(_layers(spec, "spec"), _State((1, 1), (1, 1), (0.0, 0.0), hw), "", rows)
    return rows


class StackComparison(NamedTuple):
    """Parameters of a stack of small convs and of the one conv with the same receptive field."""

    stack_params: int
    single_params: int
    receptive_field: int


def stack_vs_single_params(channels: int, n_layers: int = 3,
                           kernel_size: int = 3) -> StackComparison:
    """Weights of `n_layers` stacked k x k convs versus one conv seeing the same patch.

    All layers map `channels` to `channels`, stride 1, no bias (the seed's count).

    Returns
    -------
    StackComparison
        For 3 layers of 3x3: ``(27 C^2, 49 C^2, 7)``.

    Notes
    -----
    A stack of n k x k layers sees :math:`n(k - 1) + 1` pixels per side (computed here with
    :func:`receptive_field`), and has :math:`n k^2 C^2` weights, against
    :math:`(n(k-1)+1)^2 C^2` for the single layer.
    """
    from .accounting import summary

    for name, v in (("channels", channels), ("n_layers", n_layers), ("kernel_size", kernel_size)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"stack_vs_single_params: {name} must be a positive int, got {v!r}")
    stack = [Conv(channels, kernel_size, padding=(kernel_size - 1) // 2, bias=False)] * n_layers
    side = receptive_field(stack)[-1].size[0]
    single = [Conv(channels, side, bias=False)]
    shape = (channels, side, side)
    return StackComparison(summary(stack, shape).total_params,
                           summary(single, shape).total_params, side)
