"""``ewm().mean()`` (``ewm.py``) compared with pandas, across partitions."""

from __future__ import annotations

import pytest

from shoal.testing import assert_eq


@pytest.mark.parametrize("kwargs", [{"alpha": 0.3}, {"span": 5}, {"com": 0.5}, {"halflife": 3, "min_periods": 4}])
def test_ewm_mean_matches_pandas(frames, kwargs, local_scheduler):
    pdf, df = frames
    assert_eq(df[["f", "i", "n"]].ewm(**kwargs).mean(), pdf[["f", "i", "n"]].astype("float64").ewm(**kwargs).mean(),
              scheduler=local_scheduler, check_exact=False, rtol=1e-9)
    assert_eq(df.f.ewm(**kwargs).mean(), pdf.f.ewm(**kwargs).mean(), check_exact=False, rtol=1e-9)


def test_ewm_refuses_what_it_does_not_do(frames):
    _, df = frames
    with pytest.raises(NotImplementedError, match="adjust=True"):
        df.f.ewm(alpha=0.5, adjust=False)
    with pytest.raises(ValueError, match="exactly one"):
        df.f.ewm(alpha=0.5, span=3)


@pytest.mark.parametrize("kwargs", [{"alpha": 0.3}, {"span": 4, "min_periods": 3}])
def test_ewm_sum_matches_pandas(frames, kwargs):
    pdf, df = frames
    assert_eq(df[["f", "i", "n"]].ewm(**kwargs).sum(), pdf[["f", "i", "n"]].astype("float64").ewm(**kwargs).sum(),
              check_exact=False, rtol=1e-9)
    assert_eq(df.f.ewm(**kwargs).sum(), pdf.f.ewm(**kwargs).sum(), check_exact=False, rtol=1e-9)
