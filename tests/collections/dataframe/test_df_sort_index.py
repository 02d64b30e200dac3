"""``DataFrame.sort_index`` / ``Series.sort_index`` (``sort_index.py``) against pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as dd
from shoal.collections.dataframe.shuffle import Shuffle

from conftest import PARTITIONINGS, partitioned


def _shuffled(pdf, seed=3):
    """``pdf``'s rows in a random order, so the index is not sorted."""
    return pdf.iloc[np.random.default_rng(seed).permutation(len(pdf))]


def _with_null_labels(n=40, seed=5):
    """Float labels, some repeated and some NaN, in no order (NaN labels in several partitions)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 15, n).astype(float)
    labels[[1, 12, 30, 31]] = np.nan
    return pd.DataFrame({"x": np.arange(n), "y": rng.normal(size=n)}, index=pd.Index(labels, name="lab"))


@pytest.mark.parametrize("how", PARTITIONINGS)
@pytest.mark.parametrize("ascending", [True, False])
def test_sort_index_matches_pandas(pdf, how, ascending, local_scheduler):
    data = _shuffled(pdf) if how != "known" else pdf
    lazy = partitioned(data, how).sort_index(ascending=ascending)
    expected = data.sort_index(ascending=ascending, kind="stable")
    pd.testing.assert_frame_equal(lazy.compute(scheduler=local_scheduler), expected)
    pd.testing.assert_series_equal(partitioned(data, how)["f"].sort_index(ascending=ascending).compute(
        scheduler=local_scheduler), expected["f"])


@pytest.mark.parametrize("na_position", ["first", "last"])
@pytest.mark.parametrize("ascending", [True, False])
@pytest.mark.parametrize("npartitions", [1, 3, 5])
@pytest.mark.parametrize("known", [False, True])
def test_null_labels_and_repeated_labels(na_position, ascending, npartitions, known):
    pdf = _with_null_labels()
    # known: from_pandas sorts the labels first (nulls last; equal labels in the order its sort leaves them),
    # so the partitions are sorted already and sort_index keeps the collection's order of equal labels
    lazy = dd.from_pandas(pdf, npartitions=npartitions, sort=known)
    if known:
        pdf = lazy.compute()
    got = lazy.sort_index(ascending=ascending, na_position=na_position).compute()
    # equal labels keep their order, as a stable pandas sort does
    pd.testing.assert_frame_equal(got, pdf.sort_index(ascending=ascending, na_position=na_position, kind="stable"))
    series = lazy.y.sort_index(ascending=ascending, na_position=na_position).compute()
    pd.testing.assert_series_equal(series, pdf.y.sort_index(ascending=ascending, na_position=na_position,
                                                             kind="stable"))


def test_known_divisions_need_no_shuffle_and_stay_known(pdf):
    lazy = dd.from_pandas(pdf, npartitions=4).sort_index()
    assert not list(lazy.optimize().expr.find_operations(Shuffle))
    assert lazy.divisions == dd.from_pandas(pdf, npartitions=4).divisions
    pd.testing.assert_frame_equal(lazy.compute(), pdf.sort_index())
    descending = dd.from_pandas(pdf, npartitions=4).sort_index(ascending=False)
    assert not descending.known_divisions  # decreasing labels cannot be divisions
    pd.testing.assert_frame_equal(descending.compute(), pdf.sort_index(ascending=False))


def test_unknown_divisions_become_known_when_ascending(pdf):
    data = _shuffled(pdf)
    lazy = dd.from_pandas(data, npartitions=3, sort=False).sort_index()
    assert lazy.known_divisions
    got = lazy.compute()
    pd.testing.assert_frame_equal(got, data.sort_index())
    assert got.index.name == "idx"
    # loc on the sorted result reads only the partitions its labels can be in, and finds them
    pd.testing.assert_frame_equal(lazy.loc[20:40].compute(), data.sort_index().loc[20:40])


def test_unnamed_series_and_datetime_labels():
    times = pd.date_range("2024-03-30", periods=30, freq="5h", tz="Europe/Paris")
    series = pd.Series(np.arange(30.0), index=times)
    series = series.iloc[np.random.default_rng(0).permutation(30)]
    lazy = dd.from_pandas(series, npartitions=4, sort=False).sort_index()
    pd.testing.assert_series_equal(lazy.compute(), series.sort_index())
    empty = dd.from_pandas(series.iloc[:0], npartitions=1).sort_index()
    pd.testing.assert_series_equal(empty.compute(), series.iloc[:0].sort_index())


def test_sort_index_along_columns(pdf):
    lazy = dd.from_pandas(pdf, npartitions=3).sort_index(axis=1, ascending=False)
    pd.testing.assert_frame_equal(lazy.compute(), pdf.sort_index(axis=1, ascending=False))


def test_unsupported_keywords_say_what_to_do(pdf):
    df = dd.from_pandas(pdf, npartitions=2)
    for kwargs, hint in [({"level": 0}, "sort_values"), ({"inplace": True}, "df = df.sort_index"),
                         ({"ignore_index": True}, "reset_index"), ({"key": abs}, "sort_values")]:
        name = next(iter(kwargs))
        with pytest.raises(NotImplementedError, match=rf"sort_index\({name}=\.\.\.\).*{hint}"):
            df.sort_index(**kwargs)
    with pytest.raises(ValueError, match="na_position must be 'first' or 'last'"):
        df.sort_index(na_position="middle")
    multi = dd.from_pandas(pdf.set_index("k", append=True), npartitions=2, sort=False)
    with pytest.raises(NotImplementedError, match="MultiIndex"):
        multi.sort_index()
