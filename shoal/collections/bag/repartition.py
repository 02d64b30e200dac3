"""``Bag.repartition``: the same elements in a different number of partitions.

Fewer partitions: neighbouring partitions are concatenated (no data is
split). More partitions: each partition is split into nearly equal pieces,
as many per partition as spread ``npartitions`` evenly; the element order is
kept either way.

By ``partition_size`` (bytes, as Dask does): the partitions' sizes in memory
are computed first (an estimate, by ``sys.getsizeof`` over the elements and
what they contain), every partition larger than the size is split into
equal pieces, and neighbouring pieces are joined while they fit.

>>> from shoal.collections.bag import from_sequence
>>> b = from_sequence(range(10), npartitions=2)
>>> [b.repartition(n).npartitions for n in (1, 2, 5)]
[1, 2, 5]
>>> b.repartition(5).compute(scheduler="sync") == list(range(10))
True
"""

from __future__ import annotations

import math
import numbers
import sys

from ...taskgraph.core import Ref, Task
from ...taskgraph.expr import Expr

__all__ = ["repartition", "Repartition", "RepartitionPieces", "estimate_nbytes", "size_plans"]


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


def _assemble(plan: tuple, *partitions: list) -> list:
    """The pieces ``(which partition, piece, of how many)`` of ``partitions``, concatenated."""
    out: list = []
    for which, piece, pieces in plan:
        out.extend(_piece(partitions[which], piece, pieces))
    return out


class RepartitionPieces(Expr):
    """Output partition ``i`` joins the pieces ``plans[i]``: ``(input partition, piece, of how many)``."""

    _parameters = ["bag", "plans"]

    @property
    def npartitions(self) -> int:
        return len(self.plans)

    def _task(self, index: int):
        inputs = sorted({j for j, _, _ in self.plans[index]})
        local = {j: k for k, j in enumerate(inputs)}
        plan = tuple((local[j], p, n) for j, p, n in self.plans[index])
        return Task(self._key(index), _assemble, plan, *[Ref(self.bag._key(j)) for j in inputs])


def estimate_nbytes(value, depth: int = 0) -> int:
    """Bytes ``value`` takes in memory with what it contains (an estimate, bounded in depth).

    >>> estimate_nbytes("abc") == sys.getsizeof("abc")
    True
    >>> estimate_nbytes(["abc"]) == sys.getsizeof(["abc"]) + sys.getsizeof("abc")
    True
    """
    size = sys.getsizeof(value)
    if depth >= 8 or isinstance(value, (str, bytes, bytearray)):
        return size
    if isinstance(value, dict):
        return size + sum(estimate_nbytes(k, depth + 1) + estimate_nbytes(v, depth + 1) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return size + sum(estimate_nbytes(x, depth + 1) for x in value)
    return size


def _partition_nbytes(partition: list) -> list:
    return [sum(estimate_nbytes(x) for x in partition)]


def size_plans(nbytes: list[int], partition_size: int) -> tuple:
    """Split partitions larger than ``partition_size``, then join neighbouring pieces that fit.

    >>> size_plans([250, 10, 10, 0], 100)  # 250 bytes in 3 pieces of 83; 83 + 10 fits, + 10 more does not
    (((0, 0, 3),), ((0, 1, 3),), ((0, 2, 3), (1, 0, 1)), ((2, 0, 1), (3, 0, 1)))
    """
    pieces = []  # (input partition, piece, of how many, estimated bytes)
    for j, size in enumerate(nbytes):
        count = max(1, math.ceil(size / partition_size))
        pieces.extend((j, p, count, size / count) for p in range(count))
    plans: list = []
    current: list = []
    filled = 0.0
    for j, p, count, size in pieces:
        if current and filled + size > partition_size:
            plans.append(tuple(current))
            current, filled = [], 0.0
        current.append((j, p, count))
        filled += size
    plans.append(tuple(current))
    return tuple(plans)


def repartition(bag, npartitions: int | None = None, partition_size: int | str | None = None):
    from .core import Bag

    if (npartitions is None) == (partition_size is None):
        raise ValueError("repartition: give npartitions or partition_size (bytes, like '64 MiB'), exactly one")
    if partition_size is not None:
        from .io import parse_bytes

        size = parse_bytes(partition_size) if isinstance(partition_size, str) else partition_size
        if not isinstance(size, numbers.Real) or size < 1:
            raise ValueError(f"repartition: partition_size must be a positive number of bytes, got {partition_size!r}")
        nbytes = bag.map_partitions(_partition_nbytes).compute()  # one size per partition, in order
        return Bag(RepartitionPieces(bag.expr, size_plans(nbytes, size)))
    if not isinstance(npartitions, int) or npartitions < 1:
        raise ValueError(f"repartition: npartitions must be a positive integer, got {npartitions!r}")
    if npartitions == bag.npartitions:
        return bag
    return Bag(Repartition(bag.expr, npartitions))
