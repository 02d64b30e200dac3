"""Making arrays: from data (``from_array``, ``from_delayed``), from nothing
(``ones``, ``arange``, ``eye``, ...), and back into storage (``store``).

Every creation node computes one block from the block's shape and position
alone, so a 16 GB ``ones`` costs nothing until a block is needed, and only
the blocks an output needs are ever made.

>>> x = arange(10, chunks=4)
>>> x.chunks
((4, 4, 2),)
>>> x.compute(scheduler="sync").tolist()
[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
"""

from __future__ import annotations

import functools
import math
import uuid
from typing import Any, Callable

import numpy as np

from ...taskgraph.core import DataNode, Ref, Task
from ...taskgraph.tokenize import tokenize
from ..delayed_pieces import is_future, piece_graph
from .chunks import chunk_offsets, normalize_chunks, slices_from_chunks
from .core import Array
from .expr import ArrayExpr

__all__ = [
    "from_array", "asarray", "array", "ones", "zeros", "full", "empty", "ones_like", "zeros_like",
    "full_like", "empty_like", "arange", "linspace", "eye", "fromfunction", "from_delayed", "store",
]


# --------------------------------------------------------------------- nodes


class Source:
    """An array-like held in a plan, with a token computed once.

    Arbitrary array-likes (an h5py dataset, a memory map) may not tokenize
    deterministically; computing the token once keeps the plan's names stable
    through rewrites.
    """

    __slots__ = ("data", "token")

    def __init__(self, data: Any, token: str):
        self.data = data
        self.token = token

    def __shoal_tokenize__(self) -> str:
        return self.token

    def __reduce__(self):
        return (Source, (self.data, self.token))

    def __repr__(self) -> str:
        return f"<{type(self.data).__name__} {getattr(self.data, 'shape', '')}>"


class FromArray(ArrayExpr):
    """Blocks read from an array-like by slicing it, one block per task."""

    _parameters = ["source", "chunks", "dtype", "asarray"]
    _defaults = {"asarray": True}

    @property
    def _funcname(self) -> str:
        return "array"

    def _original_key(self) -> str:
        return f"array-original-{self.source.token}"

    def _layer(self) -> dict:
        layer = super()._layer()
        layer[self._original_key()] = DataNode(self._original_key(), self.source.data)
        return layer

    def _block(self, index: tuple):
        slices = slices_from_chunks(self.chunks, index)
        return Task(self._key(index), read_block, Ref(self._original_key()), slices, self.asarray)


def read_block(data: Any, slices: tuple, as_ndarray: bool = True) -> Any:
    """``data[slices]``, as a NumPy array unless told otherwise."""
    block = data[slices]
    return np.asarray(block) if as_ndarray else block


class Persisted(ArrayExpr):
    """Blocks already computed (by ``persist``), kept under their original name."""

    _parameters = ["name", "chunks", "dtype", "blocks"]

    @property
    def _name(self) -> str:
        return self.operand("name")

    def _block(self, index: tuple):
        key = self._key(index)
        return DataNode(key, self.blocks[key])

    def _explain_args(self) -> dict:
        return {}


class BlockMaker(ArrayExpr):
    """Each block is ``maker(block_shape, block_offsets)``: creation from nothing."""

    _parameters = ["maker", "chunks", "dtype", "label"]

    @property
    def _funcname(self) -> str:
        return self.label

    def _block(self, index: tuple):
        shape = tuple(c[i] for c, i in zip(self.chunks, index))
        return Task(self._key(index), self.maker, shape, chunk_offsets(self.chunks, index))

    def _explain_args(self) -> dict:
        return {}


class FromDelayed(ArrayExpr):
    """A single-block array whose block is the value of a ``Delayed`` (or of a distributed Future)."""

    _parameters = ["value", "chunks", "dtype"]

    def _layer(self) -> dict:
        layer = piece_graph(self.value)
        layer[self._key((0,) * self.ndim)] = self._block((0,) * self.ndim)
        return layer

    def _block(self, index: tuple):
        return Task(self._key(index), check_block_shape, Ref(self.value.key), self.shape, self.dtype)


def check_block_shape(block: Any, shape: tuple, dtype: np.dtype) -> np.ndarray:
    block = np.asarray(block)
    if block.shape != tuple(shape):
        raise ValueError(
            f"from_delayed was told the value has shape {tuple(shape)}, but it computed to shape {block.shape}; "
            "pass the right shape="
        )
    return block


# --------------------------------------------------------------------- from data


def from_array(x: Any, chunks: Any = "auto", name: str | None = None, asarray: bool = True,
               meta: Any = None, lock: Any = False) -> Array:
    """A lazy Array reading ``x`` (anything with ``shape``, ``dtype`` and slicing) block by block.

    ``name`` fixes the token (useful for array-likes that do not tokenize
    by content, e.g. on-disk datasets); by default NumPy arrays are tokenized
    by content and other objects get a unique name. ``lock=True`` (or a lock
    of your own) serializes the reads, for sources that are not safe to read
    from several threads at once.

    >>> from_array(np.ones((4, 4)), chunks=2).numblocks
    (2, 2)
    """
    if isinstance(x, Array):
        return x if chunks == "auto" else x.rechunk(chunks)
    if not (hasattr(x, "shape") and hasattr(x, "dtype") and hasattr(x, "__getitem__")):
        x = np.asarray(x)
    shape = tuple(int(n) for n in x.shape)
    dtype = np.dtype(x.dtype)
    normalized = normalize_chunks(chunks, shape, dtype=dtype)
    if name is None:
        token = tokenize(x) if isinstance(x, np.ndarray) else uuid.uuid4().hex
    else:
        token = tokenize(name)
    if lock:
        from .store_lock import LockedReads, StoreLock

        x = LockedReads(x, StoreLock(token) if lock is True else lock)
    return Array(FromArray(Source(x, token), normalized, dtype.str if not dtype.fields else dtype, asarray))


def asarray(a: Any, dtype: Any = None, chunks: Any = "auto") -> Array:
    """``a`` as a shoal Array (an Array is returned as is).

    >>> asarray([1, 2, 3]).compute(scheduler="sync").tolist()
    [1, 2, 3]
    """
    if isinstance(a, Array):
        return a if dtype is None or np.dtype(dtype) == a.dtype else a.astype(dtype)
    if _holds_arrays(a):
        return asarray(_stack_nested(a), dtype=dtype)
    if not (hasattr(a, "shape") and hasattr(a, "dtype") and hasattr(a, "__getitem__")):
        a = np.asarray(a, dtype=dtype)
    elif dtype is not None and np.dtype(dtype) != a.dtype:
        a = np.asarray(a, dtype=dtype)
    return from_array(a, chunks=chunks)


def _holds_arrays(obj: Any) -> bool:
    """Whether ``obj`` is a (nested) list or tuple with a shoal Array in it."""
    return isinstance(obj, (list, tuple)) and any(isinstance(o, Array) or _holds_arrays(o) for o in obj)


def _stack_nested(obj: Any) -> Array:
    """A nested list of Arrays (and array-likes) stacked lazily, as ``numpy.array`` stacks nested lists,
    instead of computing each Array to build a NumPy array."""
    from .shape import stack

    if isinstance(obj, (list, tuple)):
        return stack([_stack_nested(o) for o in obj])
    return asarray(obj)


def array(obj: Any, dtype: Any = None, chunks: Any = "auto", copy: bool = True) -> Array:
    """Like ``numpy.array``: a copy of ``obj`` (taken now) as a shoal Array."""
    if isinstance(obj, Array):
        return obj if dtype is None else obj.astype(dtype)
    if _holds_arrays(obj):
        return asarray(_stack_nested(obj), dtype=dtype)
    data = np.array(obj, dtype=dtype, copy=copy)
    return from_array(data, chunks=chunks)


def from_delayed(value: Any, shape: tuple, dtype: Any = None, meta: Any = None) -> Array:
    """A one-block Array whose block is the computed ``Delayed`` ``value`` (or a distributed
    Future's value, as in Dask: the array is built on the future's key).

    >>> from shoal import delayed
    >>> d = delayed(np.ones)(3)
    >>> from_delayed(d, (3,), float).sum().compute(scheduler="sync")
    np.float64(3.0)
    """
    if dtype is None:
        if meta is None:
            raise ValueError("from_delayed needs the dtype (or meta=) of the value: pass dtype=")
        dtype = np.asarray(meta).dtype
    if not is_future(value) and (not hasattr(value, "key") or not hasattr(value, "__shoal_graph__")):
        raise TypeError(f"from_delayed expects a shoal Delayed or a distributed Future, got {type(value).__name__}")
    shape = tuple(int(s) for s in shape)
    return Array(FromDelayed(value, tuple((s,) for s in shape), np.dtype(dtype)))


# --------------------------------------------------------------------- from nothing


def _shape_tuple(shape: Any) -> tuple:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(s) for s in shape)


def _made(maker: Callable, shape: Any, dtype: Any, chunks: Any, label: str) -> Array:
    shape = _shape_tuple(shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"negative dimensions are not allowed: shape {shape}")
    dtype = np.dtype(dtype)
    return Array(BlockMaker(maker, normalize_chunks(chunks, shape, dtype=dtype), dtype, label))


def _full_block(shape: tuple, offsets: tuple, fill_value: Any, dtype: np.dtype) -> np.ndarray:
    return np.full(shape, fill_value, dtype=dtype)


def _empty_block(shape: tuple, offsets: tuple, dtype: np.dtype) -> np.ndarray:
    return np.empty(shape, dtype=dtype)


def full(shape: Any, fill_value: Any, dtype: Any = None, chunks: Any = "auto") -> Array:
    """An array of ``fill_value`` (dtype as ``numpy.full`` picks it).

    >>> full((2, 2), 7, chunks=1).compute(scheduler="sync").tolist()
    [[7, 7], [7, 7]]
    """
    if np.ndim(fill_value) != 0:
        raise ValueError(f"fill_value must be a scalar, got an array of shape {np.shape(fill_value)}")
    dtype = np.array(fill_value).dtype if dtype is None else np.dtype(dtype)
    return _made(functools.partial(_full_block, fill_value=fill_value, dtype=dtype), shape, dtype, chunks, "full")


def ones(shape: Any, dtype: Any = float, chunks: Any = "auto") -> Array:
    """An array of ones. ``ones((2, 3), chunks=2).numblocks == (1, 2)``."""
    dtype = np.dtype(dtype)
    return _made(functools.partial(_full_block, fill_value=1, dtype=dtype), shape, dtype, chunks, "ones")


def zeros(shape: Any, dtype: Any = float, chunks: Any = "auto") -> Array:
    """An array of zeros."""
    dtype = np.dtype(dtype)
    return _made(functools.partial(_full_block, fill_value=0, dtype=dtype), shape, dtype, chunks, "zeros")


def empty(shape: Any, dtype: Any = float, chunks: Any = "auto") -> Array:
    """An array whose values are whatever memory held (as ``numpy.empty``)."""
    dtype = np.dtype(dtype)
    return _made(functools.partial(_empty_block, dtype=dtype), shape, dtype, chunks, "empty")


def _like(a: Any, dtype: Any, chunks: Any, shape: Any) -> tuple:
    dtype = np.dtype(dtype) if dtype is not None else np.asarray(a).dtype if not hasattr(a, "dtype") else np.dtype(a.dtype)
    if shape is None:
        shape = np.shape(a) if not hasattr(a, "shape") else a.shape
        if chunks is None and isinstance(a, Array):
            chunks = a.chunks
    return dtype, chunks if chunks is not None else "auto", shape


def ones_like(a: Any, dtype: Any = None, chunks: Any = None, shape: Any = None) -> Array:
    dtype, chunks, shape = _like(a, dtype, chunks, shape)
    return ones(shape, dtype=dtype, chunks=chunks)


def zeros_like(a: Any, dtype: Any = None, chunks: Any = None, shape: Any = None) -> Array:
    dtype, chunks, shape = _like(a, dtype, chunks, shape)
    return zeros(shape, dtype=dtype, chunks=chunks)


def empty_like(a: Any, dtype: Any = None, chunks: Any = None, shape: Any = None) -> Array:
    dtype, chunks, shape = _like(a, dtype, chunks, shape)
    return empty(shape, dtype=dtype, chunks=chunks)


def full_like(a: Any, fill_value: Any, dtype: Any = None, chunks: Any = None, shape: Any = None) -> Array:
    dtype, chunks, shape = _like(a, dtype, chunks, shape)
    return full(shape, fill_value, dtype=dtype, chunks=chunks)


def _arange_block(shape: tuple, offsets: tuple, first: Any, delta: Any, dtype: np.dtype) -> np.ndarray:
    # NumPy fills arange as first + i * (second - first); doing the same gives identical floats.
    i = np.arange(offsets[0], offsets[0] + shape[0])
    if dtype.kind in "iu":
        return (first + i * delta).astype(dtype)
    return (first + i * delta).astype(dtype, copy=False)


def arange(start: Any, stop: Any = None, step: Any = 1, *, chunks: Any = "auto", dtype: Any = None) -> Array:
    """Evenly spaced values in ``[start, stop)``, like ``numpy.arange``.

    >>> arange(1, 2, 0.25, chunks=2).compute(scheduler="sync").tolist()
    [1.0, 1.25, 1.5, 1.75]
    """
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange: step must not be zero")
    natural = np.result_type(*(np.asarray(v) for v in (start, stop, step)))
    dtype = natural if dtype is None else np.dtype(dtype)
    if all(isinstance(v, (int, np.integer)) for v in (start, stop, step)):
        length = len(range(int(start), int(stop), int(step)))
    else:
        length = max(int(math.ceil((stop - start) / step)), 0)
    first = natural.type(start)
    delta = natural.type(start + step) - first if length > 1 else natural.type(step)
    maker = functools.partial(_arange_block, first=first, delta=delta, dtype=dtype)
    return _made(maker, (length,), dtype, chunks, "arange")


def _linspace_block(shape: tuple, offsets: tuple, start: float, stop: float, num: int, endpoint: bool,
                    dtype: np.dtype, work: np.dtype) -> np.ndarray:
    # The same arithmetic as numpy.linspace, restricted to this block's positions.
    div = (num - 1) if endpoint else num
    y = np.arange(offsets[0], offsets[0] + shape[0], dtype=work)
    delta = np.subtract(stop, start, dtype=work)
    if div > 0:
        step = delta / div
        y = (y / div) * delta if step == 0 else y * step
    else:
        y = y * delta
    y = y + start
    if endpoint and num > 1 and offsets[0] + shape[0] == num and shape[0] > 0:
        y[-1] = stop
    if dtype.kind in "iu":
        y = np.floor(y)
    return y.astype(dtype, copy=False)


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, retstep: bool = False,
             chunks: Any = "auto", dtype: Any = None) -> Any:
    """``num`` evenly spaced values from ``start`` to ``stop``, like ``numpy.linspace``."""
    num = int(num)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    work = np.result_type(np.asarray(start), np.asarray(stop), float)
    dtype = work if dtype is None else np.dtype(dtype)
    maker = functools.partial(_linspace_block, start=start, stop=stop, num=num, endpoint=endpoint,
                              dtype=dtype, work=work)
    out = _made(maker, (num,), dtype, chunks, "linspace")
    if retstep:
        div = (num - 1) if endpoint else num
        return out, ((stop - start) / div if div > 0 else math.nan)
    return out


def _eye_block(shape: tuple, offsets: tuple, k: int, dtype: np.dtype) -> np.ndarray:
    return np.eye(shape[0], shape[1], k=k + offsets[0] - offsets[1], dtype=dtype)


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = float, chunks: Any = "auto") -> Array:
    """Ones on the ``k``-th diagonal, zeros elsewhere, like ``numpy.eye``."""
    M = N if M is None else M
    dtype = np.dtype(dtype)
    return _made(functools.partial(_eye_block, k=int(k), dtype=dtype), (N, M), dtype, chunks, "eye")


def _fromfunction_block(shape: tuple, offsets: tuple, function: Callable, index_dtype: np.dtype,
                        kwargs: dict) -> Any:
    grids = [g + o for g, o in zip(np.indices(shape, dtype=index_dtype), offsets)]
    return function(*grids, **kwargs)


def fromfunction(function: Callable, shape: Any, *, dtype: Any = float, chunks: Any = "auto", **kwargs) -> Array:
    """``function(*index_grids)``, block by block, like ``numpy.fromfunction``.

    ``dtype`` is the dtype of the index grids (as in NumPy); the result's
    dtype is found by calling ``function`` on a one-element grid.

    >>> fromfunction(lambda i, j: i * 10 + j, (2, 3), dtype=int, chunks=1).compute(scheduler="sync").tolist()
    [[0, 1, 2], [10, 11, 12]]
    """
    shape = _shape_tuple(shape)
    index_dtype = np.dtype(dtype)
    probe = function(*np.indices((1,) * len(shape), dtype=index_dtype), **kwargs)
    out_dtype = np.asarray(probe).dtype
    maker = functools.partial(_fromfunction_block, function=function, index_dtype=index_dtype, kwargs=kwargs)
    return _made(maker, shape, out_dtype, chunks, "fromfunction")


# --------------------------------------------------------------------- into storage


def _store_block(target: Any, block: np.ndarray, region: tuple, lock: Any = None) -> None:
    if lock is None:
        target[region] = block
        return
    with lock:
        target[region] = block


def _done(*_: Any) -> None:
    return None


def _region_origin(region: Any, source: Array, target_shape: Any, n: int) -> list:
    """Where ``source`` starts inside its target: one offset per axis (axes the region leaves out start at 0)."""
    region = region if isinstance(region, tuple) else (region,)
    if len(region) > source.ndim or not all(isinstance(r, slice) and r.step in (None, 1) for r in region):
        raise ValueError(
            f"store: region {n} must be a tuple of at most {source.ndim} slices with step 1, got {region!r}"
        )
    region = region + (slice(None),) * (source.ndim - len(region))
    if target_shape is not None and len(target_shape) == source.ndim:
        selected = tuple(len(range(*r.indices(size))) for r, size in zip(region, target_shape))
        if selected != source.shape:
            raise ValueError(
                f"store: source {n} has shape {source.shape} but region {region!r} of its target has shape "
                f"{selected}"
            )
        return [r.indices(size)[0] for r, size in zip(region, target_shape)]
    return [r.start or 0 for r in region]


def store(sources: Any, targets: Any, regions: Any = None, compute: bool = True, lock: Any = True,
          return_stored: bool = False, **kwargs) -> Any:
    """Write each source Array into its target (anything with ``__setitem__``), block by block.

    ``regions`` (a tuple of slices per target) places the source inside a
    larger target. Returns None after writing, or a ``Delayed`` that writes
    when computed (``compute=False``). As in Dask, ``lock=True`` serializes
    the writes (zarr and h5py targets are not safe to write concurrently,
    see ``store_lock``); pass ``lock=False`` for targets that are, or a lock
    of your own. ``return_stored=True`` returns, after writing, Arrays that
    read the written data back from the targets (one per source, or the one
    Array for a single source). Other keywords go to the scheduler.

    >>> out = np.zeros(5)
    >>> store(arange(5, chunks=2), out, scheduler="sync")
    >>> out.tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0]
    """
    from ..delayed import Delayed

    single = isinstance(sources, Array)
    sources = [sources] if single else list(sources)
    targets = [targets] if single else list(targets)
    if regions is None:
        regions = [None] * len(sources)
    elif single or isinstance(regions, tuple) and all(isinstance(r, slice) for r in regions):
        regions = [regions] * len(sources) if not single else [regions]
    if not (len(sources) == len(targets) == len(regions)):
        raise ValueError(
            f"store needs one target (and region) per source: got {len(sources)} sources, "
            f"{len(targets)} targets and {len(regions)} regions"
        )
    graph: dict = {}
    writes: list = []
    token = tokenize([s.name for s in sources], uuid.uuid4().hex)
    if lock is True:
        from .store_lock import StoreLock

        lock = StoreLock(token)
    lock = lock or None
    for n, (source, target, region) in enumerate(zip(sources, targets, regions)):
        if not isinstance(source, Array):
            raise TypeError(f"store: source {n} is a {type(source).__name__}, not a shoal Array")
        target_shape = getattr(target, "shape", None)
        if region is None and target_shape is not None and tuple(target_shape) != source.shape:
            raise ValueError(
                f"store: source {n} has shape {source.shape} but its target has shape {tuple(target_shape)}; "
                "pass regions= to write into part of the target"
            )
        origin = [0] * source.ndim if region is None else _region_origin(region, source, target_shape, n)
        plan = source.expr.optimize()
        graph.update(plan.__shoal_graph__())
        for idx in np.ndindex(*source.numblocks):
            slices = slices_from_chunks(source.chunks, idx)
            placed = tuple(slice(o + s.start, o + s.stop) for o, s in zip(origin, slices))
            key = (f"store-{token}", n, *idx)
            graph[key] = Task(key, _store_block, target, Ref(plan._key(idx)), placed, lock)
            writes.append(Ref(key))
    final = f"store-done-{token}"
    graph[final] = Task(final, _done, *writes)
    result = Delayed(final, None, (), graph=graph)
    if return_stored and not compute:
        raise NotImplementedError("store(return_stored=True, compute=False) is not implemented; store first "
                                  "(compute=True), then read the targets back")
    if compute:
        kwargs.setdefault("scheduler", "threads")
        result.compute(**kwargs)
        if return_stored:
            stored = tuple(_read_back(t, s, r) for s, t, r in zip(sources, targets, regions))
            return stored[0] if single else stored
        return None
    return result


def _read_back(target: Any, source: Array, region: Any) -> Array:
    """The part of ``target`` that ``source`` was written into, lazily and cut like ``source``."""
    if not (hasattr(target, "shape") and hasattr(target, "dtype") and hasattr(target, "__getitem__")):
        raise TypeError(f"store(return_stored=True): a {type(target).__name__} target cannot be read back "
                        "(it needs shape, dtype and slicing)")
    whole = from_array(target, chunks=source.chunks if region is None else "auto")
    return whole if region is None else whole[region].rechunk(source.chunks)
