"""Integer-array indexing along one axis (``x[[3, 0, 7]]``, ``x[:, idx]``, ``np.take``) and pointwise
indexing (``x.vindex[rows, cols]``).

The indices are known when the expression is built (a list or NumPy array;
a 1-d NumPy boolean mask is turned into the positions it selects), so bounds
are checked at once and the output's blocks are known: the indices are cut
into pieces about as long as the input's blocks, and each output block
gathers its elements from just the input blocks they live in.

>>> import numpy as np
>>> from shoal.collections.array.creation import arange
>>> arange(10, chunks=4)[[9, 0, 5, 5]].compute(scheduler="sync").tolist()
[9, 0, 5, 5]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...taskgraph.core import Ref, Task
from .chunks import blockdims_from_blockshape, chunk_boundaries
from .core import Array
from .expr import ArrayExpr

__all__ = ["Take", "take", "is_index_array", "LazyTake", "take_lazy", "PointIndex", "VIndex"]


class Take(ArrayExpr):
    """``array`` indexed by the integer positions ``indices`` (a tuple) along ``axis``."""

    _parameters = ["array", "indices", "axis", "pieces"]

    def _compute_dtype(self) -> np.dtype:
        return self.array.dtype

    def _compute_chunks(self) -> tuple:
        chunks = list(self.array.chunks)
        chunks[self.axis] = self.pieces
        return tuple(chunks)

    def _block(self, index: tuple):
        axis = self.axis
        start = sum(self.pieces[: index[axis]])
        wanted = np.asarray(self.indices[start:start + self.pieces[index[axis]]], dtype=np.intp)
        bounds = chunk_boundaries(self.array.chunks[axis])
        sources = np.searchsorted(bounds, wanted, side="right") - 1
        parts = []
        for b in np.unique(sources):
            positions = np.nonzero(sources == b)[0]
            source_index = index[:axis] + (int(b),) + index[axis + 1:]
            parts.append((Ref(self.array._key(source_index)), wanted[positions] - bounds[b], positions))
        shape = tuple(c[i] for c, i in zip(self.chunks, index))
        return Task(self._key(index), _gather, parts, shape, axis, self.dtype)

    def _explain_args(self) -> dict:
        return {"axis": self.axis, "count": len(self.indices)}


def _gather(parts: list, shape: tuple, axis: int, dtype: np.dtype) -> np.ndarray:
    if len(parts) == 1 and len(parts[0][2]) == shape[axis] and np.array_equal(parts[0][2], np.arange(shape[axis])):
        block, local, _ = parts[0]
        return np.take(block, local, axis=axis)
    out = np.empty(shape, dtype=dtype)
    for block, local, positions in parts:
        where = (slice(None),) * axis + (positions,)
        out[where] = np.take(block, local, axis=axis)
    return out


def is_index_array(entry: Any) -> bool:
    """A list or NumPy array of integers (or a 1-d NumPy boolean mask)."""
    if isinstance(entry, list):
        entry = np.asarray(entry)
        if entry.size == 0:
            return True
    return isinstance(entry, np.ndarray) and entry.ndim == 1 and (
        np.issubdtype(entry.dtype, np.integer) or entry.dtype == np.bool_)


def take(x: Array, indices: Any, axis: int = 0) -> Array:
    """``numpy.take`` along one axis with known indices (negative ones count from the end)."""
    if not -x.ndim <= axis < x.ndim:
        raise np.exceptions.AxisError(f"axis {axis} is out of bounds for array of dimension {x.ndim}")
    axis %= x.ndim
    n = x.shape[axis]
    if isinstance(n, float):
        raise ValueError(f"Cannot index axis {axis}: its length is unknown (nan chunks); call compute_chunk_sizes() first")
    positions = np.asarray(indices)
    if positions.dtype == np.bool_:
        if positions.shape != (n,):
            raise IndexError(
                f"boolean index did not match indexed array along axis {axis}; size of axis is {n} "
                f"but size of corresponding boolean axis is {positions.shape[0]}"
            )
        positions = np.nonzero(positions)[0]
    if positions.ndim != 1:
        raise NotImplementedError("Indexing with integer arrays of more than one dimension is not implemented yet")
    positions = positions.astype(np.intp, copy=False)
    bad = positions[(positions < -n) | (positions >= n)]
    if bad.size:
        raise IndexError(f"index {int(bad[0])} is out of bounds for axis {axis} with size {n}")
    positions = np.where(positions < 0, positions + n, positions)
    piece = max(max(x.chunks[axis], default=1), 1)
    pieces = blockdims_from_blockshape((len(positions),), (piece,))[0]
    return Array(Take(x.expr, tuple(int(p) for p in positions), axis, pieces))


def getitem_with_array(x: Array, index: tuple) -> Array:
    """``x[index]`` where exactly one entry is an index array: basic indexing first, then ``take``."""
    arrays = [k for k, e in enumerate(index) if is_index_array(e)]
    if len(arrays) != 1 or any(e is Ellipsis for e in index):
        raise NotImplementedError(
            "Indexing with more than one integer array (or together with ...) is not implemented yet for "
            "shoal Arrays; index one axis at a time, or compute() first"
        )
    at = arrays[0]
    basic = index[:at] + (slice(None),) + index[at + 1:]
    # the taken axis's position after the basic index: entries before it that keep or add an axis
    out_axis = sum(1 for e in index[:at] if e is None or isinstance(e, slice))
    source_axis = sum(1 for e in index[:at] if e is not None)
    if source_axis >= x.ndim:
        raise IndexError(f"too many indices for array: array is {x.ndim}-dimensional")
    entry = np.asarray(index[at])
    if entry.dtype == np.bool_ and entry.shape != (x.shape[source_axis],):
        raise IndexError(
            f"boolean index did not match indexed array along axis {source_axis}; size of axis is "
            f"{x.shape[source_axis]} but size of corresponding boolean axis is {entry.shape[0]}"
        )
    result = take(x[basic], entry, axis=out_axis)
    if _advanced_apart(index, at):
        from .shape import moveaxis

        result = moveaxis(result, out_axis, 0)
    return result


def _advanced_apart(index: tuple, at: int) -> bool:
    """Whether NumPy puts the index array's axis first: when the ints (advanced indices too, next to an
    array) and the array are not all next to each other, as in ``x[0, :, [1, 2]]``."""
    advanced = [k for k, e in enumerate(index)
                if k == at or (isinstance(e, (int, np.integer)) and not isinstance(e, (bool, np.bool_)))]
    return advanced[-1] - advanced[0] + 1 != len(advanced)




# --------------------------------------------------------------------- indices known only when computed


class LazyTake(ArrayExpr):
    """``array`` indexed along ``axis`` by the 1-d integer Array ``indices`` (values unknown when built).

    Output block ``j`` along the axis gathers index block ``j`` from every
    block of that line of ``array`` (whichever holds each position), so a task
    holds one line of blocks along the axis.
    """

    _parameters = ["array", "indices", "axis"]

    def _compute_dtype(self) -> np.dtype:
        return self.array.dtype

    def _compute_chunks(self) -> tuple:
        chunks = list(self.array.chunks)
        chunks[self.axis] = self.indices.chunks[0]
        return tuple(chunks)

    def _block(self, index: tuple):
        axis = self.axis
        line = [Ref(self.array._key(index[:axis] + (b,) + index[axis + 1:]))
                for b in range(self.array.numblocks[axis])]
        return Task(self._key(index), _gather_line, line, Ref(self.indices._key((index[axis],))),
                    chunk_boundaries(self.array.chunks[axis]), axis)


def _gather_line(line: list, positions: np.ndarray, bounds: tuple, axis: int) -> np.ndarray:
    n = bounds[-1]
    positions = np.asarray(positions)
    bad = positions[(positions < -n) | (positions >= n)]
    if bad.size:
        raise IndexError(f"index {int(bad[0])} is out of bounds for axis {axis} with size {n}")
    positions = np.where(positions < 0, positions + n, positions)
    sources = np.searchsorted(bounds, positions, side="right") - 1
    shape = list(line[0].shape)
    shape[axis] = len(positions)
    out = np.empty(shape, dtype=line[0].dtype)
    for b in np.unique(sources):
        at = np.nonzero(sources == b)[0]
        out[(slice(None),) * axis + (at,)] = np.take(line[b], positions[at] - bounds[b], axis=axis)
    return out


def take_lazy(x: Array, indices: Array, axis: int) -> Array:
    """``x`` indexed along ``axis`` by an integer Array whose values are known only once computed."""
    if not np.issubdtype(indices.dtype, np.integer) or indices.ndim != 1:
        raise NotImplementedError(
            f"Indexing with a lazy {indices.ndim}-d {indices.dtype} Array is not implemented; use a 1-d integer "
            "or boolean Array, or compute() the index first"
        )
    if any(np.isnan(c) for c in x.chunks[axis]):
        raise ValueError(f"Cannot index axis {axis} with a lazy index: its length is unknown (nan chunks); "
                         "call compute_chunk_sizes() first")
    return Array(LazyTake(x.expr, indices.expr, axis))


# --------------------------------------------------------------------- vindex: pointwise indexing


class PointIndex(ArrayExpr):
    """``array.vindex[...]``: the elements at ``points`` (one tuple of positions per axis), as a 1-d array."""

    _parameters = ["array", "points", "pieces"]

    def _compute_dtype(self) -> np.dtype:
        return self.array.dtype

    def _compute_chunks(self) -> tuple:
        return (self.pieces,)

    def _block(self, index: tuple):
        start = sum(self.pieces[: index[0]])
        stop = start + self.pieces[index[0]]
        coordinates = [np.asarray(axis_points[start:stop], dtype=np.intp) for axis_points in self.points]
        block_of = []
        for axis, positions in enumerate(coordinates):
            bounds = chunk_boundaries(self.array.chunks[axis])
            block_of.append(np.searchsorted(bounds, positions, side="right") - 1)
        grid = np.stack(block_of, axis=1) if block_of else np.zeros((stop - start, 0), dtype=np.intp)
        parts = []
        for source in {tuple(int(b) for b in row) for row in grid}:
            at = np.nonzero((grid == np.asarray(source)).all(axis=1))[0]
            offsets = [chunk_boundaries(self.array.chunks[a])[b] for a, b in enumerate(source)]
            local = tuple(coordinates[a][at] - offsets[a] for a in range(len(source)))
            parts.append((Ref(self.array._key(source)), local, at))
        return Task(self._key(index), _gather_points, sorted(parts, key=lambda p: int(p[2][0])),
                    stop - start, self.dtype)


def _gather_points(parts: list, length: int, dtype: np.dtype) -> np.ndarray:
    out = np.empty(length, dtype=dtype)
    for block, local, positions in parts:
        out[positions] = block[local]
    return out


class VIndex:
    """``x.vindex[i, j]``: NumPy's pointwise (fancy) indexing with integer arrays broadcast together."""

    def __init__(self, array: Array):
        self._array = array

    def __getitem__(self, index: Any) -> Array:
        from .shape import reshape

        x = self._array
        if any(isinstance(n, float) and np.isnan(n) for n in x.shape):
            raise ValueError("vindex needs the array's block lengths (nan chunks); call compute_chunk_sizes() first")
        index = index if isinstance(index, tuple) else (index,)
        if len(index) != x.ndim:
            raise IndexError(
                f"vindex needs one integer array per axis ({x.ndim}), got {len(index)}; slices and None are "
                "not supported in vindex yet"
            )
        arrays = [np.asarray(i) for i in index]
        if not all(np.issubdtype(a.dtype, np.integer) for a in arrays):
            raise IndexError("vindex takes integer arrays only")
        try:
            arrays = np.broadcast_arrays(*arrays)
        except ValueError:
            raise IndexError(
                "shape mismatch: indexing arrays could not be broadcast together with shapes "
                + " ".join(str(np.shape(i)) for i in index)
            ) from None
        shape = arrays[0].shape
        points = []
        for axis, a in enumerate(arrays):
            n = x.shape[axis]
            flat = a.ravel().astype(np.intp)
            bad = flat[(flat < -n) | (flat >= n)]
            if bad.size:
                raise IndexError(f"index {int(bad[0])} is out of bounds for axis {axis} with size {n}")
            points.append(tuple(int(p) for p in np.where(flat < 0, flat + n, flat)))
        count = len(points[0]) if points else 0
        piece = max(max(max(c) for c in x.chunks) if x.ndim else 1, 1)
        pieces = blockdims_from_blockshape((count,), (piece,))[0]
        flat = Array(PointIndex(x.expr, tuple(points), pieces))
        return flat if len(shape) == 1 else reshape(flat, shape)
