"""Shape manipulation. So far: ``transpose`` (``x.T``).

Not yet here (issue 3): reshape, swapaxes, moveaxis, squeeze, expand_dims,
ravel, concatenate, stack, block, hstack/vstack, flip, roll, pad, repeat, tile.

>>> from shoal.collections.array.creation import ones
>>> ones((2, 6), chunks=(1, 4)).T.chunks
((4, 2), (1, 1))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...taskgraph.core import Ref, Task
from .core import Array
from .expr import ArrayExpr

__all__ = ["Transpose", "transpose"]


class Transpose(ArrayExpr):
    """Axes permuted: output axis ``k`` is input axis ``axes[k]``."""

    _parameters = ["array", "axes"]

    def _compute_dtype(self) -> np.dtype:
        return self.array.dtype

    def _compute_chunks(self) -> tuple:
        return tuple(self.array.chunks[a] for a in self.axes)

    def _simplify_down(self) -> ArrayExpr | None:
        if tuple(self.axes) == tuple(range(self.array.ndim)):
            return self.array
        if isinstance(self.array, Transpose):  # two permutations make one
            inner = self.array.axes
            return Transpose(self.array.array, tuple(inner[a] for a in self.axes))
        return None

    def _block(self, index: tuple):
        source = [0] * len(index)
        for k, a in enumerate(self.axes):
            source[a] = index[k]
        return Task(self._key(index), np.transpose, Ref(self.array._key(tuple(source))), self.axes)


def transpose(x: Array, axes: Any = None) -> Array:
    """``numpy.transpose``: reverse the axes, or permute them as ``axes`` says."""
    ndim = x.ndim
    if axes is None:
        axes = tuple(range(ndim - 1, -1, -1))
    axes = tuple(int(a) for a in axes)
    if (len(axes) != ndim or any(not -ndim <= a < ndim for a in axes)
            or sorted(a % ndim for a in axes) != list(range(ndim))):
        raise ValueError(f"axes {axes} don't match array: need a permutation of the {ndim} axes of shape {x.shape}")
    axes = tuple(a % ndim for a in axes)
    if axes == tuple(range(ndim)):
        return x
    return Array(Transpose(x.expr, axes))
