"""Whole-array summaries with a 1-d result of their own: ``unique``, ``bincount``, ``histogram``, ``topk``.

Each block is summarized on its own (``chunk``), groups of ``split_every``
summaries are merged level by level (``combine``), and the last merge makes
the single output block (``aggregate``). A result whose length depends on
the data (``unique``, ``bincount`` without ``minlength``) has an unknown
(nan) block length until computed.

>>> import numpy as np
>>> from shoal.collections.array.creation import from_array
>>> unique(from_array(np.array([3, 1, 3, 2, 1]), chunks=2)).compute(scheduler="sync").tolist()
[1, 2, 3]
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import numpy as np

from ... import config
from ...taskgraph.core import Ref, Task
from .core import Array
from .expr import ArrayExpr

__all__ = ["Summary", "unique", "bincount", "histogram", "topk", "argtopk"]


class Summary(ArrayExpr):
    """``aggregate(combine(...combine(chunk(block) for block)))`` as one 1-d output block."""

    _parameters = ["array", "chunk", "combine", "aggregate", "chunks", "dtype", "split_every", "label", "extra"]
    _defaults = {"extra": None}  # an expression whose single block every chunk call gets as its second argument

    @property
    def _funcname(self) -> str:
        return self.label

    def _layer(self) -> dict:
        token = self._name.rsplit("-", 1)[-1]
        layer: dict = {}
        level = []
        for n, idx in enumerate(np.ndindex(*self.array.numblocks)):
            key = (f"{self.label}-chunk-{token}", n)
            extra = () if self.extra is None else (Ref(self.extra._key((0,) * self.extra.ndim)),)
            layer[key] = Task(key, self.chunk, Ref(self.array._key(idx)), *extra)
            level.append(key)
        depth = 0
        while len(level) > self.split_every:
            grouped = []
            for g in range(0, len(level), self.split_every):
                key = (f"{self.label}-combine{depth}-{token}", g // self.split_every)
                layer[key] = Task(key, self.combine, [Ref(k) for k in level[g:g + self.split_every]])
                grouped.append(key)
            level, depth = grouped, depth + 1
        out = self._key((0,))
        layer[out] = Task(out, self.aggregate, [Ref(k) for k in level])
        return layer


def _summary(x: Any, chunk: Callable, combine: Callable, aggregate: Callable, length: float, dtype: Any,
             label: str, split_every: int | None = None, extra: Array | None = None) -> Array:
    from .creation import asarray

    x = asarray(x)
    split_every = split_every or config.get("array.split-every")
    return Array(Summary(x.expr, chunk, combine, aggregate, ((length,),), np.dtype(dtype), int(split_every), label,
                         None if extra is None else extra.expr))


# --------------------------------------------------------------------- unique


def _unique_all(parts: list) -> np.ndarray:
    return np.unique(np.concatenate([np.asarray(p).ravel() for p in parts]))


def unique(x: Any, return_index: bool = False, return_inverse: bool = False, return_counts: bool = False,
           split_every: int | None = None) -> Any:
    """``numpy.unique``: the sorted distinct values (length unknown until computed), and on request the
    flat position of each one's first occurrence, the inverse (shaped like ``x``, as NumPy 2 gives it) and
    the counts; a tuple of lazy Arrays then, in NumPy's order.

    >>> from shoal.collections.array.creation import from_array
    >>> values, counts = unique(from_array(np.array([3, 1, 3, 2, 1, 3]), chunks=4), return_counts=True)
    >>> values.compute(scheduler="sync").tolist(), counts.compute(scheduler="sync").tolist()
    ([1, 2, 3], [2, 1, 3])
    """
    from .creation import asarray

    x = asarray(x)
    if not (return_index or return_inverse or return_counts):
        return _summary(x, np.unique, _unique_all, _unique_all, math.nan, x.dtype, "unique", split_every)
    from .blockwise import blockwise, map_blocks
    from .creation import arange

    flat = x.ravel()
    if any(math.isnan(c) for c in flat.chunks[0]):
        raise ValueError("unique(return_index/return_inverse/return_counts) needs known chunk sizes (nan chunks); "
                         "call compute_chunk_sizes() first")
    records_dtype = np.dtype([("value", x.dtype), ("index", np.intp), ("count", np.intp)])
    positions = arange(flat.shape[0], chunks=flat.chunks, dtype=np.intp)
    per_block = blockwise(_unique_records, "i", flat, "i", positions, "i", dtype=records_dtype,
                          adjust_chunks={"i": _unknown_length})
    merged = _summary(per_block, _identity, _merge_unique_records, _merge_unique_records, math.nan, records_dtype,
                      "unique", split_every)
    values = map_blocks(_record_field, merged, field="value", dtype=x.dtype)
    results = [values]
    if return_index:
        results.append(map_blocks(_record_field, merged, field="index", dtype=np.intp))
    if return_inverse:
        letters = "abcdefghijklmnopqrstuvwxyz"[:x.ndim]
        results.append(blockwise(_inverse_positions, letters, values, "Z", x, letters, dtype=np.intp))
    if return_counts:
        results.append(map_blocks(_record_field, merged, field="count", dtype=np.intp))
    return tuple(results)


def _unknown_length(_: int) -> float:
    return math.nan


def _unique_records(block: np.ndarray, positions: np.ndarray) -> np.ndarray:
    values, first, counts = np.unique(block, return_index=True, return_counts=True)
    records = np.empty(len(values), dtype=[("value", block.dtype), ("index", np.intp), ("count", np.intp)])
    records["value"], records["index"], records["count"] = values, positions[first], counts
    return records


def _merge_unique_records(parts: list) -> np.ndarray:
    everything = np.concatenate(parts)
    values, inverse = np.unique(everything["value"], return_inverse=True)
    records = np.empty(len(values), dtype=everything.dtype)
    records["value"] = values
    records["index"] = np.iinfo(np.intp).max
    np.minimum.at(records["index"], inverse, everything["index"])  # the earliest occurrence over all blocks
    records["count"] = 0
    np.add.at(records["count"], inverse, everything["count"])
    return records


def _record_field(records: np.ndarray, field: str) -> np.ndarray:
    return np.ascontiguousarray(records[field])


def _inverse_positions(values: np.ndarray, block: np.ndarray) -> np.ndarray:
    # values is sorted as np.unique sorts (nan last), which is the order searchsorted assumes
    return np.searchsorted(values, block).astype(np.intp, copy=False)


# --------------------------------------------------------------------- bincount


def _bincount_block(block: np.ndarray, weights: np.ndarray | None = None, minlength: int = 0) -> np.ndarray:
    return np.bincount(block, weights=weights, minlength=minlength)


def _sum_padded(parts: list) -> np.ndarray:
    length = max(len(p) for p in parts)
    total = np.zeros(length, dtype=np.result_type(*parts))
    for p in parts:
        total[: len(p)] += p
    return total


def bincount(x: Any, weights: Any = None, minlength: int = 0, split_every: int | None = None) -> Array:
    """``numpy.bincount`` of a 1-d array of non-negative ints (``weights`` chunked like ``x``)."""
    from .creation import asarray
    from .elementwise import elemwise

    x = asarray(x)
    if x.ndim != 1:
        raise ValueError(f"bincount needs a 1-d array, got {x.ndim} dimensions")
    # the result is max(x) + 1 long (at least minlength): not known before computing
    length = math.nan
    if weights is not None:
        # pair each block with its weights: one elementwise task gives both to the chunk function
        paired = elemwise(_pair_bincount, x, weights, minlength=minlength, dtype=np.float64)
        counts_dtype = np.bincount(np.zeros(1, dtype=np.intp), weights=np.ones(1, asarray(weights).dtype)).dtype
        return _summary(paired, _identity, _sum_padded, _sum_padded, length, counts_dtype, "bincount", split_every)
    chunk = functools.partial(_bincount_block, minlength=minlength)
    return _summary(x, chunk, _sum_padded, _sum_padded, length, np.intp, "bincount", split_every)


def _pair_bincount(block: np.ndarray, weights: np.ndarray, minlength: int) -> np.ndarray:
    return np.bincount(block, weights=weights, minlength=minlength)


def _identity(value: Any) -> Any:
    return value


# --------------------------------------------------------------------- histogram


def _histogram_block(block: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.histogram(block, bins=edges)[0]


def _sum_all(parts: list) -> np.ndarray:
    return functools.reduce(np.add, parts)


def _block_range(block: np.ndarray) -> np.ndarray:
    flat = np.asarray(block).ravel()
    return np.array([flat.min(), flat.max()], dtype=np.float64) if flat.size else np.array([np.inf, -np.inf])


def _merge_ranges(parts: list) -> np.ndarray:
    stacked = np.array(parts)  # np.min/np.max, unlike min/max, carry a nan through
    return np.array([stacked[:, 0].min(), stacked[:, 1].max()])


def _edges_of_range(data_range: np.ndarray, bins: int) -> np.ndarray:
    if not np.isfinite(data_range).all():
        raise ValueError(f"histogram: autodetected range of [{data_range[0]}, {data_range[1]}] is not finite "
                         "(the array is empty or holds nan/inf); pass range=(low, high)")
    return np.histogram_bin_edges(data_range, bins=bins)


def _weighted_histogram_block(pairs: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.histogram(pairs["a"], bins=edges, weights=pairs["w"])[0]


def _pair(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    pairs = np.empty(np.broadcast_shapes(a.shape, w.shape), dtype=[("a", a.dtype), ("w", w.dtype)])
    pairs["a"], pairs["w"] = a, w
    return pairs


def histogram(a: Any, bins: Any = 10, range: tuple | None = None, density: bool = False,
              weights: Any = None, split_every: int | None = None) -> tuple:
    """``numpy.histogram``: ``(counts, edges)``, counts lazy.

    With bin edges or ``range=`` the edges are known up front (a NumPy array);
    with a number of bins and no range they come from the data's min and max,
    found in the same pass of the graph, so they are a lazy Array too.
    ``density=True`` divides by the total count and the bin widths.
    ``weights`` (an array of ``a``'s shape) makes each element count its weight.

    >>> from shoal.collections.array.creation import from_array
    >>> counts, edges = histogram(from_array(np.array([0.0, 1.0, 1.0, 4.0]), chunks=2), bins=2)
    >>> counts.compute(scheduler="sync").tolist(), edges.compute(scheduler="sync").tolist()
    ([3, 1], [0.0, 2.0, 4.0])
    """
    from .creation import asarray
    from .blockwise import map_blocks

    from .elementwise import elemwise

    a = asarray(a)
    counted, block_counts, counts_dtype = a, _histogram_block, np.intp
    if weights is not None:
        weights = asarray(weights)
        if weights.shape != a.shape:
            raise ValueError(f"histogram: weights of shape {weights.shape} should have the same shape as a {a.shape}")
        counts_dtype = np.histogram(np.zeros(1), bins=1, weights=np.ones(1, weights.dtype))[0].dtype
        counted = elemwise(_pair, a, weights, dtype=[("a", a.dtype), ("w", weights.dtype)])
        block_counts = _weighted_histogram_block
    if np.ndim(bins) == 0 and range is None:
        data_range = _summary(a, _block_range, _merge_ranges, _merge_ranges, 2, np.float64, "histogram-range",
                              split_every)
        edges = map_blocks(_edges_of_range, data_range, bins=int(bins), chunks=((int(bins) + 1,),),
                           dtype=np.float64)
        counts = _summary(counted, block_counts, _sum_all, _sum_all, int(bins), counts_dtype, "histogram",
                          split_every, extra=edges)
    else:
        if np.ndim(bins) == 0:
            edges = np.histogram_bin_edges(np.empty(0), bins=int(bins), range=range)
        else:
            edges = np.asarray(bins)
        chunk = functools.partial(block_counts, edges=edges)
        counts = _summary(counted, chunk, _sum_all, _sum_all, len(edges) - 1, counts_dtype, "histogram",
                          split_every)
    if density:
        widths = edges[1:] - edges[:-1]
        counts = counts / (counts.sum() * widths)
    return counts, edges


# --------------------------------------------------------------------- topk


def _topk_along(block: np.ndarray, k: int, axis: int) -> np.ndarray:
    """The ``k`` largest (``k < 0``: ``-k`` smallest) entries of ``block`` along ``axis``, unordered."""
    n = block.shape[axis]
    if abs(k) >= n:
        return block
    if k > 0:
        return np.take(np.partition(block, n - k, axis=axis), np.arange(n - k, n), axis=axis)
    return np.take(np.partition(block, -k - 1, axis=axis), np.arange(-k), axis=axis)


def _sorted_topk(block: np.ndarray, k: int, axis: int) -> np.ndarray:
    ordered = np.sort(_topk_along(block, k, axis), axis=axis)
    return np.flip(ordered, axis=axis) if k > 0 else ordered


def topk(x: Any, k: int, axis: int | None = -1, split_every: int | None = None) -> Array:
    """The ``k`` largest elements along ``axis``, largest first (``k < 0``: the ``-k`` smallest, smallest
    first), as ``dask.array.topk``; ``axis=None`` looks at the flattened array.

    Each block keeps its own best ``|k|`` along the axis; groups of
    ``split_every`` neighbouring blocks are merged and cut back to ``|k|``
    until one block is left along the axis, which is then sorted.

    >>> from shoal.collections.array.creation import from_array
    >>> topk(from_array(np.array([[3, 9, 1, 7], [5, 2, 8, 0]]), chunks=2), 2).compute(scheduler="sync").tolist()
    [[9, 7], [8, 5]]
    """
    x, axis, split_every = _top_arguments(x, k, axis, split_every, "topk")
    best = _keep_best(x, k, axis, split_every, _topk_along)
    return best.map_blocks(_sorted_topk, k=k, axis=axis, chunks=best.chunks, dtype=x.dtype)


def argtopk(x: Any, k: int, axis: int | None = -1, split_every: int | None = None) -> Array:
    """The positions along ``axis`` of the ``k`` largest elements, largest first (``k < 0``: of the ``-k``
    smallest, smallest first), as ``dask.array.argtopk``; ``axis=None``: positions in the flattened array.

    >>> from shoal.collections.array.creation import from_array
    >>> argtopk(from_array(np.array([3, 9, 1, 7]), chunks=3), 2).compute(scheduler="sync").tolist()
    [1, 3]
    """
    from .blockwise import map_blocks

    x, axis, split_every = _top_arguments(x, k, axis, split_every, "argtopk")
    records = np.dtype([("value", x.dtype), ("position", np.intp)])
    tagged = map_blocks(_with_positions, x, axis=axis, dtype=records)
    best = _keep_best(tagged, k, axis, split_every, _top_records_along)
    return best.map_blocks(_sorted_positions, k=k, axis=axis, chunks=best.chunks, dtype=np.intp)


def _top_arguments(x: Any, k: int, axis: Any, split_every: Any, name: str) -> tuple:
    from .creation import asarray

    x = asarray(x)
    if k == 0:
        raise ValueError(f"{name} needs k != 0")
    if axis is None:
        x, axis = x.ravel(), 0
    if not -x.ndim <= axis < x.ndim:
        raise np.exceptions.AxisError(f"axis {axis} is out of bounds for array of dimension {x.ndim}")
    axis %= x.ndim
    if any(math.isnan(c) for c in x.chunks[axis]):
        raise ValueError(f"{name}: axis {axis} has unknown length (nan chunks); call compute_chunk_sizes() first")
    split_every = int(split_every or config.get("array.split-every"))
    if split_every < 2:
        raise ValueError(f"split_every must be at least 2, got {split_every}")
    return x, axis, split_every


def _keep_best(x: Array, k: int, axis: int, split_every: int, cut: Callable) -> Array:
    """``x`` cut down to its best ``|k|`` along ``axis`` in one block there, by a tree of merges."""
    def cut_back(part: Array) -> Array:
        chunks = list(part.chunks)
        chunks[axis] = tuple(min(abs(k), c) for c in chunks[axis])
        return part.map_blocks(cut, k=k, axis=axis, chunks=tuple(chunks), dtype=part.dtype)

    best = cut_back(x)
    while best.numblocks[axis] > 1:  # each round divides the blocks along the axis by split_every >= 2
        lengths = best.chunks[axis]
        groups = tuple(sum(lengths[g:g + split_every]) for g in range(0, len(lengths), split_every))
        best = cut_back(best.rechunk({axis: groups}))
    return best


def _with_positions(block: np.ndarray, axis: int, block_info: Any = None) -> np.ndarray:
    start = block_info[0]["array-location"][axis][0] if block_info else 0
    records = np.empty(block.shape, dtype=[("value", block.dtype), ("position", np.intp)])
    records["value"] = block
    shape = [1] * block.ndim
    shape[axis] = block.shape[axis]
    records["position"] = (np.arange(block.shape[axis]) + start).reshape(shape)
    return records


def _top_records_along(records: np.ndarray, k: int, axis: int) -> np.ndarray:
    n = records.shape[axis]
    if abs(k) >= n:
        return records
    kept = np.argpartition(records["value"], n - k if k > 0 else -k - 1, axis=axis)
    kept = np.take(kept, np.arange(n - k, n) if k > 0 else np.arange(-k), axis=axis)
    return np.take_along_axis(records, kept, axis=axis)


def _sorted_positions(records: np.ndarray, k: int, axis: int) -> np.ndarray:
    order = np.argsort(records["value"], axis=axis, kind="stable")
    if k > 0:
        order = np.flip(order, axis=axis)
    return np.take_along_axis(records["position"], order, axis=axis)
