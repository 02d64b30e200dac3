"""``groupby(...).nunique(dropna=)`` on frames and Series (``groupby.py``) against pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as dd

from conftest import PARTITIONINGS, partitioned


def _with_missing_groups(pdf):
    """``pdf`` plus a column missing in every row of one group (k == 3) and in some rows of the others."""
    values = pdf["i"].astype("float64") % 7
    values[pdf["k"] == 3] = np.nan
    values.iloc[::4] = np.nan
    return pdf.assign(v=values)


@pytest.mark.parametrize("how", PARTITIONINGS)
@pytest.mark.parametrize("dropna", [True, False])
@pytest.mark.parametrize("key_dropna", [True, False])
def test_frame_nunique_matches_pandas(pdf, how, dropna, key_dropna, local_scheduler):
    pdf = _with_missing_groups(pdf)
    df = partitioned(pdf, how)
    for key in ("k", "s", ["k", "s"]):
        got = df.groupby(key, dropna=key_dropna).nunique(dropna=dropna, split_every=2)
        expected = pdf.groupby(key, dropna=key_dropna).nunique(dropna=dropna)
        pd.testing.assert_frame_equal(got.compute(scheduler=local_scheduler), expected)


@pytest.mark.parametrize("how", PARTITIONINGS)
@pytest.mark.parametrize("dropna", [True, False])
def test_series_groupby_nunique_matches_pandas(pdf, how, dropna):
    pdf = _with_missing_groups(pdf)
    df = partitioned(pdf, how)
    for column in ("v", "s", "f", "n", "c"):
        got = df.groupby("k")[column].nunique(dropna=dropna)
        pd.testing.assert_series_equal(got.compute(), pdf.groupby("k")[column].nunique(dropna=dropna))
    # a Series grouped by another Series of the same frame
    got = df.v.groupby(df.s, dropna=False).nunique(dropna=dropna)
    pd.testing.assert_series_equal(got.compute(), pdf.v.groupby(pdf.s, dropna=False).nunique(dropna=dropna))


@pytest.mark.parametrize("dropna", [True, False])
def test_nunique_after_a_shuffle_and_with_split_out(pdf, dropna):
    pdf = _with_missing_groups(pdf)
    expected = pdf.groupby("k").v.nunique(dropna=dropna)
    placed = dd.from_pandas(pdf, npartitions=3).shuffle("k")  # each group in one partition already
    pd.testing.assert_series_equal(placed.groupby("k").v.nunique(dropna=dropna).compute(), expected)
    split = dd.from_pandas(pdf, npartitions=3).groupby("k").v.nunique(dropna=dropna, split_out=2)
    assert split.npartitions == 2
    pd.testing.assert_series_equal(split.compute().sort_index(), expected)
    flat = dd.from_pandas(pdf, npartitions=3).groupby("k", as_index=False).nunique(dropna=dropna)
    pd.testing.assert_frame_equal(flat.compute().reset_index(drop=True),
                                  pdf.groupby("k", as_index=False).nunique(dropna=dropna))
