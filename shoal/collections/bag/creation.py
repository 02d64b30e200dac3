"""Making bags: from Python sequences, from ``Delayed`` values, ranges, and other bags.

>>> from_sequence([1, 2, 3, 4, 5], npartitions=2).npartitions
2
>>> concat([range(2, npartitions=1), from_sequence("ab", npartitions=1)]).compute(scheduler="sync")
[0, 1, 'a', 'b']
"""

from __future__ import annotations

import builtins
import math
import numbers
from typing import Any, Iterable

from ... import config
from ..delayed import Delayed
from ..delayed_pieces import is_future
from .core import Bag, _delayed_expr
from .expr import Concat, FromSequence

__all__ = ["from_sequence", "from_delayed", "range", "concat"]


def from_sequence(seq: Iterable, partition_size: int | None = None, npartitions: int | None = None) -> Bag:
    """A bag of the elements of ``seq``, in ``npartitions`` (or ``partition_size``-long) partitions.

    Without either, about ``bag.partition-count`` (100) partitions.

    >>> from_sequence([1, 2, 3, 4, 5], npartitions=2).npartitions
    2
    """
    seq = list(seq)
    if partition_size is not None and npartitions is not None:
        raise ValueError("from_sequence: give partition_size or npartitions, not both")
    if npartitions is not None and (not isinstance(npartitions, numbers.Integral) or npartitions < 1):
        raise ValueError(f"from_sequence: npartitions must be an integer of at least 1, got {npartitions!r}")
    if partition_size is not None and (not isinstance(partition_size, numbers.Integral) or partition_size < 1):
        raise ValueError(f"from_sequence: partition_size must be an integer of at least 1, got {partition_size!r}")
    if partition_size is None:
        count = npartitions or builtins.min(builtins.max(len(seq), 1), config.get("bag.partition-count", 100))
        partition_size = builtins.max(1, math.ceil(len(seq) / count))
        if npartitions is not None:
            # exactly npartitions partitions, sizes differing by at most one
            bounds = [len(seq) * i // npartitions for i in builtins.range(npartitions + 1)]
            return Bag(FromSequence(tuple(seq[a:b] for a, b in zip(bounds, bounds[1:]))))
    parts = tuple(seq[i:i + partition_size] for i in builtins.range(0, len(seq), partition_size)) or ([],)
    return Bag(FromSequence(parts))


def from_delayed(values: Any) -> Bag:
    """A bag whose partitions are the values of ``Delayed`` objects (or of distributed
    Futures, as in Dask): lists, or any iterables.

    A generator or other iterable is made a list once (as Dask does), so a
    partition read by several operations gives each all its elements.
    """
    if isinstance(values, Delayed) or is_future(values):
        values = [values]
    values = list(values)
    if not values:
        raise ValueError("from_delayed needs at least one Delayed value")
    return Bag(_delayed_expr(values)).map_partitions(reify_partition)


def reify_partition(value: Any) -> list:
    """A ``Delayed``'s value as a bag partition (a list)."""
    if isinstance(value, list):
        return value
    try:
        return list(value)
    except TypeError:
        raise TypeError(
            f"from_delayed: a Delayed gave {type(value).__name__} {value!r:.60}, but a bag partition must be "
            "a list or another iterable; for one value use Item.from_delayed"
        ) from None


def range(n: int, npartitions: int) -> Bag:  # noqa: A001 - mirrors dask.bag.range
    """``0, 1, ..., n - 1`` in ``npartitions`` partitions.

    >>> range(5, npartitions=2).compute(scheduler="sync")
    [0, 1, 2, 3, 4]
    """
    return from_sequence(builtins.range(n), npartitions=npartitions)


def concat(bags: list[Bag]) -> Bag:
    """The elements of several bags, one bag after another."""
    bags = list(bags)
    if not bags or not all(isinstance(b, Bag) for b in bags):
        raise TypeError("concat needs a non-empty list of Bags")
    return Bag(Concat(tuple(b.expr for b in bags)))
