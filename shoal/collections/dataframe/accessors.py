"""``.str``, ``.dt`` and ``.cat``: pandas accessors applied partition by partition.

Every attribute of the pandas accessor is forwarded: methods become a
blockwise ``Method`` node whose meta comes from running the pandas method on
the fake partition (so a method that does not exist, or does not apply to the
dtype, fails when the expression is built), and properties (``.dt.year``)
become the same node with no call.
"""

from __future__ import annotations

import pandas as pd

from .core import new_collection
from .blockwise import Blockwise

__all__ = ["StringAccessor", "DatetimeAccessor", "CategoricalAccessor"]


def _accessor_property(obj, accessor, attr):
    return getattr(getattr(obj, accessor), attr)


class AccessorProperty(Blockwise):
    """``partition.<accessor>.<attr>`` (a property such as ``.dt.year``)."""

    _parameters = ["frame", "accessor", "attr"]
    operation = staticmethod(_accessor_property)

    def _blockwise_args(self):
        return [self.frame, self.accessor, self.attr]

    @property
    def _funcname(self):
        return f"{self.accessor}-{self.attr}".replace("_", "-")


class _Accessor:
    _name = ""
    _pandas_accessor: type = object

    def __init__(self, series):
        meta = series._meta
        try:
            getattr(meta, self._name)
        except AttributeError as error:
            raise AttributeError(
                f"Can only use .{self._name} on {_with_article(type(series).__name__)} of a suitable dtype; this "
                f"one is {meta.dtype} ({error})"
            ) from None
        self._series = series

    def __getattr__(self, attr):
        if attr.startswith("_"):
            raise AttributeError(attr)
        pandas_attr = getattr(type(getattr(self._series._meta, self._name)), attr, None)
        if pandas_attr is None:
            raise AttributeError(f"pandas' .{self._name} accessor has no attribute {attr!r}")
        if isinstance(pandas_attr, property) or not callable(pandas_attr):
            return new_collection(AccessorProperty(self._series._expr, self._name, attr))

        def method(*args, **kwargs):
            return self._series._method(attr, *args, accessor=self._name, **kwargs)

        method.__name__ = attr
        return method

    def __dir__(self):
        return [a for a in dir(getattr(self._series._meta, self._name)) if not a.startswith("_")]


def _with_article(noun: str) -> str:
    return f"{'an' if noun[:1] in 'AEIOU' else 'a'} {noun}"


class StringAccessor(_Accessor):
    """``series.str``: every pandas string method, per partition."""

    _name = "str"

    def __getitem__(self, key):
        """``series.str[i]`` / ``series.str[i:j]``: a character or a slice of every string."""
        return self._series._method("__getitem__", key, accessor="str")

    def get_dummies(self, sep="|", dtype=None):
        # per partition, each would get columns for only the tokens it holds: refuse rather than misalign
        raise NotImplementedError(
            "str.get_dummies: its columns are the tokens found in all the values, unknown until computed. With the "
            "tokens known, use series.map_partitions(lambda part: part.str.get_dummies(sep).reindex("
            "columns=tokens, fill_value=0))"
        )

    def cat(self, others=None, sep=None, na_rep=None, join="left"):
        """Without ``others``: every string joined into one (a lazy scalar); with it, row by row."""
        if others is not None:
            return self._series._method("cat", others, sep=sep, na_rep=na_rep, join=join, accessor="str")
        return self._series._reduce_with("str-cat", _cat_chunk, _cat_join, _cat_join, {"sep": sep, "na_rep": na_rep},
                                         meta="")


class DatetimeAccessor(_Accessor):
    """``series.dt``: every pandas datetime property and method, per partition."""

    _name = "dt"


class CategoricalAccessor(_Accessor):
    """``series.cat``: codes and category operations that do not need the data's categories."""

    _name = "cat"

    @property
    def known(self) -> bool:
        """Whether the categories are known without computing (unknown after a per-partition ``astype``)."""
        return len(self._series._meta.cat.categories) > 0

    @property
    def categories(self):
        """The categories (a pandas Index), from the metadata; unknown ones need ``as_known()`` first."""
        if not self.known:
            raise ValueError("The categories are not known until the data is read (each partition made its own); "
                             "use series.cat.as_known() to compute them")
        return self._series._meta.cat.categories

    @property
    def ordered(self) -> bool:
        return self._series._meta.cat.ordered

    @property
    def codes(self):
        """The integer code of every value; needs known categories (each partition would number its own)."""
        if not self.known:
            raise ValueError("cat.codes needs known categories: with unknown ones each partition numbers its own; "
                             "use series.cat.as_known().cat.codes")
        return new_collection(AccessorProperty(self._series._expr, "cat", "codes"))

    def as_known(self):
        """The series with its categories computed (all distinct values, sorted as ``astype('category')`` sorts)."""
        if self.known:
            return self._series
        found = self._series.map_partitions(_categories_of, meta=pd.Series([], dtype=object)).compute()
        kind = self._series._meta.cat.categories.dtype
        dtype = pd.CategoricalDtype(pd.Index(found.drop_duplicates(), dtype=kind).sort_values(), ordered=self.ordered)
        # meta given: the fake partition's values are not among the real categories
        return self._series.map_partitions(_as_dtype, dtype, meta=self._series._meta.astype(dtype))


def _as_dtype(part, dtype):
    return part.astype(dtype)


def _categories_of(part):
    return pd.Series(part.cat.categories, dtype=object)


def _cat_chunk(part, sep=None, na_rep=None):
    return part.str.cat(sep=sep, na_rep=na_rep) if len(part) else None


def _cat_join(partials, sep=None, na_rep=None):
    return (sep or "").join(p for p in partials if p is not None)
