"""Dask's module-level bag functions: ``map``, ``map_partitions`` and ``zip``.

They take several bags on an equal footing, wherever they stand among the
arguments, where the methods put ``self`` first: ``map(f, 10, b)`` calls
``f(10, x)`` for every ``x`` of ``b``. Bags are zipped partition by
partition (they must be partitioned alike); Items, Delayed and plain values
are passed whole to every call.

>>> from shoal.collections.bag import from_sequence
>>> a = from_sequence([1, 2, 3], npartitions=2)
>>> b = from_sequence([10, 20, 30], npartitions=2)
>>> map(divmod, b, a).compute(scheduler="sync")
[(10, 0), (10, 0), (10, 0)]
>>> zip(a, b).compute(scheduler="sync")
[(1, 10), (2, 20), (3, 30)]
"""

from __future__ import annotations

from typing import Any, Callable

from .core import Bag, _as_expr
from .expr import MapAligned, MapPartitions
from .partition import NewPartition

__all__ = ["map", "map_partitions", "zip"]


def _arguments(func: Callable, name: str, args: tuple, kwargs: dict) -> tuple:
    """``(args, kwargs, aligned flags, npartitions)`` for ``MapAligned``/``MapPartitions``."""
    if not callable(func):
        raise TypeError(f"shoal.bag.{name}: func must be callable, got {type(func).__name__} {func!r:.60}")
    converted = [_as_expr(a) for a in args]
    kw = [(k, *_as_expr(v)) for k, v in kwargs.items()]
    bags = [e for e, aligned in converted if aligned] + [e for _, e, aligned in kw if aligned]
    if not bags:
        raise ValueError(
            f"shoal.bag.{name} needs at least one Bag among its arguments (the bags are mapped over; "
            "every other argument is passed whole to each call)"
        )
    Bag(bags[0])._check_aligned(bags)
    flags = tuple(al for _, al in converted) + tuple(al for _, _, al in kw)
    return tuple(e for e, _ in converted), tuple((k, e) for k, e, _ in kw), flags, bags[0].npartitions


def map(func: Callable, *args: Any, **kwargs: Any) -> Bag:  # noqa: A001 - mirrors dask.bag.map
    """``func(*elements, **kwargs)`` over the bags among the arguments, element by element."""
    args, kwargs, flags, npartitions = _arguments(func, "map", args, kwargs)
    return Bag(MapAligned(func, args, kwargs, flags, npartitions))


def map_partitions(func: Callable, *args: Any, **kwargs: Any) -> Bag:
    """``func(*partitions, **kwargs)`` over the bags among the arguments, partition by partition.

    ``func`` returns the new partition (a list, or any iterable).

    >>> from shoal.collections.bag import from_sequence
    >>> a = from_sequence([1, 2, 3], npartitions=2)
    >>> map_partitions(lambda n, p: [n * len(p)], 10, a).compute(scheduler="sync")
    [10, 20]
    """
    args, kwargs, flags, npartitions = _arguments(func, "map_partitions", args, kwargs)
    return Bag(MapPartitions(NewPartition(func), args, kwargs, flags, npartitions))


def zip_elements(*items: Any) -> tuple:
    return items


def zip(*bags: Bag) -> Bag:  # noqa: A001 - mirrors dask.bag.zip
    """Tuples of the elements at the same place in each bag (partitioned alike, equal partition lengths)."""
    if not bags or not all(isinstance(b, Bag) for b in bags):
        raise TypeError("shoal.bag.zip needs one or more Bags")
    return map(zip_elements, *bags)
