"""Collections from in-memory data: ``from_pandas``, ``from_dict``, ``from_delayed``, ``from_map``."""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import pandas as pd

from ..core import new_collection
from ..meta import make_meta
from ..sources import FromDelayed, FromMap, FromPandas

__all__ = ["from_pandas", "from_dict", "from_delayed", "from_map"]


def _sorted_bounds(index: pd.Index, npartitions: int) -> tuple[list, list]:
    """Row positions cutting a sorted index into about ``npartitions`` parts, never splitting equal labels."""
    n = len(index)
    raw = sorted({int(round(i * n / npartitions)) for i in range(npartitions)} | {n})
    bounds = [0]
    for b in raw[1:-1]:
        # Move the cut past a run of equal labels, so one label lives in one partition.
        b = int(index.searchsorted(index[b], side="left")) if b < n else n
        if b > bounds[-1]:
            bounds.append(b)
    bounds.append(n)
    divisions = index[[*bounds[:-1], n - 1]].tolist()
    return bounds, divisions


def from_pandas(data, npartitions: int | None = None, chunksize: int | None = None, sort: bool = True):
    """A collection over a pandas DataFrame or Series, cut into partitions.

    Give ``npartitions`` or ``chunksize`` (rows per partition). With
    ``sort=True`` the data is sorted by its index first and the divisions
    (the index bounds of every partition) are known; with ``sort=False`` the
    rows keep their order and the divisions are unknown.

    >>> import pandas as pd
    >>> df = from_pandas(pd.DataFrame({"a": [3, 1, 2]}, index=[30, 10, 20]), npartitions=2)
    >>> df.divisions
    (10, 30, 30)
    """
    if isinstance(data, pd.Index):
        raise TypeError("from_pandas: pass a DataFrame or Series (use .to_series() for an Index)")
    if not isinstance(data, (pd.DataFrame, pd.Series)):
        raise TypeError(f"from_pandas expects a pandas DataFrame or Series, got {type(data).__name__}")
    if (npartitions is None) == (chunksize is None):
        raise ValueError("from_pandas: give exactly one of npartitions= or chunksize=")
    n = len(data)
    if chunksize is not None:
        if chunksize < 1:
            raise ValueError(f"from_pandas: chunksize must be positive, got {chunksize}")
        npartitions = max(1, math.ceil(n / chunksize))
    if npartitions < 1:
        raise ValueError(f"from_pandas: npartitions must be positive, got {npartitions}")
    if sort and n:
        if not data.index.is_monotonic_increasing:
            data = data.sort_index()
        try:
            bounds, divisions = _sorted_bounds(data.index, min(npartitions, n))
            return new_collection(FromPandas(data, tuple(bounds), tuple(divisions)))
        except TypeError:
            pass  # an index that cannot be ordered (mixed types): fall back to unknown divisions
    npartitions = max(1, min(npartitions, n)) if n else 1
    bounds = [int(round(i * n / npartitions)) for i in range(npartitions)] + [n]
    return new_collection(FromPandas(data, tuple(bounds), (None,) * (npartitions + 1)))


def from_dict(data: dict, npartitions: int, orient: str = "columns", dtype=None, columns=None):
    """``from_pandas(pd.DataFrame.from_dict(data, ...), npartitions)``."""
    frame = pd.DataFrame.from_dict(data, orient=orient, dtype=dtype, columns=columns)
    return from_pandas(frame, npartitions=npartitions)


def from_delayed(dfs: Iterable, meta: Any = None, divisions: Iterable | None = None, verify_meta: bool = True):
    """A collection whose partitions are the values of ``Delayed`` objects, or of distributed
    ``Future``s of pandas objects (as in Dask: built on the futures' keys, nothing recomputed).

    Without ``meta=`` the first partition is computed (or a future's result
    fetched) to learn it. Every partition is checked against the meta when computed.
    """
    from ...delayed_pieces import check_piece, piece_value

    dfs = list(dfs)
    if not dfs:
        raise ValueError("from_delayed needs at least one Delayed object or Future")
    for i, d in enumerate(dfs):
        check_piece(d, i, "from_delayed")
    if meta is None:
        meta = make_meta(piece_value(dfs[0]))
    else:
        meta = make_meta(meta)
    divisions = tuple(divisions) if divisions is not None else (None,) * (len(dfs) + 1)
    if len(divisions) != len(dfs) + 1:
        raise ValueError(f"from_delayed: divisions must have {len(dfs) + 1} entries (one more than the partitions)")
    return new_collection(FromDelayed(tuple(dfs), meta, divisions, verify_meta))


def from_map(func: Callable, *iterables: Iterable, meta: Any = None, divisions: Iterable | None = None, **kwargs):
    """Partition ``i`` is ``func(iterables[0][i], iterables[1][i], ..., **kwargs)``.

    Without ``meta=`` the first partition is computed eagerly to learn it.
    """
    lists = [list(it) for it in iterables]
    if not lists or not lists[0]:
        raise ValueError("from_map needs at least one non-empty iterable")
    lengths = {len(x) for x in lists}
    if len(lengths) != 1:
        raise ValueError(f"from_map: the iterables have different lengths {sorted(lengths)}")
    n = len(lists[0])
    if meta is None:
        meta = make_meta(func(*[x[0] for x in lists], **kwargs))
    else:
        meta = make_meta(meta)
    divisions = tuple(divisions) if divisions is not None else (None,) * (n + 1)
    if len(divisions) != n + 1:
        raise ValueError(f"from_map: divisions must have {n + 1} entries (one more than the partitions)")
    return new_collection(FromMap(func, tuple(tuple(x) for x in lists), kwargs, meta, divisions))
