"""Between dataframes and arrays: ``from_array`` and ``to_shoal_array``.

A shoal Array becomes one partition per block of rows (its blocks along
axis 1 are joined first), with a RangeIndex continuing across partitions, so
the divisions are known. Back, each partition's ``to_numpy()`` becomes one
block; the row counts of the partitions must be computed first
(``lengths=True``) because an array's chunks are sizes, not estimates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .pandas import from_delayed, from_pandas

__all__ = ["from_array", "to_shoal_array"]


def _block_to_frame(block, start, columns):
    index = pd.RangeIndex(start, start + len(block))
    if block.ndim == 1:
        return pd.Series(block, index=index, name=columns)
    return pd.DataFrame(block, index=index, columns=columns)


def from_array(x, chunksize: int = 50_000, columns=None):
    """A DataFrame (2-D input) or Series (1-D) over a NumPy array or a shoal Array.

    A shoal Array keeps its row blocks as partitions; a NumPy array is cut
    every ``chunksize`` rows. ``columns`` names the columns (the Series name
    for 1-D input).
    """
    from ...array.core import Array

    if isinstance(x, np.ndarray):
        if x.ndim == 1:
            return from_pandas(pd.Series(x, name=columns), chunksize=chunksize)
        if x.ndim == 2:
            return from_pandas(pd.DataFrame(x, columns=columns), chunksize=chunksize)
        raise ValueError(f"from_array: only 1-D and 2-D arrays make a Series or DataFrame, got {x.ndim}-D")
    if not isinstance(x, Array):
        raise TypeError(f"from_array expects a NumPy array or a shoal Array, got {type(x).__name__}")
    if x.ndim not in (1, 2):
        raise ValueError(f"from_array: only 1-D and 2-D arrays make a Series or DataFrame, got {x.ndim}-D")
    if any(np.isnan(c) for c in x.chunks[0]):
        raise ValueError("from_array: the array's row chunks are unknown; compute its chunk sizes first")
    if x.ndim == 2 and len(x.chunks[1]) > 1:
        x = x.rechunk((x.chunks[0], (x.shape[1],)))
    if x.ndim == 2 and columns is None:
        columns = list(range(x.shape[1]))
    if x.ndim == 2 and len(columns) != x.shape[1]:
        raise ValueError(f"from_array: {len(columns)} column names for an array of {x.shape[1]} columns")
    from ...delayed import delayed

    blocks = x.to_delayed()
    blocks = list(blocks[:, 0]) if x.ndim == 2 else list(blocks)
    starts = np.concatenate([[0], np.cumsum(x.chunks[0])]).astype(int)
    parts = [delayed(_block_to_frame, pure=True)(block, int(start), columns) for block, start in zip(blocks, starts)]
    fake = np.zeros((0,) + x.shape[1:], dtype=x.dtype)
    meta = _block_to_frame(fake, 0, columns)
    divisions = tuple(int(s) for s in starts[:-1]) + (int(starts[-1]) - 1,)
    if starts[-1] == 0:
        divisions = (None,) * (len(parts) + 1)
    return from_delayed(parts, meta=meta, divisions=divisions)


def _to_numpy(part, dtype):
    """One block: the partition's values as ``dtype`` (see ``_values_dtype``), missing values as NaN in floats."""
    if part.ndim == 1 and isinstance(part.dtype, pd.DatetimeTZDtype):
        # UTC wall times, as pandas' .values gave (tz_convert(None) is its own advice now .values is deprecated)
        naive = part.dt.tz_convert(None) if isinstance(part, pd.Series) else part.tz_convert(None)
        return naive.to_numpy(dtype=dtype)
    if dtype.kind == "f":
        return part.to_numpy(dtype=dtype, na_value=np.nan)
    return part.to_numpy(dtype=dtype)


def _values_dtype(meta):
    """The NumPy dtype of every block of ``.values``: a timezone-aware column gives UTC datetime64; a nullable
    column (Int64, Float64, boolean) may hold missing values in any partition, so it gives float64 (NaN) or
    object (booleans) whatever one partition holds, as pandas does for data with missing values."""
    from ..meta import meta_nonempty

    if meta.ndim == 1 and isinstance(meta.dtype, pd.DatetimeTZDtype):
        return np.dtype(f"datetime64[{meta.dtype.unit}]")
    dtypes = meta.dtypes if meta.ndim == 2 else [meta.dtype]
    for dtype in dtypes:
        if isinstance(dtype, pd.api.extensions.ExtensionDtype) and dtype.na_value is pd.NA and dtype.kind in "iufb":
            if meta.ndim == 2:
                return np.dtype(object)  # a frame's values of a nullable column hold pd.NA
            return np.dtype("float64") if dtype.kind in "iuf" else np.dtype(object)
    return meta_nonempty(meta).to_numpy().dtype


def to_shoal_array(frame, lengths: bool = True):
    """The values of ``frame`` as a shoal Array with one block per partition (``lengths=True`` computes row counts)."""
    import shoal.array as sa

    from ...delayed import delayed

    if not lengths:
        raise NotImplementedError(
            "to_shoal_array(lengths=False): shoal arrays need known chunk sizes; use lengths=True, which computes "
            "the number of rows of every partition first"
        )
    from ....base import compute

    parts = frame.to_delayed()
    counts = [int(c) for c in compute(*[delayed(len, pure=True)(part) for part in parts])]

    dtype = _values_dtype(frame._meta)
    ncols = () if frame._meta.ndim == 1 else (frame._meta.shape[1],)
    blocks = [sa.from_delayed(delayed(_to_numpy, pure=True)(part, dtype), (n, *ncols), dtype=dtype)
              for part, n in zip(parts, counts)]
    return sa.concatenate(blocks, axis=0) if len(blocks) > 1 else blocks[0]
