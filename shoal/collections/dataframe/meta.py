"""Meta: the empty pandas object that stands for a collection's partitions.

Every dataframe expression knows its *meta*: an empty ``DataFrame``,
``Series`` or ``Index`` with the columns, dtypes and index type every
partition will have (or, for a reduction to one value, a scalar of the right
type). Operations find their output meta by running the pandas operation on
``meta_nonempty(meta)``: a two-row fake of the same dtypes, because many
functions fail or change dtype on empty input; the result is cut back to zero
rows with ``make_meta``.

>>> import pandas as pd
>>> meta = make_meta(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
>>> len(meta), list(meta.columns)
(0, ['a', 'b'])
>>> fake = meta_nonempty(meta)
>>> len(fake), fake.dtypes.equals(meta.dtypes)
(2, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_dtype_equal

__all__ = ["make_meta", "meta_nonempty", "check_meta", "is_frame_like", "MetaMismatchError", "infer_meta"]

_FAKE_ROWS = 2


class MetaMismatchError(ValueError):
    """A partition's columns or dtypes differ from the meta the plan was built with."""


def is_frame_like(obj: Any) -> bool:
    return isinstance(obj, (pd.DataFrame, pd.Series, pd.Index))


def make_meta(obj: Any, index: Any = None) -> Any:
    """An empty pandas object shaped like ``obj``.

    ``obj`` may be a pandas object (its first zero rows are kept), a dict of
    ``{column: dtype}``, a list of ``(column, dtype)`` pairs, a
    ``(name, dtype)`` tuple (a Series), or a dtype (an unnamed Series).
    Anything else is a scalar meta and is returned unchanged.

    >>> make_meta({"a": "int64", "b": "float64"}).dtypes.tolist()
    [dtype('int64'), dtype('float64')]
    >>> make_meta(("x", "float64"))
    Series([], Name: x, dtype: float64)
    """
    if isinstance(obj, (pd.DataFrame, pd.Series)):
        return obj.iloc[:0]
    if isinstance(obj, pd.Index):
        return obj[:0]
    idx = index[:0] if index is not None else pd.RangeIndex(0)
    if isinstance(obj, dict):
        return pd.DataFrame({k: pd.Series([], dtype=v) for k, v in obj.items()}, index=idx)
    if isinstance(obj, list) and all(isinstance(x, tuple) and len(x) == 2 for x in obj):
        return pd.DataFrame({k: pd.Series([], dtype=v) for k, v in obj}, index=idx)
    if isinstance(obj, tuple) and len(obj) == 2:
        return pd.Series([], dtype=obj[1], name=obj[0], index=idx)
    if isinstance(obj, (str, np.dtype, pd.api.extensions.ExtensionDtype)) or obj is float or obj is int:
        try:
            return pd.Series([], dtype=obj, index=idx)
        except TypeError:
            return obj
    return obj


def _fake_values(dtype: Any, n: int = _FAKE_ROWS) -> Any:
    """``n`` plausible values of ``dtype`` (distinct where the dtype allows)."""
    if isinstance(dtype, pd.CategoricalDtype):
        cats = dtype.categories
        if len(cats):
            values = [cats[i % len(cats)] for i in range(n)]
            return pd.Categorical(values, dtype=dtype)
        return pd.Categorical(["__fake__"] * n, ordered=dtype.ordered)
    if isinstance(dtype, pd.DatetimeTZDtype):
        return pd.array(pd.date_range("2000-01-01", periods=n, tz=dtype.tz, unit=dtype.unit), dtype=dtype)
    if isinstance(dtype, pd.StringDtype):
        return pd.array([chr(ord("a") + i % 26) for i in range(n)], dtype=dtype)
    if isinstance(dtype, pd.PeriodDtype):
        return pd.array(pd.period_range("2000-01-01", periods=n, freq=dtype.freq))
    if isinstance(dtype, pd.IntervalDtype):
        return pd.array(pd.interval_range(0, n), dtype=dtype)
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):
        kind = getattr(dtype, "kind", "O")
        for candidate in _fake_for_kind(kind, n):
            try:
                return pd.array(candidate, dtype=dtype)
            except (TypeError, ValueError):
                continue
        return pd.array([None] * n, dtype=dtype)
    dtype = np.dtype(dtype)
    if dtype.kind == "M":
        return pd.date_range("2000-01-01", periods=n).values.astype(dtype)
    if dtype.kind == "m":
        return pd.timedelta_range("1D", periods=n).values.astype(dtype)
    if dtype.kind == "O":
        return np.array([chr(ord("a") + i % 26) for i in range(n)], dtype=object)
    return np.array(_fake_for_kind(dtype.kind, n)[0], dtype=dtype)


def _fake_for_kind(kind: str, n: int) -> list:
    if kind == "b":
        return [[bool(i % 2 == 0) for i in range(n)]]
    if kind in "iu":
        return [[i + 1 for i in range(n)]]
    if kind == "f":
        return [[float(i + 1) for i in range(n)]]
    if kind == "c":
        return [[complex(i + 1, 1) for i in range(n)]]
    return [[chr(ord("a") + i % 26) for i in range(n)], [i + 1 for i in range(n)]]


def _fake_index(index: pd.Index, n: int = _FAKE_ROWS) -> pd.Index:
    if isinstance(index, pd.RangeIndex):
        return pd.RangeIndex(n, name=index.name)
    if isinstance(index, pd.MultiIndex):
        levels = [_fake_index(index.levels[i].rename(index.names[i])[:0], n) for i in range(index.nlevels)]
        return pd.MultiIndex.from_arrays(levels, names=index.names)
    return pd.Index(_fake_values(index.dtype, n), name=index.name)


def _fake_series(dtype: Any, index: pd.Index) -> pd.Series:
    values = _fake_values(dtype)
    if isinstance(dtype, pd.CategoricalDtype) and not len(dtype.categories):
        return pd.Series(values, index=index)  # categories are unknown: the fake brings its own
    # dtype= keeps object columns object (pandas would infer str from the fake strings)
    return pd.Series(values, index=index, dtype=dtype)


def meta_nonempty(meta: Any) -> Any:
    """A two-row pandas object with the columns, dtypes and index type of ``meta``.

    >>> s = meta_nonempty(pd.Series([], dtype="Int64", name="n"))
    >>> s.tolist(), str(s.dtype), s.name
    ([1, 2], 'Int64', 'n')
    """
    if isinstance(meta, pd.DataFrame):
        index = _fake_index(meta.index)
        data = {i: _fake_series(dt, index) for i, dt in enumerate(meta.dtypes)}
        frame = pd.DataFrame(data, index=index)
        frame.columns = meta.columns
        return frame
    if isinstance(meta, pd.Series):
        index = _fake_index(meta.index)
        return _fake_series(meta.dtype, index).rename(meta.name)
    if isinstance(meta, pd.Index):
        return _fake_index(meta)
    return meta


def infer_meta(func: Any, *args: Any, **kwargs: Any) -> Any:
    """``make_meta(func(*args, **kwargs))`` with the arguments' metas made non-empty.

    Arguments that are pandas objects are replaced by ``meta_nonempty`` of
    themselves. Raises a ``ValueError`` telling the user to pass ``meta=``
    when the function fails on the fake data.
    """
    fake_args = [meta_nonempty(a) if is_frame_like(a) else a for a in args]
    fake_kwargs = {k: meta_nonempty(v) if is_frame_like(v) else v for k, v in kwargs.items()}
    return make_meta(func(*fake_args, **fake_kwargs))


def _dtype_matches(actual: Any, expected: Any) -> bool:
    if is_dtype_equal(actual, expected):
        return True
    # Categories are data (unknown until computed), so only the kind is checked.
    return isinstance(actual, pd.CategoricalDtype) and isinstance(expected, pd.CategoricalDtype)


def check_meta(result: Any, meta: Any, funcname: str = "the function", where: str = "") -> Any:
    """``result`` unchanged if it has the type, columns and dtypes of ``meta``; else a clear error.

    >>> check_meta(pd.Series([1.5]), pd.Series([], dtype="int64"), "f")
    Traceback (most recent call last):
    ...
    shoal.collections.dataframe.meta.MetaMismatchError: f returned a Series of dtype float64, but the meta says int64. Pass meta= with the real output (e.g. meta=(None, 'float64')) or fix the function.
    """
    if not is_frame_like(meta):
        return result
    at = f" ({where})" if where else ""
    fix = "Pass meta= with the real output"
    if type(result) is not type(meta) and not (isinstance(result, pd.Index) and isinstance(meta, pd.Index)):
        raise MetaMismatchError(
            f"{funcname}{at} returned a {type(result).__name__}, but the meta says {type(meta).__name__}. "
            f"{fix} (e.g. meta=<an empty {type(result).__name__}>) or fix the function."
        )
    if isinstance(meta, pd.DataFrame):
        if list(result.columns) != list(meta.columns):
            raise MetaMismatchError(
                f"{funcname}{at} returned columns {list(result.columns)}, but the meta says "
                f"{list(meta.columns)}. {fix} (e.g. meta={{column: dtype, ...}}) or fix the function."
            )
        for i, column in enumerate(meta.columns):
            got, want = result.dtypes.iloc[i], meta.dtypes.iloc[i]
            if not _dtype_matches(got, want):
                raise MetaMismatchError(
                    f"{funcname}{at} returned column {column!r} with dtype {got}, but the meta says {want}. "
                    f"{fix} (e.g. meta={{..., {column!r}: '{got}'}}) or fix the function."
                )
    elif not _dtype_matches(result.dtype, meta.dtype):
        name = getattr(meta, "name", None)
        raise MetaMismatchError(
            f"{funcname}{at} returned a {type(result).__name__} of dtype {result.dtype}, but the meta says "
            f"{meta.dtype}. {fix} (e.g. meta=({name!r}, '{result.dtype}')) or fix the function."
        )
    return result
