"""Argument checking shared by every operation.

Errors follow PyTorch: the exception type ``torch.nn.functional`` raises for the same mistake
(mostly ``RuntimeError`` for shape and configuration problems, ``TypeError`` for wrong types),
with a message that names the argument, what was expected and what was received.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "as_float_array",
    "check_non_negative",
    "check_positive",
    "check_rank",
    "pair",
    "result_dtype",
    "wrap_dim",
]


def as_float_array(x, name: str) -> np.ndarray:
    """Return `x` as a floating ndarray, keeping float32/float64 and promoting ints and bools.

    Integer arrays are accepted because the course's worked examples are small integer
    matrices; anything that is not a real number (strings, objects, complex) is refused.
    """
    arr = np.asarray(x)
    if arr.dtype.kind == "f":
        return arr
    if arr.dtype.kind in "iub":
        return arr.astype(np.float64)
    raise TypeError(
        f"{name} must be an array of real numbers (float32, float64, int or bool), "
        f"got dtype {arr.dtype}"
    )


def check_rank(x: np.ndarray, name: str, ranks: tuple[int, ...], op: str, layout: str = "") -> None:
    """Raise RuntimeError, as PyTorch does, when ``x.ndim`` is not one of `ranks`."""
    if x.ndim not in ranks:
        wanted = " or ".join(f"{r}D" for r in ranks)
        hint = f" ({layout})" if layout else ""
        raise RuntimeError(
            f"{op}: expected {name} to be {wanted}{hint}, but got {name} of shape {tuple(x.shape)}"
        )


def pair(value, name: str) -> tuple[int, int]:
    """Turn an int or a pair of ints into a pair, as ``torch.nn.modules.utils._pair`` does."""
    # the common cases first (what layers store): the abstract-class checks below are slow
    if type(value) is int:
        return (value, value)
    if type(value) is tuple and len(value) == 2 and type(value[0]) is type(value[1]) is int:
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (int(value), int(value))
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value
    ):
        return (int(value[0]), int(value[1]))
    raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")


def check_positive(value: tuple[int, int], name: str) -> None:
    if min(value) <= 0:
        raise RuntimeError(f"non-positive {name} is not supported: expected {name} >= 1, got {value}")


def check_non_negative(value: tuple[int, ...], name: str) -> None:
    if min(value) < 0:
        raise RuntimeError(f"negative {name} is not supported: expected {name} >= 0, got {value}")


def result_dtype(*arrays: np.ndarray | None) -> np.dtype:
    """The floating dtype of an operation's result: float32 only if every operand is float32."""
    dtypes = [a.dtype for a in arrays if a is not None]
    if all(d == dtypes[0] for d in dtypes):  # the usual case, without numpy's promotion rules
        return dtypes[0]
    return np.result_type(*dtypes)

def wrap_dim(dim, ndim: int, name: str = "dim") -> int:
    """Turn a possibly negative axis into a non-negative one, refusing it as PyTorch does.

    A 0-d array counts as 1-d here, as in PyTorch, so ``dim=0`` and ``dim=-1`` are both valid
    for a scalar.
    """
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        raise TypeError(f"{name} must be an int, got {dim!r}")
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-rank}, {rank - 1}], "
            f"but got {dim}): {name}={dim} for an input with {ndim} dimensions"
        )
    return int(dim) % rank
