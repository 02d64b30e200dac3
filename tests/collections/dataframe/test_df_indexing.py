"""loc (reading only the partitions that can hold the labels) and iloc[:, columns]."""

from __future__ import annotations

import numpy as np
import pandas as pd
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


def _hours(tz=None):
    index = pd.date_range("2024-02-25", periods=300, freq="7h", tz=tz)  # across a month end and, in Paris, DST
    return pd.DataFrame({"x": np.arange(300.0)}, index=index)


@pytest.mark.parametrize("tz", [None, "Europe/Paris"])
@pytest.mark.parametrize("npartitions", [1, 5, 13])
@pytest.mark.parametrize("key", [slice("2024-03-05", "2024-03-12"), slice("2024-03-05 10:00", None),
                                 slice(None, "2024-03"), slice("2024-03", "2024-03"), slice("2024-03-31", "2024-04-01"),
                                 slice("2023", "2023"), "2024-03-05", "2024-03", "2024-03-31"])
def test_loc_with_date_strings_selects_the_periods_they_name(tz, npartitions, key):
    # pandas' partial-string indexing: '2024-03' is all of March; the divisions prune partitions by that span
    pdf = _hours(tz)
    df = dd.from_pandas(pdf, npartitions=npartitions)
    assert_eq(df.loc[key], pdf.loc[key])
    assert_eq(df.x.loc[key], pdf.x.loc[key])


def test_loc_with_date_strings_reads_only_the_partitions_needed():
    pdf = _hours()
    df = dd.from_pandas(pdf, npartitions=10)
    assert df.loc["2024-03-05"].npartitions == 1
    assert df.loc["2024-03"].npartitions < 10
    with pytest.raises(KeyError, match="'someday' is not a date or time"):
        df.loc["someday"]


def test_loc_with_a_list_of_date_strings_finds_those_instants():
    pdf = _hours()
    labels = [pdf.index[5], pdf.index[40], pdf.index[200]]
    expected = pdf.loc[labels]
    df = dd.from_pandas(pdf, npartitions=6)
    # pandas 3 refuses strings in a list; shoal reads each as the instant it names rather than matching nothing
    assert_eq(df.loc[[str(label) for label in labels]], expected)
    assert_eq(df.loc[labels], expected)
