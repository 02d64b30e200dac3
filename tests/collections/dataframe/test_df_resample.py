"""``resample`` (``resample.py``) compared with pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as dd
from shoal.testing import assert_eq


def _timed(seed=0, n=300, gaps=True):
    rng = np.random.default_rng(seed)
    minutes = np.sort(rng.choice(60 * 24 * 3, n, replace=False))
    if gaps:
        minutes = minutes[(minutes < 1500) | (minutes > 2400)]  # a stretch with no rows at all
    index = pd.to_datetime("2024-03-01") + pd.to_timedelta(minutes, unit="min")
    x = rng.normal(size=len(index))
    x[::11] = np.nan
    return pd.DataFrame({"x": x, "y": rng.integers(0, 50, len(index))}, index=index)


@pytest.mark.parametrize("rule", ["1h", "6h", "1D", "7min"])
@pytest.mark.parametrize("method", ["sum", "mean", "count", "min", "max", "first", "last", "size"])
@pytest.mark.parametrize("npartitions", [1, 4, 9])
def test_resample_matches_pandas(rule, method, npartitions):
    pdf = _timed()
    result = getattr(dd.from_pandas(pdf, npartitions=npartitions).resample(rule), method)()
    assert result.known_divisions
    assert_eq(result, getattr(pdf.resample(rule), method)())


def test_resample_after_set_index(local_scheduler):
    pdf = _timed(1).reset_index(names="when").sample(frac=1.0, random_state=0)
    df = dd.from_pandas(pdf, npartitions=5, sort=False).set_index("when")
    expected = pdf.set_index("when").sort_index().resample("2h").agg({"x": "mean", "y": "sum"})
    assert_eq(df.resample("2h").agg({"x": "mean", "y": "sum"}), expected, scheduler=local_scheduler)


def test_resample_needs_known_datetime_divisions():
    pdf = _timed()
    with pytest.raises(ValueError, match="known divisions"):
        dd.from_pandas(pdf, npartitions=3, sort=False).resample("1h")
    with pytest.raises(TypeError, match="datetime index"):
        dd.from_pandas(pdf.reset_index(drop=True), npartitions=3).resample("1h")


@pytest.mark.parametrize("rule", ["1D", "6h", "45min"])
def test_resample_across_a_dst_change(pdf, rule, local_scheduler):
    timed = pdf.set_index("t")[["f", "i"]]  # Europe/Paris, across the March 2021 change
    assert_eq(dd.from_pandas(timed, npartitions=3).resample(rule).sum(), timed.resample(rule).sum(),
              scheduler=local_scheduler)


@pytest.mark.parametrize("rule", ["D", "h", "min", pd.Timedelta("2h"), pd.offsets.Hour(3)])
def test_resample_rules_without_a_count_and_offset_objects(rule):
    # pandas reads 'D' as one day; pd.Timedelta('D') does not, so the rule is normalised first
    pdf = _timed(2)
    assert_eq(dd.from_pandas(pdf, npartitions=4).resample(rule).mean(), pdf.resample(rule).mean())


@pytest.mark.parametrize("rule", ["1h", "D"])
def test_resample_ohlc(rule):
    pdf = _timed(3)
    df = dd.from_pandas(pdf, npartitions=5)
    assert_eq(df.resample(rule).ohlc(), pdf.resample(rule).ohlc())
    assert_eq(df.x.resample(rule).ohlc(), pdf.x.resample(rule).ohlc())


def _on_edges(unit="ns"):
    """Rows at random minutes and on every hour, so bins closed on the right see rows on their edges."""
    pdf = _timed(4)
    hours = pd.to_datetime("2024-03-01") + pd.to_timedelta(np.arange(0, 72), unit="h")
    edges = pd.DataFrame({"x": np.arange(72.0), "y": np.arange(72)}, index=hours)
    both = pd.concat([pdf, edges[~edges.index.isin(pdf.index)]]).sort_index()
    both.index = both.index.as_unit(unit)
    return both


@pytest.mark.parametrize("closed", ["left", "right"])
@pytest.mark.parametrize("label", ["left", "right"])
@pytest.mark.parametrize("rule", ["1h", "6h", "D", "7min"])
@pytest.mark.parametrize("npartitions", [1, 5])
def test_resample_closed_and_label(closed, label, rule, npartitions):
    pdf = _on_edges()
    df = dd.from_pandas(pdf, npartitions=npartitions)
    for method in ["sum", "count", "first"]:
        result = getattr(df.resample(rule, closed=closed, label=label), method)()
        assert result.known_divisions
        assert_eq(result, getattr(pdf.resample(rule, closed=closed, label=label), method)())  # divisions checked too


@pytest.mark.parametrize("unit", ["s", "ms", "us"])
def test_resample_keeps_the_index_unit(unit):
    pdf = _on_edges(unit)
    assert_eq(dd.from_pandas(pdf, npartitions=4).resample("1h").mean(), pdf.resample("1h").mean())
    assert_eq(dd.from_pandas(pdf, npartitions=4).resample("1h", closed="right").mean(),
              pdf.resample("1h", closed="right").mean())


def test_resample_closed_label_bad_values(pdf):
    df = dd.from_pandas(_timed(), npartitions=2)
    with pytest.raises(ValueError, match="closed must be 'left' or 'right', got 'both'"):
        df.resample("1h", closed="both")
    with pytest.raises(NotImplementedError, match="timezone-aware"):
        dd.from_pandas(pdf.set_index("t")[["f"]], npartitions=2).resample("1D", closed="right")


def _months(seed=0, n=3000, tz=None):
    """Rows at random instants over two years and a bit: bins of 28-31 days, weeks across month ends."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2023-12-25", tz=tz)
    offsets = pd.to_timedelta(np.sort(rng.integers(0, 800 * 86_400, n)), unit="s")
    index = pd.DatetimeIndex(start + offsets)
    return pd.DataFrame({"x": rng.normal(size=n), "y": rng.integers(0, 9, n)}, index=index)


@pytest.mark.parametrize("rule", ["W", "W-WED", "ME", "MS", "QE", "QS", "YE", "YS", "B", "BME", "BQE", "SMS"])
@pytest.mark.parametrize("closed,label", [(None, None), ("left", None), ("left", "right"), (None, "left")])
@pytest.mark.parametrize("npartitions", [1, 7, 40])
def test_resample_calendar_rules_match_pandas(rule, closed, label, npartitions):
    pdf = _months()
    expected = pdf.resample(rule, closed=closed, label=label).sum()
    result = dd.from_pandas(pdf, npartitions=npartitions).resample(rule, closed=closed, label=label).sum()
    assert result.known_divisions
    assert_eq(result, expected)


@pytest.mark.parametrize("rule", ["W", "ME", "QE", "YE", "BME"])
@pytest.mark.parametrize("label", [None, "left"])
def test_resample_end_anchored_rules_closed_on_the_right(rule, label):
    pdf = _months(1)
    assert_eq(dd.from_pandas(pdf, npartitions=9).resample(rule, closed="right", label=label).mean(),
              pdf.resample(rule, closed="right", label=label).mean())


@pytest.mark.parametrize("method", ["mean", "count", "median", "std", "nunique", "ohlc", "first", "last", "size"])
def test_resample_calendar_rules_every_method_on_a_timezone(method, local_scheduler):
    pdf = _months(2, n=800, tz="Europe/Paris")  # across two DST changes a year
    result = getattr(dd.from_pandas(pdf, npartitions=6).resample("ME"), method)()
    assert_eq(result, getattr(pdf.resample("ME"), method)(), scheduler=local_scheduler)


@pytest.mark.parametrize("rule", ["1h", "1D", "W", "ME"])
def test_resample_of_a_filtered_frame_spans_only_its_rows(rule):
    # divisions only bound the rows: with the first and last rows filtered away, pandas' result starts and ends
    # at the bins of the rows left, not of the divisions
    pdf = _months(3, n=1000)
    df = dd.from_pandas(pdf, npartitions=8)
    first, last = pdf.index[100], pdf.index[-100]
    assert_eq(df[df.x > 1.2].loc[first:last].resample(rule).count(),
              pdf[pdf.x > 1.2].loc[first:last].resample(rule).count())
    assert_eq(df[df.x > 100].resample(rule).sum(), pdf[pdf.x > 100].resample(rule).sum())  # no rows at all


def test_resample_calendar_rules_refuse_what_they_cannot_do():
    df = dd.from_pandas(_months(), npartitions=4)
    with pytest.raises(NotImplementedError, match="one period only"):
        df.resample("2ME")
    with pytest.raises(NotImplementedError, match="closed='right'"):
        df.resample("MS", closed="right")
    with pytest.raises(ValueError, match="'fortnightly' is not a frequency"):
        df.resample("fortnightly")


@pytest.mark.parametrize("tz", [None, "Europe/Paris"])
@pytest.mark.parametrize("rule", ["7min", "45min", "5h", "1D"])
@pytest.mark.parametrize("origin,offset", [("epoch", None), ("start_day", "3min"), ("epoch", "-10min"),
                                           ("2024-03-27 00:05", None), ("2024-03-27 00:05", "2min")])
def test_resample_origin_and_offset(tz, rule, origin, offset):
    # with origin='epoch' or a timestamp, bins do not depend on the first row: a filtered frame whose first rows
    # are gone gets pandas' bins too
    rng = np.random.default_rng(5)
    pdf = pd.DataFrame({"x": rng.normal(size=1500)},
                       index=pd.date_range("2024-03-28 00:13", periods=1500, freq="17min", tz=tz))
    df = dd.from_pandas(pdf, npartitions=7)
    if origin not in ("epoch", "start_day"):
        origin = pd.Timestamp(origin, tz=tz)
    kwargs = {"origin": origin, "offset": offset}
    if tz is not None and rule == "1D":  # pandas: days on a tz-aware index start at local midnight, origin or not
        with pytest.warns(RuntimeWarning, match="do not take effect"):
            result = df.resample(rule, **kwargs).count()
        with pytest.warns(RuntimeWarning):
            expected = pdf.resample(rule, **kwargs).count()
        assert_eq(result, expected)
        return
    assert_eq(df.resample(rule, **kwargs).count(), pdf.resample(rule, **kwargs).count())
    if origin != "start_day":
        assert_eq(df[df.x > 1.0].resample(rule, closed="right", **kwargs).sum(),
                  pdf[pdf.x > 1.0].resample(rule, closed="right", **kwargs).sum())


def test_resample_origin_refusals():
    df = dd.from_pandas(_timed(), npartitions=3)
    with pytest.raises(NotImplementedError, match="origin='start'"):
        df.resample("7min", origin="start")
    with pytest.raises(ValueError, match="origin must be"):
        df.resample("7min", origin="soon")
    with pytest.raises(ValueError, match="both have a timezone or both have none"):
        df.resample("7min", origin=pd.Timestamp("2024-01-01", tz="UTC"))
    with pytest.raises(ValueError, match="offset must be a timedelta"):
        df.resample("7min", offset="later")
    with pytest.raises(NotImplementedError, match="calendar bins"):
        df.resample("ME", origin="epoch")


@pytest.mark.parametrize("rule", ["7D", "ME"])
@pytest.mark.parametrize("func", ["sum", "count", "size"])
def test_resample_agg_by_name_fills_empty_bins_as_pandas(rule, func):
    # bins in a gap between partitions hold no row: agg('sum') must give sum's 0 there, as pandas does
    index = pd.to_datetime(["2020-01-05", "2020-01-20", "2020-02-03", "2020-07-10", "2020-07-20", "2020-08-02"])
    pdf = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]}, index=index)
    lazy = dd.from_pandas(pdf, npartitions=2).resample(rule).agg(func).compute(scheduler="sync")
    assert_eq(lazy, pdf.resample(rule).agg(func), check_freq=False)


@pytest.mark.parametrize("rule", ["7D", "ME"])
@pytest.mark.parametrize("spec", [["sum", "mean", "count"], {"x": "sum", "y": ["count", "max", "prod"]},
                                  {"x": "size", "y": "nunique"}, "prod", ["prod", "size"]])
def test_resample_agg_of_several_fills_empty_bins_column_by_column(rule, spec):
    # bins in a gap between partitions: each column holds what its own aggregation gives for no rows
    index = pd.to_datetime(["2020-01-05", "2020-01-20", "2020-02-03", "2020-07-10", "2020-07-20", "2020-08-02"])
    pdf = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "y": [1, 2, 3, 4, 5, 6]}, index=index)
    df = dd.from_pandas(pdf, npartitions=3)
    assert_eq(df.resample(rule).agg(spec), pdf.resample(rule).agg(spec), check_freq=False)
    if not isinstance(spec, dict):
        assert_eq(df.x.resample(rule).agg(spec), pdf.x.resample(rule).agg(spec), check_freq=False)
