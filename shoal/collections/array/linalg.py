"""Matrix products: ``x @ y``, ``matmul``, ``dot`` for 1-d and 2-d arrays.

Block ``(i, j)`` of ``x @ y`` is the sum over ``k`` of ``x[i, k] @ y[k, j]``:
the products are made blockwise with ``k`` kept as a leading axis, and that
axis is then summed by the ordinary tree reduction, so no task ever holds a
whole row of blocks. (tensordot, einsum, qr, svd, norm and solve: not yet.)

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

__all__ = ["matmul", "dot"]


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
