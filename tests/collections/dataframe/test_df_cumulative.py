"""cumsum/cumprod/cummin/cummax carried across partitions."""

from __future__ import annotations

import pytest

from shoal.testing import assert_eq


@pytest.mark.parametrize("method", ["cumsum", "cumprod", "cummax", "cummin"])
def test_cumulative_series_and_frames(frames, method):
    pdf, df = frames
    if method == "cumprod":
        pdf = pdf.assign(f=pdf.f.clip(-1.1, 1.1), i=pdf.i % 2 + 1)
        df = df.assign(f=df.f.clip(-1.1, 1.1), i=df.i % 2 + 1)
    assert_eq(getattr(df.f, method)(), getattr(pdf.f, method)())  # NaN stay where they are
    assert_eq(getattr(df.i, method)(), getattr(pdf.i, method)())
    assert_eq(getattr(df[["i", "f"]], method)(), getattr(pdf[["i", "f"]], method)())


def test_cumulative_keeps_partitioning(frames, scheduler):
    pdf, df = frames
    assert_eq(df.i - df.i.cumsum(), pdf.i - pdf.i.cumsum(), scheduler=scheduler)


@pytest.mark.parametrize("method", ["cumsum", "cumprod", "cummax", "cummin"])
def test_skipna_false_blanks_every_row_after_a_missing_value(frames, method):
    # was a NotImplementedError; the NaN must reach the partitions after its own
    pdf, df = frames
    pdf = pdf.assign(f=pdf.f.clip(-1.1, 1.1), i=pdf.i % 2 + 1)
    df = df.assign(f=df.f.clip(-1.1, 1.1), i=df.i % 2 + 1)
    assert_eq(getattr(df.f, method)(skipna=False), getattr(pdf.f, method)(skipna=False))
    assert_eq(getattr(df[["i", "f", "n"]], method)(axis=0, skipna=False),
              getattr(pdf[["i", "f", "n"]], method)(axis=0, skipna=False))


@pytest.mark.parametrize("method", ["cumsum", "cumprod", "cummax", "cummin"])
def test_axis_1_accumulates_along_each_row(frames, method):
    pdf, df = frames
    columns = ["i", "f", "k"]
    assert_eq(getattr(df[columns], method)(axis=1), getattr(pdf[columns], method)(axis=1))
    assert_eq(getattr(df[columns], method)(axis="columns", skipna=False),
              getattr(pdf[columns], method)(axis="columns", skipna=False))
    with pytest.raises(ValueError, match="no columns"):
        getattr(df.f, method)(axis=1)
