"""Property tests: any partitioning of any list gives the plain-Python answers."""

from __future__ import annotations

import itertools
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from bag_helpers import bag_of

partitioned = st.lists(st.lists(st.integers(-50, 50), max_size=8), min_size=1, max_size=6)


def flat(parts):
    return [x for p in parts for x in p]


@settings(max_examples=40, deadline=None)
@given(partitioned, st.integers(2, 4))
def test_pipelines_and_reductions_match_python(parts, split_every):
    data = flat(parts)
    b = bag_of(parts)
    kept = b.map(lambda x: x * 3).filter(lambda x: x % 2 == 0)
    expected = [x * 3 for x in data if (x * 3) % 2 == 0]
    assert kept.compute(scheduler="sync") == expected
    assert kept.sum(split_every=split_every).compute(scheduler="sync") == sum(expected)
    assert kept.count(split_every=split_every).compute(scheduler="sync") == len(expected)
    assert dict(b.frequencies(split_every=split_every).compute(scheduler="sync")) == Counter(data)
    assert b.distinct().compute(scheduler="sync") == list(dict.fromkeys(data))
    assert b.accumulate(lambda a, x: a + x).compute(scheduler="sync") == list(itertools.accumulate(data))
    assert b.topk(3).compute(scheduler="sync") == sorted(data, reverse=True)[:3]


@settings(max_examples=30, deadline=None)
@given(partitioned, st.integers(1, 7), st.sampled_from(["tasks", "disk"]))
def test_groupby_and_repartition_keep_every_element(parts, n, shuffle):
    data = flat(parts)
    b = bag_of(parts)
    assert b.repartition(n).compute(scheduler="sync") == data
    groups = dict(b.groupby(lambda x: x % 5, npartitions=n, shuffle=shuffle).compute(scheduler="sync"))
    expected: dict = {}
    for x in data:
        expected.setdefault(x % 5, []).append(x)
    assert groups == expected
