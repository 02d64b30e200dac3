"""groupby().cumsum() / cumcount() carried across partitions."""

from __future__ import annotations

from shoal.testing import assert_eq


def test_groupby_cumcount_and_cumsum(frames):
    pdf, df = frames
    assert_eq(df.groupby("k").cumcount(), pdf.groupby("k").cumcount())
    assert_eq(df.groupby(["k", "b"]).cumcount(), pdf.groupby(["k", "b"]).cumcount())
    assert_eq(df.groupby("k").i.cumsum(), pdf.groupby("k").i.cumsum())
    assert_eq(df.groupby("k")[["i", "f"]].cumsum(), pdf.groupby("k")[["i", "f"]].cumsum())
    assert_eq(df.groupby("s").f.cumsum(), pdf.groupby("s").f.cumsum())  # null keys give NaN, as in pandas
    assert_eq(df.groupby(df.i % 3).f.cumsum(), pdf.groupby(pdf.i % 3).f.cumsum())


def test_groupby_cumsum_aligns_with_its_frame(frames, scheduler):
    pdf, df = frames
    assert_eq(df.i - df.groupby("k").i.cumsum(), pdf.i - pdf.groupby("k").i.cumsum(), scheduler=scheduler)
