"""More shape functions built from slicing and ``concatenate``: ``hstack``, ``vstack``, ``block``,
``roll``, ``repeat``, ``tile``, ``pad``.

>>> from shoal.collections.array.creation import arange
>>> roll(arange(5, chunks=2), 2).compute(scheduler="sync").tolist()
[3, 4, 0, 1, 2]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import Array

__all__ = ["hstack", "vstack", "block", "roll", "repeat", "tile", "pad"]


def _arrays(seq: Any) -> list[Array]:
    from .creation import asarray

    return [asarray(a) for a in seq]


def _at_least(a: Array, ndim: int) -> Array:
    """``a`` with leading length-1 axes up to ``ndim`` dimensions (what ``numpy.atleast_2d`` does past 1-d)."""
    return a[(None,) * (ndim - a.ndim)] if a.ndim < ndim else a


def hstack(tup: Any) -> Array:
    """``numpy.hstack``: along the second axis (the first for 1-d arrays; scalars count as 1-d)."""
    from .shape import concatenate

    arrays = [_at_least(a, 1) for a in _arrays(tup)]
    return concatenate(arrays, axis=0 if arrays and arrays[0].ndim == 1 else 1)


def vstack(tup: Any) -> Array:
    """``numpy.vstack``: along the first axis, 1-d arrays (and scalars) becoming rows."""
    from .shape import concatenate

    return concatenate([a[None] if a.ndim == 1 else _at_least(a, 2) for a in _arrays(tup)], axis=0)


def block(arrays: Any) -> Array:
    """``numpy.block``: innermost lists join along the last axis, the next ones along the one before, and
    so on; arrays with fewer dimensions than the nesting depth (or than the others) gain leading axes.

    >>> from shoal.collections.array.creation import ones
    >>> block([[ones((2, 2), chunks=1)], [ones((1, 2), chunks=1)]]).shape
    (3, 2)
    >>> block([[[ones(3, chunks=2)]]]).shape
    (1, 1, 3)
    """
    from .shape import concatenate

    leaves: list = []

    def depths(item: Any, level: int) -> set:
        if isinstance(item, tuple):
            raise TypeError(f"block: arrays is a tuple at depth {level}; only lists may nest arrays")
        if not isinstance(item, list):
            leaves.append(item)
            return {level}
        if not item:
            raise ValueError(f"block: lists cannot be empty (the one at depth {level} is)")
        return set().union(*(depths(i, level + 1) for i in item))

    found = depths(arrays, 0)
    if len(found) > 1:
        raise ValueError(f"block: list depths are mismatched (arrays found at depths {sorted(found)})")
    levels = found.pop()
    ndim = max([levels] + [_arrays([leaf])[0].ndim for leaf in leaves])

    def join(item: Any, level: int) -> Array:
        if not isinstance(item, list):
            return _at_least(_arrays([item])[0], ndim)
        return concatenate([join(i, level + 1) for i in item], axis=ndim - (levels - level))

    return join(arrays, 0)


def roll(x: Any, shift: Any, axis: Any = None) -> Array:
    """``numpy.roll``: elements shifted along ``axis`` (the flattened array for None), wrapping around."""
    from .shape import concatenate, ravel, reshape

    x = _arrays([x])[0]
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), x.shape)
    shifts = (shift,) if np.ndim(shift) == 0 else tuple(shift)
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    if len(shifts) == 1 and len(axes) > 1:
        shifts = shifts * len(axes)
    if len(shifts) != len(axes):
        raise ValueError("'shift' and 'axis' should be scalars or 1D sequences of the same length")
    result = x
    for s, a in zip(shifts, axes):
        a %= x.ndim
        n = x.shape[a]
        if n == 0:
            continue
        s = int(s) % n
        if s == 0:
            continue
        before = (slice(None),) * a
        result = concatenate([result[before + (slice(n - s, None),)], result[before + (slice(0, n - s),)]], axis=a)
    return result


def _repeat_block(block: np.ndarray, repeats: int, axis: int) -> np.ndarray:
    return np.repeat(block, repeats, axis=axis)


def repeat(x: Any, repeats: int, axis: Any = None) -> Array:
    """``numpy.repeat`` with one repeat count for every element."""
    from .blockwise import map_blocks
    from .shape import ravel

    x = _arrays([x])[0]
    if np.ndim(repeats) != 0:
        raise NotImplementedError("repeat with a count per element is not implemented yet; use one int")
    repeats = int(repeats)
    if repeats < 0:
        raise ValueError("negative dimensions are not allowed")
    if axis is None:
        x, axis = ravel(x), 0
    axis %= x.ndim
    chunks = tuple(tuple(c * repeats for c in blocks) if a == axis else blocks for a, blocks in enumerate(x.chunks))
    return map_blocks(_repeat_block, x, repeats, axis, chunks=chunks, dtype=x.dtype)


def tile(x: Any, reps: Any) -> Array:
    """``numpy.tile``: the array repeated ``reps`` times along each axis."""
    from .shape import concatenate

    x = _arrays([x])[0]
    reps = (int(reps),) if np.ndim(reps) == 0 else tuple(int(r) for r in reps)
    if any(r < 0 for r in reps):
        raise ValueError("negative dimensions are not allowed")
    ndim = max(x.ndim, len(reps))
    x = x[(None,) * (ndim - x.ndim)]
    reps = (1,) * (ndim - len(reps)) + reps
    for a, r in enumerate(reps):
        if r == 0:
            from .creation import empty

            return empty(tuple(0 if k == a else n for k, n in enumerate(x.shape)), dtype=x.dtype)
        if r > 1:
            x = concatenate([x] * r, axis=a)
    return x


_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap", "maximum", "minimum", "mean", "median",
              "linear_ramp", "empty")


def _per_side(value: Any, ndim: int, what: str) -> list:
    """``value`` as NumPy spreads it over the axes: one ``[before, after]`` pair per axis."""
    try:
        return np.broadcast_to(np.asarray(value, dtype=object), (ndim, 2)).tolist()
    except ValueError:
        raise ValueError(f"pad: {what}={value!r} does not give one value or a (before, after) pair per axis") from None


def _round_if_integer(values: Array, dtype: np.dtype) -> Array:
    # NumPy rounds statistics and ramps before casting them to an integer array's dtype
    from .elementwise import round_

    return (round_(values) if dtype.kind in "iu" else values).astype(dtype)


def _ramp(edge: np.ndarray, end: Any, width: int, axis: int, at_start: bool) -> np.ndarray:
    """``width`` values from ``end`` (outside) towards the ``edge`` values, as ``numpy.pad`` computes them."""
    ramp = np.linspace(end, np.squeeze(edge, axis=axis), width, endpoint=False, dtype=edge.dtype, axis=axis)
    return ramp if at_start else np.flip(ramp, axis=axis)


def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = 0, stat_length: Any = None,
        end_values: Any = 0) -> Array:
    """``numpy.pad`` with every string mode: ``constant`` (one value, or one per side), ``edge``,
    ``reflect``, ``symmetric``, ``wrap``, the statistics ``maximum``/``minimum``/``mean``/``median`` (over
    ``stat_length`` elements next to each side, default the whole axis), ``linear_ramp`` (to
    ``end_values``) and ``empty``. Axes are padded one after the other, as NumPy does.

    >>> from shoal.collections.array.creation import arange
    >>> pad(arange(4, chunks=2), (2, 1), mode="mean").compute(scheduler="sync").tolist()
    [2, 2, 0, 1, 2, 3, 2]
    """
    from . import reductions
    from .creation import full
    from .percentile import median
    from .shape import concatenate

    x = _arrays([x])[0]
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.ndim, 2)).tolist()
    if any(w < 0 for pair in widths for w in pair):
        raise ValueError(f"pad: index can't contain negative values (pad_width={pad_width!r})")
    if callable(mode):
        raise NotImplementedError("pad with a function as mode is not implemented for shoal Arrays; use a string mode")
    if mode not in _PAD_MODES:
        raise ValueError(f"mode {mode!r} is not supported (pad takes one of {', '.join(_PAD_MODES)})")
    constants = _per_side(constant_values, x.ndim, "constant_values")
    ends = _per_side(end_values, x.ndim, "end_values")
    stat_lengths = _per_side(stat_length, x.ndim, "stat_length")
    statistic = {"maximum": reductions.max, "minimum": reductions.min, "mean": reductions.mean, "median": median}
    for a, (before, after) in enumerate(widths):
        if before == 0 and after == 0:
            continue
        n = x.shape[a]
        if isinstance(n, float) and np.isnan(n):
            raise ValueError(f"pad: axis {a} has unknown length (nan chunks); call compute_chunk_sizes() first")
        lead = (slice(None),) * a
        if mode not in ("constant", "empty") and n == 0:
            raise ValueError(f"can't extend an empty axis {a} using modes other than 'constant' or 'empty'")

        def side(width: int, at_start: bool) -> list:
            if width == 0:
                return []
            shape = tuple(width if k == a else m for k, m in enumerate(x.shape))
            chunks = tuple((width,) if k == a else c for k, c in enumerate(x.chunks))
            if mode in ("constant", "empty"):
                value = constants[a][0 if at_start else 1] if mode == "constant" else 0
                return [full(shape, value, dtype=x.dtype, chunks=chunks)]
            if mode in statistic:
                length = stat_lengths[a][0 if at_start else 1]
                length = n if length is None else min(int(length), n)
                if length < 1:
                    raise ValueError(f"pad: stat_length must be at least 1 for mode={mode!r}, got {length}")
                near = x[lead + (slice(0, length) if at_start else slice(n - length, n),)]
                value = _round_if_integer(statistic[mode](near, axis=a, keepdims=True), x.dtype)
                return [repeat(value, width, axis=a)]
            if mode == "linear_ramp":
                edge = x[lead + (slice(0, 1) if at_start else slice(n - 1, n),)]
                return [edge.map_blocks(_ramp, end=ends[a][0 if at_start else 1], width=width, axis=a,
                                        at_start=at_start, chunks=chunks, dtype=x.dtype)]
            source = np.arange(-width, 0) if at_start else np.arange(n, n + width)
            from .overlap import source_positions

            rule = {"edge": "nearest", "wrap": "periodic", "symmetric": "reflect"}.get(mode)
            if mode == "reflect":  # mirror without repeating the edge element
                period = 2 * (n - 1) if n > 1 else 1
                folded = np.mod(source, period)
                positions = np.where(folded < n, folded, period - folded) if n > 1 else np.zeros_like(source)
            else:
                positions = source_positions(source, n, rule)
            return [x[lead + (positions,)]]

        x = concatenate(side(before, True) + [x] + side(after, False), axis=a)
    return x
