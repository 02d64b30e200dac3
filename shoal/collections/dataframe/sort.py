"""Global sorting: ``set_index`` and ``sort_values``, both a range shuffle then a sort of every partition.

Divisions (the key bounds of the output partitions) come from approximate
quantiles of the key: every partition contributes a sample of its non-null
keys (all of them when there are at most ``SAMPLE_POINTS``, else that many
drawn at random, each weighted by the rows it stands for, plus the exact
minimum and maximum); the merged, weighted sample is cut
at ``1/n, 2/n, ...`` of the rows. This computes the key column once, when
the plan is built (as the divisions must be known to build it). Repeated
bounds (a key holding more than ``1/n`` of the rows) are merged, so the
result may have fewer partitions than asked.

Fast paths: ``divisions=`` skips the summary; ``set_index(sorted=True)``
trusts the data to be sorted already across partitions and only reads every
partition's minimum and maximum (or nothing, when ``divisions=`` is given too).

Rows whose key is null go to the last partition (``set_index``, like
``sort_index``) or the first/last per ``na_position`` (``sort_values``);
they are outside the divisions' range.

>>> import pandas as pd, shoal.dataframe as dd
>>> pdf = pd.DataFrame({"x": [5, 1, 4, 2, 3, 0], "y": list("abcdef")})
>>> df = dd.from_pandas(pdf, npartitions=2).set_index("x")
>>> df.known_divisions, df.compute(scheduler="sync").index.tolist()
(True, [0, 1, 2, 3, 4, 5])
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...taskgraph.core import Ref, Task
from .blockwise import Partitions, Projection
from .expr import FrameExpr, SameSchemaBlockwise
from .reductions import TreeReduce
from .repartition import check_divisions
from .shuffle import RangeSpec, Shuffle, resolve_method

__all__ = ["set_index", "sort_values", "SAMPLE_POINTS", "quantile_divisions"]

SAMPLE_POINTS = 1_000


# ------------------------------------------------------------------ divisions from a summary


def _key_summary(part):
    values = part.dropna()
    n = len(values)
    if n <= SAMPLE_POINTS:
        return values.sort_values(ignore_index=True), np.ones(n)
    # a random sample (same seed every time, so plans are reproducible) plus the exact extremes
    positions = np.random.default_rng(n).choice(n, SAMPLE_POINTS, replace=False)
    sample = values.iloc[positions]
    picked = pd.concat([pd.Series([values.min()], dtype=values.dtype), sample, pd.Series([values.max()],
                                                                                          dtype=values.dtype)],
                       ignore_index=True)
    weights = np.concatenate([[0.0], np.full(SAMPLE_POINTS, n / SAMPLE_POINTS), [0.0]])
    return picked, weights


def _merge_summaries(summaries):
    kept = [s for s in summaries if len(s[0])]
    if not kept:
        return summaries[0]
    return pd.concat([s[0] for s in kept], ignore_index=True), np.concatenate([s[1] for s in kept])


def quantile_divisions(summary, npartitions: int) -> tuple:
    """``npartitions + 1`` sorted bounds cutting the summarised rows into nearly equal parts (repeats merged).

    >>> quantile_divisions((pd.Series([3, 1, 2, 4]), np.ones(4)), 2)
    (1, 2, 4)
    """
    values, weights = summary
    if len(values) == 0:
        return ()
    order = values.argsort(kind="stable").to_numpy()
    values = values.iloc[order].reset_index(drop=True)
    cumulative = np.cumsum(weights[order])
    total = cumulative[-1]
    cuts = [int(np.searchsorted(cumulative, total * j / npartitions, side="left")) for j in range(1, npartitions)]
    bounds = [values.iloc[0]] + [values.iloc[min(c, len(values) - 1)] for c in cuts] + [values.iloc[-1]]
    bounds = [_plain(b) for b in bounds]
    unique = [bounds[0]]
    for b in bounds[1:-1]:
        if b > unique[-1]:
            unique.append(b)
    if len(unique) > 1 and unique[-1] == bounds[-1]:
        unique.pop()
    return tuple(unique) + (bounds[-1],)


def _plain(value):
    """NumPy scalars as Python ones, so divisions print and compare simply."""
    return value.item() if isinstance(value, np.generic) else value


def _divisions_from_sample(expr: FrameExpr, column, npartitions: int) -> tuple:
    from .core import new_collection

    keys = Projection(expr, column) if column is not None else _IndexAsSeries(expr)
    reduce = TreeReduce(keys, _key_summary, _merge_summaries, _merge_summaries, None, None, (pd.Series([]), np.ones(0)),
                        "key-summary")
    return quantile_divisions(new_collection(reduce).compute(), npartitions)


def _index_as_series(part):
    return part.index.to_series(index=np.arange(len(part)))


class _IndexAsSeries(FrameExpr):
    _parameters = ["frame"]
    _is_blockwise = True

    def _compute_meta(self):
        return _index_as_series(self.frame._meta)

    def _task(self, index):
        return Task(self._key(index), _index_as_series, Ref(self.frame._key(index)))


# ------------------------------------------------------------------ the per-partition sorts


def _set_index_and_sort(part, column, drop):
    out = part.set_index(column, drop=drop)
    return out.sort_index()  # pandas' default sort, as set_index + sort_index in pandas


def _set_index_only(part, column, drop):
    return part.set_index(column, drop=drop)


def _set_index_within(part, func, column, drop, index, low, high):
    """``func(part, column, drop)``, after checking its keys lie within the divisions the user gave, ``[low, high]``:
    keys outside them would sit in a partition whose divisions say they are not there (``loc`` would miss them)."""
    out = func(part, column, drop)
    keys = out.index[out.index.notna()]
    if len(keys):
        lowest, highest = keys.min(), keys.max()
        if lowest < low or highest > high:
            raise ValueError(
                f"set_index(divisions=...): partition {index} holds {column!r} values from {_plain(lowest)!r} to "
                f"{_plain(highest)!r}, outside its divisions [{low!r}, {high!r}]; give divisions that cover the "
                "data's range" + (" and its order (sorted=True trusts the data to be sorted already)" if
                                  func is _set_index_only else "") + ", or leave divisions= out to compute them"
            )
    return out


class SetIndexPartitions(FrameExpr):
    """``partition.set_index(column)`` (then sorted, unless ``presorted``) with the given known ``divisions_``;
    ``checked``: the divisions came from the user, so every partition checks its keys lie within its own."""

    _parameters = ["frame", "column", "drop", "divisions_", "presorted", "checked"]
    _defaults = {"checked": False}
    _is_blockwise = True

    def _compute_meta(self):
        return _set_index_only(self.frame._meta, self.column, self.drop)

    def _compute_divisions(self):
        return self.divisions_

    @property
    def _origin(self):
        return self._name

    def _task(self, index):
        func = _set_index_only if self.presorted else _set_index_and_sort
        if self.checked:
            low, high = self.divisions_[index], self.divisions_[index + 1]
            return Task(self._key(index), _set_index_within, Ref(self.frame._key(index)), func, self.column,
                        self.drop, index, low, high)
        return Task(self._key(index), func, Ref(self.frame._key(index)), self.column, self.drop)

    def _explain_args(self):
        return {"column": self.column, "presorted": self.presorted}


def _sort_partition(part, by, ascending, na_position):
    return part.sort_values(by, ascending=ascending, na_position=na_position, kind="stable")


class SortPartitions(SameSchemaBlockwise):
    """Every partition sorted by ``by`` (rows were range-partitioned on ``by[0]`` first)."""

    _parameters = ["frame", "by", "ascending", "na_position"]

    def _task(self, index):
        return Task(self._key(index), _sort_partition, Ref(self.frame._key(index)), list(self.by),
                    list(self.ascending), self.na_position)

    def _explain_args(self):
        return {"by": list(self.by), "ascending": list(self.ascending)}


# ------------------------------------------------------------------ entry points


def _partition_bounds(part, column):
    keys = part[column].dropna()
    if len(keys) == 0:
        return pd.DataFrame({"low": [None], "high": [None], "sorted": [True], "rows": [0]}, dtype=object)
    return pd.DataFrame({"low": [_plain(keys.min())], "high": [_plain(keys.max())],
                         "sorted": [bool(keys.is_monotonic_increasing)], "rows": [len(keys)]}, dtype=object)


def _sorted_divisions(frame, column) -> tuple[tuple, list]:
    """Divisions of data already sorted on ``column`` across partitions, and the non-empty partitions."""
    meta = pd.DataFrame({"low": [], "high": [], "sorted": [], "rows": []}, dtype=object)
    stats = frame.map_partitions(_partition_bounds, column, meta=meta).compute()
    kept = [i for i in range(len(stats)) if stats["rows"].iloc[i] > 0]
    if not kept:
        return (None, None), [0]
    for i in kept:
        if not stats["sorted"].iloc[i]:
            raise ValueError(f"set_index(sorted=True): partition {i} is not sorted on {column!r}; drop sorted=True")
    for a, b in zip(kept[:-1], kept[1:]):
        if stats["high"].iloc[a] > stats["low"].iloc[b]:
            raise ValueError(
                f"set_index(sorted=True): partition {a} ends at {stats['high'].iloc[a]!r} but partition {b} starts "
                f"at {stats['low'].iloc[b]!r}, so the data is not sorted on {column!r} across partitions; "
                "drop sorted=True"
            )
    return tuple(stats["low"].iloc[i] for i in kept) + (stats["high"].iloc[kept[-1]],), kept


_SERIES_KEY = "__shoal_set_index_key__"


def _name_index(part, name):
    return part.rename_axis(index=name)


def set_index(frame, column, drop: bool = True, sorted: bool = False, divisions=None, npartitions: int | None = None,
              shuffle_method: str | None = None):
    """``frame`` indexed by ``column``, globally sorted, with known divisions (see the module docstring)."""
    from .core import new_collection
    from .frames import Index, Series

    if isinstance(column, Index):
        raise TypeError("set_index: give a column name or a shoal Series, not an Index; to sort by the index as it "
                        "is, use set_index on a column holding it (frame.assign(key=frame.index))")
    if isinstance(column, Series):
        # as in pandas, a Series key keeps every column (even one of its name) and names the index after it
        keyed = frame.assign(**{_SERIES_KEY: column})
        indexed = set_index(keyed, _SERIES_KEY, drop=True, sorted=sorted, divisions=divisions,
                            npartitions=npartitions, shuffle_method=shuffle_method)
        return indexed.map_partitions(_name_index, column.name)
    if isinstance(column, list):
        if len(column) != 1:
            raise NotImplementedError("set_index: one key column only (a MultiIndex is not supported)")
        column = column[0]
    frame._check_columns([column], "set_index column")
    if shuffle_method is not None:
        resolve_method(shuffle_method)
    expr = frame._expr
    if divisions is not None:
        divisions = check_divisions(divisions)
    given = divisions is not None
    if sorted:
        if divisions is None:
            divisions, kept = _sorted_divisions(frame, column)
            if kept != list(range(frame.npartitions)):
                expr = Partitions(expr, tuple(kept))
        elif len(divisions) != frame.npartitions + 1:
            raise ValueError(f"set_index(sorted=True, divisions=...): {len(divisions)} divisions given for "
                             f"{frame.npartitions} partitions; give npartitions + 1")
        return new_collection(SetIndexPartitions(expr, column, drop, tuple(divisions), True, given))
    if divisions is None:
        divisions = _divisions_from_sample(expr, column, npartitions or frame.npartitions)
        if not divisions:  # every key is null
            shuffled = Shuffle(expr, (column,), 1, shuffle_method, None, RangeSpec((0, 0)))
            return new_collection(SetIndexPartitions(shuffled, column, drop, (None, None), False))
    ranges = RangeSpec(divisions)
    shuffled = Shuffle(expr, (column,), len(divisions) - 1, shuffle_method, None, ranges)
    return new_collection(SetIndexPartitions(shuffled, column, drop, tuple(divisions), False, given))


def sort_values(frame, by, ascending=True, na_position: str = "last", npartitions: int | None = None,
                shuffle_method: str | None = None):
    """``frame`` sorted by the column(s) ``by`` across all partitions (``ascending`` per column)."""
    from .core import new_collection
    from .frames import DataFrame

    by = [by] if not isinstance(by, (list, tuple)) else list(by)
    if not by:
        raise ValueError("sort_values: give at least one column in by=")
    if isinstance(frame, DataFrame):
        frame._check_columns(by, "sort_values column")
    ascending = [ascending] * len(by) if isinstance(ascending, bool) else list(ascending)
    if len(ascending) != len(by):
        raise ValueError(f"sort_values: {len(ascending)} ascending values for {len(by)} columns {by}")
    if na_position not in ("first", "last"):
        raise ValueError(f"sort_values: na_position must be 'first' or 'last', got {na_position!r}")
    if shuffle_method is not None:
        resolve_method(shuffle_method)
    expr = frame._expr
    divisions = _divisions_from_sample(expr, by[0], npartitions or frame.npartitions)
    if not divisions:
        divisions = (0, 0)
    ranges = RangeSpec(divisions, descending=not ascending[0], nulls_first=na_position == "first")
    shuffled = Shuffle(expr, (by[0],), len(divisions) - 1, shuffle_method, None, ranges)
    return new_collection(SortPartitions(shuffled, tuple(by), tuple(ascending), na_position))
