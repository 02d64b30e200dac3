"""Chunks: how an array is cut into blocks, and the arithmetic on those cuts.

``chunks`` is a tuple with one tuple per axis listing the length of every
block along that axis: ``((2, 2, 1), (3,))`` cuts a 5x3 array into three
blocks of rows. A length not known until compute time is ``nan``.

Everything here is plain Python on tuples: no graphs, no NumPy arrays, so the
functions are cheap and property-testable.
"""

from __future__ import annotations

import math
import re
from itertools import accumulate
from typing import Any, Iterable, Sequence

import numpy as np

from ... import config

__all__ = [
    "normalize_chunks", "blockdims_from_blockshape", "parse_bytes", "chunk_boundaries",
    "common_chunks", "slices_from_chunks", "chunk_offsets", "auto_chunks", "shape_from_chunks",
]

config.update_defaults({"array": {"chunk-size": "128MiB", "split-every": 16}})

_BYTE_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
    "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
}


def parse_bytes(value: int | float | str) -> int:
    """A byte count from ``128MiB``, ``"1 GB"``, ``"500kB"`` or a number.

    >>> parse_bytes("128MiB"), parse_bytes("1.5 kB"), parse_bytes(100)
    (134217728, 1500, 100)
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-zA-Z]*)\s*", str(value))
    if not match or match.group(2).lower() not in _BYTE_UNITS:
        raise ValueError(
            f"Cannot read {value!r} as a number of bytes; write it like 128MiB, 1GB, 500kB or 1000000"
        )
    return int(float(match.group(1)) * _BYTE_UNITS[match.group(2).lower()])


def blockdims_from_blockshape(shape: Sequence[int], blockshape: Sequence[int]) -> tuple:
    """Cut each axis of ``shape`` into blocks of ``blockshape`` (the last one may be short).

    >>> blockdims_from_blockshape((10, 7), (4, 7))
    ((4, 4, 2), (7,))
    >>> blockdims_from_blockshape((0,), (5,))
    ((0,),)
    """
    return tuple(_cut(n, b) for n, b in zip(shape, blockshape))


def _cut(n: int | float, block: int) -> tuple:
    if isinstance(n, float) and math.isnan(n):
        return (math.nan,)
    n = int(n)
    if n == 0:
        return (0,)
    block = max(int(block), 1)
    full, rest = divmod(n, block)
    return (block,) * full + ((rest,) if rest else ())


def shape_from_chunks(chunks: Sequence[Sequence[float]]) -> tuple:
    """The shape the chunks add up to (``nan`` where any block length is unknown).

    >>> shape_from_chunks(((2, 3), (4,)))
    (5, 4)
    """
    return tuple(_axis_length(c) for c in chunks)


def _axis_length(blocks: Sequence[float]) -> int | float:
    if any(_isnan(b) for b in blocks):
        return math.nan
    return int(sum(blocks))


def _isnan(x: Any) -> bool:
    return isinstance(x, float) and math.isnan(x)


def normalize_chunks(chunks: Any, shape: Sequence[int] | None = None, limit: Any = None,
                     dtype: Any = None, previous_chunks: Sequence | None = None) -> tuple:
    """Turn any chunk spec into a tuple of tuples of block lengths.

    Accepted specs: an int (the block length on every axis), a tuple with one
    entry per axis (an int, ``-1``/``None`` for the whole axis, ``'auto'``, or
    an explicit tuple of lengths), a dict ``{axis: spec}`` (missing axes are
    one block), ``'auto'`` for every axis, or a tuple of tuples. ``'auto'``
    picks blocks of about ``limit`` bytes (default: config
    ``array.chunk-size``), which needs ``dtype``; a byte size such as
    ``'64MiB'`` is ``'auto'`` with that limit.

    >>> normalize_chunks(2, (5, 3))
    ((2, 2, 1), (2, 1))
    >>> normalize_chunks((2, -1), (5, 3))
    ((2, 2, 1), (3,))
    >>> normalize_chunks({0: 4}, (5, 3))
    ((4, 1), (3,))
    >>> normalize_chunks(((2, 3), (3,)), (5, 3))
    ((2, 3), (3,))
    >>> normalize_chunks("auto", (1000,), limit=800, dtype="f8")
    ((100, 100, 100, 100, 100, 100, 100, 100, 100, 100),)
    >>> normalize_chunks("4kB", (1000,), dtype="f8")
    ((500, 500),)
    """
    if shape is None:
        if isinstance(chunks, (tuple, list)) and all(isinstance(c, (tuple, list)) for c in chunks):
            return tuple(tuple(_as_length(b) for b in c) for c in chunks)
        raise ValueError(
            f"normalize_chunks({chunks!r}) needs the shape of the array unless the chunks are given "
            "as explicit block lengths per axis, e.g. ((2, 2), (3,))"
        )
    shape = tuple(_as_length(n) for n in shape)
    ndim = len(shape)
    if isinstance(chunks, str) and chunks != "auto":
        # a byte size, as in Dask: 'auto' blocks of about that many bytes
        try:
            limit = parse_bytes(chunks)
        except ValueError:
            raise ValueError(f"Unknown chunk spec {chunks!r}; use an int, a tuple, a dict, 'auto' or a byte size "
                             "such as '64MiB'") from None
        chunks = "auto"
    spec = _per_axis_spec(chunks, ndim, previous_chunks)
    # Per-axis specs: 'auto' entries are resolved together, since they share one byte budget.
    resolved: list[Any] = []
    for axis, (entry, n) in enumerate(zip(spec, shape)):
        if entry is None or (isinstance(entry, (int, np.integer)) and not isinstance(entry, bool) and entry == -1):
            resolved.append(_cut(n, n if not _isnan(n) else 1))
        elif isinstance(entry, str):
            if entry != "auto":
                raise ValueError(f"Unknown chunk spec {entry!r} for axis {axis}; use an int, -1, None, 'auto' or a tuple")
            resolved.append("auto")
        elif isinstance(entry, (int, np.integer, float)) and not isinstance(entry, bool):
            if _isnan(entry):
                resolved.append((math.nan,))
                continue
            if isinstance(entry, float) and not entry.is_integer():
                raise ValueError(f"Chunk length {entry} for axis {axis} is not a whole number")
            if entry <= 0:
                raise ValueError(
                    f"Chunk length {entry} for axis {axis} must be positive (or -1 for the whole axis)"
                )
            resolved.append(_cut(n, int(entry)))
        elif isinstance(entry, (tuple, list)):
            blocks = tuple(_as_length(b) for b in entry)
            _check_axis_sum(axis, blocks, n)
            resolved.append(blocks)
        else:
            raise ValueError(
                f"Cannot read chunk spec {entry!r} for axis {axis}: use an int, -1, None, 'auto' or a tuple of lengths"
            )
    if any(r == "auto" for r in resolved):
        resolved = auto_chunks(resolved, shape, limit, dtype, previous_chunks)
    return tuple(resolved)


def _as_length(x: Any) -> int | float:
    if _isnan(x):
        return math.nan
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return int(x)
    if isinstance(x, (float, np.floating)) and float(x).is_integer():
        return int(x)
    raise ValueError(f"Block length {x!r} is not a whole number; chunk lengths must be non-negative integers (or nan)")


def _per_axis_spec(chunks: Any, ndim: int, previous_chunks: Sequence | None) -> list:
    if isinstance(chunks, dict):
        spec: list[Any] = [previous_chunks[i] if previous_chunks is not None else -1 for i in range(ndim)]
        for axis, entry in chunks.items():
            if not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
                raise ValueError(f"Chunk dict key {axis!r} is not an axis of an array with {ndim} dimensions")
            spec[axis % ndim] = entry
        return spec
    if isinstance(chunks, (list, tuple)):
        if len(chunks) != ndim:
            raise ValueError(
                f"Chunks {chunks!r} give {len(chunks)} axes, but the array has {ndim} dimensions; "
                "give one entry per axis, a single int, or a dict {axis: chunks}"
            )
        return list(chunks)
    if chunks is None or isinstance(chunks, (int, np.integer, str, float)):
        return [chunks] * ndim
    if isinstance(chunks, np.ndarray):
        return _per_axis_spec(tuple(chunks.tolist()), ndim, previous_chunks)
    raise ValueError(f"Cannot read chunks {chunks!r}: use an int, a tuple, a dict or 'auto'")


def _check_axis_sum(axis: int, blocks: tuple, n: int | float) -> None:
    if _isnan(n) or any(_isnan(b) for b in blocks):
        return
    if any(b < 0 for b in blocks):
        raise ValueError(f"Chunks {blocks} on axis {axis} hold a negative length")
    total = sum(blocks)
    if total != n:
        raise ValueError(
            f"Chunks {blocks} on axis {axis} sum to {total}, but the shape is {n} along that axis; "
            "the block lengths of every axis must add up to the array's length on it"
        )


def auto_chunks(resolved: list, shape: tuple, limit: Any, dtype: Any, previous_chunks: Sequence | None = None) -> list:
    """Fill the ``'auto'`` entries of ``resolved`` with blocks of about ``limit`` bytes in total.

    The fixed axes use their largest block; the auto axes share what is left
    equally (an axis shorter than its share is kept whole and its unused
    share goes to the others).

    >>> auto_chunks(["auto", (10,)], (30, 10), limit=800, dtype="f8")
    [(10, 10, 10), (10,)]
    """
    if dtype is None:
        raise ValueError("'auto' chunks need the dtype of the array to size blocks in bytes; pass dtype=")
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise ValueError("'auto' chunks cannot size blocks of object dtype; give explicit chunks")
    limit_bytes = parse_bytes(config.get("array.chunk-size") if limit is None else limit)
    itemsize = max(dtype.itemsize, 1)
    fixed = 1
    for entry in resolved:
        if entry != "auto":
            fixed *= max((b for b in entry if not _isnan(b)), default=1) or 1
    budget = max(limit_bytes / itemsize / fixed, 1.0)
    auto_axes = [i for i, entry in enumerate(resolved) if entry == "auto"]
    sizes: dict[int, int] = {}
    remaining = list(auto_axes)
    # Axes shorter than their share are kept whole; repeat until every share fits.
    while remaining:
        share = budget ** (1.0 / len(remaining))
        short = [i for i in remaining if not _isnan(shape[i]) and shape[i] <= share]
        if not short:
            for i in remaining:
                sizes[i] = max(int(share), 1)
            break
        for i in short:
            sizes[i] = max(int(shape[i]), 1)
            budget /= sizes[i]
            remaining.remove(i)
        budget = max(budget, 1.0)
    out = list(resolved)
    for i in auto_axes:
        out[i] = _cut(shape[i], sizes[i])
    return out


def chunk_boundaries(blocks: Sequence[int]) -> tuple:
    """The offsets where blocks start, plus the total: ``(2, 3) -> (0, 2, 5)``.

    >>> chunk_boundaries((2, 3, 1))
    (0, 2, 5, 6)
    """
    return (0, *accumulate(blocks))


def chunk_offsets(chunks: Sequence[Sequence[int]], index: Sequence[int]) -> tuple:
    """The position of block ``index`` in the whole array: its first element along each axis.

    >>> chunk_offsets(((2, 3), (4, 4)), (1, 1))
    (2, 4)
    """
    return tuple(_block_starts(c)[i] for c, i in zip(chunks, index))


#: id(blocks) -> (blocks, their starts), for the last few axes asked about. A layer asks once per block
#: with the same tuple, so summing the prefix every time would cost O(blocks^2); hashing the tuple would
#: too, hence the identity check instead of a dict keyed by the tuple itself.
_STARTS: dict = {}


def _block_starts(blocks: Sequence[int]) -> tuple:
    cached = _STARTS.get(id(blocks))
    if cached is not None and cached[0] is blocks:
        return cached[1]
    starts = chunk_boundaries(blocks)
    if len(_STARTS) >= 64:
        _STARTS.pop(next(iter(_STARTS)))
    _STARTS[id(blocks)] = (blocks, starts)  # holding ``blocks`` keeps its id from being reused
    return starts


def slices_from_chunks(chunks: Sequence[Sequence[int]], index: Sequence[int]) -> tuple:
    """The slices of the whole array that block ``index`` covers.

    >>> slices_from_chunks(((2, 3), (4,)), (1, 0))
    (slice(2, 5, None), slice(0, 4, None))
    """
    offsets = chunk_offsets(chunks, index)
    return tuple(slice(o, o + c[i]) for o, c, i in zip(offsets, chunks, index))


def common_chunks(*axis_blocks: Sequence[int]) -> tuple:
    """The coarsest cut of one axis that refines every given cut (all of one length).

    >>> common_chunks((2, 2, 2), (3, 3))
    (2, 1, 1, 2)
    >>> common_chunks((4,), (4,))
    (4,)
    """
    blocks = [tuple(b) for b in axis_blocks]
    if not blocks:
        raise ValueError("common_chunks needs at least one cut")
    if any(_isnan(x) for b in blocks for x in b):
        if all(b == blocks[0] for b in blocks):
            return blocks[0]
        raise ValueError(
            f"Cannot align chunks {blocks} of unknown length (nan); call compute_chunk_sizes() on the arrays first"
        )
    totals = {sum(b) for b in blocks}
    if len(totals) != 1:
        raise ValueError(f"Cannot align cuts {blocks} of different total lengths {sorted(totals)}")
    if all(b == blocks[0] for b in blocks):
        return blocks[0]
    cuts = sorted(set().union(*(chunk_boundaries(b) for b in blocks)))
    result = tuple(b - a for a, b in zip(cuts[:-1], cuts[1:]))
    return result or (0,)


def iter_block_indices(numblocks: Sequence[int]) -> Iterable[tuple]:
    """Every block index of a grid, in C order.

    >>> list(iter_block_indices((2, 2)))
    [(0, 0), (0, 1), (1, 0), (1, 1)]
    """
    return np.ndindex(*numblocks)
