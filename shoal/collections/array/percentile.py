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


def _along(block: np.ndarray, q: Any, func: Callable, axis: tuple, method: str, keepdims: bool) -> np.ndarray:
    if len(axis) < 2:
        return np.asarray(func(block, q, axis=axis, method=method, keepdims=keepdims))
    # Several axes: merged into one last axis first. (NumPy's nan-variants lay a q of two or more
    # dimensions out wrongly over several axes; over one axis every variant agrees.)
    kept = [k for k in range(block.ndim) if k not in axis]
    lines = np.transpose(block, kept + list(axis)).reshape(
        [block.shape[k] for k in kept] + [int(np.prod([block.shape[k] for k in axis]))])
    result = np.asarray(func(lines, q, axis=-1, method=method))
    if keepdims:
        result = result.reshape(np.shape(q) + tuple(1 if k in axis else n for k, n in enumerate(block.shape)))
    return result


def _median(a: np.ndarray, q: Any, axis: Any, method: str, keepdims: bool = False) -> np.ndarray:
    # numpy.median (not percentile(50), which fails on empty input where median gives nan)
    return np.median(a, axis=axis, keepdims=keepdims)


def _nanmedian(a: np.ndarray, q: Any, axis: Any, method: str, keepdims: bool = False) -> np.ndarray:
    return np.nanmedian(a, axis=axis, keepdims=keepdims)


def _order_statistic(func: Callable, a: Any, q: Any, axis: Any, method: str, keepdims: bool) -> Array:
    from .blockwise import map_blocks
    from .creation import asarray

    a = asarray(a)
    q = np.asarray(q)
    if axis is None:
        axis = tuple(range(a.ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for ax in axes:
        if not -a.ndim <= ax < a.ndim:
            raise np.exceptions.AxisError(f"axis {ax} is out of bounds for array of dimension {a.ndim}")
    axes = tuple(sorted({int(ax) % a.ndim for ax in axes}))
    if len(axes) != len(axis if isinstance(axis, (tuple, list)) else (axis,)):
        raise ValueError(f"duplicate value in 'axis': {axis}")
    # the reduced axes become one block each: every task holds whole lines (all of them for axis=None)
    whole = a.rechunk({ax: -1 for ax in axes}) if axes else a
    probe = func(np.zeros((1,) * a.ndim, dtype=a.dtype), q, axis=axes, method=method, keepdims=keepdims)
    dtype = np.asarray(probe).dtype
    block = functools.partial(_along, q=q, func=func, axis=axes, method=method, keepdims=keepdims)
    kept = [(1,) if k in axes else c for k, c in enumerate(whole.chunks) if k not in axes or keepdims]
    chunks = tuple((n,) for n in q.shape) + tuple(kept)
    if not kept and not q.ndim:  # a 0-d result: map_blocks needs an axis to drop into nothing
        return map_blocks(block, whole, chunks=(), dtype=dtype, drop_axis=list(axes)) if a.ndim else \
            map_blocks(block, whole, dtype=dtype)
    return map_blocks(block, whole, chunks=chunks, dtype=dtype, drop_axis=[] if keepdims else list(axes),
                      new_axis=list(range(q.ndim)) or None)


def percentile(a: Any, q: Any, axis: Any = None, method: str = "linear", keepdims: bool = False) -> Array:
    """``numpy.percentile`` (``q`` in 0..100, a number or an array of them) over one axis, several or all,
    exactly."""
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
    return _order_statistic(_median, a, 50, axis, "linear", keepdims)


def nanmedian(a: Any, axis: Any = None, keepdims: bool = False) -> Array:
    return _order_statistic(_nanmedian, a, 50, axis, "linear", keepdims)
