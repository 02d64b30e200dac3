"""Groupby by shuffling: every group's rows brought into one partition, then pandas on each partition.

Used for what a tree reduction cannot do or should not do:

- ``split_out=n``: the result has ``n`` partitions (hash-partitioned on the
  keys, sorted within each partition only) instead of one;
- ``apply``, ``transform``, exact ``median`` per group: they need all of a
  group's rows at once;
- any aggregation of a frame already hash-partitioned on (a subset of) the
  keys, e.g. right after ``shuffle(on=key)`` or a hash merge on the key: no
  shuffle is needed, every partition is aggregated on its own and the
  results are concatenated (sorted by key when ``sort=True``).

The shuffle is stable (``shuffle.py``), so ``first``/``last``/``cumcount``
inside a group see rows in their original order.
"""

from __future__ import annotations

import pandas as pd

from ...taskgraph.core import Ref, Task
from .expr import FrameExpr
from .parts import _concat
from .shuffle import INDEX_KEY, shuffle_expr

__all__ = ["GroupPartitions", "CollectSorted", "placed_by_keys"]


def placed_by_keys(expr: FrameExpr, by: list, npartitions: int | None, method: str | None = None) -> FrameExpr:
    """``expr`` with every group in one partition: as it is when already hash-partitioned on a subset of ``by``
    (and ``npartitions`` is not asked to change), else shuffled on ``by``."""
    layout = expr._hashed_on
    if (layout is not None and layout.on != (INDEX_KEY,) and set(layout.on) <= set(by)
            and npartitions in (None, expr.npartitions)):
        return expr
    return shuffle_expr(expr, tuple(by), npartitions or expr.npartitions, method)


def _group_partition(part, by, selection, options, method, args, kwargs, index_names, meta):
    if len(part) == 0:
        return meta
    grouped = part.groupby(list(by), **options)
    if selection is not None:
        grouped = grouped[selection]
    result = getattr(grouped, method)(*args, **kwargs)
    if index_names is not None and method != "transform" and isinstance(result, (pd.Series, pd.DataFrame)):
        names = list(index_names) + list(result.index.names[len(index_names):])
        result.index = result.index.set_names(names)
    return result


class GroupPartitions(FrameExpr):
    """``partition.groupby(by)[selection].<method>(*args, **kwargs)`` on every partition (groups never straddle)."""

    _parameters = ["frame", "by", "selection", "options", "method", "args", "kwargs", "index_names", "meta"]
    _is_blockwise = True

    def _compute_meta(self):
        return self.meta

    def _compute_divisions(self):
        return (None,) * (self.frame.npartitions + 1)

    @property
    def _origin(self):
        return self._name

    def _task(self, index):
        return Task(self._key(index), _group_partition, Ref(self.frame._key(index)), tuple(self.by), self.selection,
                    dict(self.options), self.method, tuple(self.args), dict(self.kwargs), self.index_names, self.meta)

    def _explain_args(self):
        return {"by": list(self.by), "method": self.method}


def _collect_sorted(meta, sort, *parts):
    found = [p for p in parts if len(p)]
    if not found:
        return meta
    out = _concat(found)
    return out.sort_index() if sort else out


class CollectSorted(FrameExpr):
    """All partitions in one, sorted by the index when ``sort``."""

    _parameters = ["frame", "sort"]

    def _compute_meta(self):
        return self.frame._meta

    def _compute_divisions(self):
        return (None, None)

    def _task(self, index):
        return Task(self._key(0), _collect_sorted, self.frame._meta, self.sort,
                    *[Ref(self.frame._key(i)) for i in range(self.frame.npartitions)])
