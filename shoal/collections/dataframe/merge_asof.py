"""``merge_asof``: each left row takes the nearest right row by a sorted key (per ``by`` group).

On the index, both sides need known divisions (``set_index`` first). On
columns (``on=``, or ``left_on=``/``right_on=``), each side must be sorted on
its key across its partitions, as pandas requires: the key is copied into a
sorted index (``set_index(sorted=True)``, which reads every partition's
first and last key to check that and find the divisions), the sides are
merged on the index as below, and the rows are numbered ``0, 1, ...`` again
with pandas' column order.

On the index, the sides They are moved to
the union of their divisions (no shuffle: each output partition reads only
the neighbouring inputs), so partition ``i`` of both covers the same index
range. A left row's match is in the right partition ``i`` or, for
``direction="backward"``, is the last right row (per ``by`` group) of an
earlier partition: a chain of small tasks carries those last rows forward
(``forward``: the first rows of later partitions, carried backward;
``nearest``: both). Every left partition is then merged with its right
partition plus the carried rows by ``pandas.merge_asof``.

>>> import pandas as pd, shoal.dataframe as dd
>>> quotes = pd.DataFrame({"bid": [1.0, 2.0, 3.0, 4.0]}, index=pd.Index([1, 3, 5, 7], name="t"))
>>> trades = pd.DataFrame({"qty": [10, 20, 30]}, index=pd.Index([2, 6, 8], name="t"))
>>> out = dd.merge_asof(dd.from_pandas(trades, npartitions=2), dd.from_pandas(quotes, npartitions=2),
...                     left_index=True, right_index=True)
>>> out.compute(scheduler="sync").bid.tolist()
[1.0, 3.0, 4.0]
"""

from __future__ import annotations

import pandas as pd

from ...taskgraph.core import Ref, Task
from .expr import FrameExpr
from .meta import make_meta, meta_nonempty
from .repartition import RepartitionToDivisions

__all__ = ["merge_asof"]


def _edge_rows(carry, part, by, last: bool):
    """The last (or first) row of ``carry`` + ``part`` (per ``by`` group)."""
    pieces = [p for p in ((carry, part) if last else (part, carry)) if p is not None and len(p)]
    if not pieces:
        return part.iloc[:0]
    rows = pd.concat(pieces) if len(pieces) > 1 else pieces[0]
    if by is None:
        return rows.iloc[-1:] if last else rows.iloc[:1]
    keep = "last" if last else "first"
    return rows[~rows.duplicated(subset=list(by), keep=keep)]


def _asof_partition(left, before, right, after, kwargs):
    pieces = [p for p in (before, right, after) if p is not None and len(p)]
    rows = pd.concat(pieces) if len(pieces) > 1 else (pieces[0] if pieces else right)
    return pd.merge_asof(left, rows, left_index=True, right_index=True, **kwargs)


class MergeAsof(FrameExpr):
    _parameters = ["left", "right", "kwargs"]

    def _compute_meta(self):
        return make_meta(pd.merge_asof(meta_nonempty(self.left._meta).sort_index(),
                                       meta_nonempty(self.right._meta).sort_index(), left_index=True,
                                       right_index=True, **self.kwargs))

    def _compute_divisions(self):
        return self.left.divisions

    @property
    def _origin(self):
        return self.left._origin

    def _layer(self):
        name, n = self._name, self.left.npartitions
        by = self.kwargs.get("right_by") or self.kwargs.get("by")
        by = None if by is None else ([by] if not isinstance(by, (list, tuple)) else list(by))
        direction = self.kwargs.get("direction", "backward")
        layer, before, after = {}, [None] * n, [None] * n
        if direction in ("backward", "nearest"):
            for i in range(1, n):
                key = (f"{name}-before", i)
                layer[key] = Task(key, _edge_rows, Ref(before[i - 1]) if before[i - 1] else None,
                                  Ref(self.right._key(i - 1)), by, True)
                before[i] = key
        if direction in ("forward", "nearest"):
            for i in range(n - 2, -1, -1):
                key = (f"{name}-after", i)
                layer[key] = Task(key, _edge_rows, Ref(after[i + 1]) if after[i + 1] else None,
                                  Ref(self.right._key(i + 1)), by, False)
                after[i] = key
        for i in range(n):
            layer[self._key(i)] = Task(self._key(i), _asof_partition, Ref(self.left._key(i)),
                                       Ref(before[i]) if before[i] else None, Ref(self.right._key(i)),
                                       Ref(after[i]) if after[i] else None, dict(self.kwargs))
        return layer

    def _explain_args(self):
        return {"direction": self.kwargs.get("direction", "backward")}


_KEY = "__shoal_asof_key__"


def merge_asof(left, right, on=None, left_on=None, right_on=None, left_index=False, right_index=False, by=None,
               left_by=None, right_by=None, suffixes=("_x", "_y"), tolerance=None, allow_exact_matches=True,
               direction="backward"):
    """pandas' ``merge_asof`` of two frames sorted by their key: the index (with known divisions) or a column."""
    from .merge import _as_collection

    left, right = _as_collection(left), _as_collection(right)
    options = {"by": by, "left_by": left_by, "right_by": right_by, "suffixes": suffixes, "tolerance": tolerance,
               "allow_exact_matches": allow_exact_matches, "direction": direction}
    if on is not None:
        if left_on is not None or right_on is not None or left_index or right_index:
            raise ValueError("merge_asof: give on= alone, or left_on=/right_on= (or the indexes), not both")
        left_on = right_on = on
    if left_on is not None or right_on is not None:
        if left_on is None or right_on is None or left_index or right_index:
            raise NotImplementedError(
                "merge_asof: a column key on one side needs a column key on the other (left_on= and right_on=); "
                "for the index of one side, reset_index() it into a column first"
            )
        # a key naming a side's index (not a column) is that index as a column, as pandas reads it
        left, right = (frame.reset_index() if _names_the_index(frame, key) else frame
                       for frame, key in ((left, left_on), (right, right_on)))
        return _on_columns(left, right, left_on, right_on, on is not None, options)
    if not (left_index and right_index):
        raise ValueError("merge_asof: give the key: on=, left_on=/right_on=, or left_index=True and "
                         "right_index=True")
    return _on_indexes(left, right, **options)


def _names_the_index(frame, key) -> bool:
    return key not in frame._meta.columns and frame._meta.index.name == key


def _sorted_on(frame, column, side: str):
    """``frame`` indexed by a copy of its ``column`` (kept as it is), trusted sorted across partitions."""
    from .frames import DataFrame

    if not isinstance(frame, DataFrame):
        raise TypeError(f"merge_asof: the {side} side must be a shoal DataFrame, got {type(frame).__name__}")
    frame._check_columns([column], f"merge_asof {side} key")
    try:
        return frame.assign(**{_KEY: frame[column]}).set_index(_KEY, sorted=True)
    except ValueError as error:
        raise ValueError(f"merge_asof: the {side} side must be sorted on {column!r} across its partitions, as pandas "
                         f"requires ({error}); sort_values({column!r}) first") from error


def _empty_side_bounded(left, right):
    """``left`` and ``right`` with known divisions when one of them has no rows at all.

    ``set_index(sorted=True)`` has read every partition's key range, so a side it left with unknown divisions
    holds no row; as pandas, it still joins (no match for any row): it becomes one empty partition spanning the
    other side's divisions."""
    from .core import new_collection
    from .sources import FromValues

    if left.known_divisions == right.known_divisions:
        return left, right  # both known, or both empty (the join then says what to do)
    known, empty = (left, right) if left.known_divisions else (right, left)
    bounds = (known.divisions[0], known.divisions[-1])
    bounded = new_collection(FromValues((empty._meta,), bounds, empty._meta))
    return (left, bounded) if empty is right else (bounded, right)


def _without_index(part, columns):
    return part.reset_index(drop=True)[columns]


def _on_columns(left, right, left_on, right_on, same_name: bool, options: dict):
    """``merge_asof`` on key columns: merged on sorted copies of them as the index, then laid out as pandas."""
    from .concat import RenumberRows
    from .core import new_collection

    keyed_left = _sorted_on(left, left_on, "left")
    keyed_right = _sorted_on(right, right_on, "right")
    keyed_left, keyed_right = _empty_side_bounded(keyed_left, keyed_right)
    kwargs = {k: v for k, v in options.items() if v is not None}
    fake = pd.merge_asof(meta_nonempty(left._meta).sort_values(left_on), meta_nonempty(right._meta).sort_values(
        right_on), left_on=left_on, right_on=right_on, **kwargs)
    if same_name:  # pandas keeps one key column, the left one
        keyed_right = keyed_right.drop(columns=[right_on])
    joined = _on_indexes(keyed_left, keyed_right, **options)
    columns = list(fake.columns)
    # not checked against the meta: as with pandas, a right column of ints holds floats where a left row found no
    # match, in the partitions that have such rows only (concatenated, the result is then what pandas gives)
    laid_out = joined.map_partitions(_without_index, columns, meta=make_meta(fake)[columns].reset_index(drop=True),
                                     enforce_metadata=False)
    return new_collection(RenumberRows(laid_out._expr))


def _on_indexes(left, right, by, left_by, right_by, suffixes, tolerance, allow_exact_matches, direction):
    from .core import new_collection

    if direction not in ("backward", "forward", "nearest"):
        raise ValueError(f"merge_asof: direction must be 'backward', 'forward' or 'nearest', got {direction!r}")
    for side, frame in (("left", left), ("right", right)):
        if not frame.known_divisions:
            raise ValueError(f"merge_asof: the {side} side has unknown divisions; set_index on the key first")
    kwargs = {"suffixes": tuple(suffixes), "allow_exact_matches": allow_exact_matches, "direction": direction}
    if tolerance is not None:
        kwargs["tolerance"] = tolerance
    if by is not None:
        kwargs["by"] = by
    if left_by is not None or right_by is not None:
        kwargs["left_by"], kwargs["right_by"] = left_by, right_by
    union = tuple(sorted(set(left.divisions) | set(right.divisions)))
    lexpr = left._expr if tuple(left.divisions) == union else RepartitionToDivisions(left._expr, union)
    rexpr = right._expr if tuple(right.divisions) == union else RepartitionToDivisions(right._expr, union)
    return new_collection(MergeAsof(lexpr, rexpr, kwargs))
