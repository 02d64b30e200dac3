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


def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = 0) -> Array:
    """``numpy.pad`` with modes ``constant``, ``edge``, ``reflect``, ``symmetric`` and ``wrap``."""
    from .creation import full
    from .shape import concatenate

    x = _arrays([x])[0]
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.ndim, 2)).tolist()
    if mode not in ("constant", "edge", "reflect", "symmetric", "wrap"):
        raise NotImplementedError(f"pad(mode={mode!r}) is not implemented yet for shoal Arrays")
    if mode == "constant" and np.ndim(constant_values) != 0:
        raise NotImplementedError("pad with different constants per side is not implemented yet; give one value")
    for a, (before, after) in enumerate(widths):
        if before == 0 and after == 0:
            continue
        n = x.shape[a]
        lead = (slice(None),) * a
        if mode in ("reflect", "symmetric", "wrap", "edge") and n == 0:
            raise ValueError(f"can't extend an empty axis {a} using modes other than 'constant'")

        def side(width: int, at_start: bool) -> list:
            if width == 0:
                return []
            if mode == "constant":
                shape = tuple(width if k == a else m for k, m in enumerate(x.shape))
                return [full(shape, constant_values, dtype=x.dtype, chunks=tuple(
                    (width,) if k == a else c for k, c in enumerate(x.chunks)))]
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
