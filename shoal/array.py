"""Blocked NumPy arrays that compute in parallel: ``import shoal.array as sa``.

>>> import shoal.array as sa
>>> x = sa.ones((1000, 1000), chunks=250)
>>> float((x + 1).mean().compute())
2.0
"""

from .collections.array import linalg, random
from .collections.array.blockwise import blockwise, map_blocks
from .collections.array.chunks import normalize_chunks
from .collections.array.core import Array
from .collections.array.creation import (arange, array, asarray, empty, empty_like, eye, from_array, from_delayed,
                                         fromfunction, full, full_like, linspace, ones, ones_like, store, zeros,
                                         zeros_like)
from .collections.array.elementwise import UFUNCS as _UFUNCS
from .collections.array.elementwise import astype, clip, elemwise, isclose, isnan, round_, where
from .collections.array.npy_stack import from_npy_stack, to_npy_stack
from .collections.array.overlap import map_overlap
from .collections.array.percentile import median, nanmedian, nanpercentile, nanquantile, percentile, quantile
from .collections.array.rechunk import rechunk
from .collections.array.nonzero import argwhere, flatnonzero, nonzero
from .collections.array.routines import (allclose, angle, array_equal, atleast_1d, atleast_2d, atleast_3d, average,
                                         broadcast_to, count_nonzero, diag, diagonal, diff, digitize, fliplr, flipud,
                                         imag, inner, isin, nan_to_num, outer, ptp, real, trace, tril, triu, vdot)
from .collections.array.stacking import block, hstack, pad, repeat, roll, tile, vstack
from .collections.array.summaries import argtopk, bincount, histogram, topk, unique
from .collections.array.take import take
from .collections.array.zarr_io import from_zarr, to_zarr
from .collections.array.reductions import (all, any, argmax, argmin, max, mean, min, nanargmax, nanargmin, nanmax,
                                           nanmean, nanmin, nanprod, nanstd, nansum, nanvar, prod, reduction, std,
                                           sum, var)
from .collections.array.cumulative import cumprod, cumsum, nancumprod, nancumsum
from .collections.array.linalg import dot, einsum, matmul, tensordot
from .collections.array.shape import (concatenate, expand_dims, flip, moveaxis, ravel, reshape, squeeze, stack,
                                      swapaxes, transpose)

round = round_
globals().update({name: f for name, f in _UFUNCS.items() if name not in globals()})
isnan = isnan  # the explicit wrapper wins over the generated ufunc wrapper

__all__ = [
    "Array", "random", "linalg", "blockwise", "map_blocks", "normalize_chunks", "arange", "array", "asarray", "empty",
    "empty_like", "eye", "from_array", "from_delayed", "fromfunction", "full", "full_like", "linspace", "ones",
    "ones_like", "store", "zeros", "zeros_like", "astype", "clip", "elemwise", "isclose", "isnan", "round",
    "where", "rechunk", "all", "any", "argmax", "argmin", "max", "mean", "min", "nanargmax", "nanargmin", "nanmax",
    "nanmean", "nanmin", "nanprod", "nanstd", "nansum", "nanvar", "prod", "reduction", "std", "sum", "var",
    "transpose", "concatenate", "stack", "swapaxes", "moveaxis", "squeeze", "expand_dims", "flip", "dot",
    "matmul", "percentile", "quantile", "median", "nanpercentile", "nanquantile", "nanmedian", "tensordot", "einsum", "hstack", "vstack", "block", "roll", "repeat", "tile", "pad", "map_overlap", "unique", "bincount", "histogram", "topk", "to_npy_stack", "from_npy_stack", "to_zarr", "from_zarr", "take", "reshape", "ravel", "cumsum", "cumprod", "nancumsum", "nancumprod", "argwhere", "flatnonzero", "nonzero", "allclose", "angle", "array_equal", "atleast_1d", "atleast_2d", "atleast_3d", "average", "broadcast_to", "count_nonzero", "diff", "fliplr", "flipud", "imag", "inner", "nan_to_num", "outer", "ptp", "real", "vdot", "diag", "diagonal", "digitize", "isin", "trace", "tril", "triu", "argtopk", *sorted(_UFUNCS),
]
