"""Hash shuffles (``shuffle.py``): every row moved, every key in one partition, no temp files left."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

import shoal
import shoal.dataframe as dd
from shoal.collections.dataframe.shuffle import Shuffle, partition_codes, shuffle_stages

from conftest import PARTITIONINGS, partitioned


def _parts(frame, scheduler="sync"):
    return list(shoal.compute(*frame.to_delayed(), scheduler=scheduler))


def _keys_of(part, on):
    if on is None:
        return set(part.index)
    return set(map(tuple, part[on].astype(object).where(part[on].notna(), "NULL").to_numpy().tolist()))


def _check_shuffled(result_parts, pdf, on):
    # every key (nulls included) in exactly one partition
    seen: dict = {}
    for i, part in enumerate(result_parts):
        for key in _keys_of(part, on):
            assert seen.setdefault(key, i) == i, f"key {key} in partitions {seen[key]} and {i}"
    whole = pd.concat(result_parts)
    pd.testing.assert_frame_equal(whole.sort_values(["i", "f"]).sort_index(kind="stable"),
                                  pdf.sort_values(["i", "f"]).sort_index(kind="stable"))


@pytest.mark.parametrize("how", PARTITIONINGS)
@pytest.mark.parametrize("method", ["tasks", "disk"])
@pytest.mark.parametrize("on", [["k"], ["s"], ["c"], ["n", "k"], None])
def test_shuffle_matches_pandas(pdf, how, method, on):
    df = partitioned(pdf, how)
    out = df.shuffle(on=on, npartitions=5, shuffle_method=method) if on else df.shuffle(on_index=True, npartitions=5,
                                                                                        shuffle_method=method)
    assert out.npartitions == 5 and not out.known_divisions
    assert out.partitioning.hashed_on == (tuple(on) if on else ("__index__",))
    _check_shuffled(_parts(out), pdf, on)


@pytest.mark.parametrize("npartitions", [1, 3, 40])
def test_shuffle_to_other_partition_counts(pdf, local_scheduler, npartitions):
    out = dd.from_pandas(pdf, npartitions=4).shuffle("i", npartitions=npartitions)
    parts = _parts(out, local_scheduler)
    assert len(parts) == npartitions
    _check_shuffled(parts, pdf, ["i"])
    result = out.compute(scheduler=local_scheduler)
    pd.testing.assert_frame_equal(result.sort_index(), pdf)


def test_shuffle_on_processes(pdf):
    for method in ("tasks", "disk"):
        out = dd.from_pandas(pdf, npartitions=4).shuffle("k", npartitions=3, shuffle_method=method)
        pd.testing.assert_frame_equal(out.compute(scheduler="processes").sort_index(), pdf)


def test_codes_depend_on_values_only():
    a = pd.DataFrame({"k": pd.Categorical(["x", "y", "z"], categories=["z", "y", "x"])})
    b = pd.DataFrame({"k": pd.Categorical(["z", "x", "y"])})
    codes_a = dict(zip(a.k, partition_codes(a, ("k",), 7)))
    codes_b = dict(zip(b.k, partition_codes(b, ("k",), 7)))
    assert codes_a == codes_b
    ints = pd.DataFrame({"k": [1, 2, 3]})
    floats = pd.DataFrame({"k": [1.0, 2.0, 3.0]})
    assert (partition_codes(ints, ("k",), 7, ("float64",)) == partition_codes(floats, ("k",), 7)).all()


def test_object_keys_land_by_value_whatever_their_neighbours():
    # pandas hashes an object column by its content (all floats: as floats; mixed: as text), and matches 1, 1.0
    # and True, None and NaN: a key must get one partition wherever it is
    parts = [pd.Series([1.0, 2.0], dtype=object), pd.Series([1, "a", 2], dtype=object),
             pd.Series([True, None, 2.0, np.nan], dtype=object)]
    codes = {}
    for values in parts:
        for value, code in zip(values, partition_codes(values.to_frame("k"), ("k",), 7)):
            codes.setdefault("null" if pd.isna(value) else float(value) if not isinstance(value, str) else value,
                             set()).add(int(code))
    assert all(len(found) == 1 for found in codes.values()), codes
    pdf = pd.DataFrame({"k": pd.Series([1, 2.0, True, "a", None, 3, 4.5, np.nan] * 4, dtype=object),
                        "x": np.arange(32)})
    out = dd.from_pandas(pdf, npartitions=5).shuffle("k", npartitions=4)
    group_of_row = pdf.groupby("k", dropna=False).ngroup()  # pandas' groups: 1/1.0/True one, None/NaN one
    groups_per_part = [set(group_of_row[part.x]) for part in shoal.compute(*out.to_delayed())]
    assert sum(len(g) for g in groups_per_part) == group_of_row.nunique()  # each group in one partition
    pd.testing.assert_frame_equal(out.compute().sort_index(), pdf)


def test_shuffle_on_a_series(pdf):
    df = dd.from_pandas(pdf, npartitions=4)
    out = df.shuffle(on=df.i % 3, npartitions=3)
    assert list(out.columns) == list(pdf.columns)
    parts = shoal.compute(*out.to_delayed())
    assert sum(len(set(part.i % 3)) for part in parts) == (pdf.i % 3).nunique()  # each key in one partition
    pd.testing.assert_frame_equal(pd.concat(parts).sort_index(), pdf)
    with pytest.raises(TypeError, match="column names only"):
        df.shuffle(on=["k", df.i])


def test_disk_shuffle_removes_its_directory(pdf, tmp_path, local_scheduler):
    with shoal.config.set({"dataframe.shuffle.tmpdir": str(tmp_path), "dataframe.shuffle.method": "disk"}):
        out = dd.from_pandas(pdf, npartitions=4).shuffle("k", npartitions=6)
        assert "method='disk'" in out.explain_text()
        result = out.compute(scheduler=local_scheduler)
    pd.testing.assert_frame_equal(result.sort_index(), pdf)
    assert os.listdir(tmp_path) == []


def test_disk_shuffle_on_processes_removes_its_directory(pdf, tmp_path):
    with shoal.config.set({"dataframe.shuffle.tmpdir": str(tmp_path)}):
        out = dd.from_pandas(pdf, npartitions=3).shuffle("s", npartitions=4, shuffle_method="disk")
        result = out.compute(scheduler="processes")
    pd.testing.assert_frame_equal(result.sort_index(), pdf)
    assert os.listdir(tmp_path) == []


def test_task_count_grows_sub_quadratically():
    def count(n):
        pdf = pd.DataFrame({"k": np.arange(n * 4)})
        return len(dd.from_pandas(pdf, npartitions=n).shuffle("k").__shoal_graph__())

    small, large = count(8), count(64)
    assert large / small < (64 / 8) ** 2 / 2  # quadratic growth would be 64x
    assert shuffle_stages(64, 32) == (2, 8)
    # and the staged result is still a correct shuffle
    pdf = pd.DataFrame({"k": np.arange(640) % 97, "v": np.arange(640)})
    with shoal.config.set({"dataframe.shuffle.max-branch": 4}):
        out = dd.from_pandas(pdf, npartitions=20).shuffle("k", npartitions=13)
        parts = _parts(out, "threads")
    owners = {}
    for i, part in enumerate(parts):
        for key in set(part.k):
            assert owners.setdefault(key, i) == i
    assert sorted(pd.concat(parts).v) == list(range(640))


def test_no_second_shuffle_on_the_same_key(pdf):
    df = dd.from_pandas(pdf, npartitions=4)
    once = df.shuffle("k", npartitions=4)
    again = once[once.i > 10][["k", "i"]].shuffle("k", npartitions=4)
    plan = again.optimize().expr
    assert len(list(plan.find_operations(Shuffle))) == 1
    assert again.partitioning.hashed_on == ("k",)
    # a replaced key column, or another count, needs a new shuffle
    assert len(list(once.assign(k=once.i).shuffle("k").expr.find_operations(Shuffle))) == 2
    assert len(list(once.shuffle("k", npartitions=3).optimize().expr.find_operations(Shuffle))) == 1  # collapsed
    expected = pdf[pdf.i > 10][["k", "i"]]
    pd.testing.assert_frame_equal(again.compute().sort_index(), expected)


def test_explain_shows_the_shuffle_stage(pdf):
    text = dd.from_pandas(pdf, npartitions=2).shuffle("k").explain_text()
    assert "Shuffle on=['k'] method='tasks'" in text and "exchange" in text and "2 stages" in text


def test_bad_shuffle_arguments(pdf):
    df = dd.from_pandas(pdf, npartitions=2)
    with pytest.raises(KeyError, match="nope"):
        df.shuffle("nope")
    with pytest.raises(ValueError, match="shuffle_method='fast'"):
        df.shuffle("k", shuffle_method="fast")


@pytest.mark.parametrize("method", ["tasks", "disk"])
@pytest.mark.parametrize("n_in, n_out, branch", [(20, 13, 4), (5, 30, 3), (64, 64, 32), (9, 2, 2)])
def test_shuffle_is_stable(method, n_in, n_out, branch):
    pdf = pd.DataFrame({"k": np.arange(600) % 37, "v": np.arange(600)})
    with shoal.config.set({"dataframe.shuffle.max-branch": branch}):
        out = dd.from_pandas(pdf, npartitions=n_in).shuffle("k", npartitions=n_out, shuffle_method=method)
        parts = _parts(out, "threads")
    assert len(parts) == n_out
    for part in parts:
        assert part.v.is_monotonic_increasing  # rows in input order within every output partition
    assert sorted(pd.concat(parts).v) == list(range(600))


_BOUNDED_MEMORY_SCRIPT = '''
import resource, sys
import numpy as np, pandas as pd
import shoal.dataframe as dd

PARTS, ROWS = 16, 300_000  # 16 x 9.6 MB of data

def make(i):
    rng = np.random.default_rng(i)
    return pd.DataFrame({"k": rng.integers(0, 10**6, ROWS), "a": rng.normal(size=ROWS),
                         "b": rng.normal(size=ROWS), "c": rng.normal(size=ROWS)})

def summary(part):
    return pd.DataFrame({"n": [len(part)], "keys": [part.k.nunique()]})

df = dd.from_map(make, list(range(PARTS)), meta=make(0).iloc[:0])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = df.shuffle("k", shuffle_method="disk").map_partitions(summary, meta={"n": "int64", "keys": "int64"})
counts = result.compute(scheduler="sync")
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
expected_keys = pd.concat([make(i).k for i in range(PARTS)]).nunique()
print(int(counts.n.sum()), int(counts["keys"].sum()), expected_keys, grown * 1024, PARTS * ROWS * 32)
'''


def test_disk_shuffle_of_more_data_than_its_memory_peak(tmp_path):
    """A 150 MB frame shuffled on disk grows the peak RSS by well under its size (one partition at a time)."""
    import subprocess
    import sys

    script = tmp_path / "bounded.py"
    script.write_text(_BOUNDED_MEMORY_SCRIPT)
    env = dict(os.environ, SHOAL_DATAFRAME__SHUFFLE__TMPDIR=str(tmp_path / "spill"))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    rows, keys, expected_keys, grown, data_bytes = map(int, done.stdout.split())
    assert rows == 16 * 300_000
    assert keys == expected_keys  # every key in exactly one partition
    assert grown < data_bytes / 3, f"peak RSS grew by {grown:,} bytes for {data_bytes:,} bytes of data"
    assert not (tmp_path / "spill").exists() or os.listdir(tmp_path / "spill") == []


def test_a_registered_shuffle_method_is_used(pdf):
    from shoal.collections.dataframe import shuffle as shuffle_module

    calls = []

    def via_tasks(expr):
        calls.append(expr.npartitions_out)
        return shuffle_module._tasks_layer(expr)

    shuffle_module.register_shuffle_method("test-method", via_tasks)
    try:
        out = dd.from_pandas(pdf, npartitions=3).shuffle("k", npartitions=2, shuffle_method="test-method")
        pd.testing.assert_frame_equal(out.compute().sort_index(), pdf)
        assert calls == [2]
    finally:
        shuffle_module._REGISTERED.pop("test-method")


def test_two_shuffles_on_one_key_are_not_aligned_row_by_row(pdf):
    # equal hash layouts put equal keys together, not the same rows: element-wise work must refuse
    a = dd.from_pandas(pdf, npartitions=3).shuffle("k", npartitions=2)
    b = dd.from_pandas(pdf.iloc[::-1], npartitions=2).shuffle("k", npartitions=2)
    assert a.partitioning.hash_layout == b.partitioning.hash_layout
    with pytest.raises(ValueError, match="partitioned differently"):
        a.i + b.i


_FAILING_SHUFFLE_SCRIPT = '''
import pandas as pd
import shoal.dataframe as dd

def explode(part):
    if len(part) and part.index[0] >= 20:
        raise RuntimeError("boom")
    return part

df = dd.from_pandas(pd.DataFrame({"k": range(40)}), npartitions=4).map_partitions(explode)
try:
    df.shuffle("k", shuffle_method="disk").compute(scheduler="sync")
except RuntimeError:
    print("failed as planned")
'''


def test_a_failed_disk_shuffle_leaves_no_directory_behind(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "failing.py"
    script.write_text(_FAILING_SHUFFLE_SCRIPT)
    spill = tmp_path / "spill"
    env = dict(os.environ, SHOAL_DATAFRAME__SHUFFLE__TMPDIR=str(spill))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert "failed as planned" in done.stdout, done.stderr
    assert not spill.exists() or os.listdir(spill) == []
