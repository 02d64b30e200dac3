"""``Bag.repartition``: the same elements in a different number of partitions.

Fewer partitions: neighbouring partitions are concatenated (no data is
split). More partitions: each partition is split into nearly equal pieces,
as many per partition as spread ``npartitions`` evenly; the element order is
kept either way.

>>> from shoal.collections.bag import from_sequence
>>> b = from_sequence(range(10), npartitions=2)
>>> [b.repartition(n).npartitions for n in (1, 2, 5)]
[1, 2, 5]
>>> b.repartition(5).compute(scheduler="sync") == list(range(10))
True
"""

from __future__ import annotations

from ...taskgraph.core import Ref, Task
from ...taskgraph.expr import Expr

__all__ = ["repartition", "Repartition"]


def _concat_lists(*parts: list) -> list:
    out: list = []
    for part in parts:
        out.extend(part)
    return out


def _piece(partition: list, index: int, pieces: int) -> list:
    n = len(partition)
    return partition[n * index // pieces: n * (index + 1) // pieces]


class Repartition(Expr):
    """``bag`` in ``npartitions`` partitions."""

    _parameters = ["bag", "npartitions"]

    def _layer(self) -> dict:
        old, new = self.bag.npartitions, self.npartitions
        layer = {}
        if new <= old:
            bounds = [old * i // new for i in range(new + 1)]
            for i in range(new):
                key = self._key(i)
                refs = [Ref(self.bag._key(j)) for j in range(bounds[i], bounds[i + 1])]
                layer[key] = Task(key, _concat_lists, *refs)
            return layer
        # pieces[j]: how many output partitions input partition j becomes
        pieces = [new * (j + 1) // old - new * j // old for j in range(old)]
        i = 0
        for j, count in enumerate(pieces):
            for p in range(count):
                key = self._key(i)
                layer[key] = Task(key, _piece, Ref(self.bag._key(j)), p, count)
                i += 1
        return layer


def repartition(bag, npartitions: int):
    from .core import Bag

    if not isinstance(npartitions, int) or npartitions < 1:
        raise ValueError(f"repartition: npartitions must be a positive integer, got {npartitions!r}")
    if npartitions == bag.npartitions:
        return bag
    return Bag(Repartition(bag.expr, npartitions))
