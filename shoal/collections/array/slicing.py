"""Basic indexing: ints, slices (any step), ``None`` and ``Ellipsis``; and ``x.blocks[...]``.

Theory of operation: the index is normalized when the expression is built
(bounds are checked there, so an out-of-range integer fails at once, naming
the axis and its size). A ``Slice`` node reads, for each output block,
exactly one input block and slices it: along a sliced axis every input block
that holds selected elements gives one output block (in reverse block order
for a negative step). Blocks that hold nothing selected are never read.

>>> import numpy as np
>>> from shoal.collections.array.creation import from_array
>>> x = from_array(np.arange(10), chunks=4)
>>> x[::-3].chunks, x[::-3].compute(scheduler="sync").tolist()
(((1, 1, 2),), [9, 6, 3, 0])
"""

from __future__ import annotations

import bisect
import math
import operator
from typing import Any

import numpy as np

from ...taskgraph.core import Alias, Ref, Task
from .chunks import chunk_boundaries
from .core import Array
from .expr import ArrayExpr

__all__ = ["Slice", "BlockSelect", "BooleanMask", "AxisMask", "KnownChunks", "normalize_index", "getitem",
           "select_blocks", "slice_axis_plan", "boolean_mask", "getitem_with_lazy_mask", "compute_chunk_sizes"]


def _neg(v: int) -> int:
    return -v


def normalize_index(index: Any, shape: tuple) -> tuple:
    """One entry per output-producing position: ints (made non-negative), normalized slices, None.

    Missing trailing axes become full slices; ``Ellipsis`` is expanded.

    >>> normalize_index((Ellipsis, -1), (3, 4))
    (slice(None, None, None), 3)
    >>> normalize_index((None, slice(None, None, -1)), (3,))
    (None, slice(2, None, -1))
    """
    if not isinstance(index, tuple):
        index = (index,)
    for entry in index:
        if isinstance(entry, (bool, np.bool_)) or not (
            entry is None or entry is Ellipsis or isinstance(entry, (slice, int, np.integer))
        ):
            raise NotImplementedError(
                f"Indexing with {type(entry).__name__} {entry!r:.60} is not implemented yet for shoal Arrays "
                "(only ints, slices, None and ...); compute() first, or use map_blocks"
            )
    ellipses = sum(1 for e in index if e is Ellipsis)
    if ellipses > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(1 for e in index if e is not None and e is not Ellipsis)
    ndim = len(shape)
    if used > ndim:
        raise IndexError(f"too many indices for array: array is {ndim}-dimensional, but {used} were indexed")
    if ellipses:
        at = next(i for i, e in enumerate(index) if e is Ellipsis)
        index = index[:at] + (slice(None),) * (ndim - used) + index[at + 1:]
    else:
        index = index + (slice(None),) * (ndim - used)
    out = []
    axis = 0
    for entry in index:
        if entry is None:
            out.append(None)
            continue
        n = shape[axis]
        known = not (isinstance(n, float) and math.isnan(n))
        if isinstance(entry, slice):
            if not known:
                if entry != slice(None):
                    raise ValueError(
                        f"Cannot slice axis {axis}: its length is unknown (nan chunks); "
                        "call compute_chunk_sizes() first"
                    )
                out.append(slice(None))
            else:
                out.append(_normal_slice(entry, n))
        else:
            i = int(entry)
            if not known:
                raise ValueError(
                    f"Cannot index axis {axis} with {i}: its length is unknown (nan chunks); "
                    "call compute_chunk_sizes() first"
                )
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for axis {axis} with size {n}")
            out.append(i % n)
        axis += 1
    return tuple(out)


def _normal_slice(s: slice, n: int) -> slice:
    r = range(*s.indices(n))
    if len(r) == 0:
        return slice(0, 0, 1)
    if r.step == 1 and r.start == 0 and r.stop == n:
        return slice(None)
    return slice(r.start, r.stop if r.stop >= 0 else None, r.step)


def _as_range(s: slice, n: int) -> range:
    return range(*s.indices(n))


def slice_axis_plan(blocks: tuple, s: slice) -> list[tuple]:
    """For one axis sliced by ``s``: ``[(input block, slice within it), ...]``, one per output block.

    >>> slice_axis_plan((4, 4, 2), slice(1, 9, 3))
    [(0, slice(1, 4, 3)), (1, slice(0, 6, 3))]
    >>> slice_axis_plan((4, 4, 2), slice(9, None, -4))
    [(2, slice(1, None, -4)), (1, slice(1, None, -4)), (0, slice(1, None, -4))]
    """
    if s == slice(None):
        return [(b, slice(None)) for b in range(len(blocks))]
    bounds = chunk_boundaries(blocks)
    r = _as_range(s, bounds[-1])
    plan = []
    order = range(len(blocks)) if r.step > 0 else range(len(blocks) - 1, -1, -1)
    for b in order:
        lo, hi = bounds[b], bounds[b + 1]
        if r.step > 0:
            k1, k2 = bisect.bisect_left(r, lo), bisect.bisect_left(r, hi)
        else:
            k1, k2 = bisect.bisect_right(r, -hi, key=_neg), bisect.bisect_right(r, -lo, key=_neg)
        sub = r[k1:k2]
        if len(sub):
            # slice(start, stop) local to the block; a stop below 0 means "through the block's start".
            stop = sub.start - lo + len(sub) * sub.step
            plan.append((b, slice(sub.start - lo, stop if stop >= 0 else None, sub.step)))
    if not plan:
        plan.append((0, slice(0, 0, 1)))
    return plan


def _piece_length(s: slice, block_length: int) -> int:
    return len(range(*s.indices(block_length)))


class Slice(ArrayExpr):
    """``array[index]`` for a normalized basic index."""

    _parameters = ["array", "index"]

    def _compute_dtype(self) -> np.dtype:
        return self.array.dtype

    def _plans(self) -> list:
        """Per entry of the index: the axis plan for slices, the block and offset for ints, None for None."""
        cached = self.__dict__.get("_cached_plans")
        if cached is None:
            cached = []
            axis = 0
            for entry in self.index:
                if entry is None:
                    cached.append(None)
                    continue
                blocks = self.array.chunks[axis]
                if isinstance(entry, slice):
                    cached.append(slice_axis_plan(blocks, entry))
                else:
                    bounds = chunk_boundaries(blocks)
                    b = bisect.bisect_right(bounds, entry) - 1
                    while blocks[b] == 0:  # skip empty blocks that share the boundary
                        b += 1
                    cached.append((b, entry - bounds[b]))
                axis += 1
            self.__dict__["_cached_plans"] = cached
        return cached

    def _compute_chunks(self) -> tuple:
        out = []
        axis = 0
        for entry, plan in zip(self.index, self._plans()):
            if entry is None:
                out.append((1,))
                continue
            blocks = self.array.chunks[axis]
            if isinstance(entry, slice):
                if entry == slice(None):
                    out.append(blocks)
                else:
                    out.append(tuple(_piece_length(s, blocks[b]) for b, s in plan))
            axis += 1
        return tuple(out)

    def _simplify_down(self) -> ArrayExpr | None:
        if all(isinstance(e, slice) and e == slice(None) for e in self.index) and len(self.index) == self.array.ndim:
            return self.array
        return None

    def _block(self, index: tuple):
        in_index = []
        local = []
        out_axis = 0
        for entry, plan in zip(self.index, self._plans()):
            if entry is None:
                local.append(None)
                out_axis += 1
            elif isinstance(entry, slice):
                b, s = plan[index[out_axis]]
                in_index.append(b)
                local.append(s)
                out_axis += 1
            else:
                b, offset = plan
                in_index.append(b)
                local.append(offset)
        ref = Ref(self.array._key(tuple(in_index)))
        return Task(self._key(index), operator.getitem, ref, tuple(local))


def push_slice_through_elemwise(node: Slice, elemwise: ArrayExpr) -> ArrayExpr | None:
    """``Elemwise(f, a[idx], b[idx'])`` for ``Elemwise(f, a, b)[idx]``; None when it cannot be pushed.

    Each argument gets the part of the index for its own (trailing) axes; on
    an axis it broadcasts along (length 1) it keeps its single element.
    """
    from .elementwise import Elemwise

    index = node.index
    if any(e is None for e in index):
        return None
    out_ndim = elemwise.ndim
    out_shape = elemwise.shape
    args = []
    for arg in elemwise.args:
        if not isinstance(arg, ArrayExpr):
            args.append(arg)
            continue
        offset = out_ndim - arg.ndim
        own = []
        for a in range(arg.ndim):
            entry = index[offset + a]
            if arg.shape[a] == 1 and out_shape[offset + a] != 1:
                entry = 0 if not isinstance(entry, slice) else slice(None)
            own.append(entry)
        args.append(Slice(arg, tuple(own)))
    return Elemwise(elemwise.func, tuple(args), elemwise.kwargs, elemwise.dtype)


def getitem(x: Array, index: Any) -> Array:
    """``x[index]`` for basic indices; see the module docstring."""
    from .core import Array as _Array

    if isinstance(index, tuple) and len(index) == 1 and _is_boolean_mask(index[0], x):
        index = index[0]  # x[(mask,)] is x[mask], as in NumPy
    if _is_boolean_mask(index, x):
        return boolean_mask(x, index)
    from .take import getitem_with_array, is_index_array

    entries = index if isinstance(index, tuple) else (index,)
    if any(isinstance(e, _Array) for e in entries):
        return getitem_with_lazy_mask(x, entries)
    if any(is_index_array(e) for e in entries):
        return getitem_with_array(x, entries)
    if isinstance(index, _Array) or isinstance(index, (list, np.ndarray)):
        raise NotImplementedError(
            "Integer-array indexing (and boolean masks that are not the array's full shape) is not "
            "implemented yet for shoal Arrays; compute() the array first, or use map_blocks"
        )
    normalized = normalize_index(index, x.shape)
    node = Slice(x.expr, normalized)
    simplified = node._simplify_down()
    return Array(simplified if simplified is not None else node)


class BlockSelect(ArrayExpr):
    """The array made of a sub-grid of another array's blocks (``x.blocks[...]``)."""

    _parameters = ["array", "selection"]

    def _compute_dtype(self) -> np.dtype:
        return self.array.dtype

    def _compute_chunks(self) -> tuple:
        return tuple(tuple(c[b] for b in sel) for c, sel in zip(self.array.chunks, self.selection))

    def _block(self, index: tuple):
        source = tuple(sel[i] for sel, i in zip(self.selection, index))
        return Alias(self._key(index), self.array._key(source))


def select_blocks(x: Array, index: Any) -> Array:
    """``x.blocks[index]``: ints and slices over the grid of blocks; the number of dimensions is kept.

    >>> from shoal.collections.array.creation import arange
    >>> arange(10, chunks=3).blocks[-1].compute(scheduler="sync").tolist()
    [9]
    """
    if not isinstance(index, tuple):
        index = (index,)
    if any(e is None for e in index):
        raise IndexError("x.blocks[...] does not take None (new axes); index the blocks, then use x[None]")
    normalized = normalize_index(index, x.numblocks)
    selection = []
    for axis, entry in enumerate(normalized):
        if isinstance(entry, slice):
            selection.append(tuple(range(*entry.indices(x.numblocks[axis]))))
        else:
            selection.append((entry,))
    if any(len(s) == 0 for s in selection):
        raise IndexError(f"x.blocks[{index}] selects no blocks")
    return Array(BlockSelect(x.expr, tuple(selection)))


# --------------------------------------------------------------------- boolean masks


def _is_boolean_mask(index: Any, x: Array) -> bool:
    dtype = getattr(index, "dtype", None)
    return dtype is not None and np.dtype(dtype) == np.bool_ and tuple(index.shape) == tuple(x.shape) and x.ndim > 0


class BooleanMask(ArrayExpr):
    """``array[mask]`` for a mask of the array's shape and chunks: one 1-d block of unknown length per block."""

    _parameters = ["array", "mask"]

    def _compute_dtype(self) -> np.dtype:
        return self.array.dtype

    def _compute_chunks(self) -> tuple:
        return ((math.nan,) * self.array.npartitions,)

    def _block(self, index: tuple):
        source = tuple(int(i) for i in np.unravel_index(index[0], self.array.numblocks))
        return Task(self._key(index), _select, Ref(self.array._key(source)), Ref(self.mask._key(source)))


def _select(block: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return block[mask]


def boolean_mask(x: Array, mask: Any) -> Array:
    """``x[mask]``: the elements where ``mask`` is true, in C order; its block lengths are unknown (nan)
    until ``compute_chunk_sizes()``.

    >>> from shoal.collections.array.creation import arange
    >>> x = arange(6, chunks=4)
    >>> y = x[x % 2 == 0]
    >>> y.shape[0] != y.shape[0], y.compute(scheduler="sync").tolist()  # nan: unknown until computed
    (True, [0, 2, 4])
    """
    from .creation import from_array
    from .elementwise import unify_chunks

    from .rechunk import Rechunk

    mask_expr = mask.expr if isinstance(mask, Array) else from_array(np.asarray(mask), chunks=x.chunks).expr
    array_expr, mask_expr = unify_chunks([x.expr, mask_expr])
    # NumPy returns the selected elements in C order; that is block order only when every axis
    # but the first is a single block, so cut the inputs that way first.
    whole_rows = (array_expr.chunks[0],) + tuple((n,) for n in array_expr.shape[1:])
    if whole_rows != array_expr.chunks:
        array_expr, mask_expr = Rechunk(array_expr, whole_rows), Rechunk(mask_expr, whole_rows)
    return Array(BooleanMask(array_expr, mask_expr))


class AxisMask(ArrayExpr):
    """``array`` keeping, along ``axis``, the positions where the 1-d ``mask`` (cut like that axis) is true."""

    _parameters = ["array", "mask", "axis"]

    def _compute_dtype(self) -> np.dtype:
        return self.array.dtype

    def _compute_chunks(self) -> tuple:
        chunks = list(self.array.chunks)
        chunks[self.axis] = (math.nan,) * len(chunks[self.axis])
        return tuple(chunks)

    def _block(self, index: tuple):
        mask = Ref(self.mask._key((index[self.axis],)))
        return Task(self._key(index), np.compress, mask, Ref(self.array._key(index)), self.axis)


def getitem_with_lazy_mask(x: Array, entries: tuple) -> Array:
    """``x[..., mask, ...]`` for a lazy 1-d boolean ``mask`` (e.g. ``x[x[:, 0] > 0]``): basic indexing first,
    then the mask along its axis, whose block lengths become unknown (nan). A lazy 1-d integer Array
    indexes its axis the same way (see ``take.LazyTake``).

    >>> from shoal.collections.array.creation import from_array
    >>> x = from_array(np.arange(12).reshape(4, 3), chunks=2)
    >>> y = x[x[:, 0] > 4]
    >>> y.chunks, y.compute(scheduler="sync").tolist()
    (((nan, nan), (2, 1)), [[6, 7, 8], [9, 10, 11]])
    """
    from .rechunk import Rechunk

    lazy = [k for k, e in enumerate(entries) if isinstance(e, Array)]
    mask = entries[lazy[0]]
    integers = np.issubdtype(mask.dtype, np.integer)
    if len(lazy) != 1 or mask.ndim != 1 or not (mask.dtype == np.bool_ or integers) or any(
            e is Ellipsis for e in entries):
        raise NotImplementedError(
            "Indexing a shoal Array with a lazy Array is implemented for one 1-d boolean mask or integer Array "
            "along an axis (x[m], x[:, idx]) and for a boolean mask of x's whole shape; several lazy indices, "
            "other dimensions or one with ...: compute() the index first (x[idx.compute()])"
        )
    at = lazy[0]
    basic = entries[:at] + (slice(None),) + entries[at + 1:]
    axis = sum(1 for e in entries[:at] if e is None or isinstance(e, slice))  # the masked axis after `basic`
    source_axis = sum(1 for e in entries[:at] if e is not None)
    if source_axis >= x.ndim:
        raise IndexError(f"too many indices for array: array is {x.ndim}-dimensional")
    if integers:
        from .take import _advanced_apart, take_lazy
        from .shape import moveaxis

        result = take_lazy(x[basic], mask, axis)
        return moveaxis(result, axis, 0) if _advanced_apart(entries, at) else result
    length = x.shape[source_axis]
    if any(isinstance(n, float) and math.isnan(n) for n in (length, mask.shape[0])):
        raise ValueError(
            f"Cannot mask axis {source_axis}: the length of the axis or of the mask is unknown (nan chunks); "
            "call compute_chunk_sizes() first"
        )
    if mask.shape[0] != length:
        raise IndexError(
            f"boolean index did not match indexed array along axis {source_axis}; size of axis is {length} "
            f"but size of corresponding boolean axis is {mask.shape[0]}"
        )
    selected = x[basic]
    mask_expr = mask.expr
    if mask_expr.chunks[0] != selected.chunks[axis]:
        mask_expr = Rechunk(mask_expr, (selected.chunks[axis],))
    return Array(AxisMask(selected.expr, mask_expr, axis))


class KnownChunks(ArrayExpr):
    """The same blocks as ``array``, with block lengths measured (``compute_chunk_sizes``)."""

    _parameters = ["array", "chunks"]

    def _compute_dtype(self) -> np.dtype:
        return self.array.dtype

    def _block(self, index: tuple):
        return Alias(self._key(index), self.array._key(index))


def _block_shape(block: Any) -> tuple:
    return tuple(int(n) for n in np.shape(block))


def compute_chunk_sizes(x: Array, **kwargs) -> Array:
    """An Array equal to ``x`` whose unknown (nan) block lengths are measured by computing its blocks.

    shoal Arrays are immutable, so this returns a new Array (Dask changes ``x`` in place);
    persist ``x`` first if its blocks are expensive, since they are computed here and again later.
    Keywords go to the scheduler.
    """
    from ...base import get

    plan = x.expr.optimize()
    graph = dict(x.__shoal_graph__())
    keys = []
    for idx in np.ndindex(*x.numblocks):
        key = (f"chunk-shape-{plan._name}", *idx)
        graph[key] = Task(key, _block_shape, Ref(plan._key(idx)))
        keys.append(key)
    kwargs.setdefault("scheduler", "threads")
    shapes = dict(zip((k[1:] for k in keys), get(graph, keys, **kwargs)))
    chunks = tuple(
        tuple(shapes[tuple(i if a == axis else 0 for a in range(x.ndim))][axis] for i in range(x.numblocks[axis]))
        for axis in range(x.ndim)
    )
    return Array(KnownChunks(plan, chunks))
