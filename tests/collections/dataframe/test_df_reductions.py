"""Reductions against pandas: Series and column-wise DataFrame, tree shapes, user reductions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as dd
from shoal.testing import assert_eq

NUMERIC = ["i", "f", "n", "b", "k"]


@pytest.mark.parametrize("name", ["sum", "mean", "min", "max", "count", "std", "var", "prod", "any", "all"])
def test_series_reductions(frames, name):
    pdf, df = frames
    for col in ["i", "f", "n", "b"]:
        if name == "prod":
            expected = getattr(pdf[col] % 3 + 1, name)()
            result = getattr(df[col] % 3 + 1, name)(split_every=2)
        else:
            expected = getattr(pdf[col], name)()
            result = getattr(df[col], name)(split_every=2)
        assert_eq(result, expected)


@pytest.mark.parametrize("name", ["sum", "mean", "min", "max", "count", "std", "var"])
def test_dataframe_reductions_column_wise(frames, name):
    pdf, df = frames
    assert_eq(getattr(df[NUMERIC], name)(), getattr(pdf[NUMERIC], name)())


def test_min_max_of_strings_datetimes_and_counts_of_everything(frames):
    pdf, df = frames
    assert_eq(df.s.min(), pdf.s.min())
    assert_eq(df.t.max(), pdf.t.max())
    assert_eq(df.count(), pdf.count())
    assert_eq(df.c.count(), pdf.c.count())


def test_var_is_numerically_stable():
    # A large mean with a small spread: naive sum of squares loses every digit.
    values = 1e9 + np.random.default_rng(3).normal(size=1000)
    pdf = pd.Series(values)
    ds = dd.from_pandas(pdf, npartitions=10)
    assert abs(ds.var(split_every=3).compute() - pdf.var()) < 1e-6 * pdf.var()
    assert_eq(ds.std(ddof=0), pdf.std(ddof=0))


def test_nunique_value_counts_idx(frames):
    pdf, df = frames
    assert_eq(df.k.nunique(), pdf.k.nunique())
    assert_eq(df.s.nunique(), pdf.s.nunique())
    assert_eq(df[["k", "s", "c"]].nunique(), pdf[["k", "s", "c"]].nunique())
    # pandas orders ties by first appearance; compare as sorted (count desc, then label)
    for col in ["k", "s", "c"]:
        result = df[col].value_counts(split_every=2).compute()
        expected = pdf[col].value_counts()
        pd.testing.assert_series_equal(result.sort_index(), expected.sort_index())
        assert list(result.values) == sorted(result.values, reverse=True)
    assert_eq(df.s.value_counts(dropna=False).compute().sort_index(), pdf.s.value_counts(dropna=False).sort_index())
    assert_eq(df.f.idxmin(), pdf.f.idxmin())
    assert_eq(df.i.idxmax(), pdf.i.idxmax())
    assert_eq(df[["i", "f"]].idxmax(), pdf[["i", "f"]].idxmax())


def test_split_every_builds_a_tree(pdf):
    df = dd.from_pandas(pdf, npartitions=12)
    graph = dict(df.i.sum(split_every=3).__shoal_graph__())
    combines = [k for k in graph if isinstance(k, tuple) and "-combine-" in k[0]]
    assert len(combines) == 4 + 2  # 12 partials -> 4 -> 2 -> final aggregate
    assert_eq(df.i.sum(split_every=3), pdf.i.sum())


def test_user_reduction(frames):
    pdf, df = frames
    result = df.i.reduction(lambda s: s.sum(), aggregate=lambda s: s.sum(), split_every=2)
    assert_eq(result, pdf.i.sum())
    per_column = df[["i", "k"]].reduction(lambda p: p.max(), aggregate=lambda p: p.groupby(level=0).max())
    assert_eq(per_column, pdf[["i", "k"]].max())


def test_reductions_on_all_schedulers(scheduler, pdf):
    df = dd.from_pandas(pdf, npartitions=4)
    assert_eq(df[NUMERIC].mean(), pdf[NUMERIC].mean(), scheduler=scheduler)
    assert_eq(df.f.std(), pdf.f.std(), scheduler=scheduler)


def test_empty_series_reductions():
    pdf = pd.Series([], dtype="float64")
    ds = dd.from_pandas(pdf, npartitions=1)
    assert_eq(ds.sum(), pdf.sum())
    assert_eq(ds.count(), pdf.count())


def test_sem_and_mode(frames):
    pdf, df = frames
    assert_eq(df.f.sem(), pdf.f.sem())
    assert_eq(df[["i", "f"]].sem(), pdf[["i", "f"]].sem())
    assert_eq(df.k.mode(), pdf.k.mode())
    assert_eq(df.s.mode(), pdf.s.mode())


def test_sample_is_a_reproducible_subset(frames):
    pdf, df = frames
    first = df.sample(frac=0.5, random_state=1).compute()
    again = df.sample(frac=0.5, random_state=1).compute()
    pd.testing.assert_frame_equal(first, again)
    assert set(first.index) <= set(pdf.index) and abs(len(first) - len(pdf) / 2) <= df.npartitions
    pd.testing.assert_frame_equal(first, pdf.loc[first.index])


def test_split_every_from_config(pdf):
    from shoal import config

    df = dd.from_pandas(pdf, npartitions=12)
    with config.set({"dataframe.split-every": 3}):
        graph = dict(df.i.sum().__shoal_graph__())
        assert_eq(df.i.sum(), pdf.i.sum())
    assert sum("-combine-" in k[0] for k in graph if isinstance(k, tuple)) == 4 + 2


def test_arithmetic_on_reduction_results(frames, scheduler):
    pdf, df = frames
    assert_eq(df.i.sum() / len(df), pdf.i.sum() / len(pdf), scheduler=scheduler)
    assert_eq(df.i.sum() + df.f.mean() * 2, pdf.i.sum() + pdf.f.mean() * 2)
    assert bool((df.i.max() > 5).compute()) == bool(pdf.i.max() > 5)
    assert_eq(df.f - df.f.sum() / df.f.count(), pdf.f - pdf.f.sum() / pdf.f.count())


@pytest.mark.parametrize("name", ["mean", "var", "std", "sem"])
def test_skipna_false_lets_a_missing_value_through(frames, name):
    # the partials' NaN was skipped when they were combined: mean(skipna=False) ignored the NaN
    pdf, df = frames
    for col in ["f", "i"]:
        assert_eq(getattr(df[col], name)(skipna=False, split_every=2), getattr(pdf[col], name)(skipna=False))
    assert_eq(getattr(df[["i", "f", "k"]], name)(skipna=False), getattr(pdf[["i", "f", "k"]], name)(skipna=False))
    all_missing = pdf.f.where(pdf.i < 0)
    assert_eq(getattr(dd.from_pandas(all_missing, npartitions=3), name)(skipna=False),
              getattr(all_missing, name)(skipna=False))


@pytest.mark.parametrize("name", ["sum", "prod"])
def test_min_count_is_judged_on_the_whole_data(frames, name):
    # min_count was applied to each partition, so a sum with enough values overall came out as 0 or NaN
    pdf, df = frames
    counts = pdf[["i", "f"]].count()
    for min_count in [1, int(counts["f"]), int(counts["f"]) + 1, len(pdf) + 1]:
        for col in ["i", "f"]:
            assert_eq(getattr(df[col] % 3 + 1, name)(min_count=min_count, split_every=2),
                      getattr(pdf[col] % 3 + 1, name)(min_count=min_count))
        assert_eq(getattr(df[["i", "f"]] % 3 + 1, name)(min_count=min_count),
                  getattr(pdf[["i", "f"]] % 3 + 1, name)(min_count=min_count))


@pytest.mark.parametrize("name", ["sum", "prod", "mean", "min", "max", "count", "std", "var", "sem", "any", "all",
                                  "nunique", "idxmin", "idxmax"])
def test_axis_1_reduces_each_row(frames, name):
    # mean/count(axis=1) failed inside a task; sum(axis=1) went through the column-wise tree
    pdf, df = frames
    columns = ["i", "f", "k"]
    if name == "prod":  # small factors: the column-wise product of 60 integers would overflow
        pdf, df = pdf[columns] % 3 + 1, df[columns] % 3 + 1
    assert_eq(getattr(df[columns], name)(axis=1), getattr(pdf[columns], name)(axis=1))
    assert_eq(getattr(df[columns], name)(axis="columns"), getattr(pdf[columns], name)(axis="columns"))
    assert_eq(getattr(df[columns], name)(axis=0), getattr(pdf[columns], name)(axis=0))
    with pytest.raises(ValueError, match="no columns"):
        getattr(df.f, name)(axis=1)


@pytest.mark.parametrize("name", ["idxmin", "idxmax"])
def test_idxmin_idxmax_with_a_partition_holding_no_values(name):
    # pandas refuses a column without values, which made a partition of only NaN fail the whole reduction
    pdf = pd.DataFrame({"x": np.arange(12.0), "y": [np.nan] * 6 + list(np.arange(6.0)[::-1])}, index=np.arange(12) * 2)
    df = dd.from_pandas(pdf, npartitions=4)
    assert_eq(getattr(df, name)(), getattr(pdf, name)())
    assert_eq(getattr(df.y, name)(split_every=2), getattr(pdf.y, name)())


@pytest.mark.parametrize("tz", [None, "Europe/Paris"])
@pytest.mark.parametrize("unit", ["s", "us", "ns"])
def test_mean_of_timestamps(tz, unit):
    # failed inside a task: timestamps cannot be summed
    values = pd.Series(pd.date_range("1950-01-01", periods=700, freq="13h7s", tz=tz, unit=unit), name="t")[::-1]
    values.iloc[2] = pd.NaT
    ds = dd.from_pandas(values, npartitions=3, sort=False)
    result, expected = ds.mean(split_every=2).compute(), values.mean()
    assert isinstance(result, pd.Timestamp) and str(result.tz) == str(expected.tz)
    # pandas sums the int64 timestamps as float64, so in ns it is itself off by up to a few hundred ns
    assert abs(result - expected) <= pd.Timedelta(1, "us")
    assert ds.mean(skipna=False).compute() is pd.NaT
    assert ds[ds > values.max()].mean().compute() is pd.NaT


def test_mean_of_timestamps_far_apart_does_not_overflow():
    # a sum of ns offsets from the epoch would overflow int64; offsets from the earliest value in floats do not
    values = pd.Series(pd.to_datetime(["1700-01-01", "2200-01-01"] * 50).as_unit("ns"))
    result = dd.from_pandas(values, npartitions=4).mean().compute()
    assert abs(result - values.mean()) <= pd.Timedelta(1, "ms")


def test_dataframe_value_counts(frames):
    # DataFrame.value_counts was missing; counts of distinct rows, one index level per column
    pdf, df = frames
    for kwargs in [{}, {"dropna": False}, {"normalize": True}, {"subset": ["k"]}, {"subset": "s", "dropna": False}]:
        result = df[["k", "s", "b"]].value_counts(split_every=2, **kwargs).compute()
        expected = pdf[["k", "s", "b"]].value_counts(**kwargs)
        # pandas orders ties by first appearance; compare as sorted, and check the counts descend
        pd.testing.assert_series_equal(result.sort_index(), expected.sort_index())
        assert list(result.values) == sorted(result.values, reverse=True)
    ascending = df[["k", "b"]].value_counts(ascending=True).compute()
    assert list(ascending.values) == sorted(ascending.values)


def test_nunique_of_an_index(frames):
    # the Index partials could not be concatenated with pd.concat
    pdf, df = frames
    assert_eq(df.index.nunique(split_every=2), pdf.index.nunique())
    repeated = pdf.set_index("k")
    for dropna in (True, False):
        assert_eq(dd.from_pandas(repeated, npartitions=3, sort=False).index.nunique(dropna=dropna),
                  repeated.index.nunique(dropna=dropna))


@pytest.mark.parametrize("tz", [None, "Europe/Paris"])
def test_std_of_timestamps_and_timedeltas_is_a_timedelta(tz):
    # failed inside a task (a timedelta cannot be squared)
    values = pd.Series(pd.date_range("1999-01-01", periods=300, freq="13h7s", tz=tz), name="t")
    values = values.sample(frac=1, random_state=0)
    values.iloc[4] = pd.NaT
    ds = dd.from_pandas(values, npartitions=4, sort=False)
    for ddof in (0, 1):
        assert ds.std(ddof=ddof, split_every=2).compute() == values.std(ddof=ddof)
    assert ds.std(skipna=False).compute() is pd.NaT
    spans = values - values.min()
    assert (ds - ds.min()).std().compute() == spans.std()
    assert ds[ds > values.max()].std().compute() is pd.NaT


def test_dataframe_mode(frames):
    # was missing: every column's modes side by side, padded with missing values as pandas pads them
    pdf, df = frames
    for columns in (["i", "k", "s"], ["k", "b", "c"], ["f", "n", "t"]):
        for dropna in (True, False):
            assert_eq(df[columns].mode(dropna=dropna, split_every=2), pdf[columns].mode(dropna=dropna))
