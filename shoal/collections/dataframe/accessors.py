"""``.str``, ``.dt`` and ``.cat``: pandas accessors applied partition by partition.

Every attribute of the pandas accessor is forwarded: methods become a
blockwise ``Method`` node whose meta comes from running the pandas method on
the fake partition (so a method that does not exist, or does not apply to the
dtype, fails when the expression is built), and properties (``.dt.year``)
become the same node with no call.
"""

from __future__ import annotations

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
                f"Can only use .{self._name} on a Series of a suitable dtype; this one is {meta.dtype} ({error})"
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


class StringAccessor(_Accessor):
    """``series.str``: every pandas string method, per partition."""

    _name = "str"


class DatetimeAccessor(_Accessor):
    """``series.dt``: every pandas datetime property and method, per partition."""

    _name = "dt"


class CategoricalAccessor(_Accessor):
    """``series.cat``: codes and category operations that do not need the data's categories."""

    _name = "cat"
