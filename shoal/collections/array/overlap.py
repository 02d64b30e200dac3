"""``map_overlap``: a function on every block together with a margin of its neighbours.

Each block is extended by ``depth`` elements per axis (taken from the
neighbouring blocks, and beyond the array's edges from the ``boundary``
rule), the function runs on the extended block, and the margin is trimmed
off again. Boundary rules per axis: ``"reflect"`` (mirror including the edge
element, NumPy's ``symmetric``), ``"periodic"`` (wrap around), ``"nearest"``
(repeat the edge element), ``"none"`` (no margin beyond the array's edges), or
a number (that constant).

>>> import numpy as np
>>> from shoal.collections.array.creation import arange
>>> x = arange(8, chunks=3)
>>> moving_sum = map_overlap(lambda b: b + np.roll(b, 1) + np.roll(b, -1), x, depth=1, boundary=0)
>>> moving_sum.compute(scheduler="sync").tolist()
[1, 3, 6, 9, 12, 15, 18, 13]
"""

from __future__ import annotations

import itertools
import math
import numbers
from typing import Any, Callable

import numpy as np

from ...taskgraph.core import Ref, Task
from ..delayed import funcname
from .chunks import chunk_boundaries
from .core import Array
from .expr import ArrayExpr

__all__ = ["MapOverlap", "map_overlap", "source_positions"]

_RULES = ("reflect", "periodic", "nearest", "none")


def source_positions(positions: np.ndarray, n: int, rule: Any) -> np.ndarray:
    """Where each (possibly out-of-range) position along an axis of length ``n`` reads from; -1 for a constant.

    >>> source_positions(np.arange(-2, 5), 3, "reflect").tolist()
    [1, 0, 0, 1, 2, 2, 1]
    >>> source_positions(np.arange(-2, 5), 3, "periodic").tolist()
    [1, 2, 0, 1, 2, 0, 1]
    """
    if rule == "periodic":
        return positions % n
    if rule == "nearest":
        return np.clip(positions, 0, n - 1)
    if rule == "reflect":
        period = np.mod(positions, 2 * n)
        return np.where(period < n, period, 2 * n - 1 - period)
    inside = (positions >= 0) & (positions < n)
    return np.where(inside, positions, -1)


class MapOverlap(ArrayExpr):
    """``func`` on each block extended by ``depth`` (per axis), trimmed back when ``trim``."""

    _parameters = ["array", "func", "depth", "boundary", "trim", "kwargs", "dtype"]

    @property
    def _funcname(self) -> str:
        return funcname(self.func)

    def _margins(self, axis: int, b: int) -> tuple[int, int]:
        d = self.depth[axis]
        if self.boundary[axis] == "none":
            return (0 if b == 0 else d, 0 if b == self.array.numblocks[axis] - 1 else d)
        return (d, d)

    def _compute_chunks(self) -> tuple:
        if self.trim:
            return self.array.chunks
        return tuple(
            tuple(c + sum(self._margins(axis, b)) for b, c in enumerate(blocks))
            for axis, blocks in enumerate(self.array.chunks)
        )

    def _block(self, index: tuple):
        per_axis = []
        trims = []
        for axis, b in enumerate(index):
            bounds = chunk_boundaries(self.array.chunks[axis])
            low, high = self._margins(axis, b)
            wanted = np.arange(bounds[b] - low, bounds[b + 1] + high)
            sources = source_positions(wanted, bounds[-1], self.boundary[axis])
            blocks = np.searchsorted(bounds, sources, side="right") - 1
            pieces = []
            for source_block in np.unique(blocks[sources >= 0]):
                at = np.nonzero((blocks == source_block) & (sources >= 0))[0]
                pieces.append((int(source_block), sources[at] - bounds[source_block], at))
            per_axis.append((len(wanted), pieces))
            trims.append(slice(low, low + bounds[b + 1] - bounds[b]))
        parts = []
        for combo in itertools.product(*(pieces for _, pieces in per_axis)):
            source = tuple(p[0] for p in combo)
            parts.append((Ref(self.array._key(source)), tuple(p[1] for p in combo), tuple(p[2] for p in combo)))
        shape = tuple(n for n, _ in per_axis)
        fill = [rule for rule in self.boundary if isinstance(rule, numbers.Number)]
        return Task(self._key(index), _overlap_block, parts, shape, self.array.dtype, fill[0] if fill else 0,
                    self.func, dict(self.kwargs), tuple(trims) if self.trim else None)


def _overlap_block(parts: list, shape: tuple, dtype: np.dtype, fill: Any, func: Callable, kwargs: dict,
                   trims: tuple | None) -> np.ndarray:
    extended = np.full(shape, fill, dtype=dtype)
    for block, local, positions in parts:
        extended[np.ix_(*positions)] = block[np.ix_(*local)]
    result = func(extended, **kwargs)
    return result[trims] if trims is not None else result


def _per_axis(value: Any, ndim: int, name: str, default: Any) -> tuple:
    if isinstance(value, dict):
        return tuple(value.get(a, value.get(a - ndim, default)) for a in range(ndim))
    if isinstance(value, (tuple, list)):
        if len(value) != ndim:
            raise ValueError(f"map_overlap: {name}={value!r} gives {len(value)} axes for an array of {ndim}")
        return tuple(value)
    return (value,) * ndim


def map_overlap(func: Callable, *args: Any, depth: Any = 1, boundary: Any = "none", trim: bool = True,
                dtype: Any = None, meta: Any = None, **kwargs: Any) -> Array:
    """``func`` on every block with ``depth`` neighbouring elements per axis (see the module docstring).

    ``depth``/``boundary`` are one value, a tuple per axis or a dict ``{axis: value}``.
    ``func`` must keep the shape of the extended block. Keywords go to ``func``.
    Several arrays of one shape (``map_overlap(f, x, y, depth=1)``) are cut
    alike and each extended the same way; ``func`` gets their blocks in order.
    """
    from .creation import asarray

    if len(args) == 1 and not callable(func) and callable(args[0]):  # Dask's older argument order
        func, args = args[0], (func,)
    if not args:
        raise TypeError("map_overlap needs at least one array after the function")
    arrays = [asarray(a) for a in args]
    x = arrays[0]
    depth = tuple(int(d) for d in _per_axis(depth, x.ndim, "depth", 0))
    boundary = _per_axis(boundary, x.ndim, "boundary", "none")
    for rule in boundary:
        if rule is None:
            continue
        if not (isinstance(rule, numbers.Number) or rule in _RULES):
            raise ValueError(f"map_overlap: boundary {rule!r} is not one of {_RULES} or a number")
    boundary = tuple("none" if rule is None else rule for rule in boundary)
    if any(d < 0 for d in depth):
        raise ValueError(f"map_overlap: depth must be non-negative, got {depth}")
    for a in arrays:
        unknown = [axis for axis in range(a.ndim) if any(math.isnan(c) for c in a.chunks[axis])]
        if unknown:  # every axis's block boundaries place the pieces of the extended blocks
            raise ValueError(f"map_overlap: axis {unknown[0]} has unknown block lengths (nan chunks), so the "
                             "extended blocks cannot be laid out; call compute_chunk_sizes() first")
    if len(arrays) > 1:
        return _map_overlap_several(func, arrays, depth, boundary, trim, dtype, meta, kwargs)
    if dtype is None:
        dtype = np.asarray(meta).dtype if meta is not None else x.dtype
    return Array(MapOverlap(x.expr, func, depth, boundary, bool(trim), tuple(sorted(kwargs.items())), np.dtype(dtype)))


def _identity(block: np.ndarray) -> np.ndarray:
    return block


def _trim_margins(block: np.ndarray, margins: tuple, block_id: tuple = ()) -> np.ndarray:
    """``block`` without the margins its place along each axis was extended by."""
    return block[tuple(slice(low, block.shape[k] - high)
                       for k, (low, high) in enumerate(axis[b] for axis, b in zip(margins, block_id)))]


def _map_overlap_several(func: Callable, arrays: list, depth: tuple, boundary: tuple, trim: bool, dtype: Any,
                         meta: Any, kwargs: dict) -> Array:
    """Each array extended alike (untrimmed), ``func`` on their blocks side by side, then the margins trimmed."""
    from .blockwise import map_blocks
    from .elementwise import unify_chunks

    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"map_overlap: the arrays must have one shape, got {' and '.join(map(str, sorted(shapes)))}")
    unified = unify_chunks([a.expr for a in arrays])
    extended = [MapOverlap(e, _identity, depth, boundary, False, (), e.dtype) for e in unified]
    if dtype is None and meta is not None:
        dtype = np.asarray(meta).dtype
    result = map_blocks(func, *(Array(e) for e in extended), dtype=dtype, **kwargs)
    if not trim:
        return result
    margins = tuple(tuple(extended[0]._margins(axis, b) for b in range(len(blocks)))
                    for axis, blocks in enumerate(unified[0].chunks))
    return map_blocks(_trim_margins, result, margins=margins, chunks=unified[0].chunks, dtype=result.dtype)
