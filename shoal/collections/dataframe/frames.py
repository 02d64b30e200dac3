"""The concrete collections: ``DataFrame``, ``Series`` and ``Index`` (shared behaviour is ``core._Frame``)."""

from __future__ import annotations

import operator
import re
import sys

import numpy as np
import pandas as pd

from .blockwise import Assign, Filter, Projection
from .core import (
    _ARITHMETIC, _COMPARISONS, _Collection, _Frame, _binary_method, _unary_method, _unwrap,
    is_scalar_expr, new_collection,
)
from .expr import FrameExpr
from .index_ops import UNARY_OPERATORS, IndexMethods, index_unary_method
from .meta import make_meta, meta_nonempty
from .reductions import REDUCTIONS

__all__ = ["DataFrame", "Series", "Index"]


# ---------------------------------------------------------------------- DataFrame


class DataFrame(_Frame):
    """A pandas DataFrame split into partitions along the index."""

    @property
    def columns(self) -> pd.Index:
        return self._meta.columns

    @columns.setter
    def columns(self, names) -> None:
        names = list(names)
        if len(names) != len(self._meta.columns):
            raise ValueError(f"columns: {len(names)} names given for {len(self._meta.columns)} columns")
        self._expr = self._method("set_axis", names, axis=1)._expr

    @property
    def shape(self):
        return (self.index.count_rows(), len(self.columns))

    @property
    def ndim(self) -> int:
        return 2

    def _check_columns(self, columns, what: str = "column"):
        available = list(self.columns)
        missing = [c for c in columns if c not in available]
        if missing:
            raise KeyError(
                f"{what}{'s' if len(missing) > 1 else ''} {missing if len(missing) > 1 else repr(missing[0])} not found; "
                f"the available columns are {available}"
            )

    def __getitem__(self, key):
        if isinstance(key, _Frame):
            if isinstance(key, DataFrame):
                return self.where(key)
            return self._filter(key)
        if isinstance(key, slice):
            raise NotImplementedError("row slicing of a shoal DataFrame needs loc (not part of this release yet)")
        if isinstance(key, (list, pd.Index, np.ndarray)):
            key = list(key)
            self._check_columns(key)
            return new_collection(Projection(self._expr, key))
        self._check_columns([key])
        return new_collection(Projection(self._expr, key))

    def _filter(self, mask: "Series"):
        aligned = _moved_to(self._expr, mask._expr)
        if aligned is None:
            raise ValueError(
                "Boolean filter: the mask is partitioned differently from the frame and the divisions of one are "
                "unknown; build the mask from the same frame (df[df.x > 0]) or give both known divisions."
            )
        return new_collection(Filter(self._expr, aligned))

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        meta = self.__dict__.get("_expr")
        if meta is not None and name in self._meta.columns:
            return self[name]
        raise AttributeError(
            f"shoal DataFrame has no attribute or column {name!r}; the columns are {list(self._meta.columns)}"
        )

    def __dir__(self):
        return sorted(set(dir(type(self))) | {c for c in self.columns if isinstance(c, str) and c.isidentifier()})

    def __setitem__(self, key, value):
        self._expr = self.assign(**{key: value})._expr

    def assign(self, **kwargs):
        names, values = [], []
        for name, value in kwargs.items():
            if callable(value) and not isinstance(value, _Collection):
                value = value(self)
            value = _unwrap(value)
            if isinstance(value, FrameExpr) and not is_scalar_expr(value):
                aligned = _moved_to(self._expr, value)
                if aligned is None:
                    raise ValueError(
                        f"assign({name}=...): the value is partitioned differently from the frame and the divisions "
                        "of one are unknown; derive it from the same frame or give both known divisions."
                    )
                value = aligned
            if isinstance(value, (pd.Series, pd.DataFrame)):
                raise TypeError(f"assign({name}=...): convert the pandas object with from_pandas first")
            names.append(name)
            values.append(value)
        return new_collection(Assign(self._expr, tuple(names), tuple(values)))

    def rename(self, mapper=None, index=None, columns=None, axis=None, **kwargs):
        """pandas' ``rename``: ``columns=`` / ``index=``, or ``mapper`` with ``axis`` (the index by default)."""
        given = {"mapper": mapper, "index": index, "columns": columns, "axis": axis}
        return self._method("rename", **{k: v for k, v in given.items() if v is not None}, **kwargs)

    def drop(self, labels=None, axis=0, columns=None, errors="raise", index=None):
        if columns is None and (axis in (1, "columns")):
            columns = labels
        if columns is None or index is not None:
            raise NotImplementedError("drop: only columns can be dropped (pass columns= or axis=1); for rows, "
                                      "filter them out, e.g. df[df.map_partitions(lambda part: "
                                      "~part.index.to_series().isin(labels))]")
        cols = [columns] if not isinstance(columns, (list, tuple, pd.Index)) else list(columns)
        if errors == "raise":
            self._check_columns(cols)
        keep = [c for c in self.columns if c not in cols]
        return new_collection(Projection(self._expr, keep))

    def query(self, expr: str, **kwargs):
        # Evaluated on the fake partition now, so a wrong column name fails here, not at compute time.
        return self._method("query", expr, **_caller_variables(expr, kwargs))

    def eval(self, expr: str, **kwargs):
        return self._method("eval", expr, **_caller_variables(expr, kwargs))

    def apply(self, func, axis=0, meta=None, args=(), **kwargs):
        """``func`` on every row (``axis=1`` only); pass ``meta=`` to skip guessing the output."""
        if axis not in (1, "columns"):
            raise NotImplementedError("apply: only axis=1 (row-wise) is supported; use map_partitions otherwise")
        return self.map_partitions(_apply_rows, func, args, kwargs, meta=meta)

    def map(self, func, na_action=None):
        return self._method("map", func, na_action=na_action)

    def reset_index(self, drop=False):
        """The index moved into a column (or dropped), numbered from 0 again in *every* partition, as in Dask;
        divisions become unknown."""
        return self.map_partitions(_reset_index, drop, clear_divisions=True)

    def select_dtypes(self, include=None, exclude=None):
        keep = list(self._meta.select_dtypes(include=include, exclude=exclude).columns)
        return self[keep]

    def groupby(self, by=None, sort=True, dropna=True, observed=True, level=None, as_index=True, **kwargs):
        from .groupby import DataFrameGroupBy

        return DataFrameGroupBy(self, by, sort=sort, dropna=dropna, observed=observed, level=level,
                                as_index=as_index, **kwargs)

    def shuffle(self, on=None, npartitions=None, shuffle_method=None, on_index=False):
        """Rows moved to the partition their key (columns ``on``, or the index) hashes to; see ``shuffle.py``."""
        from .shuffle import shuffle

        return shuffle(self, on, npartitions, shuffle_method, on_index)

    def set_index(self, other, drop=True, sorted=False, divisions=None, npartitions=None, shuffle_method=None):
        """Index by the column ``other``, sorted across partitions with known divisions; see ``sort.py``."""
        from .sort import set_index

        return set_index(self, other, drop=drop, sorted=sorted, divisions=divisions, npartitions=npartitions,
                         shuffle_method=shuffle_method)

    def sort_values(self, by, ascending=True, na_position="last", npartitions=None, shuffle_method=None):
        """Rows sorted by ``by`` (one column or several, ``ascending`` per column) across partitions; see ``sort.py``."""
        from .sort import sort_values

        return sort_values(self, by, ascending=ascending, na_position=na_position, npartitions=npartitions,
                           shuffle_method=shuffle_method)

    def merge(self, right, how="inner", on=None, left_on=None, right_on=None, left_index=False, right_index=False,
              suffixes=("_x", "_y"), indicator=False, npartitions=None, shuffle_method=None, broadcast=None,
              skew=None, validate=None, sort=False):
        """Database-style join with ``right``: aligned, broadcast or hash-shuffled; see ``merge.py``."""
        from .merge import merge

        return merge(self, right, how=how, on=on, left_on=left_on, right_on=right_on, left_index=left_index,
                     right_index=right_index, suffixes=suffixes, indicator=indicator, npartitions=npartitions,
                     shuffle_method=shuffle_method, broadcast=broadcast, skew=skew, validate=validate, sort=sort)

    def join(self, other, on=None, how="left", lsuffix="", rsuffix="", suffixes=None, **kwargs):
        """``other``'s index matched against this frame's column ``on`` (or its index); see ``merge.py``."""
        from .merge import join

        return join(self, other, on=on, how=how, lsuffix=lsuffix, rsuffix=rsuffix, suffixes=suffixes, **kwargs)

    def pivot_table(self, index, columns, values, aggfunc="mean"):
        from .reshape import pivot_table

        return pivot_table(self, index, columns, values, aggfunc)

    def melt(self, id_vars=None, value_vars=None, var_name=None, value_name="value", col_level=None):
        from .reshape import melt

        return melt(self, id_vars, value_vars, var_name, value_name, col_level)

    def drop_duplicates(self, subset=None, keep="first", split_out=None, shuffle_method=None, ignore_index=False):
        """Rows with distinct values of ``subset`` (all columns by default), through a stable shuffle; see ``rows.py``."""
        from .rows import drop_duplicates

        return drop_duplicates(self, subset, keep, split_out, shuffle_method, ignore_index)

    def nlargest(self, n=5, columns=None, keep="first", split_every=None):
        from .rows import nlargest

        return nlargest(self, n, columns, keep, split_every)

    def nsmallest(self, n=5, columns=None, keep="first", split_every=None):
        from .rows import nlargest

        return nlargest(self, n, columns, keep, split_every, method="nsmallest")

    def mode(self, dropna=True, split_every=None):
        """The most frequent value(s) of every column, sorted, padded with missing values (``DataFrame.mode``)."""
        import functools

        from .quantiles import Gather

        modes = [self.iloc[:, i].mode(dropna=dropna, split_every=split_every) for i in range(len(self.columns))]
        meta = make_meta(meta_nonempty(self._meta).mode(dropna=dropna))
        assemble = functools.partial(_frame_of_modes, columns=list(self.columns))
        return new_collection(Gather(tuple(m._expr for m in modes), assemble, meta))

    def value_counts(self, subset=None, normalize=False, sort=True, ascending=False, dropna=True, split_every=None):
        """How often each distinct row (of the ``subset`` columns) occurs, as pandas' ``DataFrame.value_counts``."""
        if isinstance(subset, str):  # one label: pandas counts it as a Series would (a flat index)
            return self[subset].value_counts(dropna=dropna, normalize=normalize, sort=sort, ascending=ascending,
                                             split_every=split_every)
        frame = self if subset is None else self[list(subset)]
        return frame._reduction("value_counts", split_every, dropna=dropna, normalize=normalize, sort=sort,
                                ascending=ascending)

    def count(self, split_every=None, numeric_only=False, axis=0):
        return self._reduction("count", split_every, **({"numeric_only": True} if numeric_only else {}),
                               **({"axis": 1} if axis in (1, "columns") else {}))

    def to_csv(self, path, **kwargs):
        from .io.csv import to_csv

        return to_csv(self, path, **kwargs)

    def to_parquet(self, path, **kwargs):
        from .io.parquet import to_parquet

        return to_parquet(self, path, **kwargs)

    def to_json(self, path, **kwargs):
        from .io.json import to_json

        return to_json(self, path, **kwargs)

def _moved_to(frame: FrameExpr, other: FrameExpr) -> FrameExpr | None:
    """``other`` on ``frame``'s partitions (its rows outside them dropped, as pandas aligns an assigned
    value or a mask to the frame's index); None when a side's divisions are unknown."""
    from .repartition import RepartitionToDivisions

    if frame.partitioning.aligns_with(other.partitioning):
        return other
    known = [e.divisions[0] is not None and len(e.divisions) > 1 for e in (frame, other)]
    if not all(known):
        return None
    try:
        sorted(set(frame.divisions) | set(other.divisions))
    except TypeError:  # labels of types that do not compare
        return None
    return RepartitionToDivisions(other, tuple(frame.divisions))


def _caller_variables(expr: str, kwargs: dict) -> dict:
    """``kwargs`` with ``local_dict`` holding the ``@name`` variables of ``expr`` from the caller's scope.

    pandas looks them up in the frame that called ``query``; run later in a task it would find none.
    Only the names used are captured, so tasks do not carry the caller's other variables.
    """
    names = set(re.findall(r"@([A-Za-z_]\w*)", expr))
    if not names or "local_dict" in kwargs or "level" in kwargs:
        return kwargs
    caller = sys._getframe(2)  # _caller_variables <- query/eval <- the user's code
    found = {}
    for name in names:
        if name in caller.f_locals:
            found[name] = caller.f_locals[name]
        elif name in caller.f_globals:
            found[name] = caller.f_globals[name]
    return dict(kwargs, local_dict=found)


def _frame_of_modes(*modes, columns):
    """Each column's modes side by side from row 0; shorter columns padded with missing values, as pandas does."""
    frame = pd.concat([m.reset_index(drop=True) for m in modes], axis=1, keys=range(len(modes)))
    frame.columns = columns
    return frame


def _reset_index(part, drop, **kwargs):
    return part.reset_index(drop=drop, **kwargs)


def _apply_rows(part, func, args, kwargs):
    return part.apply(func, axis=1, args=args, **kwargs)


# ---------------------------------------------------------------------- Series


class _OneDimensional:
    """What ``Series`` and ``Index`` share as one-dimensional collections (a mixin placed before ``_Frame``): the
    ``name`` and ``dtype`` of their values, read from the meta."""

    @property
    def name(self):
        return self._meta.name

    @property
    def dtype(self):
        return self._meta.dtype


class Series(_OneDimensional, _Frame):
    """A pandas Series split into partitions along the index."""

    @property
    def dtypes(self):
        return self._meta.dtype

    @property
    def shape(self):
        return (self.count_rows(),)

    @property
    def ndim(self) -> int:
        return 1

    def __getitem__(self, key):
        if isinstance(key, (Series, Index)):  # a boolean Index (e.g. s.index > x) selects by position
            aligned = _moved_to(self._expr, key._expr)
            if aligned is None:
                raise ValueError("Boolean filter: the mask is partitioned differently from the series and the "
                                 "divisions of one are unknown; build the mask from the same series")
            return new_collection(Filter(self._expr, aligned))
        raise NotImplementedError("Series[...] supports boolean masks only; use loc for labels (not yet available)")

    def map(self, arg, na_action=None, meta=None):
        if meta is not None:
            return self.map_partitions(_series_map, arg, na_action, meta=meta)
        return self._method("map", arg, na_action=na_action)

    def apply(self, func, meta=None, args=(), **kwargs):
        return self.map_partitions(_series_apply, func, args, kwargs, meta=meta)

    def between(self, left, right, inclusive="both"):
        return self._method("between", left, right, inclusive=inclusive)

    def rename(self, index=None):
        return self._method("rename", index)

    def reset_index(self, drop=False, name=None):
        """The index moved into a column (a DataFrame; ``drop=True`` keeps a Series), numbered from 0 again in
        every partition, as in Dask; divisions become unknown."""
        kwargs = {} if name is None else {"name": name}
        return self.map_partitions(_reset_index, drop, clear_divisions=True, **kwargs)

    def to_frame(self, name=None):
        return self._method("to_frame") if name is None else self._method("to_frame", name)

    def value_counts(self, dropna=True, normalize=False, sort=True, ascending=False, split_every=None):
        return self._reduction("value_counts", split_every, dropna=dropna, normalize=normalize, sort=sort,
                               ascending=ascending)

    def mode(self, dropna=True, split_every=None):
        """The most frequent value(s), sorted (pandas' ``Series.mode``)."""
        spec = REDUCTIONS["mode"]
        meta = make_meta(pd.Series([], dtype=self.dtype, name=self.name))
        return self._reduce_with("mode", spec.chunk, spec.combine, spec.aggregate, {"dropna": dropna},
                                 split_every, meta)

    def sort_values(self, ascending=True, na_position="last", npartitions=None, shuffle_method=None):
        """Values sorted across partitions (see ``sort.py``)."""
        from .sort import sort_values

        name = self.name if self.name is not None else "__series__"
        ordered = sort_values(self.to_frame(name), name, ascending=ascending, na_position=na_position,
                              npartitions=npartitions, shuffle_method=shuffle_method)
        return ordered[name].rename(self.name)

    def drop_duplicates(self, keep="first", split_out=None, shuffle_method=None, ignore_index=False):
        from .rows import drop_duplicates

        return drop_duplicates(self, None, keep, split_out, shuffle_method, ignore_index)

    def nlargest(self, n=5, keep="first", split_every=None):
        from .rows import nlargest

        return nlargest(self, n, None, keep, split_every)

    def nsmallest(self, n=5, keep="first", split_every=None):
        from .rows import nlargest

        return nlargest(self, n, None, keep, split_every, method="nsmallest")

    def unique(self, split_every=None):
        return self._reduce_with("unique", REDUCTIONS["nunique"].chunk, REDUCTIONS["nunique"].combine,
                                 _unique_values, split_every=split_every)

    def groupby(self, by=None, sort=True, dropna=True, observed=True, level=None, **kwargs):
        from .groupby import SeriesGroupBy

        return SeriesGroupBy(self, by, sort=sort, dropna=dropna, observed=observed, level=level, **kwargs)

    @property
    def str(self):
        from .accessors import StringAccessor

        return StringAccessor(self)

    @property
    def dt(self):
        from .accessors import DatetimeAccessor

        return DatetimeAccessor(self)

    @property
    def cat(self):
        from .accessors import CategoricalAccessor

        return CategoricalAccessor(self)

    def to_csv(self, path, **kwargs):
        return self.to_frame().to_csv(path, **kwargs)


def _unique_values(partials, **kwargs):
    return pd.concat(partials).drop_duplicates().reset_index(drop=True)


def _series_map(part, arg, na_action):
    return part.map(arg, na_action=na_action)


def _series_apply(part, func, args, kwargs):
    return part.apply(func, args=args, **kwargs)


# ---------------------------------------------------------------------- Index


class Index(IndexMethods, _OneDimensional, _Frame):
    """The index of a DataFrame or Series, partition by partition, with pandas' Index methods and attributes
    (comparisons give a boolean Index that filters the frame by position; see ``index_ops``)."""

    @property
    def index(self):
        raise AttributeError("An Index has no .index")


for _cls in (DataFrame, Series, Index):
    for _name, _op in _ARITHMETIC.items():
        setattr(_cls, f"__{_name}__", _binary_method(_op))
        setattr(_cls, f"__r{_name}__", _binary_method(_op, reverse=True))
    for _name, _op in _COMPARISONS.items():
        setattr(_cls, f"__{_name}__", _binary_method(_op))
    _cls.__neg__ = _unary_method(operator.neg)
    _cls.__invert__ = _unary_method(operator.invert)
    _cls.__abs__ = _unary_method(operator.abs)
    _cls.__hash__ = object.__hash__
for _op in UNARY_OPERATORS:  # -index, ~mask, abs(index): Index results have unknown divisions (index_ops)
    setattr(Index, f"__{_op.__name__.strip('_')}__", index_unary_method(_op))

def _fill_method(method: str):
    def fill(self, axis=None, limit=None, limit_area=None):
        """Missing values filled from the nearest earlier (ffill) or later (bfill) row, across partitions."""
        from .fill import Fill

        if axis in (1, "columns"):
            return self._method(method, axis=1, limit=limit, limit_area=limit_area)
        if limit is not None or limit_area is not None:
            raise NotImplementedError(f"{method}: limit= and limit_area= are not supported across partitions; "
                                      f"use map_partitions(lambda part: part.{method}(limit=...)) to fill "
                                      "within each partition")
        return new_collection(Fill(self._expr, method))

    fill.__name__ = method
    return fill


for _cls in (DataFrame, Series):
    _cls.ffill = _fill_method("ffill")
    _cls.bfill = _fill_method("bfill")


def _sort_index(self, axis=0, level=None, ascending=True, inplace=False, kind=None, na_position="last",
                sort_remaining=True, ignore_index=False, key=None, npartitions=None, shuffle_method=None):
    """Rows ordered by their index label across partitions: partition by partition when the divisions are
    known, after range-partitioning the index otherwise (see ``sort_index.py``)."""
    from .sort_index import sort_index

    return sort_index(self, ascending=ascending, na_position=na_position, axis=axis, level=level, inplace=inplace,
                      kind=kind, sort_remaining=sort_remaining, ignore_index=ignore_index, key=key,
                      npartitions=npartitions, shuffle_method=shuffle_method)


DataFrame.sort_index = Series.sort_index = _sort_index


def _named_binary_method(name: str, op, reverse: bool = False):
    """``frame.add(other, axis=, level=, fill_value=)``: the plain operator when no option is given (so the
    optimizer sees arithmetic), else pandas' own method on every partition."""

    def method(self, other, axis=None, level=None, fill_value=None):
        if axis is None and level is None and fill_value is None:
            return self._binary(op, other, reverse)
        if isinstance(other, (pd.Series, pd.DataFrame)) and not (
                isinstance(self, DataFrame) and isinstance(other, pd.Series) and axis in (None, 1, "columns")):
            raise TypeError(
                f"{name}: a pandas {type(other).__name__} would be matched against every partition's rows; "
                "convert it with shoal.dataframe.from_pandas and give both the same partitioning"
            )
        options = {k: v for k, v in {"axis": axis, "level": level, "fill_value": fill_value}.items() if v is not None}
        return self._method(name, other, **options)

    method.__name__ = name
    method.__doc__ = f"pandas' ``{name}``, partition by partition (collections must share their partitioning)."
    return method


_NAMED_OPERATORS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv,
                    "truediv": operator.truediv, "floordiv": operator.floordiv, "mod": operator.mod,
                    "pow": operator.pow}
for _name, _op in {**_NAMED_OPERATORS, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
                   "ge": operator.ge, "eq": operator.eq, "ne": operator.ne}.items():
    for _cls in (DataFrame, Series):
        setattr(_cls, _name, _named_binary_method(_name, _op))
for _name, _op in _NAMED_OPERATORS.items():
    for _cls in (DataFrame, Series):
        setattr(_cls, f"r{_name}", _named_binary_method(f"r{_name}", _op, reverse=True))
for _alias, _name in {"subtract": "sub", "multiply": "mul", "divide": "div"}.items():
    for _cls in (DataFrame, Series):
        setattr(_cls, _alias, _named_binary_method(_name, _NAMED_OPERATORS[_name]))


