"""repartition(npartitions=) and repartition(divisions=)."""

from __future__ import annotations

import pytest

import shoal.dataframe as dd
from shoal.testing import assert_eq


@pytest.mark.parametrize("n", [1, 2, 5, 9])
def test_repartition_npartitions(frames, n):
    pdf, df = frames
    result = df.repartition(npartitions=n)
    assert result.npartitions == n
    assert_eq(result, pdf)
    if df.known_divisions and n < df.npartitions:
        assert result.known_divisions


def test_repartition_divisions_moves_rows_and_aligns(pdf):
    a = dd.from_pandas(pdf, npartitions=4)
    b = dd.from_pandas(pdf, npartitions=3)
    assert_eq(a.i + b.i, pdf.i + pdf.i)  # known divisions: aligned on their union without asking
    moved = b.repartition(divisions=a.divisions)
    assert moved.divisions == a.divisions
    for i in range(a.npartitions):  # every row lands in the partition its divisions say
        part = moved.partitions[i].compute()
        assert part.index.min() >= a.divisions[i] and part.index.max() <= a.divisions[i + 1]
    assert_eq(a.i + moved.i, pdf.i + pdf.i)
    wider = a.repartition(divisions=(-100, 0, 50, 1000))
    assert_eq(wider, pdf)


def test_repartition_divisions_errors(pdf):
    df = dd.from_pandas(pdf, npartitions=2)
    with pytest.raises(ValueError, match=r"sorted, but 50 comes before 10"):
        df.repartition(divisions=(0, 50, 10, 200))
    with pytest.raises(ValueError, match="cover the index range"):
        df.repartition(divisions=(10, 200))
    with pytest.raises(ValueError, match="known divisions"):
        dd.from_pandas(pdf, npartitions=2, sort=False).repartition(divisions=(0, 200))


def test_memory_usage_and_partition_size(pdf):
    df = dd.from_pandas(pdf, npartitions=3)
    numeric = ["i", "f", "n", "b", "k", "t"]  # (categoricals and strings carry per-partition overheads)
    assert_eq(df[numeric].memory_usage(index=False), pdf[numeric].memory_usage(index=False))
    assert_eq(df.f.memory_usage(index=False), pdf.f.memory_usage(index=False))
    total = int(pdf.memory_usage(deep=True, index=False).sum())
    resized = df[["i", "f"]].repartition(partition_size=int(pdf[["i", "f"]].memory_usage(deep=True).sum()) // 4)
    assert 4 <= resized.npartitions <= 6
    assert_eq(resized, pdf[["i", "f"]])
    assert df.repartition(partition_size=f"{total * 10}B").npartitions == 1
    with pytest.raises(ValueError, match="size in bytes"):
        df.repartition(partition_size="lots")


def test_repartition_divisions_wider_than_the_data(pdf):
    df = dd.from_pandas(pdf, npartitions=3)
    lowest, highest = pdf.index.min(), pdf.index.max()
    wider = df.repartition(divisions=(lowest - 100, lowest - 50, highest // 2, highest + 50, highest + 100))
    assert wider.npartitions == 4
    assert [len(wider.partitions[i].compute()) for i in (0, 3)] == [0, 0]
    assert_eq(wider, pdf)
