"""Approximate quantiles (exact on small partitions, within the documented rank bound otherwise) and describe."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as dd
from shoal.testing import assert_eq


def test_quantiles_exact_when_partitions_are_small(frames):
    pdf, df = frames
    assert_eq(df.f.quantile(0.3), pdf.f.quantile(0.3))
    assert_eq(df.i.quantile([0.1, 0.5, 0.99]), pdf.i.quantile([0.1, 0.5, 0.99]).astype("float64"))
    numeric = ["i", "f", "k"]
    assert_eq(df[numeric].quantile(0.75), pdf[numeric].quantile(0.75).astype("float64"))
    assert_eq(df[numeric].describe(), pdf[numeric].describe())


def test_quantile_error_bound_on_large_partitions():
    rng = np.random.default_rng(7)
    values = rng.standard_exponential(400_000)
    ds = dd.from_pandas(pd.Series(values), npartitions=4)
    ordered = np.sort(values)
    n = len(values)
    for q in (0.01, 0.5, 0.9):
        approx = ds.quantile(q, split_every=2).compute()
        centre = q * (n - 1)
        low, high = ordered[int(np.floor(centre - n / 1000))], ordered[int(np.ceil(centre + n / 1000))]
        assert low <= approx <= high


def test_quantile_needs_numbers(pdf):
    with pytest.raises(TypeError, match="numeric"):
        dd.from_pandas(pdf, npartitions=2).s.quantile(0.5)


def test_describe_leaves_out_booleans_and_keeps_names_dtypes_and_percentiles(frames):
    # a boolean column made describe fail inside a task; a Series' name and nullable Float64 were lost
    pdf, df = frames
    mixed = ["i", "f", "n", "b", "s", "k"]
    assert_eq(df[mixed].describe(), pdf[mixed].describe())
    assert_eq(df.f.describe(), pdf.f.describe())
    assert_eq(df.n.describe(), pdf.n.describe())
    assert_eq(df[mixed].describe(percentiles=[0.1, 0.9]), pdf[mixed].describe(percentiles=[0.1, 0.9]))
    assert_eq(df.i.describe(percentiles=[0.5, 0.2]), pdf.i.describe(percentiles=[0.5, 0.2]))


def test_describe_of_data_without_numbers_matches_pandas(pdf):
    # summarized as pandas does (count, unique, top, freq); more cases in test_df_describe.py
    df = dd.from_pandas(pdf, npartitions=2)
    assert_eq(df.s.describe(), pdf.s.describe())
    assert_eq(df[["s", "b"]].describe(), pdf[["s", "b"]].describe())
    assert_eq(df.b.describe(), pdf.b.describe())


@pytest.mark.parametrize("tz", [None, "Europe/Paris"])
def test_quantiles_of_timestamps(tz):
    # refused as non-numeric; the offsets from the earliest timestamp are numbers
    values = pd.Series(pd.date_range("1999-01-01", periods=301, freq="13h7s", tz=tz), name="t")
    values = values.sample(frac=1, random_state=0)
    values.iloc[4] = pd.NaT
    ds = dd.from_pandas(values, npartitions=4, sort=False)
    for q in (0.5, 0.1, 0.99):
        assert ds.quantile(q, split_every=2).compute() == values.quantile(q)
    assert_eq(ds.quantile([0.25, 0.5, 0.75]), values.quantile([0.25, 0.5, 0.75]))
