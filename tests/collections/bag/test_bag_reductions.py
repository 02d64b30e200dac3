"""Bag reductions against plain Python (``sum``, ``statistics``, ``Counter``, ``heapq``, ``functools.reduce``)."""

from __future__ import annotations

import functools
import heapq
import math
import operator
import statistics
from collections import Counter

import pytest

import shoal.bag as db
from shoal.base import collections_to_graph
from shoal.testing import assert_eq

from bag_helpers import bag_of

DATA = [(i * 37) % 23 - 5 for i in range(40)]
WORDS = "the cat and the dog and the bird saw a cat".split() * 3


def test_sum_count_min_max_mean(shape, scheduler):
    b = shape(DATA)
    assert_eq(b.sum(), sum(DATA), scheduler=scheduler)
    assert_eq(b.count(), len(DATA), scheduler=scheduler)
    assert_eq(b.min(), min(DATA), scheduler=scheduler)
    assert_eq(b.max(), max(DATA), scheduler=scheduler)
    assert_eq(b.mean(), statistics.fmean(DATA), scheduler=scheduler)
    assert_eq(b.any(), any(DATA), scheduler=scheduler)
    assert_eq(b.map(lambda x: x > -100).all(), True, scheduler=scheduler)


@pytest.mark.parametrize("ddof", [0, 1])
def test_var_std(shape, ddof):
    b = shape(DATA)
    expected = statistics.pvariance(DATA) if ddof == 0 else statistics.variance(DATA)
    assert_eq(b.var(ddof=ddof), expected)
    assert_eq(b.std(ddof=ddof), math.sqrt(expected))


def test_var_is_accurate_with_a_large_offset():
    data = [1e9 + x for x in (4, 7, 13, 16)]
    assert_eq(db.from_sequence(data, npartitions=3).var(), statistics.pvariance(data))


def test_empty_bag_reductions():
    empty = bag_of([[], []])
    assert empty.sum().compute(scheduler="sync") == 0
    assert empty.count().compute(scheduler="sync") == 0
    assert empty.frequencies().compute(scheduler="sync") == []
    with pytest.raises(ValueError, match="empty bag"):
        empty.min().compute(scheduler="sync")
    with pytest.raises(ZeroDivisionError, match="empty bag"):
        empty.mean().compute(scheduler="sync")
    with pytest.raises(TypeError, match="no initial value"):
        empty.fold(operator.add).compute(scheduler="sync")


def test_frequencies(shape, scheduler):
    b = shape(WORDS)
    assert dict(b.frequencies().compute(scheduler=scheduler)) == Counter(WORDS)
    ranked = b.frequencies(sort=True).compute(scheduler=scheduler)
    assert [c for _, c in ranked] == sorted(Counter(WORDS).values(), reverse=True)
    assert dict(ranked) == Counter(WORDS)


def test_topk(shape, scheduler):
    b = shape(DATA)
    assert_eq(b.topk(5), heapq.nlargest(5, DATA), scheduler=scheduler)
    assert_eq(b.topk(3, key=lambda x: -x), heapq.nsmallest(3, DATA), scheduler=scheduler)
    pairs = [(x, i) for i, x in enumerate(DATA)]
    assert_eq(shape(pairs).topk(4, key=1), heapq.nlargest(4, pairs, key=operator.itemgetter(1)), scheduler=scheduler)
    assert shape(DATA).topk(100).compute(scheduler=scheduler) == sorted(DATA, reverse=True)
    assert shape(DATA).topk(0).compute(scheduler=scheduler) == []


def test_topk_refuses_a_k_that_is_not_a_count():
    for bad in (-1, 2.5, "3", None):
        with pytest.raises(ValueError, match="k must be a non-negative integer"):
            db.from_sequence(DATA).topk(bad)


def test_distinct(shape, scheduler):
    b = shape(WORDS)
    assert_eq(b.distinct(), list(dict.fromkeys(WORDS)), scheduler=scheduler)
    first_by_length: dict = {}
    for w in WORDS:
        first_by_length.setdefault(len(w), w)
    assert_eq(b.distinct(key=len), list(first_by_length.values()), scheduler=scheduler)


def test_fold(shape, scheduler):
    b = shape(DATA)
    assert_eq(b.fold(operator.add), functools.reduce(operator.add, DATA), scheduler=scheduler)
    assert_eq(b.fold(operator.add, initial=0), sum(DATA), scheduler=scheduler)
    # a binop building partial lists, a combine joining them
    got = b.fold(lambda acc, x: acc + [x], operator.add, initial=[]).compute(scheduler=scheduler)
    assert got == DATA
    assert_eq(b.fold(max), max(DATA), scheduler=scheduler)
    # out_type=Bag, as in Dask: the folded list becomes a one-partition bag
    as_bag = b.fold(lambda acc, x: acc + [x], operator.add, initial=[], out_type=db.Bag)
    assert isinstance(as_bag, db.Bag) and as_bag.npartitions == 1
    assert_eq(as_bag, DATA, scheduler=scheduler)


def test_a_failing_reduction_names_itself_and_the_partition(scheduler):
    records = [{"k": i % 3, "v": i} for i in range(12)] + [{"v": 99}]  # the last record lacks "k"
    b = db.from_sequence(records, npartitions=3)
    for reduction, name in ((b.foldby("k", lambda acc, r: acc + r["v"], 0), "foldby"),
                            (b.map(operator.itemgetter("k")).sum(), "map(itemgetter) -> sum")):
        with pytest.raises(KeyError) as info:
            reduction.compute(scheduler=scheduler)
        assert f"in partition 2 of the bag, during {name}-partial" in "\n".join(info.value.__notes__)


def test_foldby(shape, scheduler):
    b = shape(DATA)
    expected: dict = {}
    for x in DATA:
        expected[x % 4] = expected.get(x % 4, 0) + x
    assert dict(b.foldby(lambda x: x % 4, operator.add).compute(scheduler=scheduler)) == expected
    assert dict(b.foldby(lambda x: x % 4, operator.add, 0, operator.add, 0).compute(scheduler=scheduler)) == expected
    counts = b.foldby(lambda x: x % 4, lambda acc, _: acc + 1, 0, operator.add).compute(scheduler=scheduler)
    assert dict(counts) == Counter(x % 4 for x in DATA)
    records = [{"k": x % 3, "v": x} for x in DATA]
    by_k = shape(records).foldby("k", lambda acc, r: max(acc, r["v"]), -math.inf, max, -math.inf)
    assert dict(by_k.compute(scheduler=scheduler)) == {k: max(x for x in DATA if x % 3 == k) for k in range(3)}


def test_reduction_with_user_functions(shape, scheduler):
    b = shape(DATA)
    assert_eq(b.reduction(len, sum), len(DATA), scheduler=scheduler)
    ranges = b.reduction(lambda p: (min(p), max(p)) if p else None,
                         lambda parts: [min(p[0] for p in parts if p), max(p[1] for p in parts if p)],
                         combine=lambda parts: (min(p[0] for p in parts if p), max(p[1] for p in parts if p)))
    assert ranges.compute(scheduler=scheduler) == [min(DATA), max(DATA)]
    listed = b.reduction(sorted, lambda parts: sorted(x for p in parts for x in p), out_type=db.Bag)
    assert isinstance(listed, db.Bag)
    assert_eq(listed, sorted(DATA), scheduler=scheduler)


@pytest.mark.parametrize("split_every", [2, 3, 8])
def test_split_every_builds_a_tree(split_every):
    b = db.from_sequence(range(100), npartitions=20)
    total = b.sum(split_every=split_every)
    graph, _ = collections_to_graph([total], optimize_graph=False)
    partials = 20
    combines = 0
    while partials > split_every:
        partials = math.ceil(partials / split_every)
        combines += partials
    # sources + per-partition partials + inner combines + the final aggregate
    assert len(graph) == 20 + 20 + combines + 1
    assert total.compute(scheduler="sync") == sum(range(100))
    with pytest.raises(ValueError, match="split_every"):
        b.sum(split_every=1)


def test_reductions_after_pipelines_run_fused(scheduler):
    b = db.from_sequence(WORDS, npartitions=4).map(str.upper).filter(lambda w: len(w) > 2)
    expected = Counter(w.upper() for w in WORDS if len(w) > 2)
    assert dict(b.frequencies().compute(scheduler=scheduler)) == expected
    graph, _ = collections_to_graph([b.frequencies()])
    assert len(graph) == 4 + 1
