"""The Index collection as pandas' Index: masks that filter the frame, datetime fields, .str, isin, map,
to_series/to_frame and reductions, against pandas computed eagerly."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as dd
from conftest import PARTITIONINGS, partitioned
from shoal.collections.dataframe.index_ops import _FROM_META, _WHOLE_INDEX
from shoal.testing import assert_eq

NOON = pd.Timestamp("2024-03-31 12:00", tz="Europe/Paris")


def timed_frame(tz="Europe/Paris") -> pd.DataFrame:
    """Rows every 7 hours across a daylight-saving change and a month end, indexed by time."""
    index = pd.date_range("2024-03-28 20:00", periods=48, freq="7h", tz=tz, name="when")
    rng = np.random.default_rng(4)
    return pd.DataFrame({"x": rng.integers(0, 100, len(index)), "y": rng.normal(size=len(index))}, index=index)


def as_index(array: np.ndarray, name="when") -> pd.Index:
    """pandas' array answer as the Index shoal computes for it (same values and dtype, named like the index)."""
    return pd.Index(array, dtype=array.dtype, name=name)


@pytest.fixture(params=PARTITIONINGS)
def timed(request):
    pdf = timed_frame()
    return pdf, partitioned(pdf, request.param)


# ---------------------------------------------------------------------- masks


def test_comparison_gives_a_boolean_index_that_filters_rows(timed, local_scheduler):
    pdf, df = timed
    mask = df.index > NOON
    assert type(mask).__name__ == "Index" and mask.npartitions == df.npartitions
    assert not mask.known_divisions  # its values are booleans, not the row labels
    expected = pdf.index > NOON
    assert isinstance(expected, np.ndarray)
    assert_eq(mask, as_index(expected), scheduler=local_scheduler)
    assert_eq(df[mask], pdf[expected], scheduler=local_scheduler)
    assert_eq(df[df.index > "2024-04-02"], pdf[pdf.index > "2024-04-02"], scheduler=local_scheduler)


def test_range_masks_combine_invert_and_select_with_loc(timed):
    pdf, df = timed
    low, high = pd.Timestamp("2024-03-30", tz="Europe/Paris"), pd.Timestamp("2024-04-05", tz="Europe/Paris")
    in_range = (df.index >= low) & (df.index < high)
    expected = (pdf.index >= low) & (pdf.index < high)
    assert_eq(df.loc[in_range], pdf.loc[expected])
    assert_eq(df.loc[in_range, ["y"]], pdf.loc[expected, ["y"]])
    assert_eq(df[~in_range], pdf[~expected])
    assert_eq(df[(df.index < low) | (df.index >= high)], pdf[(pdf.index < low) | (pdf.index >= high)])
    # a value on the left: Python asks the Index to compare the other way round
    assert_eq(df[low <= df.index], pdf[low <= pdf.index])


def test_index_mask_mixes_with_column_masks(timed):
    pdf, df = timed
    both = (df.x > 40) & (df.index.hour >= 12)
    assert_eq(df[both], pdf[(pdf.x > 40) & (pdf.index.hour >= 12)])
    flipped = (df.index.hour >= 12) & (df.x > 40)
    assert_eq(df[flipped], pdf[(pdf.index.hour >= 12) & (pdf.x > 40)])
    assert_eq(df.x[df.index.day == 1], pdf.x[pdf.index.day == 1])
    assert_eq(df.index[df.index.day == 1], pdf.index[pdf.index.day == 1])


def test_mask_from_a_datetime_field_filters_by_position(timed):
    pdf, df = timed
    assert_eq(df[df.index.month == 3], pdf[pdf.index.month == 3])
    assert_eq(df[df.index.is_month_start], pdf[pdf.index.is_month_start])
    assert_eq(df[df.index.isin(pdf.index[::5])], pdf[pdf.index.isin(pdf.index[::5])])


def test_mask_reductions(timed):
    pdf, df = timed
    mask = df.index > NOON
    assert mask.sum().compute() == (pdf.index > NOON).sum()
    assert bool(mask.any().compute()) is True
    assert bool(mask.all().compute()) == bool((pdf.index > NOON).all())


def test_mask_of_another_frame_is_refused_when_rows_cannot_line_up():
    pdf = timed_frame()
    df = dd.from_pandas(pdf, npartitions=4)
    other = dd.from_pandas(pdf, npartitions=3)
    with pytest.raises(ValueError, match="partitioned differently"):
        df[other.index > NOON]


# ---------------------------------------------------------------------- datetime fields and methods


def _datetime_properties() -> list[str]:
    """Every public property of pandas' DatetimeIndex that shoal computes per partition (taken from pandas)."""
    names = []
    for name in dir(pd.DatetimeIndex):
        # values: the conversion to a shoal Array that every collection has (to_shoal_array), not a field
        if name.startswith("_") or name in _WHOLE_INDEX or name in _FROM_META or name in ("T", "values"):
            continue
        if not callable(getattr(pd.DatetimeIndex, name)):
            names.append(name)
    return names


@pytest.mark.parametrize("tz", [None, "Europe/Paris"])
def test_every_datetime_property_matches_pandas(tz):
    pdf = timed_frame(tz)
    df = partitioned(pdf, "empty-parts")
    names = _datetime_properties()
    assert {"year", "month", "day", "hour", "minute", "second", "day_of_week", "day_of_year", "quarter", "date",
            "is_month_start", "is_year_end", "days_in_month"} <= set(names)
    checked, refused = 0, []
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated aliases (dayofweek, weekday, ...) still work in both
            expected = getattr(pdf.index, name)
            try:
                result = getattr(df.index, name)
            except NotImplementedError:
                # only one-value answers that depend on the whole index (inferred_type, resolution) are refused
                assert not isinstance(expected, (np.ndarray, pd.Index, pd.api.extensions.ExtensionArray)), name
                refused.append(name)
                continue
            if isinstance(result, tuple):  # shape: (lazy row count,)
                result = tuple(part.compute() for part in result)
            elif hasattr(result, "compute"):
                result = result.compute()
        if isinstance(expected, (np.ndarray, pd.api.extensions.ExtensionArray)):
            assert_eq(result, pd.Index(expected, dtype=expected.dtype, name="when"))
        elif isinstance(expected, pd.Index):
            assert_eq(result, expected)
        else:
            assert result == expected, name
        checked += 1
    assert len(refused) < 8 and "month" not in refused, refused
    assert checked >= 30


def test_deprecated_datetime_aliases_still_answer(timed):
    pdf, df = timed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_eq(df.index.dayofweek, pdf.index.dayofweek)
        assert_eq(df.index.weekday, pdf.index.weekday)
        assert_eq(df.index.dayofyear, pdf.index.dayofyear)


def test_datetime_methods(timed, local_scheduler):
    pdf, df = timed
    for build in (lambda ix: ix.normalize(), lambda ix: ix.floor("h"), lambda ix: ix.ceil("D"),
                  lambda ix: ix.round("2h"), lambda ix: ix.round(freq="D"), lambda ix: ix.strftime("%Y-%m %H"),
                  lambda ix: ix.tz_convert("America/New_York"), lambda ix: ix.tz_localize(None),
                  lambda ix: ix.day_name(), lambda ix: ix.month_name(), lambda ix: ix.isocalendar(),
                  lambda ix: ix.shift(3, freq="h"), lambda ix: ix.to_julian_date()):
        assert_eq(build(df.index), build(pdf.index), scheduler=local_scheduler)


def test_tz_localize_naive_index():
    pdf = timed_frame(None)
    df = dd.from_pandas(pdf, npartitions=3)
    assert_eq(df.index.tz_localize("UTC").tz_convert("Asia/Tokyo"),
              pdf.index.tz_localize("UTC").tz_convert("Asia/Tokyo"))
    assert df.index.tz is None and df.index.tz_localize("UTC").tz is not None
    assert df.index.dtype == pdf.index.dtype and df.index.name == "when"


def test_arithmetic(timed):
    pdf, df = timed
    assert_eq(df.index + pd.Timedelta("1h"), pdf.index + pd.Timedelta("1h"))
    assert_eq(df.index - pd.Timedelta("90min"), pdf.index - pd.Timedelta("90min"))
    assert_eq(df.index - NOON, pdf.index - NOON)
    assert_eq(df.index - df.index.normalize(), pdf.index - pdf.index.normalize())
    shifted = df.index + pd.Timedelta("1D")
    assert not shifted.known_divisions  # the values moved: the old bounds would lie
    assert_eq(df[shifted.month == 4], pdf[(pdf.index + pd.Timedelta("1D")).month == 4])


def test_numeric_index_arithmetic_and_unary():
    pdf = pd.DataFrame({"x": range(30)}, index=pd.Index(np.arange(30) * 3 - 40, name="i"))
    df = dd.from_pandas(pdf, npartitions=4)
    assert_eq(df.index * 2 + 1, pdf.index * 2 + 1)
    assert_eq(-df.index, -pdf.index)
    assert_eq(abs(df.index), abs(pdf.index))
    assert_eq(df.index % 4 == 0, as_index(pdf.index % 4 == 0, name="i"))
    assert_eq(df[df.index % 4 == 0], pdf[pdf.index % 4 == 0])
    assert_eq(10 - df.index, 10 - pdf.index)


# ---------------------------------------------------------------------- conversions, isin, map, str


def test_to_series_and_to_frame(timed):
    pdf, df = timed
    assert_eq(df.index.to_series(), pdf.index.to_series())
    assert_eq(df.index.to_series(name="t"), pdf.index.to_series(name="t"))
    assert_eq(df.index.to_frame(), pdf.index.to_frame())
    assert_eq(df.index.to_frame(name="t"), pdf.index.to_frame(name="t"))
    assert df.index.to_series().divisions == df.divisions  # indexed by the row labels: the bounds still hold
    assigned = df.assign(hour=df.index.to_series().dt.hour)
    assert_eq(assigned, pdf.assign(hour=pdf.index.to_series().dt.hour))


def test_to_frame_without_index_is_numbered_per_partition():
    pdf = timed_frame()
    df = dd.from_pandas(pdf, npartitions=3)
    result = df.index.to_frame(index=False)
    assert not result.known_divisions
    computed = result.compute()
    pd.testing.assert_frame_equal(computed.reset_index(drop=True), pdf.index.to_frame(index=False))


def test_isin(timed):
    pdf, df = timed
    picked = list(pdf.index[[0, 7, 30, 47]])
    assert_eq(df.index.isin(picked), as_index(pdf.index.isin(picked)))
    assert_eq(df.loc[df.index.isin(picked)], pdf.loc[pdf.index.isin(picked)])


def test_map(timed):
    pdf, df = timed
    assert_eq(df.index.map(lambda t: t.hour * 60 + t.minute), pdf.index.map(lambda t: t.hour * 60 + t.minute))
    expected = pdf.index.map(lambda t: t.day_name()[:2])
    assert_eq(df.index.map(lambda t: t.day_name()[:2], meta=expected[:0]), expected)
    assert not df.index.map(lambda t: t.hour).known_divisions


@pytest.mark.parametrize("dtype", [object, "str"])
def test_str_accessor_on_a_string_index(dtype):
    labels = ["Apple", "banana", "Cherry", "date", "Elder", "fig", "Grape", "kiwi", "Lime", "mango"]
    pdf = pd.DataFrame({"x": range(10)}, index=pd.Index(labels, dtype=dtype, name="fruit"))
    df = dd.from_pandas(pdf, npartitions=3, sort=False)  # keep pandas' row order (sorting puts capitals first)
    assert_eq(df.index.str.lower(), pdf.index.str.lower())
    assert_eq(df.index.str.len(), pdf.index.str.len())
    assert_eq(df.index.str[:2], pdf.index.str[:2])
    assert_eq(df[df.index.str.startswith("b")], pdf[pdf.index.str.startswith("b")])
    assert_eq(df[df.index.str.contains("an")], pdf[pdf.index.str.contains("an")])
    assert_eq(df.index.map(str.upper), pdf.index.map(str.upper))


def test_str_accessor_refused_on_a_datetime_index(timed):
    _, df = timed
    with pytest.raises(AttributeError, match=r"Can only use \.str on an Index.*datetime64"):
        df.index.str  # noqa: B018


# ---------------------------------------------------------------------- reductions and whole-index answers


def test_reductions(timed, local_scheduler):
    pdf, df = timed
    ix = df.index
    assert ix.min().compute(scheduler=local_scheduler) == pdf.index.min()
    assert ix.max().compute(scheduler=local_scheduler) == pdf.index.max()
    assert ix.nunique().compute(scheduler=local_scheduler) == pdf.index.nunique()
    assert ix.count().compute(scheduler=local_scheduler) == pdf.index.notna().sum()
    assert_eq(ix.unique(), pdf.index.unique(), check_freq=False)  # a frequency is not inferred from parts
    assert_eq(df.index.month.value_counts(), pdf.index.month.value_counts())


def test_missing_values_and_duplicates():
    index = pd.DatetimeIndex(["2024-01-03", None, "2024-01-01", "2024-01-03", None, "2024-02-01", "2024-01-02"],
                             name="when")
    pdf = pd.DataFrame({"x": range(7)}, index=index)
    df = dd.from_pandas(pdf, npartitions=3, sort=False)
    assert df.index.count().compute() == pdf.index.notna().sum()
    assert df.index.nunique().compute() == pdf.index.nunique()
    assert bool(df.index.hasnans.compute()) is pdf.index.hasnans
    assert bool(df.index.is_unique.compute()) is pdf.index.is_unique
    assert bool(df.index.has_duplicates.compute()) is pdf.index.has_duplicates
    assert_eq(df[df.index > "2024-01-01"], pdf[pdf.index > "2024-01-01"])
    assert_eq(df.index.isna(), as_index(pdf.index.isna()))
    assert_eq(df.index.month, pdf.index.month)


@pytest.mark.parametrize("values", [[1, 2, 2, 5, 7, 9, 9, 12], [12, 9, 9, 7, 5, 2, 2, 1], [1, 3, 2, 4, 5, 6, 7, 8],
                                    [1, 2, 3, 4, 4, 3, 9, 10]])
@pytest.mark.parametrize("how", PARTITIONINGS)
def test_monotonic_across_partitions(values, how):
    pdf = pd.DataFrame({"x": range(len(values))}, index=pd.Index(values, name="i"))
    if how == "known" and list(pdf.index) != sorted(pdf.index):
        how = "unknown"  # from_pandas sorts for known divisions
    df = partitioned(pdf, how) if how != "empty-parts" else dd.from_map(
        lambda part: part, [pdf.iloc[:0], pdf.iloc[:3], pdf.iloc[3:3], pdf.iloc[3:]], meta=pdf.iloc[:0])
    assert bool(df.index.is_monotonic_increasing.compute()) is pdf.index.is_monotonic_increasing
    assert bool(df.index.is_monotonic_decreasing.compute()) is pdf.index.is_monotonic_decreasing
    assert bool(df.index.empty.compute()) is pdf.index.empty
    assert df.index.shape[0].compute() == len(pdf.index)


def test_whole_index_methods_are_refused_with_what_to_do(timed):
    _, df = timed
    for name in ("sort_values", "duplicated", "get_loc", "searchsorted"):
        with pytest.raises(NotImplementedError, match=rf"Index\.{name} depends on the whole index.*compute"):
            getattr(df.index, name)
    with pytest.raises(NotImplementedError, match=r"Index\.freq depends on the whole index"):
        df.index.freq  # noqa: B018
    with pytest.raises(NotImplementedError, match=r"Index\.inferred_type"):
        df.index.inferred_type  # noqa: B018


def test_unknown_attribute_names_it_and_the_dtype():
    pdf = pd.DataFrame({"x": range(6)}, index=pd.Index(range(10, 16), name="i"))
    df = dd.from_pandas(pdf, npartitions=2)
    with pytest.raises(AttributeError, match=r"of dtype int64 has no attribute 'month'"):
        df.index.month  # noqa: B018
    with pytest.raises(AttributeError, match=r"no attribute 'not_a_thing'"):
        df.index.not_a_thing  # noqa: B018
    assert not hasattr(df.index, "tz_convert")
    assert "month" in dir(timed_frame().pipe(dd.from_pandas, npartitions=2).index)


def test_pandas_operands_are_refused(timed):
    pdf, df = timed
    with pytest.raises(TypeError, match="from_pandas"):
        df.index > pdf.index  # noqa: B015
    with pytest.raises(TypeError, match="from_pandas"):
        df.index == np.zeros(len(pdf))  # noqa: B015


# ---------------------------------------------------------------------- in plans with other operations


def test_compared_with_a_lazy_scalar(timed):
    pdf, df = timed
    last_day = df.index.max() - pd.Timedelta("1D")
    assert_eq(df[df.index > last_day], pdf[pdf.index > pdf.index.max() - pd.Timedelta("1D")])


def test_row_wise_methods_of_frame(timed):
    pdf, df = timed
    assert_eq(df.index.where(df.index.hour > 12), pdf.index.where(pdf.index.hour > 12))
    assert_eq(df.index.astype("int64"), pdf.index.astype("int64"))
    assert_eq(df.index.rename("t"), pdf.index.rename("t"))
    assert df.index.rename("t").divisions == df.divisions
    assert_eq(df.assign(month=df.index.month), pdf.assign(month=pdf.index.month))


def test_projection_below_an_index_filter_and_parquet(tmp_path):
    timed_frame().to_parquet(tmp_path / "timed.parquet")
    pdf = pd.read_parquet(tmp_path / "timed.parquet")  # as stored (the index's frequency is not)
    df = dd.read_parquet(tmp_path / "timed.parquet")
    assert_eq(df[df.index.day == 1].x, pdf[pdf.index.day == 1].x)
    assert_eq(df[df.index > NOON][["y"]], pdf[pdf.index > NOON][["y"]])
    assert len(df[df.index.month == 4]) == int((pdf.index.month == 4).sum())


def test_index_operations_on_processes():
    pdf = timed_frame()
    df = dd.from_pandas(pdf, npartitions=3)
    assert_eq(df[df.index.hour >= 12], pdf[pdf.index.hour >= 12], scheduler="processes")
    assert_eq(df.index.floor("D").strftime("%d"), pdf.index.floor("D").strftime("%d"), scheduler="processes")


def test_groupby_an_index_field(timed, local_scheduler):
    pdf, df = timed
    assert_eq(df.groupby(df.index.month).x.sum(), pdf.groupby(pdf.index.month).x.sum(), scheduler=local_scheduler)
    assert_eq(df.x.groupby(df.index.hour).count(), pdf.x.groupby(pdf.index.hour).count())
    assert_eq(df.groupby([df.index.day_of_week, df.x % 3]).y.mean(),
              pdf.groupby([pdf.index.day_of_week, pdf.x % 3]).y.mean())
