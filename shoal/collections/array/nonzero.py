"""Positions of the true (non-zero) elements: ``argwhere``, ``nonzero``, ``flatnonzero``, ``where(condition)``.

How many elements are true is known only once computed, so the results have
unknown (nan) block lengths, like a boolean mask's. NumPy lists positions in
C order; that is block order once every axis but the first is a single block,
so the input is cut into whole rows first (as ``x[mask]`` does). Each block
of rows then gives its own positions, shifted by the index of its first row.

>>> import numpy as np
>>> from shoal.collections.array.creation import from_array
>>> rows, cols = nonzero(from_array(np.array([[0, 3], [4, 0], [0, 5]]), chunks=1))
>>> rows.compute(scheduler="sync").tolist(), cols.compute(scheduler="sync").tolist()
([0, 1, 2], [1, 0, 1])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...taskgraph.core import Ref, Task
from .chunks import chunk_boundaries
from .core import Array
from .expr import ArrayExpr

__all__ = ["ArgWhere", "argwhere", "nonzero", "flatnonzero"]


class ArgWhere(ArrayExpr):
    """``numpy.argwhere`` of ``array`` (cut into whole rows): one ``(nan, ndim)`` block per block of rows."""

    _parameters = ["array"]

    def _compute_dtype(self) -> np.dtype:
        return np.dtype(np.intp)

    def _compute_chunks(self) -> tuple:
        return ((math.nan,) * (self.array.numblocks[0] if self.array.ndim else 1), (self.array.ndim,))

    def _block(self, index: tuple):
        ndim = self.array.ndim
        first_row = chunk_boundaries(self.array.chunks[0])[index[0]] if ndim else 0
        source = (index[0],) + (0,) * (ndim - 1) if ndim else ()
        return Task(self._key(index), _positions, Ref(self.array._key(source)), first_row)


def _positions(block: np.ndarray, first_row: int) -> np.ndarray:
    found = np.argwhere(block)
    if block.ndim:
        found[:, 0] += first_row
    return found


def argwhere(a: Any) -> Array:
    """``numpy.argwhere``: an ``(n, a.ndim)`` array of the positions of ``a``'s non-zero elements, n unknown."""
    from .creation import asarray
    from .rechunk import rechunk

    a = asarray(a)
    if any(math.isnan(n) for n in a.shape):
        raise ValueError("argwhere/nonzero need the array's chunk sizes (nan chunks); call compute_chunk_sizes() first")
    if a.ndim > 1:
        a = rechunk(a, {axis: -1 for axis in range(1, a.ndim)})
    return Array(ArgWhere(a.expr))


def nonzero(a: Any) -> tuple:
    """``numpy.nonzero``: one array of positions per axis (their common length unknown until computed)."""
    from .creation import asarray

    a = asarray(a)
    if a.ndim == 0:
        raise ValueError("Calling nonzero on 0d arrays is not allowed. Use np.atleast_1d(scalar).nonzero() instead.")
    positions = argwhere(a)
    return tuple(positions[:, axis] for axis in range(a.ndim))


def flatnonzero(a: Any) -> Array:
    """``numpy.flatnonzero``: the positions of the non-zero elements in the flattened array."""
    from .shape import ravel

    return nonzero(ravel(a))[0]
