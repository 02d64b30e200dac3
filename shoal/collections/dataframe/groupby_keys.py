"""Small pieces of ``groupby`` about keys and result layout: ``level=`` and index names as keys,
``as_index=False`` (keys as columns), ``numeric_only=``.

>>> import pandas as pd
>>> keys_as_columns(pd.Series([3, 4], index=pd.Index(["a", "b"], name="k")), "size").columns.tolist()
['k', 'size']
"""

from __future__ import annotations

import pandas as pd

__all__ = ["index_labels", "keys_from_level", "numeric_only_kwargs", "keys_as_columns"]


def index_labels(index: pd.Index) -> pd.Series:
    """The index as a key: its labels, indexed by themselves (``level=0`` or the index's name)."""
    return index.to_series()


def keys_from_level(frame, by, level) -> list:
    """``groupby(level=...)``: the index as a key (shoal collections have one index level)."""
    if by is not None:
        raise TypeError("groupby: give by= or level=, not both")
    levels = level if isinstance(level, (list, tuple)) else [level]
    name = frame.index.name
    for lev in levels:
        if lev not in (0, -1) and (name is None or lev != name):
            raise KeyError(f"groupby(level={lev!r}): the index has one level, 0" +
                           (f" (named {name!r})" if name is not None else ""))
    return [index_labels] * len(levels)


def numeric_only_kwargs(numeric_only: bool) -> dict:
    """``numeric_only=True`` passed on only when set, so pandas' defaults stay untouched otherwise."""
    return {"numeric_only": True} if numeric_only else {}


def keys_as_columns(part, name=None):
    """``as_index=False``: the group keys moved from the index into columns (a Series named ``name`` first)."""
    if isinstance(part, pd.Series):
        part = part.rename(name) if name is not None else part
    return part.reset_index()
