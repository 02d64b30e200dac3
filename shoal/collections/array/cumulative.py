"""Cumulative reductions: ``cumsum``, ``cumprod``, ``nancumsum``, ``nancumprod``.

Each block is accumulated on its own; a chain of small *carry* tasks along
the axis holds the total of everything before each block (a slice one
element thick), and each output block is its own accumulation combined with
its carry.

>>> import numpy as np
>>> from shoal.collections.array.creation import arange
>>> cumsum(arange(6, chunks=4)).compute(scheduler="sync").tolist()
[0, 1, 3, 6, 10, 15]
"""

from __future__ import annotations

import operator
from typing import Any, Callable

import numpy as np

from ...taskgraph.core import Alias, Ref, Task
from ..delayed import funcname
from .core import Array
from .expr import ArrayExpr

__all__ = ["CumulativeReduction", "cumsum", "cumprod", "nancumsum", "nancumprod"]


class CumulativeReduction(ArrayExpr):
    """``func`` along ``axis`` with carries combined by ``binop`` (identity ``identity``)."""

    _parameters = ["array", "func", "binop", "identity", "axis", "dtype"]

    @property
    def _funcname(self) -> str:
        return funcname(self.func)

    def _compute_chunks(self) -> tuple:
        return self.array.chunks

    def _layer(self) -> dict:
        token = self._name.rsplit("-", 1)[-1]
        own = f"{self._funcname}-block-{token}"
        carry = f"{self._funcname}-carry-{token}"
        axis = self.axis
        layer: dict = {}
        for idx in np.ndindex(*self.numblocks):
            key = (own, *idx)
            layer[key] = Task(key, self.func, Ref(self.array._key(idx)), axis=axis, dtype=self.dtype)
        for idx in np.ndindex(*self.numblocks):
            k = idx[axis]
            out = self._key(idx)
            if k == 0:
                layer[out] = Alias(out, (own, *idx))
                continue
            before = idx[:axis] + (k - 1,) + idx[axis + 1:]
            previous = () if k == 1 else (Ref((carry, *before)),)
            carry_key = (carry, *idx)
            layer[carry_key] = Task(carry_key, _carry, self.binop, self.identity, axis, Ref((own, *before)),
                                    *previous)
            layer[out] = Task(out, self.binop, Ref((own, *idx)), Ref(carry_key))
        return layer


def _carry(binop: Callable, identity: Any, axis: int, accumulated: np.ndarray, *previous: np.ndarray) -> np.ndarray:
    """The total up to and including the block ``accumulated`` came from: its last slice (plus what came before)."""
    if accumulated.shape[axis] == 0:
        shape = tuple(1 if a == axis else n for a, n in enumerate(accumulated.shape))
        last = np.full(shape, identity, dtype=accumulated.dtype)
    else:
        last = np.take(accumulated, [-1], axis=axis)
    return binop(previous[0], last) if previous else last


def _cumulative(x: Any, axis: Any, dtype: Any, out: Any, func: Callable, binop: Callable, identity: Any) -> Array:
    from .creation import asarray

    if out is not None:
        raise TypeError(f"{func.__name__}(..., out=...) cannot write into an array: shoal Arrays are immutable")
    x = asarray(x)
    if axis is None:  # NumPy flattens first
        from .shape import ravel

        x = ravel(x) if x.ndim != 1 else x
        axis = 0
    if not -x.ndim <= axis < max(x.ndim, 1):
        raise np.exceptions.AxisError(f"axis {axis} is out of bounds for array of dimension {x.ndim}")
    axis = axis % max(x.ndim, 1)
    probe = np.zeros((1,) * x.ndim, dtype=x.dtype)
    result_dtype = func(probe, axis=axis, dtype=dtype).dtype
    return Array(CumulativeReduction(x.expr, func, binop, identity, axis, result_dtype))


def cumsum(x: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Array:
    """``numpy.cumsum`` along ``axis`` (the flattened array for axis=None)."""
    return _cumulative(x, axis, dtype, out, np.cumsum, operator.add, 0)


def cumprod(x: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Array:
    """``numpy.cumprod`` along ``axis``."""
    return _cumulative(x, axis, dtype, out, np.cumprod, operator.mul, 1)


def nancumsum(x: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Array:
    return _cumulative(x, axis, dtype, out, np.nancumsum, operator.add, 0)


def nancumprod(x: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Array:
    return _cumulative(x, axis, dtype, out, np.nancumprod, operator.mul, 1)
