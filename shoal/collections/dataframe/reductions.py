"""Tree reductions: a partial result per partition, combined ``split_every`` at a time.

``TreeReduce`` emits ``chunk`` tasks (one per partition, fused with the
partition's own work by the graph optimizer), then levels of ``combine``
tasks each reading at most ``split_every`` partials, then one ``aggregate``.
Each built-in reduction is a ``Reduction`` triple of plain functions:

- sum, prod, min, max, count, any, all: the partials are the pandas result on
  each partition; combining applies the same operation to the stacked partials;
- mean: ``(sum, count)``; var/std: ``(count, mean, M2)`` merged with Chan et
  al.'s pairwise formula, so the result stays accurate when the mean is large
  compared with the spread (no sum-of-squares cancellation);
- nunique, value_counts, idxmin/idxmax: partial distinct values, counts, and
  (label, value) pairs.

Empty partitions contribute nothing (their partial is an ``_Empty`` marker),
so an empty integer partition cannot turn an integer minimum into a float.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pandas as pd

from ... import config
from ...taskgraph.core import Ref, Task
from .expr import FrameExpr
from .meta import is_frame_like, make_meta, meta_nonempty

__all__ = ["TreeReduce", "REDUCTIONS", "Reduction", "min_count_reduction", "user_reduction_functions"]

DEFAULT_SPLIT_EVERY = 8


class _Empty:
    """The partial of an empty partition: keeps the partition to reduce if all are empty."""

    __slots__ = ("part",)

    def __init__(self, part):
        self.part = part


class Reduction:
    """A named triple ``chunk(part, **kw)``, ``combine(partials, **kw)``, ``aggregate(partials, **kw)``."""

    def __init__(self, name: str, chunk: Callable, combine: Callable, aggregate: Callable):
        self.name, self.chunk, self.combine, self.aggregate = name, chunk, combine, aggregate


class TreeReduce(FrameExpr):
    """Reduce every partition of ``frame`` to one result through a tree of ``combine`` steps."""

    _parameters = ["frame", "chunk", "combine", "aggregate", "kwargs", "split_every", "meta", "label"]
    _defaults = {"kwargs": None, "split_every": None, "meta": None, "label": "reduction"}
    #: reads every partition of its input: ``explain`` starts a new stage below it
    _is_shuffle = True

    @property
    def _is_scalar(self) -> bool:
        return not is_frame_like(self._meta)

    @property
    def _funcname(self) -> str:
        return self.label.replace("_", "-")

    def _compute_meta(self):
        if self.meta is not None:
            return self.meta
        kwargs = self.kwargs or {}
        fake = meta_nonempty(self.frame._meta)
        partial = self.chunk(fake, **kwargs)
        result = self.aggregate([partial], **kwargs)
        return make_meta(result) if is_frame_like(result) else result

    def _compute_divisions(self):
        return (None, None)

    def _explain_args(self):
        shown = {"op": self.label}
        if self.split_every:
            shown["split_every"] = self.split_every
        return shown

    def _layer(self):
        kwargs = self.kwargs or {}
        split_every = self.split_every or config.get("dataframe.split-every", DEFAULT_SPLIT_EVERY)
        if split_every < 2:
            raise ValueError(f"split_every must be at least 2, got {split_every}")
        name = self._name
        chunk_name = f"{name}-chunk"
        layer = {}
        keys = []
        for i in range(self.frame.npartitions):
            key = (chunk_name, i)
            layer[key] = Task(key, self.chunk, Ref(self.frame._key(i)), **kwargs)
            keys.append(key)
        depth = 0
        while len(keys) > split_every:
            level_name = f"{name}-combine-{depth}"
            new_keys = []
            for j in range(0, len(keys), split_every):
                key = (level_name, j // split_every)
                layer[key] = Task(key, self.combine, [Ref(k) for k in keys[j: j + split_every]], **kwargs)
                new_keys.append(key)
            keys = new_keys
            depth += 1
        final = self._key(0)
        layer[final] = Task(final, _aggregate_like_meta, self.aggregate, [Ref(k) for k in keys], self._meta, kwargs)
        return layer


def _aggregate_like_meta(aggregate, partials, meta, kwargs):
    return cast_like(aggregate(partials, **kwargs), meta)


def cast_like(result: Any, meta: Any) -> Any:
    """``result`` with the dtype(s) of ``meta`` where they differ only by how partials were stacked."""
    try:
        if isinstance(meta, pd.Series) and isinstance(result, pd.Series):
            if result.dtype != meta.dtype:
                result = result.astype(meta.dtype)
            if result.name != meta.name:
                result = result.rename(meta.name)
        elif isinstance(meta, pd.DataFrame) and isinstance(result, pd.DataFrame):
            wrong = {c: meta[c].dtype for c in meta.columns if c in result and result[c].dtype != meta[c].dtype}
            if wrong:
                result = result.astype(wrong)
        elif isinstance(meta, np.generic) and not isinstance(result, type(meta)) and not _isnan(result):
            result = type(meta)(result)
    except (TypeError, ValueError):
        pass  # a value the dtype cannot hold (e.g. NaN in int): keep what pandas produced
    return result


def _isnan(x) -> bool:
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


# ------------------------------------------------------------------ helpers


def _non_empty(partials: list) -> list:
    return [p for p in partials if not isinstance(p, _Empty)]


def _stack(partials: list):
    """Partials as one pandas object: rows of a DataFrame for Series partials, else a Series."""
    if partials and isinstance(partials[0], pd.Series):
        return pd.DataFrame(partials)
    return pd.Series(partials, dtype=object if _has_objects(partials) else None)


def _has_objects(values: list) -> bool:
    return any(isinstance(v, (str, bytes, pd.Timestamp, pd.Timedelta)) for v in values)


def _simple(method: str, combine_method: str | None = None, skip_empty: bool = False) -> Reduction:
    combine_method = combine_method or method

    def chunk(part, **kwargs):
        if skip_empty and len(part) == 0:
            return _Empty(part)
        return getattr(part, method)(**kwargs)

    def combine(partials, **kwargs):
        real = _non_empty(partials)
        if not real:
            return partials[0]
        stacked = _stack(real)
        kw = {k: v for k, v in kwargs.items() if k in ("skipna",)}
        result = getattr(stacked, combine_method)(**kw)
        if isinstance(stacked, pd.Series) and isinstance(result, np.generic) and stacked.dtype == object:
            result = result.item() if hasattr(result, "item") else result
        return result

    def aggregate(partials, **kwargs):
        real = _non_empty(partials)
        if not real:
            return getattr(partials[0].part, method)(**kwargs)
        return combine(real, **kwargs)

    return Reduction(method, chunk, combine, aggregate)


def min_count_reduction(method: str) -> Reduction:
    """``sum``/``prod`` with pandas' ``min_count``: partials carry the count of values, so the threshold
    is judged on the whole data (per partition, a small partition would wrongly turn to NaN)."""

    def chunk(part, skipna=True, min_count=0, numeric_only=False):
        kw = {"numeric_only": numeric_only} if isinstance(part, pd.DataFrame) else {}
        return (getattr(part, method)(skipna=skipna, **kw), part.count(**kw))

    def combine(partials, skipna=True, **kwargs):
        values = _stack([p[0] for p in partials])
        return (getattr(values, method)(skipna=skipna), _stack([p[1] for p in partials]).sum())

    def aggregate(partials, skipna=True, min_count=0, **kwargs):
        total, count = combine(partials, skipna=skipna)
        if isinstance(total, pd.Series):
            return total.where(count >= min_count)
        return total if count >= min_count else np.float64(np.nan)

    return Reduction(method, chunk, combine, aggregate)


# ------------------------------------------------------------------ mean, var, std


def _mean_chunk(part, skipna=True, numeric_only=False):
    kw = {"numeric_only": numeric_only} if isinstance(part, pd.DataFrame) else {}
    return (part.sum(skipna=skipna, **kw), part.count(**kw) if not skipna else part.count(**kw))


def _mean_combine(partials, skipna=True, **kwargs):
    sums = [p[0] for p in partials]
    counts = [p[1] for p in partials]
    # skipna=False: a partition's NaN sum must reach the result, not be skipped when the sums are added
    return (_stack(sums).sum(skipna=skipna), _stack(counts).sum())


def _mean_aggregate(partials, skipna=True, **kwargs):
    total, count = _mean_combine(partials, skipna=skipna)
    if isinstance(total, pd.Series):
        return total / count.where(count > 0, np.nan)
    return total / count if count else np.nan


def _var_chunk(part, skipna=True, ddof=1, numeric_only=False):
    # skipna=False: missing values count as rows, so their NaN mean and M2 reach the result
    if isinstance(part, pd.DataFrame):
        if numeric_only:
            part = part.select_dtypes(include=["number", "bool"])
        n = part.count() if skipna else pd.Series(len(part), index=part.columns)
        mean = part.mean(skipna=skipna)
        m2 = ((part - mean) ** 2).sum(skipna=skipna)
        return (n.astype("float64"), mean.astype("float64"), m2.astype("float64"))
    n = part.count() if skipna else len(part)
    mean = part.mean(skipna=skipna) if n else np.nan
    m2 = float(((part - mean) ** 2).sum(skipna=skipna)) if n else 0.0
    return (float(n), float(mean) if n else np.nan, m2)


def _var_combine(partials, **kwargs):
    """Chan et al.: merge (count, mean, M2) triples without cancellation."""
    ns = [p[0] for p in partials]
    means = [p[1] for p in partials]
    m2s = [p[2] for p in partials]
    if isinstance(ns[0], pd.Series):
        n = sum(ns)
        weighted = sum(ni * mi.where(ni > 0, 0.0) for ni, mi in zip(ns, means))
        mean = weighted / n.where(n > 0, np.nan)
        m2 = sum(m2i.where(ni > 0, 0.0) + ni * (mi.where(ni > 0, 0.0) - mean) ** 2 for ni, mi, m2i in zip(ns, means, m2s))
        return (n, mean, m2)
    n = sum(ns)
    if n == 0:
        return (0.0, np.nan, 0.0)
    mean = sum(ni * mi for ni, mi in zip(ns, means) if ni) / n
    m2 = sum(m2i + ni * (mi - mean) ** 2 for ni, mi, m2i in zip(ns, means, m2s) if ni)
    return (n, mean, m2)


def _var_aggregate(partials, skipna=True, ddof=1, numeric_only=False):
    n, _, m2 = _var_combine(partials)
    if isinstance(n, pd.Series):
        return m2 / (n - ddof).where(n - ddof > 0, np.nan)
    return m2 / (n - ddof) if n - ddof > 0 else np.nan


def _std_aggregate(partials, **kwargs):
    result = _var_aggregate(partials, **kwargs)
    return np.sqrt(result) if isinstance(result, pd.Series) else math.sqrt(result) if not _isnan(result) else np.nan


def _sem_aggregate(partials, skipna=True, ddof=1, numeric_only=False):
    n, _, _ = _var_combine(partials)
    var = _var_aggregate(partials, ddof=ddof)
    if isinstance(var, pd.Series):
        return np.sqrt(var / n.where(n > 0, np.nan))
    return math.sqrt(var / n) if n and not _isnan(var) else np.nan


def _mode_aggregate(partials, dropna=True):
    counts = _value_counts_combine(partials)
    counts = counts[counts > 0]
    if counts.empty:
        return pd.Series([], dtype=counts.index.dtype)
    modes = counts.index[counts.to_numpy() == counts.max()]
    return pd.Series(modes.sort_values(), dtype=counts.index.dtype)


# ------------------------------------------------------------------ nunique, value_counts, idx*


def _unique_chunk(part, dropna=True):
    if isinstance(part, pd.DataFrame):
        return {c: part.iloc[:, i].drop_duplicates() for i, c in enumerate(part.columns)}
    return part.drop_duplicates()


def _unique_combine(partials, dropna=True):
    if isinstance(partials[0], dict):
        return {c: pd.concat([p[c] for p in partials]).drop_duplicates() for c in partials[0]}
    if isinstance(partials[0], pd.Index):  # an Index collection's partials: pd.concat takes no Index
        return partials[0].append(list(partials[1:])).drop_duplicates()
    return pd.concat(partials).drop_duplicates()


def _nunique_aggregate(partials, dropna=True):
    merged = _unique_combine(partials)
    if isinstance(merged, dict):
        return pd.Series({c: s.nunique(dropna=dropna) for c, s in merged.items()}, dtype="int64")
    return merged.nunique(dropna=dropna)


def _value_counts_chunk(part, dropna=True, normalize=False, sort=True, ascending=False):
    if isinstance(part, pd.Series):
        # in order of first appearance, as pandas counts before its stable sort: partials concatenated in
        # partition order keep the whole data's order of first appearance, so ties come out as in pandas
        return part.value_counts(dropna=dropna, sort=False)
    return part.value_counts(dropna=dropna)


def _value_counts_combine(partials, dropna=True, **kwargs):
    stacked = pd.concat(partials)
    # every level: a DataFrame's value_counts is indexed by one level per column
    multi = isinstance(stacked.index, pd.MultiIndex)
    counts = stacked.groupby(level=list(range(stacked.index.nlevels)) if multi else 0, dropna=False, observed=False,
                             sort=False).sum()
    if multi and not isinstance(counts.index, pd.MultiIndex):  # grouping one level flattened it
        counts.index = pd.MultiIndex.from_arrays([counts.index])
    elif not multi and partials[0].index.dtype == object and counts.index.dtype != object:
        counts.index = counts.index.astype(object)  # pandas 3's concat infers 'str' for object labels
    return counts


def _value_counts_aggregate(partials, dropna=True, normalize=False, sort=True, ascending=False):
    counts = _value_counts_combine(partials)
    if normalize:
        counts = counts / counts.sum()
    if sort:
        counts = counts.sort_values(ascending=ascending, kind="stable")
    return counts


def _idx_chunk_for(kind: str):
    def chunk(part, skipna=True):
        if len(part) == 0:
            return _Empty(part)
        value = getattr(part, kind[3:])(skipna=skipna)  # idxmin -> min
        if skipna and isinstance(part, pd.DataFrame):
            # pandas refuses a column with no values; in one partition that is no error, it just has no label
            label = pd.Series({c: getattr(part.iloc[:, i], kind)() if part.iloc[:, i].notna().any() else np.nan
                               for i, c in enumerate(part.columns)}, index=part.columns, dtype=object)
        elif skipna and not part.notna().any():
            return _Empty(part)
        else:
            label = getattr(part, kind)(skipna=skipna)
        return (label, value)

    return chunk


def _idx_aggregate_for(kind: str):
    def pick(labels, values):
        values = pd.Series(values, dtype=object if _has_objects(values) else None)
        if values.isna().all():
            return np.nan
        position = getattr(values, "idxmin" if kind == "idxmin" else "idxmax")()
        return labels[position]

    def combine(partials, skipna=True):
        real = _non_empty(partials)
        if not real:
            return partials[0]
        if isinstance(real[0][0], pd.Series):
            columns = real[0][0].index
            labels, values = {}, {}
            for c in columns:
                ls = [p[0][c] for p in real]
                vs = [p[1][c] for p in real]
                best = pick(ls, vs)
                labels[c] = best
                values[c] = vs[ls.index(best)] if best in ls else np.nan
            return (pd.Series(labels), pd.Series(values))
        ls = [p[0] for p in real]
        vs = [p[1] for p in real]
        best = pick(ls, vs)
        return (best, vs[ls.index(best)] if best in ls else np.nan)

    def aggregate(partials, skipna=True):
        real = _non_empty(partials)
        if not real:
            return getattr(partials[0].part, kind)(skipna=skipna)
        return combine(real, skipna=skipna)[0]

    return combine, aggregate


def _make_idx(kind):
    combine, aggregate = _idx_aggregate_for(kind)
    return Reduction(kind, _idx_chunk_for(kind), combine, aggregate)


REDUCTIONS: dict[str, Reduction] = {
    "sum": _simple("sum"),
    "prod": _simple("prod"),
    "min": _simple("min", skip_empty=True),
    "max": _simple("max", skip_empty=True),
    "count": _simple("count", "sum"),
    "any": _simple("any"),
    "all": _simple("all"),
    "mean": Reduction("mean", _mean_chunk, _mean_combine, _mean_aggregate),
    "var": Reduction("var", _var_chunk, _var_combine, _var_aggregate),
    "std": Reduction("std", _var_chunk, _var_combine, _std_aggregate),
    "sem": Reduction("sem", _var_chunk, _var_combine, _sem_aggregate),
    "mode": Reduction("mode", lambda part, dropna=True: part.value_counts(dropna=dropna),
                      lambda partials, dropna=True: _value_counts_combine(partials), _mode_aggregate),
    "nunique": Reduction("nunique", _unique_chunk, _unique_combine, _nunique_aggregate),
    "value_counts": Reduction("value_counts", _value_counts_chunk, _value_counts_combine, _value_counts_aggregate),
    "idxmin": _make_idx("idxmin"),
    "idxmax": _make_idx("idxmax"),
}


# ------------------------------------------------------------------ user reductions


def _concat_partials(partials: list):
    if all(is_frame_like(p) for p in partials):
        return pd.concat(partials)
    return pd.Series(partials)


class _UserStep:
    """A user's combine/aggregate function applied to the concatenated partials."""

    def __init__(self, func: Callable, kwargs: dict):
        self.func, self.kwargs = func, kwargs

    def __call__(self, partials, **_):
        return self.func(_concat_partials(partials), **self.kwargs)


class _UserChunk:
    def __init__(self, func: Callable, kwargs: dict):
        self.func, self.kwargs = func, kwargs

    def __call__(self, part, **_):
        return self.func(part, **self.kwargs)


def user_reduction_functions(chunk, aggregate=None, combine=None, chunk_kwargs=None,
                             aggregate_kwargs=None, combine_kwargs=None):
    """The (chunk, combine, aggregate) callables for ``_Frame.reduction``."""
    aggregate = aggregate or chunk
    combine = combine or aggregate
    return (
        _UserChunk(chunk, chunk_kwargs or {}),
        _UserStep(combine, combine_kwargs or {}),
        _UserStep(aggregate, aggregate_kwargs or {}),
    )


# ------------------------------------------------------------------ row counts


#: methods that return exactly one output row per input row
ROW_PRESERVING_METHODS = frozenset({"fillna", "isna", "notna", "isnull", "notnull", "abs", "astype", "round",
                                    "rename", "map", "clip", "isin", "where", "mask", "between", "to_frame"})


def _sum_list(values):
    return sum(values)


class RowCount(FrameExpr):
    """``len(frame)``, through the shortcuts the plan allows.

    Row-preserving operations above a reader are skipped when simplifying
    (their row count is their input's), and a reader that knows its row
    count from metadata (``_known_row_count()``, e.g. parquet footers)
    answers without reading any data.
    """

    _parameters = ["frame"]
    _is_scalar = True

    def _compute_meta(self):
        return 0

    def _compute_divisions(self):
        return (None, None)

    def _simplify_down(self):
        from .blockwise import Assign, Elemwise, IndexOf, Method, Projection

        frame = self.frame
        if isinstance(frame, (Projection, Assign, IndexOf)):
            return RowCount(frame.frame)
        if isinstance(frame, Method) and frame.method in ROW_PRESERVING_METHODS and frame.accessor is None:
            return RowCount(frame.frame)
        if isinstance(frame, Elemwise) and len(frame._frame_inputs()) >= 1:
            return RowCount(frame._frame_inputs()[0])
        return None

    def _lower(self):
        known = getattr(self.frame, "_known_row_count", None)
        count = known() if known is not None else None
        if count is not None:
            return KnownValue(count, self.frame._name)
        return None

    def _layer(self):
        chunk = f"{self._name}-chunk"
        layer = {(chunk, i): Task((chunk, i), len, Ref(self.frame._key(i))) for i in range(self.frame.npartitions)}
        layer[self._key(0)] = Task(self._key(0), _sum_list, [Ref(k) for k in layer])
        return layer

    def _explain_args(self):
        return {}


class KnownValue(FrameExpr):
    """A value the optimizer already knows (e.g. a row count read from file metadata)."""

    _parameters = ["value", "source"]
    _is_scalar = True

    def _compute_meta(self):
        return self.value

    def _compute_divisions(self):
        return (None, None)

    def _task(self, index):
        from ...taskgraph.core import DataNode

        return DataNode(self._key(0), self.value)

    def _explain_args(self):
        return {"value": self.value}
