"""``rechunk``: the same array cut at different block boundaries.

An output block that lies inside one input block is a slice of it (one
task). Otherwise every overlapping input block is first cut (one small task
per piece, holding one input block) and the pieces are assembled (one task
holding only the output block's worth of pieces), so no task holds much more
than the larger of an input and an output block, even from row blocks to
column blocks. (How many input blocks are in memory at once is up to the
scheduler's order; planning intermediate chunkings to bound that, as Dask
does, is not done yet.)

>>> from shoal.collections.array.creation import arange
>>> arange(6, chunks=4).rechunk(3).chunks
((3, 3),)
"""

from __future__ import annotations

import bisect
import math
from typing import Any

import numpy as np

from ...taskgraph.core import Ref, Task
from .chunks import chunk_boundaries, normalize_chunks
from .core import Array
from .creation import FromArray
from .expr import ArrayExpr

__all__ = ["Rechunk", "rechunk", "overlapping_pieces"]


class Rechunk(ArrayExpr):
    _parameters = ["array", "chunks"]

    def _compute_dtype(self) -> np.dtype:
        return self.array.dtype

    def _simplify_down(self) -> ArrayExpr | None:
        if self.chunks == self.array.chunks:
            return self.array
        if isinstance(self.array, Rechunk):
            return Rechunk(self.array.array, self.chunks)
        if isinstance(self.array, FromArray) and reads_cheaply_in(self.array.source.data, self.chunks):
            # read the new blocks straight from the source: nothing is cut, held or assembled
            source = self.array
            return FromArray(source.source, self.chunks, source.dtype, source.asarray)
        return None

    def _layer(self) -> dict:
        layer: dict = {}
        cut_name = f"rechunk-cut-{self._name.rsplit('-', 1)[-1]}"
        for index in np.ndindex(*self.numblocks):
            node = self._block(index)
            if node.func is _assemble:
                # replace whole-block references by small cut tasks, one per piece
                pieces, shape, dtype = node.args
                cut_refs = []
                for n, (ref, in_slices, out_slices) in enumerate(pieces):
                    key = (cut_name, *index, n)
                    layer[key] = Task(key, _take, ref, in_slices)
                    cut_refs.append((Ref(key), out_slices))
                node = Task(node.key, _place, cut_refs, shape, dtype)
            layer[node.key] = node
        return layer

    def _block(self, index: tuple):
        per_axis = [
            overlapping_pieces(in_blocks, out_blocks, i)
            for in_blocks, out_blocks, i in zip(self.array.chunks, self.chunks, index)
        ]
        shape = tuple(c[i] for c, i in zip(self.chunks, index))
        pieces = []
        for combo in np.ndindex(*(len(p) for p in per_axis)):
            parts = [per_axis[a][k] for a, k in enumerate(combo)]
            in_index = tuple(p[0] for p in parts)
            in_slices = tuple(p[1] for p in parts)
            out_slices = tuple(p[2] for p in parts)
            pieces.append((Ref(self.array._key(in_index)), in_slices, out_slices))
        if len(pieces) == 1 and all(s == slice(0, n) for s, n in zip(pieces[0][2], shape)):
            ref, in_slices, _ = pieces[0]
            return Task(self._key(index), _take, ref, in_slices)
        return Task(self._key(index), _assemble, pieces, shape, self.dtype)


def reads_cheaply_in(source: Any, chunks: tuple) -> bool:
    """Whether reading ``chunks`` directly from ``source`` costs no more than reading its own blocks.

    True for in-memory or memory-mapped NumPy arrays and array-likes without
    storage chunks; for chunked storage (zarr, HDF5) only when every new block
    boundary falls on a storage chunk boundary, since a partial storage chunk
    is read (and decompressed) whole.

    >>> import numpy as np
    >>> reads_cheaply_in(np.zeros((4, 4)), ((1, 3), (4,)))
    True
    >>> class Stored:
    ...     chunks = (2, 2)
    >>> reads_cheaply_in(Stored(), ((2, 2), (4,))), reads_cheaply_in(Stored(), ((1, 3), (4,)))
    (True, False)
    """
    if isinstance(source, np.ndarray):
        return True
    storage = getattr(source, "chunks", None)
    if not (isinstance(storage, tuple) and len(storage) == len(chunks) and all(isinstance(c, int) for c in storage)):
        return storage is None
    return all(
        all(bound % size == 0 for bound in chunk_boundaries(axis_chunks)[:-1])
        for axis_chunks, size in zip(chunks, storage) if size > 0
    )


def overlapping_pieces(in_blocks: tuple, out_blocks: tuple, out_index: int) -> list[tuple]:
    """For output block ``out_index`` on one axis: ``(input block, slice in it, slice in output)`` pieces.

    >>> overlapping_pieces((4, 4), (3, 5), 1)
    [(0, slice(3, 4, None), slice(0, 1, None)), (1, slice(0, 4, None), slice(1, 5, None))]
    """
    in_bounds = chunk_boundaries(in_blocks)
    out_bounds = chunk_boundaries(out_blocks)
    lo, hi = out_bounds[out_index], out_bounds[out_index + 1]
    if hi == lo:  # an empty output block reads an empty piece of the block at its position
        b = min(max(bisect.bisect_right(in_bounds, lo) - 1, 0), len(in_blocks) - 1)
        start = lo - in_bounds[b]
        return [(b, slice(start, start), slice(0, 0))]
    pieces = []
    b = bisect.bisect_right(in_bounds, lo) - 1
    while b < len(in_blocks) and in_bounds[b] < hi:
        start = max(lo, in_bounds[b])
        stop = min(hi, in_bounds[b + 1])
        if stop > start:
            pieces.append((b, slice(start - in_bounds[b], stop - in_bounds[b]), slice(start - lo, stop - lo)))
        b += 1
    return pieces


def _take(block: np.ndarray, slices: tuple) -> np.ndarray:
    return block[slices]


def _place(pieces: list, shape: tuple, dtype: np.dtype) -> np.ndarray:
    out = np.empty(shape, dtype=dtype)
    for piece, out_slices in pieces:
        out[out_slices] = piece
    return out


def _assemble(pieces: list, shape: tuple, dtype: np.dtype) -> np.ndarray:
    out = np.empty(shape, dtype=dtype)
    for block, in_slices, out_slices in pieces:
        out[out_slices] = block[in_slices]
    return out


def rechunk(x: Array, chunks: Any = "auto") -> Array:
    """``x`` cut into new blocks; ``chunks`` as in ``normalize_chunks`` (a dict keeps unnamed axes as they are).

    >>> from shoal.collections.array.creation import ones
    >>> ones((4, 4), chunks=2).rechunk({0: 4}).chunks
    ((4,), (2, 2))
    """
    if any(math.isnan(n) for n in x.shape if isinstance(n, float)):
        raise ValueError(
            "Cannot rechunk an array with unknown chunk sizes (nan); call compute_chunk_sizes() first"
        )
    new = normalize_chunks(chunks, x.shape, dtype=x.dtype, previous_chunks=x.chunks)
    if new == x.chunks:
        return x
    return Array(Rechunk(x.expr, new))
