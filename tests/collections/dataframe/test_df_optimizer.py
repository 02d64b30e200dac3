"""The optimizer: blockwise fusion, projection pushdown, explain; optimized == unoptimized."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as dd
from shoal import config
from shoal.collections.dataframe.blockwise import Projection
from shoal.collections.dataframe.sources import FromPandas
from shoal.taskgraph.protocol import collections_to_graph
from shoal.testing import assert_eq


@pytest.fixture
def pdf():
    rng = np.random.default_rng(2)
    return pd.DataFrame({"a": rng.integers(-5, 5, 50), "b": rng.normal(size=50), "c": rng.choice(["x", "y"], 50),
                         "d": rng.normal(size=50)})


def _same_with_and_without_optimizer(lazy, expected):
    assert_eq(lazy, expected)
    with config.set({"dataframe.optimize": False}):
        assert_eq(lazy, expected)


def test_row_wise_chain_is_one_task_per_partition(pdf):
    df = dd.from_pandas(pdf, npartitions=4)
    chain = (df[df.a > 0].b * 2 + 1).fillna(0).abs()
    graph = chain.__shoal_graph__()
    assert len(graph) == 4  # the read, the filter's two branches and every map: one task each partition
    graph, _ = collections_to_graph([chain])
    assert len(graph) == 4
    _same_with_and_without_optimizer(chain, (pdf[pdf.a > 0].b * 2 + 1).fillna(0).abs())
    with config.set({"dataframe.optimize": False}):
        assert len(chain.__shoal_graph__()) == 4  # fusion does not depend on the plan rewrites
    reduced, _ = collections_to_graph([chain.sum()])
    assert len(reduced) == 4 + 1  # plus the final aggregate; chunks fuse into the partition tasks


def test_projection_pushdown_through_filter_assign_and_methods(pdf):
    df = dd.from_pandas(pdf, npartitions=3)
    cases = [
        (df[df.a > 0][["b"]], pdf[pdf.a > 0][["b"]], ["a", "b"]),
        (df.assign(e=df.b * 2)[["a", "e"]], pdf.assign(e=pdf.b * 2)[["a", "e"]], ["a", "b"]),
        (df.assign(e=df.b * 2).a, pdf.assign(e=pdf.b * 2).a, ["a"]),
        (df.fillna(0).astype({"a": "float64", "c": "str"}).a, pdf.fillna(0).astype({"a": "float64", "c": "str"}).a, ["a"]),
        (df.isna()[["b", "d"]], pdf.isna()[["b", "d"]], ["b", "d"]),
        (df.drop(columns=["c"]).b, pdf.drop(columns=["c"]).b, ["b"]),
    ]
    for lazy, expected, read in cases:
        plan = lazy.optimize().expr
        readers = list(plan.find_operations(FromPandas))
        assert [r.columns_ for r in readers] == [read], plan.tree_repr()
        _same_with_and_without_optimizer(lazy, expected)


def test_no_pushdown_when_a_reader_needs_every_column(pdf):
    df = dd.from_pandas(pdf, npartitions=2)
    both = df.a + df.map_partitions(lambda p: p.assign(z=1)).z
    readers = list(both.optimize().expr.find_operations(FromPandas))
    assert all(r.columns_ is None for r in readers)
    _same_with_and_without_optimizer(both, pdf.a + pdf.assign(z=1).z)


def test_projection_collapses(pdf):
    df = dd.from_pandas(pdf, npartitions=2)
    nested = df[["a", "b", "c"]][["a", "b"]]["a"]
    plan = nested.optimize().expr
    assert sum(isinstance(n, Projection) for n in plan.walk()) == 1
    _same_with_and_without_optimizer(nested, pdf.a)


def test_explain_prints_logical_and_physical_plans(pdf, capsys):
    df = dd.from_pandas(pdf, npartitions=2)
    query = df[df.a > 0].groupby("c").b.sum()
    query.explain()
    text = capsys.readouterr().out
    assert "== Logical plan ==" in text and "== Optimized plan: 2 stages ==" in text
    assert "FromPandas columns=['a', 'b', 'c']" in text
    assert "exchange" in text and "Fused tasks" in text
    _same_with_and_without_optimizer(query, pdf[pdf.a > 0].groupby("c").b.sum())


def test_shared_subexpressions_computed_once(pdf):
    df = dd.from_pandas(pdf, npartitions=3)
    x = df.b * 2
    graph, _ = collections_to_graph([x.sum(), x.mean()])
    reads = [k for k in graph if isinstance(k, tuple) and k[0].startswith("from-pandas")]
    partition_tasks = [k for k in graph if isinstance(k, tuple) and "chunk" not in k[0] and len(k) == 2 and k[1] < 3
                       and not k[0].startswith(("sum", "mean"))]
    assert len(reads) <= 3 and len(partition_tasks) == 3
    assert_eq(x.sum(), (pdf.b * 2).sum())
