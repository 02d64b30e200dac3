"""``drop_duplicates``, ``nlargest``, ``nsmallest`` (``rows.py``) compared with pandas."""

from __future__ import annotations

import pandas as pd
import pytest

from shoal.testing import assert_eq


@pytest.mark.parametrize("subset", [None, "k", ["k", "c"], ["s"], ["n", "b"]])
@pytest.mark.parametrize("keep", ["first", "last", False])
def test_drop_duplicates(frames, subset, keep):
    pdf, df = frames
    source, expected_source = (df, pdf) if subset is not None else (df[["k", "b", "c"]], pdf[["k", "b", "c"]])
    result = source.drop_duplicates(subset=subset, keep=keep)
    assert_eq(result.compute().sort_index(), expected_source.drop_duplicates(subset=subset, keep=keep))


def test_drop_duplicates_split_out_and_series(frames, local_scheduler):
    pdf, df = frames
    result = df.drop_duplicates(subset=["k"], split_out=2, shuffle_method="disk")
    assert result.npartitions == 2
    assert_eq(result.compute(scheduler=local_scheduler).sort_index(), pdf.drop_duplicates(subset=["k"]))
    assert_eq(df.s.drop_duplicates().compute().sort_index(), pdf.s.drop_duplicates())
    with pytest.raises(KeyError, match="nope"):
        df.drop_duplicates(subset="nope")


@pytest.mark.parametrize("method", ["nlargest", "nsmallest"])
def test_nlargest_nsmallest(frames, method):
    pdf, df = frames
    assert_eq(getattr(df, method)(7, "i", split_every=2), getattr(pdf, method)(7, "i"))
    assert_eq(getattr(df, method)(5, ["k", "f"]), getattr(pdf, method)(5, ["k", "f"]))
    assert_eq(getattr(df.f, method)(4), getattr(pdf.f, method)(4))
    assert_eq(getattr(df.i, method)(3, keep="last"), getattr(pdf.i, method)(3, keep="last"))


@pytest.mark.parametrize("method", ["nlargest", "nsmallest"])
@pytest.mark.parametrize("n", [1, 3, 10])
def test_nlargest_nsmallest_keep_all_ties(frames, method, n):
    pdf, df = frames  # k holds 4 values over 60 rows: every cut falls among ties
    assert_eq(getattr(df, method)(n, "k", keep="all", split_every=2), getattr(pdf, method)(n, "k", keep="all"))
    assert_eq(getattr(df, method)(n, ["k", "b"], keep="all"), getattr(pdf, method)(n, ["k", "b"], keep="all"))
    assert_eq(getattr(df.k, method)(n, keep="all"), getattr(pdf.k, method)(n, keep="all"))
    with pytest.raises(ValueError, match="keep must be 'first', 'last' or 'all'"):
        getattr(df, method)(n, "k", keep="middle")


def test_drop_duplicates_ignore_index_numbers_rows_across_partitions(frames):
    pdf, df = frames
    result = df.drop_duplicates(subset=["k", "c"], ignore_index=True).compute()
    expected = pdf.drop_duplicates(subset=["k", "c"], ignore_index=True)
    assert result.index.equals(pd.RangeIndex(len(expected)))  # rows come in shuffled order, numbered from 0
    key = lambda frame: frame.sort_values(["i", "k"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(key(result), key(expected))
    series = df.k.drop_duplicates(ignore_index=True).compute()
    assert series.index.equals(pd.RangeIndex(pdf.k.nunique()))
