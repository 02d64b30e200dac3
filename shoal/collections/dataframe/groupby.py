"""Groupby aggregations as tree reductions with a map-side combine.

Theory of operation: every requested aggregation is broken into *partials*
that can be computed per partition and merged associatively:

=========  ===========================  =====================================
agg        partials per partition       merged by
=========  ===========================  =====================================
sum        sum                          sum
count      count                        sum
size       size                         sum
min/max    min/max                      min/max
prod       prod                         prod
first      first (non-null)             first (partitions stay in order)
last       last (non-null)              last
mean       sum, count                   sums; result sum / count
var/std    count, mean, M2              Chan et al.'s pairwise update
nunique    distinct (keys, value) rows  drop_duplicates; then nunique
=========  ===========================  =====================================

Each partition is grouped once (``_GroupbyChunk``), partials of up to
``split_every`` partitions are merged by grouping on the index levels
(``_GroupbyCombine``), and the last merge finishes each aggregation, lays the
columns out exactly as pandas would (the layout is read from pandas' own
result on the fake partition, which is also the meta) and sorts by the group
keys when ``sort=True``. Results equal pandas' ``groupby(..., sort=True)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .blockwise import Projection
from .core import DataFrame, Index, Series, new_collection
from .expr import FrameExpr
from .groupby_keys import index_labels, keys_as_columns, keys_from_level, numeric_only_kwargs
from .groupby_spec import _MERGE, PARTIALS, normalize_spec
from .meta import make_meta, meta_nonempty
from .reductions import TreeReduce, cast_like

__all__ = ["DataFrameGroupBy", "SeriesGroupBy"]

# ------------------------------------------------------------------ the three steps


class _GroupbyChunk:
    """Partials of one partition: ``{(column, partial): Series or DataFrame}``."""

    def __init__(self, by: list, pairs: list, dropna: bool, observed: bool, sort: bool = True):
        self.by, self.pairs, self.dropna, self.observed, self.sort = by, pairs, dropna, observed, sort

    def __reduce__(self):
        return (_GroupbyChunk, (self.by, self.pairs, self.dropna, self.observed, self.sort))

    def __call__(self, part: pd.DataFrame) -> dict:
        # the bincount shortcut lists keys sorted; sort=False must keep them in order of appearance
        fast = _small_int_key_partials(part, self.by, self.pairs) if self.sort else None
        if fast is not None:
            return fast
        grouped = part.groupby(self.by, sort=False, dropna=self.dropna, observed=self.observed)
        out: dict = {}
        for col, func in self.pairs:
            for partial in PARTIALS[func]:
                key = (col, partial)
                if key in out:
                    continue
                if partial == "size":
                    out[key] = grouped.size()
                elif partial == "distinct":
                    keys = part[self.by + [col]] if col not in self.by else part[self.by]
                    out[key] = keys.drop_duplicates()
                elif partial in ("mean", "m2"):
                    if (col, "mean") not in out:
                        values = part[col].astype("float64")
                        g = values.groupby([part[b] for b in self.by], sort=False, dropna=self.dropna,
                                           observed=self.observed)
                        means = g.mean()
                        deviations = values - g.transform("mean")
                        out[(col, "mean")] = means
                        out[(col, "m2")] = (deviations ** 2).groupby(
                            [part[b] for b in self.by], sort=False, dropna=self.dropna, observed=self.observed).sum()
                else:
                    out[key] = getattr(grouped[col], partial)()
        return out


_FAST_PARTIALS = {"sum", "count", "size"}
_EXACT_FLOAT_INT = 2**53


def _small_int_key_partials(part: pd.DataFrame, by: list, pairs: list) -> dict | None:
    """Sums, counts and sizes for one integer key of small range, by ``np.bincount``.

    Hashing the keys (what ``groupby`` does first) dominates the cost of
    these partials; when the keys are integers spanning a range not much
    larger than the partition, ``key - min`` already is a dense group code.
    Returns None when this shortcut does not apply.
    """
    if len(by) != 1 or len(part) == 0:
        return None
    if any(p not in _FAST_PARTIALS for _, func in pairs for p in PARTIALS[func]):
        return None
    keys = part[by[0]]
    if keys.dtype.kind not in "iu" or not isinstance(keys.dtype, np.dtype):
        return None
    values = keys.to_numpy()
    low, high = int(values.min()), int(values.max())
    span = high - low + 1
    if span > max(4 * len(values), 1024):
        return None
    codes = (values - low).astype(np.intp, copy=False)
    sizes = np.bincount(codes, minlength=span)
    present = np.flatnonzero(sizes)
    index = pd.Index((present + low).astype(keys.dtype), name=by[0])
    out: dict = {}
    for col, func in pairs:
        for partial in PARTIALS[func]:
            key = (col, partial)
            if key in out:
                continue
            if partial == "size":
                out[key] = pd.Series(sizes[present], index=index, dtype="int64")
                continue
            column = part[col]
            if not isinstance(column.dtype, np.dtype) or column.dtype.kind not in "iufb":
                return None  # nullable, strings, datetimes: let pandas do it
            data = column.to_numpy()
            valid = ~np.isnan(data) if data.dtype.kind == "f" else None
            if partial == "count":
                counts = sizes if valid is None else np.bincount(codes[valid], minlength=span)
                out[key] = pd.Series(counts[present], index=index, dtype="int64")
            else:
                if data.dtype.kind in "iu" and max(abs(int(data.min())), abs(int(data.max()))) * len(data) >= _EXACT_FLOAT_INT:
                    return None  # float64 weights would round such sums
                weights = data if valid is None else np.where(valid, data, 0.0)
                sums = np.bincount(codes, weights=weights, minlength=span)[present]
                if data.dtype.kind in "iub":
                    sums = sums.astype("int64")
                elif data.dtype != np.float64:
                    sums = sums.astype(data.dtype)
                out[key] = pd.Series(sums, index=index)
    return out


def _merge_partials(partials: list[dict], by: list, dropna: bool) -> dict:
    merged: dict = {}
    for key in partials[0]:
        col, partial = key
        pieces = [p[key] for p in partials]
        if partial == "distinct":
            merged[key] = pd.concat(pieces).drop_duplicates()
            continue
        if partial in ("mean", "m2"):
            continue  # merged with the count below
        stacked = pd.concat(pieces)
        levels = list(range(stacked.index.nlevels))
        grouped = stacked.groupby(level=levels, sort=False, dropna=False, observed=True)
        if partial == "count" and (col, "m2") in partials[0]:
            merged.update(_chan_merge(partials, col, levels))
        merged[key] = getattr(grouped, _MERGE[partial])()
    return merged


def _chan_merge(partials: list[dict], col, levels: list) -> dict:
    """Merge per-partition (count, mean, M2) of each group without cancellation."""
    n = pd.concat([p[(col, "count")] for p in partials]).astype("float64")
    mean = pd.concat([p[(col, "mean")] for p in partials]).astype("float64")
    m2 = pd.concat([p[(col, "m2")] for p in partials]).astype("float64")
    group = dict(level=levels, sort=False, dropna=False, observed=True)
    n_total = n.groupby(**group).sum()
    weighted = (n * mean.where(n > 0, 0.0)).groupby(**group).sum()
    mean_total = weighted / n_total.where(n_total > 0, np.nan)
    aligned = mean_total.reindex(n.index)
    spread = m2.where(n > 0, 0.0) + n * (mean.where(n > 0, 0.0) - aligned.to_numpy()) ** 2
    m2_total = spread.where(n > 0, 0.0).groupby(**group).sum()
    return {(col, "mean"): mean_total, (col, "m2"): m2_total}


class _GroupbyCombine:
    def __init__(self, by: list, dropna: bool):
        self.by, self.dropna = by, dropna

    def __reduce__(self):
        return (_GroupbyCombine, (self.by, self.dropna))

    def __call__(self, partials: list[dict]) -> dict:
        return _merge_partials(partials, self.by, self.dropna)


class _GroupbyAggregate:
    """Finish every aggregation and lay the result out like pandas' (``meta``)."""

    def __init__(self, by: list, pairs: list, dropna: bool, sort: bool, ddof: int, meta: Any, index_names: list,
                 nunique_dropna: bool = True):
        self.by, self.pairs, self.dropna, self.sort, self.ddof = by, pairs, dropna, sort, ddof
        self.meta, self.index_names = meta, index_names
        #: ``nunique(dropna=False)`` counts a missing value as one more distinct value (``dropna`` is the keys')
        self.nunique_dropna = nunique_dropna

    def __reduce__(self):
        return (_GroupbyAggregate, (self.by, self.pairs, self.dropna, self.sort, self.ddof, self.meta,
                                    self.index_names, self.nunique_dropna))

    def _finish(self, merged: dict, col, func):
        if func in ("sum", "count", "size", "min", "max", "prod", "first", "last"):
            return merged[(col, func)]
        if func == "mean":
            count = merged[(col, "count")]
            return merged[(col, "sum")] / count.where(count > 0)
        if func in ("var", "std"):
            n = merged[(col, "count")].astype("float64")
            var = merged[(col, "m2")] / (n - self.ddof).where(n - self.ddof > 0, np.nan)
            return np.sqrt(var) if func == "std" else var
        if func == "nunique":
            rows = merged[(col, "distinct")]
            return rows.groupby(self.by, sort=False, dropna=self.dropna, observed=True)[col].nunique(
                dropna=self.nunique_dropna)
        raise AssertionError(func)

    def __call__(self, partials: list[dict]) -> Any:
        merged = _merge_partials(partials, self.by, self.dropna)
        columns = [self._finish(merged, col, func) for col, func in self.pairs]
        meta = self.meta
        if isinstance(meta, pd.Series):
            result = columns[0]
            result.name = meta.name
        else:
            result = pd.concat(columns, axis=1, keys=range(len(columns)))
            result.columns = meta.columns
        result.index = result.index.set_names(self.index_names)
        if self.sort:
            result = result.sort_index()
        return cast_like(result, meta)


def _index_labels_mapped(index: pd.Index, func) -> pd.Series:
    return pd.Series(index.map(func), index=index)


# ------------------------------------------------------------------ user-facing objects


#: the column an unnamed Series is grouped under; its results get their name (None) back
_UNNAMED = "__series__"


class _GroupBy:
    def __init__(self, frame, by, sort=True, dropna=True, observed=True, selection=None, ddof=1, level=None,
                 as_index=True):
        if level is not None:
            by = keys_from_level(frame, by, level)
        elif by is None:
            raise TypeError("groupby: give the keys (by=) or level=")
        keys = by if isinstance(by, list) else [by]
        base = frame if isinstance(frame, DataFrame) else frame.to_frame()
        self._unnamed_series = isinstance(frame, Series) and frame.name is None
        if isinstance(frame, Series):
            series_name = frame.name if frame.name is not None else _UNNAMED
            if frame.name is None:
                base = frame.to_frame(_UNNAMED)
            selection = series_name
        names, index_names = [], []
        temp = {}
        for i, key in enumerate(keys):
            if key is index_labels or (isinstance(key, str) and key not in base.columns and key == base.index.name):
                # the index itself (level=0, or its name, as pandas allows)
                name = f"__groupby_key_{i}__"
                temp[name] = base.index.map_partitions(index_labels, enforce_metadata=False)
                names.append(name)
                index_names.append(base.index.name)
            elif callable(key) and not isinstance(key, (Series, Index, str)):
                # pandas applies a function key to the index labels
                name = f"__groupby_key_{i}__"
                temp[name] = base.index.map_partitions(_index_labels_mapped, key, enforce_metadata=False)
                names.append(name)
                index_names.append(base.index.name)
            elif isinstance(key, (Series, Index)):  # an Index: df.groupby(df.index.month), aligned by partition
                name = f"__groupby_key_{i}__"
                temp[name] = key
                names.append(name)
                index_names.append(key.name)
            elif isinstance(key, str) or not hasattr(key, "__len__"):
                if key not in base.columns:
                    raise KeyError(
                        f"groupby key {key!r} is not a column; the available columns are {list(base.columns)}"
                    )
                names.append(key)
                index_names.append(key)
            else:
                raise TypeError(f"groupby: keys must be column names, shoal Series or Index, got {type(key).__name__}")
        if temp:
            base = base.assign(**temp)
        self._frame = base
        self._by = names
        self._index_names = index_names
        self._sort, self._dropna, self._observed = sort, dropna, observed
        self._selection = selection
        self._ddof = ddof
        self._as_index = as_index
        if not as_index and (isinstance(frame, Series) or any(n.startswith("__groupby_key_") for n in names)):
            raise NotImplementedError("groupby(as_index=False) needs column-name keys of a DataFrame; group with "
                                      "as_index=True and call reset_index() on the computed (small) result")

    def _named(self, result):
        """``result`` with the grouped Series' own name: an unnamed Series gives unnamed results, as in pandas."""
        if self._unnamed_series and isinstance(result, Series) and result.name == _UNNAMED:
            return result.rename(None)
        return result

    def _flat(self, result, name=None):
        """``as_index=False``: the group keys as columns and a fresh RangeIndex, as pandas gives."""
        if self._as_index:
            return result
        return result.map_partitions(keys_as_columns, name)

    @property
    def _value_columns(self) -> list:
        if self._selection is None:
            return [c for c in self._frame.columns if c not in self._by]
        return list(self._selection) if isinstance(self._selection, list) else [self._selection]

    def _pandas_groupby(self, frame: pd.DataFrame):
        grouped = frame.groupby(self._by, sort=self._sort, dropna=self._dropna, observed=self._observed)
        if self._selection is not None:
            grouped = grouped[self._selection]
        return grouped

    def _options(self) -> tuple:
        return (("sort", self._sort), ("dropna", self._dropna), ("observed", self._observed))

    def _by_shuffle(self, used: FrameExpr, method: str, args: tuple, kwargs: dict, meta, split_out, gather: bool,
                    shuffle_method=None):
        """``method`` per partition after bringing every group into one partition (see ``groupby_shuffle.py``)."""
        from .groupby_shuffle import CollectSorted, GroupPartitions, placed_by_keys

        placed = placed_by_keys(used, list(self._by), split_out, shuffle_method)
        expr = GroupPartitions(placed, tuple(self._by), self._selection, self._options(), method, tuple(args),
                               dict(kwargs), tuple(self._index_names), meta)
        if gather:
            expr = CollectSorted(expr, self._sort)
        return self._named(new_collection(expr))

    def _placed(self) -> bool:
        from .groupby_shuffle import placed_by_keys

        return placed_by_keys(self._frame._expr, list(self._by), None) is self._frame._expr

    def _aggregate(self, arg=None, split_every=None, named=None, method_kwargs=None, split_out=None):
        named = named or {}
        series = self._selection is not None and not isinstance(self._selection, list)
        value_columns = self._value_columns
        if (method_kwargs or {}).get("numeric_only"):  # pandas counts booleans as numbers here
            dtypes = self._frame._meta.dtypes
            value_columns = [c for c in value_columns if pd.api.types.is_numeric_dtype(dtypes[c])]
        try:
            pairs = normalize_spec(arg, named, self._selection, value_columns, series)
        except NotImplementedError:
            if method_kwargs is not None:
                raise
            pairs = None  # a function the tree cannot split (a lambda): each group gathered into one partition
        for col, _ in pairs or []:
            if col not in self._frame.columns:
                raise KeyError(f"groupby aggregation: column {col!r} not found; the columns are "
                               f"{list(self._frame.columns)}")
        ddof = (method_kwargs or {}).get("ddof", self._ddof)
        meta = self._meta_for(arg, named, method_kwargs)
        if pairs is None:
            method, args, kwargs = ("agg", (), dict(named)) if named else ("agg", (arg,), {})
            return self._flat(self._by_shuffle(self._frame._expr, method, args, kwargs, meta, split_out,
                                               gather=split_out is None))
        if (split_out is not None and split_out > 1) or self._placed():
            if method_kwargs is not None:
                method, args, kwargs = arg, (), dict(method_kwargs)
            elif named:
                method, args, kwargs = "agg", (), dict(named)
            else:
                method, args, kwargs = "agg", (arg,), {}
            return self._flat(self._by_shuffle(self._used_columns(pairs), method, args, kwargs, meta, split_out,
                                               gather=split_out is None))
        chunk = _GroupbyChunk(self._by, pairs, self._dropna, self._observed, self._sort)
        combine = _GroupbyCombine(self._by, self._dropna)
        aggregate = _GroupbyAggregate(self._by, pairs, self._dropna, self._sort, ddof, meta, self._index_names,
                                      (method_kwargs or {}).get("dropna", True))
        label = "groupby-" + ("-".join(sorted({f for _, f in pairs})))
        expr = TreeReduce(self._used_columns(pairs), chunk, combine, aggregate, None, split_every, meta, label)
        return self._flat(self._named(new_collection(expr)))

    def _used_columns(self, pairs) -> FrameExpr:
        """The frame cut to the keys and aggregated columns, so readers below can skip the rest."""
        used = list(self._by) + [c for c, _ in pairs if c not in self._by]
        used = list(dict.fromkeys(used))
        if used == list(self._frame.columns):
            return self._frame._expr
        return Projection(self._frame._expr, used)

    def _meta_for(self, arg, named, method_kwargs):
        fake = meta_nonempty(self._frame._meta)
        grouped = self._pandas_groupby(fake)
        if method_kwargs is not None:
            result = getattr(grouped, arg)(**method_kwargs)
        elif named:
            result = grouped.agg(**named)
        else:
            result = grouped.agg(arg)
        meta = make_meta(result)
        meta.index = meta.index.set_names(self._index_names)
        return meta

    def agg(self, arg=None, split_every=None, split_out=None, **named):
        """Aggregate with a function name, a list, a dict per column, or named pairs (``total=('x', 'sum')``).

        ``split_out=n``: hash-shuffle the rows on the keys into ``n`` partitions and aggregate each, so the
        result has ``n`` partitions (sorted within each only).
        """
        if arg is None and not named:
            raise TypeError("agg needs a function name, a list, a dict, or named aggregations")
        return self._aggregate(arg, split_every, named, split_out=split_out)

    aggregate = agg

    def _simple(self, func, split_every=None, split_out=None, **kwargs):
        return self._aggregate(func, split_every, method_kwargs=kwargs, split_out=split_out)

    def median(self, split_out=None, shuffle_method=None, **kwargs):
        """Exact median per group: the rows are shuffled so each group is in one partition."""
        meta = self._meta_for("median", {}, kwargs)
        return self._by_shuffle(self._frame._expr, "median", (), kwargs, meta, split_out, split_out is None,
                                shuffle_method)

    def apply(self, func, *args, meta=None, split_out=None, shuffle_method=None, **kwargs):
        """``func`` on every group (pandas' ``groupby().apply``), after shuffling each group into one partition.

        The result has as many partitions as the input (or ``split_out``); pass ``meta=`` when running
        ``func`` on a small fake frame cannot tell what it returns.
        """
        return self._group_wise("apply", func, args, kwargs, meta, split_out, shuffle_method)

    def transform(self, func, *args, meta=None, split_out=None, shuffle_method=None, **kwargs):
        """``func`` on every group, broadcast back to the group's rows (pandas' ``groupby().transform``).

        Rows keep their index but move to the partition of their group (compare after ``sort_index``).
        """
        return self._group_wise("transform", func, args, kwargs, meta, split_out, shuffle_method)

    def _group_wise(self, method, func, args, kwargs, meta, split_out, shuffle_method):
        if meta is None:
            try:
                fake = self._pandas_groupby(meta_nonempty(self._frame._meta))
                meta = make_meta(getattr(fake, method)(func, *args, **kwargs))
            except Exception as error:
                raise ValueError(
                    f"groupby().{method}({getattr(func, '__name__', func)!r}) could not be run on a small fake frame "
                    f"to learn its output ({type(error).__name__}: {error}); pass meta= (an empty pandas object, "
                    "a {column: dtype} dict or a (name, dtype) tuple)"
                ) from error
        else:
            meta = make_meta(meta)
        if method != "transform" and isinstance(meta, (pd.Series, pd.DataFrame)):
            names = list(self._index_names) + list(meta.index.names[len(self._index_names):])
            meta.index = meta.index.set_names(names[: meta.index.nlevels])
        return self._by_shuffle(self._frame._expr, method, (func, *args), kwargs, meta, split_out, False,
                                shuffle_method)

    def sum(self, split_every=None, **kwargs):
        return self._simple("sum", split_every, **kwargs)

    def mean(self, split_every=None, **kwargs):
        return self._simple("mean", split_every, **kwargs)

    def count(self, split_every=None, split_out=None):
        return self._simple("count", split_every, split_out)

    def min(self, split_every=None, **kwargs):
        return self._simple("min", split_every, **kwargs)

    def max(self, split_every=None, **kwargs):
        return self._simple("max", split_every, **kwargs)

    def prod(self, split_every=None, **kwargs):
        return self._simple("prod", split_every, **kwargs)

    def first(self, split_every=None, split_out=None):
        return self._simple("first", split_every, split_out)

    def last(self, split_every=None, split_out=None):
        return self._simple("last", split_every, split_out)

    def nunique(self, dropna: bool = True, split_every=None, split_out=None):
        """Distinct values per group; ``dropna=False`` counts a missing value as one more, as pandas does."""
        return self._simple("nunique", split_every, split_out, **({} if dropna else {"dropna": False}))

    # not split into partials: each runs on whole groups after a shuffle (see _aggregate)
    def sem(self, split_out=None):
        return self._aggregate("sem", split_out=split_out)

    def any(self, split_out=None):
        return self._aggregate("any", split_out=split_out)

    def all(self, split_out=None):
        return self._aggregate("all", split_out=split_out)

    def idxmin(self, split_out=None):
        return self._aggregate("idxmin", split_out=split_out)

    def idxmax(self, split_out=None):
        return self._aggregate("idxmax", split_out=split_out)

    def var(self, ddof=1, split_every=None, split_out=None, numeric_only=False):
        return self._simple("var", split_every, split_out, ddof=ddof, **numeric_only_kwargs(numeric_only))

    def std(self, ddof=1, split_every=None, split_out=None, numeric_only=False):
        return self._simple("std", split_every, split_out, ddof=ddof, **numeric_only_kwargs(numeric_only))

    def _cumulative(self, method: str):
        from .groupby_transform import GroupbyCumulative

        if method == "cumcount":
            columns = None
        elif self._selection is None:
            columns = self._value_columns
        else:
            columns = self._selection
        expr = GroupbyCumulative(self._frame._expr, tuple(self._by), columns, method, self._dropna)
        return self._named(new_collection(expr))

    def cumsum(self):
        """Running sum within each group, in row order across partitions."""
        return self._cumulative("cumsum")

    def cumprod(self):
        """Running product within each group, in row order across partitions."""
        return self._cumulative("cumprod")

    def cummax(self):
        """Running maximum within each group, in row order across partitions."""
        return self._cumulative("cummax")

    def cummin(self):
        """Running minimum within each group, in row order across partitions."""
        return self._cumulative("cummin")

    def cumcount(self):
        """Position of each row within its group (0, 1, ...), across partitions."""
        return self._cumulative("cumcount")

    def size(self, split_every=None):
        meta = make_meta(self._pandas_groupby(meta_nonempty(self._frame._meta)).size())
        meta.index = meta.index.set_names(self._index_names)
        pairs = [(self._by[0], "size")]
        chunk = _GroupbyChunk(self._by, pairs, self._dropna, self._observed, self._sort)
        combine = _GroupbyCombine(self._by, self._dropna)
        aggregate = _GroupbyAggregate(self._by, pairs, self._dropna, self._sort, 1, meta, self._index_names)
        return self._flat(self._named(new_collection(TreeReduce(self._used_columns(pairs), chunk, combine, aggregate,
                                                                None, split_every, meta, "groupby-size"))), "size")


class DataFrameGroupBy(_GroupBy):
    """``df.groupby(keys)``: aggregate with ``agg`` or the named methods."""

    def __getitem__(self, key):
        if isinstance(key, list):
            missing = [k for k in key if k not in self._frame.columns]
            cls = DataFrameGroupBy
        else:
            missing = [key] if key not in self._frame.columns else []
            cls = SeriesGroupBy
        if missing:
            raise KeyError(f"column(s) {missing} not found; the available columns are {list(self._frame.columns)}")
        new = _GroupBy.__new__(cls)
        new.__dict__.update(self.__dict__)
        new._selection = key
        return new

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._frame.columns and name not in self._by:
            return self[name]
        raise AttributeError(f"DataFrameGroupBy has no attribute or column {name!r}")


class SeriesGroupBy(_GroupBy):
    """``df.groupby(keys)['col']`` or ``series.groupby(keys)``."""
