"""Read and write zarr arrays (when the optional ``zarr`` package is installed).

``from_zarr`` reads block by block (by default one shoal block per zarr
chunk); ``to_zarr`` writes each block into the zarr chunks it covers. Blocks
are first cut to a regular grid matching the zarr chunks, so no two tasks
ever write the same zarr chunk (zarr chunks are read-modify-written whole,
so shared chunks would race).

>>> import tempfile, os, numpy as np
>>> from shoal.collections.array.creation import arange
>>> path = os.path.join(tempfile.mkdtemp(), "a.zarr")
>>> to_zarr(arange(10, chunks=4), path, scheduler="sync")
>>> from_zarr(path).chunks
((4, 4, 2),)
>>> from_zarr(path).sum().compute(scheduler="sync").item()
45
"""

from __future__ import annotations

import math
from typing import Any

from .core import Array

__all__ = ["from_zarr", "to_zarr"]


def _zarr():
    try:
        import zarr
    except ImportError as error:  # pragma: no cover - zarr is installed where the tests run
        raise ImportError(
            "Reading and writing zarr arrays needs the optional 'zarr' package: pip install zarr"
        ) from error
    return zarr


def _is_zarr_array(obj: Any) -> bool:
    zarr = _zarr()
    return isinstance(obj, zarr.Array)


def from_zarr(url: Any, component: str | None = None, chunks: Any = None, name: str | None = None,
              storage_options: dict | None = None) -> Array:
    """A lazy Array over the zarr array at ``url`` (a path, a store, or a ``zarr.Array``).

    ``component`` is the array's path inside a group; ``chunks`` defaults to
    the zarr chunks (other chunks read parts of several zarr chunks per
    block, which works but decompresses more). ``name`` fixes the token, so
    two reads of the same data share results; by default each call gets a
    new one (the data on disk may change between calls).
    """
    from .creation import from_array

    zarr = _zarr()
    if _is_zarr_array(url):
        if component is not None:
            raise ValueError("from_zarr: component= only applies to a path or store, not to a zarr.Array")
        z = url
    else:
        try:
            z = zarr.open_array(url, path=component or "", mode="r", storage_options=storage_options)
        except FileNotFoundError as error:
            where = repr(url) if component is None else f"{url!r}, component {component!r}"
            raise FileNotFoundError(f"from_zarr: no zarr array at {where}") from error
    return from_array(z, chunks=z.chunks if chunks is None else chunks, name=name)


def to_zarr(x: Array, url: Any, component: str | None = None, overwrite: bool = False, compute: bool = True,
            storage_options: dict | None = None, **kwargs: Any) -> Any:
    """Write ``x`` into a new zarr array at ``url`` (or into an existing ``zarr.Array`` of the same shape).

    The zarr chunks are ``x``'s largest block along each axis; uneven blocks
    are first rechunked to that regular grid. ``compute=False`` returns a
    ``Delayed`` that writes when computed; other keywords go to the
    scheduler. An existing array at ``url`` is an error unless
    ``overwrite=True``.
    """
    from .creation import asarray, store

    zarr = _zarr()
    x = asarray(x)
    if any(isinstance(n, float) and math.isnan(n) for n in x.shape):
        raise ValueError(
            "to_zarr: the array has unknown chunk sizes (nan), so its zarr chunks cannot be laid out; "
            "call compute_chunk_sizes() first"
        )
    if _is_zarr_array(url):
        target = url
        if tuple(target.shape) != tuple(x.shape):
            raise ValueError(f"to_zarr: the array has shape {x.shape} but the zarr array has shape {target.shape}")
        grid = tuple(target.chunks)
    else:
        grid = tuple(max(max(c), 1) if c else 1 for c in x.chunks)
        try:
            target = zarr.create_array(
                store=url, name=component, shape=x.shape, chunks=grid, dtype=x.dtype, overwrite=overwrite,
                storage_options=storage_options,
            )
        except zarr.errors.ContainsArrayError as error:
            raise FileExistsError(
                f"to_zarr: {url!r} already holds a zarr array; pass overwrite=True to replace it"
            ) from error
    regular = tuple(_regular_chunks(n, size) for n, size in zip(x.shape, grid))
    if regular != x.chunks:
        x = x.rechunk(regular)
    kwargs.setdefault("lock", False)  # the blocks match the zarr chunks: no two writes share one
    return store(x, target, compute=compute, **kwargs)


def _regular_chunks(length: int, size: int) -> tuple:
    """``length`` cut into blocks of ``size`` (the last one shorter).

    >>> _regular_chunks(10, 4)
    (4, 4, 2)
    >>> _regular_chunks(0, 4)
    (0,)
    """
    if length == 0:
        return (0,)
    full, rest = divmod(length, size)
    return (size,) * full + ((rest,) if rest else ())
