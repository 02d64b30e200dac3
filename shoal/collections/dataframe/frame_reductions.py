"""Reductions and statistics every partitioned collection offers (a mixin of ``core._Frame``).

Each method builds a ``TreeReduce`` (see ``reductions.py``); the result's
meta comes from running the pandas method on the fake partition, so an
operation pandas would reject (the mean of strings) fails when it is built.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .meta import is_frame_like, make_meta, meta_nonempty
from .reductions import REDUCTIONS, TreeReduce, min_count_reduction, user_reduction_functions

__all__ = ["ReductionMethods"]


class ReductionMethods:
    """sum, mean, std, quantile, describe, ...: tree reductions over the partitions."""

    def _reduce_with(self, label, chunk, combine, aggregate, kwargs=None, split_every=None, meta=None):
        from .core import new_collection

        return new_collection(TreeReduce(self._expr, chunk, combine, aggregate, kwargs, split_every, meta, label))

    def _reduction(self, name: str, split_every=None, **kwargs):
        if kwargs.get("axis") in (1, "columns"):
            return self._row_wise(name, **kwargs)
        kwargs.pop("axis", None)  # axis=0 / "index": the tree reduction below
        spec = REDUCTIONS[name]
        # pandas on the fake partition says what the result looks like (and rejects, now, what it would reject)
        result = getattr(meta_nonempty(self._meta), name)(**kwargs)
        meta = make_meta(result) if is_frame_like(result) else result
        return self._reduce_with(name, spec.chunk, spec.combine, spec.aggregate, kwargs or None, split_every, meta)

    def reduction(self, chunk, aggregate=None, combine=None, meta=None, split_every=None,
                  chunk_kwargs=None, aggregate_kwargs=None, combine_kwargs=None):
        """A user-defined tree reduction.

        ``chunk(partition)`` runs on every partition; ``combine`` and
        ``aggregate`` run on the concatenation (``pd.concat``, or a Series of
        scalars) of up to ``split_every`` earlier results; ``aggregate`` gives
        the final value. ``combine`` defaults to ``aggregate``, which
        defaults to ``chunk``.
        """
        funcs = user_reduction_functions(chunk, aggregate, combine, chunk_kwargs, aggregate_kwargs, combine_kwargs)
        return self._reduce_with("reduction", *funcs, split_every=split_every,
                                 meta=make_meta(meta) if meta is not None else None)

    def _row_wise(self, name: str, **kwargs):
        """``axis=1``: one value per row, so each partition is reduced on its own (no tree)."""
        if not isinstance(self._meta, pd.DataFrame):
            raise ValueError(f"{name}(axis=1): a {type(self).__name__} has no columns to reduce across; use axis=0")
        return self._method(name, **kwargs)

    def sum(self, skipna=True, split_every=None, min_count=0, **kwargs):
        if kwargs.get("axis") in (1, "columns"):
            return self._row_wise("sum", skipna=skipna, min_count=min_count, **kwargs)
        if min_count:
            return self._min_count_reduction("sum", min_count, split_every, skipna=skipna, **kwargs)
        return self._reduction("sum", split_every, skipna=skipna, **kwargs)

    def prod(self, skipna=True, split_every=None, min_count=0, **kwargs):
        if kwargs.get("axis") in (1, "columns"):
            return self._row_wise("prod", skipna=skipna, min_count=min_count, **kwargs)
        if min_count:
            return self._min_count_reduction("prod", min_count, split_every, skipna=skipna, **kwargs)
        return self._reduction("prod", split_every, skipna=skipna, **kwargs)

    def _min_count_reduction(self, name: str, min_count: int, split_every, **kwargs):
        """``sum``/``prod`` that are NaN unless the whole data holds ``min_count`` values (pandas' ``min_count``)."""
        # the meta is pandas' dtype when enough values are present; a NaN result keeps pandas' float
        plain = self._reduction(name, split_every, **kwargs)
        kwargs.pop("axis", None)
        spec = min_count_reduction(name)
        return self._reduce_with(name, spec.chunk, spec.combine, spec.aggregate, {**kwargs, "min_count": min_count},
                                 split_every, plain._meta)

    product = prod

    def min(self, skipna=True, split_every=None, **kwargs):
        return self._reduction("min", split_every, skipna=skipna, **kwargs)

    def max(self, skipna=True, split_every=None, **kwargs):
        return self._reduction("max", split_every, skipna=skipna, **kwargs)

    def count(self, split_every=None, **kwargs):
        return self._reduction("count", split_every, **kwargs)

    def mean(self, skipna=True, split_every=None, **kwargs):
        meta = self._meta
        if isinstance(meta, pd.Series) and pd.api.types.is_datetime64_any_dtype(meta.dtype) and not kwargs:
            return self._datetime_mean(skipna, split_every)
        return self._reduction("mean", split_every, skipna=skipna, **kwargs)

    def _offsets_from_earliest(self, split_every):
        """``(earliest value, offsets of every value from it as floats, their unit)`` of timestamps or timedeltas.

        Times cannot be summed, and as int64 timedeltas long spans would overflow; floats in the data's unit
        are what pandas reduces too.
        """
        start = self.min(split_every=split_every)
        offsets = self.map_partitions(_units_after, start, meta=(self._meta.name, "float64"))
        return start, offsets, meta_nonempty(self._meta).dt.unit

    def _datetime_mean(self, skipna, split_every):
        from .core import elemwise

        start, offsets, unit = self._offsets_from_earliest(split_every)
        return elemwise(_timestamp_at_offset, start, offsets.mean(skipna=skipna, split_every=split_every), unit)

    def var(self, ddof=1, skipna=True, split_every=None, **kwargs):
        return self._reduction("var", split_every, skipna=skipna, ddof=ddof, **kwargs)

    def std(self, ddof=1, skipna=True, split_every=None, **kwargs):
        meta = self._meta
        if isinstance(meta, pd.Series) and not kwargs and (
                pd.api.types.is_datetime64_any_dtype(meta.dtype) or pd.api.types.is_timedelta64_dtype(meta.dtype)):
            # a spread of times is a timedelta: the std of the offsets from the earliest value
            from .core import elemwise

            _, offsets, unit = self._offsets_from_earliest(split_every)
            return elemwise(_timedelta_of, offsets.std(ddof=ddof, skipna=skipna, split_every=split_every), unit)
        return self._reduction("std", split_every, skipna=skipna, ddof=ddof, **kwargs)

    def quantile(self, q=0.5, split_every=None):
        """Approximate quantile(s) of numeric data; see ``quantiles.py`` for the error bound (0.1% of the rows)."""
        from .quantiles import quantile_aggregate, quantile_chunk, quantile_combine

        meta = self._meta
        if isinstance(meta, pd.Series) and pd.api.types.is_datetime64_any_dtype(meta.dtype):
            return self._datetime_quantile(q, split_every)
        frame = self._numeric_only("quantile")
        fake = meta_nonempty(frame._meta)
        result = fake.quantile(list(q) if isinstance(q, (list, tuple)) else q)
        meta = make_meta(result) if is_frame_like(result) else result
        kwargs = {"q": list(q) if isinstance(q, (list, tuple)) else q}
        return frame._reduce_with("quantile", quantile_chunk, quantile_combine, quantile_aggregate, kwargs,
                                  split_every, meta)

    def _datetime_quantile(self, q, split_every):
        """Quantiles of timestamps: those of their offsets from the earliest one, added back to it."""
        from .core import elemwise

        start, offsets, unit = self._offsets_from_earliest(split_every)
        return elemwise(_timestamps_at_offsets, start, offsets.quantile(q, split_every=split_every), unit)

    def _numeric_only(self, what: str):
        meta = self._meta
        if isinstance(meta, pd.DataFrame):
            numeric = list(meta.select_dtypes(include=["number", "bool"]).columns)
            return self[numeric] if numeric != list(meta.columns) else self
        if not (pd.api.types.is_numeric_dtype(meta.dtype) or pd.api.types.is_bool_dtype(meta.dtype)):
            raise TypeError(f"{what} needs numeric data; this Series has dtype {meta.dtype}")
        return self

    def describe(self, percentiles=None, include=None, exclude=None, split_every=None):
        """pandas' summary table: count, mean, std, min, percentiles (approximate, see ``quantile``; quartiles by
        default) and max of numbers; count, unique, top and freq of other columns (``include="all"`` or a
        ``select_dtypes`` selection picks them, as in pandas); see ``describe.py``."""
        from .describe import describe

        return describe(self, percentiles=percentiles, include=include, exclude=exclude, split_every=split_every)

    def _numeric_describe(self, percentiles=None, split_every=None):
        """``describe`` of numeric (not boolean) data only."""
        import functools

        from .quantiles import Gather, assemble_describe

        frame = self._describable()
        fake = meta_nonempty(frame._meta).describe(percentiles=percentiles)
        quantiles = sorted({0.25, 0.5, 0.75} if percentiles is None else {float(q) for q in percentiles})
        if len(fake.index) - 5 > len(quantiles):  # pandas added the median to the percentiles asked for
            quantiles = sorted(set(quantiles) | {0.5})
        parts = [frame.count(split_every=split_every), frame.mean(split_every=split_every),
                 frame.std(split_every=split_every), frame.min(split_every=split_every),
                 frame.quantile(quantiles, split_every=split_every), frame.max(split_every=split_every)]
        from .core import new_collection

        assemble = functools.partial(assemble_describe, rows=list(fake.index), name=getattr(fake, "name", None),
                                     dtypes=fake.dtypes if isinstance(fake, pd.DataFrame) else fake.dtype)
        return new_collection(Gather(tuple(p._expr for p in parts), assemble, make_meta(fake)))

    def _describable(self):
        """The numeric, non-boolean columns ``describe`` summarizes; a clear error for what it cannot."""
        meta = self._meta
        if isinstance(meta, pd.DataFrame):
            numeric = [c for c, t in meta.dtypes.items()
                       if pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)]
            if not numeric:
                raise NotImplementedError(
                    f"describe: only numeric columns are summarized and this frame has none ({dict(meta.dtypes)}); "
                    "for other columns use count(), nunique() and value_counts()"
                )
            return self[numeric] if numeric != list(meta.columns) else self
        if pd.api.types.is_bool_dtype(meta.dtype) or not pd.api.types.is_numeric_dtype(meta.dtype):
            raise NotImplementedError(
                f"describe: only numeric data is summarized; this Series has dtype {meta.dtype}. Use count(), "
                "nunique() and value_counts() instead"
            )
        return self

    def memory_usage(self, index: bool = True, deep: bool = False, split_every=None):
        """Bytes used, summed over partitions (a per-partition index such as a RangeIndex counts once per partition)."""
        return self._reduce_with("memory-usage", _memory_usage, _sum_stacked, _sum_stacked,
                                 {"index": index, "deep": deep}, split_every,
                                 make_meta(self._meta.memory_usage(index=index, deep=deep))
                                 if isinstance(self._meta, pd.DataFrame) else np.int64(0))

    def sem(self, ddof=1, skipna=True, split_every=None, **kwargs):
        return self._reduction("sem", split_every, skipna=skipna, ddof=ddof, **kwargs)

    def any(self, skipna=True, split_every=None, axis=0):
        return self._reduction("any", split_every, skipna=skipna, **_row_axis(axis))

    def all(self, skipna=True, split_every=None, axis=0):
        return self._reduction("all", split_every, skipna=skipna, **_row_axis(axis))

    def nunique(self, dropna=True, split_every=None, axis=0):
        return self._reduction("nunique", split_every, dropna=dropna, **_row_axis(axis))

    def idxmin(self, skipna=True, split_every=None, axis=0):
        return self._reduction("idxmin", split_every, skipna=skipna, **_row_axis(axis))

    def idxmax(self, skipna=True, split_every=None, axis=0):
        return self._reduction("idxmax", split_every, skipna=skipna, **_row_axis(axis))


def _row_axis(axis) -> dict:
    """``{"axis": 1}`` for a row-wise reduction, else nothing (the reductions' own kwargs stay as they were)."""
    if axis not in (0, 1, "index", "columns", None):
        raise ValueError(f"axis must be 0/'index' or 1/'columns', got {axis!r}")
    return {"axis": 1} if axis in (1, "columns") else {}


def _units_after(part: pd.Series, start) -> pd.Series:
    """How many of the data's units each timestamp lies after ``start``, as floats (NaN for NaT)."""
    values = part.array.asi8
    missing = part.isna().to_numpy()
    first = pd.Series([start], dtype=part.dtype).array.asi8[0] if not pd.isna(start) else 0
    span = int(values[~missing].max()) - int(first) if (~missing).any() else 0
    # exact in int64 when the span fits; past ~292 years in ns it cannot, and floats are what pandas uses
    offsets = (values - first).astype("float64") if span < 2**62 else values.astype("float64") - float(first)
    offsets[missing] = np.nan
    return pd.Series(offsets, index=part.index, name=part.name)


def _timestamps_at_offsets(start, offsets, unit):
    if isinstance(offsets, pd.Series):  # several quantiles: a Series of timestamps indexed by q
        return pd.Series([_timestamp_at_offset(start, o, unit) for o in offsets], index=offsets.index,
                         name=offsets.name, dtype=pd.Series([start]).dtype)
    return _timestamp_at_offset(start, offsets, unit)


def _timedelta_of(value, unit):
    return pd.NaT if pd.isna(value) else pd.Timedelta(int(value), unit)  # truncated, as pandas casts


def _timestamp_at_offset(start, offset, unit):
    if pd.isna(start) or pd.isna(offset):
        return pd.NaT
    whole = math.floor(offset)
    result = start + pd.Timedelta(whole, unit)
    # pandas truncates its float mean toward zero: before the epoch, a fractional unit rounds up
    if offset > whole and result.value < 0:
        result += pd.Timedelta(1, unit)
    return result


def _memory_usage(part, index=True, deep=False):
    if isinstance(part, pd.DataFrame):
        return part.memory_usage(index=index, deep=deep)
    return np.int64(part.memory_usage(index=index, deep=deep))


def _sum_stacked(partials, **kwargs):
    if isinstance(partials[0], pd.Series):
        return pd.DataFrame(partials).sum()
    return sum(partials)
