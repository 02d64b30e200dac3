"""NumPy routines built from other lazy operations: ``diff``, ``broadcast_to``, ``count_nonzero``, ``ptp``,
``average``, ``nan_to_num``, ``allclose``, ``array_equal``, ``outer``, ``inner``, ``vdot``, ``fliplr``,
``flipud``, ``atleast_1d/2d/3d``, ``angle``, ``real``, ``imag``, ``isin``, ``digitize``, ``tril``, ``triu``,
``diagonal``, ``diag``, ``trace``.

Each follows its NumPy namesake (arguments, result dtype and errors) and is
reached both as ``shoal.array.<name>`` and, on shoal Arrays, as
``numpy.<name>`` through ``__array_function__``.

>>> import numpy as np
>>> from shoal.collections.array.creation import from_array
>>> diff(from_array(np.array([1, 4, 9, 16]), chunks=2)).compute(scheduler="sync").tolist()
[3, 5, 7]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import Array

__all__ = ["diff", "broadcast_to", "count_nonzero", "ptp", "average", "nan_to_num", "allclose", "array_equal",
           "outer", "inner", "vdot", "fliplr", "flipud", "atleast_1d", "atleast_2d", "atleast_3d", "angle", "real",
           "imag", "isin", "digitize", "tril", "triu", "diagonal", "diag", "trace"]


def _asarray(a: Any) -> Array:
    from .creation import asarray

    return asarray(a)


def _axis(axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(f"axis {axis} is out of bounds for array of dimension {ndim}")
    return axis % ndim


def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None) -> Array:
    """``numpy.diff``: the ``n``-th differences along ``axis`` (``!=`` for booleans, as NumPy does)."""
    from .shape import concatenate

    a = _asarray(a)
    if n < 0:
        raise ValueError(f"order must be non-negative but got {n}")
    if a.ndim == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = _axis(axis, a.ndim)
    edges = []
    for value in (prepend, append):
        if value is None:
            edges.append([])
            continue
        value = _asarray(value)
        if value.ndim == 0:  # a scalar repeats across the other axes, one element thick along the axis
            shape = tuple(1 if k == axis else m for k, m in enumerate(a.shape))
            value = broadcast_to(value, shape)
        edges.append([value])
    if prepend is not None or append is not None:
        a = concatenate(edges[0] + [a] + edges[1], axis=axis)
    lead = (slice(None),) * axis
    for _ in range(n):  # n is a small count given by the caller
        later, earlier = a[lead + (slice(1, None),)], a[lead + (slice(None, -1),)]
        a = later != earlier if a.dtype == np.bool_ else later - earlier
    return a


def _broadcast_block(block: np.ndarray, template: np.ndarray) -> np.ndarray:
    return np.broadcast_to(block, template.shape)


def broadcast_to(x: Any, shape: Any, chunks: Any = None) -> Array:
    """``numpy.broadcast_to``: new leading axes and stretched length-1 axes are one block each (unless
    ``chunks`` says otherwise); the other axes keep ``x``'s blocks."""
    from .creation import empty
    from .elementwise import elemwise

    x = _asarray(x)
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)
    try:
        fits = np.broadcast_shapes(x.shape, shape) == shape and len(shape) >= x.ndim
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"operands could not be broadcast together with remapped shapes [original->remapped]: "
                         f"{x.shape} and requested shape {shape}")
    new = len(shape) - x.ndim
    if chunks is None:
        chunks = tuple((n,) for n in shape[:new]) + tuple(
            c if old == size else (size,) for c, old, size in zip(x.chunks, x.shape, shape[new:]))
    template = empty(shape, chunks=chunks, dtype=bool)
    return elemwise(_broadcast_block, x, template, dtype=x.dtype)


def count_nonzero(a: Any, axis: Any = None, *, keepdims: bool = False) -> Array:
    """``numpy.count_nonzero``: how many elements are not zero, over ``axis``."""
    from .reductions import sum

    return sum(_asarray(a) != 0, axis=axis, keepdims=keepdims).astype(np.intp)


def ptp(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Array:
    """``numpy.ptp``: maximum minus minimum over ``axis``."""
    from .reductions import max, min

    if out is not None:
        raise TypeError("ptp(..., out=...) cannot write into a shoal Array; use the returned Array")
    a = _asarray(a)
    return max(a, axis=axis, keepdims=keepdims) - min(a, axis=axis, keepdims=keepdims)


def average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False, *,
            keepdims: bool = False) -> Any:
    """``numpy.average``: the weighted mean over ``axis``; ``weights`` of ``a``'s shape, or 1-d along the one
    ``axis``. ``returned=True`` also gives the sum of the weights (broadcast like the average)."""
    from .reductions import mean, sum

    a = _asarray(a)
    if weights is None:
        result = mean(a, axis=axis, keepdims=keepdims)
        if not returned:
            return result
        count = a.size / max(result.size, 1)
        return result, broadcast_to(_asarray(np.asarray(count, dtype=result.dtype)), result.shape)
    w = _asarray(weights)
    if w.shape != a.shape:
        if axis is None:
            raise TypeError("Axis must be specified when shapes of a and weights differ.")
        if w.ndim != 1 or np.ndim(axis) != 0:
            raise TypeError("1D weights expected when shapes of a and weights differ.")
        axis = _axis(int(axis), a.ndim)
        if w.shape[0] != a.shape[axis]:
            raise ValueError("Length of weights not compatible with specified axis.")
        w = w.reshape((1,) * axis + (w.shape[0],) + (1,) * (a.ndim - axis - 1))
    dtype = np.result_type(a.dtype, w.dtype, np.float64) if a.dtype.kind in "biu" else np.result_type(a.dtype, w.dtype)
    total_weight = sum(broadcast_to(w, a.shape) if w.shape != a.shape else w, axis=axis, keepdims=keepdims,
                       dtype=dtype)
    result = sum(a * w, axis=axis, keepdims=keepdims, dtype=dtype) / total_weight
    return (result, total_weight) if returned else result


def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: Any = None, neginf: Any = None) -> Array:
    """``numpy.nan_to_num`` elementwise (``copy`` is moot: shoal Arrays are never changed in place)."""
    from .elementwise import elemwise

    return elemwise(np.nan_to_num, _asarray(x), nan=nan, posinf=posinf, neginf=neginf)


def allclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Array:
    """``numpy.allclose`` as a lazy 0-d boolean Array."""
    from .elementwise import isclose

    return isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan).all()


def array_equal(a1: Any, a2: Any, equal_nan: bool = False) -> Any:
    """``numpy.array_equal``: ``False`` at once for different shapes, else a lazy 0-d boolean Array."""
    a1, a2 = _asarray(a1), _asarray(a2)
    if a1.shape != a2.shape:
        return False
    same = a1 == a2
    if equal_nan and a1.dtype.kind in "fc" and a2.dtype.kind in "fc":
        same = same | (np.isnan(a1) & np.isnan(a2))
    return same.all()


def outer(a: Any, b: Any) -> Array:
    """``numpy.outer``: every element of flattened ``a`` times every element of flattened ``b``."""
    from .shape import ravel

    return ravel(_asarray(a))[:, None] * ravel(_asarray(b))[None, :]


def inner(a: Any, b: Any) -> Array:
    """``numpy.inner``: the sum over the last axes of ``a`` and ``b`` (a product with a scalar)."""
    from .linalg import tensordot

    a, b = _asarray(a), _asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return tensordot(a, b, axes=((a.ndim - 1,), (b.ndim - 1,)))


def vdot(a: Any, b: Any) -> Array:
    """``numpy.vdot``: the dot product of the flattened arrays, conjugating the first."""
    from .shape import ravel

    a, b = ravel(_asarray(a)), ravel(_asarray(b))
    if a.shape != b.shape:
        raise ValueError(f"vdot: the arrays have {a.shape[0]} and {b.shape[0]} elements; they must have as many")
    return (np.conjugate(a) * b).sum() if a.dtype.kind == "c" else (a * b).sum()


def fliplr(m: Any) -> Array:
    """``numpy.fliplr``: reverse the second axis."""
    from .shape import flip

    m = _asarray(m)
    if m.ndim < 2:
        raise ValueError("Input must be >= 2-d.")
    return flip(m, 1)


def flipud(m: Any) -> Array:
    """``numpy.flipud``: reverse the first axis."""
    from .shape import flip

    m = _asarray(m)
    if m.ndim < 1:
        raise ValueError("Input must be >= 1-d.")
    return flip(m, 0)


def _at_least(arrays: tuple, ndim: int, where: tuple) -> Any:
    """Each array given new axes (at ``where`` positions, as NumPy places them) until ``ndim`` dimensions."""
    results = []
    for a in arrays:
        a = _asarray(a)
        if a.ndim == 0:
            a = a.reshape((1,) * ndim)
        elif a.ndim < ndim:
            a = a[where[a.ndim]]
        results.append(a)
    return results[0] if len(results) == 1 else tuple(results)


def atleast_1d(*arrays: Any) -> Any:
    return _at_least(arrays, 1, {})


def atleast_2d(*arrays: Any) -> Any:
    return _at_least(arrays, 2, {1: (None, slice(None))})


def atleast_3d(*arrays: Any) -> Any:
    # NumPy: a 1-d (n,) becomes (1, n, 1) and a 2-d (m, n) becomes (m, n, 1)
    return _at_least(arrays, 3, {1: (None, slice(None), None), 2: (Ellipsis, None)})


def angle(z: Any, deg: bool = False) -> Array:
    """``numpy.angle`` elementwise."""
    from .elementwise import elemwise

    return elemwise(np.angle, _asarray(z), deg=deg)


def real(val: Any) -> Array:
    """``numpy.real``."""
    return np.real(_asarray(val))


def imag(val: Any) -> Array:
    """``numpy.imag``."""
    return np.imag(_asarray(val))


def _isin_block(element: np.ndarray, test_elements: np.ndarray, invert: bool) -> np.ndarray:
    return np.isin(element, test_elements, invert=invert)


def isin(element: Any, test_elements: Any, assume_unique: bool = False, invert: bool = False, *,
         kind: Any = None) -> Array:
    """``numpy.isin`` elementwise over ``element``; ``test_elements`` (NumPy or shoal, any shape) is given
    whole to every block."""
    from .blockwise import blockwise

    element, tests = _asarray(element), _asarray(test_elements)
    letters = "abcdefghijklmnopqrstuvwxyz"
    own, theirs = letters[:element.ndim], letters[element.ndim:element.ndim + tests.ndim]
    return blockwise(_isin_block, own, element, own, tests, theirs, dtype=bool, invert=invert)


def digitize(x: Any, bins: Any, right: bool = False) -> Array:
    """``numpy.digitize`` elementwise, with known ``bins``."""
    from .elementwise import elemwise

    if isinstance(bins, Array):
        raise NotImplementedError("digitize with lazy bins: compute() the bins first (they are small)")
    bins = np.asarray(bins)
    if bins.ndim != 1:
        raise ValueError("object too deep for desired array: bins must be 1-dimensional")
    return elemwise(np.digitize, _asarray(x), bins=bins, right=right, dtype=np.intp)


def _triangle_block(block: np.ndarray, k: int, lower: bool, block_info: Any = None) -> np.ndarray:
    (row, _), (col, _) = block_info[None]["array-location"][-2:]
    return np.tril(block, k - (col - row)) if lower else np.triu(block, k - (col - row))


def _triangle(m: Any, k: int, lower: bool) -> Array:
    from .blockwise import map_blocks

    m = _asarray(m)
    if m.ndim < 2:
        raise ValueError(f"{'tril' if lower else 'triu'} needs an array of at least 2 dimensions, got {m.ndim}")
    return map_blocks(_triangle_block, m, k=int(k), lower=lower, dtype=m.dtype)


def tril(m: Any, k: int = 0) -> Array:
    """``numpy.tril``: zeros above the ``k``-th diagonal (of the last two axes)."""
    return _triangle(m, k, True)


def triu(m: Any, k: int = 0) -> Array:
    """``numpy.triu``: zeros below the ``k``-th diagonal (of the last two axes)."""
    return _triangle(m, k, False)


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Array:
    """``numpy.diagonal``: the diagonal of the ``axis1``/``axis2`` planes, as the last axis."""
    from .shape import moveaxis

    a = _asarray(a)
    if a.ndim < 2:
        raise ValueError("diag requires an array of at least two dimensions")
    axis1, axis2 = _axis(axis1, a.ndim), _axis(axis2, a.ndim)
    if axis1 == axis2:
        raise ValueError("axis1 and axis2 cannot be the same")
    a = moveaxis(a, (axis1, axis2), (-2, -1))
    rows, cols = a.shape[-2], a.shape[-1]
    start_row, start_col = max(-offset, 0), max(offset, 0)
    length = max(0, min(rows - start_row, cols - start_col))
    positions = np.arange(length)
    if a.ndim == 2:
        return a.vindex[positions + start_row, positions + start_col]
    # a stack of matrices: the rows of the diagonal, then the matching column of each
    lead = (slice(None),) * (a.ndim - 2)
    picked = a[lead + (positions + start_row,)]  # (..., length, cols)
    return _take_diagonal_columns(picked, positions + start_col)


def _take_diagonal_columns(picked: Array, columns: np.ndarray) -> Array:
    """``picked[..., i, columns[i]]`` for every i: the diagonal of the last two axes of row-selected matrices."""
    from .blockwise import map_blocks

    picked = picked.rechunk({-1: -1, -2: -1})
    return map_blocks(_diagonal_of_block, picked, columns=columns, drop_axis=picked.ndim - 1, dtype=picked.dtype)


def _diagonal_of_block(block: np.ndarray, columns: np.ndarray) -> np.ndarray:
    return np.take_along_axis(block, columns.reshape((1,) * (block.ndim - 2) + (-1, 1)), axis=-1)[..., 0]


def diag(v: Any, k: int = 0) -> Array:
    """``numpy.diag``: a 2-d array with ``v`` on its ``k``-th diagonal, or the ``k``-th diagonal of a 2-d ``v``."""
    from .creation import arange
    from .elementwise import where
    from .stacking import pad

    v = _asarray(v)
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise ValueError("Input must be 1- or 2-d.")
    # row r of the result holds padded[r] on the diagonal: v shifted down by -k rows when k < 0
    padded = pad(v, (max(-k, 0), max(k, 0)))
    index = arange(padded.shape[0], chunks=(padded.chunks[0],))
    on_diagonal = (index[None, :] - index[:, None]) == k
    return where(on_diagonal, padded[:, None], np.zeros((), dtype=v.dtype))


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None) -> Array:
    """``numpy.trace``: the sum along the diagonal."""
    from .reductions import sum

    return sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


def _conjugate(x: Array) -> Array:
    return np.conjugate(x)
