"""``rolling(..., on="column")`` (``windows.py``) against pandas, across partitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as dd


def _events(n=50, seed=1):
    """Timestamps sorted (some repeated, with gaps longer than the windows), a value with a NaN, an int column;
    the index is not the time."""
    rng = np.random.default_rng(seed)
    hours = np.sort(rng.integers(0, 200, n))
    frame = pd.DataFrame({"t": pd.Timestamp("2024-03-30", tz="Europe/Paris") + pd.to_timedelta(hours, unit="h"),
                          "x": rng.normal(size=n), "k": rng.integers(0, 5, n)}, index=rng.permutation(n))
    frame.loc[frame.index[3], "x"] = np.nan
    return frame


def _uneven(pdf):
    cuts = [0, 0, 7, 7, 30, len(pdf)]
    return dd.from_map(lambda part: part, [pdf.iloc[a:b] for a, b in zip(cuts[:-1], cuts[1:])], meta=pdf.iloc[:0])


@pytest.mark.parametrize("window", ["5h", "30h", 3])
@pytest.mark.parametrize("method", ["sum", "mean", "count", "max", "std"])
def test_rolling_on_a_column_matches_pandas(window, method, local_scheduler):
    pdf = _events()
    for df in (dd.from_pandas(pdf, npartitions=7, sort=False), _uneven(pdf)):
        got = getattr(df.rolling(window, on="t"), method)().compute(scheduler=local_scheduler)
        pd.testing.assert_frame_equal(got, getattr(pdf.rolling(window, on="t"), method)())


def test_rolling_on_with_closed_and_min_periods():
    pdf = _events()
    df = dd.from_pandas(pdf, npartitions=5, sort=False)
    for kwargs in ({"closed": "both"}, {"closed": "left"}, {"min_periods": 2}):
        pd.testing.assert_frame_equal(df.rolling("20h", on="t", **kwargs).sum().compute(),
                                      pdf.rolling("20h", on="t", **kwargs).sum())


def test_rolling_on_bad_input():
    pdf = _events()
    df = dd.from_pandas(pdf, npartitions=3, sort=False)
    with pytest.raises(KeyError, match=r"rolling\(on='when'\): no such column; the columns are \['t', 'x', 'k'\]"):
        df.rolling("2h", on="when")
    with pytest.raises(TypeError, match=r"on='k'\): the column must hold datetimes, not int64"):
        df.rolling("2h", on="k")
    with pytest.raises(ValueError, match="a Series has none"):
        df.x.rolling("2h", on="t")
    # each partition sorted, but not across them; or sorted decreasing (which pandas accepts in one piece)
    swapped = pd.concat([pdf.iloc[25:], pdf.iloc[:25]])
    for unsorted in (_uneven(swapped), dd.from_pandas(pdf.iloc[::-1], npartitions=3, sort=False)):
        with pytest.raises(ValueError, match="the column 't' must be sorted increasing across the partitions"):
            unsorted.rolling("2h", on="t").sum().compute()


@pytest.mark.parametrize("closed", ["both", "left", "right", "neither"])
@pytest.mark.parametrize("npartitions", [2, 3, 4, 8])
def test_rolling_on_repeated_times_across_partitions_with_closed(closed, npartitions):
    # equal times split between partitions: a row exactly one window before them is in their window when the
    # window is closed on the left, so it must be among the rows carried over
    times = pd.to_datetime(["2020-01-01 00:00", "2020-01-01 00:30", "2020-01-01 00:30", "2020-01-01 00:30",
                            "2020-01-01 01:00", "2020-01-01 03:00", "2020-01-01 03:10", "2020-01-01 03:10"])
    pdf = pd.DataFrame({"t": times, "v": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0, 7.0, 8.0]})
    lazy = dd.from_pandas(pdf, npartitions=npartitions).rolling("30min", on="t", closed=closed).sum()
    pd.testing.assert_frame_equal(lazy.compute(scheduler="sync"), pdf.rolling("30min", on="t", closed=closed).sum())
