"""``Array.__array_function__``: NumPy functions called on shoal Arrays stay lazy.

``np.sum(x)`` and friends dispatch here and return shoal Arrays; a NumPy
function shoal does not implement raises a TypeError that says what to do
instead of silently computing the whole array.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

__all__ = ["array_function", "HANDLED_FUNCTIONS"]


def _handled() -> dict[Callable, Callable]:
    from . import (creation, cumulative, elementwise, linalg, nonzero, percentile, reductions, routines, shape,
                   stacking, summaries)

    table: dict[Callable, Callable] = {}
    for name in reductions.__all__:
        if name not in ("Reduction", "reduction") and hasattr(np, name):
            table[getattr(np, name)] = getattr(reductions, name)
    table[np.amin] = reductions.min
    table[np.amax] = reductions.max
    table.update({
        np.where: elementwise.where, np.clip: elementwise.clip, np.round: elementwise.round_,
        np.around: elementwise.round_, np.isclose: elementwise.isclose, np.transpose: shape.transpose,
        np.concatenate: shape.concatenate, np.stack: shape.stack, np.swapaxes: shape.swapaxes,
        np.moveaxis: shape.moveaxis, np.squeeze: shape.squeeze, np.expand_dims: shape.expand_dims,
        np.percentile: percentile.percentile, np.quantile: percentile.quantile, np.median: percentile.median,
        np.nanpercentile: percentile.nanpercentile, np.nanquantile: percentile.nanquantile,
        np.nanmedian: percentile.nanmedian, np.unique: summaries.unique, np.bincount: summaries.bincount, np.histogram: summaries.histogram,
        np.hstack: stacking.hstack, np.vstack: stacking.vstack, np.block: stacking.block, np.roll: stacking.roll,
        np.repeat: stacking.repeat, np.tile: stacking.tile, np.pad: stacking.pad,
        np.flip: shape.flip, np.take: _take, np.reshape: _reshape, np.ravel: shape.ravel, np.matmul: linalg.matmul, np.dot: linalg.dot, np.linalg.norm: linalg.norm,
        np.tensordot: linalg.tensordot, np.einsum: linalg.einsum, np.linalg.qr: _qr, np.linalg.svd: _svd,
        np.linalg.solve: linalg.solve, np.linalg.inv: linalg.inv, np.linalg.lstsq: _lstsq, np.cumsum: cumulative.cumsum,
        np.cumprod: cumulative.cumprod, np.nancumsum: cumulative.nancumsum, np.nancumprod: cumulative.nancumprod,
        np.ones_like: creation.ones_like, np.zeros_like: creation.zeros_like,
        np.empty_like: creation.empty_like, np.full_like: creation.full_like,
        np.real: _real, np.imag: _imag, np.iscomplexobj: _iscomplexobj, np.ndim: lambda a: a.ndim,
        np.shape: lambda a: a.shape, np.size: _size, np.result_type: _result_type,
        np.nonzero: nonzero.nonzero, np.argwhere: nonzero.argwhere, np.flatnonzero: nonzero.flatnonzero,
    })
    table.update({getattr(np, name): getattr(routines, name) for name in routines.__all__
                  if name not in ("real", "imag")})
    return table


def _take(a, indices, axis=None, out=None, mode="raise"):
    from .shape import ravel
    from .take import take

    if out is not None or mode != "raise":
        raise NotImplementedError("take(out=..., mode=...) is not implemented for shoal Arrays")
    from .core import Array
    from .take import take_lazy

    if isinstance(indices, Array):  # values known only when computed: never pulled in here
        return take_lazy(ravel(a), indices, 0) if axis is None else take_lazy(a, indices, axis % a.ndim)
    if np.ndim(indices) == 0:
        return (ravel(a) if axis is None else a)[(slice(None),) * (axis or 0) + (int(indices),)]
    return take(ravel(a), indices, 0) if axis is None else take(a, indices, axis)


def _lstsq(a, b, rcond=None):
    from .linalg import lstsq

    if rcond is not None:
        raise NotImplementedError("lstsq(rcond=...) is not implemented for shoal Arrays (solved through QR); "
                                  "leave rcond=None")
    return lstsq(a, b)


def _qr(a, mode="reduced"):
    from .linalg import qr

    if mode != "reduced":
        raise NotImplementedError("qr(mode=...) other than 'reduced' is not implemented for shoal Arrays")
    return qr(a)


def _svd(a, full_matrices=True, compute_uv=True, **kwargs):
    from .linalg import svd

    if full_matrices:
        raise NotImplementedError("svd of shoal Arrays gives the reduced factors only: pass full_matrices=False")
    u, s, v = svd(a)
    return (u, s, v) if compute_uv else s


def _reshape(a, shape=None, order="C", **kwargs):
    from .shape import reshape

    shape = kwargs.pop("newshape", shape)
    if order != "C":
        raise NotImplementedError("reshape(order='F') is not implemented for shoal Arrays; only C order")
    return reshape(a, shape)


def _real(a):
    from .elementwise import elemwise

    return elemwise(np.real, a)


def _imag(a):
    from .elementwise import elemwise

    return elemwise(np.imag, a)


def _iscomplexobj(a) -> bool:
    return np.issubdtype(a.dtype, np.complexfloating)


def _size(a, axis=None):
    return a.size if axis is None else a.shape[axis]


def _result_type(*arrays_and_dtypes):
    return np.result_type(*(getattr(a, "dtype", a) for a in arrays_and_dtypes))


HANDLED_FUNCTIONS: dict[Callable, Callable] = {}


def array_function(func: Callable, types: tuple, args: tuple, kwargs: dict) -> Any:
    if not HANDLED_FUNCTIONS:
        HANDLED_FUNCTIONS.update(_handled())
    implementation = HANDLED_FUNCTIONS.get(func)
    if implementation is None:
        name = getattr(func, "__name__", repr(func))
        full = f"{getattr(func, '__module__', None) or 'numpy'}.{name}"
        raise TypeError(
            f"{full} is not implemented for shoal Arrays yet, and shoal will not compute the whole "
            f"array behind your back. Call .compute() first to get a NumPy array ({full}(x.compute())), "
            f"or apply it block by block with x.map_blocks({full}) if it works per block."
        )
    return implementation(*args, **kwargs)
