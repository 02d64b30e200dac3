"""``rechunk``: the same array cut at different block boundaries.

An output block that lies inside one input block is a slice of it (one
task). Otherwise every overlapping input block is first cut (one small task
per piece, holding one input block) and the pieces are assembled (one task
holding only the output block's worth of pieces), so no task holds much more
than the larger of an input and an output block, even from row blocks to
column blocks. When that would cut many more pieces than there are blocks
(fine rows to fine columns), the rechunk goes through a middle chunking of
square-ish blocks (``plan_intermediate_chunks``), in as many stages as pay.
A rechunk of ``from_array`` reads the new blocks straight from the source
when that costs no more (see ``reads_cheaply_in``). How many input blocks are
in memory at once is up to the scheduler's order: from row blocks to column
blocks every output block needs every input block, so a lazily computed
input is held whole unless it is cheap to read again.

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

__all__ = ["Rechunk", "rechunk", "overlapping_pieces", "plan_intermediate_chunks", "direct_rechunk_layer"]


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
        if any(_unknown(c) for c in self.chunks):  # axes of unknown length keep their blocks: one stage
            return direct_rechunk_layer(self.array, self.chunks, self.dtype, self._name)
        middle = plan_intermediate_chunks(self.array.chunks, self.chunks)
        if middle is None:
            return direct_rechunk_layer(self.array, self.chunks, self.dtype, self._name)
        # two stages through square-ish blocks instead of every input block meeting every output block;
        # the first stage plans again for itself, so very fine cuts go through several
        stage = Rechunk(self.array, middle)
        layer = stage._layer()
        layer.update(direct_rechunk_layer(stage, self.chunks, self.dtype, self._name))
        return layer


def direct_rechunk_layer(source: ArrayExpr, chunks: tuple, dtype: np.dtype, name: str) -> dict:
    """Tasks making blocks ``chunks`` (keys ``(name, *index)``) from the blocks of ``source``, in one stage.

    An output block inside one input block is a slice of it; otherwise every
    overlapping input block is cut (one small task per piece, holding one
    input block) and the pieces are placed into the output block (one task
    holding one output block's worth of pieces).
    """
    layer: dict = {}
    cut_name = f"rechunk-cut-{name.rsplit('-', 1)[-1]}"
    per_axis_all = [
        # an axis of unknown length is never recut (see ``rechunk``): block i is block i, whole
        [[(i, slice(None), slice(None))] if _unknown(out_blocks) else overlapping_pieces(in_blocks, out_blocks, i)
         for i in range(len(out_blocks))]
        for in_blocks, out_blocks in zip(source.chunks, chunks)
    ]
    for index in np.ndindex(*(len(c) for c in chunks)):
        key = (name, *index)
        per_axis = [per_axis_all[a][i] for a, i in enumerate(index)]
        shape = tuple(c[i] for c, i in zip(chunks, index))
        combos = list(np.ndindex(*(len(p) for p in per_axis)))
        if len(combos) == 1:
            parts = [p[0] for p in per_axis]
            if all(part[2] == slice(0, n) or part[2] == slice(None) for part, n in zip(parts, shape)):
                layer[key] = Task(key, _take, Ref(source._key(tuple(p[0] for p in parts))),
                                  tuple(p[1] for p in parts))
                continue
        cut_refs = []
        for n, combo in enumerate(combos):
            parts = [per_axis[a][k] for a, k in enumerate(combo)]
            cut_key = (cut_name, *index, n)
            layer[cut_key] = Task(cut_key, _take, Ref(source._key(tuple(p[0] for p in parts))),
                                  tuple(p[1] for p in parts))
            cut_refs.append((Ref(cut_key), tuple(p[2] for p in parts)))
        layer[key] = Task(key, _place, cut_refs, shape, dtype)
    return layer


#: a one-stage rechunk cutting more than this many pieces per input and output block goes through a middle stage
STAGE_PIECES_PER_BLOCK = 8

#: ...but only when it cuts at least this many pieces (below, the tasks cost next to nothing)
STAGE_MIN_PIECES = 512


def count_pieces(in_blocks: tuple, out_blocks: tuple) -> int:
    """How many pieces cutting ``in_blocks`` into ``out_blocks`` makes along one axis.

    >>> count_pieces((2, 2, 2), (3, 3))
    4
    """
    bounds = set(chunk_boundaries(in_blocks)) | set(chunk_boundaries(out_blocks))
    return max(len(bounds) - 1, 1)


def plan_intermediate_chunks(in_chunks: tuple, out_chunks: tuple) -> tuple | None:
    """Chunks to pass through on the way from ``in_chunks`` to ``out_chunks``, or None to go directly.

    Along each axis the middle block size is the geometric mean of the input
    and output sizes (a multiple of the smaller one), so a middle block holds
    about the geometric mean of an input and an output block (never more than
    the larger) and both stages together cut far fewer pieces than going
    directly: rows of 20 to columns of 20 of an 8000 x 8000 array go through
    400 x 400 blocks, about 16,000 pieces instead of 160,000.

    >>> middle = plan_intermediate_chunks(((20,) * 400, (8000,)), ((8000,), (20,) * 400))
    >>> middle[0][:2], middle[1][:2]
    ((400, 400), (400, 400))
    >>> plan_intermediate_chunks(((2, 2), (4,)), ((4,), (2, 2))) is None
    True
    """
    direct = math.prod(count_pieces(i, o) for i, o in zip(in_chunks, out_chunks))
    blocks = math.prod(len(c) for c in in_chunks) + math.prod(len(c) for c in out_chunks)
    if direct < STAGE_MIN_PIECES or direct <= STAGE_PIECES_PER_BLOCK * blocks:
        return None
    sizes, steps = [], []
    for in_blocks, out_blocks in zip(in_chunks, out_chunks):
        length = sum(in_blocks)
        small, large = sorted((max(max(in_blocks, default=0), 1), max(max(out_blocks, default=0), 1)))
        size = max(small, round(math.sqrt(small * large) / small) * small)
        sizes.append(max(min(size, large, length), 1))
        steps.append(small)
    # rounding may overshoot: shrink the axis furthest above its step until a block holds no more than
    # the larger of an input and an output block
    limit = max(math.prod(max(c, default=1) for c in in_chunks), math.prod(max(c, default=1) for c in out_chunks))
    while math.prod(sizes) > limit:
        axis = max(range(len(sizes)), key=lambda a: sizes[a] / steps[a])
        if sizes[axis] <= steps[axis]:
            return None
        sizes[axis] = max(sizes[axis] - steps[axis], steps[axis])
    middle = []
    for in_blocks, size in zip(in_chunks, sizes):
        length = sum(in_blocks)
        if length == 0:
            middle.append(tuple(in_blocks))
            continue
        full, rest = divmod(length, size)
        middle.append((size,) * full + ((rest,) if rest else ()))
    middle = tuple(middle)
    if middle in (in_chunks, out_chunks):
        return None
    staged = (math.prod(count_pieces(i, m) for i, m in zip(in_chunks, middle))
              + math.prod(count_pieces(m, o) for m, o in zip(middle, out_chunks)))
    return middle if 2 * staged <= direct else None


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


def _unknown(blocks: tuple) -> bool:
    return any(isinstance(b, float) and math.isnan(b) for b in blocks)


def _place(pieces: list, shape: tuple, dtype: np.dtype) -> np.ndarray:
    # an axis of unknown length (nan) is whole in every piece: its length is the first piece's
    shape = tuple(pieces[0][0].shape[k] if isinstance(n, float) and math.isnan(n) else n for k, n in enumerate(shape))
    out = np.empty(shape, dtype=dtype)
    for piece, out_slices in pieces:
        out[out_slices] = piece
    return out


def rechunk(x: Array, chunks: Any = "auto") -> Array:
    """``x`` cut into new blocks; ``chunks`` as in ``normalize_chunks`` (a dict keeps unnamed axes as they are).

    >>> from shoal.collections.array.creation import ones
    >>> ones((4, 4), chunks=2).rechunk({0: 4}).chunks
    ((4,), (2, 2))
    """
    unknown = [axis for axis, blocks in enumerate(x.chunks) if _unknown(blocks)]
    if unknown:
        new = _rechunk_known_axes(x, chunks, unknown)
    else:
        new = normalize_chunks(chunks, x.shape, dtype=x.dtype, previous_chunks=x.chunks)
    if new == x.chunks:
        return x
    return Array(Rechunk(x.expr, new))


def _rechunk_known_axes(x: Array, chunks: Any, unknown: list) -> tuple:
    """New chunks for the axes of known length, from a dict that leaves the unknown ones as they are."""
    ndim = x.ndim
    touched = [] if not isinstance(chunks, dict) else [axis % ndim for axis in chunks
                                                       if isinstance(axis, (int, np.integer))]
    if not isinstance(chunks, dict) or any(axis in unknown for axis in touched):
        raise ValueError(
            f"Cannot rechunk axis {unknown[0]}: its block lengths are unknown (nan); call compute_chunk_sizes() "
            "first, or rechunk only the other axes with a dict ({axis: chunks})"
        )
    known = [axis for axis in range(ndim) if axis not in unknown]
    spec = {known.index(axis % ndim): value for axis, value in chunks.items()}
    new_known = normalize_chunks(spec, tuple(x.shape[a] for a in known), dtype=x.dtype,
                                 previous_chunks=tuple(x.chunks[a] for a in known))
    return tuple(x.chunks[axis] if axis in unknown else new_known[known.index(axis)] for axis in range(ndim))
