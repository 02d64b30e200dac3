"""``x[index] = value``: assignment, as a new plan bound to the same Array object.

shoal plans are immutable, so assignment builds ``where(selected, value, x)``
(cast to ``x``'s dtype, as NumPy casts assigned values) and points ``x`` at
it, the way Dask does; Arrays made from ``x`` before keep the old values.
``index`` is a boolean mask of ``x``'s shape (an Array or a NumPy array) or a
basic index (ints and slices); ``value`` is a scalar, or an array that
broadcasts to ``x``'s whole shape.

>>> import numpy as np
>>> from shoal.collections.array.creation import from_array
>>> x = from_array(np.arange(6), chunks=4)
>>> x[x > 3] = 0
>>> x[1::2] = -1
>>> x.compute(scheduler="sync").tolist()
[0, -1, 2, -1, 0, -1]
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .core import Array
from .creation import BlockMaker
from .expr import ArrayExpr

__all__ = ["assign"]


def _selected_along(positions: np.ndarray, entry: Any, length: int) -> np.ndarray:
    """Which of ``positions`` (indices along one axis) the normalized index entry selects."""
    if isinstance(entry, slice):
        r = range(*entry.indices(length))
        if len(r) == 0:
            return np.zeros(positions.shape, dtype=bool)
        low, high = (r.start, r[-1]) if r.step > 0 else (r[-1], r.start)
        return (positions >= low) & (positions <= high) & ((positions - r.start) % r.step == 0)
    return positions == entry


def _region_block(shape: tuple, offsets: tuple, index: tuple, full_shape: tuple) -> np.ndarray:
    selected = np.ones(shape, dtype=bool)
    for axis, (n, offset, entry) in enumerate(zip(shape, offsets, index)):
        along = _selected_along(np.arange(offset, offset + n), entry, full_shape[axis])
        selected &= along.reshape((1,) * axis + (n,) + (1,) * (len(shape) - axis - 1))
    return selected


def _region_mask(x: Array, index: Any) -> ArrayExpr:
    from .slicing import normalize_index

    normalized = normalize_index(index, x.shape)
    if any(entry is None for entry in normalized):
        raise IndexError("x[...] = value does not take None (new axes) in the index")
    maker = functools.partial(_region_block, index=normalized, full_shape=x.shape)
    return BlockMaker(maker, x.chunks, np.dtype(bool), "assign-region")


def assign(x: Array, index: Any, value: Any) -> ArrayExpr:
    """The plan of ``x`` after ``x[index] = value``; see the module docstring."""
    from .elementwise import elemwise
    from .slicing import _is_boolean_mask

    if _is_boolean_mask(index, x):
        mask = index
    else:
        entries = index if isinstance(index, tuple) else (index,)
        if any(isinstance(e, (list, np.ndarray, Array)) for e in entries):
            raise NotImplementedError(
                "x[index] = value with integer arrays, or masks over some axes only, is not implemented yet; "
                "use a boolean mask of x's shape or ints and slices"
            )
        mask = Array(_region_mask(x, index))
    if isinstance(value, Array) or np.ndim(value) > 0:
        value_shape = tuple(value.shape) if hasattr(value, "shape") else np.shape(value)
        try:
            np.broadcast_shapes(value_shape, x.shape)
        except ValueError:
            raise ValueError(
                f"x[index] = value: a value of shape {value_shape} must broadcast to the whole array's shape "
                f"{x.shape} (assigning a block of the selection's shape is not implemented yet)"
            ) from None
        if np.broadcast_shapes(value_shape, x.shape) != x.shape:
            raise ValueError(f"x[index] = value: the value's shape {value_shape} would change x's shape {x.shape}")
    return elemwise(_put, mask, value, x, dtype=x.dtype).expr


def _put(mask: np.ndarray, value: Any, block: np.ndarray) -> np.ndarray:
    # NumPy casts assigned values to the array's dtype (unsafe casting, e.g. 2.7 -> 2 for ints).
    return np.where(mask, np.asarray(value).astype(block.dtype, copy=False), block)
