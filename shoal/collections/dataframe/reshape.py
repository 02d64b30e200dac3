"""Reshaping: ``melt`` and ``get_dummies`` (with known categories) partition by partition; ``pivot_table``.

Both are computed on every partition on its own. ``get_dummies`` needs the
encoded columns to be categoricals, so every partition makes the same
indicator columns (one per category, seen or not); other dtypes are refused
with advice. ``melt`` numbers its rows per partition (compare after sorting).

>>> import pandas as pd, shoal.dataframe as dd
>>> pdf = pd.DataFrame({"c": pd.Categorical(["a", "b", "a"], categories=["a", "b", "z"]), "x": [1, 2, 3]})
>>> list(dd.get_dummies(dd.from_pandas(pdf, npartitions=2)).columns)
['x', 'c_a', 'c_b', 'c_z']
"""

from __future__ import annotations

from collections.abc import Hashable

import pandas as pd

__all__ = ["get_dummies", "melt", "pivot_table"]


def _check_categories(found, expected: list, column, what: str):
    """Raise when a partition's categories differ from the plan's (``astype('category')`` learns them per partition,
    so the plan only saw a guess): every partition must make the columns the plan promised."""
    if list(found) != expected:
        raise ValueError(
            f"{what}: column {column!r} has the categories {list(found)} in this partition, but the plan was built "
            f"for {expected} (astype('category') cannot know the categories before computing); cast with "
            f"astype(pd.CategoricalDtype([...])) listing every category first"
        )


def _get_dummies(part, kwargs, expected=None):
    for column, categories in (expected or {}).items():
        values = part[column] if isinstance(part, pd.DataFrame) else part
        _check_categories(values.cat.categories, categories, column, "get_dummies")
    return pd.get_dummies(part, **kwargs)


def _refuse_unknown_categories(data, columns, what: str):
    """Categoricals whose categories the plan does not know (no categories in the meta: ``astype('category')``
    learns them per partition) cannot give every partition the same output columns."""
    meta = data._meta
    found = [c for c in columns if not len((meta[c] if isinstance(meta, pd.DataFrame) else meta).cat.categories)]
    if found:
        raise ValueError(
            f"{what}: the categories of {found} are unknown until the data is read (astype('category') learns them "
            "per partition); use series.cat.as_known() or astype(pd.CategoricalDtype([...])) listing every category"
        )


def get_dummies(data, prefix=None, prefix_sep="_", dummy_na=False, columns=None, drop_first=False, dtype=bool):
    """pandas' ``get_dummies`` on every partition; the encoded columns must be categoricals."""
    from .frames import DataFrame

    meta = data._meta
    if isinstance(data, DataFrame):
        encoded = columns if columns is not None else [
            c for c, dt in meta.dtypes.items() if dt == object or isinstance(dt, (pd.CategoricalDtype, pd.StringDtype))
        ]
        unknown = [c for c in encoded if not isinstance(meta[c].dtype, pd.CategoricalDtype)]
    else:
        encoded, unknown = [meta.name], ([] if isinstance(meta.dtype, pd.CategoricalDtype) else [meta.name])
    if unknown:
        raise NotImplementedError(
            f"get_dummies: column(s) {unknown} are not categoricals, so each partition would make its own set of "
            "indicator columns; convert them first, e.g. df.astype({col: pd.CategoricalDtype([...])}) with the "
            "full list of categories"
        )
    _refuse_unknown_categories(data, encoded, "get_dummies")
    kwargs = {"prefix": prefix, "prefix_sep": prefix_sep, "dummy_na": dummy_na, "columns": columns,
              "drop_first": drop_first, "dtype": dtype}
    if not isinstance(data, DataFrame):
        kwargs.pop("columns")
    expected = {c: list((meta[c] if isinstance(data, DataFrame) else meta).cat.categories) for c in encoded}
    return data.map_partitions(_get_dummies, kwargs, expected)


def _melt(part, kwargs):
    return part.melt(**kwargs)


def melt(frame, id_vars=None, value_vars=None, var_name=None, value_name="value", col_level=None):
    """pandas' ``melt`` on every partition (the index is renumbered per partition; divisions become unknown)."""
    kwargs = {"id_vars": id_vars, "value_vars": value_vars, "var_name": var_name, "value_name": value_name,
              "col_level": col_level}
    return frame.map_partitions(_melt, kwargs, clear_divisions=True)


def _unstack(table, level, categories=None):
    if categories is not None:
        _check_categories(table.index.levels[table.index.names.index(level)], categories, level, "pivot_table")
    return table.unstack(level)


def pivot_table(frame, index, columns, values, aggfunc="mean"):
    """pandas' ``pivot_table(..., observed=False, dropna=False)`` for one ``index`` column, one categorical
    ``columns`` column (its categories are the output columns, known in advance) and one ``values`` column:
    a groupby on both keys (a tree reduction) then ``unstack`` of the one-partition result. ``min``/``max``/
    ``first``/``last`` of integers come back as float64 (pandas' own dtype there depends on the data)."""
    for name, column in (("index", index), ("columns", columns), ("values", values)):
        if not isinstance(column, Hashable):  # a list: one column each is all this supports
            raise TypeError(f"pivot_table: {name}= must be one column name, got {column!r}")
    frame._check_columns([index, columns, values], "pivot_table column")
    if not isinstance(frame._meta[columns].dtype, pd.CategoricalDtype):
        raise NotImplementedError(
            f"pivot_table: columns={columns!r} must be a categorical column (its categories become the output "
            "columns, which must be known before computing); convert it with astype(pd.CategoricalDtype([...]))"
        )
    _refuse_unknown_categories(frame, [columns], "pivot_table")
    if aggfunc not in ("mean", "sum", "count", "min", "max", "first", "last", "size"):
        raise NotImplementedError(f"pivot_table: aggfunc={aggfunc!r} is not supported; use mean, sum, count, min, "
                                  "max, first, last or size")
    grouped = frame.groupby([index, columns], observed=False)[values]
    table = grouped.size() if aggfunc == "size" else getattr(grouped, aggfunc)()
    dtype = frame._meta[columns].dtype
    meta = pd.DataFrame(index=pd.Index([], dtype=frame._meta[index].dtype, name=index),
                        columns=pd.CategoricalIndex(dtype.categories, dtype=dtype, name=columns)).astype(table.dtype)
    return table.map_partitions(_unstack, columns, list(dtype.categories), meta=meta)
