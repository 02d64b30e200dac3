"""Groupby aggregations against pandas (sort=True, so group order is pandas' order)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as dd
from shoal.testing import assert_eq

SIMPLE = ["sum", "mean", "count", "min", "max", "std", "var", "first", "last", "nunique", "prod"]


@pytest.mark.parametrize("func", SIMPLE)
def test_named_methods_on_numeric_columns(frames, func):
    pdf, df = frames
    cols = ["i", "f", "n"]
    if func == "prod":
        pdf = pdf.assign(i=pdf.i % 3 + 1)
        df = df.assign(i=df.i % 3 + 1)
        cols = ["i"]
    expected = getattr(pdf.groupby("k")[cols], func)()
    assert_eq(getattr(df.groupby("k")[cols], func)(split_every=2), expected)


@pytest.mark.parametrize("func", ["count", "min", "max", "first", "last", "nunique"])
def test_methods_on_strings_categoricals_datetimes(frames, func):
    pdf, df = frames
    cols = ["s", "t"] if func not in ("count", "nunique", "first", "last") else ["s", "t", "c"]
    assert_eq(getattr(df.groupby("k")[cols], func)(), getattr(pdf.groupby("k")[cols], func)())


def test_size_and_series_groupby(frames):
    pdf, df = frames
    assert_eq(df.groupby("k").size(), pdf.groupby("k").size())
    assert_eq(df.groupby("k").f.sum(), pdf.groupby("k").f.sum())
    assert_eq(df.groupby("k")["n"].mean(), pdf.groupby("k")["n"].mean())
    assert_eq(df.f.groupby(df.k).std(), pdf.f.groupby(pdf.k).std())


def test_keys_lists_series_and_categoricals(frames):
    pdf, df = frames
    assert_eq(df.groupby(["k", "b"]).f.mean(), pdf.groupby(["k", "b"]).f.mean())
    assert_eq(df.groupby(df.i % 5).f.max(), pdf.groupby(pdf.i % 5).f.max())
    assert_eq(df.groupby("c").i.sum(), pdf.groupby("c").i.sum())
    assert_eq(df.groupby(["c", "k"]).agg({"f": "mean"}), pdf.groupby(["c", "k"]).agg({"f": "mean"}))
    assert_eq(df.groupby("s").i.count(), pdf.groupby("s").i.count())  # string keys with nulls dropped


def test_dropna_false_keeps_null_keys(frames):
    pdf, df = frames
    assert_eq(df.groupby("s", dropna=False).i.sum(), pdf.groupby("s", dropna=False).i.sum())


def test_agg_forms(frames):
    pdf, df = frames
    assert_eq(df.groupby("k")[["i", "f"]].agg(["sum", "mean", "count"]),
              pdf.groupby("k")[["i", "f"]].agg(["sum", "mean", "count"]))
    assert_eq(df.groupby("k").agg({"i": ["min", "max"], "f": "std", "s": "nunique"}),
              pdf.groupby("k").agg({"i": ["min", "max"], "f": "std", "s": "nunique"}))
    assert_eq(df.groupby("k").agg({"i": "sum", "f": "var"}), pdf.groupby("k").agg({"i": "sum", "f": "var"}))
    assert_eq(df.groupby("k").agg(total=("i", "sum"), spread=("f", "std"), first=("s", "first")),
              pdf.groupby("k").agg(total=("i", "sum"), spread=("f", "std"), first=("s", "first")))
    assert_eq(df.groupby("k").f.agg(["min", "mean"]), pdf.groupby("k").f.agg(["min", "mean"]))
    assert_eq(df.groupby("k").f.agg("sum"), pdf.groupby("k").f.agg("sum"))


def test_var_is_numerically_stable_per_group():
    rng = np.random.default_rng(5)
    pdf = pd.DataFrame({"g": rng.integers(0, 3, 3000), "x": 1e9 + rng.normal(size=3000)})
    df = dd.from_pandas(pdf, npartitions=9)
    result = df.groupby("g").x.var(split_every=2).compute()
    expected = pdf.groupby("g").x.var()
    np.testing.assert_allclose(result.values, expected.values, rtol=1e-6)


def test_split_every_tree_and_one_partition(pdf):
    df = dd.from_pandas(pdf, npartitions=8)
    graph = dict(df.groupby("k").i.sum(split_every=2).__shoal_graph__())
    assert sum("-combine-" in k[0] for k in graph if isinstance(k, tuple)) == 4 + 2
    assert_eq(dd.from_pandas(pdf, npartitions=1).groupby("k").i.mean(), pdf.groupby("k").i.mean())


def test_unsupported_aggregation_and_missing_key(pdf):
    df = dd.from_pandas(pdf, npartitions=2)
    # functions the tree cannot split run on whole groups after a shuffle, failing where pandas fails
    assert_eq(df.groupby("k")[["i", "f"]].agg("median"), pdf.groupby("k")[["i", "f"]].agg("median"))
    with pytest.raises(TypeError, match="median"):
        df.groupby("k").agg("median")  # the string column
    with pytest.raises(KeyError, match="available columns"):
        df.groupby("nope")
    with pytest.raises(KeyError, match="available columns"):
        df.groupby("k")["nope"]


def test_groupby_on_every_scheduler(scheduler, pdf):
    df = dd.from_pandas(pdf, npartitions=4)
    assert_eq(df.groupby("k").agg({"f": ["mean", "std"], "i": "sum"}),
              pdf.groupby("k").agg({"f": ["mean", "std"], "i": "sum"}), scheduler=scheduler)


def test_integer_key_shortcut_matches_pandas_including_huge_and_sparse_keys():
    rng = np.random.default_rng(9)
    pdf = pd.DataFrame({"k": rng.integers(-50, 50, 500), "x": rng.integers(0, 10, 500),
                        "y": rng.normal(size=500), "big": rng.integers(2**60, 2**61, 500)})
    pdf.loc[::4, "y"] = np.nan
    sparse = pdf.assign(k=pdf.k * 10**9)  # a key range far larger than the rows: the hashing path
    for frame in (pdf, sparse):
        df = dd.from_pandas(frame, npartitions=5)
        assert_eq(df.groupby("k").agg({"x": ["sum", "mean", "count"], "y": ["sum", "count", "mean"]}),
                  frame.groupby("k").agg({"x": ["sum", "mean", "count"], "y": ["sum", "count", "mean"]}))
        assert_eq(df.groupby("k").big.sum(), frame.groupby("k").big.sum())  # exact, too big for float64
        assert_eq(df.groupby("k").size(), frame.groupby("k").size())


def test_function_keys_map_the_index(frames):
    pdf, df = frames
    assert_eq(df.groupby(lambda label: label % 3).f.sum(), pdf.groupby(lambda label: label % 3).f.sum())
    assert_eq(df.groupby([lambda label: label % 2, "k"]).i.max(), pdf.groupby([lambda label: label % 2, "k"]).i.max())


@pytest.mark.parametrize("method", ["sum", "mean", "max", "median", "cumsum", "size", "nunique", "var"])
def test_grouping_an_unnamed_series_gives_unnamed_results(method):
    pdf = pd.DataFrame({"a": [1.0, 2, 3, 4, 5, 6], "b": [1.0, 1, 2, 2, 3, 3], "k": [1, 1, 2, 2, 1, 2]})
    ddf = dd.from_pandas(pdf, npartitions=2)
    expected = getattr((pdf.a / pdf.b).groupby(pdf.k), method)()
    result = getattr((ddf.a / ddf.b).groupby(ddf.k), method)()
    assert expected.name is None and result.name is None
    assert_eq(result, expected)
    named = getattr(ddf.a.groupby(ddf.k), method)()
    assert named.name == getattr(pdf.a.groupby(pdf.k), method)().name == "a"


@pytest.mark.parametrize("func", ["sum", "mean", "min", "max", "prod", "std", "var"])
def test_numeric_only_leaves_out_other_columns(frames, func):
    # numeric_only=True was ignored: the string and datetime columns made the aggregation fail
    pdf, df = frames
    cols = ["k", "i", "f", "n", "b", "s", "t"]
    if func == "prod":
        pdf, df = pdf.assign(i=pdf.i % 3 + 1), df.assign(i=df.i % 3 + 1)
    assert_eq(getattr(df[cols].groupby("k"), func)(numeric_only=True),
              getattr(pdf[cols].groupby("k"), func)(numeric_only=True))


def test_as_index_false_gives_the_keys_as_columns(frames):
    pdf, df = frames
    assert_eq(df.groupby("k", as_index=False).f.sum(), pdf.groupby("k", as_index=False).f.sum())
    assert_eq(df.groupby(["k", "b"], as_index=False).agg({"f": "mean", "i": "max"}),
              pdf.groupby(["k", "b"], as_index=False).agg({"f": "mean", "i": "max"}))
    assert_eq(df.groupby("k", as_index=False).agg(total=("i", "sum")),
              pdf.groupby("k", as_index=False).agg(total=("i", "sum")))
    assert_eq(df.groupby("k", as_index=False).size(), pdf.groupby("k", as_index=False).size())
    assert_eq(df.groupby("k", as_index=False).i.agg(["sum", "min"]),
              pdf.groupby("k", as_index=False).i.agg(["sum", "min"]))
    with pytest.raises(NotImplementedError, match="as_index=True"):
        df.groupby(df.k, as_index=False)


def test_grouping_by_the_index_level_or_name(pdf):
    # pandas groups by level=0 or by the index's name; both were refused
    pdf = pdf.assign(i=pdf.i % 4).set_index("i").sort_index(kind="stable")  # from_pandas sorts the index
    df = dd.from_pandas(pdf, npartitions=3)
    assert_eq(df.groupby(level=0).f.sum(), pdf.groupby(level=0).f.sum())
    assert_eq(df.groupby(level="i")[["f", "k"]].mean(), pdf.groupby(level="i")[["f", "k"]].mean())
    assert_eq(df.groupby("i").f.max(), pdf.groupby("i").f.max())
    assert_eq(df.groupby(["i", "k"]).f.count(), pdf.groupby(["i", "k"]).f.count())
    assert_eq(df.f.groupby(level=0).std(), pdf.f.groupby(level=0).std())
    assert_eq(df.groupby(level=0).f.cumsum(), pdf.groupby(level=0).f.cumsum())
    with pytest.raises(KeyError, match="one level"):
        df.groupby(level=1)
    with pytest.raises(TypeError, match="by=|level="):
        df.groupby()


def test_agg_with_functions_the_tree_cannot_split(frames):
    # a lambda (or median) in agg was a NotImplementedError; it now runs on whole groups after a shuffle
    pdf, df = frames
    spread = lambda values: values.max() - values.min()  # noqa: E731
    assert_eq(df.groupby("k").f.agg(spread), pdf.groupby("k").f.agg(spread))
    assert_eq(df.groupby("k").f.agg(["sum", "median"]), pdf.groupby("k").f.agg(["sum", "median"]))
    assert_eq(df.groupby("k").agg(r=("f", spread), total=("i", "sum")),
              pdf.groupby("k").agg(r=("f", spread), total=("i", "sum")))
    assert_eq(df.groupby("k", as_index=False).f.agg(spread), pdf.groupby("k", as_index=False).f.agg(spread))


def test_sort_false_keeps_groups_in_order_of_appearance(frames):
    # the integer-key shortcut listed keys sorted even with sort=False
    pdf, df = frames
    assert_eq(df.groupby("k", sort=False).f.sum(), pdf.groupby("k", sort=False).f.sum())
    assert_eq(df.groupby("k", sort=False).size(), pdf.groupby("k", sort=False).size())
    assert_eq(df.groupby(["k", "b"], sort=False).i.agg(["sum", "count"]),
              pdf.groupby(["k", "b"], sort=False).i.agg(["sum", "count"]))


@pytest.mark.parametrize("func", ["sem", "any", "all", "idxmin", "idxmax"])
def test_methods_run_on_whole_groups(frames, func):
    # were missing; they run on whole groups after a shuffle
    pdf, df = frames
    assert_eq(getattr(df.groupby("k").f, func)(), getattr(pdf.groupby("k").f, func)())
    assert_eq(getattr(df.groupby(["k", "b"])[["i", "f"]], func)(), getattr(pdf.groupby(["k", "b"])[["i", "f"]], func)())
