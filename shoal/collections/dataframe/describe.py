"""``describe``: pandas' summary table, from tree reductions of every column.

pandas summarizes each column by its kind and stacks the summaries:

- numbers (not booleans): count, mean, std, min, percentiles, max; these
  come from the frame's own reductions (``quantile`` is approximate beyond
  1,000 values per partition, see ``quantiles.py``);
- timestamps: count, mean, min, percentiles, max;
- anything else (strings, objects, categoricals, booleans): count, unique,
  top (the most frequent value; on a tie the one seen first, as pandas'
  stable ``value_counts``) and freq (its count), from ``value_counts``.

Which columns: by default the numeric (and tz-naive datetime) ones, or every
column when there are none; ``include="all"`` every column; otherwise
``select_dtypes(include=, exclude=)``, as pandas. The row labels, their
order and the dtypes are read from pandas' own ``describe`` of the fake
partition, so the layout is pandas'.

>>> import pandas as pd, shoal.dataframe as dd
>>> pdf = pd.DataFrame({"x": [1.0, 2.0, 4.0], "s": ["a", "b", "b"]})
>>> dd.from_pandas(pdf, npartitions=2).describe(include="all").compute(scheduler="sync").loc["top", "s"]
'b'
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from .meta import make_meta, meta_nonempty

__all__ = ["describe"]


def _kind(dtype) -> str:
    """Which of pandas' summaries a column of ``dtype`` gets: 'numeric', 'timestamp' or 'categorical'."""
    if pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if dtype.kind == "M" or isinstance(dtype, pd.DatetimeTZDtype):
        return "timestamp"
    if dtype.kind == "m":
        return "timedelta"
    return "categorical"


def _selected(meta: pd.DataFrame, include, exclude) -> list:
    """The columns pandas' ``describe`` summarizes for these ``include``/``exclude`` arguments."""
    if include is None and exclude is None:
        chosen = list(meta.select_dtypes(include=[np.number, "datetime"]).columns)
        return chosen or list(meta.columns)
    if isinstance(include, str) and include == "all":
        if exclude is not None:
            raise ValueError("exclude must be None when include is 'all'")
        return list(meta.columns)
    return list(meta.select_dtypes(include=include, exclude=exclude).columns)


def _categorical_summary(count, counts: pd.Series, name) -> pd.Series:
    """count, unique, top, freq of one column, as pandas' ``describe`` gives them."""
    counts = counts[counts != 0]
    if len(counts):
        top, freq, dtype = counts.index[0], counts.iloc[0], None
    else:
        top, freq, dtype = np.nan, np.nan, "object"
    return pd.Series([count, len(counts), top, freq], index=["count", "unique", "top", "freq"], name=name,
                     dtype=dtype)


def _timestamp_summary(count, mean, minimum, quantiles: pd.Series, maximum, labels: list, name) -> pd.Series:
    values = [count, mean, minimum, *quantiles.tolist(), maximum]
    return pd.Series(values, index=["count", "mean", "min", *labels, "max"], name=name)


def _assemble(*values, layout, columns, kinds, labels, fake):
    """The summary table (or Series) from the reductions' results, in ``fake``'s layout."""
    values = list(values)
    numeric = values.pop(0) if "numeric" in kinds else None
    summaries = []
    for column, kind in zip(columns, kinds):
        if kind == "numeric":
            summaries.append(numeric[column] if isinstance(numeric, pd.DataFrame) else numeric)
        elif kind == "categorical":
            count, counts = values.pop(0), values.pop(0)
            summaries.append(_categorical_summary(count, counts, column))
        else:
            count, mean, minimum, quantiles, maximum = (values.pop(0) for _ in range(5))
            summaries.append(_timestamp_summary(count, mean, minimum, quantiles, maximum, labels, column))
    if isinstance(fake, pd.Series):
        result = summaries[0]
        result.name = fake.name
        return result.astype(fake.dtype) if fake.dtype != object else result
    # pandas reindexes every column's summary on the union of their labels, then sets the dtypes
    table = pd.concat([s.reindex(layout) for s in summaries], axis=1, ignore_index=True, sort=False)
    table.columns = fake.columns
    return table.astype({c: fake.dtypes[c] for c in fake.columns if fake.dtypes[c] != object})


def describe(collection, percentiles=None, include=None, exclude=None, split_every=None):
    """pandas' ``describe`` of a shoal DataFrame or Series; see the module docstring."""
    from .core import new_collection
    from .quantiles import Gather

    meta = collection._meta
    is_frame = isinstance(meta, pd.DataFrame)
    if is_frame:
        columns = _selected(meta, include, exclude)
        if not columns:
            raise ValueError(f"describe: no column matches include={include!r}, exclude={exclude!r}; the column "
                             f"dtypes are {dict(meta.dtypes.astype(str))}")
        kinds = [_kind(meta.dtypes[c]) for c in columns]
        fake = meta_nonempty(meta[columns]).describe(percentiles=percentiles, include=include, exclude=exclude)
    else:
        columns, kinds = [meta.name], [_kind(meta.dtype)]
        fake = meta_nonempty(meta).describe(percentiles=percentiles)
    if "timedelta" in kinds:
        shown = [c for c, k in zip(columns, kinds) if k == "timedelta"]
        raise NotImplementedError(f"describe: timedelta columns are not summarized by shoal ({shown}); describe "
                                  "their total seconds instead: df[col].dt.total_seconds().describe()")
    labels = [str(r) for r in pd.Series([0.0]).describe(percentiles=percentiles).index[4:-1]]
    quantiles = sorted({0.25, 0.5, 0.75} if percentiles is None else {float(q) for q in percentiles})
    if len(labels) > len(quantiles):  # pandas added the median to the percentiles asked for
        quantiles = sorted(set(quantiles) | {0.5})
    numeric = [c for c, k in zip(columns, kinds) if k == "numeric"]
    if numeric and len(numeric) == len(columns):  # numbers only: the table the numeric summary builds
        chosen = collection[numeric] if is_frame and numeric != list(meta.columns) else collection
        return chosen._numeric_describe(percentiles, split_every)
    parts = []
    if numeric:
        parts.append(collection[numeric]._numeric_describe(percentiles, split_every) if is_frame
                     else collection._numeric_describe(percentiles, split_every))
    for column, kind in zip(columns, kinds):
        series = collection[column] if is_frame else collection
        if kind == "categorical":
            parts += [series.count(split_every=split_every), series.value_counts(split_every=split_every)]
        elif kind == "timestamp":
            parts += [series.count(split_every=split_every), series.mean(split_every=split_every),
                      series.min(split_every=split_every), series.quantile(quantiles, split_every=split_every),
                      series.max(split_every=split_every)]
    assemble = functools.partial(_assemble, layout=list(fake.index), columns=columns, kinds=kinds, labels=labels,
                                 fake=make_meta(fake))
    return new_collection(Gather(tuple(p._expr for p in parts), assemble, make_meta(fake)))
