"""Reductions as trees: ``chunk`` on every block, ``combine`` on groups, ``aggregate`` at the top.

Theory of operation:

- ``chunk(block, axis=axes, keepdims=True)`` turns each block into a partial
  result that keeps length-1 reduced axes.
- Groups of at most ``split_every`` partials (per reduced axis, so the fan-in
  of a task is about ``split_every``) are merged by ``combine`` level after
  level, until one group per output block is left; ``aggregate`` makes the
  final value (honouring ``keepdims``).
- With ``concatenate=True`` (the public ``reduction``'s default, as in
  Dask), ``combine``/``aggregate`` receive the group's partials concatenated
  along the reduced axes. With ``concatenate=False`` they receive the list of
  partials, which lets partials be several arrays (``mean`` keeps counts and
  totals; ``var`` keeps ``(n, mean, M2)`` and merges them with Chan's
  parallel formula, which stays accurate where a sum of squares would not).

>>> import numpy as np
>>> from shoal.collections.array.creation import from_array
>>> x = from_array(np.arange(12.0).reshape(3, 4), chunks=2)
>>> float(x.var(ddof=1).compute(scheduler="sync")) == float(np.arange(12.0).var(ddof=1))
True
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
from typing import Any, Callable

import numpy as np

from ... import config
from ...taskgraph.core import Ref, Task
from ..delayed import funcname
from .chunks import chunk_offsets
from .core import Array
from .expr import ArrayExpr

__all__ = [
    "Reduction", "reduction", "sum", "prod", "mean", "std", "var", "min", "max", "argmin", "argmax", "any",
    "all", "nansum", "nanprod", "nanmean", "nanstd", "nanvar", "nanmin", "nanmax", "nanargmin", "nanargmax",
]

_builtin_sum, _builtin_min, _builtin_max, _builtin_any, _builtin_all = sum, min, max, any, all


# --------------------------------------------------------------------- the node


class Reduction(ArrayExpr):
    """A tree reduction of ``array`` over ``axes``; see the module docstring."""

    _parameters = ["array", "chunk", "combine", "aggregate", "axes", "keepdims", "dtype", "split_every",
                   "concatenate", "label", "wants_position"]
    _defaults = {"wants_position": False}

    @property
    def _funcname(self) -> str:
        return self.label

    def _compute_chunks(self) -> tuple:
        out = []
        for axis, blocks in enumerate(self.array.chunks):
            if axis in self.axes:
                if self.keepdims:
                    out.append((1,))
            else:
                out.append(blocks)
        return tuple(out)

    def _explain_args(self) -> dict:
        return {"axis": self.axes, "keepdims": self.keepdims} if self.keepdims else {"axis": self.axes}

    def _split_factors(self) -> dict:
        split = self.split_every
        if isinstance(split, dict):
            return {a: _builtin_max(int(split.get(a, 2)), 2) for a in self.axes}
        per_axis = _builtin_max(int(round(split ** (1.0 / _builtin_max(len(self.axes), 1)))), 2)
        return {a: per_axis for a in self.axes}

    def _layer(self) -> dict:
        x = self.array
        token = self._name.rsplit("-", 1)[-1]
        layer: dict = {}
        current = f"{self.label}-chunk-{token}"
        for idx in np.ndindex(*x.numblocks):
            kwargs = {"axis": self.axes, "keepdims": True}
            if self.wants_position:
                kwargs["offsets"] = chunk_offsets(x.chunks, idx)
                kwargs["shape"] = x.shape
            key = (current, *idx)
            layer[key] = Task(key, self.chunk, Ref(x._key(idx)), **kwargs)
        grid = list(x.numblocks)
        split = self._split_factors()
        level = 0
        while _builtin_any(grid[a] > split[a] for a in self.axes):
            new_grid = [-(-grid[a] // split[a]) if a in self.axes else grid[a] for a in range(len(grid))]
            name = f"{self.label}-combine{level}-{token}"
            for idx in np.ndindex(*new_grid):
                ranges = [
                    range(idx[a] * split[a], _builtin_min((idx[a] + 1) * split[a], grid[a])) if a in self.axes
                    else (idx[a],)
                    for a in range(len(grid))
                ]
                key = (name, *idx)
                layer[key] = self._merge_task(key, self.combine, current, ranges, True)
            grid, current, level = new_grid, name, level + 1
        for out_idx in np.ndindex(*self.numblocks):
            ranges = []
            k = 0
            for a in range(len(grid)):
                if a in self.axes:
                    ranges.append(range(grid[a]))
                    k += 1 if self.keepdims else 0
                else:
                    ranges.append((out_idx[k],))
                    k += 1
            key = self._key(out_idx)
            layer[key] = self._merge_task(key, self.aggregate, current, ranges, self.keepdims)
        return layer

    def _merge_task(self, key: tuple, func: Callable, source: str, ranges: list, keepdims: bool) -> Task:
        parts = [Ref((source, *member)) for member in itertools.product(*ranges)]
        group_shape = tuple(len(r) for r in ranges)
        return Task(key, _merge, func, parts, group_shape, self.axes, keepdims, self.concatenate)


def _merge(func: Callable, parts: list, group_shape: tuple, axes: tuple, keepdims: bool, concatenate: bool) -> Any:
    if concatenate:
        return func(_concatenate_grid(parts, group_shape, axes), axis=axes, keepdims=keepdims)
    return func(parts, axis=axes, keepdims=keepdims)


def _concatenate_grid(parts: list, group_shape: tuple, axes: tuple) -> Any:
    """Blocks laid out on ``group_shape`` concatenated along the ``axes`` where the group spans several."""
    if len(parts) == 1:
        return parts[0]
    grid = np.empty(len(parts), dtype=object)
    for i, p in enumerate(parts):
        grid[i] = p
    grid = grid.reshape(group_shape)
    # Join along the last grid axis first; each step removes that axis from the grid.
    for axis in range(len(group_shape) - 1, -1, -1):
        if group_shape[axis] == 1:
            grid = grid[..., 0]
            continue
        joined = np.empty(grid.shape[:-1], dtype=object)
        for idx in np.ndindex(*joined.shape):
            joined[idx] = np.concatenate(list(grid[idx]), axis=axis)
        grid = joined
    return grid[()]


# --------------------------------------------------------------------- building


def _normalize_axes(axis: Any, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or not -ndim <= a < ndim:
            raise np.exceptions.AxisError(f"axis {a} is out of bounds for array of dimension {ndim}")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"duplicate value in 'axis': {axis}")
    return tuple(sorted(out))


def _check_no_out(out: Any, name: str) -> None:
    if out is not None:
        raise TypeError(
            f"{name}(..., out=...) cannot write into an array: shoal Arrays are immutable; "
            "drop out= and use the returned Array"
        )


def reduction(x: Any, chunk: Callable, aggregate: Callable, combine: Callable | None = None, axis: Any = None,
              keepdims: bool = False, dtype: Any = None, split_every: Any = None, concatenate: bool = True,
              name: str | None = None) -> Array:
    """A user-defined tree reduction (see the module docstring for the contract).

    ``chunk(block, axis=, keepdims=True)`` makes partials, ``combine`` (default:
    ``aggregate``) merges groups of them, ``aggregate(x, axis=, keepdims=)``
    makes the result. ``dtype`` is found by running the functions on a
    one-element array when not given.

    >>> from shoal.collections.array.creation import arange
    >>> r = reduction(arange(10, chunks=3), np.sum, np.sum, dtype=int, split_every=2)
    >>> int(r.compute(scheduler="sync"))
    45
    """
    from .creation import asarray

    x = asarray(x)
    axes = _normalize_axes(axis, x.ndim)
    if dtype is None:
        probe = np.ones((1,) * x.ndim, dtype=x.dtype)
        try:
            partial = chunk(probe, axis=axes, keepdims=True)
            dtype = np.asarray(aggregate(partial if concatenate else [partial], axis=axes, keepdims=keepdims)).dtype
        except Exception as err:
            raise TypeError(
                f"reduction could not find the result dtype by running {funcname(chunk)}/{funcname(aggregate)} "
                f"on a one-element array ({type(err).__name__}: {err}); pass dtype="
            ) from err
    return _build(x, chunk, combine or aggregate, aggregate, axes, keepdims, dtype, split_every, concatenate,
                  name or funcname(aggregate))


def _build(x: Array, chunk, combine, aggregate, axes, keepdims, dtype, split_every, concatenate, label,
           wants_position: bool = False) -> Array:
    if split_every is None:
        split_every = config.get("array.split-every")
    if isinstance(split_every, int) and split_every < 2:
        raise ValueError(f"split_every must be at least 2, got {split_every}")
    return Array(Reduction(x.expr, chunk, combine, aggregate, axes, bool(keepdims), np.dtype(dtype), split_every,
                           concatenate, label, wants_position))


def _result_dtype(numpy_func: Callable, x: Array, axes: tuple, **kwargs) -> np.dtype:
    """The dtype NumPy gives for this reduction, found on a one-element array of ``x``'s dtype."""
    probe = np.zeros((1,) * x.ndim, dtype=x.dtype)
    with np.errstate(all="ignore"):
        return np.asarray(numpy_func(probe, axis=axes or None, **kwargs)).dtype


def _scalar_if_0d(result: Any) -> Any:
    return result[()] if isinstance(result, np.ndarray) and result.ndim == 0 else result


# --------------------------------------------------------------------- simple (concatenating) reductions


def _apply_keep(func: Callable, x: Any, axis: tuple, keepdims: bool, **kwargs) -> Any:
    return _scalar_if_0d(np.asarray(func(x, axis=axis, keepdims=keepdims, **kwargs)))


def _float_sum_terms(a: Array, dtype: Any) -> tuple | None:
    """``(left, right)`` when ``a`` is ``left + right`` of two floating arrays of ``a``'s own shape and dtype.

    A sum or mean then distributes over the addition: ``sum(l + r) == sum(l) + sum(r)``
    up to rounding, and the blocks of ``l + r`` are never formed. That saves a full
    pass of memory per block, and more when one side is a transpose (``x + x.T``),
    whose strided reads make the addition several times slower than the sums.
    Floats only: integer additions may wrap before a sum that would not.
    """
    from .elementwise import Elemwise

    expr = a.expr
    if dtype is not None or type(expr) is not Elemwise or expr.func not in (np.add, operator.add) or expr.kwargs:
        return None
    if len(expr.args) != 2 or not _builtin_all(isinstance(t, ArrayExpr) for t in expr.args):
        return None
    left, right = expr.args
    same = left.shape == right.shape == expr.shape and left.dtype == right.dtype == expr.dtype
    if not same or expr.dtype.kind != "f" or _builtin_any(math.isnan(n) for n in expr.shape):
        return None
    return Array(left), Array(right)


#: what a masked-out element counts as under ``where=``, per reduction (None: NumPy needs ``initial=``)
_IDENTITY = {"sum": 0, "nansum": 0, "prod": 1, "nanprod": 1, "any": False, "all": True}
#: how ``initial=`` joins the result
_WITH_INITIAL = {"sum": np.add, "nansum": np.add, "prod": np.multiply, "nanprod": np.multiply,
                 "min": np.minimum, "nanmin": np.fmin, "max": np.maximum, "nanmax": np.fmax}


def _where_and_initial(reduce: Callable, label: str) -> Callable:
    """``reduce`` taking NumPy's ``where=`` (a mask broadcast against the array) and ``initial=`` keywords."""
    def reduce_with(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
                    split_every: Any = None, initial: Any = None, where: Any = True) -> Array:
        from .creation import asarray
        from .elementwise import where as choose

        if where is True and initial is None:
            return reduce(a, axis, dtype, out, keepdims, split_every)
        if initial is not None and label not in _WITH_INITIAL:
            raise TypeError(f"{label}() got an unexpected keyword argument 'initial'")
        a = asarray(a)
        if where is not True:
            fill = _IDENTITY.get(label, initial)
            if fill is None:
                raise ValueError(f"reduction operation '{label}' does not have an identity, so to use a where mask "
                                 "one has to specify 'initial'")
            a = choose(where, a, np.asarray(fill, dtype=a.dtype))
        result = reduce(a, axis, dtype, out, keepdims, split_every)
        if initial is None:
            return result
        # NumPy casts initial to the result's dtype first (2.5 counts as 2 in an integer product)
        return _WITH_INITIAL[label](result, np.asarray(initial).astype(result.dtype)).astype(result.dtype)

    reduce_with.__name__, reduce_with.__doc__ = reduce.__name__, reduce.__doc__
    return reduce_with


def _simple(numpy_func: Callable, combine_func: Callable, label: str, takes_dtype: bool = True):
    def reduce(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
               split_every: Any = None) -> Array:
        from .creation import asarray

        _check_no_out(out, label)
        a = asarray(a)
        if label == "sum" and (terms := _float_sum_terms(a, dtype)) is not None:
            return reduce(terms[0], axis, None, None, keepdims, split_every) + reduce(
                terms[1], axis, None, None, keepdims, split_every)
        axes = _normalize_axes(axis, a.ndim)
        kwargs = {"dtype": dtype} if (takes_dtype and dtype is not None) else {}
        if dtype is not None and not takes_dtype:
            raise TypeError(f"{label}() got an unexpected keyword argument 'dtype'")
        result_dtype = _result_dtype(numpy_func, a, axes, **kwargs)
        chunk = functools.partial(_apply_keep, numpy_func, **kwargs)
        combine = functools.partial(_apply_keep, combine_func, **_dtype_keyword(result_dtype if takes_dtype else None))
        return _build(a, chunk, combine, combine, axes, keepdims, result_dtype, split_every, True, label)

    reduce.__name__ = label
    reduce.__doc__ = (f"``numpy.{label}`` over ``axis`` (int, tuple or None), lazily, as a tree reduction "
                      "(with NumPy's ``where=`` and ``initial=``).")
    return _where_and_initial(reduce, label)


def _nanmin_ufunc(x, axis=None, keepdims=False, **kw):
    # fmin ignores NaN without the "All-NaN slice" warning nanmin gives for every all-NaN block.
    return np.fmin.reduce(x, axis=axis, keepdims=keepdims) if x.dtype.kind in "fc" else np.min(x, axis=axis, keepdims=keepdims)


def _nanmax_ufunc(x, axis=None, keepdims=False, **kw):
    return np.fmax.reduce(x, axis=axis, keepdims=keepdims) if x.dtype.kind in "fc" else np.max(x, axis=axis, keepdims=keepdims)


sum = _simple(np.sum, np.sum, "sum")
prod = _simple(np.prod, np.prod, "prod")
nansum = _simple(np.nansum, np.sum, "nansum")
nanprod = _simple(np.nanprod, np.prod, "nanprod")
min = _simple(np.min, np.min, "min", takes_dtype=False)
max = _simple(np.max, np.max, "max", takes_dtype=False)
nanmin = _simple(_nanmin_ufunc, _nanmin_ufunc, "nanmin", takes_dtype=False)
nanmax = _simple(_nanmax_ufunc, _nanmax_ufunc, "nanmax", takes_dtype=False)
any = _simple(np.any, np.any, "any", takes_dtype=False)
all = _simple(np.all, np.all, "all", takes_dtype=False)


# --------------------------------------------------------------------- moments: mean, var, std


def _isnan(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind in "fc":
        return np.isnan(a)
    if a.dtype.kind in "mM":
        return np.isnat(a)
    return np.zeros(a.shape, dtype=bool)


def _count(block: np.ndarray, axis: tuple, skipna: bool) -> np.ndarray:
    if skipna:
        return np.sum(~_isnan(block), axis=axis, keepdims=True, dtype=np.int64)
    n = math.prod(block.shape[a] for a in axis)
    shape = tuple(1 if a in axis else s for a, s in enumerate(block.shape))
    return np.full(shape, n, dtype=np.int64)


def _dtype_keyword(dtype: np.dtype | None) -> dict:
    """``{"dtype": dtype}`` for a NumPy reduction; none for datetimes and timedeltas, whose unit NumPy refuses
    to take as a reduction's dtype (it keeps the input's unit anyway)."""
    return {} if dtype is None or np.dtype(dtype).kind in "mM" else {"dtype": dtype}


def _mean_chunk(block: np.ndarray, axis: tuple, keepdims: bool, skipna: bool, work: np.dtype) -> dict:
    summed = np.nansum if skipna else np.sum
    return {"n": _count(block, axis, skipna), "total": summed(block, axis=axis, keepdims=True, **_dtype_keyword(work))}


def _mean_combine(parts: list, axis: tuple, keepdims: bool, **_) -> dict:
    return {"n": np.sum([p["n"] for p in parts], axis=0), "total": np.sum([p["total"] for p in parts], axis=0)}


def _squeeze(a: np.ndarray, axis: tuple, keepdims: bool) -> Any:
    return _scalar_if_0d(a if keepdims else np.squeeze(a, axis=axis))


def _mean_aggregate(parts: list, axis: tuple, keepdims: bool, dtype: np.dtype, **_) -> Any:
    merged = _mean_combine(parts, axis, keepdims)
    with np.errstate(all="ignore"):
        result = np.true_divide(merged["total"], merged["n"]).astype(dtype, copy=False)
    return _squeeze(result, axis, keepdims)


def _work_dtype(result_dtype: np.dtype) -> np.dtype:
    # float16 accumulates in float32, as NumPy does.
    return np.dtype(np.float32) if result_dtype == np.float16 else result_dtype


def _moment_mean(a: Array, axis: Any, dtype: Any, out: Any, keepdims: bool, split_every: Any, skipna: bool,
                 label: str) -> Array:
    from .creation import asarray

    _check_no_out(out, label)
    a = asarray(a)
    if not skipna and (terms := _float_sum_terms(a, dtype)) is not None:
        return (_moment_mean(terms[0], axis, None, None, keepdims, split_every, False, label)
                + _moment_mean(terms[1], axis, None, None, keepdims, split_every, False, label))
    axes = _normalize_axes(axis, a.ndim)
    numpy_func = np.nanmean if skipna else np.mean
    result_dtype = _result_dtype(numpy_func, a, axes, **({"dtype": dtype} if dtype is not None else {}))
    work = _work_dtype(result_dtype)
    chunk = functools.partial(_mean_chunk, skipna=skipna, work=work)
    aggregate = functools.partial(_mean_aggregate, dtype=result_dtype)
    return _build(a, chunk, _mean_combine, aggregate, axes, keepdims, result_dtype, split_every, False, label)


def mean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
         split_every: Any = None) -> Array:
    """``numpy.mean``: totals and counts per block, divided at the end."""
    return _moment_mean(a, axis, dtype, out, keepdims, split_every, False, "mean")


def nanmean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
            split_every: Any = None) -> Array:
    """``numpy.nanmean``: NaNs are left out of totals and counts."""
    return _moment_mean(a, axis, dtype, out, keepdims, split_every, True, "nanmean")


def _square(deviation: np.ndarray) -> np.ndarray:
    return (deviation * np.conjugate(deviation)).real if np.iscomplexobj(deviation) else deviation * deviation


def _var_chunk(block: np.ndarray, axis: tuple, keepdims: bool, skipna: bool, work: np.dtype) -> dict:
    # The mean is kept as hi + lo: hi is the rounded mean and lo what rounding lost, so that
    # merging partials far from zero (1e9 + tiny noise) does not inherit hi's rounding error.
    n = _count(block, axis, skipna)
    summed = np.nansum if skipna else np.sum
    with np.errstate(all="ignore"):
        total = summed(block, axis=axis, keepdims=True, dtype=work)
        hi = np.where(n > 0, total / np.maximum(n, 1), 0).astype(work, copy=False)
        deviation = block - hi
        lo = np.where(n > 0, summed(deviation, axis=axis, keepdims=True) / np.maximum(n, 1), 0).astype(work, copy=False)
        m2 = summed(_square(deviation - lo), axis=axis, keepdims=True)
    return {"n": n, "hi": hi, "lo": lo, "m2": m2}


def _var_combine(parts: list, axis: tuple, keepdims: bool, **_) -> dict:
    # Chan et al.: merge (n, mean, M2) partials without forming sums of squares.
    ns = np.stack([p["n"] for p in parts])
    his = np.stack([p["hi"] for p in parts])
    los = np.stack([p["lo"] for p in parts])
    m2s = np.stack([p["m2"] for p in parts])
    n = ns.sum(axis=0)
    with np.errstate(all="ignore"):
        safe_n = np.maximum(n, 1)
        hi = np.where(n > 0, (ns * his).sum(axis=0) / safe_n, 0).astype(his.dtype, copy=False)
        # offsets of each partial's mean from hi, exact to the precision of lo
        offsets = np.where(ns > 0, (his - hi) + los, 0)
        lo = np.where(n > 0, (ns * offsets).sum(axis=0) / safe_n, 0).astype(his.dtype, copy=False)
        m2 = m2s.sum(axis=0) + (ns * _square(offsets - lo)).sum(axis=0)
    return {"n": n, "hi": hi, "lo": lo, "m2": m2}


def _var_aggregate(parts: list, axis: tuple, keepdims: bool, ddof: int, dtype: np.dtype, root: bool, **_) -> Any:
    merged = _var_combine(parts, axis, keepdims)
    with np.errstate(all="ignore"):
        result = merged["m2"] / np.maximum(merged["n"] - ddof, 0)
        if root:
            result = np.sqrt(result)
    return _squeeze(np.asarray(result).astype(dtype, copy=False), axis, keepdims)


def _moment_var(a, axis, dtype, out, ddof, keepdims, split_every, skipna, root, label) -> Array:
    from .creation import asarray

    _check_no_out(out, label)
    a = asarray(a)
    axes = _normalize_axes(axis, a.ndim)
    numpy_func = {(False, False): np.var, (True, False): np.nanvar, (False, True): np.std,
                  (True, True): np.nanstd}[(skipna, root)]
    result_dtype = _result_dtype(numpy_func, a, axes, **({"dtype": dtype} if dtype is not None else {}))
    mean_dtype = _result_dtype(np.mean, a, axes, **({"dtype": dtype} if dtype is not None else {}))
    work = _work_dtype(mean_dtype)
    chunk = functools.partial(_var_chunk, skipna=skipna, work=work)
    aggregate = functools.partial(_var_aggregate, ddof=ddof, dtype=result_dtype, root=root)
    return _build(a, chunk, _var_combine, aggregate, axes, keepdims, result_dtype, split_every, False, label)


def var(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0, keepdims: bool = False,
        split_every: Any = None) -> Array:
    """``numpy.var``, numerically stable: partials are ``(n, mean, M2)``, merged pairwise."""
    return _moment_var(a, axis, dtype, out, ddof, keepdims, split_every, False, False, "var")


def std(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0, keepdims: bool = False,
        split_every: Any = None) -> Array:
    """``numpy.std``: the square root of ``var``."""
    return _moment_var(a, axis, dtype, out, ddof, keepdims, split_every, False, True, "std")


def nanvar(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0, keepdims: bool = False,
           split_every: Any = None) -> Array:
    return _moment_var(a, axis, dtype, out, ddof, keepdims, split_every, True, False, "nanvar")


def nanstd(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0, keepdims: bool = False,
           split_every: Any = None) -> Array:
    return _moment_var(a, axis, dtype, out, ddof, keepdims, split_every, True, True, "nanstd")


# --------------------------------------------------------------------- argmin / argmax


def _arg_chunk(block: np.ndarray, axis: tuple, keepdims: bool, offsets: tuple, shape: tuple, maximize: bool,
               skipna: bool) -> dict:
    pick = np.argmax if maximize else np.argmin
    if len(axis) == 1:
        ax = axis[0]
        data = block
        if skipna and block.dtype.kind in "fc":
            allnan = np.all(np.isnan(block), axis=ax, keepdims=True)
            data = np.where(allnan, 0, block)
            local = (np.nanargmax if maximize else np.nanargmin)(data, axis=ax, keepdims=True)
        else:
            local = pick(data, axis=ax, keepdims=True)
        value = np.take_along_axis(block, local, axis=ax)
        return {"value": value, "index": (local + offsets[ax]).astype(np.intp)}
    # axis=None: the flat index into the whole array
    flat = block.ravel()
    if skipna and block.dtype.kind in "fc" and flat.size and not np.isnan(flat).all():
        local = (np.nanargmax if maximize else np.nanargmin)(flat)
    else:
        local = pick(flat)
    position = np.unravel_index(local, block.shape)
    index = np.ravel_multi_index(tuple(p + o for p, o in zip(position, offsets)), shape)
    one = (1,) * block.ndim
    return {"value": np.full(one, flat[local], dtype=block.dtype), "index": np.full(one, index, dtype=np.intp)}


def _arg_combine(parts: list, axis: tuple, keepdims: bool, maximize: bool, skipna: bool, **_) -> dict:
    best_v, best_i = parts[0]["value"], parts[0]["index"]
    for p in parts[1:]:
        v, i = p["value"], p["index"]
        v_nan, b_nan = _isnan(v), _isnan(best_v)
        with np.errstate(invalid="ignore"):
            strictly = (v > best_v) if maximize else (v < best_v)
            tie = (v == best_v) & (i < best_i)
        both_real = ~v_nan & ~b_nan & (strictly | tie)
        both_nan = v_nan & b_nan & (i < best_i)
        if skipna:
            better = (~v_nan & b_nan) | both_nan | both_real
        else:
            better = (v_nan & ~b_nan) | both_nan | both_real
        best_v = np.where(better, v, best_v)
        best_i = np.where(better, i, best_i)
    return {"value": best_v, "index": best_i}


def _arg_aggregate(parts: list, axis: tuple, keepdims: bool, maximize: bool, skipna: bool, **_) -> Any:
    merged = _arg_combine(parts, axis, keepdims, maximize, skipna)
    if skipna and np.any(_isnan(merged["value"])):
        raise ValueError("All-NaN slice encountered")
    return _squeeze(merged["index"], axis, keepdims)


def _arg(a: Any, axis: Any, out: Any, keepdims: bool, split_every: Any, maximize: bool, skipna: bool,
         label: str) -> Array:
    from .creation import asarray

    _check_no_out(out, label)
    a = asarray(a)
    if axis is not None and not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{label}: axis must be an int or None (as in NumPy), got {axis!r}")
    if a.size == 0:
        raise ValueError(f"attempt to get {label} of an empty sequence")
    axes = _normalize_axes(axis, a.ndim)
    if _builtin_any(math.isnan(n) for ax in (axes if axis is not None else range(a.ndim)) for n in a.chunks[ax]):
        # positions count from each block's offset along the axis (and, for axis=None, from the whole shape)
        raise ValueError(f"{label} along an axis of unknown length (nan chunks) cannot give positions; "
                         "call compute_chunk_sizes() first")
    options = {"maximize": maximize, "skipna": skipna}
    chunk = functools.partial(_arg_chunk, **options)
    combine = functools.partial(_arg_combine, **options)
    aggregate = functools.partial(_arg_aggregate, **options)
    return _build(a, chunk, combine, aggregate, axes, keepdims, np.intp, split_every, False, label,
                  wants_position=True)


def argmin(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, split_every: Any = None) -> Array:
    """``numpy.argmin``: index of the first minimum (flat index when ``axis`` is None)."""
    return _arg(a, axis, out, keepdims, split_every, False, False, "argmin")


def argmax(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, split_every: Any = None) -> Array:
    return _arg(a, axis, out, keepdims, split_every, True, False, "argmax")


def nanargmin(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, split_every: Any = None) -> Array:
    return _arg(a, axis, out, keepdims, split_every, False, True, "nanargmin")


def nanargmax(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, split_every: Any = None) -> Array:
    return _arg(a, axis, out, keepdims, split_every, True, True, "nanargmax")
