"""Shape manipulation: ``transpose`` (``x.T``), ``swapaxes``, ``moveaxis``, ``squeeze``,
``expand_dims``, ``flip``, ``reshape``, ``ravel``, ``concatenate``, ``stack``.

Not yet here (issue 3): block, hstack/vstack, roll, pad, repeat, tile.

>>> from shoal.collections.array.creation import ones
>>> ones((2, 6), chunks=(1, 4)).T.chunks
((4, 2), (1, 1))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...taskgraph.core import Alias, Ref, Task
from .core import Array
from .expr import ArrayExpr

__all__ = ["Transpose", "transpose", "swapaxes", "moveaxis", "squeeze", "expand_dims", "flip", "Concatenate",
           "concatenate", "stack", "Reshape", "reshape", "ravel"]


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


def _axis(axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(f"axis {axis} is out of bounds for array of dimension {ndim}")
    return axis % ndim


def swapaxes(x: Array, axis1: int, axis2: int) -> Array:
    """``numpy.swapaxes``."""
    axes = list(range(x.ndim))
    a, b = _axis(axis1, x.ndim), _axis(axis2, x.ndim)
    axes[a], axes[b] = axes[b], axes[a]
    return transpose(x, axes)


def moveaxis(x: Array, source: Any, destination: Any) -> Array:
    """``numpy.moveaxis``: the ``source`` axes end up at ``destination``, the rest keep their order."""
    source = [source] if isinstance(source, (int, np.integer)) else list(source)
    destination = [destination] if isinstance(destination, (int, np.integer)) else list(destination)
    if len(source) != len(destination):
        raise ValueError("`source` and `destination` arguments must have the same number of elements")
    source = [_axis(a, x.ndim) for a in source]
    destination = [_axis(a, x.ndim) for a in destination]
    order = [a for a in range(x.ndim) if a not in source]
    for dest, src in sorted(zip(destination, source)):
        order.insert(dest, src)
    return transpose(x, order)


def squeeze(x: Array, axis: Any = None) -> Array:
    """``numpy.squeeze``: drop length-1 axes (all of them, or the ones named)."""
    if axis is None:
        axes = [k for k, n in enumerate(x.shape) if n == 1]
    else:
        axes = [_axis(a, x.ndim) for a in ([axis] if isinstance(axis, (int, np.integer)) else axis)]
        bad = [a for a in axes if x.shape[a] != 1]
        if bad:
            raise ValueError(f"cannot select an axis to squeeze out which has size not equal to one (axis {bad[0]})")
    return x[tuple(0 if k in axes else slice(None) for k in range(x.ndim))]


def expand_dims(x: Array, axis: Any) -> Array:
    """``numpy.expand_dims``: new length-1 axes at the positions ``axis`` of the result."""
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    ndim = x.ndim + len(axes)
    axes = sorted(_axis(a, ndim) for a in axes)
    index: list = []
    source = iter(range(x.ndim))
    for k in range(ndim):
        if k in axes:
            index.append(None)
        else:
            next(source)
            index.append(slice(None))
    return x[tuple(index)]


def flip(x: Array, axis: Any = None) -> Array:
    """``numpy.flip``: reverse the order of elements along ``axis`` (all axes by default)."""
    axes = range(x.ndim) if axis is None else [
        _axis(a, x.ndim) for a in ([axis] if isinstance(axis, (int, np.integer)) else axis)]
    return x[tuple(slice(None, None, -1) if k in axes else slice(None) for k in range(x.ndim))]


class Concatenate(ArrayExpr):
    """Arrays joined along ``axis``; their blocks are reused as they are (chunks already aligned)."""

    _parameters = ["arrays", "axis"]

    def _compute_dtype(self) -> np.dtype:
        return np.result_type(*(a.dtype for a in self.arrays))

    def _compute_chunks(self) -> tuple:
        first = self.arrays[0].chunks
        joined = tuple(b for a in self.arrays for b in a.chunks[self.axis])
        return first[: self.axis] + (joined,) + first[self.axis + 1:]

    def _block(self, index: tuple):
        position = index[self.axis]
        for a in self.arrays:
            n = a.numblocks[self.axis]
            if position < n:
                source = index[: self.axis] + (position,) + index[self.axis + 1:]
                if a.dtype == self.dtype:
                    return Alias(self._key(index), a._key(source))
                return Task(self._key(index), _cast, Ref(a._key(source)), self.dtype)
            position -= n
        raise IndexError(f"block {index} is outside the concatenation")  # pragma: no cover - numblocks bound it


def _cast(block: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return block.astype(dtype)


def concatenate(seq: Any, axis: int | None = 0) -> Array:
    """``numpy.concatenate`` of Arrays (and array-likes) along ``axis``; other axes are rechunked to agree.
    ``axis=None`` joins the flattened arrays.

    >>> from shoal.collections.array.creation import arange
    >>> concatenate([arange(3, chunks=2), arange(2, chunks=2)]).compute(scheduler="sync").tolist()
    [0, 1, 2, 0, 1]
    """
    from .chunks import common_chunks
    from .creation import asarray
    from .rechunk import Rechunk

    arrays = [asarray(a) for a in seq]
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    ndim = arrays[0].ndim
    if ndim == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    if any(a.ndim != ndim for a in arrays):
        raise ValueError(
            "all the input arrays must have the same number of dimensions; got shapes "
            + ", ".join(str(a.shape) for a in arrays)
        )
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(f"axis {axis} is out of bounds for array of dimension {ndim}")
    axis %= ndim
    for k in range(ndim):
        if k != axis and len({a.shape[k] for a in arrays}) > 1:
            raise ValueError(
                f"all the input array dimensions except for the concatenation axis must match exactly, "
                f"but along dimension {k} the shapes are " + ", ".join(str(a.shape) for a in arrays)
            )
    exprs = [a.expr for a in arrays]
    wanted = [common_chunks(*(e.chunks[k] for e in exprs)) if k != axis else None for k in range(ndim)]
    aligned = []
    for e in exprs:
        target = tuple(e.chunks[k] if k == axis else wanted[k] for k in range(ndim))
        aligned.append(e if target == e.chunks else Rechunk(e, target))
    if len(aligned) == 1:
        return arrays[0]
    return Array(Concatenate(tuple(aligned), axis))


def stack(arrays: Any, axis: int = 0) -> Array:
    """``numpy.stack``: join arrays of one shape along a new axis.

    >>> from shoal.collections.array.creation import ones, zeros
    >>> stack([ones(2, chunks=1), zeros(2, chunks=1)], axis=1).compute(scheduler="sync").tolist()
    [[1.0, 0.0], [1.0, 0.0]]
    """
    from .creation import asarray

    arrays = [asarray(a) for a in arrays]
    if not arrays:
        raise ValueError("need at least one array to stack")
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError("all input arrays must have the same shape; got " + ", ".join(str(a.shape) for a in arrays))
    ndim = arrays[0].ndim + 1
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(f"axis {axis} is out of bounds for array of dimension {ndim}")
    axis %= ndim
    index = (slice(None),) * axis + (None,)
    return concatenate([a[index] for a in arrays], axis=axis)


class Reshape(ArrayExpr):
    """Row blocks (every axis but the first whole) reshaped one to one into row blocks of the new shape."""

    _parameters = ["array", "chunks"]

    def _compute_dtype(self) -> np.dtype:
        return self.array.dtype

    def _block(self, index: tuple):
        shape = tuple(c[i] for c, i in zip(self.chunks, index))
        source = (index[0],) + (0,) * (self.array.ndim - 1)
        return Task(self._key(index), np.reshape, Ref(self.array._key(source)), shape)


def reshape(x: Array, shape: Any) -> Array:
    """``numpy.reshape`` (C order).

    The array is first cut into blocks of whole rows (every axis but the
    first in one block) whose element ranges are also whole rows of the new
    shape; each block is then reshaped on its own. Blocks therefore span full
    rows, which can be large for very wide arrays.

    >>> from shoal.collections.array.creation import arange
    >>> arange(12, chunks=5).reshape(3, 4).compute(scheduler="sync").tolist()
    [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    """
    import math

    from .chunks import chunk_boundaries
    from .rechunk import Rechunk

    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    shape = tuple(int(n) for n in shape)
    if any(isinstance(n, float) and math.isnan(n) for n in x.shape):
        raise ValueError("Cannot reshape an array with unknown chunk sizes (nan); call compute_chunk_sizes() first")
    size = math.prod(x.shape)
    if shape.count(-1) > 1:
        raise ValueError("can only specify one unknown dimension")
    if -1 in shape:
        known = math.prod(n for n in shape if n != -1)
        if known == 0 or size % known:
            raise ValueError(f"cannot reshape array of size {size} into shape {shape}")
        shape = tuple(size // known if n == -1 else n for n in shape)
    if math.prod(shape) != size:
        raise ValueError(f"cannot reshape array of size {size} into shape {shape}")
    if shape == x.shape:
        return x
    if x.ndim == 0 or len(shape) == 0 or size == 0:
        # scalars and empty arrays: one block, reshaped whole
        whole = x.rechunk(-1) if x.ndim else x
        return Array(ReshapeWhole(whole.expr, tuple((n,) for n in shape)))
    row_in = math.prod(x.shape[1:])
    row_out = math.prod(shape[1:])
    # A block boundary must fall on a whole row of both shapes: a multiple of lcm(row_in, row_out) elements.
    step = math.lcm(row_in, row_out) // row_in
    bounds = chunk_boundaries(x.chunks[0])
    cuts = sorted({min(-(-b // step) * step, x.shape[0]) for b in bounds})
    rows = tuple(b - a for a, b in zip(cuts[:-1], cuts[1:])) or (0,)
    wanted = (rows,) + tuple((n,) for n in x.shape[1:])
    source = x.expr if wanted == x.chunks else Rechunk(x.expr, wanted)
    out_rows = tuple(r * row_in // row_out for r in rows)
    return Array(Reshape(source, (out_rows,) + tuple((n,) for n in shape[1:])))


class ReshapeWhole(ArrayExpr):
    """A single-block array reshaped in one task."""

    _parameters = ["array", "chunks"]

    def _compute_dtype(self) -> np.dtype:
        return self.array.dtype

    def _block(self, index: tuple):
        return Task(self._key(index), np.reshape, Ref(self.array._key((0,) * self.array.ndim)), self.shape)


def ravel(x: Array) -> Array:
    """``numpy.ravel``: the elements as a 1-d array, in C order."""
    return reshape(x, (-1,))
