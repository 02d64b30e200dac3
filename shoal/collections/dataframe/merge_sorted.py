"""``merge(..., sort=True)``: the joined rows ordered on the join keys, as pandas orders them.

pandas sorts the result lexicographically on the join keys, nulls last. The
keys of a row are the left ones for the joins that keep every left row
(``inner``, ``left``, semi and anti joins), the right ones for ``right``
joins, and for ``outer`` joins whichever side the row has (the left key, or
the right key of a row only the right side holds). An index join sorts on
the index (``sort_index``); a join of one side's index with the other's
column(s) on those column(s), which hold every row's key. The joined
collection is sorted globally (``sort_values``, which samples the keys when
the plan is built); rows with equal keys may come in another order than
pandas', whose order there follows its join algorithm.
"""

from __future__ import annotations

__all__ = ["sorted_on_join_keys"]

_KEY_COLUMN = "__shoal_join_key_{}__"


def _coalesced_keys(part, left_on, right_on):
    """``part`` with one column per key: the left key, or the right one where the left is missing."""
    return part.assign(**{_KEY_COLUMN.format(i): part[a].fillna(part[b]) if a != b else part[a]
                          for i, (a, b) in enumerate(zip(left_on, right_on))})


def _without(part, columns):
    return part.drop(columns=list(columns))


def sorted_on_join_keys(joined, how: str, left_on: tuple, right_on: tuple, left_index: bool, right_index: bool):
    """``joined`` (a merge's result) sorted on its join keys; see the module docstring."""
    if left_index and right_index:
        return joined.sort_index()
    if right_index:  # pandas fills the left key column with the key of every row (the right index's where unmatched)
        return joined.sort_values(list(left_on))
    if left_index:
        return joined.sort_values(list(right_on))
    if how in ("right", "right_anti"):
        return joined.sort_values(list(right_on))
    if how != "outer" or tuple(left_on) == tuple(right_on):
        return joined.sort_values(list(left_on))
    keys = [_KEY_COLUMN.format(i) for i in range(len(left_on))]
    # not checked against the meta: an outer join's partitions upcast a column (int to float) only where a row is
    # unmatched, as pandas does per call, so the joined partitions' dtypes may differ from the merge's meta
    keyed = joined.map_partitions(_coalesced_keys, tuple(left_on), tuple(right_on), enforce_metadata=False)
    return keyed.sort_values(keys).map_partitions(_without, keys, enforce_metadata=False)
