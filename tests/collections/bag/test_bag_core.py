"""Bag creation, element-wise operations and structure, compared with plain Python."""

from __future__ import annotations

import itertools
import json
import operator
import random
import re
import warnings

import pytest

import shoal.bag as db
from shoal import compute, delayed
from shoal.base import collections_to_graph
from shoal.testing import assert_eq
from shoal.taskgraph.core import Fused

from bag_helpers import bag_of

DATA = list(range(20))
RECORDS = [{"name": n, "age": a, "tags": ["x"] * (a % 3)} for n, a in zip("abcdefghij" * 2, range(20))]


def inc(x):
    return x + 1


def is_odd(x):
    return x % 2 == 1


# ------------------------------------------------------------------ creation


def test_from_sequence_npartitions_and_partition_size():
    for n in (1, 3, 7, 20, 25):
        b = db.from_sequence(DATA, npartitions=n)
        assert b.npartitions == n
        assert_eq(b, DATA)
    b = db.from_sequence(DATA, partition_size=6)
    assert b.npartitions == 4
    assert_eq(b, DATA)
    assert_eq(db.from_sequence([]), [])
    with pytest.raises(ValueError, match="not both"):
        db.from_sequence(DATA, npartitions=2, partition_size=3)
    for bad in (0, 2.0, "2"):
        with pytest.raises(ValueError, match="npartitions must be an integer"):
            db.from_sequence(DATA, npartitions=bad)
        with pytest.raises(ValueError, match="partition_size must be an integer"):
            db.from_sequence(DATA, partition_size=bad)


def test_range_and_concat(scheduler):
    assert_eq(db.range(11, npartitions=3), list(range(11)), scheduler=scheduler)
    both = db.concat([db.range(3, npartitions=2), db.from_sequence("ab", npartitions=1)])
    assert both.npartitions == 3
    assert_eq(both, [0, 1, 2, "a", "b"], scheduler=scheduler)


def test_from_delayed_and_to_delayed(scheduler):
    parts = [delayed(list)(range(i, i + 3)) for i in (0, 3, 6)]
    b = db.from_delayed(parts)
    assert b.npartitions == 3
    assert_eq(b.map(inc), [inc(x) for x in range(9)], scheduler=scheduler)
    pieces = b.map(inc).to_delayed()
    assert [p.compute(scheduler=scheduler) for p in pieces] == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    item = db.Item.from_delayed(delayed(sum)([1, 2, 3]))
    assert item.apply(inc).compute(scheduler=scheduler) == 7
    assert b.sum().to_delayed().compute(scheduler=scheduler) == sum(range(9))


def count_up_to(n):
    return (i for i in range(n))


def test_from_delayed_iterators_are_made_lists_once(scheduler):
    # a generator partition read by two operations gives both all its elements
    b = db.from_delayed([delayed(count_up_to)(3), delayed(count_up_to)(0), delayed(tuple)("ab")])
    expected = [*range(3), "a", "b"]
    both = compute(b.map(str), b.count(), scheduler=scheduler)
    assert both == ([str(x) for x in expected], len(expected))
    assert_eq(b, expected, scheduler=scheduler)
    with pytest.raises(TypeError, match="partition must be a list or another iterable"):
        db.from_delayed([delayed(len)("abc")]).compute(scheduler="sync")


def test_persist_keeps_values(scheduler):
    b = db.from_sequence(DATA, npartitions=4).map(inc)
    p = b.persist(scheduler=scheduler)
    assert p.npartitions == 4
    assert_eq(p.filter(is_odd), [x for x in map(inc, DATA) if is_odd(x)], scheduler=scheduler)


# ------------------------------------------------------------------ element-wise


def test_map_filter_remove_on_every_shape(shape, scheduler):
    b = shape(DATA)
    assert_eq(b.map(inc), [inc(x) for x in DATA], scheduler=scheduler)
    assert_eq(b.filter(is_odd), [x for x in DATA if is_odd(x)], scheduler=scheduler)
    assert_eq(b.remove(is_odd), [x for x in DATA if not is_odd(x)], scheduler=scheduler)
    assert_eq(b.map(lambda x, k, m=1: x * k + m, 3, m=2), [x * 3 + 2 for x in DATA], scheduler=scheduler)


def test_map_zips_bags_and_broadcasts_items(scheduler):
    a = db.from_sequence(DATA, npartitions=4)
    b = a.map(lambda x: x * 10)
    assert_eq(a.map(operator.add, b), [x + 10 * x for x in DATA], scheduler=scheduler)
    total = a.sum()
    assert_eq(a.map(operator.sub, total), [x - sum(DATA) for x in DATA], scheduler=scheduler)
    assert_eq(a.map(lambda x, y, z=0: x + y + z, b, z=total), [x + 10 * x + sum(DATA) for x in DATA],
              scheduler=scheduler)
    assert_eq(a.map(lambda x, y=0, z=0: (x, y, z), y=b, z=total), [(x, 10 * x, sum(DATA)) for x in DATA],
              scheduler=scheduler)
    d = delayed(sum)([1, 2])
    assert_eq(a.map(operator.mul, d), [x * 3 for x in DATA], scheduler=scheduler)


def test_module_level_map_map_partitions_and_zip(shape, scheduler):
    a = shape(DATA)
    b = a.map(lambda x: x * 10)
    # the bags may stand anywhere among the arguments, as in dask.bag.map
    assert_eq(db.map(operator.sub, 1000, a), [1000 - x for x in DATA], scheduler=scheduler)
    assert_eq(db.map(lambda x, y, z=0: x - y + z, b, a, z=a.count()),
              [10 * x - x + len(DATA) for x in DATA], scheduler=scheduler)
    assert_eq(db.map(lambda k, y: (k, y), "k", y=b), [("k", 10 * x) for x in DATA], scheduler=scheduler)
    assert_eq(db.zip(a, b, a), list(zip(DATA, [10 * x for x in DATA], DATA)), scheduler=scheduler)
    sizes = db.map_partitions(lambda offset, p, q: [offset + len(p) + len(q)], 100, a, b)
    assert sizes.npartitions == a.npartitions
    assert sum(sizes.compute(scheduler=scheduler)) == 100 * a.npartitions + 2 * len(DATA)


def test_module_level_functions_refuse_bad_arguments():
    a = db.from_sequence(DATA, npartitions=2)
    with pytest.raises(ValueError, match="at least one Bag"):
        db.map(inc, 3)
    with pytest.raises(ValueError, match="at least one Bag"):
        db.map_partitions(len, [1, 2])
    with pytest.raises(TypeError, match="must be callable"):
        db.map(3, a)
    with pytest.raises(ValueError, match="different numbers of partitions"):
        db.zip(a, db.from_sequence(DATA, npartitions=3))
    with pytest.raises(TypeError, match="one or more Bags"):
        db.zip(a, DATA)


def test_map_of_misaligned_bags_is_refused():
    with pytest.raises(ValueError, match="different numbers of partitions"):
        db.from_sequence(DATA, npartitions=2).map(operator.add, db.from_sequence(DATA, npartitions=3))
    uneven = db.from_sequence(DATA, npartitions=2).map(operator.add, bag_of([DATA[:3], DATA[3:]]))
    with pytest.raises(ValueError, match="different lengths"):
        uneven.compute(scheduler="sync")


def test_starmap_flatten_pluck(shape, scheduler):
    pairs = [(x, x % 3) for x in DATA]
    assert_eq(shape(pairs).starmap(operator.mul), list(itertools.starmap(operator.mul, pairs)), scheduler=scheduler)
    assert_eq(shape(pairs).starmap(lambda a, b, c: a + b + c, c=100), [a + b + 100 for a, b in pairs],
              scheduler=scheduler)
    recs = shape(RECORDS)
    assert_eq(recs.pluck("name"), [r["name"] for r in RECORDS], scheduler=scheduler)
    assert_eq(recs.pluck(["name", "age"]), [(r["name"], r["age"]) for r in RECORDS], scheduler=scheduler)
    assert_eq(recs.pluck("tags").flatten(), [t for r in RECORDS for t in r["tags"]], scheduler=scheduler)
    assert_eq(recs.pluck("missing", default=None), [None] * len(RECORDS), scheduler=scheduler)
    assert_eq(recs.pluck(["age", "nope"], default=-1), [(r["age"], -1) for r in RECORDS], scheduler=scheduler)
    assert_eq(shape([[i] * (i % 3) for i in DATA]).flatten(), [i for i in DATA for _ in range(i % 3)],
              scheduler=scheduler)


def test_unzip(shape, scheduler):
    triples = [(x, str(x), -x) for x in DATA]
    bags = shape(triples).unzip(3)
    assert len(bags) == 3
    for got, expected in zip(bags, zip(*triples)):
        assert_eq(got, list(expected), scheduler=scheduler)
    with pytest.raises(ValueError, match="positive integer"):
        shape(triples).unzip(0)


def test_map_partitions(shape, scheduler):
    b = shape(DATA)
    got = b.map_partitions(lambda part: [len(part)]).compute(scheduler=scheduler)
    assert sum(got) == len(DATA) and len(got) == b.npartitions
    # an iterator result is materialized; bags and items among arguments
    assert_eq(b.map_partitions(lambda part, k: (x * k for x in part), 2), [2 * x for x in DATA], scheduler=scheduler)
    assert_eq(b.map_partitions(lambda p, q: [x + y for x, y in zip(p, q)], b.map(inc)),
              [x + inc(x) for x in DATA], scheduler=scheduler)
    assert_eq(b.map_partitions(lambda p, total=0: [x + total for x in p], total=b.count()),
              [x + len(DATA) for x in DATA], scheduler=scheduler)


def test_map_partitions_must_return_a_partition(scheduler):
    b = db.from_sequence(DATA, npartitions=3)
    # any iterable is made the new partition (a list), here a set per partition
    assert_eq(b.map_partitions(lambda p: {x % 2 for x in p}), [0, 1] * 3, scheduler=scheduler)
    for made in (b.map_partitions(sum), db.map_partitions(len, b)):
        with pytest.raises(TypeError, match="must return the new partition") as info:
            made.compute(scheduler=scheduler)
        # every partition fails; which one is reported first depends on the scheduler's timing
        assert re.search(r"in partition [0-2] of the bag", "\n".join(info.value.__notes__))


def test_json_round_trip_in_memory(scheduler):
    lines = [json.dumps(r) for r in RECORDS]
    assert_eq(db.from_sequence(lines, npartitions=3).map(json.loads), RECORDS, scheduler=scheduler)


def test_random_sample_is_reproducible_subset(scheduler):
    data = list(range(2000))
    b = db.from_sequence(data, npartitions=5)
    s1 = b.random_sample(0.3, random_state=7).compute(scheduler=scheduler)
    s2 = b.random_sample(0.3, random_state=7).compute(scheduler="sync")
    assert s1 == s2
    assert set(s1) <= set(data) and s1 == sorted(s1)
    assert 450 < len(s1) < 750  # 600 expected; bounds are > 5 standard deviations (20.5) away
    assert b.random_sample(0.0).compute(scheduler=scheduler) == []
    assert b.random_sample(1.0).compute(scheduler=scheduler) == data
    with pytest.raises(ValueError, match="between 0 and 1"):
        b.random_sample(1.5)
    # a random.Random works as random_state too (as in Dask): same generator state, same sample
    from_rng = b.random_sample(0.3, random_state=random.Random(7)).compute(scheduler=scheduler)
    assert from_rng == b.random_sample(0.3, random_state=random.Random(7)).compute(scheduler="sync")
    assert set(from_rng) <= set(data) and 450 < len(from_rng) < 750


# ------------------------------------------------------------------ structure


def test_accumulate(shape, scheduler):
    b = shape(DATA)
    assert_eq(b.accumulate(operator.add), list(itertools.accumulate(DATA, operator.add)), scheduler=scheduler)
    assert_eq(b.accumulate(max, initial=5), list(itertools.accumulate(DATA, max, initial=5)), scheduler=scheduler)
    assert_eq(bag_of([[], [], [3, 4]]).accumulate(operator.mul), [3, 12], scheduler=scheduler)


def test_accumulate_error_names_the_partition(scheduler):
    b = bag_of([[1, 2], [3], ["four", 5]])
    with pytest.raises(TypeError) as info:
        b.accumulate(operator.add).compute(scheduler=scheduler)
    assert "in partition 2 of the bag, during accumulate(add)" in "\n".join(info.value.__notes__)


def test_join_with_iterables(shape, scheduler):
    people = shape(RECORDS)
    clubs = [("a", "chess"), ("a", "go"), ("c", "tennis"), ("z", "none")]
    expected = [(c, r) for r in RECORDS for c in clubs if c[0] == r["name"]]
    assert_eq(people.join(clubs, on_self="name", on_other=0), expected, scheduler=scheduler)
    assert_eq(people.join(db.from_sequence(clubs, npartitions=1), lambda r: r["name"], operator.itemgetter(0)),
              expected, scheduler=scheduler)
    assert_eq(people.join(delayed(list)(clubs), "name", 0), expected, scheduler=scheduler)
    with pytest.raises(ValueError, match="one-partition"):
        people.join(db.from_sequence(clubs, npartitions=2), "name", 0)


def test_product(scheduler):
    a = bag_of([[1, 2], [], [3]])
    b = bag_of([["x"], ["y", "z"]])
    got = a.product(b)
    assert got.npartitions == 6
    assert sorted(got.compute(scheduler=scheduler)) == sorted(itertools.product([1, 2, 3], "xyz"))


@pytest.mark.parametrize("n", [1, 2, 3, 7, 12])
def test_repartition(shape, n):
    b = shape(DATA).map(inc)
    r = b.repartition(n)
    assert r.npartitions == n
    assert_eq(r, [inc(x) for x in DATA])
    sizes = [len(p.compute(scheduler="sync")) for p in r.to_delayed()]
    assert sum(sizes) == len(DATA)


def test_repartition_by_partition_size(shape, scheduler):
    from shoal.collections.bag.repartition import estimate_nbytes

    data = [f"record {i:04d} " + "x" * (i % 50) for i in range(40)]
    b = shape(data)
    limit = sum(map(estimate_nbytes, data)) // 6  # about six partitions' worth
    r = b.repartition(partition_size=limit)
    assert_eq(r, data, scheduler=scheduler)
    parts = [d.compute(scheduler="sync") for d in r.to_delayed()]
    # pieces are cut by element count, so a partition is about (not at most) the size
    assert all(parts) and all(sum(map(estimate_nbytes, p)) <= 1.5 * limit for p in parts)
    assert 6 <= r.npartitions <= 12
    # everything fits in one partition; sizes as strings, as in Dask
    assert shape(data).repartition(partition_size="1 GiB").npartitions == 1
    assert_eq(shape(data).repartition(partition_size="1 GiB"), data)
    for bad in ({}, {"npartitions": 2, "partition_size": 100}):
        with pytest.raises(ValueError, match="exactly one"):
            b.repartition(**bad)
    with pytest.raises(ValueError, match="positive number of bytes"):
        b.repartition(partition_size=0)


def test_take_searches_further_partitions_and_warns():
    b = bag_of([[1], [], [2, 3], [4, 5, 6]])
    assert b.take(1) == (1,)
    with pytest.warns(UserWarning, match="Insufficient elements for `take`"):
        assert b.take(4) == (1, 2, 3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert b.take(4, npartitions=-1) == (1, 2, 3, 4)
        assert b.take(2, npartitions=3) == (1, 2)
    with pytest.warns(UserWarning, match="only 6 elements available"):
        assert b.take(10, npartitions=-1) == (1, 2, 3, 4, 5, 6)
    assert b.take(3, npartitions=3, compute=False).compute(scheduler="sync") == [1, 2, 3]
    lazy = db.from_sequence(range(6), npartitions=2).take(2, npartitions=2, compute=False)
    assert lazy.npartitions == 1  # k elements in one partition, not k from each partition
    assert lazy.compute(scheduler="sync") == list(range(6))[:2]
    with pytest.raises(ValueError, match="npartitions=9"):
        b.take(1, npartitions=9)
    assert b.take(0) == ()
    for bad in (-1, 2.5, "3"):
        with pytest.raises(ValueError, match="k must be a non-negative integer"):
            b.take(bad)


# ------------------------------------------------------------------ plans and graphs


def test_element_wise_chain_is_one_task_per_partition():
    b = db.from_sequence(DATA, npartitions=4)
    chain = b.map(inc).filter(is_odd).map(str).str.upper().pluck(0)
    graph, _ = collections_to_graph([chain])
    assert len(graph) == 4
    assert chain.compute(scheduler="sync") == [str(inc(x))[0] for x in DATA if is_odd(inc(x))]


def test_word_count_graph_has_one_task_per_partition_before_aggregation(tmp_path):
    for i in range(3):
        (tmp_path / f"{i}.txt").write_text("a b c\nb c\n" * (i + 1))
    text = db.read_text(str(tmp_path / "*.txt"))
    counts = text.str.split().flatten().frequencies()
    graph, keys = collections_to_graph([counts])
    # three fused read -> split -> flatten -> count tasks, then one aggregation
    assert len(graph) == 4
    (outputs,) = keys
    per_partition = [node for key, node in graph.items() if key not in outputs]
    assert len(per_partition) == 3 and all(isinstance(n, Fused) for n in per_partition)
    assert all(not n.dependencies for n in per_partition)  # each reads its own file


def test_simplify_merges_pipelines_and_results_match():
    b = db.from_sequence(DATA, npartitions=3).map(inc).filter(is_odd).map(inc)
    optimized = b.expr.optimize()
    unoptimized = db.Bag(b.expr).expr
    assert len(list(optimized.walk())) == 2  # source + one pipeline
    assert len(list(unoptimized.walk())) == 4
    from shoal.base import compute

    (raw,) = compute(db.Bag(b.expr), scheduler="sync", optimize_graph=False)
    assert raw == b.compute(scheduler="sync") == [inc(x) for x in map(inc, DATA) if is_odd(x)]


def test_shared_pipeline_is_not_merged_into_both_readers():
    b = db.from_sequence(DATA, npartitions=2).map(inc)
    both = db.concat([b.map(str), b.filter(is_odd)])
    names = [type(n).__name__ for n in both.expr.optimize().walk()]
    assert names.count("Elementwise") == 3
    assert_eq(both, [str(inc(x)) for x in DATA] + [inc(x) for x in DATA if is_odd(inc(x))])


def test_repr_and_default_scheduler():
    b = db.from_sequence(DATA, npartitions=2)
    assert "npartitions=2" in repr(b)
    assert db.Bag.__shoal_scheduler__ == "processes"
    assert "Item" in repr(b.sum())
    assert sorted(iter(b)) == DATA  # computed on the default (processes) scheduler


def test_functions_must_be_callable():
    b = db.from_sequence(DATA)
    for call in (lambda: b.map(3), lambda: b.filter("x"), lambda: b.map_partitions(None),
                 lambda: b.fold(1), lambda: b.accumulate(None), lambda: b.reduction(len, 5)):
        with pytest.raises(TypeError, match="must be callable"):
            call()


def fails_after_five(x):
    if x >= 5:
        raise AssertionError(f"element {x} should never have been mapped")
    return -x


def test_take_maps_only_what_it_returns():
    b = db.from_sequence(range(100), npartitions=2).map(fails_after_five)
    assert b.take(3) == (0, -1, -2)
    assert b.filter(lambda x: x < -1).take(2) == (-2, -3)
    # the selection moved below the map, which merged with the head
    plan = b._head(3, [0]).expr.optimize()
    assert [type(n).__name__ for n in plan.walk()] == ["Elementwise", "SelectPartitions", "FromSequence"]
