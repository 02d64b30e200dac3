"""``blockwise`` (index notation) and ``map_blocks``: your function on every block.

``blockwise(func, "ij", x, "ij", y, "j")`` calls ``func`` once per output
block with the matching blocks of ``x`` and ``y``. An index that appears in
the inputs but not in the output is *contracted*: by default
(``concatenate=True``) the inputs are first cut to a single block along it,
so ``func`` sees whole rows; with ``concatenate=False`` they keep their
blocks and ``func`` gets, for that argument, a list of the blocks along the
contracted index (nested lists for several contracted indices).

``map_blocks(func, x, drop_axis=, new_axis=, chunks=, dtype=)`` is the
common case written without letters.

>>> import numpy as np
>>> from shoal.collections.array.creation import from_array
>>> x = from_array(np.arange(6).reshape(2, 3), chunks=(1, 3))
>>> map_blocks(lambda b: b.sum(axis=1), x, drop_axis=1, dtype=int).compute(scheduler="sync").tolist()
[3, 12]
"""

from __future__ import annotations

import inspect
import string
from typing import Any, Callable

import numpy as np

from ...taskgraph.core import Ref, Task
from ..delayed import funcname
from .chunks import chunk_boundaries, common_chunks, normalize_chunks
from .core import Array
from .expr import ArrayExpr

__all__ = ["Blockwise", "blockwise", "map_blocks"]


class Blockwise(ArrayExpr):
    """``func`` per output block; ``args`` pairs each argument with its index letters (None for literals)."""

    _parameters = ["func", "out_ind", "args", "kwargs", "dtype", "chunks", "pass_block_id", "concatenate",
                   "pass_block_info"]
    _defaults = {"concatenate": True, "pass_block_info": False}

    @property
    def _funcname(self) -> str:
        return funcname(self.func)

    def _block(self, index: tuple):
        position = dict(zip(self.out_ind, index))
        values = []
        info: dict = {None: _location(self, index)}
        for number, (value, ind) in enumerate(self.args):
            if ind is None:
                values.append(value)
                continue
            if self.concatenate:
                block = tuple(0 if n == 1 else position.get(letter, 0) for letter, n in zip(ind, value.numblocks))
                values.append(Ref(value._key(block)))
                info[number] = _location(value, block)
            else:
                values.append(_nested_refs(value, ind, position))
        kwargs = dict(self.kwargs)
        if self.pass_block_id:
            kwargs["block_id"] = index
        if self.pass_block_info:
            info[None].update({"chunk-shape": tuple(c[i] for c, i in zip(self.chunks, index)), "dtype": self.dtype})
            kwargs["block_info"] = info
        return Task(self._key(index), self.func, *values, **kwargs)

    def _explain_args(self) -> dict:
        return {"index": self.out_ind}


def _block_length(value: Any) -> int | float:
    """An int, or nan for a block whose length is known only once computed."""
    return value if isinstance(value, float) and np.isnan(value) else int(value)


def _location(array: ArrayExpr, block: tuple) -> dict:
    """Where ``block`` of ``array`` sits, as Dask's ``block_info`` describes it."""
    bounds = [chunk_boundaries(c) for c in array.chunks]
    return {"shape": array.shape, "num-chunks": array.numblocks, "chunk-location": tuple(block),
            "array-location": [(b[i], b[i + 1]) for b, i in zip(bounds, block)]}


def _nested_refs(value: ArrayExpr, ind: tuple, position: dict, fixed: dict | None = None):
    """The block of ``value`` at ``position``, as nested lists over its contracted letters (those not in
    ``position``), in the order they appear in ``ind``."""
    fixed = fixed or {}
    open_letters = [letter for letter in ind if letter not in position and letter not in fixed]
    if not open_letters:
        block = tuple(0 if n == 1 else {**position, **fixed}[letter] for letter, n in zip(ind, value.numblocks))
        return Ref(value._key(block))
    letter = open_letters[0]
    count = value.numblocks[ind.index(letter)]
    return [_nested_refs(value, ind, position, {**fixed, letter: j}) for j in range(count)]


def _accepts(func: Callable, name: str) -> bool:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return name in params  # only an explicitly named parameter: **kwargs of ufunc methods would choke


def blockwise(func: Callable, out_ind: Any, *pairs: Any, dtype: Any = None, new_axes: dict | None = None,
              adjust_chunks: dict | None = None, concatenate: bool = True, meta: Any = None,
              name: str | None = None, **kwargs: Any) -> Array:
    """``func`` applied block by block according to index letters (see the module docstring).

    >>> from shoal.collections.array.creation import ones
    >>> x = ones((4, 2), chunks=2)
    >>> blockwise(np.add, "ij", x, "ij", 1, None, dtype=float).compute(scheduler="sync").sum()
    np.float64(16.0)
    """
    from .creation import asarray
    from .rechunk import Rechunk

    if len(pairs) % 2:
        raise ValueError("blockwise takes arguments in pairs: array, index, array, index, ... (index None for literals)")
    out_ind = tuple(out_ind)
    new_axes = dict(new_axes or {})
    args: list = []
    for value, ind in zip(pairs[::2], pairs[1::2]):
        if ind is None:
            args.append([value, None])
            continue
        arr = asarray(value).expr
        ind = tuple(ind)
        if len(ind) != arr.ndim:
            raise ValueError(f"blockwise: index {ind!r} has {len(ind)} letters for an array of {arr.ndim} dimensions")
        args.append([arr, ind])
    # Common block boundaries per letter; contracted letters become a single block.
    letter_chunks: dict = {}
    for letter in {c for _, ind in args if ind for c in ind}:
        cuts = [a.chunks[ind.index(letter)] for a, ind in args if ind and letter in ind and a.shape[ind.index(letter)] != 1]
        if not cuts:
            letter_chunks[letter] = (1,)
        elif letter in out_ind or not concatenate:
            letter_chunks[letter] = common_chunks(*cuts)
        elif all(len(c) == 1 and c[0] != c[0] for c in cuts):
            letter_chunks[letter] = cuts[0]  # single blocks of unknown (nan) length: nothing to cut or check
        else:
            lengths = {sum(c) for c in cuts}
            if len(lengths) != 1:
                raise ValueError(f"blockwise: index {letter!r} has different lengths {sorted(lengths)} in the inputs")
            letter_chunks[letter] = (lengths.pop(),)
    for pair in args:
        arr, ind = pair
        if ind is None:
            continue
        wanted = tuple(arr.chunks[k] if arr.shape[k] == 1 else letter_chunks[c] for k, c in enumerate(ind))
        if wanted != arr.chunks:
            pair[0] = Rechunk(arr, wanted)
    for letter, size in new_axes.items():
        letter_chunks[letter] = normalize_chunks(size if isinstance(size, tuple) else (size,), (sum(size) if isinstance(size, tuple) else size,))[0]
    missing = [c for c in out_ind if c not in letter_chunks]
    if missing:
        raise ValueError(f"blockwise: output index letters {missing} appear in no input; give their sizes in new_axes=")
    chunks = [letter_chunks[c] for c in out_ind]
    for letter, adjust in (adjust_chunks or {}).items():
        k = out_ind.index(letter)
        chunks[k] = tuple(adjust(c) for c in chunks[k]) if callable(adjust) else (
            (adjust,) * len(chunks[k]) if isinstance(adjust, int) else tuple(adjust))
    if dtype is None:
        if meta is not None:
            dtype = np.asarray(meta).dtype
        else:
            raise ValueError(f"blockwise({funcname(func)}) needs dtype= (or meta=) for its output")
    pass_block_id = _accepts(func, "block_id") and "block_id" not in kwargs
    pass_block_info = _accepts(func, "block_info") and "block_info" not in kwargs
    return Array(Blockwise(func, out_ind, tuple(tuple(p) for p in args), tuple(sorted(kwargs.items())),
                           np.dtype(dtype), tuple(chunks), pass_block_id, bool(concatenate), pass_block_info))


def map_blocks(func: Callable, *args: Any, dtype: Any = None, chunks: Any = None, drop_axis: Any = None,
               new_axis: Any = None, meta: Any = None, name: str | None = None, **kwargs: Any) -> Array:
    """``func(block, ...)`` on every block of the Array arguments (aligned like broadcasting).

    ``chunks`` gives the output block lengths (a tuple of tuples, or one
    length per axis repeated for every block); ``drop_axis`` names input axes
    the function removes (they are first made one block) and ``new_axis``
    output positions it adds. Without ``dtype``/``meta`` the dtype is found
    by calling ``func`` on empty blocks. A ``block_id`` parameter of ``func``
    receives the block's index; a ``block_info`` parameter receives, as in
    Dask, ``{n: {"shape", "num-chunks", "chunk-location", "array-location"}}``
    for the Array passed as argument ``n``, and under ``None`` the same for
    the output block plus its ``"chunk-shape"`` and ``"dtype"``.
    """
    arrays = [a for a in args if isinstance(a, Array)]
    if not arrays:
        raise TypeError("map_blocks needs at least one shoal Array argument")
    ndim = max(a.ndim for a in arrays)
    letters = string.ascii_letters
    base = letters[:ndim]
    pairs: list = []
    for a in args:
        if isinstance(a, Array):
            pairs += [a, base[ndim - a.ndim:]]
        else:
            pairs += [a, None]
    drop = sorted({d % ndim for d in ([drop_axis] if isinstance(drop_axis, int) else (drop_axis or []))})
    kept = [c for k, c in enumerate(base) if k not in drop]
    out_ndim = len(kept) + (1 if isinstance(new_axis, int) else len(new_axis or []))
    new = sorted({n % out_ndim for n in ([new_axis] if isinstance(new_axis, int) else (new_axis or []))})
    out_ind: list = list(kept)
    new_axes: dict = {}
    fresh = iter(letters[ndim:])
    for position in new:
        letter = next(fresh)
        out_ind.insert(position, letter)
        new_axes[letter] = 1
    if dtype is None and meta is not None:
        dtype = np.asarray(meta).dtype
    if dtype is None:
        try:
            probes = [np.empty((0,) * a.ndim, dtype=a.dtype) if isinstance(a, Array) else a for a in args]
            with np.errstate(all="ignore"):
                dtype = np.asarray(func(*probes, **kwargs)).dtype
        except Exception as err:
            raise ValueError(
                f"map_blocks could not find the output dtype of {funcname(func)} by calling it on empty blocks "
                f"({type(err).__name__}: {err}); pass dtype="
            ) from err
    result = blockwise(func, "".join(out_ind), *pairs, dtype=dtype, new_axes=new_axes, **kwargs)
    if chunks is not None:
        numblocks = result.numblocks
        if len(chunks) != result.ndim:
            raise ValueError(f"map_blocks: chunks={chunks!r} give {len(chunks)} axes, but the output has {result.ndim}")
        full = []
        for k, c in enumerate(chunks):
            if isinstance(c, (tuple, list)):
                if len(c) != numblocks[k]:
                    raise ValueError(
                        f"map_blocks: chunks for axis {k} list {len(c)} blocks, but the output has {numblocks[k]} there"
                    )
                full.append(tuple(_block_length(v) for v in c))
            else:
                full.append((_block_length(c),) * numblocks[k])
        result = Array(result.expr.replace(chunks=tuple(full)))
    return result
