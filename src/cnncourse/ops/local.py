"""Locally connected layers: a convolution without parameter sharing.

Every output position has its own filter, so the layer keeps the local connectivity of a
convolution but gives up translation equivariance; it is the course's contrast case for
parameter sharing (AlexNet's first layer would need 105,705,600 parameters instead of 34,944).
"""

from __future__ import annotations

import numpy as np

from ._validate import (
    as_float_array,
    check_non_negative,
    check_positive,
    check_rank,
    pair,
    result_dtype,
)
from .padding import conv_output_size, pad2d, sliding_windows

__all__ = ["locally_connected2d"]


def locally_connected2d(input, weight, bias=None, stride=1, padding=0) -> np.ndarray:
    """A convolution-shaped layer without parameter sharing: every output position owns its
    filters.

    Parameters
    ----------
    input : ndarray, shape (N, C_in, H, W) or (C_in, H, W)
    weight : ndarray, shape (H_out, W_out, C_out, C_in, kH, kW)
        ``weight[i, j]`` is a full ``(C_out, C_in, kH, kW)`` filter bank used only at output
        position (i, j); ``H_out, W_out`` must be the output size the stride and padding give.
    bias : ndarray, shape (C_out, H_out, W_out), optional
        One bias per output neuron.
    stride : int or pair of ints
    padding : int or pair of ints

    Returns
    -------
    ndarray, shape (N, C_out, H_out, W_out) or (C_out, H_out, W_out)

    Notes
    -----
    .. math:: y_{n,k,i,j} = b_{k,i,j} + \\sum_{c,u,v} w_{i,j,k,c,u,v}\\,
              x_{n,c,\\,i s_H + u - p_H,\\,j s_W + v - p_W}

    The layer has ``H_out*W_out*C_out*(C_in*kH*kW + 1)`` parameters with its bias, against
    ``C_out*(C_in*kH*kW + 1)`` for :func:`conv2d`: for AlexNet's first layer that is
    105,705,600 against 34,944.
    """
    op = "locally_connected2d"
    x = as_float_array(input, "input")
    w = as_float_array(weight, "weight")
    b = None if bias is None else as_float_array(bias, "bias")
    check_rank(x, "input", (3, 4), op, "N, C, H, W or unbatched C, H, W")
    check_rank(w, "weight", (6,), op, "H_out, W_out, out_channels, in_channels, kH, kW")
    s = pair(stride, "stride")
    check_positive(s, "stride")
    p = pair(padding, "padding")
    check_non_negative(p, "padding")
    batched = x.ndim == 4
    x = x if batched else x[None]
    h_out, w_out, k, c, kh, kw = w.shape
    if x.shape[1] != c:
        raise RuntimeError(
            f"{op}: weight of shape {w.shape} expects input with {c} channels, but got input of "
            f"shape {x.shape[1:] if not batched else x.shape} with {x.shape[1]} channels"
        )
    size = (x.shape[2], x.shape[3])
    expected = conv_output_size(size, (kh, kw), stride=s, padding=p)
    if (h_out, w_out) != expected:
        raise RuntimeError(
            f"{op}: input of spatial size {size} with kernel ({kh}, {kw}), stride {s} and padding "
            f"{p} gives outputs of size {expected}, but weight has shape {w.shape}, made for "
            f"outputs of size ({h_out}, {w_out}); expected weight.shape[:2] == {expected}"
        )
    if b is not None and b.shape != (k, h_out, w_out):
        raise RuntimeError(
            f"{op}: expected bias of shape (out_channels, H_out, W_out) = {(k, h_out, w_out)}, "
            f"got bias of shape {b.shape}"
        )
    dtype = result_dtype(x, w, b)
    xp = pad2d(x, p) if any(p) else x
    windows = sliding_windows(xp.astype(dtype, copy=False), (kh, kw), s)  # (N, C, Ho, Wo, kH, kW)
    # One small matrix multiply per output position: (N, C*kH*kW) @ (C*kH*kW, K).
    cols = windows.transpose(2, 3, 0, 1, 4, 5).reshape(h_out * w_out, x.shape[0], -1)
    filters = w.astype(dtype, copy=False).reshape(h_out * w_out, k, -1).transpose(0, 2, 1)
    out = np.matmul(cols, filters)  # (H_out*W_out, N, K)
    out = np.ascontiguousarray(out.transpose(1, 2, 0)).reshape(x.shape[0], k, h_out, w_out)
    if b is not None:
        out += b.astype(dtype, copy=False)
    return out if batched else out[0]
