"""What the ``Index`` collection does as pandas' Index does: comparisons, arithmetic, datetime fields, ``.str``,
``isin``, ``map``, ``to_series``/``to_frame`` and reductions, partition by partition.

Theory of operation:

- Every attribute of the partitions' pandas Index class is reachable by
  delegation (``IndexMethods.__getattr__``): a property such as
  ``index.month`` or ``index.is_month_start`` becomes an ``IndexAttribute``
  node, a method such as ``index.floor("h")`` or ``index.tz_convert(tz)`` an
  ``IndexMethod`` node. The meta comes from running pandas on the fake
  partition, so an attribute the index's dtype lacks fails when the
  expression is built, with an ``AttributeError`` naming it and the dtype.
- pandas answers some of these with a NumPy array instead of an Index
  (``index > ts``, ``index.isin(...)``, ``index.is_month_start``,
  ``index.date``). A partition of a shoal collection must stay a pandas
  object, so such an array becomes a ``pd.Index`` of the same dtype, named
  like the index (``_as_pandas``). It keeps the array's meaning: a boolean
  Index selects rows *by position*, as the array does, so
  ``df[df.index.month == 3]``, ``df.loc[mask]``, ``mask & other`` and
  ``~mask`` give pandas' rows.
  ``.compute()`` of a mask therefore returns a boolean ``pd.Index`` (pandas
  gives the bare array, ``np.asarray`` of ours; Dask gives a dask Array that
  cannot filter the frame).
- A result of an Index operation has *unknown divisions*: its values are no
  longer the row labels the divisions bound (``index + 1h``, ``index.month``,
  a boolean mask). It keeps its input's ``_origin``, which is what lets it
  line up with the frame it came from partition by partition. Operations
  that keep the values as labels (``to_series``, ``to_frame``, ``rename``)
  keep the divisions.
- What depends on the whole index rather than one partition
  (``sort_values``, ``duplicated``, ``get_loc``, ``freq``, ...) is refused
  with a ``NotImplementedError`` that says what to do instead; reductions
  (``min``, ``max``, ``count``, ``nunique``, ``sum``, ...) are tree
  reductions over the index's values, as a Series has them, and
  ``is_unique``, ``is_monotonic_increasing``, ``hasnans``, ``empty`` are
  lazy Scalars built on them.

>>> import pandas as pd
>>> from shoal.collections.dataframe.io.pandas import from_pandas
>>> pdf = pd.DataFrame({"x": range(4)}, index=pd.date_range("2024-01-30", periods=4, name="day"))
>>> df = from_pandas(pdf, npartitions=2)
>>> df[df.index.month == 2].compute(scheduler="sync").x.tolist()
[2, 3]
>>> (df.index > "2024-01-31").compute(scheduler="sync").tolist()
[False, False, True, True]
"""

from __future__ import annotations

import operator

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray

from .blockwise import Blockwise, explain_method_call
from .core import _unwrap, new_collection
from .expr import FrameExpr, is_scalar_expr
from .meta import is_frame_like, make_meta, meta_nonempty
from .repartition import aligned_exprs

__all__ = ["IndexMethods", "IndexElemwise", "IndexMethod", "IndexAttribute", "index_unary_method"]

#: attributes read from the meta: they follow from the dtype, so every partition has the same
_FROM_META = frozenset({"dtype", "name", "names", "nlevels", "ndim", "tz", "tzinfo", "unit"})

#: methods whose answer for the whole index is not the partitions' answers put together
_WHOLE_INDEX = frozenset({
    "append", "argmax", "argmin", "argsort", "asof", "asof_locs", "delete", "diff", "difference", "drop",
    "drop_duplicates", "duplicated", "equals", "factorize", "freq", "freqstr", "get_indexer", "get_indexer_for",
    "get_indexer_non_unique", "get_loc", "get_slice_bound", "groupby", "identical", "indexer_at_time",
    "indexer_between_time", "inferred_freq", "insert", "intersection", "item", "join", "median", "memory_usage",
    "ravel", "reindex", "repeat", "searchsorted", "slice_indexer", "slice_locs", "sort", "sort_values", "sortlevel",
    "symmetric_difference", "take", "to_list", "to_numpy", "tolist", "union", "view",
})

#: methods whose result keeps the input's values as its labels, so the divisions stay true
_KEEP_DIVISIONS = frozenset({"to_series", "to_frame", "rename", "set_names", "copy"})

_ABSENT = object()

#: reductions computed over the values as a Series (pandas' Index lacks several: count, sum, mean, ...)
_REDUCTIONS = ("sum", "prod", "product", "mean", "var", "std", "sem", "count", "min", "max", "any", "all",
               "nunique", "quantile", "describe", "value_counts", "mode")


def _as_pandas(result, source: pd.Index):
    """``result`` as a pandas object: a 1-d NumPy or extension array (pandas' answer to ``index > x``,
    ``index.isin``, ``index.is_month_start``, ...) becomes a ``pd.Index`` of the same dtype, named like the
    ``source`` index it was computed from. pandas itself answers some methods with an array on some values and
    a named Index on others (``.str.contains`` with and without missing values), so the name keeps the
    partitions alike when they are put together."""
    if isinstance(result, (np.ndarray, ExtensionArray)) and result.ndim == 1:
        return pd.Index(result, dtype=result.dtype, name=getattr(source, "name", None))
    return result


def _index_elemwise(op, /, *args):
    indexes = [a for a in args if isinstance(a, pd.Index)]
    names = {a.name for a in indexes}
    return _as_pandas(op(*args), indexes[0] if len(names) == 1 else None)


def _index_method(values, method, accessor, /, *args, **kwargs):
    # positional-only: pandas' keywords (to_frame(index=...), rename(name=...)) must not collide with these
    owner = getattr(values, accessor) if accessor is not None else values
    return _as_pandas(getattr(owner, method)(*args, **kwargs), values)


def _index_attribute(values, accessor, attr):
    owner = getattr(values, accessor) if accessor is not None else values
    return _as_pandas(getattr(owner, attr), values)


def _index_map(values, mapper, na_action):
    return _as_pandas(values.map(mapper, na_action=na_action), values)


def _series_to_index(series):
    return pd.Index(series, name=series.name)


class _IndexBlockwise(Blockwise):
    """Partition ``i`` from partition ``i`` of an Index: same origin, divisions unknown (see the module docstring)."""

    def _compute_divisions(self):
        return (None,) * len(self._frame_inputs()[0].divisions)

    def _compute_meta(self):
        # a one-value answer (index.inferred_type, index.get_loc(x)) is kept as it is for the error that refuses
        # it; make_meta would take a string such as 'datetime64' for a dtype
        args = [meta_nonempty(a._meta) if isinstance(a, FrameExpr) else a for a in self._blockwise_args()]
        result = type(self).operation(*args, **self._blockwise_kwargs())
        return make_meta(result) if is_frame_like(result) else result


class IndexElemwise(_IndexBlockwise):
    """``op(*args)`` where an argument is an Index: arithmetic, comparisons and logic, arrays made Indexes."""

    _parameters = ["op", "args"]
    operation = staticmethod(_index_elemwise)

    def _blockwise_args(self):
        return [self.op, *self.args]

    @property
    def _funcname(self):
        return "index-" + getattr(self.op, "__name__", "op").strip("_").replace("_", "-")

    def _explain_args(self):
        return {"op": getattr(self.op, "__name__", repr(self.op))}


class IndexMethod(_IndexBlockwise):
    """``index.<method>(*args, **kwargs)`` (or ``index.<accessor>.<method>``) on every partition."""

    _parameters = ["frame", "method", "args", "kwargs", "accessor"]
    _defaults = {"args": (), "kwargs": None, "accessor": None}
    operation = staticmethod(_index_method)

    def _blockwise_args(self):
        return [self.frame, self.method, self.accessor, *self.args]

    def _blockwise_kwargs(self):
        return self.kwargs or {}

    def _compute_divisions(self):
        keeps_labels = self.method in _KEEP_DIVISIONS and self.accessor is None and (
            self.kwargs or {}).get("index", True) is not False
        return self.frame.divisions if keeps_labels else super()._compute_divisions()

    @property
    def _funcname(self):
        return "index-" + (f"{self.accessor}-" if self.accessor else "") + self.method.replace("_", "-")

    def _explain_args(self):
        return explain_method_call(self)


class IndexAttribute(_IndexBlockwise):
    """``index.<attr>`` (or ``index.<accessor>.<attr>``), a property such as ``month`` or ``is_month_start``."""

    _parameters = ["frame", "attr", "accessor"]
    _defaults = {"accessor": None}
    operation = staticmethod(_index_attribute)

    def _blockwise_args(self):
        return [self.frame, self.accessor, self.attr]

    @property
    def _funcname(self):
        return "index-" + (f"{self.accessor}-" if self.accessor else "") + self.attr.replace("_", "-")


def _refuse_whole_index(name: str):
    raise NotImplementedError(
        f"Index.{name} depends on the whole index, not on one partition at a time, so shoal does not run it "
        f"lazily; compute the index first (index.compute().{name})"
    )


def _check_operand(value, what: str) -> None:
    if isinstance(value, (pd.DataFrame, pd.Series, pd.Index, np.ndarray, list)):
        raise TypeError(
            f"{what}: a {type(value).__name__} would be matched against every partition's rows; convert it with "
            "shoal.dataframe.from_pandas (or compare with a single value) and give both the same partitioning"
        )


def index_unary_method(op):
    """``-index``, ``~mask``, ``abs(index)`` as an ``IndexElemwise`` (divisions unknown, arrays made Indexes)."""

    def method(self):
        return new_collection(IndexElemwise(op, (self._expr,)))

    method.__name__ = f"__{op.__name__.strip('_')}__"
    return method


class IndexMethods:
    """The pandas-Index behaviour of shoal's ``Index`` collection (a mixin placed before ``_Frame``)."""

    # ------------------------------------------------------------------ building nodes
    def _index_result(self, expr: FrameExpr, what: str):
        """``expr`` as a collection, or an error when pandas gives one value per partition rather than per row."""
        if not is_frame_like(expr._meta):
            _refuse_whole_index(what)
        return new_collection(expr)

    def _method(self, method: str, *args, accessor: str | None = None, **kwargs):
        """``partition.<method>(*args, **kwargs)``; collections among ``args`` are matched partition by partition."""
        exprs = [_unwrap(a) for a in args]
        kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
        if any(isinstance(v, FrameExpr) for v in kwargs.values()):
            raise TypeError(f"Index.{method}: pass collections as positional arguments")
        frames = [e for e in exprs if isinstance(e, FrameExpr) and not is_scalar_expr(e)]
        own = self._expr
        if frames:
            own, *exprs = aligned_exprs([own, *exprs], [own, *frames],
                                        f"Index.{method}: cannot match the arguments' rows with this index's")
        name = f"{accessor}.{method}" if accessor else method
        return self._index_result(IndexMethod(own, method, tuple(exprs), kwargs or None, accessor), name)

    def _binary(self, op, other, reverse=False):
        _check_operand(other, f"Index {getattr(op, '__name__', 'operation')}")
        exprs = [self._expr, _unwrap(other)]
        if reverse:
            exprs.reverse()
        frames = [e for e in exprs if isinstance(e, FrameExpr) and not is_scalar_expr(e)]
        if len(frames) > 1:
            exprs = aligned_exprs(exprs, frames, "Cannot combine collections partition by partition")
        return new_collection(IndexElemwise(op, tuple(exprs)))

    # ------------------------------------------------------------------ delegation to pandas
    def __getattr__(self, name: str):
        if name.startswith("_") or "_expr" not in self.__dict__:
            raise AttributeError(name)
        meta = self._meta
        found = getattr(type(meta), name, _ABSENT)
        if found is _ABSENT:
            raise AttributeError(
                f"shoal Index of dtype {meta.dtype} has no attribute {name!r}: pandas' {type(meta).__name__} has "
                "none (datetime fields such as .month need a datetime index; .str needs strings)"
            )
        if name == "str":  # here, not a property: its AttributeError for a non-string index must not be retried
            from .accessors import StringAccessor

            return StringAccessor(self)
        if name in _FROM_META:
            return getattr(meta, name)
        if name in _WHOLE_INDEX:
            _refuse_whole_index(name)
        if callable(found) and not isinstance(found, type):
            def method(*args, **kwargs):
                return self._method(name, *args, **kwargs)

            method.__name__ = name
            method.__doc__ = f"pandas' ``Index.{name}`` on every partition."
            return method
        return self._index_result(IndexAttribute(self._expr, name), name)

    def __dir__(self):
        own = set(dir(type(self)))
        pandas_names = {n for n in dir(self._meta) if not n.startswith("_") and n not in _WHOLE_INDEX}
        return sorted(own | pandas_names)

    # ------------------------------------------------------------------ methods whose pandas signature differs
    def round(self, *args, **kwargs):
        """pandas' ``Index.round``: ``round(freq)`` on a datetime index, ``round(decimals)`` on numbers."""
        return self._method("round", *args, **kwargs)

    def shift(self, periods=1, freq=None):
        """pandas' ``Index.shift``: every value moved by ``periods * freq`` (rows stay where they are)."""
        return self._method("shift", periods, freq=freq)

    def map(self, mapper, na_action=None, meta=None):
        """``mapper`` (a function, dict or Series) on every value; ``meta=`` (e.g. ``pd.Index([], dtype=...)``)
        skips guessing the output from the fake partition."""
        if meta is None:
            return self._method("map", mapper, na_action=na_action)
        return self.map_partitions(_index_map, mapper, na_action, meta=meta, clear_divisions=True)

    def to_series(self, index=None, name=None):
        """A Series of the values, indexed by them (``index=`` is not supported: its rows would not line up)."""
        if index is not None:
            raise NotImplementedError("Index.to_series(index=...): pass no index; use .to_series().set_axis(...) "
                                      "on computed data, or assign the values into a frame")
        return self._method("to_series", **({} if name is None else {"name": name}))

    def to_frame(self, index=True, name=None):
        """A one-column DataFrame of the values, indexed by them (``index=False``: numbered per partition)."""
        kwargs = {"index": index}
        if name is not None:
            kwargs["name"] = name
        return self._method("to_frame", **kwargs)

    @property
    def hasnans(self):
        """Whether any value is missing (a lazy Scalar)."""
        return self.isna().any()

    @property
    def shape(self):
        """``(number of rows,)`` with the count lazy, as a Series' ``shape``."""
        return (self.count_rows(),)

    @property
    def empty(self):
        """Whether the index has no values (a lazy Scalar)."""
        return self.count_rows() == 0

    @property
    def is_unique(self):
        """Whether no value repeats, missing values included as pandas counts them (a lazy Scalar)."""
        return self.nunique(dropna=False) == self.count_rows()

    @property
    def has_duplicates(self):
        """Whether some value repeats (a lazy Scalar)."""
        return self.nunique(dropna=False) != self.count_rows()

    @property
    def is_monotonic_increasing(self):
        """Whether every value is at least the one before, across partitions (a lazy Scalar)."""
        return self._reduce_with("is-monotonic-increasing", _monotonic_chunk, _monotonic_combine,
                                 _monotonic_aggregate, {"increasing": True}, meta=True)

    @property
    def is_monotonic_decreasing(self):
        """Whether every value is at most the one before, across partitions (a lazy Scalar)."""
        return self._reduce_with("is-monotonic-decreasing", _monotonic_chunk, _monotonic_combine,
                                 _monotonic_aggregate, {"increasing": False}, meta=True)

    def unique(self, split_every=None):
        """The distinct values in order of first appearance, as an Index in one partition."""
        values = self._values_series().unique(split_every=split_every)
        return values.map_partitions(_series_to_index, meta=pd.Index(values._meta, name=self.name))

    def __getitem__(self, key):
        """``index[mask]``: the values where a boolean mask of the same rows is true."""
        from .blockwise import Filter
        from .frames import Series

        if not isinstance(key, (IndexMethods, Series)):
            raise NotImplementedError("Index[...] supports boolean masks built from the same frame only; "
                                      "for positions or labels compute the index first")
        if not self._expr.partitioning.aligns_with(key._expr.partitioning):
            raise ValueError("Index[mask]: the mask is partitioned differently from the index; build it from the "
                             "same frame (df.index[df.index.month == 3])")
        return new_collection(Filter(self._expr, key._expr))

    # ------------------------------------------------------------------ reductions
    def _values_series(self):
        """The values as a Series (indexed by themselves), which every reduction understands."""
        return new_collection(IndexMethod(self._expr, "to_series"))


def _monotonic_chunk(part: pd.Index, increasing: bool) -> tuple:
    """``(ordered within the part, first value, last value, has values)``: what joining parts needs."""
    ordered = part.is_monotonic_increasing if increasing else part.is_monotonic_decreasing
    return (ordered, part[0], part[-1], True) if len(part) else (True, None, None, False)


def _monotonic_combine(partials: list, increasing: bool) -> tuple:
    """Neighbouring parts (in order) as one: ordered when each is and every boundary is too."""
    ordered, first, last, seen = True, None, None, False
    for part_ordered, part_first, part_last, has_values in partials:
        if not has_values:
            continue
        ordered = ordered and part_ordered
        if seen and ordered:
            ordered = bool(last <= part_first) if increasing else bool(last >= part_first)
        first = part_first if not seen else first
        last, seen = part_last, True
    return ordered, first, last, seen


def _monotonic_aggregate(partials: list, increasing: bool) -> bool:
    return bool(_monotonic_combine(partials, increasing)[0])


def _reduction_method(name: str):
    def reduce(self, *args, **kwargs):
        return getattr(self._values_series(), name)(*args, **kwargs)

    reduce.__name__ = name
    reduce.__doc__ = f"``{name}`` of the index's values, as a tree reduction over the partitions."
    return reduce


for _name in _REDUCTIONS:
    setattr(IndexMethods, _name, _reduction_method(_name))

#: the operators the frames module installs on Index go through ``IndexMethods._binary``; these are the unary ones
UNARY_OPERATORS = (operator.neg, operator.invert, operator.abs)
