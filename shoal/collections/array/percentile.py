"""Exact order statistics: ``percentile``, ``quantile``, ``median`` and their nan-variants.

The reduced axis is first made a single block (a whole line of the array per
task; with ``axis=None`` the whole array in one task), and NumPy's own
function runs on each block, so results are exactly NumPy's. (Dask's
approximate merging of per-block percentiles, which avoids holding whole
lines, is not implemented.)

>>> import numpy as np
>>> from shoal.collections.array.creation import from_array
>>> float(median(from_array(np.array([5.0, 1, 4, 2]), chunks=1)).compute(scheduler="sync"))
3.0
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from .core import Array

__all__ = ["percentile", "quantile", "median", "nanpercentile", "nanquantile", "nanmedian"]


def _along(block: np.ndarray, q: Any, func: Callable, axis: int, method: str, keepdims: bool) -> np.ndarray:
    return np.asarray(func(block, q, axis=axis, method=method, keepdims=keepdims))


def _order_statistic(func: Callable, a: Any, q: Any, axis: Any, method: str, keepdims: bool) -> Array:
    from .blockwise import map_blocks
    from .creation import asarray
    from .shape import ravel

    a = asarray(a)
    q = np.asarray(q)
    if q.ndim > 1:
        raise NotImplementedError("percentiles with a q of more than one dimension are not implemented yet")
    if axis is None:
        if keepdims:
            result = _order_statistic(func, ravel(a), q, 0, method, True)
            return result.reshape(q.shape + (1,) * a.ndim)
        a, axis = ravel(a), 0
    if isinstance(axis, (tuple, list)):
        raise NotImplementedError("percentile over several axes is not implemented yet; use one axis or None")
    if not -a.ndim <= axis < a.ndim:
        raise np.exceptions.AxisError(f"axis {axis} is out of bounds for array of dimension {a.ndim}")
    axis %= a.ndim
    whole = a.rechunk({axis: -1})
    probe = func(np.zeros((1,) * a.ndim, dtype=a.dtype), q, axis=axis, method=method, keepdims=keepdims)
    dtype = np.asarray(probe).dtype
    block = functools.partial(_along, q=q, func=func, axis=axis, method=method, keepdims=keepdims)
    kept = [c for k, c in enumerate(whole.chunks) if k != axis or keepdims]
    if keepdims:
        kept[axis] = (1,)
    chunks = ((len(q),) if q.ndim else ()) + tuple(kept)
    return map_blocks(block, whole, chunks=chunks, dtype=dtype, drop_axis=[] if keepdims else [axis],
                      new_axis=[0] if q.ndim else None)


def percentile(a: Any, q: Any, axis: Any = None, method: str = "linear", keepdims: bool = False) -> Array:
    """``numpy.percentile`` (``q`` in 0..100, a number or a 1-d list), exactly."""
    return _order_statistic(np.percentile, a, q, axis, method, keepdims)


def quantile(a: Any, q: Any, axis: Any = None, method: str = "linear", keepdims: bool = False) -> Array:
    """``numpy.quantile`` (``q`` in 0..1)."""
    return _order_statistic(np.quantile, a, q, axis, method, keepdims)


def nanpercentile(a: Any, q: Any, axis: Any = None, method: str = "linear", keepdims: bool = False) -> Array:
    return _order_statistic(np.nanpercentile, a, q, axis, method, keepdims)


def nanquantile(a: Any, q: Any, axis: Any = None, method: str = "linear", keepdims: bool = False) -> Array:
    return _order_statistic(np.nanquantile, a, q, axis, method, keepdims)


def median(a: Any, axis: Any = None, keepdims: bool = False) -> Array:
    """``numpy.median``."""
    return _order_statistic(np.percentile, a, 50, axis, "linear", keepdims)


def nanmedian(a: Any, axis: Any = None, keepdims: bool = False) -> Array:
    return _order_statistic(np.nanpercentile, a, 50, axis, "linear", keepdims)
