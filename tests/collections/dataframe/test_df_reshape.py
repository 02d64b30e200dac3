"""``melt`` and ``get_dummies`` (``reshape.py``) compared with pandas."""

from __future__ import annotations

import pandas as pd
import pytest

import shoal.dataframe as dd
from shoal.testing import assert_eq


def test_melt(frames):
    pdf, df = frames
    kwargs = {"id_vars": ["k"], "value_vars": ["i", "f"], "var_name": "which"}
    got = df.melt(**kwargs).compute()
    expected = pdf.melt(**kwargs)
    order = ["which", "k", "value"]
    assert_eq(got.sort_values(order).reset_index(drop=True), expected.sort_values(order).reset_index(drop=True))
    assert_eq(dd.melt(df[["k", "i"]], id_vars="k").compute().sort_values(["k", "value"]).reset_index(drop=True),
              pdf[["k", "i"]].melt(id_vars="k").sort_values(["k", "value"]).reset_index(drop=True))


def test_get_dummies_with_known_categories(frames, local_scheduler):
    pdf, df = frames
    assert_eq(dd.get_dummies(df[["c", "i"]]), pd.get_dummies(pdf[["c", "i"]]), scheduler=local_scheduler)
    assert_eq(dd.get_dummies(df.c, prefix="level", dtype=int), pd.get_dummies(pdf.c, prefix="level", dtype=int))
    assert_eq(dd.get_dummies(df, columns=["c"], drop_first=True), pd.get_dummies(pdf, columns=["c"], drop_first=True))


def test_get_dummies_refuses_unknown_categories(frames):
    _, df = frames
    with pytest.raises(NotImplementedError, match=r"\['s'\] are not categoricals"):
        dd.get_dummies(df[["s", "i"]])


@pytest.mark.parametrize("aggfunc", ["mean", "sum", "count", "min", "max"])
def test_pivot_table_with_known_categories(frames, aggfunc):
    pdf, df = frames
    expected = pd.pivot_table(pdf, index="k", columns="c", values="f", aggfunc=aggfunc, observed=False, dropna=False)
    assert_eq(dd.pivot_table(df, index="k", columns="c", values="f", aggfunc=aggfunc), expected)
    # min/max of ints: pandas' dtype depends on whether every (index, category) pair occurs; shoal's is float64
    assert_eq(df.pivot_table(index="k", columns="c", values="i", aggfunc=aggfunc),
              pd.pivot_table(pdf, index="k", columns="c", values="i", aggfunc=aggfunc, observed=False, dropna=False),
              check_dtype=aggfunc not in ("min", "max"))


def test_pivot_table_refuses_unknown_columns(frames):
    _, df = frames
    with pytest.raises(NotImplementedError, match="must be a categorical"):
        df.pivot_table(index="k", columns="s", values="f")


def _categorise(part):
    return part.astype({"g": "category"})


def test_categories_learnt_per_partition_fail_clearly():
    # categories learnt per partition (astype('category') does that) need not be the plan's: a partition with
    # others must say so, not hand back columns the plan did not promise
    pdf = pd.DataFrame({"k": [1, 2, 1, 2, 3, 3], "g": list("ababcc"), "x": [1.0, 2, 3, 4, 5, 6]})
    meta = pdf.iloc[:0].astype({"g": pd.CategoricalDtype(["a", "b"])})
    df = dd.from_map(_categorise, [pdf.iloc[:4], pdf.iloc[4:]], meta=meta)
    with pytest.raises(ValueError, match=r"'g' has the categories \['c'\] in this partition, but the plan was "
                                         r"built for \['a', 'b'\].*CategoricalDtype"):
        dd.get_dummies(df).compute()
    with pytest.raises(ValueError, match=r"'g' has the categories \['a', 'b', 'c'\].*CategoricalDtype"):
        df.pivot_table(index="k", columns="g", values="x").compute()
    known = dd.from_pandas(pdf, npartitions=2).astype({"g": pd.CategoricalDtype(list("abc"))})
    expected = pdf.astype({"g": pd.CategoricalDtype(list("abc"))})
    assert_eq(dd.get_dummies(known), pd.get_dummies(expected))
    assert_eq(known.pivot_table(index="k", columns="g", values="x"),
              expected.pivot_table(index="k", columns="g", values="x", observed=False, dropna=False))


def test_pivot_table_takes_one_column_per_argument(frames):
    _, df = frames
    with pytest.raises(TypeError, match=r"values= must be one column name, got \['f', 'i'\]"):
        df.pivot_table(index="k", columns="c", values=["f", "i"])


def test_unknown_categories_are_refused_when_the_plan_is_built():
    pdf = pd.DataFrame({"k": [1, 2, 1, 2, 3, 3], "g": list("ababcc"), "x": [1.0, 2, 3, 4, 5, 6]})
    df = dd.from_pandas(pdf, npartitions=2).astype({"g": "category"})  # categories unknown in the plan
    assert not df.g.cat.known
    with pytest.raises(ValueError, match=r"categories of \['g'\] are unknown.*cat.as_known"):
        dd.get_dummies(df)
    with pytest.raises(ValueError, match=r"categories of \['g'\] are unknown"):
        df.pivot_table(index="k", columns="g", values="x")
    known = df.assign(g=df.g.cat.as_known())
    assert_eq(dd.get_dummies(known), pd.get_dummies(pdf.astype({"g": "category"})))
