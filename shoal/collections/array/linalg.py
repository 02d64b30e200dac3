"""Linear algebra: ``x @ y``, ``matmul``, ``dot`` for 1-d and 2-d arrays; ``norm``.

Block ``(i, j)`` of ``x @ y`` is the sum over ``k`` of ``x[i, k] @ y[k, j]``:
the products are made blockwise with ``k`` kept as a leading axis, and that
axis is then summed by the ordinary tree reduction, so no task ever holds a
whole row of blocks. (tensordot, einsum, qr, svd and solve: not yet.)

>>> import numpy as np
>>> from shoal.collections.array.creation import from_array
>>> a = from_array(np.arange(6.0).reshape(2, 3), chunks=2)
>>> (a @ a.T).compute(scheduler="sync").tolist()
[[5.0, 14.0], [14.0, 50.0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import Array

__all__ = ["matmul", "dot", "norm"]


def _block_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.matmul(a, b)[None]


def matmul(x1: Any, x2: Any) -> Array:
    """``numpy.matmul`` for 1-d and 2-d arrays (1-d operands are promoted and the axis removed after)."""
    from .blockwise import blockwise
    from .creation import asarray

    a, b = asarray(x1), asarray(x2)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: Input operand does not have enough dimensions (scalars are not allowed; use *)")
    if a.ndim > 2 or b.ndim > 2:
        raise NotImplementedError("matmul of arrays with more than 2 dimensions is not implemented yet")
    vector_left, vector_right = a.ndim == 1, b.ndim == 1
    if vector_left:
        a = a[None, :]
    if vector_right:
        b = b[:, None]
    if a.shape[1] != b.shape[0]:
        raise ValueError(
            f"matmul: Input operand 1 has a mismatch in its core dimension 0 "
            f"(size {b.shape[0]} is different from {a.shape[1]}): shapes {tuple(x1.shape)} and {tuple(x2.shape)}"
        )
    dtype = np.result_type(a.dtype, b.dtype)
    products = blockwise(_block_product, "kij", a, "ik", b, "kj", dtype=dtype, adjust_chunks={"k": 1})
    result = products.sum(axis=0, dtype=dtype)
    if vector_left and vector_right:
        return result[0, 0]
    if vector_left:
        return result[0]
    if vector_right:
        return result[:, 0]
    return result


def dot(a: Any, b: Any) -> Array:
    """``numpy.dot`` for 1-d and 2-d arrays (the same as ``matmul`` there)."""
    return matmul(a, b)


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Array:
    """``numpy.linalg.norm``: vector norms over one axis, matrix norms over two (not ``2``/``-2``/``'nuc'``).

    >>> from shoal.collections.array.creation import from_array
    >>> float(norm(from_array(np.array([3.0, 4.0]), chunks=1)).compute(scheduler="sync"))
    5.0
    """
    from . import reductions
    from .creation import asarray

    x = asarray(x)
    if not np.issubdtype(x.dtype, np.inexact):
        x = x.astype(float)
    if axis is None:
        if ord is None:  # the 2-norm of the flattened array, whatever its dimensions
            return np.sqrt(reductions.sum(abs(x) ** 2, axis=None, keepdims=keepdims))
        axis = tuple(range(x.ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = tuple(int(a) % x.ndim for a in axes)
    magnitude = abs(x)
    if len(axes) == 1:
        if ord is None or ord == 2:
            return np.sqrt(reductions.sum(magnitude ** 2, axis=axes, keepdims=keepdims))
        if ord == np.inf:
            return reductions.max(magnitude, axis=axes, keepdims=keepdims)
        if ord == -np.inf:
            return reductions.min(magnitude, axis=axes, keepdims=keepdims)
        if ord == 0:
            return reductions.sum(x != 0, axis=axes, keepdims=keepdims).astype(magnitude.dtype)
        if ord == 1:
            return reductions.sum(magnitude, axis=axes, keepdims=keepdims)
        if isinstance(ord, str):
            raise ValueError(f"Invalid norm order {ord!r} for vectors")
        return reductions.sum(magnitude ** ord, axis=axes, keepdims=keepdims) ** (1.0 / ord)
    if len(axes) != 2:
        raise ValueError("Improper number of dimensions to norm.")
    row_axis, col_axis = axes
    if ord is None or ord == "fro":
        return np.sqrt(reductions.sum(magnitude ** 2, axis=axes, keepdims=keepdims))
    if ord in (1, -1, np.inf, -np.inf):
        # 1: the largest column sum; inf: the largest row sum (their negatives: the smallest)
        summed_axis, other_axis = (row_axis, col_axis) if abs(ord) == 1 else (col_axis, row_axis)
        sums = reductions.sum(magnitude, axis=summed_axis, keepdims=True)
        pick = reductions.max if ord > 0 else reductions.min
        result = pick(sums, axis=other_axis, keepdims=True)
        if not keepdims:
            from .shape import squeeze

            result = squeeze(result, axis=axes)
        return result
    raise NotImplementedError(
        f"norm(ord={ord!r}) for matrices needs singular values (svd), which are not implemented yet for "
        "shoal Arrays; compute() first"
    )
