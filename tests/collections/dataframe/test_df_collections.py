"""Collections: metadata, construction, element-wise operations, selection, head/tail, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as dd
from shoal.testing import assert_eq


def test_from_pandas_known_divisions(pdf):
    df = dd.from_pandas(pdf, npartitions=4)
    assert df.known_divisions and df.npartitions == 4
    assert df.divisions[0] == pdf.index.min() and df.divisions[-1] == pdf.index.max()
    parts = [df.partitions[i].compute() for i in range(df.npartitions)]
    for i, part in enumerate(parts):  # every partition lies within its divisions
        assert df.divisions[i] <= part.index.min() and part.index.max() <= df.divisions[i + 1]
    assert_eq(df, pdf)


def test_from_pandas_sorts_and_chunksize():
    pdf = pd.DataFrame({"x": range(10)}, index=[9, 3, 5, 1, 0, 2, 8, 7, 6, 4])
    df = dd.from_pandas(pdf, chunksize=3)
    assert df.npartitions == 4 and df.known_divisions
    assert_eq(df, pdf.sort_index())
    unsorted = dd.from_pandas(pdf, npartitions=2, sort=False)
    assert not unsorted.known_divisions and unsorted.divisions == (None, None, None)
    assert_eq(unsorted, pdf)


def test_metadata_without_computing(frames):
    pdf, df = frames
    assert list(df.columns) == list(pdf.columns)
    assert df.dtypes.equals(pdf.dtypes)
    assert df.s.name == "s" and df.s.dtype == pdf.s.dtype
    assert df.index.name == "idx"
    assert df.__shoal_scheduler__ == "threads"
    keys = df.__shoal_keys__()
    assert keys == [(df._name, i) for i in range(df.npartitions)] or all(k[1] == i for i, k in enumerate(keys))


def test_repr_shows_structure_without_computing(pdf):
    df = dd.from_pandas(pdf, npartitions=2)
    text = repr(df)
    assert "npartitions=2" in text and "Europe/Paris" in text and "category" in text
    html = df._repr_html_()
    assert "<table" in html and "npartitions=2" in html
    assert "dtype=float64" in repr(df.index.to_frame if False else dd.from_pandas(pdf.f.to_frame(), 2).f) or "f" in repr(df.f)


def test_from_dict_from_delayed_from_map(pdf):
    from shoal import delayed

    assert_eq(dd.from_dict({"a": [1, 2, 3], "b": [4.0, 5.0, 6.0]}, npartitions=2),
              pd.DataFrame({"a": [1, 2, 3], "b": [4.0, 5.0, 6.0]}))
    parts = [pdf.iloc[:20], pdf.iloc[20:45], pdf.iloc[45:]]
    from_delayed = dd.from_delayed([delayed(p) for p in parts])
    assert from_delayed.npartitions == 3
    assert_eq(from_delayed, pdf)
    from_map = dd.from_map(lambda a, b: pdf.iloc[a:b], [0, 30], [30, 60])
    assert_eq(from_map, pdf)


def test_column_selection(frames):
    pdf, df = frames
    assert_eq(df["i"], pdf["i"])
    assert_eq(df[["s", "f"]], pdf[["s", "f"]])
    assert_eq(df.t, pdf.t)
    assert_eq(df.index, pdf.index)


def test_missing_column_fails_when_built(pdf):
    df = dd.from_pandas(pdf, npartitions=2)
    with pytest.raises(KeyError, match=r"'nope' not found; the available columns are \['i', 'f'"):
        df["nope"]
    with pytest.raises(KeyError, match="available columns"):
        df[["i", "nope"]]
    with pytest.raises(AttributeError, match="columns are"):
        df.nope  # noqa: B018
    with pytest.raises(Exception, match="nope"):
        df.query("nope > 1")
    with pytest.raises(KeyError, match="available columns"):
        df.drop(columns=["nope"])


def test_row_wise_methods(frames):
    pdf, df = frames
    assert_eq(df.assign(z=df.i * 2, w=1.5), pdf.assign(z=pdf.i * 2, w=1.5))
    assert_eq(df.rename(columns={"i": "ii"}), pdf.rename(columns={"i": "ii"}))
    assert_eq(df.drop(columns=["s", "t"]), pdf.drop(columns=["s", "t"]))
    assert_eq(df.astype({"i": "float64", "k": "int32"}), pdf.astype({"i": "float64", "k": "int32"}))
    assert_eq(df.f.fillna(0.5), pdf.f.fillna(0.5))
    assert_eq(df.n.fillna(7), pdf.n.fillna(7))
    assert_eq(df.dropna(), pdf.dropna())
    assert_eq(df.isna(), pdf.isna())
    assert_eq(df.f.notna(), pdf.f.notna())
    assert_eq(df.f.where(df.f > 0), pdf.f.where(pdf.f > 0))
    assert_eq(df.f.mask(df.i > 50, -1.0), pdf.f.mask(pdf.i > 50, -1.0))
    assert_eq(df[["i", "f"]].where(df[["i", "f"]] > 10, 0), pdf[["i", "f"]].where(pdf[["i", "f"]] > 10, 0))
    assert_eq(df.i.isin([1, 2, 3]), pdf.i.isin([1, 2, 3]))
    assert_eq(df.f.abs().round(2), pdf.f.abs().round(2))


def test_arithmetic_and_comparisons(frames):
    pdf, df = frames
    assert_eq(df.i + df.f * 2 - 1, pdf.i + pdf.f * 2 - 1)
    assert_eq(1 / (df.i + 1), 1 / (pdf.i + 1))
    assert_eq(df.n * 3 + df.i, pdf.n * 3 + pdf.i)
    assert_eq(df.i // 7 % 3, pdf.i // 7 % 3)
    assert_eq(-df.f, -pdf.f)
    assert_eq((df.i > 50) & ~df.b | (df.f <= 0), (pdf.i > 50) & ~pdf.b | (pdf.f <= 0))
    assert_eq(df.s == "apple", pdf.s == "apple")
    assert_eq(df.t > pd.Timestamp("2021-04-01", tz="UTC"), pdf.t > pd.Timestamp("2021-04-01", tz="UTC"))
    assert_eq(df[["i", "f"]] * 2, pdf[["i", "f"]] * 2)
    assert_eq(df.i.add(df.k), pdf.i.add(pdf.k))


def test_scalar_broadcasts_to_partitions(frames):
    pdf, df = frames
    assert_eq(df.f - df.f.mean(), pdf.f - pdf.f.mean())


def test_mismatched_partitioning_errors():
    a = dd.from_pandas(pd.DataFrame({"x": range(10)}), npartitions=2)
    b = dd.from_pandas(pd.DataFrame({"x": range(10)}), npartitions=3)
    unknown = dd.from_pandas(pd.DataFrame({"x": range(10)}), npartitions=3, sort=False)
    with pytest.raises(ValueError, match="set_index"):
        a.x + unknown.x
    with pytest.raises(ValueError, match="known divisions"):
        a[unknown.x > 2]
    # known divisions that differ are aligned on their union (see test_known_divisions_are_aligned)
    assert_eq(a.x + b.x, pd.Series(range(0, 20, 2), name="x"))
    # equal known divisions from different sources align
    c = dd.from_pandas(pd.DataFrame({"y": range(10)}), npartitions=2)
    assert_eq(a.x + c.y, pd.Series(range(0, 20, 2)))


def test_boolean_filter_and_query(frames):
    pdf, df = frames
    assert_eq(df[df.i > 50], pdf[pdf.i > 50])
    assert_eq(df[(df.s == "apple") & df.b][["i", "s"]], pdf[(pdf.s == "apple") & pdf.b][["i", "s"]])
    assert_eq(df.f[df.f > 0], pdf.f[pdf.f > 0])
    assert_eq(df.query("i > 30 and k == 2"), pdf.query("i > 30 and k == 2"))


def test_map_apply_map_partitions(frames):
    pdf, df = frames
    assert_eq(df.i.map(lambda x: x * 10), pdf.i.map(lambda x: x * 10))
    assert_eq(df.k.map({0: "zero", 1: "one"}), pdf.k.map({0: "zero", 1: "one"}))
    assert_eq(df.apply(lambda r: r.i + r.k, axis=1, meta=(None, "int64")),
              pdf.apply(lambda r: r.i + r.k, axis=1))
    assert_eq(df.map_partitions(lambda p: p.assign(z=p.i.cumsum() * 0 + len(p))),
              pd.concat([p.assign(z=p.i.cumsum() * 0 + len(p)) for p in df.to_delayed() for p in [p.compute()]]))
    assert_eq(dd.map_partitions(lambda a, b: a + b, df.i, df.k), pdf.i + pdf.k)


def test_map_partitions_meta_mismatch_names_column_and_dtypes(pdf):
    df = dd.from_pandas(pdf, npartitions=2)
    wrong = df.map_partitions(lambda p: p[["i"]].astype("float64"), meta={"i": "int64"})
    with pytest.raises(ValueError, match=r"column 'i' with dtype float64, but the meta says int64.*meta="):
        wrong.compute(scheduler="sync")


def test_map_partitions_inference_failure_suggests_meta(pdf):
    df = dd.from_pandas(pdf, npartitions=2)

    def fails_on_fake(part):
        if part.i.iloc[0] == 1:  # the fake partition
            raise RuntimeError("no")
        return part

    with pytest.raises(ValueError, match="Pass meta="):
        df.map_partitions(fails_on_fake)
    assert_eq(df.map_partitions(fails_on_fake, meta=pdf.iloc[:0]), pdf)


def test_partitions(frames):
    pdf, df = frames
    parts = [df.partitions[i].compute() for i in range(df.npartitions)]
    assert_eq(df.partitions[1:], pd.concat([p for p in parts[1:] if len(p)] or parts[1:2]))
    assert_eq(df.partitions[-1], parts[-1])
    assert_eq(df.partitions[[0, 2]], pd.concat([p for p in (parts[0], parts[2]) if len(p)] or [parts[0]]))
    with pytest.raises(IndexError, match="out of range"):
        df.partitions[99]


def test_head_tail_len_shape(frames, local_scheduler):
    pdf, df = frames
    pd.testing.assert_frame_equal(df.head(3), pdf.head(3))
    pd.testing.assert_frame_equal(df.head(40), pdf.head(40))  # more than the first partition holds
    pd.testing.assert_frame_equal(df.tail(4), pdf.tail(4))
    pd.testing.assert_frame_equal(df.tail(45), pdf.tail(45))
    pd.testing.assert_series_equal(df.f.head(2), pdf.f.head(2))
    assert len(df) == len(pdf)
    assert df.shape[1] == pdf.shape[1] and int(df.shape[0].compute()) == pdf.shape[0]
    pd.testing.assert_frame_equal(df.head(100), pdf)  # more rows than exist


def test_schedulers_agree(scheduler, pdf):
    df = dd.from_pandas(pdf, npartitions=3)
    result = df[df.i > 10].assign(z=df.f.fillna(0) * 2)
    assert_eq(result, pdf[pdf.i > 10].assign(z=pdf.f.fillna(0) * 2), scheduler=scheduler)


def test_persist_keeps_values(pdf):
    df = dd.from_pandas(pdf, npartitions=3)
    persisted = (df.i + 1).persist(scheduler="sync")
    assert persisted.npartitions == 3 and persisted.divisions == df.divisions
    assert_eq(persisted, pdf.i + 1)


def test_setitem_and_select_dtypes(pdf):
    df = dd.from_pandas(pdf, npartitions=2)
    df["z"] = df.i + 1
    expected = pdf.copy()
    expected["z"] = expected.i + 1
    assert_eq(df, expected)
    assert_eq(df.select_dtypes("number"), expected.select_dtypes("number"))


def test_eval(frames):
    pdf, df = frames
    assert_eq(df.eval("i * 2 + k"), pdf.eval("i * 2 + k"))
    assert_eq(df.eval("z = i - k"), pdf.eval("z = i - k"))
    with pytest.raises(Exception, match="nope"):
        df.eval("nope + 1")


def test_index_collection(frames):
    pdf, df = frames
    pd.testing.assert_index_equal(df.index.head(7), pdf.index[:7])
    pd.testing.assert_index_equal(df.index.tail(3), pdf.index[-3:])
    assert len(df.index) == len(pdf)
    assert_eq(df.index.max(), pdf.index.max())
    assert_eq(df.head(5, npartitions=-1), pdf.head(5))


def test_categoricals_made_per_partition_concatenate_as_categoricals(frames):
    pdf, df = frames
    assert_eq(df.s.astype("category"), pdf.s.astype("category"))
    assert_eq(df.astype({"k": "category"}), pdf.astype({"k": "category"}))


def test_unique_size_and_columns_setter(frames):
    pdf, df = frames
    assert sorted(df.k.unique().compute()) == sorted(pdf.k.unique())
    assert int(df.size.compute()) == pdf.size
    renamed = df[["i", "f"]].copy()
    renamed.columns = ["x", "y"]
    assert list(renamed.columns) == ["x", "y"]
    assert_eq(renamed, pdf[["i", "f"]].set_axis(["x", "y"], axis=1))
    with pytest.raises(ValueError, match="3 names given for 2 columns"):
        renamed.columns = ["a", "b", "c"]


def test_from_pandas_never_splits_equal_labels_and_handles_empty():
    pdf = pd.DataFrame({"x": range(12)}, index=[1, 1, 1, 1, 1, 2, 2, 3, 3, 3, 3, 4])
    df = dd.from_pandas(pdf, npartitions=4)
    parts = [df.partitions[i].compute() for i in range(df.npartitions)]
    labels = [set(p.index) for p in parts]
    for a in range(len(labels)):
        for b in range(a + 1, len(labels)):
            assert not labels[a] & labels[b]
    assert_eq(df, pdf)
    assert_eq(df.loc[3], pdf.loc[[3]])
    empty = dd.from_pandas(pdf.iloc[:0], npartitions=3)
    assert empty.npartitions == 1 and len(empty) == 0
    assert_eq(empty.x.sum(), 0)


def _partition_mean(part):
    return part.a.mean()


def test_map_partitions_returning_a_scalar_gives_one_value_per_partition(scheduler):
    pdf = pd.DataFrame({"a": np.arange(10.0)})
    ddf = dd.from_pandas(pdf, npartitions=3)
    parts = [pdf.iloc[a:b] for a, b in zip(ddf.divisions[:-1], [*ddf.divisions[1:-1], len(pdf)])]
    lengths = ddf.map_partitions(len)
    assert isinstance(lengths, dd.Series) and lengths.npartitions == 3
    expected = pd.Series([len(p) for p in parts], index=[0] * 3)
    assert_eq(lengths, expected, scheduler=scheduler)
    assert int(lengths.sum().compute(scheduler=scheduler)) == len(pdf)
    means = ddf.map_partitions(_partition_mean).compute(scheduler=scheduler)
    pd.testing.assert_series_equal(means, pd.Series([p.a.mean() for p in parts], index=[0] * 3))


@pytest.mark.parametrize("name", ["add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "radd", "rsub", "rmul",
                                  "rdiv", "rtruediv", "rfloordiv", "rmod", "rpow", "subtract", "multiply", "divide"])
def test_named_arithmetic_takes_fill_value_axis_and_reflected_forms(frames, name):
    # radd/rsub/... were missing and add(other, fill_value=) / df.sub(series, axis=0) were refused
    pdf, df = frames
    num, num_pd = df[["f", "k"]], pdf[["f", "k"]]
    assert_eq(getattr(df.f, name)(df.k), getattr(pdf.f, name)(pdf.k))
    assert_eq(getattr(df.f, name)(df.k, fill_value=2), getattr(pdf.f, name)(pdf.k, fill_value=2))
    assert_eq(getattr(df.f, name)(3), getattr(pdf.f, name)(3))
    assert_eq(getattr(num, name)(df.k, axis=0), getattr(num_pd, name)(pdf.k, axis=0))
    assert_eq(getattr(num, name)(num, fill_value=1), getattr(num_pd, name)(num_pd, fill_value=1))
    row = pd.Series({"f": 2.0, "k": 3})
    assert_eq(getattr(num, name)(row, axis="columns"), getattr(num_pd, name)(row, axis="columns"))
    with pytest.raises(TypeError, match="from_pandas"):
        getattr(num, name)(pdf.k, axis=0)


def test_named_comparisons_take_fill_value_and_axis(frames):
    pdf, df = frames
    for name in ["lt", "le", "gt", "ge", "eq", "ne"]:
        assert_eq(getattr(df.f, name)(df.k, fill_value=0), getattr(pdf.f, name)(pdf.k, fill_value=0))
        assert_eq(getattr(df[["f", "k"]], name)(df.i, axis=0), getattr(pdf[["f", "k"]], name)(pdf.i, axis=0))


def test_an_attribute_error_while_inferring_meta_is_reported_as_itself(pdf):
    # an AttributeError inside the _meta property fell through to __getattr__, which reported
    # "MapPartitions expression has no attribute '_meta'" instead of the user's error
    df = dd.from_pandas(pdf, npartitions=2)
    with pytest.raises(ValueError, match=r"AttributeError: 'DataFrame' object has no attribute 'not_there'.*meta="):
        df.map_partitions(lambda part: part.not_there)
    with pytest.raises(ValueError, match=r"AttributeError: .*has no attribute 'not_there'"):
        df.i.map(lambda value: value.not_there)


def test_a_series_result_takes_the_name_its_meta_gives(frames):
    # apply(axis=1, meta=("z", ...)) computed an unnamed Series while its meta said "z"
    pdf, df = frames
    result = df.apply(lambda row: row.i + row.k, axis=1, meta=("z", "int64"))
    assert result.name == "z"
    assert_eq(result, pdf.apply(lambda row: row.i + row.k, axis=1).rename("z"))
    assert_eq(df.i.apply(lambda v: v * 2, meta=("doubled", "int64")), (pdf.i * 2).rename("doubled"))
    assert_eq(df.map_partitions(lambda part: part.i + 1, meta=("j", "int64")), (pdf.i + 1).rename("j"))


def test_reset_index_numbers_every_partition_from_zero(frames):
    # was missing; as in Dask, the new index restarts in every partition and divisions become unknown
    pdf, df = frames
    reset = df.reset_index()
    assert not reset.known_divisions and list(reset.columns) == list(pdf.reset_index().columns)
    pd.testing.assert_frame_equal(reset.compute().reset_index(drop=True), pdf.reset_index())
    parts = [df.partitions[i].compute() for i in range(df.npartitions)]
    expected_index = [i for part in parts for i in range(len(part))]
    assert df.reset_index(drop=True).compute().index.tolist() == expected_index
    assert_eq(df.partitions[1].reset_index(), df.partitions[1].compute().reset_index())
    assert_eq(df.f.partitions[1].reset_index(name="value"), df.f.partitions[1].compute().reset_index(name="value"))
    assert_eq(df.f.partitions[1].reset_index(drop=True), df.f.partitions[1].compute().reset_index(drop=True))


LIMIT = 40  # read by the query below through @LIMIT, from this module's globals


def test_query_and_eval_see_the_callers_variables(frames):
    # @name was looked up when a task ran, far from the caller, and was never found
    pdf, df = frames
    low = 10
    assert_eq(df.query("i > @low and i < @LIMIT"), pdf.query("i > @low and i < @LIMIT"))
    assert_eq(df.eval("i + @low"), pdf.eval("i + @low"))
    assert_eq(df.eval("z = k * @low"), pdf.eval("z = k * @low"))
    assert_eq(df.query("i > @x", local_dict={"x": 50}), pdf.query("i > @x", local_dict={"x": 50}))
    with pytest.raises(Exception, match="not_defined_anywhere"):
        df.query("i > @not_defined_anywhere")


def test_known_divisions_are_aligned(pdf):
    # frames with different known divisions were refused; as in Dask they are moved to the union of
    # their divisions for element-wise work, and an assigned value or a mask to the frame's divisions
    df = dd.from_pandas(pdf, npartitions=4)
    other = pdf.f.iloc[5:50] * 10
    other_df = dd.from_pandas(other, npartitions=3)
    assert tuple(other_df.divisions) != tuple(df.divisions)
    assert_eq(df.f + other_df, pdf.f + other)
    assert_eq(df.i.add(other_df, fill_value=0), pdf.i.add(other, fill_value=0))
    assert_eq(df.f.fillna(other_df), pdf.f.fillna(other))
    assert_eq(df.f.where(other_df > 0, -1.0), pdf.f.where(other > 0, -1.0))
    assigned = df.assign(g=other_df)
    assert assigned.divisions == df.divisions
    assert_eq(assigned, pdf.assign(g=other))
    mask = dd.from_pandas(pdf.i > 40, npartitions=5)
    assert_eq(df[mask], pdf[pdf.i > 40])
    assert_eq(df.f[mask], pdf.f[pdf.i > 40])


def test_rename_takes_a_mapper_with_axis(frames):
    # rename(str.upper, axis=1) passed the mapper as columns= together with axis and pandas refused it
    pdf, df = frames
    assert_eq(df.rename(str.upper, axis=1), pdf.rename(str.upper, axis=1))
    assert_eq(df.rename({"i": "I"}, axis="columns"), pdf.rename({"i": "I"}, axis="columns"))
    assert_eq(df.rename(columns={"i": "I"}), pdf.rename(columns={"i": "I"}))
    assert_eq(df.rename(lambda label: label + 1), pdf.rename(lambda label: label + 1))  # the index, by default


def test_operations_that_would_be_wrong_per_partition_say_so(frames):
    # dropna(axis=1) and fillna(limit=) gave silently different answers partition by partition
    pdf, df = frames
    with pytest.raises(NotImplementedError, match="isna"):
        df.dropna(axis=1)
    with pytest.raises(NotImplementedError, match="map_partitions"):
        df.fillna(0, limit=1)
    with pytest.raises(NotImplementedError, match="filter them out"):
        df.drop(index=[0, 2])
    labels = [0, 2, 40]
    hint = df[df.map_partitions(lambda part: ~part.index.to_series().isin(labels))]
    assert_eq(hint, pdf.drop(index=labels))
    keep = [c for c, missing in df.isna().any().compute().items() if not missing]
    assert_eq(df[keep], pdf.dropna(axis=1))


def test_head_and_tail_of_a_negative_count_and_sample_by_count(frames):
    # head(-n)/tail(-n) gave no rows (pandas: all but the last/first n); sample(n=) was an unexpected keyword
    pdf, df = frames
    pd.testing.assert_frame_equal(df.head(-7), pdf.head(-7))
    pd.testing.assert_frame_equal(df.tail(-7), pdf.tail(-7))
    pd.testing.assert_series_equal(df.f.head(-100), pdf.f.head(-100))
    with pytest.raises(ValueError, match="compute=True"):
        df.head(-2, compute=False)
    with pytest.raises(ValueError, match="frac="):
        df.sample(n=3)
