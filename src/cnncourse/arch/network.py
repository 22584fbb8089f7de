"""Running a spec with weights, converting FC layers to convolutions, and reading nn models.

The accounting in this package needs no numbers, so the numerical operations are imported
inside :func:`forward_spec` only, and ``cnncourse.nn`` inside the two model readers.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..ops._validate import as_float_array, check_rank
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
    check_input_shape,
    label,
    trace,
)

__all__ = [
    "convert_fc_to_conv",
    "fc_to_conv",
    "forward_spec",
    "init_params",
    "params_from_model",
    "spec_from_model",
]


def fc_to_conv(linear_weight, input_volume_shape) -> np.ndarray:
    """The conv filters that compute what an FC layer computes on a (C, H, W) volume.

    Parameters
    ----------
    linear_weight : ndarray, shape (out_features, C*H*W)
        As ``torch.nn.Linear.weight``, for an input flattened in C, H, W (row-major) order.
    input_volume_shape : tuple (C, H, W)
        The volume the FC layer sees before flattening; (F, 1, 1) for a layer after another FC.

    Returns
    -------
    ndarray, shape (out_features, C, H, W)
        A new array. The bias carries over unchanged.

    Notes
    -----
    Flattening maps position (c, h, w) to column :math:`cHW + hW + w`, so row o of the weight,
    reshaped to (C, H, W), is exactly filter o: a convolution with an H x W kernel, stride 1
    and no padding fits once on the volume and computes the same dot products. On a larger
    volume it slides, giving a map of scores instead of one vector.

    Examples
    --------
    >>> fc_to_conv(np.zeros((120, 16 * 5 * 5)), (16, 5, 5)).shape  # LeNet-5's C5
    (120, 16, 5, 5)
    """
    w = as_float_array(linear_weight, "linear_weight")
    check_rank(w, "linear_weight", (2,), "fc_to_conv", "out_features, in_features")
    if not isinstance(input_volume_shape, (tuple, list)) or len(input_volume_shape) != 3:
        raise TypeError(f"fc_to_conv: input_volume_shape must be a tuple (C, H, W), got "
                        f"{input_volume_shape!r}")
    c, h, wd = check_input_shape(input_volume_shape, "fc_to_conv")
    if w.shape[1] != c * h * wd:
        raise RuntimeError(
            f"fc_to_conv: linear_weight has {w.shape[1]} input features, but a volume "
            f"{tuple(input_volume_shape)} holds {c}*{h}*{wd} = {c * h * wd} values")
    return w.reshape(w.shape[0], c, h, wd).copy()


def convert_fc_to_conv(spec, input_shape, params=None):
    """Replace the FC head of a spec by convolutions, so the network slides over larger images.

    Every ``Flatten`` is dropped; the first FC after a (C, H, W) volume becomes an H x W conv,
    later FCs 1x1 convs (see :func:`fc_to_conv`). Everything else is kept.

    Parameters
    ----------
    spec : list of layer specs
    input_shape : tuple (C, H, W)
        The size the original network was built for (224x224 for VGG).
    params : dict of str to ndarray, optional
        Weights of `spec` (keys as in :func:`init_params`), converted alongside.

    Returns
    -------
    (list, dict or None)
        The converted spec and, when `params` is given, its parameters (re-keyed, since the
        dropped Flatten layers shift the indices).

    Examples
    --------
    >>> from cnncourse.arch import vgg16, output_shape
    >>> conv_spec, _ = convert_fc_to_conv(vgg16(), (3, 224, 224))
    >>> output_shape(conv_spec, (3, 384, 384))
    (1000, 6, 6)
    """
    steps = [s for s in trace(spec, input_shape) if "." not in s.key]  # top level only
    new_spec: list = []
    new_params = None if params is None else {}
    volume = None  # what the next FC sees, as (C, H, W)
    for step in steps:
        layer, shape = step.layer, step.input_shape
        if isinstance(layer, Flatten):
            volume = shape if len(shape) == 3 else (shape[0], 1, 1)
            continue
        new_key = str(len(new_spec))
        if isinstance(layer, Linear):
            vol = volume if volume is not None else (shape[0], 1, 1)
            new_spec.append(Conv(layer.out_features, vol[1:], bias=layer.bias,
                                 in_channels=vol[0], name=layer.name))
            if params is not None:
                new_params[f"{new_key}.weight"] = fc_to_conv(
                    _param(params, f"{step.key}.weight", layer), vol)
                if layer.bias:
                    new_params[f"{new_key}.bias"] = _param(params, f"{step.key}.bias", layer)
            volume = (layer.out_features, 1, 1)
            continue
        new_spec.append(layer)
        if params is not None:
            for k, v in params.items():
                if k.startswith(step.key + "."):
                    new_params[new_key + k[len(step.key):]] = v
    return new_spec, new_params


def _param(params, key: str, layer) -> np.ndarray:
    if key not in params:
        raise KeyError(f"params has no {key!r} for layer {key.rsplit('.', 1)[0]} "
                       f"({label(layer)}); init_params(spec, input_shape) makes a complete dict")
    return params[key]


def _generator(rng) -> np.random.Generator:
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(f"rng must be None, an int seed or a numpy Generator, got {rng!r}")


def init_params(spec, input_shape, rng=None, dtype=np.float64) -> dict:
    """Random weights for every layer of `spec`, drawn as PyTorch's default initialisation.

    Parameters
    ----------
    spec : list of layer specs
    input_shape : tuple (C, H, W) or (F,)
    rng : numpy Generator or int seed, optional
    dtype : float32 or float64

    Returns
    -------
    dict of str to ndarray
        ``"<key>.weight"`` and ``"<key>.bias"`` for every layer that has them, each drawn
        from :math:`U(-1/\\sqrt{\\text{fan\\_in}}, 1/\\sqrt{\\text{fan\\_in}})` with
        fan_in the number of inputs of one output unit.
    """
    gen = _generator(rng)
    params = {}
    for step in trace(spec, input_shape):
        g = step.geometry
        if g.weight_shape is None:
            continue
        bound = 1.0 / math.sqrt(math.prod(g.weight_shape[1:]))
        params[f"{step.key}.weight"] = gen.uniform(-bound, bound, g.weight_shape).astype(dtype)
        if g.bias_shape is not None:
            params[f"{step.key}.bias"] = gen.uniform(-bound, bound, g.bias_shape).astype(dtype)
    return params


def forward_spec(spec, params, x) -> np.ndarray:
    """Run a batch through `spec` with the weights in `params` (evaluation mode: no dropout).

    Parameters
    ----------
    spec : list of layer specs
    params : dict of str to ndarray
        As made by :func:`init_params`, :func:`convert_fc_to_conv` or
        :func:`params_from_model`; a key no layer uses raises ValueError.
    x : ndarray, shape (N, C, H, W) or (N, F)

    Returns
    -------
    ndarray
        The last layer's output for the batch.
    """
    used: set[str] = set()
    out = _run(spec, params, as_float_array(x, "x"), "", used)
    unused = sorted(set(params) - used)
    if unused:
        raise ValueError(f"forward_spec: params has keys no layer uses: {unused}")
    return out


def _run(layers, params, x, prefix: str, used: set) -> np.ndarray:
    from ..ops.activations import relu
    from ..ops.conv import conv2d
    from ..ops.linear import flatten, linear
    from ..ops.pool import avg_pool2d, global_avg_pool2d, max_pool2d

    def get(key, layer, present=True):
        if not present:
            return None
        used.add(key)
        return _param(params, key, layer)

    for i, layer in enumerate(layers):
        key = f"{prefix}{i}"
        if isinstance(layer, Conv):
            x = conv2d(x, get(f"{key}.weight", layer), get(f"{key}.bias", layer, layer.bias),
                       stride=layer.stride, padding=layer.padding, dilation=layer.dilation,
                       groups=layer.groups)
        elif isinstance(layer, Pool):
            pool = max_pool2d if layer.kind == "max" else avg_pool2d
            x = pool(x, layer.kernel_size, layer.stride, layer.padding)
        elif isinstance(layer, Linear):
            x = linear(x, get(f"{key}.weight", layer), get(f"{key}.bias", layer, layer.bias))
        elif isinstance(layer, ReLU):
            x = relu(x)
        elif isinstance(layer, Flatten):
            x = flatten(x, 1)
        elif isinstance(layer, GlobalAvgPool):
            x = global_avg_pool2d(x)
        elif isinstance(layer, Inception):
            x = np.concatenate([_run(b, params, x, f"{key}.branches.{j}.", used)
                                for j, b in enumerate(layer.branches)], axis=1)
        elif isinstance(layer, Residual):
            x = (_run(layer.body, params, x, f"{key}.body.", used)
                 + _run(layer.shortcut, params, x, f"{key}.shortcut.", used))
        elif not isinstance(layer, Dropout):  # dropout is the identity at test time
            raise TypeError(f"forward_spec: layer {key} is not a layer spec: {layer!r}")
    return x


def spec_from_model(model) -> list:
    """The spec of a ``cnncourse.nn`` model, one spec layer per module.

    Parameters
    ----------
    model : cnncourse.nn.Sequential or a single cnncourse.nn module
        Conv2d, MaxPool2d, AvgPool2d, ReLU, Flatten(start_dim=1), Linear and Dropout.

    Returns
    -------
    list
        Layer ``i`` of the spec is module ``i``, so the model's parameter names
        (:func:`params_from_model`) are the spec's keys. ``in_channels``/``in_features`` are
        recorded and checked when the spec is traced.
    """
    from .. import nn

    if isinstance(model, nn.Sequential):
        modules = list(model)
    elif isinstance(model, nn.Module):
        modules = [model]
    else:
        raise TypeError(f"spec_from_model: expected a cnncourse.nn module or Sequential, got "
                        f"{type(model).__name__}")
    spec = []
    for i, m in enumerate(modules):
        where = f"spec_from_model: module {i} ({type(m).__name__})"
        if isinstance(m, nn.Conv2d):
            spec.append(Conv(m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation,
                             m.groups, m.bias is not None, in_channels=m.in_channels))
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            if m.ceil_mode or getattr(m, "dilation", 1) not in (1, (1, 1)):
                raise ValueError(f"{where}: ceil_mode and dilation have no spec equivalent")
            if not getattr(m, "count_include_pad", True) and m.padding not in (0, (0, 0)):
                raise ValueError(f"{where}: count_include_pad=False has no spec equivalent")
            kind = "max" if isinstance(m, nn.MaxPool2d) else "avg"
            spec.append(Pool(kind, m.kernel_size, m.stride, m.padding))
        elif isinstance(m, nn.ReLU):
            spec.append(ReLU())
        elif isinstance(m, nn.Flatten):
            if (m.start_dim, m.end_dim) != (1, -1):
                raise ValueError(f"{where}: only Flatten(start_dim=1, end_dim=-1) has a spec")
            spec.append(Flatten())
        elif isinstance(m, nn.Linear):
            spec.append(Linear(m.out_features, m.bias is not None, in_features=m.in_features))
        elif isinstance(m, nn.Dropout):
            spec.append(Dropout(m.p))
        else:
            raise TypeError(f"{where} has no layer spec; supported: Conv2d, MaxPool2d, "
                            f"AvgPool2d, ReLU, Flatten, Linear, Dropout")
    return spec


def params_from_model(model) -> dict:
    """The arrays of a ``cnncourse.nn`` model, keyed as :func:`forward_spec` expects."""
    return {name: p.data for name, p in model.named_parameters()}
