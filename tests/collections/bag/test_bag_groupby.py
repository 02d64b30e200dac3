"""``groupby`` through both shuffles, and the process-independent hash behind them."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest

import shoal.bag as db
from shoal.collections.bag import groupby as groupby_module
from shoal.collections.bag.groupby import stable_hash

NAMES = ["alice", "bob", "carol", "dave", "eve", "frank", "grace"]
RECORDS = [{"name": NAMES[(i * 5) % 7], "amount": i} for i in range(60)]


def expected_groups(items, key):
    groups: dict = {}
    for x in items:
        groups.setdefault(key(x), []).append(x)
    return groups


@pytest.mark.parametrize("shuffle", ["tasks", "disk"])
def test_groupby_matches_plain_python(shape, scheduler, shuffle):
    b = shape(RECORDS)
    got = b.groupby(lambda r: r["name"], shuffle=shuffle).compute(scheduler=scheduler)
    assert len(got) == len({k for k, _ in got})  # every key in exactly one group
    # values keep input order within each group
    assert dict(got) == expected_groups(RECORDS, lambda r: r["name"])


@pytest.mark.parametrize("shuffle", ["tasks", "disk"])
def test_groupby_npartitions_and_field_key(shuffle):
    b = db.from_sequence(range(50), npartitions=5).map(lambda x: (x % 6, x))
    grouped = b.groupby(0, npartitions=3, shuffle=shuffle)
    assert grouped.npartitions == 3
    got = grouped.compute(scheduler="processes")
    assert dict(got) == expected_groups([(x % 6, x) for x in range(50)], lambda p: p[0])
    # a key lives in the partition its stable hash says
    for j, part in enumerate(grouped.to_delayed()):
        for key, _ in part.compute(scheduler="sync"):
            assert stable_hash(key) % 3 == j


def test_groupby_then_reduce(scheduler):
    b = db.from_sequence(RECORDS, npartitions=4)
    totals = b.groupby(lambda r: r["name"]).map(lambda kv: (kv[0], sum(r["amount"] for r in kv[1])))
    expected = {k: sum(r["amount"] for r in v) for k, v in expected_groups(RECORDS, lambda r: r["name"]).items()}
    assert dict(totals.compute(scheduler=scheduler)) == expected


def test_disk_shuffle_removes_its_files():
    b = db.from_sequence(RECORDS, npartitions=4)
    grouped = b.groupby(lambda r: r["name"], shuffle="disk")
    (directory,) = {n.directory for n in grouped.expr.walk() if hasattr(n, "directory")}
    assert directory.startswith(tempfile.gettempdir())
    grouped.compute(scheduler="processes")
    assert not os.path.exists(directory)
    grouped.compute(scheduler="sync")  # the same graph again
    assert not os.path.exists(directory)
    # a partial computation leaves files, removed at exit by the process that made the graph
    grouped.take(1, npartitions=1, warn=False)
    assert directory in groupby_module._directories


@pytest.mark.parametrize("shuffle", ["tasks", "disk"])
def test_a_failing_key_names_the_partition(scheduler, shuffle):
    # the last partition holds a record without the key field
    records = RECORDS[:40] + [{"amount": -1}] + RECORDS[40:]
    grouped = db.from_sequence(records, npartitions=3).groupby("name", shuffle=shuffle)
    with pytest.raises(KeyError) as info:
        grouped.compute(scheduler=scheduler)
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "in partition 2 of the bag, during groupby(itemgetter)" in notes


def test_unknown_shuffle_is_refused():
    with pytest.raises(ValueError, match="'tasks' or 'disk'"):
        db.from_sequence([1]).groupby(str, shuffle="magic")


KEYS = ["word", "", "ünïcode", b"bytes", 7, 2**70, -3, 2.5, None, ("a", 1, ("b", None)), frozenset({"x", 1}), True]


def test_stable_hash_is_the_same_in_another_process():
    here = [stable_hash(k) for k in KEYS]
    code = (
        "from shoal.collections.bag.groupby import stable_hash\n"
        f"print([stable_hash(k) for k in {KEYS!r}])"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, timeout=60)
    assert eval(there.stdout) == here


def test_equal_keys_hash_alike():
    assert stable_hash(1) == stable_hash(1.0) == stable_hash(True)
    assert stable_hash(("a", 1)) == stable_hash(("a", 1.0))
    assert stable_hash(frozenset({"a", "b"})) == stable_hash(frozenset({"b", "a"}))


def test_disk_shuffle_missing_files_are_an_error_not_lost_data():
    from shoal.collections.bag.groupby import _read_group

    with tempfile.TemporaryDirectory() as directory:
        with pytest.raises(RuntimeError, match="share one file system"):
            _read_group(os.path.join(directory, "never-written"), 0, expected=3)


def test_default_shuffle_is_disk_and_configurable():
    from shoal import config

    b = db.from_sequence(range(10), npartitions=2)
    assert any(type(n).__name__ == "DiskCollect" for n in b.groupby(str).expr.walk())
    with config.set({"bag.shuffle": "tasks"}):
        assert any(type(n).__name__ == "GroupCollect" for n in b.groupby(str).expr.walk())
