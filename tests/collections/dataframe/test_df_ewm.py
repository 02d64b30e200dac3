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
    with pytest.raises(NotImplementedError, match="ignore_na=False"):
        df.f.ewm(alpha=0.5, ignore_na=True)
    with pytest.raises(NotImplementedError, match="only mean"):
        df.f.ewm(alpha=0.5, adjust=False).sum()
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
