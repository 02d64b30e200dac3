"""Bag operations on a distributed cluster give the plain-Python answers too.

One in-process cluster (two workers) for the module: while its ``Client``
is open, ``compute()`` and everything that computes (``take``,
``to_textfiles``, ``repartition(partition_size=)``) run on it.
"""

from __future__ import annotations

import json
import operator
from collections import Counter

import pytest

import shoal.bag as db
from shoal.distributed import Client, LocalCluster, get_worker

pytestmark = pytest.mark.timeout(60)

WORDS = "the cat and the dog and the bird saw a cat".split() * 5
RECORDS = [{"name": w, "n": i} for i, w in enumerate(WORDS)]


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster, Client(cluster) as client:
        yield client


def by_length(words):
    groups: dict = {}
    for w in words:
        groups.setdefault(len(w), []).append(w)
    return groups


def test_compute_runs_on_the_cluster(client):
    where = db.from_sequence(WORDS, npartitions=4).map_partitions(lambda p: [get_worker().address]).compute()
    assert len(where) == 4 and set(where) <= set(client.scheduler_info()["workers"])


def test_element_wise_and_reductions(client):
    b = db.from_sequence(WORDS, npartitions=4)
    assert b.map(len).filter(lambda n: n > 2).compute() == [n for n in map(len, WORDS) if n > 2]
    assert dict(b.frequencies().compute()) == Counter(WORDS)
    assert b.frequencies(sort=True).topk(2, key=1).compute() == Counter(WORDS).most_common(2)
    assert b.distinct().compute() == list(dict.fromkeys(WORDS))
    assert b.map(len).accumulate(operator.add).compute()[-1] == sum(map(len, WORDS))
    assert db.zip(b, b.map(len)).compute() == list(zip(WORDS, map(len, WORDS)))
    assert b.take(3) == tuple(WORDS[:3])


@pytest.mark.parametrize("shuffle", ["tasks", "disk"])
def test_groupby_and_foldby(client, shuffle):
    b = db.from_sequence(WORDS, npartitions=4)
    assert dict(b.groupby(len, npartitions=3, shuffle=shuffle).compute()) == by_length(WORDS)
    totals = dict(db.from_sequence(RECORDS, npartitions=3).foldby("name", lambda acc, r: acc + r["n"], 0,
                                                                   operator.add, 0).compute())
    expected: dict = {}
    for r in RECORDS:
        expected[r["name"]] = expected.get(r["name"], 0) + r["n"]
    assert totals == expected


def test_text_files_round_trip_and_dataframe(client, tmp_path):
    b = db.from_sequence(RECORDS, npartitions=3)
    written = b.map(json.dumps).to_textfiles(str(tmp_path / "*.json.gz"))
    assert len(written) == 3
    assert db.read_text(str(tmp_path / "*.json.gz")).map(json.loads).compute() == RECORDS
    frame = b.to_dataframe().compute().reset_index(drop=True)
    assert frame.to_dict("records") == RECORDS


def test_an_error_in_map_keeps_its_type_and_partition(client):
    def fail_on_bird(word):
        if word == "bird":
            raise KeyError(word)
        return word

    with pytest.raises(KeyError) as info:
        db.from_sequence(WORDS, npartitions=4).map(fail_on_bird).compute()
    bounds = [len(WORDS) * i // 4 for i in range(5)]  # from_sequence's even split
    with_bird = [i for i in range(4) if "bird" in WORDS[bounds[i]:bounds[i + 1]]]
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert any(f"in partition {i} of the bag, during map(fail_on_bird)" in notes for i in with_bird), notes
