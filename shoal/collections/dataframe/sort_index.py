"""``sort_index``: rows ordered by their index label across all partitions.

With known divisions the partitions already hold increasing index ranges, so
sorting every partition on its own sorts the whole: no shuffle
(``SortIndexPartitions``). Descending, the partitions are also taken in
reverse order (the divisions become unknown, as they must increase). Rows
whose label is null lie outside the divisions; they are gathered from every
partition into the first or last output partition, per ``na_position``.

With unknown divisions the index is first range-partitioned like
``set_index`` does for a column (which samples the index when the plan is
built), then sorted as above.

>>> import pandas as pd, shoal.dataframe as dd
>>> s = dd.from_pandas(pd.Series([10, 20, 30], index=[2, 0, 1]), npartitions=2, sort=False)
>>> s.sort_index().compute(scheduler="sync").index.tolist()
[0, 1, 2]
"""

from __future__ import annotations

import pandas as pd

from ...taskgraph.core import Ref, Task
from .expr import FrameExpr
from .parts import _concat

__all__ = ["sort_index", "SortIndexPartitions"]

_INDEX_COLUMN = "__shoal_sort_index__"


def _null_rows(part):
    return part[part.index.isna()]


def _sorted_labelled_rows(part, ascending):
    """The rows of ``part`` with a non-null label, sorted on it (stable, so equal labels keep their order)."""
    labelled = part[part.index.notna()] if part.index.hasnans else part
    return labelled.sort_index(ascending=ascending, kind="stable")


def _with_null_rows(part, ascending, nulls_first, *null_pieces):
    sorted_part = _sorted_labelled_rows(part, ascending)
    nulls = [p for p in null_pieces if len(p)]
    if not nulls:
        return sorted_part
    pieces = [*nulls, sorted_part] if nulls_first else [sorted_part, *nulls]
    return _concat(pieces)


class SortIndexPartitions(FrameExpr):
    """Every partition (of a frame with known divisions) sorted on its index; taken in reverse order when
    descending; the null-labelled rows of all partitions put at the start or the end."""

    _parameters = ["frame", "ascending", "na_position"]

    def _compute_meta(self):
        return self.frame._meta

    def _compute_divisions(self):
        if self.ascending:
            return self.frame.divisions
        return (None,) * (self.frame.npartitions + 1)

    @property
    def _origin(self):
        return self.frame._origin if self.ascending else self._name

    def _layer(self):
        n = self.frame.npartitions
        order = list(range(n)) if self.ascending else list(range(n - 1, -1, -1))
        nulls_first = self.na_position == "first"
        null_pieces = []
        layer = {}
        for i in range(n):
            piece = (f"{self._name}-nulls", i)
            layer[piece] = Task(piece, _null_rows, Ref(self.frame._key(i)))
            null_pieces.append(Ref(piece))
        edge = 0 if nulls_first else n - 1
        for out, source in enumerate(order):
            extra = null_pieces if out == edge else []
            layer[self._key(out)] = Task(self._key(out), _with_null_rows, Ref(self.frame._key(source)),
                                         self.ascending, nulls_first, *extra)
        return layer

    def _explain_args(self):
        return {"ascending": self.ascending, "na_position": self.na_position}


def _index_to_column(part):
    return part.assign(**{_INDEX_COLUMN: part.index})


def _renamed_index(part, names):
    return part.rename_axis(index=names[0])


def sort_index(frame, ascending: bool = True, na_position: str = "last", axis=0, level=None, inplace: bool = False,
               kind=None, sort_remaining: bool = True, ignore_index: bool = False, key=None,
               npartitions: int | None = None, shuffle_method: str | None = None):
    """``frame`` (a DataFrame or Series) ordered by its index; see the module docstring."""
    from .core import new_collection
    from .frames import DataFrame

    if axis in (1, "columns"):
        if not isinstance(frame, DataFrame):
            raise ValueError(f"sort_index(axis=1): a {type(frame).__name__} has no columns; use axis=0")
        return frame._method("sort_index", axis=1, ascending=ascending, na_position=na_position)
    if axis not in (0, "index"):
        raise ValueError(f"sort_index: axis must be 0/'index' or 1/'columns', got {axis!r}")
    unsupported = {"level": level is not None, "inplace": inplace, "ignore_index": ignore_index,
                   "key": key is not None}
    for name, given in unsupported.items():
        if given:
            hint = {
                "level": "reset_index() the levels into columns and sort_values on them",
                "inplace": "assign the result instead: df = df.sort_index()",
                "ignore_index": "sort_index() then number the rows yourself (reset_index restarts per partition)",
                "key": "assign the transformed index as a column and sort_values on it",
            }[name]
            raise NotImplementedError(f"sort_index({name}=...) is not supported by shoal; {hint}")
    if not isinstance(ascending, bool):
        raise ValueError(f"sort_index: ascending must be True or False, got {ascending!r}")
    if na_position not in ("first", "last"):
        raise ValueError(f"sort_index: na_position must be 'first' or 'last', got {na_position!r}")
    if isinstance(frame._meta.index, pd.MultiIndex):
        raise NotImplementedError("sort_index of a MultiIndex is not supported by shoal; reset_index() the levels "
                                  "into columns and sort_values on them")
    if not frame.known_divisions and frame.npartitions > 1:
        frame = _range_partitioned_on_index(frame, npartitions, shuffle_method)
    return new_collection(SortIndexPartitions(frame._expr, ascending, na_position))


def _range_partitioned_on_index(frame, npartitions, shuffle_method):
    """``frame`` moved to known divisions of its index (null labels in the last partition), each partition's
    rows in their original order (the shuffle is stable; ``SortIndexPartitions`` sorts stably after it)."""
    from .core import new_collection
    from .frames import Series
    from .shuffle import RangeSpec, Shuffle
    from .sort import SetIndexPartitions, _divisions_from_sample

    is_series = isinstance(frame, Series)
    name = frame._meta.index.name
    table = frame.to_frame("__shoal_values__" if frame.name is None else frame.name) if is_series else frame
    # not checked against the meta: these steps keep every column's dtype, and a partition's may differ from
    # the meta already (an outer join upcasts int to float only in partitions with unmatched rows)
    keyed = table.map_partitions(_index_to_column, enforce_metadata=False)._expr
    divisions = _divisions_from_sample(keyed, _INDEX_COLUMN, npartitions or frame.npartitions)
    if not divisions:  # every label is null
        shuffled = Shuffle(keyed, (_INDEX_COLUMN,), 1, shuffle_method, None, RangeSpec((0, 0)))
        divisions = (None, None)
    else:
        shuffled = Shuffle(keyed, (_INDEX_COLUMN,), len(divisions) - 1, shuffle_method, None, RangeSpec(divisions))
    indexed = new_collection(SetIndexPartitions(shuffled, _INDEX_COLUMN, True, tuple(divisions), True))
    indexed = indexed.map_partitions(_renamed_index, [name], enforce_metadata=False)
    if is_series:
        indexed = indexed[table.columns[0]].rename(frame.name)
    return indexed
