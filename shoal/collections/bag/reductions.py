"""The pieces of bag reductions: per-partition partials and how to combine them.

Every reduction is three functions (see ``expr.Reduction``): ``perpartition``
turns one partition's element iterator into a small partial, ``combine``
turns a list of partials into one partial (it runs in the reduction tree),
and ``aggregate`` turns the last list of partials into the answer. They are
module-level (or frozen dataclasses) so the processes scheduler pickles them
by reference and ``tokenize`` sees their values.

Partials of ``min``/``max``/``fold`` are ``(has_value, value)`` pairs so that
empty partitions contribute nothing instead of raising.

>>> partials = [count_elements(iter([1, 2])), count_elements(iter([]))]
>>> sum_partials(partials)
2
>>> aggregate_mean([mean_chunk(iter([1, 2])), mean_chunk(iter([3]))])
2.0
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from dataclasses import dataclass
from functools import reduce
from typing import Any, Callable, Iterator

__all__ = [
    "count_elements", "sum_partials", "Extreme", "mean_chunk", "aggregate_mean", "moments_chunk",
    "combine_moments", "Variance", "count_frequencies", "merge_frequencies", "FrequencyList",
    "TopK", "Distinct", "Fold", "FoldBy", "ListedPartition", "AnyAll",
]


def count_elements(items: Iterator) -> int:
    return sum(1 for _ in items)


def sum_partials(partials: list) -> Any:
    return sum(partials)


@dataclass(frozen=True)
class Extreme:
    """``min`` or ``max`` over elements, skipping empty partitions."""

    func: Callable  # builtins.min or builtins.max

    def chunk(self, items: Iterator) -> tuple:
        items = list(items)
        return (True, self.func(items)) if items else (False, None)

    def combine(self, partials: list) -> tuple:
        values = [v for has, v in partials if has]
        return (True, self.func(values)) if values else (False, None)

    def aggregate(self, partials: list) -> Any:
        has, value = self.combine(partials)
        if not has:
            raise ValueError(f"{self.func.__name__}() of an empty bag: it has no elements")
        return value


def mean_chunk(items: Iterator) -> tuple:
    total = 0
    count = 0
    for x in items:
        total += x
        count += 1
    return (total, count)


def combine_mean(partials: list) -> tuple:
    return (sum(t for t, _ in partials), sum(c for _, c in partials))


def aggregate_mean(partials: list) -> float:
    total, count = combine_mean(partials)
    if count == 0:
        raise ZeroDivisionError("mean() of an empty bag: it has no elements")
    return total / count


def moments_chunk(items: Iterator) -> tuple:
    """``(count, mean, sum of squared deviations)`` of one partition."""
    values = [float(x) for x in items]
    n = len(values)
    if n == 0:
        return (0, 0.0, 0.0)
    mean = math.fsum(values) / n
    return (n, mean, math.fsum((v - mean) ** 2 for v in values))


def combine_moments(partials: list) -> tuple:
    """Chan et al.'s pairwise update: exact to rounding, no catastrophic cancellation."""
    n, mean, m2 = 0, 0.0, 0.0
    for nb, meanb, m2b in partials:
        if nb == 0:
            continue
        total = n + nb
        delta = meanb - mean
        mean += delta * nb / total
        m2 += m2b + delta * delta * n * nb / total
        n = total
    return (n, mean, m2)


@dataclass(frozen=True)
class Variance:
    """Variance (or standard deviation) with ``ddof`` from moments partials."""

    ddof: int = 0
    sqrt: bool = False

    def __call__(self, partials: list) -> float:
        n, _, m2 = combine_moments(partials)
        if n - self.ddof <= 0:
            raise ZeroDivisionError(
                f"var()/std() of a bag of {n} element(s) with ddof={self.ddof}: the divisor n - ddof is not positive"
            )
        var = m2 / (n - self.ddof)
        return math.sqrt(var) if self.sqrt else var


def count_frequencies(items: Iterator) -> Counter:
    return Counter(items)  # counts in C


def merge_frequencies(partials: list) -> Counter:
    total = Counter()
    for counts in partials:
        total.update(counts)
    return total


@dataclass(frozen=True)
class FrequencyList:
    """The final ``[(element, count), ...]``; by decreasing count with ``sort``."""

    sort: bool = False

    def __call__(self, partials: list) -> list:
        counts = merge_frequencies(partials)
        return counts.most_common() if self.sort else list(counts.items())


@dataclass(frozen=True)
class TopK:
    """The ``k`` largest elements (by ``key``), largest first."""

    k: int
    key: Callable | None = None

    def chunk(self, items: Iterator) -> list:
        return heapq.nlargest(self.k, items, key=self.key)

    def combine(self, partials: list) -> list:
        return heapq.nlargest(self.k, (x for part in partials for x in part), key=self.key)


@dataclass(frozen=True)
class Distinct:
    """Each element (or the first element of each ``key`` value) once, in first-seen order."""

    key: Callable | None = None

    def chunk(self, items: Iterator) -> dict:
        if self.key is None:
            return dict.fromkeys(items)
        seen: dict = {}
        key = self.key
        for x in items:
            seen.setdefault(key(x), x)
        return seen

    def combine(self, partials: list) -> dict:
        merged: dict = {}
        for part in partials:
            for k, v in part.items():
                merged.setdefault(k, v)
        return merged

    def aggregate(self, partials: list) -> list:
        merged = self.combine(partials)
        return list(merged) if self.key is None else list(merged.values())


@dataclass(frozen=True)
class Fold:
    """``reduce(binop)`` per partition, then ``reduce(combine)`` over partials."""

    binop: Callable
    combine_op: Callable
    initial: tuple  # (has_initial, value)

    def chunk(self, items: Iterator) -> tuple:
        return _reduce(self.binop, items, self.initial)

    def combine(self, partials: list) -> tuple:
        return _reduce(self.combine_op, (v for has, v in partials if has), self.initial)

    def aggregate(self, partials: list) -> Any:
        has, value = self.combine(partials)
        if not has:
            raise TypeError("fold() of an empty bag with no initial value; pass initial=")
        return value


def _reduce(func: Callable, items: Iterator, initial: tuple) -> tuple:
    items = iter(items)
    if initial[0]:
        return (True, reduce(func, items, initial[1]))
    sentinel = object()
    first = next(items, sentinel)
    if first is sentinel:
        return (False, None)
    return (True, reduce(func, items, first))


@dataclass(frozen=True)
class FoldBy:
    """Per key: ``reduce(binop)`` per partition, then ``reduce(combine)`` across partitions."""

    key: Callable
    binop: Callable
    initial: tuple  # (has, value); a callable value is called for a fresh start per key
    combine_op: Callable
    combine_initial: tuple

    def chunk(self, items: Iterator) -> dict:
        return _reduce_by(self.key, self.binop, items, self.initial)

    def combine(self, partials: list) -> dict:
        pairs = ((k, v) for part in partials for k, v in part.items())
        return _reduce_by(_pair_key, _CombineValues(self.combine_op), pairs, self.combine_initial, values=True)

    def aggregate(self, partials: list) -> list:
        return list(self.combine(partials).items())


def _pair_key(pair: tuple) -> Any:
    return pair[0]


@dataclass(frozen=True)
class _CombineValues:
    op: Callable

    def __call__(self, acc: Any, pair: tuple) -> Any:
        return self.op(acc, pair[1])


def _reduce_by(key: Callable, binop: Callable, items: Iterator, initial: tuple, values: bool = False) -> dict:
    out: dict = {}
    has_initial, start = initial
    for x in items:
        k = key(x)
        if k in out:
            out[k] = binop(out[k], x)
        elif has_initial:
            out[k] = binop(start() if callable(start) else start, x)
        else:
            out[k] = x[1] if values else x
    return out


@dataclass(frozen=True)
class ListedPartition:
    """A user's ``perpartition`` function, given the partition as a list."""

    func: Callable

    def __call__(self, items: Iterator) -> Any:
        return self.func(list(items))


@dataclass(frozen=True)
class AnyAll:
    """``any`` or ``all`` of the elements."""

    func: Callable

    def chunk(self, items: Iterator) -> bool:
        return self.func(items)

    def combine(self, partials: list) -> bool:
        return self.func(partials)
