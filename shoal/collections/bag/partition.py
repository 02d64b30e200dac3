"""What runs inside a bag's tasks: per-partition pipelines of element-wise stages.

A partition is a plain ``list``. Element-wise operations (``map``, ``filter``,
``flatten``, ``pluck``, the ``.str`` methods, ...) are *stages*: small frozen
dataclasses that turn an iterator into an iterator. ``run_stages`` chains a
partition through its stages lazily and materializes the result once, with
``list`` or with a reduction's per-partition function (a ``Counter``, a sum),
so a chain of ten maps feeding ``frequencies`` never builds ten lists.

Every task returns a concrete value (never an iterator): a result may be read
by several tasks, sent to another process, or returned to the user.

>>> run_stages([1, 2, 3, 4], (Map(abs), Filter(_is_even)), None, 0)
[2, 4]
"""

from __future__ import annotations

import itertools
import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

__all__ = [
    "run_stages", "Map", "MapWithKeywords", "StarMap", "Filter", "Remove", "Flatten", "Pluck",
    "Head", "call_partition", "map_aligned", "AlignedMap", "NewPartition", "funcname",
]


def funcname(func: Any) -> str:
    """A short readable name for ``func`` (for keys, labels and error notes).

    >>> funcname(len), funcname(lambda x: x)
    ('len', 'lambda')
    """
    while hasattr(func, "func"):  # functools.partial, stage objects
        func = func.func
    if isinstance(func, operator.methodcaller):
        return func.__reduce__()[1][0]
    name = getattr(func, "__name__", None) or type(func).__name__
    return "lambda" if name == "<lambda>" else name


def _is_even(x: int) -> bool:  # used by the module doctest
    return x % 2 == 0


# ------------------------------------------------------------------ stages


@dataclass(frozen=True)
class Map:
    """``func(x)`` for every element."""

    func: Callable

    def __call__(self, items: Iterator) -> Iterator:
        return map(self.func, items)

    def describe(self) -> str:
        return f"map({funcname(self.func)})"


@dataclass(frozen=True)
class MapWithKeywords:
    """``func(x, *args, **kwargs)`` for every element; ``args``/``kwargs`` are broadcast."""

    func: Callable
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def __call__(self, items: Iterator) -> Iterator:
        func, args, kwargs = self.func, self.args, self.kwargs
        return (func(x, *args, **kwargs) for x in items)

    def describe(self) -> str:
        return f"map({funcname(self.func)})"


@dataclass(frozen=True)
class StarMap:
    """``func(*x, **kwargs)`` for every element (a tuple)."""

    func: Callable
    kwargs: dict = field(default_factory=dict)

    def __call__(self, items: Iterator) -> Iterator:
        if not self.kwargs:
            return itertools.starmap(self.func, items)
        func, kwargs = self.func, self.kwargs
        return (func(*x, **kwargs) for x in items)

    def describe(self) -> str:
        return f"starmap({funcname(self.func)})"


@dataclass(frozen=True)
class Filter:
    """The elements for which ``predicate`` is true."""

    predicate: Callable

    def __call__(self, items: Iterator) -> Iterator:
        return filter(self.predicate, items)

    def describe(self) -> str:
        return f"filter({funcname(self.predicate)})"


@dataclass(frozen=True)
class Remove:
    """The elements for which ``predicate`` is false."""

    predicate: Callable

    def __call__(self, items: Iterator) -> Iterator:
        return itertools.filterfalse(self.predicate, items)

    def describe(self) -> str:
        return f"remove({funcname(self.predicate)})"


@dataclass(frozen=True)
class Flatten:
    """The elements of every element, in order."""

    def __call__(self, items: Iterator) -> Iterator:
        return itertools.chain.from_iterable(items)

    def describe(self) -> str:
        return "flatten"


_NO_DEFAULT = "__shoal_no_default__"  # a string, so it survives pickling by value


@dataclass(frozen=True)
class Pluck:
    """``x[key]`` (or a tuple of ``x[k]`` for a list of keys), ``default`` when missing."""

    key: Any
    default: Any = _NO_DEFAULT

    def __call__(self, items: Iterator) -> Iterator:
        key, default = self.key, self.default
        if isinstance(key, list):
            getter = operator.itemgetter(*key) if len(key) != 1 else (lambda x, k=key[0]: (x[k],))
            if default == _NO_DEFAULT:
                return map(getter, items)
            return (tuple(_get(x, k, default) for k in key) for x in items)
        if default == _NO_DEFAULT:
            return map(operator.itemgetter(key), items)
        return (_get(x, key, default) for x in items)

    def describe(self) -> str:
        return f"pluck({self.key!r})"


def _get(x: Any, key: Any, default: Any) -> Any:
    try:
        return x[key]
    except (KeyError, IndexError, TypeError):
        return default


@dataclass(frozen=True)
class Head:
    """At most the first ``n`` elements."""

    n: int

    def __call__(self, items: Iterator) -> Iterator:
        return itertools.islice(items, self.n)

    def describe(self) -> str:
        return f"head({self.n})"


# ------------------------------------------------------------------ running


def run_stages(partition: Iterable, stages: tuple, finish: Callable | None, index: int,
               label: str | None = None) -> Any:
    """Pass ``partition`` through ``stages`` lazily, then ``finish`` it (default ``list``).

    An exception keeps its type; a note names the partition and the stages
    (``finish`` by ``label`` when given, such as ``foldby-partial``), so the
    user knows where in the bag it came from.
    """
    try:
        items = iter(partition)
        for stage in stages:
            items = stage(items)
        return list(items) if finish is None else finish(items)
    except Exception as exc:
        _note(exc, index, stages, finish, label)
        raise


def _note(exc: BaseException, index: int, stages: tuple, finish: Callable | None, label: str | None = None) -> None:
    steps = [s.describe() for s in stages]
    if finish is not None:
        steps.append(label or funcname(finish))
    where = " -> ".join(steps) if steps else "reading it"
    note = f"(in partition {index} of the bag, during {where})"
    if note not in getattr(exc, "__notes__", ()):
        exc.add_note(note)


def call_partition(func: Callable, index: int, *args: Any, **kwargs: Any) -> Any:
    """``func(*args, **kwargs)`` for a partition; an iterator result becomes a list."""
    try:
        result = func(*args, **kwargs)
        if isinstance(result, Iterator):
            result = list(result)
        return result
    except Exception as exc:
        during = func.describe() if isinstance(func, AlignedMap) else funcname(func)
        note = f"(in partition {index} of the bag, during {during})"
        if note not in getattr(exc, "__notes__", ()):
            exc.add_note(note)
        raise


@dataclass(frozen=True)
class NewPartition:
    """A ``map_partitions`` function, whose result must be the new partition (made a list)."""

    func: Callable

    def __call__(self, *args: Any, **kwargs: Any) -> list:
        result = self.func(*args, **kwargs)
        if isinstance(result, list):
            return result
        if not isinstance(result, Iterable):
            raise TypeError(
                f"map_partitions: {funcname(self.func)} returned {type(result).__name__} {result!r:.60}, but it "
                "must return the new partition (a list or another iterable); to compute one value per "
                "partition return [value], or use .reduction"
            )
        return list(result)


@dataclass(frozen=True)
class AlignedMap:
    """``map_aligned(func, ...)`` as one callable, so an error note names ``map(func)``, not the helper."""

    func: Callable

    def __call__(self, args: list, aligned: tuple, kwargs: dict, kw_aligned: tuple) -> list:
        return map_aligned(self.func, args, aligned, kwargs, kw_aligned)

    def describe(self) -> str:
        return f"map({funcname(self.func)})"


def map_aligned(func: Callable, args: list, aligned: tuple, kwargs: dict, kw_aligned: tuple) -> list:
    """``func`` over the elements of several partitions zipped together.

    ``aligned[j]`` says whether ``args[j]`` is a partition (zipped) or a
    value passed whole to every call; ``kw_aligned`` the same for the values
    of ``kwargs``. Partitions of different lengths are an error: zipping
    would silently drop elements.

    >>> map_aligned(divmod, [[7, 9], 2], (True, False), {}, ())
    [(3, 1), (4, 1)]
    """
    kw_names = list(kwargs)
    partitions = [a for a, al in zip(args, aligned) if al] + [kwargs[k] for k, al in zip(kw_names, kw_aligned) if al]
    lengths = {len(p) for p in partitions}
    if len(lengths) > 1:
        raise ValueError(
            f"Bag.map: the bags have partitions of different lengths ({sorted(lengths)}); "
            "elements are paired by position, so every bag must have the same partition lengths. "
            "Repartition them alike, or zip them yourself before mapping."
        )
    (length,) = lengths
    columns = [a if al else itertools.repeat(a, length) for a, al in zip(args, aligned)]
    fixed = {k: kwargs[k] for k, al in zip(kw_names, kw_aligned) if not al}
    zipped_kw = [k for k, al in zip(kw_names, kw_aligned) if al]
    if not zipped_kw:
        if fixed:
            return [func(*row, **fixed) for row in zip(*columns)]
        return list(itertools.starmap(func, zip(*columns)))
    kw_columns = [kwargs[k] for k in zipped_kw]
    n = len(columns)
    return [func(*row[:n], **fixed, **dict(zip(zipped_kw, row[n:]))) for row in zip(*columns, *kw_columns)]
