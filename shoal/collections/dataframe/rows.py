"""Row selections that look across partitions: ``drop_duplicates`` (through a shuffle), ``nlargest``/``nsmallest``
(a tree reduction keeping ``n`` rows per step).

``drop_duplicates`` shuffles the rows on the compared columns (all of them
by default) so equal rows meet in one partition, then drops duplicates
there. The shuffle is stable, so ``keep="first"``/``"last"`` keep the same
row pandas keeps; rows leave in partition order of their hash (compare after
``sort_index``). ``split_out`` sets the number of output partitions.

>>> import pandas as pd, shoal.dataframe as dd
>>> pdf = pd.DataFrame({"x": [1, 2, 1, 3, 2], "y": list("abcde")})
>>> df = dd.from_pandas(pdf, npartitions=2)
>>> df.drop_duplicates(subset="x").compute(scheduler="sync").sort_index().y.tolist()
['a', 'b', 'd']
>>> df.nlargest(2, "x").compute(scheduler="sync").y.tolist()
['d', 'b']
"""

from __future__ import annotations

import numpy as np

from .blockwise import Method, Projection
from .concat import RenumberRows
from .parts import _concat
from .reductions import TreeReduce
from .shuffle import INDEX_KEY, shuffle_expr

__all__ = ["drop_duplicates", "nlargest"]


def drop_duplicates(frame, subset=None, keep="first", split_out=None, shuffle_method=None, ignore_index=False):
    from .core import new_collection
    from .frames import DataFrame, Series

    if keep not in ("first", "last", False):
        raise ValueError(f"drop_duplicates: keep must be 'first', 'last' or False, got {keep!r}")
    if isinstance(frame, Series):
        name = frame.name if frame.name is not None else "__series__"
        as_frame = frame.to_frame(name)
        result = drop_duplicates(as_frame, None, keep, split_out, shuffle_method, ignore_index)
        return new_collection(Projection(result._expr, name)).rename(frame.name)
    if not isinstance(frame, DataFrame):
        raise TypeError(f"drop_duplicates works on shoal DataFrames and Series, not {type(frame).__name__}")
    columns = list(frame.columns) if subset is None else ([subset] if not isinstance(subset, (list, tuple)) else
                                                          list(subset))
    frame._check_columns(columns, "drop_duplicates subset column")
    shuffled = shuffle_expr(frame._expr, tuple(columns) if columns else (INDEX_KEY,), split_out, shuffle_method)
    kwargs = {"subset": None if subset is None else columns, "keep": keep}
    kept = Method(shuffled, "drop_duplicates", (), kwargs)
    # numbered across partitions (in the shuffled order), not from 0 in each
    return new_collection(RenumberRows(kept) if ignore_index else kept)


def _top(part, method, n, columns, keep):
    if columns is None:
        return getattr(part, method)(n, keep=keep)
    return getattr(part, method)(n, columns, keep=keep)


def _top_in_order(part, method, n, columns, keep):
    """The rows ``_top`` selects, left in their original order, so ties are broken later as pandas would."""
    positions = _top(part.set_axis(np.arange(len(part))), method, n, columns, keep).index
    return part.iloc[np.sort(np.asarray(positions))]


def _concat_nonempty(parts):
    return _concat([p for p in parts if len(p)] or parts[:1])


def _top_of_in_order(parts, method, n, columns, keep):
    return _top_in_order(_concat_nonempty(parts), method, n, columns, keep)


def _top_of(parts, method, n, columns, keep):
    return _top(_concat_nonempty(parts), method, n, columns, keep)


def nlargest(frame, n=5, columns=None, keep="first", split_every=None, method="nlargest"):
    """The ``n`` rows with the largest (``nsmallest``: smallest) values, in pandas' order."""
    from .core import new_collection
    from .frames import DataFrame
    from .meta import make_meta

    if isinstance(frame, DataFrame):
        if columns is None:
            raise TypeError(f"{method}: give the column(s) to order by in columns=")
        frame._check_columns([columns] if not isinstance(columns, list) else columns, f"{method} column")
    if keep not in ("first", "last", "all"):
        raise ValueError(f"{method}: keep must be 'first', 'last' or 'all', got {keep!r}")
    kwargs = {"method": method, "n": n, "columns": columns, "keep": keep}
    meta = make_meta(frame._meta)
    return new_collection(TreeReduce(frame._expr, _top_in_order, _top_of_in_order, _top_of, kwargs, split_every, meta, method))
