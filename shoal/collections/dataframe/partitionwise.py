"""``map_partitions``: a user function on matching partitions of one or more collections.

The output's meta is inferred by running the function on a small fake
partition (or given as ``meta=``); a function returning one value per
partition gives a Series of those values, as in Dask.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np
import pandas as pd

from .blockwise import MapPartitions
from .expr import FrameExpr, MetaInferenceError, is_scalar_expr
from .meta import is_frame_like, make_meta

__all__ = ["map_partitions"]


def map_partitions(func: Callable, *args, meta: Any = None, enforce_metadata: bool = True,
                   clear_divisions: bool = False, **kwargs):
    """``func`` on matching partitions of the collections in ``args`` (others passed as they are)."""
    from .core import _unwrap, new_collection  # core imports this module

    exprs = [_unwrap(a) for a in args]
    frames = [e for e in exprs if isinstance(e, FrameExpr) and not is_scalar_expr(e)]
    if not frames:
        raise TypeError("map_partitions needs at least one shoal DataFrame, Series or Index argument")
    for other in frames[1:]:
        if not frames[0].partitioning.aligns_with(other.partitioning):
            raise ValueError(
                f"map_partitions({getattr(func, '__name__', func)}): the collections are partitioned differently; "
                "repartition one to the other's divisions first."
            )
    if meta is not None:
        meta = make_meta(meta)
    first = exprs.index(frames[0])
    if first != 0:
        raise TypeError("map_partitions: the first argument after func must be the collection to map over")
    try:
        expr = MapPartitions(exprs[0], func, tuple(exprs[1:]), kwargs or None, meta, enforce_metadata,
                             clear_divisions)
        expr._meta  # noqa: B018 - infer now, so a failing function fails here with advice
    except Exception as error:
        if meta is not None:
            raise
        cause = error.__cause__ if isinstance(error, MetaInferenceError) else error
        raise ValueError(
            f"map_partitions could not infer the output of {getattr(func, '__name__', func)!r} by running it on "
            f"a small fake partition ({type(cause).__name__}: {cause}). Pass meta= describing the output: an "
            "empty pandas object, a {column: dtype} dict, or a (name, dtype) tuple."
        ) from error
    if not is_frame_like(expr._meta):
        # a scalar per partition (``len``, a sum): a Series holding one value per partition, as in Dask
        dtype = np.asarray(expr._meta).dtype
        expr = MapPartitions(exprs[0], functools.partial(_one_value_series, func), tuple(exprs[1:]), kwargs or None,
                             pd.Series([], dtype=dtype), enforce_metadata, True)
    return new_collection(expr)


def _one_value_series(func: Callable, *args, **kwargs) -> pd.Series:
    return pd.Series([func(*args, **kwargs)])
