"""``ewm().mean()`` (``ewm.py``) compared with pandas, across partitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as dd
from shoal.testing import assert_eq


@pytest.mark.parametrize("kwargs", [{"alpha": 0.3}, {"span": 5}, {"com": 0.5}, {"halflife": 3, "min_periods": 4}])
def test_ewm_mean_matches_pandas(frames, kwargs, local_scheduler):
    pdf, df = frames
    assert_eq(df[["f", "i", "n"]].ewm(**kwargs).mean(), pdf[["f", "i", "n"]].astype("float64").ewm(**kwargs).mean(),
              scheduler=local_scheduler, check_exact=False, rtol=1e-9)
    assert_eq(df.f.ewm(**kwargs).mean(), pdf.f.ewm(**kwargs).mean(), check_exact=False, rtol=1e-9)


def test_ewm_refuses_what_it_does_not_do(frames):
    _, df = frames
    with pytest.raises(NotImplementedError, match="not sum"):
        df.f.ewm(alpha=0.5, adjust=False).sum()
    with pytest.raises(NotImplementedError, match=r"ewm\(adjust=False\).std\(\) is supported with ignore_na=True"):
        df.f.ewm(alpha=0.5, adjust=False).std()
    with pytest.raises(ValueError, match="exactly one"):
        df.f.ewm(alpha=0.5, span=3)


@pytest.mark.parametrize("kwargs", [{"alpha": 0.3}, {"span": 4, "min_periods": 3}])
def test_ewm_sum_matches_pandas(frames, kwargs):
    pdf, df = frames
    assert_eq(df[["f", "i", "n"]].ewm(**kwargs).sum(), pdf[["f", "i", "n"]].astype("float64").ewm(**kwargs).sum(),
              check_exact=False, rtol=1e-9)
    assert_eq(df.f.ewm(**kwargs).sum(), pdf.f.ewm(**kwargs).sum(), check_exact=False, rtol=1e-9)


@pytest.mark.parametrize("kwargs", [{"alpha": 0.3}, {"span": 3}, {"com": 1, "min_periods": 3}, {"halflife": 2},
                                    {"alpha": 1.0}])
def test_ewm_unadjusted_mean_matches_pandas(frames, kwargs, local_scheduler):
    # span=3 and com=1 hit pandas' special weighting for a center of mass of exactly 1
    pdf, df = frames
    assert_eq(df[["f", "i", "n"]].ewm(adjust=False, **kwargs).mean(),
              pdf[["f", "i", "n"]].astype("float64").ewm(adjust=False, **kwargs).mean(),
              scheduler=local_scheduler, check_exact=False, rtol=1e-9)
    assert_eq(df.f.ewm(adjust=False, **kwargs).mean(), pdf.f.ewm(adjust=False, **kwargs).mean(), check_exact=False,
              rtol=1e-9)


def test_ewm_unadjusted_mean_across_long_gaps(scheduler):
    # values far apart, partitions holding no value at all: the carried mean decays over every null row
    values = np.full(60, np.nan)
    values[[0, 1, 25, 26, 59]] = [1.0, 3.0, -2.0, 5.0, 4.0]
    pdf = pd.DataFrame({"x": values, "y": np.where(np.isnan(values), np.nan, values * 2)})
    for npartitions in (1, 4, 12):
        df = dd.from_pandas(pdf, npartitions=npartitions)
        assert_eq(df.ewm(alpha=0.2, adjust=False).mean(), pdf.ewm(alpha=0.2, adjust=False).mean(),
                  scheduler=scheduler, check_exact=False, rtol=1e-9)
        assert_eq(df.y.ewm(alpha=0.2, adjust=False).mean(), pdf.y.ewm(alpha=0.2, adjust=False).mean(),
                  scheduler=scheduler, check_exact=False, rtol=1e-9)


EWM_OPTIONS = [{"alpha": 0.3}, {"span": 5, "min_periods": 3}, {"com": 0.5, "ignore_na": True},
               {"halflife": 3, "ignore_na": True, "min_periods": 4}, {"alpha": 1.0}]


@pytest.mark.parametrize("kwargs", EWM_OPTIONS)
@pytest.mark.parametrize("method", ["var", "std"])
def test_ewm_var_and_std_match_pandas(frames, kwargs, method, local_scheduler):
    pdf, df = frames
    expected = getattr(pdf[["f", "i", "n"]].astype("float64").ewm(**kwargs), method)()
    assert_eq(getattr(df[["f", "i", "n"]].ewm(**kwargs), method)(), expected, scheduler=local_scheduler,
              check_exact=False, rtol=1e-9, atol=1e-12)
    assert_eq(getattr(df.f.ewm(**kwargs), method)(bias=True), getattr(pdf.f.ewm(**kwargs), method)(bias=True),
              check_exact=False, rtol=1e-9, atol=1e-12)


def test_ewm_var_far_from_zero_and_across_empty_partitions():
    # a large mean: the partitions' moments are combined around their own means, so nothing cancels badly
    rng = np.random.default_rng(0)
    values = pd.Series(1e8 + rng.normal(size=300))
    values[::11] = np.nan
    values[100:160] = np.nan  # whole partitions without a value
    for npartitions in (1, 7, 30):
        lazy = dd.from_pandas(values, npartitions=npartitions)
        for kwargs in ({"span": 20}, {"span": 20, "ignore_na": True}):
            assert_eq(lazy.ewm(**kwargs).var(), values.ewm(**kwargs).var(), check_exact=False, rtol=1e-6)


@pytest.mark.parametrize("kwargs", EWM_OPTIONS)
@pytest.mark.parametrize("adjust", [True, False])
def test_ewm_ignore_na_matches_pandas(frames, kwargs, adjust, local_scheduler):
    pdf, df = frames
    kwargs = dict(kwargs, ignore_na=True)
    for method in ("mean", "sum") if adjust else ("mean",):
        expected = getattr(pdf[["f", "n"]].astype("float64").ewm(adjust=adjust, **kwargs), method)()
        assert_eq(getattr(df[["f", "n"]].ewm(adjust=adjust, **kwargs), method)(), expected,
                  scheduler=local_scheduler, check_exact=False, rtol=1e-9)


@pytest.mark.parametrize("ignore_na", [False, True])
def test_ewm_ignore_na_across_long_gaps(ignore_na):
    values = np.full(60, np.nan)
    values[[0, 1, 25, 26, 59]] = [1.0, 3.0, -2.0, 5.0, 4.0]
    pdf = pd.DataFrame({"x": values, "y": np.where(np.isnan(values), np.nan, values * 2)})
    for npartitions in (1, 4, 12):
        df = dd.from_pandas(pdf, npartitions=npartitions)
        for adjust in (True, False):
            ewm, expected = df.ewm(com=1, adjust=adjust, ignore_na=ignore_na), pdf.ewm(com=1, adjust=adjust,
                                                                                     ignore_na=ignore_na)
            assert_eq(ewm.mean(), expected.mean(), check_exact=False, rtol=1e-9)
            if adjust:
                assert_eq(ewm.std(), expected.std(), check_exact=False, rtol=1e-9)


def test_ewm_without_decayed_weight_keeps_the_last_mean():
    # alpha=1: every earlier weight is 0 on a null row; pandas keeps the last value's mean (and variance)
    values = pd.Series([1.0, 2.0, np.nan, 4.0, np.nan, np.nan, 5.0, np.nan])
    lazy = dd.from_pandas(values, npartitions=3)
    assert_eq(lazy.ewm(alpha=1.0).mean(), values.ewm(alpha=1.0).mean())
    assert_eq(lazy.ewm(alpha=1.0).var(bias=True), values.ewm(alpha=1.0).var(bias=True))


@pytest.mark.parametrize("kwargs", [{"alpha": 0.3}, {"span": 3, "min_periods": 3}, {"com": 1},
                                    {"halflife": 3, "min_periods": 4}, {"alpha": 1.0}])
@pytest.mark.parametrize("method", ["var", "std"])
def test_ewm_unadjusted_var_and_std_match_pandas(frames, kwargs, method):
    pdf, df = frames
    kwargs = dict(kwargs, adjust=False, ignore_na=True)
    for bias in (False, True):
        expected = getattr(pdf[["f", "i", "n"]].astype("float64").ewm(**kwargs), method)(bias=bias)
        assert_eq(getattr(df[["f", "i", "n"]].ewm(**kwargs), method)(bias=bias), expected, check_exact=False,
                  rtol=1e-9, atol=1e-12)
    # without missing values ignore_na changes nothing: the same as pandas' default
    full = pdf[["i", "k"]].astype("float64")
    lazy = dd.from_pandas(full, npartitions=5)
    assert_eq(getattr(lazy.ewm(**kwargs), method)(), getattr(full.ewm(**dict(kwargs, ignore_na=False)), method)(),
              check_exact=False, rtol=1e-9, atol=1e-12)
