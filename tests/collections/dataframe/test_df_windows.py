"""``shift``, ``diff`` and ``rolling`` (``windows.py``) compared with pandas, across partition boundaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as dd
from shoal.testing import assert_eq


@pytest.mark.parametrize("periods", [1, 3, 25, -1, -4, 0])
def test_shift_and_diff(frames, periods):
    pdf, df = frames
    cols = ["i", "f", "n"]
    assert_eq(df[cols].shift(periods), pdf[cols].shift(periods))
    assert_eq(df.f.diff(periods), pdf.f.diff(periods))
    assert_eq(df.s.shift(periods), pdf.s.shift(periods))


def test_shift_combines_with_its_input(frames, local_scheduler):
    pdf, df = frames
    assert_eq(df.i - df.i.shift(2), pdf.i - pdf.i.shift(2), scheduler=local_scheduler)


@pytest.mark.parametrize("window", [1, 3, 12])
@pytest.mark.parametrize("method", ["sum", "mean", "min", "max", "std", "count", "median"])
def test_rolling_fixed_windows(frames, window, method):
    pdf, df = frames
    cols = ["i", "f"]
    assert_eq(getattr(df[cols].rolling(window), method)(), getattr(pdf[cols].rolling(window), method)())
    assert_eq(getattr(df.f.rolling(window, min_periods=1), method)(),
              getattr(pdf.f.rolling(window, min_periods=1), method)())


def test_rolling_centred_and_apply(frames, scheduler):
    pdf, df = frames
    assert_eq(df.f.rolling(5, center=True).mean(), pdf.f.rolling(5, center=True).mean(), scheduler=scheduler)
    assert_eq(df.i.rolling(4).apply(lambda values: values[-1] - values[0], raw=True),
              pdf.i.rolling(4).apply(lambda values: values[-1] - values[0], raw=True), scheduler=scheduler)


@pytest.mark.parametrize("window", ["2h", "1D", "30min"])
def test_rolling_time_windows(window):
    rng = np.random.default_rng(0)
    times = pd.to_datetime("2024-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 72 * 60, 200)), unit="min")
    pdf = pd.DataFrame({"x": rng.normal(size=200), "y": rng.integers(0, 10, 200)}, index=times)
    df = dd.from_pandas(pdf, npartitions=7)
    assert_eq(df.rolling(window).sum(), pdf.rolling(window).sum())
    assert_eq(df.x.rolling(window).mean(), pdf.x.rolling(window).mean())
    with pytest.raises(ValueError, match="known divisions"):
        dd.from_pandas(pdf, npartitions=3, sort=False).rolling(window).sum()


@pytest.mark.parametrize("periods", [2, -3])
def test_shift_fill_value(frames, periods):
    pdf, df = frames
    assert_eq(df[["i", "f"]].shift(periods, fill_value=0), pdf[["i", "f"]].shift(periods, fill_value=0))
    assert_eq(df.i.shift(periods, fill_value=-1), pdf.i.shift(periods, fill_value=-1))


@pytest.mark.parametrize("periods, freq", [(2, "h"), (-1, "30min"), (1, pd.Timedelta("1D"))])
def test_shift_with_freq_moves_the_index_and_divisions(periods, freq):
    pdf = pd.DataFrame({"x": np.arange(40.0)}, index=pd.date_range("2024-01-01", periods=40, freq="45min"))
    df = dd.from_pandas(pdf, npartitions=4)
    result = df.shift(periods, freq=freq)
    expected = pdf.shift(periods, freq=freq)
    assert_eq(result, expected)  # also checks every partition lies within the (moved) divisions
    assert result.divisions[0] == expected.index[0] and result.divisions[-1] == expected.index[-1]
    assert_eq(df.x.shift(periods, freq=freq), pdf.x.shift(periods, freq=freq))
    with pytest.raises(TypeError, match="datetime index"):
        dd.from_pandas(pdf.reset_index(drop=True), npartitions=2).shift(1, freq="h")


@pytest.mark.parametrize("method", ["sem", "skew", "kurt", "var"])
def test_rolling_higher_moments(frames, method):
    pdf, df = frames
    assert_eq(getattr(df[["i", "f"]].rolling(6), method)(), getattr(pdf[["i", "f"]].rolling(6), method)())
