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


def test_groupby_cumprod_cummax_cummin(frames):
    # were missing: the carry is the earlier partitions' product / maximum / minimum per group
    import pytest

    pdf, df = frames
    pdf = pdf.assign(i=pdf.i % 3 + 1, f=pdf.f.clip(-1.2, 1.2))
    df = df.assign(i=df.i % 3 + 1, f=df.f.clip(-1.2, 1.2))
    for method in ["cumprod", "cummax", "cummin"]:
        assert_eq(getattr(df.groupby("k").i, method)(), getattr(pdf.groupby("k").i, method)())
        assert_eq(getattr(df.groupby("k")[["i", "f"]], method)(), getattr(pdf.groupby("k")[["i", "f"]], method)())
        assert_eq(getattr(df.groupby(["k", "b"]).f, method)(), getattr(pdf.groupby(["k", "b"]).f, method)())
        assert_eq(getattr(df.groupby("s").n, method)(), getattr(pdf.groupby("s").n, method)())
    with pytest.raises(TypeError):
        df.groupby("k").s.cumprod()
