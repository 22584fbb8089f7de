"""Choosing between a value and zero without a branch per element."""

from __future__ import annotations

import numpy as np


def keep_where(keep: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.where(keep, values, 0)``, bit for bit: a NaN or inf where `keep` is False gives +0.0.

    np.where branches on every element; on a mask as random as the signs of activations or the
    switches of max pooling the branch is mispredicted half the time and the call is about 10x
    slower than selecting the bits with an integer AND against a mask of all ones (keep) or all
    zeros. ``values * keep`` would be as fast but turns NaN * 0 into NaN.
    """
    values = np.asarray(values)
    if values.itemsize not in (2, 4, 8):  # no unsigned integer of that width
        return np.where(keep, values, values.dtype.type(0))
    bits = np.dtype(f"u{values.itemsize}")
    # `values` may be broadcast over `keep` (the usual case: nothing to do) or the other way
    if keep.shape[max(keep.ndim - values.ndim, 0):] != values.shape:
        keep = np.broadcast_to(keep, np.broadcast_shapes(keep.shape, values.shape))
    mask = keep.astype(bits)  # in keep's memory order, which the result has
    np.negative(mask, out=mask)  # 1 -> all ones; 0 stays 0
    np.bitwise_and(values.view(bits), mask, out=mask)
    return mask.view(values.dtype)
