"""loc (reading only the partitions that can hold the labels) and iloc[:, columns]."""

from __future__ import annotations

import pytest

import shoal.dataframe as dd
from shoal.collections.dataframe.blockwise import Partitions
from shoal.taskgraph.protocol import collections_to_graph
from shoal.testing import assert_eq


def test_loc_slices_and_labels(frames):
    pdf, df = frames
    assert_eq(df.loc[20:60], pdf.loc[20:60])
    assert_eq(df.loc[:30], pdf.loc[:30])
    assert_eq(df.loc[90:], pdf.loc[90:])
    assert_eq(df.loc[44], pdf.loc[[44]])
    assert_eq(df.loc[[10, 80, 12]], pdf.loc[pdf.index.isin([10, 80, 12])])
    assert_eq(df.loc[20:60, ["i", "s"]], pdf.loc[20:60, ["i", "s"]])
    assert_eq(df.loc[df.i > 50, "f"], pdf.loc[pdf.i > 50, "f"])
    assert_eq(df.loc[:, "i":"n"], pdf.loc[:, "i":"n"])
    assert_eq(df.loc[1000:2000], pdf.loc[1000:2000])


def test_loc_reads_only_partitions_that_can_hold_the_labels(pdf):
    df = dd.from_pandas(pdf, npartitions=6)
    selected = df.loc[df.divisions[2]: df.divisions[3] - 1]
    (partitions,) = list(selected.expr.find_operations(Partitions))
    assert list(partitions.indices) == [2]
    graph, _ = collections_to_graph([selected])
    assert len(graph) == 1  # the other partitions are not even loaded
    assert_eq(selected, pdf.loc[df.divisions[2]: df.divisions[3] - 1])
    one = df.loc[df.divisions[4]]
    (partitions,) = list(one.expr.find_operations(Partitions))
    assert list(partitions.indices) == [4]
    assert_eq(one, pdf.loc[[df.divisions[4]]])


def test_iloc_columns(frames):
    pdf, df = frames
    assert_eq(df.iloc[:, [0, 2]], pdf.iloc[:, [0, 2]])
    assert_eq(df.iloc[:, 1], pdf.iloc[:, 1])
    assert_eq(df.iloc[:, 1:3], pdf.iloc[:, 1:3])
    with pytest.raises(NotImplementedError, match="column selection only"):
        df.iloc[3]
