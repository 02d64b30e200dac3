"""Accessors (.str, .dt, .cat) and meta helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as dd
from shoal.collections.dataframe.meta import MetaMismatchError, check_meta, make_meta, meta_nonempty
from shoal.testing import assert_eq


def test_str_accessor(frames):
    pdf, df = frames
    assert_eq(df.s.str.upper(), pdf.s.str.upper())
    assert_eq(df.s.str.len(), pdf.s.str.len())
    assert_eq(df.s.str.contains("an"), pdf.s.str.contains("an"))
    assert_eq(df.s.str.slice(0, 2), pdf.s.str.slice(0, 2))
    assert_eq(df.s.str.replace("a", "A"), pdf.s.str.replace("a", "A"))
    with pytest.raises(AttributeError, match="no attribute"):
        df.s.str.not_a_method  # noqa: B018
    with pytest.raises(AttributeError, match="Can only use .str"):
        df.f.str  # noqa: B018


def test_dt_accessor_with_time_zones(frames):
    pdf, df = frames
    assert_eq(df.t.dt.hour, pdf.t.dt.hour)
    assert_eq(df.t.dt.day_name(), pdf.t.dt.day_name())
    assert_eq(df.t.dt.tz_convert("America/New_York"), pdf.t.dt.tz_convert("America/New_York"))
    assert_eq(df.t.dt.floor("D"), pdf.t.dt.floor("D"))
    assert_eq(df.t.dt.tz_localize(None), pdf.t.dt.tz_localize(None))


def test_cat_accessor(frames):
    pdf, df = frames
    assert_eq(df.c.cat.codes, pdf.c.cat.codes)
    assert_eq(df.c.cat.add_categories(["extra"]), pdf.c.cat.add_categories(["extra"]))


@pytest.mark.parametrize("dtype", ["int64", "uint8", "float32", "bool", "object", "str", "Int64", "boolean",
                                   "Float64", "string", "category", "datetime64[ns]", "datetime64[us, Asia/Tokyo]",
                                   "timedelta64[ns]", pd.CategoricalDtype(["a", "b"], ordered=True),
                                   pd.PeriodDtype("D")])
def test_meta_nonempty_keeps_every_dtype(dtype):
    meta = pd.DataFrame({"x": pd.Series([], dtype=dtype)}, index=pd.DatetimeIndex([], tz="UTC", name="when"))
    fake = meta_nonempty(meta)
    assert len(fake) == 2
    assert fake.dtypes.equals(meta.dtypes) or str(dtype) == "category"
    assert fake.index.dtype == meta.index.dtype and fake.index.name == "when"
    series = meta_nonempty(meta.x)
    assert len(series) == 2 and series.name == "x"


def test_make_meta_forms():
    assert make_meta({"a": "int64", "b": "str"}).dtypes.tolist() == [np.dtype("int64"), pd.StringDtype(na_value=np.nan)]
    assert make_meta([("a", "float64")]).columns.tolist() == ["a"]
    s = make_meta(("n", "Int64"))
    assert isinstance(s, pd.Series) and s.name == "n" and str(s.dtype) == "Int64"
    frame = pd.DataFrame({"a": [1, 2]})
    assert make_meta(frame).columns.tolist() == ["a"] and len(make_meta(frame)) == 0
    assert make_meta(3.5) == 3.5


def test_check_meta_messages():
    meta = make_meta({"a": "int64", "b": "float64"})
    check_meta(pd.DataFrame({"a": [1], "b": [2.0]}), meta)
    with pytest.raises(MetaMismatchError, match=r"column 'b' with dtype str, but the meta says float64.*meta="):
        check_meta(pd.DataFrame({"a": [1], "b": ["x"]}), meta, "f")
    with pytest.raises(MetaMismatchError, match=r"returned columns \['a'\].*meta says \['a', 'b'\]"):
        check_meta(pd.DataFrame({"a": [1]}), meta, "f")
    with pytest.raises(MetaMismatchError, match="returned a Series, but the meta says DataFrame"):
        check_meta(pd.Series([1]), meta, "f")


def test_meta_override_and_compute_time_mismatch():
    pdf = pd.DataFrame({"a": [1, 2, 3, 4]})
    df = dd.from_pandas(pdf, npartitions=2)
    as_float = df.a.map_partitions(lambda s: s * 1.5, meta=("a", "float64"))
    assert as_float.dtype == np.float64
    assert_eq(as_float, pdf.a * 1.5)
    lying = df.a.map_partitions(lambda s: s * 1.5, meta=("a", "int64"))
    with pytest.raises(ValueError, match=r"dtype float64, but the meta says int64.*meta=\('a', 'float64'\)"):
        lying.compute(scheduler="sync")


def test_str_indexing_and_joining_every_string(frames):
    # series.str[i] / str[i:j] were "not subscriptable"; str.cat(sep=) failed building its meta
    pdf, df = frames
    assert_eq(df.s.str[0], pdf.s.str[0])
    assert_eq(df.s.str[1:3], pdf.s.str[1:3])
    assert df.s.str.cat(sep="|").compute() == pdf.s.str.cat(sep="|")
    assert df.s.str.cat(sep=",", na_rep="?").compute() == pdf.s.str.cat(sep=",", na_rep="?")
    assert_eq(df.s.str.cat(df.s, sep="-"), pdf.s.str.cat(pdf.s, sep="-"))


def test_categories_known_from_metadata_or_computed_with_as_known(frames):
    # astype('category') learnt the fake partition's values as categories, so cat.categories gave the
    # categories of every partition concatenated and cat.codes numbered each partition on its own
    pdf, df = frames
    pd.testing.assert_index_equal(df.c.cat.categories, pdf.c.cat.categories)
    assert df.c.cat.known and df.c.cat.ordered == pdf.c.cat.ordered
    assert_eq(df.c.cat.codes, pdf.c.cat.codes)
    made = df.s.astype("category")
    assert not made.cat.known
    with pytest.raises(ValueError, match="as_known"):
        made.cat.categories  # noqa: B018
    with pytest.raises(ValueError, match="as_known"):
        made.cat.codes  # noqa: B018
    known = made.cat.as_known()
    pd.testing.assert_index_equal(known.cat.categories, pdf.s.astype("category").cat.categories)
    assert_eq(known, pdf.s.astype("category"))
    assert_eq(known.cat.codes, pdf.s.astype("category").cat.codes)
    assert_eq(df.astype({"k": "category"}).k.cat.as_known(), pdf.k.astype("category"))


def test_str_get_dummies_refuses_with_a_way_forward(frames):
    # each partition got columns for only its own tokens, which misaligned silently
    pdf, df = frames
    with pytest.raises(NotImplementedError, match="reindex"):
        df.s.str.get_dummies()
    tokens = sorted(pdf.s.dropna().unique())
    hint = df.s.map_partitions(lambda part: part.str.get_dummies().reindex(columns=tokens, fill_value=0))
    assert_eq(hint, pdf.s.str.get_dummies().reindex(columns=tokens, fill_value=0))
