"""ffill / bfill carried across partitions, against pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as dd
from shoal.testing import assert_eq


def _gappy(n=60, seed=1) -> pd.DataFrame:
    """Mostly missing values of many dtypes, with a run of NaN at both ends of ``f``."""
    rng = np.random.default_rng(seed)
    gaps = rng.random((4, n)) < 0.6
    frame = pd.DataFrame({
        "f": np.where(gaps[0], np.nan, rng.normal(size=n)),
        "s": pd.array(np.where(gaps[1], None, rng.choice(["a", "b"], n)), dtype="str"),
        "n": pd.array(np.where(gaps[2], None, rng.integers(0, 9, n)), dtype="Int64"),
        "t": pd.Series(pd.date_range("2020-01-01", periods=n, tz="Europe/Paris")).where(~gaps[3]),
        "i": np.arange(n),
    })
    frame.loc[:4, "f"] = np.nan
    frame.loc[n - 6:, "f"] = np.nan
    return frame


@pytest.mark.parametrize("method", ["ffill", "bfill"])
@pytest.mark.parametrize("npartitions", [1, 4, 13])
def test_fill_crosses_partition_boundaries(method, npartitions, scheduler):
    # were missing; per partition alone, a gap at a partition's edge would stay unfilled
    pdf = _gappy()
    df = dd.from_pandas(pdf, npartitions=npartitions)
    assert_eq(getattr(df, method)(), getattr(pdf, method)(), scheduler=scheduler)
    assert_eq(getattr(df.f, method)(), getattr(pdf.f, method)())
    assert_eq(getattr(df.f, method)() - df.f, getattr(pdf.f, method)() - pdf.f)  # keeps the partitioning
    sparse = df[df.i % 7 == 0]  # some partitions left empty
    assert_eq(getattr(sparse, method)(), getattr(pdf[pdf.i % 7 == 0], method)())


@pytest.mark.parametrize("method", ["ffill", "bfill"])
def test_fill_along_rows_and_limit(method):
    pdf = _gappy()
    df = dd.from_pandas(pdf, npartitions=3)
    assert_eq(getattr(df[["f", "i"]], method)(axis=1), getattr(pdf[["f", "i"]], method)(axis=1))
    with pytest.raises(NotImplementedError, match="map_partitions"):
        getattr(df, method)(limit=1)
