"""``x[index] = value``: assignment, as a new plan bound to the same Array object.

shoal plans are immutable, so assignment builds ``where(selected, value, x)``
(cast to ``x``'s dtype, as NumPy casts assigned values) and points ``x`` at
it, the way Dask does; Arrays made from ``x`` before keep the old values.
``index`` is a boolean mask of ``x``'s shape (an Array or a NumPy array) or a
basic index (ints and slices, and at most one integer array or 1-d boolean
mask along an axis). With a mask, ``value`` is a scalar or an array
that broadcasts to ``x``'s whole shape (Dask's rule). Otherwise
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
        from .take import is_index_array

        entries = index if isinstance(index, tuple) else (index,)
        if any(isinstance(n, float) and np.isnan(n) for n in x.shape):
            raise ValueError(
                "x[index] = value needs x's block lengths, which are unknown (nan chunks); call "
                "compute_chunk_sizes() first, or assign through a boolean mask of x's shape (x[x > 0] = v)"
            )
        lazy = [k for k, e in enumerate(entries) if isinstance(e, Array)]
        if lazy:
            mask = index = _whole_mask_from_lazy_rows(x, entries, lazy)
        elif any(is_index_array(e) for e in entries):
            return _assign_region(x, index, value)
        else:
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


def _whole_mask_from_lazy_rows(x: Array, entries: tuple, lazy: list) -> Array:
    """``x[m] = v`` / ``x[:, m] = v`` for a lazy 1-d boolean ``m``: the mask of ``x``'s shape it stands for."""
    from .routines import broadcast_to

    at = lazy[0]
    mask = entries[at]
    others_whole = all(isinstance(e, slice) and e == slice(None) for k, e in enumerate(entries) if k != at)
    if len(lazy) > 1 or mask.ndim != 1 or mask.dtype != np.bool_ or not others_whole or at >= x.ndim:
        raise NotImplementedError(
            "x[index] = value with a lazy index is implemented for a boolean mask of x's whole shape and for a "
            "1-d boolean mask along one axis with ':' elsewhere (x[m] = v, x[:, m] = v); compute() the index "
            "first (x[idx.compute()] = value)"
        )
    if mask.shape[0] != x.shape[at]:
        raise IndexError(f"boolean index did not match indexed array along axis {at}; size of axis is "
                         f"{x.shape[at]} but size of corresponding boolean axis is {mask.shape[0]}")
    along = mask.reshape((mask.shape[0],) + (1,) * (x.ndim - at - 1))
    return broadcast_to(along, x.shape).rechunk(x.chunks)


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
    if any(isinstance(entry, tuple) for entry in local):  # positions along an axis: an open mesh of them
        local = np.ix_(*(np.asarray(entry, dtype=np.intp) if isinstance(entry, tuple)
                         else np.arange(*entry.indices(n)) for entry, n in zip(local, block.shape)))
    out[local] = value  # NumPy's setitem broadcasts the length-1 axes and casts to block's dtype
    return out


def _positions_plan(blocks: tuple, positions: np.ndarray) -> tuple[tuple, tuple]:
    """For one axis indexed by sorted, distinct ``positions``: (the positions inside each block, as a
    tuple, or None; how many each block holds).

    >>> _positions_plan((4, 4, 2), np.array([1, 2, 9]))
    (((1, 2), None, (1,)), (2, 0, 1))
    """
    bounds = chunk_boundaries(blocks)
    local, counts = [], []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        inside = positions[(positions >= lo) & (positions < hi)]
        counts.append(len(inside))
        local.append(tuple(int(p) - lo for p in inside) if len(inside) else None)
    return tuple(local), tuple(counts)


def _index_positions(entry: Any, axis: int, n: int) -> np.ndarray:
    """A list/array of ints (or a 1-d boolean mask) along ``axis``, as non-negative positions in given order."""
    positions = np.asarray(entry)
    if positions.dtype == np.bool_:
        if positions.shape != (n,):
            raise IndexError(f"boolean index did not match indexed array along axis {axis}; size of axis is {n} "
                             f"but size of corresponding boolean axis is {positions.shape[0]}")
        return np.nonzero(positions)[0]
    positions = positions.astype(np.intp)
    bad = positions[(positions < -n) | (positions >= n)]
    if bad.size:
        raise IndexError(f"index {int(bad[0])} is out of bounds for axis {axis} with size {n}")
    return np.where(positions < 0, positions + n, positions)


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
    """The plan of ``x`` after ``x[index] = value`` for an ``index`` of ints and slices (and at most one
    integer array or 1-d boolean mask) and an array ``value``.

    An index array writes its positions in its order: sorted and kept once
    (the last occurrence wins, as NumPy's assignment does), with the value
    reordered to match; then every axis is a sorted selection like a slice's.
    """
    from .creation import asarray
    from .shape import moveaxis
    from .slicing import normalize_index
    from .take import _advanced_apart, is_index_array

    entries = index if isinstance(index, tuple) else (index,)
    arrays = [k for k, e in enumerate(entries) if is_index_array(e)]
    if len(arrays) > 1 or (arrays and any(e is Ellipsis for e in entries)):
        raise NotImplementedError(
            "x[index] = value with more than one integer array (or one together with ...) is not implemented; "
            "assign one axis at a time"
        )
    if any(e is None for e in entries):
        raise IndexError("x[...] = value does not take None (new axes) in the index")
    normalized = normalize_index(tuple(slice(None) if k in arrays else e for k, e in enumerate(entries)), x.shape)
    if arrays:
        at = arrays[0]
        normalized = list(normalized)
        normalized[at] = _index_positions(entries[at], at, x.shape[at])
        normalized = tuple(normalized)
    selection_shape = tuple(len(range(*e.indices(n))) if isinstance(e, slice) else len(e)
                            for e, n in zip(normalized, x.shape) if not isinstance(e, (int, np.integer)))
    # NumPy puts the array's axis first when ints stand apart from it (x[0, :, idx]): the value comes that way
    array_first = bool(arrays) and _advanced_apart(entries, arrays[0])
    array_at = sum(1 for e in normalized[:arrays[0]] if not isinstance(e, (int, np.integer))) if arrays else 0
    if array_first:
        selection_shape = (selection_shape[array_at],) + selection_shape[:array_at] + selection_shape[array_at + 1:]
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
    if array_first:
        value = moveaxis(value, 0, array_at)
    value = value[tuple(None if isinstance(e, (int, np.integer)) else slice(None) for e in normalized)]
    flips, plans, pieces = [], [], []
    for axis, (entry, n) in enumerate(zip(normalized, x.shape)):
        if isinstance(entry, np.ndarray):
            order = np.argsort(entry, kind="stable")
            ordered = entry[order]
            last = np.ones(len(ordered), dtype=bool)  # the last write to each position wins, as in NumPy
            last[:-1] = ordered[1:] != ordered[:-1]
            flips.append(order[last] if value.shape[axis] != 1 else slice(None))
            local, counts = _positions_plan(x.chunks[axis], ordered[last])
            plans.append(local)
            pieces.append(counts if value.shape[axis] != 1 else (1,))
            continue
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
