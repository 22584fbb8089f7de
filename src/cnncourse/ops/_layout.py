"""Images-last storage: (N, C, H, W) arrays whose memory is ordered (C, H, W, N).

The layers of a small network pass each other batches of tiny images (8x8, 4x4). Stored NCHW,
every row of an image is a run of 4 or 8 numbers, and numpy pays the overhead of its inner loop
once per run: a strided copy or comparison over 4x4 images costs 5-10x what the same number of
contiguous elements cost. Stored images last, the batch is the contiguous innermost axis, so
the same window slices are runs of W * N numbers. As PyTorch's ``channels_last`` memory format,
it changes the strides only: shapes, indexing and values are those of the NCHW array, and any
numpy function gives the same results on it.

The nn layers keep their small activations and gradients in this layout from one layer to the
next. The public functions take either layout; conv2d and conv2d_backward return C-contiguous
arrays, while pooling and the activations, like numpy's elementwise functions, return results
stored as their input is.
"""

from __future__ import annotations

import math

import numpy as np

# Axis order in memory of an (N, C, H, W) array stored NCHW or images last, and what undoes it.
NCHW = (0, 1, 2, 3)
IMAGES_LAST = (1, 2, 3, 0)
_UNDO = {NCHW: NCHW, IMAGES_LAST: (3, 0, 1, 2)}


def is_images_last(x: np.ndarray) -> bool:
    """Whether the 4-D `x` is stored images last (and is not also C-contiguous, as with N=1)."""
    return x.ndim == 4 and not x.flags.c_contiguous and x.transpose(IMAGES_LAST).flags.c_contiguous


def memory_order(x: np.ndarray) -> tuple[int, int, int, int]:
    """The axes of the 4-D `x` in the order its memory holds them: NCHW or IMAGES_LAST."""
    return IMAGES_LAST if is_images_last(x) else NCHW


def stored_order(x: np.ndarray) -> tuple[int, ...] | None:
    """The order in which `x` is stored without gaps: its own axes' order if it is
    C-contiguous (any rank), IMAGES_LAST if it is stored so, else None."""
    if x.flags.c_contiguous:
        return tuple(range(x.ndim))
    return IMAGES_LAST if is_images_last(x) else None


def undo(order: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The transpose that turns an array in memory `order` back into (N, C, H, W)."""
    return _UNDO[order]


def shaped(flat: np.ndarray, shape: tuple[int, int, int, int], order=NCHW) -> np.ndarray:
    """The first numbers of the 1-D `flat` as an (N, C, H, W) array stored in memory `order`
    (a view)."""
    size = shape[0] * shape[1] * shape[2] * shape[3]
    return flat[:size].reshape([shape[i] for i in order]).transpose(_UNDO[order])


def empty(shape: tuple[int, int, int, int], dtype, order=NCHW) -> np.ndarray:
    """An uninitialised (N, C, H, W) array stored in memory `order`."""
    return shaped(np.empty(math.prod(shape), dtype=dtype), shape, order)
