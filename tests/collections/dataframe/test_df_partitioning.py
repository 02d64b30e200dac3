"""The partitioning metadata part 2 (shuffles, joins) builds on."""

from __future__ import annotations

import pandas as pd

import shoal.dataframe as dd


def test_row_wise_operations_keep_the_partitioning(pdf):
    df = dd.from_pandas(pdf, npartitions=4)
    base = df.partitioning
    assert base.known_divisions and base.hashed_on is None
    for derived in (df.i + 1, df[df.i > 3], df.assign(z=df.k), df.fillna(0), df.f.cumsum(), df.index):
        assert derived.partitioning.aligns_with(base)
        assert derived.partitioning.origin == base.origin and derived.divisions == df.divisions


def test_new_partitionings(pdf):
    df = dd.from_pandas(pdf, npartitions=4)
    unknown = dd.from_pandas(pdf, npartitions=4, sort=False)
    assert not unknown.partitioning.known_divisions
    assert not unknown.partitioning.aligns_with(df.partitioning)  # same count, but nothing says rows match
    assert unknown.i.partitioning.aligns_with(unknown.partitioning)
    moved = dd.from_pandas(pdf, npartitions=3).repartition(divisions=df.divisions)
    assert moved.partitioning.origin != df.partitioning.origin
    assert moved.partitioning.aligns_with(df.partitioning)  # equal known divisions align
    assert not df.repartition(npartitions=2).partitioning.aligns_with(df.partitioning)


def test_partitioning_repr(pdf):
    text = repr(dd.from_pandas(pd.DataFrame({"a": [1, 2]}), npartitions=1).partitioning)
    assert text.startswith("Partitioning(divisions=(0, 1), origin='from-pandas-")
