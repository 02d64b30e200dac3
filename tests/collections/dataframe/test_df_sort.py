"""``set_index`` and ``sort_values`` (``sort.py``) compared with pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal
import shoal.dataframe as dd
from shoal.collections.dataframe.shuffle import Shuffle

from conftest import PARTITIONINGS, make_pandas, partitioned


@pytest.fixture(scope="module")
def big():
    pdf = make_pandas(300, seed=3)
    pdf["u"] = np.arange(300)  # a unique key, to order rows with equal keys the same on both sides
    return pdf


def _check_divisions(result):
    """Every partition's non-null index lies within its divisions, and the divisions are sorted."""
    divisions = result.divisions
    assert all(a <= b for a, b in zip(divisions[:-1], divisions[1:]))
    for part, low, high in zip(shoal.compute(*result.to_delayed()), divisions[:-1], divisions[1:]):
        labels = part.index.dropna()
        assert part.index.is_monotonic_increasing or part.index.hasnans
        if len(labels):
            assert labels.min() >= low and labels.max() <= high


@pytest.mark.parametrize("how", PARTITIONINGS)
@pytest.mark.parametrize("column", ["i", "f", "s", "t", "n"])
def test_set_index_matches_pandas(big, how, column, local_scheduler):
    result = partitioned(big, how).set_index(column)
    assert result.known_divisions
    _check_divisions(result)
    got = result.compute(scheduler=local_scheduler)
    expected = big.set_index(column).sort_index(kind="stable")
    assert got.index.equals(expected.index)  # globally sorted, nulls last
    key = lambda frame: frame.reset_index().sort_values([column, "u"], na_position="last").reset_index(drop=True)
    pd.testing.assert_frame_equal(key(got), key(expected))


@pytest.mark.parametrize("method", ["tasks", "disk"])
def test_set_index_methods_and_partition_count(big, method):
    result = dd.from_pandas(big, npartitions=5).set_index("u", npartitions=7, shuffle_method=method)
    assert result.npartitions == 7
    sizes = [len(part) for part in shoal.compute(*result.to_delayed())]
    assert max(sizes) <= 2 * min(sizes)  # quantile divisions balance a uniform key
    pd.testing.assert_frame_equal(result.compute(), big.set_index("u"))


def test_set_index_on_processes(big):
    got = dd.from_pandas(big, npartitions=3).set_index("i").compute(scheduler="processes")
    assert got.index.equals(big.set_index("i").sort_index(kind="stable").index)


def test_set_index_with_divisions(big):
    df = dd.from_pandas(big, npartitions=4, sort=False)
    result = df.set_index("i", divisions=[0, 10, 50, 99])
    assert result.divisions == (0, 10, 50, 99)
    _check_divisions(result)
    assert result.compute().index.equals(big.set_index("i").sort_index().index)
    with pytest.raises(ValueError, match="50 comes before 10"):
        df.set_index("i", divisions=[0, 50, 10, 99])


def test_set_index_divisions_that_miss_the_data_fail_clearly(big):
    # rows outside the given range would sit where the divisions say they are not: loc would miss them silently
    df = dd.from_pandas(big, npartitions=4, sort=False)
    low, high = int(big.i.min()), int(big.i.max())
    with pytest.raises(ValueError, match=rf"holds 'i' values from {low} .*outside its divisions \[{low + 5}, "):
        df.set_index("i", divisions=[low + 5, 50, high]).compute()
    with pytest.raises(ValueError, match=rf"to {high}, outside its divisions \[50, {high - 5}\]"):
        df.set_index("i", divisions=[low, 50, high - 5]).compute()
    ordered = dd.from_pandas(big.sort_values("u"), npartitions=4, sort=False)
    with pytest.raises(ValueError, match="partition 1 holds 'u' values from 75 to 149, outside its divisions"):
        ordered.set_index("u", sorted=True, divisions=[0, 75, 100, 225, 299]).compute()


def test_set_index_on_a_series_keeps_every_column(big):
    # pandas: a Series key keeps the column it came from and names the index after the Series
    df = dd.from_pandas(big, npartitions=4)
    key = lambda frame: frame.reset_index(names="IDX").sort_values(["IDX", "u"], ignore_index=True)
    for series, expected_series in [(df.i, big.i), (df.i.rename(None), big.i.rename(None)),
                                    (df.u * 2, big.u * 2), (df.k.rename("z"), big.k.rename("z"))]:
        result = df.set_index(series)
        assert result.known_divisions and result.index.name == expected_series.name
        _check_divisions(result)
        got, expected = result.compute(), big.set_index(expected_series).sort_index(kind="stable")
        assert got.index.equals(expected.index)
        pd.testing.assert_frame_equal(key(got), key(expected))
    with pytest.raises(TypeError, match="not an Index"):
        df.set_index(df.index)


def test_set_index_sorted_fast_path(big):
    ordered = big.sort_values("u")
    df = dd.from_pandas(ordered, npartitions=4, sort=False)
    result = df.set_index("u", sorted=True)
    assert result.divisions == (0, 75, 150, 225, 299)
    assert not list(result.expr.find_operations(Shuffle))
    pd.testing.assert_frame_equal(result.compute(), ordered.set_index("u"))
    given = df.set_index("u", sorted=True, divisions=[0, 75, 150, 225, 299])
    pd.testing.assert_frame_equal(given.compute(), ordered.set_index("u"))
    with pytest.raises(ValueError, match="not sorted on 'i'"):
        df.set_index("i", sorted=True).compute()


def test_set_index_then_loc_and_repartition(big):
    result = dd.from_pandas(big, npartitions=4).set_index("u")
    pd.testing.assert_frame_equal(result.loc[100:120].compute(), big.set_index("u").loc[100:120])
    moved = result.repartition(divisions=[0, 150, 299])
    pd.testing.assert_frame_equal(moved.compute(), big.set_index("u"))


@pytest.mark.parametrize("how", PARTITIONINGS)
@pytest.mark.parametrize("by, ascending, na_position", [
    ("i", True, "last"), ("f", False, "first"), (["k", "f"], [True, False], "last"),
    (["s", "u"], [False, True], "first"), (["t"], True, "last"), (["n", "u"], True, "first"),
])
def test_sort_values_matches_pandas(big, how, by, ascending, na_position, local_scheduler):
    result = partitioned(big, how).sort_values(by, ascending=ascending, na_position=na_position)
    got = result.compute(scheduler=local_scheduler)
    expected = big.sort_values(by, ascending=ascending, na_position=na_position, kind="stable")
    keys = [by] if isinstance(by, str) else by
    # equal keys may come in another order: compare the key columns in order, the rest as sets per key
    pd.testing.assert_frame_equal(got[keys].reset_index(drop=True), expected[keys].reset_index(drop=True))
    pd.testing.assert_frame_equal(got.sort_values("u"), expected.sort_values("u"))


def test_sort_values_bad_arguments(big):
    df = dd.from_pandas(big, npartitions=2)
    with pytest.raises(KeyError, match="nope"):
        df.sort_values("nope")
    with pytest.raises(ValueError, match="2 ascending values for 1"):
        df.sort_values("i", ascending=[True, False])
    with pytest.raises(ValueError, match="na_position"):
        df.sort_values("i", na_position="middle")


def test_sort_values_all_null_key():
    pdf = pd.DataFrame({"x": [np.nan] * 4, "y": range(4)})
    got = dd.from_pandas(pdf, npartitions=2).sort_values("x").compute()
    pd.testing.assert_frame_equal(got.sort_values("y"), pdf)


@pytest.mark.parametrize("ascending", [True, False])
def test_series_sort_values(big, ascending):
    got = dd.from_pandas(big, npartitions=4).f.sort_values(ascending=ascending, na_position="first").compute()
    expected = big.f.sort_values(ascending=ascending, na_position="first")
    pd.testing.assert_series_equal(got.reset_index(drop=True), expected.reset_index(drop=True))
    assert sorted(got.index) == sorted(expected.index)


def test_set_index_on_an_object_column_keeps_object_labels():
    # pandas infers str when it appends object indexes of strings; the partitions put back together must not
    pdf = pd.DataFrame({"o": pd.Series(list("qwertyuiopasdfgh"), dtype=object), "u": np.arange(16)})
    result = dd.from_pandas(pdf, npartitions=4).set_index("o")
    expected = pdf.set_index("o").sort_index()
    pd.testing.assert_frame_equal(result.compute(), expected)
    pd.testing.assert_index_equal(result.index.compute(), expected.index)
