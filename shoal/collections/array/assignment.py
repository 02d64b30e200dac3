"""``x[index] = value``: assignment, as a new plan bound to the same Array object.

shoal plans are immutable, so assignment builds ``where(selected, value, x)``
(cast to ``x``'s dtype, as NumPy casts assigned values) and points ``x`` at
it, the way Dask does; Arrays made from ``x`` before keep the old values.
``index`` is a boolean mask of ``x``'s shape (an Array or a NumPy array) or a
basic index (ints and slices). With a mask, ``value`` is a scalar or an array
that broadcasts to ``x``'s whole shape (Dask's rule). With a basic index,
``value`` broadcasts to the *selection's* shape, as in NumPy: ``x[:, 0] =
column`` fills the first column. Such a value is cut so that each block of
``x`` receives just the piece that lands in it (``AssignRegion``).

>>> import numpy as np
>>> from shoal.collections.array.creation import from_array
>>> x = from_array(np.arange(6), chunks=4)
>>> x[x > 3] = 0
>>> x[1::2] = -1
>>> x[:3] = np.array([7, 8, 9])
>>> x.compute(scheduler="sync").tolist()
[7, 8, 9, -1, 0, -1]
"""

from __future__ import annotations

import bisect
import functools
from typing import Any

import numpy as np

from ...taskgraph.core import Alias, Ref, Task
from .chunks import chunk_boundaries
from .core import Array
from .creation import BlockMaker
from .expr import ArrayExpr

__all__ = ["assign", "AssignRegion"]


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
        if mask is not index:
            return _assign_region(x, index, value)
        value_shape = tuple(value.shape) if hasattr(value, "shape") else np.shape(value)
        try:
            np.broadcast_shapes(value_shape, x.shape)
        except ValueError:
            raise ValueError(
                f"x[mask] = value: a value of shape {value_shape} must broadcast to the whole array's shape "
                f"{x.shape}"
            ) from None
        if np.broadcast_shapes(value_shape, x.shape) != x.shape:
            raise ValueError(f"x[index] = value: the value's shape {value_shape} would change x's shape {x.shape}")
    return elemwise(_put, mask, value, x, dtype=x.dtype).expr


def _put(mask: np.ndarray, value: Any, block: np.ndarray) -> np.ndarray:
    # NumPy casts assigned values to the array's dtype (unsafe casting, e.g. 2.7 -> 2 for ints).
    return np.where(mask, np.asarray(value).astype(block.dtype, copy=False), block)


# --------------------------------------------------------------------- basic index, array value


class AssignRegion(ArrayExpr):
    """``array`` with ``value`` written into the region a basic index selects.

    ``value`` has one axis per axis of ``array`` (length 1 where it broadcasts
    or where the index was an int) and is chunked so that, along each axis,
    its block ``b`` is exactly what lands in ``array``'s block ``b``.
    ``plans[axis][b]`` is the slice of block ``b`` that is written (None:
    nothing is, and the block is passed on untouched).
    """

    _parameters = ["array", "value", "plans"]

    def _compute_chunks(self) -> tuple:
        return self.array.chunks

    def _compute_dtype(self) -> np.dtype:
        return self.array.dtype

    def _block(self, index: tuple):
        local = tuple(plan[i] for plan, i in zip(self.plans, index))
        source = self.array._key(index)
        if any(s is None for s in local):
            return Alias(self._key(index), source)
        # along an axis where the value broadcasts (one block of length 1) every block reads its block 0
        value_index = tuple(0 if n == 1 else i for n, i in zip(self.value.numblocks, index))
        return Task(self._key(index), _put_region, Ref(source), Ref(self.value._key(value_index)), local)


def _put_region(block: np.ndarray, value: np.ndarray, local: tuple) -> np.ndarray:
    out = block.copy()
    out[local] = value  # NumPy's setitem broadcasts the length-1 axes and casts to block's dtype
    return out


def _axis_plan(blocks: tuple, entry: Any, length: int) -> tuple[tuple, tuple]:
    """For one axis: (the slice written in each block or None, how many selected elements each block holds).

    ``entry`` is an int or a slice with a positive step.

    >>> _axis_plan((4, 4, 2), slice(1, 9, 3), 10)
    ((slice(1, 2, 3), slice(0, 4, 3), None), (1, 2, 0))
    """
    if not isinstance(entry, slice):
        entry = slice(entry, entry + 1, 1)
    selected = range(*entry.indices(length))
    bounds = chunk_boundaries(blocks)
    local, counts = [], []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        inside = selected[bisect.bisect_left(selected, lo):bisect.bisect_left(selected, hi)]
        counts.append(len(inside))
        local.append(slice(inside.start - lo, inside[-1] - lo + 1, selected.step) if len(inside) else None)
    return tuple(local), tuple(counts)


def _assign_region(x: Array, index: Any, value: Any) -> ArrayExpr:
    """The plan of ``x`` after ``x[index] = value`` for a basic ``index`` and an array ``value``."""
    from .creation import asarray
    from .slicing import normalize_index

    normalized = normalize_index(index, x.shape)
    if any(entry is None for entry in normalized):
        raise IndexError("x[...] = value does not take None (new axes) in the index")
    selection_shape = tuple(len(range(*e.indices(n))) for e, n in zip(normalized, x.shape) if isinstance(e, slice))
    value = asarray(value)
    try:
        fits = np.broadcast_shapes(value.shape, selection_shape) == selection_shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"x[index] = value: could not broadcast the value's shape {value.shape} into the selection's shape "
            f"{selection_shape}"
        )
    # one value axis per axis of x: leading axes it broadcasts along, and a length-1 axis where the index is an int
    value = value[(None,) * (len(selection_shape) - value.ndim)]
    value = value[tuple(slice(None) if isinstance(e, slice) else None for e in normalized)]
    flips, plans, pieces = [], [], []
    for axis, (entry, n) in enumerate(zip(normalized, x.shape)):
        if isinstance(entry, slice) and (entry.step or 1) < 0:
            # write in ascending order: the same positions, with the value reversed along this axis
            selected = range(*entry.indices(n))
            entry = slice(selected[-1], selected.start + 1, -selected.step) if len(selected) else slice(0, 0, 1)
            flips.append(slice(None, None, -1) if value.shape[axis] != 1 else slice(None))
        else:
            flips.append(slice(None))
        local, counts = _axis_plan(x.chunks[axis], entry, n)
        plans.append(local)
        pieces.append(counts if value.shape[axis] != 1 else (1,))
    value = value[tuple(flips)].rechunk(tuple(pieces))
    return AssignRegion(x.expr, value.expr, tuple(plans))
