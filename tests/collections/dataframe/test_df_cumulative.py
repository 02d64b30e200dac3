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
