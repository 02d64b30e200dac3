"""``to_npy_stack`` / ``from_npy_stack``: an array as a directory of ``.npy`` files, one per block along an axis.

The directory holds ``0.npy, 1.npy, ...`` (blocks along ``axis``, whole
along every other axis) and ``info.json`` with the chunks, dtype and axis.
Reading memory-maps each file by default, so nothing is loaded until a
block is needed.

>>> import tempfile, numpy as np
>>> from shoal.collections.array.creation import arange
>>> with tempfile.TemporaryDirectory() as d:
...     to_npy_stack(d, arange(10, chunks=4), scheduler="sync")
...     from_npy_stack(d).compute(scheduler="sync").tolist()
[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ...taskgraph.core import Task
from .core import Array
from .expr import ArrayExpr

__all__ = ["to_npy_stack", "from_npy_stack", "NpyStack"]

INFO_FILE = "info.json"


class _WriteTarget:
    """A ``__setitem__`` target that saves each block along ``axis`` to its own file."""

    def __init__(self, dirname: str, axis: int, bounds: list):
        self.dirname, self.axis, self.bounds = dirname, axis, bounds

    def __setitem__(self, region: tuple, block: np.ndarray) -> None:
        number = self.bounds.index(region[self.axis].start)
        np.save(os.path.join(self.dirname, f"{number}.npy"), block)


def to_npy_stack(dirname: str, x: Array, axis: int = 0, **kwargs: Any) -> None:
    """Write ``x`` as one ``.npy`` file per block along ``axis`` (other axes are made whole first)."""
    from .chunks import chunk_boundaries
    from .creation import store

    if not -x.ndim <= axis < x.ndim:
        raise np.exceptions.AxisError(f"axis {axis} is out of bounds for array of dimension {x.ndim}")
    axis %= x.ndim
    if any(np.isnan(c) for blocks in x.chunks for c in blocks):
        raise ValueError("to_npy_stack records every block's length, and some are unknown (nan chunks); "
                         "call compute_chunk_sizes() first")
    whole = x.rechunk({a: -1 for a in range(x.ndim) if a != axis})
    os.makedirs(dirname, exist_ok=True)
    info = {"chunks": [list(c) for c in whole.chunks], "dtype": whole.dtype.str, "axis": axis}
    bounds = list(chunk_boundaries(whole.chunks[axis])[:-1])
    store(whole, _WriteTarget(dirname, axis, bounds), **kwargs)
    with open(os.path.join(dirname, INFO_FILE), "w") as f:
        json.dump(info, f)


class NpyStack(ArrayExpr):
    """Blocks loaded from ``<dirname>/<i>.npy`` along ``axis``."""

    _parameters = ["dirname", "chunks", "dtype", "axis", "mmap_mode"]

    def _block(self, index: tuple):
        path = os.path.join(self.dirname, f"{index[self.axis]}.npy")
        return Task(self._key(index), np.load, path, mmap_mode=self.mmap_mode)


def from_npy_stack(dirname: str, mmap_mode: str | None = "r") -> Array:
    """The Array written by ``to_npy_stack`` into ``dirname``."""
    path = os.path.join(dirname, INFO_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{dirname!r} holds no {INFO_FILE}: is it a directory written by to_npy_stack?")
    with open(path) as f:
        info = json.load(f)
    chunks = tuple(tuple(c) for c in info["chunks"])
    return Array(NpyStack(os.path.abspath(dirname), chunks, np.dtype(info["dtype"]), info["axis"], mmap_mode))
