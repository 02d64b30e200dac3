"""``merge_asof`` on sorted indexes: each left row takes the nearest right row by index (per ``by`` group).

Both sides need known divisions (``set_index`` first). They are moved to
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


def merge_asof(left, right, on=None, left_on=None, right_on=None, left_index=False, right_index=False, by=None,
               left_by=None, right_by=None, suffixes=("_x", "_y"), tolerance=None, allow_exact_matches=True,
               direction="backward"):
    """pandas' ``merge_asof`` on two frames indexed (and sorted) by the ``on`` key with known divisions."""
    from .core import new_collection
    from .merge import _as_collection

    left, right = _as_collection(left), _as_collection(right)
    if on is not None or left_on is not None or right_on is not None or not (left_index and right_index):
        raise NotImplementedError(
            "merge_asof: only left_index=True, right_index=True is supported; set_index on the 'on' column of "
            "both sides first (it sorts them and gives known divisions)"
        )
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
