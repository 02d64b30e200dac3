"""``Bag`` and ``Item``: lazy, partitioned lists of Python objects and single lazy values.

A ``Bag`` is a thin wrapper around an immutable expression (``expr.py``):
every method builds a new expression, and ``compute()`` turns the optimized
plan into a graph with one task per partition for every chain of
element-wise steps. Bags prefer the processes scheduler, since the work
they do is plain Python that holds the GIL.

>>> from shoal.collections.bag import from_sequence
>>> b = from_sequence([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], npartitions=3)
>>> b.map(lambda x: x * 10).filter(lambda x: x > 40).compute(scheduler="sync")
[50, 60, 70, 80, 90]
>>> b.sum().compute(scheduler="sync")
45
"""

from __future__ import annotations

import builtins
import numbers
import operator
import random as _random
import uuid
import warnings
from typing import Any, Callable, Iterable

from ... import config
from ...base import CollectionMethods
from ...taskgraph.core import DataNode
from ...taskgraph.expr import Expr
from ...taskgraph.protocol import is_collection
from ..delayed import Delayed
from . import reductions as red
from .expr import (
    Accumulate, Concat, Elementwise, FromGraph, FromSequence, GraphHolder, MapAligned, MapPartitions,
    Reduction, SelectPartitions,
)
from .partition import (
    Filter, Flatten, Head, Map, MapWithKeywords, NewPartition, Pluck, Remove, StarMap, _NO_DEFAULT, funcname,
)

__all__ = ["Bag", "Item", "no_default"]

config.update_defaults({"bag": {"split-every": 8, "shuffle": "disk", "partition-count": 100}})

no_default = _NO_DEFAULT


def _concat_partitions(results: list) -> list:
    out: list = []
    for part in results:
        out.extend(part)
    return out


def _first_result(results: list) -> Any:
    return results[0]


def _rebuild_bag(results: dict, keys: list, cls: type) -> Any:
    """A collection of the same type backed by the computed partitions (for ``persist``)."""
    name = f"persisted-{uuid.uuid4().hex}"
    graph = {key: DataNode(key, results[key]) for key in keys}
    return cls(FromGraph(GraphHolder(name, graph), tuple(keys)))


class _Lazy(CollectionMethods):
    """What ``Bag`` and ``Item`` share: an expression and the collection protocol."""

    __shoal_scheduler__ = "processes"
    __slots__ = ("expr",)

    def __init__(self, expr: Expr):
        self.expr = expr

    def __shoal_graph__(self) -> dict:
        return self.expr.optimize().__shoal_graph__()

    def __shoal_keys__(self) -> list:
        return self.expr.optimize().__shoal_keys__()

    def __shoal_postpersist__(self):
        return _rebuild_bag, (self.__shoal_keys__(), type(self))

    def __shoal_tokenize__(self) -> str:
        return self.expr._name

    @property
    def name(self) -> str:
        return self.expr._name

    @property
    def npartitions(self) -> int:
        return self.expr.npartitions

    # compute() and persist() come from CollectionMethods; only the file name differs here.
    def visualize(self, filename: str | None = "mybag.svg", **kwargs) -> str:
        """Draw the task graph (to ``mybag.svg`` by default); see ``shoal.visualize``."""
        return super().visualize(filename, **kwargs)

    def explain(self, optimize: bool = True) -> None:
        """Print the (optimized) plan, split into stages at every shuffle."""
        self.expr.explain(optimize=optimize)

    def to_delayed(self, optimize_graph: bool = True) -> list[Delayed] | Delayed:
        """One ``Delayed`` per partition (an ``Item`` gives one ``Delayed``)."""
        from ...taskgraph.cull import cull

        graph = self.__shoal_graph__()
        keys = self.__shoal_keys__()
        if optimize_graph:
            graph = cull(graph, keys)
        delayeds = [Delayed(key, None, graph=graph) for key in keys]
        return delayeds[0] if isinstance(self, Item) else delayeds


class Item(_Lazy):
    """One lazy value, such as the sum of a bag.

    >>> from shoal.collections.bag import from_sequence
    >>> from_sequence([1, 2, 3]).sum().apply(lambda s: s * 2).compute(scheduler="sync")
    12
    """

    __slots__ = ()

    def __shoal_postcompute__(self):
        return _first_result, ()

    def __repr__(self) -> str:
        return f"shoal.bag.Item<{self.expr._funcname}>"

    def apply(self, func: Callable) -> "Item":
        """``func(value)``, lazily."""
        return Item(MapPartitions(func, (self.expr,), (), (True,), 1))

    @staticmethod
    def from_delayed(value: Delayed) -> "Item":
        """An ``Item`` computed by a ``Delayed`` (or held by a distributed Future)."""
        return Item(_delayed_expr([value]))


def _delayed_expr(values: list) -> FromGraph:
    """Partitions that are the values of ``Delayed`` objects or distributed Futures (``delayed_pieces``)."""
    from ..delayed import merge_graphs
    from ..delayed_pieces import check_piece, is_future, piece_graph

    for i, v in enumerate(values):
        check_piece(v, i, "from_delayed")
    graph = merge_graphs([v for v in values if not is_future(v)])
    for v in values:
        if is_future(v):
            graph.update(piece_graph(v))
    name = "from-delayed-" + uuid.uuid5(uuid.NAMESPACE_OID, repr([v.key for v in values])).hex
    return FromGraph(GraphHolder(name, graph), tuple(v.key for v in values))


def _as_expr(value: Any) -> tuple[Any, bool]:
    """``(expr or value, is_partitioned)`` for an argument of ``map``/``map_partitions``."""
    if isinstance(value, Bag):
        return value.expr, True
    if isinstance(value, Item):
        return value.expr, False
    if isinstance(value, Delayed):
        return _delayed_expr([value]), False
    if is_collection(value):
        raise TypeError(
            f"bag operations accept Bags, Items and Delayed values as arguments, not {type(value).__name__}; "
            "convert it with .to_delayed() first"
        )
    return value, False


def _check_callable(func: Any, method: str, argument: str = "func") -> None:
    if not callable(func):
        raise TypeError(f"Bag.{method}: {argument} must be callable, got {type(func).__name__} {func!r:.60}")


def _callable_key(key: Any) -> Callable | None:
    """``key`` as a function: callables as they are, anything else as an index/field."""
    if key is None or callable(key):
        return key
    return operator.itemgetter(key)


class Bag(_Lazy):
    """A lazy list of Python objects, split into partitions that are processed in parallel."""

    __slots__ = ()

    def __shoal_postcompute__(self):
        return _concat_partitions, ()

    def __repr__(self) -> str:
        return f"shoal.bag.Bag<{self.expr._funcname}, npartitions={self.npartitions}>"

    def __iter__(self):
        return iter(self.compute())

    @property
    def str(self):
        """String methods for every element: ``b.str.lower()``, ``b.str.split()``, ..."""
        from .text import StringAccessor

        return StringAccessor(self)

    # ------------------------------------------------------------ element-wise

    def _stage(self, stage: Any) -> "Bag":
        return Bag(Elementwise(self.expr, (stage,)))

    def map(self, func: Callable, *args: Any, **kwargs: Any) -> "Bag":
        """``func(x, *args, **kwargs)`` for every element ``x``.

        Bags among ``args`` and ``kwargs`` are zipped with this one element by
        element, partition by partition (they must be partitioned alike);
        Items, Delayed values and plain values are passed whole to every call.

        >>> from shoal.collections.bag import from_sequence
        >>> a = from_sequence([1, 2, 3], npartitions=2)
        >>> a.map(operator.add, a.map(lambda x: 10 * x)).compute(scheduler="sync")
        [11, 22, 33]
        """
        _check_callable(func, "map")
        converted = [_as_expr(a) for a in args]
        kw_converted = [(k, *_as_expr(v)) for k, v in kwargs.items()]
        lazy = any(isinstance(a, Expr) for a, _ in converted) or any(isinstance(v, Expr) for _, v, _ in kw_converted)
        if not lazy:
            if not args and not kwargs:
                return self._stage(Map(func))
            return self._stage(MapWithKeywords(func, tuple(args), dict(kwargs)))
        all_args = ((self.expr, True), *converted)
        self._check_aligned([a for a, al in all_args if al] + [v for _, v, al in kw_converted if al])
        return Bag(MapAligned(
            func, tuple(a for a, _ in all_args), tuple((k, v) for k, v, _ in kw_converted),
            tuple(al for _, al in all_args) + tuple(al for _, _, al in kw_converted), self.npartitions,
        ))

    def _check_aligned(self, exprs: list) -> None:
        counts = {e.npartitions for e in exprs}
        if len(counts) > 1:
            raise ValueError(
                f"the bags have different numbers of partitions ({sorted(counts)}); "
                "operations that pair bags partition by partition need them partitioned alike: "
                "use .repartition(npartitions=...) on them first"
            )

    def starmap(self, func: Callable, **kwargs: Any) -> "Bag":
        """``func(*x, **kwargs)`` for every element ``x`` (a tuple)."""
        _check_callable(func, "starmap")
        if any(isinstance(v, (Bag, Item, Delayed)) for v in kwargs.values()):
            return self.map_partitions(_starmap_partition, func, **kwargs)
        return self._stage(StarMap(func, dict(kwargs)))

    def filter(self, predicate: Callable) -> "Bag":
        """The elements for which ``predicate(x)`` is true."""
        _check_callable(predicate, "filter", "predicate")
        return self._stage(Filter(predicate))

    def remove(self, predicate: Callable) -> "Bag":
        """The elements for which ``predicate(x)`` is false."""
        _check_callable(predicate, "remove", "predicate")
        return self._stage(Remove(predicate))

    def flatten(self) -> "Bag":
        """The elements of the elements: ``[[1, 2], [3]]`` becomes ``[1, 2, 3]``."""
        return self._stage(Flatten())

    def pluck(self, key: Any, default: Any = no_default) -> "Bag":
        """``x[key]`` for every element; a list of keys gives tuples; ``default`` for missing ones."""
        return self._stage(Pluck(key, default))

    def unzip(self, n: int) -> tuple:
        """``n`` bags from a bag of ``n``-tuples, as ``zip(*bag)`` (Dask's ``unzip``)."""
        if not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"unzip: n must be a positive integer (the length of the tuples), got {n!r}")
        return tuple(self.pluck(i) for i in builtins.range(n))

    def map_partitions(self, func: Callable, *args: Any, **kwargs: Any) -> "Bag":
        """``func(partition, *args, **kwargs)`` for every partition (a list); returns the new partition.

        Bags among the arguments give their matching partition; Items,
        Delayed and plain values are passed whole.
        """
        _check_callable(func, "map_partitions")
        converted = [(self.expr, True), *(_as_expr(a) for a in args)]
        kw = [(k, *_as_expr(v)) for k, v in kwargs.items()]
        self._check_aligned([a for a, al in converted if al] + [v for _, v, al in kw if al])
        return Bag(MapPartitions(
            NewPartition(func), tuple(a for a, _ in converted), tuple((k, v) for k, v, _ in kw),
            tuple(al for _, al in converted) + tuple(al for _, _, al in kw), self.npartitions,
        ))

    def random_sample(self, prob: float, random_state: int | _random.Random | None = None) -> "Bag":
        """Each element independently with probability ``prob``; reproducible with ``random_state``.

        ``random_state`` is a seed or, as in Dask, a ``random.Random`` (which
        the per-partition seeds are drawn from).
        """
        if not 0 <= prob <= 1:
            raise ValueError(f"random_sample: prob must be between 0 and 1, got {prob!r}")
        rng = random_state if isinstance(random_state, _random.Random) else _random.Random(random_state)
        seeds = tuple(rng.getrandbits(64) for _ in builtins.range(self.npartitions))
        seed_bag = Bag(FromSequence(tuple([s] for s in seeds)))
        return self.map_partitions(_sample_partition, seed_bag, prob)

    # ------------------------------------------------------------ reductions

    def reduction(self, perpartition: Callable, aggregate: Callable, split_every: int | None = None,
                  out_type: type = None, name: str | None = None, combine: Callable | None = None):
        """``aggregate([perpartition(p) for p in partitions])``, through a tree of ``split_every``.

        ``perpartition`` receives each partition as a list; ``aggregate``
        (and ``combine``, default ``aggregate``, in the tree's inner levels)
        receives a list of partials. Returns an ``Item`` (or a one-partition
        ``Bag`` with ``out_type=Bag``, when ``aggregate`` returns a list).
        """
        _check_callable(perpartition, "reduction", "perpartition")
        _check_callable(aggregate, "reduction", "aggregate")
        out_type = out_type or Item
        return self._reduce(red.ListedPartition(perpartition), combine or aggregate, aggregate,
                            split_every, out_type, name or funcname(aggregate).replace("_", "-"))

    def _reduce(self, perpartition, combine, aggregate, split_every, out_type=None, label=None):
        split_every = split_every or config.get("bag.split-every", 8)
        if not isinstance(split_every, int) or split_every < 2:
            raise ValueError(f"split_every must be an integer of at least 2, got {split_every!r}")
        expr = Reduction(self.expr, (), perpartition, combine, aggregate, split_every, label)
        return (out_type or Item)(expr)

    def sum(self, split_every: int | None = None) -> Item:
        return self._reduce(sum, red.sum_partials, red.sum_partials, split_every, None, "sum")

    def count(self, split_every: int | None = None) -> Item:
        return self._reduce(red.count_elements, red.sum_partials, red.sum_partials, split_every, None, "count")

    def min(self, split_every: int | None = None) -> Item:
        ext = red.Extreme(builtins.min)
        return self._reduce(ext.chunk, ext.combine, ext.aggregate, split_every, None, "min")

    def max(self, split_every: int | None = None) -> Item:
        ext = red.Extreme(builtins.max)
        return self._reduce(ext.chunk, ext.combine, ext.aggregate, split_every, None, "max")

    def any(self, split_every: int | None = None) -> Item:
        agg = red.AnyAll(builtins.any)
        return self._reduce(agg.chunk, agg.combine, agg.combine, split_every, None, "any")

    def all(self, split_every: int | None = None) -> Item:
        agg = red.AnyAll(builtins.all)
        return self._reduce(agg.chunk, agg.combine, agg.combine, split_every, None, "all")

    def mean(self, split_every: int | None = None) -> Item:
        return self._reduce(red.mean_chunk, red.combine_mean, red.aggregate_mean, split_every, None, "mean")

    def var(self, ddof: int = 0, split_every: int | None = None) -> Item:
        return self._reduce(red.moments_chunk, red.combine_moments, red.Variance(ddof), split_every, None, "var")

    def std(self, ddof: int = 0, split_every: int | None = None) -> Item:
        return self._reduce(red.moments_chunk, red.combine_moments, red.Variance(ddof, sqrt=True), split_every,
                            None, "std")

    def frequencies(self, sort: bool = False, split_every: int | None = None) -> "Bag":
        """``(element, count)`` pairs; by decreasing count with ``sort=True``."""
        return self._reduce(red.count_frequencies, red.merge_frequencies, red.FrequencyList(sort),
                            split_every, Bag, label="frequencies")

    def topk(self, k: int, key: Any = None, split_every: int | None = None) -> "Bag":
        """The ``k`` largest elements (by ``key``: a function, or an index/field), largest first."""
        if not isinstance(k, numbers.Integral) or k < 0:
            raise ValueError(f"topk: k must be a non-negative integer (how many elements), got {k!r}")
        top = red.TopK(k, _callable_key(key))
        return self._reduce(top.chunk, top.combine, top.combine, split_every, Bag, label="topk")

    def distinct(self, key: Any = None, split_every: int | None = None) -> "Bag":
        """Each element once (the first with each ``key`` value, when given), in first-seen order."""
        dist = red.Distinct(_callable_key(key))
        return self._reduce(dist.chunk, dist.combine, dist.aggregate, split_every, Bag, label="distinct")

    def fold(self, binop: Callable, combine: Callable | None = None, initial: Any = no_default,
             split_every: int | None = None, out_type: type = Item):
        """``reduce(binop)`` within partitions, then ``reduce(combine or binop)`` over the partials.

        ``initial`` starts every reduction (so it must be neutral, like 0 for ``add``).
        With ``out_type=Bag`` the folded value (a list) is a one-partition bag.
        """
        _check_callable(binop, "fold", "binop")
        fold = red.Fold(binop, combine or binop, (initial is not no_default, None if initial is no_default else initial))
        return self._reduce(fold.chunk, fold.combine, fold.aggregate, split_every, out_type, "fold")

    def foldby(self, key: Any, binop: Callable, initial: Any = no_default, combine: Callable | None = None,
               combine_initial: Any = no_default, split_every: int | None = None) -> "Bag":
        """Group by ``key`` and fold each group: ``(key, value)`` pairs, without a full shuffle.

        Within a partition ``binop(acc, element)`` (starting from ``initial``,
        called if callable); across partitions ``combine(acc, acc)``
        (default ``binop``; starting from ``combine_initial``).
        """
        _check_callable(binop, "foldby", "binop")
        fb = red.FoldBy(
            _callable_key(key), binop, _initial(initial), combine or binop, _initial(combine_initial),
        )
        return self._reduce(fb.chunk, fb.combine, fb.aggregate, split_every, Bag, label="foldby")

    # ------------------------------------------------------------ structure

    def take(self, k: int, npartitions: int = 1, compute: bool = True, warn: bool = True):
        """The first ``k`` elements, from the first ``npartitions`` partitions (``-1``: all).

        When those partitions hold fewer than ``k`` elements, the next ones
        are searched too (with a warning, as Dask warns); a bag shorter than
        ``k`` gives all its elements and a warning. ``compute=False`` gives a
        one-partition Bag of the first ``npartitions`` partitions' head.
        """
        if not isinstance(k, numbers.Integral) or k < 0:
            raise ValueError(f"take: k must be a non-negative integer (how many elements), got {k!r}")
        total = self.npartitions
        if npartitions == -1:
            npartitions = total
        if not 1 <= npartitions <= total:
            raise ValueError(
                f"take: npartitions={npartitions} but the bag has {total} partitions; "
                "pass a number from 1 to the partition count, or -1 for all"
            )
        if not compute:
            # one partition of at most k elements, as Dask gives: the heads joined, then cut to k
            return self._head(k, builtins.range(npartitions)).repartition(1)._stage(Head(k))
        found: list = []
        start, stop = 0, npartitions
        while True:
            found.extend(self._head(k - len(found), builtins.range(start, stop)).compute())
            if len(found) >= k or stop >= total:
                break
            if warn:
                warnings.warn(
                    f"Insufficient elements for `take`: {k} elements requested, only {len(found)} found "
                    f"in the first {stop} partition(s); searching further partitions. Pass a larger "
                    "`npartitions` to `take` (or -1 for all) to read them at once.", UserWarning, stacklevel=2,
                )
            start, stop = stop, builtins.min(total, stop * 2)
        if len(found) < k and warn:
            warnings.warn(
                f"Insufficient elements for `take`. {k} elements requested, only {len(found)} elements "
                "available in the whole bag.", UserWarning, stacklevel=2,
            )
        return tuple(found[:k])

    def _head(self, k: int, indices: Iterable[int]) -> "Bag":
        heads = Elementwise(SelectPartitions(self.expr, tuple(indices)), (Head(k),))
        return Bag(heads)

    def accumulate(self, binop: Callable, initial: Any = no_default) -> "Bag":
        """Running ``binop``, as ``itertools.accumulate(bag, binop, initial=initial)``."""
        _check_callable(binop, "accumulate", "binop")
        init = (initial is not no_default, None if initial is no_default else initial)
        return Bag(Accumulate(self.expr, binop, init))

    def join(self, other: Any, on_self: Any, on_other: Any = None) -> "Bag":
        """``(other_element, self_element)`` for every pair whose keys match.

        ``other`` is an in-memory iterable, a Delayed, or a one-partition
        Bag; it is indexed once per partition. Keys are functions or
        indexes/fields; ``on_other`` defaults to ``on_self``.
        """
        if isinstance(other, Bag):
            if other.npartitions != 1:
                raise ValueError(
                    f"Bag.join: the other bag has {other.npartitions} partitions; join with an in-memory "
                    "iterable, a Delayed or a one-partition bag (other.repartition(1))"
                )
            other = Item(other.expr)
        elif not isinstance(other, (Item, Delayed)):
            other = list(other)
        on_self = _callable_key(on_self)
        on_other = _callable_key(on_other) if on_other is not None else on_self
        return self.map_partitions(_join_partition, other, on_self, on_other)

    def product(self, other: "Bag") -> "Bag":
        """Every pair ``(a, b)`` of an element of this bag and one of ``other``."""
        if not isinstance(other, Bag):
            raise TypeError(f"Bag.product needs a Bag, got {type(other).__name__}")
        n, m = self.npartitions, other.npartitions
        left = Concat(tuple(SelectPartitions(self.expr, (i,) * m) for i in builtins.range(n)))
        right = Concat(tuple(other.expr for _ in builtins.range(n)))
        return Bag(MapPartitions(_product_partition, (left, right), (), (True, True), n * m))

    def repartition(self, npartitions: int | None = None, partition_size: int | str | None = None) -> "Bag":
        """The same elements in ``npartitions`` partitions (joined or split evenly).

        Or, with ``partition_size`` (bytes, or a string like ``"64 MiB"``),
        in partitions of about that size in memory: this computes the bag's
        partition sizes first, as Dask does.
        """
        from .repartition import repartition

        return repartition(self, npartitions, partition_size)

    def groupby(self, grouper: Any, npartitions: int | None = None, shuffle: str | None = None) -> "Bag":
        """``(key, [elements])`` for every key; see ``groupby.py`` for the two shuffles."""
        from .groupby import groupby

        return groupby(self, grouper, npartitions=npartitions, shuffle=shuffle)

    def to_textfiles(self, path: Any, name_function: Callable | None = None, compression: str = "infer",
                     encoding: str = "utf-8", compute: bool = True, last_endline: bool = False, **kwargs):
        """Write every partition to a text file; see ``io.to_textfiles``."""
        from .io import to_textfiles

        return to_textfiles(self, path, name_function=name_function, compression=compression,
                            encoding=encoding, compute=compute, last_endline=last_endline, **kwargs)

    def to_dataframe(self, meta: Any = None, columns: Any = None):
        """A ``shoal.dataframe.DataFrame`` with one pandas frame per partition; see ``io.to_dataframe``."""
        from .io import to_dataframe

        return to_dataframe(self, meta=meta, columns=columns)


def _initial(value: Any) -> tuple:
    return (value is not no_default, None if value is no_default else value)


# ------------------------------------------------------------ partition functions


def _starmap_partition(partition: list, func: Callable, **kwargs: Any) -> list:
    return [func(*x, **kwargs) for x in partition]


def _sample_partition(partition: list, seed: list, prob: float) -> list:
    rng = _random.Random(seed[0])
    return [x for x in partition if rng.random() < prob]


def _join_partition(partition: list, other: Iterable, on_self: Callable, on_other: Callable) -> list:
    index: dict = {}
    for y in other:
        index.setdefault(on_other(y), []).append(y)
    return [(y, x) for x in partition for y in index.get(on_self(x), ())]


def _product_partition(left: list, right: list) -> list:
    return [(a, b) for a in left for b in right]
