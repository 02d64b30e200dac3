"""Plain functions on computed partitions (pandas objects), run inside tasks and on gathered results.

``_concat`` puts partitions back together, their categoricals unified first
(``_unify_categories``); ``_head`` and ``_tail`` cut rows; ``_size`` and
``_sum_partials`` count values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _concat(parts: list):
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], pd.Index):
        return _keep_object_labels(parts[0].append(list(parts[1:])), parts)
    nonempty = [p for p in parts if len(p)] or parts[:1]
    out = pd.concat(_unify_categories(nonempty))
    index = _keep_object_labels(out.index, [p.index for p in nonempty])
    return out if index is out.index else out.set_axis(index)


def _keep_object_labels(joined: pd.Index, parts: list) -> pd.Index:
    """``joined`` as object labels when every part's were: pandas infers ``str`` when it appends object indexes
    of strings, so a frame indexed by an object column would change its index dtype when put back together."""
    if joined.dtype != object and not isinstance(joined, pd.MultiIndex) and all(
            getattr(p, "dtype", None) == object for p in parts):
        return joined.astype(object)
    return joined


def _unify_categories(parts: list) -> list:
    """Parts whose categorical columns share one set of categories, so concatenating keeps them categorical.

    Partitions made categorical separately (``astype('category')``) each know
    only their own values; pandas would turn the mix into plain values. The
    union is sorted, as ``astype('category')`` on the whole data would sort.
    """
    first = parts[0]
    if isinstance(first, pd.Series):
        columns = [None] if isinstance(first.dtype, pd.CategoricalDtype) else []
    elif isinstance(first, pd.DataFrame):
        columns = [c for c, dt in first.dtypes.items() if isinstance(dt, pd.CategoricalDtype)]
    else:
        return parts
    for column in columns:
        get = (lambda p: p) if column is None else (lambda p, c=column: p[c])
        dtypes = [get(p).dtype for p in parts]
        if not all(isinstance(d, pd.CategoricalDtype) for d in dtypes) or all(d == dtypes[0] for d in dtypes):
            continue
        union = pd.api.types.union_categoricals([get(p).array for p in parts], sort_categories=not dtypes[0].ordered,
                                               ignore_order=True)
        dtype = pd.CategoricalDtype(union.categories, ordered=dtypes[0].ordered)
        if column is None:
            parts = [p.astype(dtype) for p in parts]
        else:
            parts = [p.astype({column: dtype}) for p in parts]
    return parts


def _head(part, n):
    return part[:n] if isinstance(part, pd.Index) else part.iloc[:n]


def _tail(part, n):
    if isinstance(part, pd.Index):
        return part[-n:] if n else part[:0]
    return part.iloc[-n:] if n else part.iloc[:0]


def _size(part):
    return np.int64(part.size)


def _sum_partials(partials):
    return sum(partials)
