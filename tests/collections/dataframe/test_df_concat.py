"""``concat`` (``concat.py``) compared with pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as dd
from shoal.collections.dataframe.shuffle import Shuffle

from conftest import PARTITIONINGS, make_pandas, partitioned


@pytest.mark.parametrize("how", PARTITIONINGS)
@pytest.mark.parametrize("join", ["outer", "inner"])
def test_concat_rows_matches_pandas(how, join, local_scheduler):
    a = make_pandas(40, seed=1)
    b = make_pandas(30, seed=2).drop(columns=["n", "c"]).assign(extra=np.arange(30))
    b.index = b.index + 1000
    result = dd.concat([partitioned(a, how), dd.from_pandas(b, npartitions=2)], join=join)
    expected = pd.concat([a, b], join=join)
    got = result.compute(scheduler=local_scheduler)
    pd.testing.assert_frame_equal(got, expected)
    assert result.known_divisions == (how == "known")


def test_concat_keeps_ordered_divisions():
    a = pd.DataFrame({"x": range(10)}, index=range(10))
    b = pd.DataFrame({"x": range(10)}, index=range(20, 30))
    result = dd.concat([dd.from_pandas(a, npartitions=2), dd.from_pandas(b, npartitions=2)])
    assert result.divisions == (0, 5, 20, 25, 29)
    pd.testing.assert_frame_equal(result.compute(), pd.concat([a, b]))


def test_concat_interleaves_overlapping_divisions():
    a = pd.DataFrame({"x": np.arange(10)}, index=np.arange(0, 20, 2))
    b = pd.DataFrame({"x": np.arange(10) + 100}, index=np.arange(1, 21, 2))
    left, right = dd.from_pandas(a, npartitions=3), dd.from_pandas(b, npartitions=2)
    stacked = dd.concat([left, right])
    assert not stacked.known_divisions
    interleaved = dd.concat([left, right], interleave_partitions=True)
    assert interleaved.known_divisions
    divisions = interleaved.divisions
    for i, part in enumerate(d.compute() for d in interleaved.to_delayed()):
        assert divisions[i] <= part.index.min() and part.index.max() <= divisions[i + 1]
    got = interleaved.compute()
    pd.testing.assert_frame_equal(got.sort_index(kind="stable"), pd.concat([a, b]).sort_index(kind="stable"))


def test_concat_series_and_categoricals():
    a = pd.Series(pd.Categorical(["x", "y"] * 5), name="s")
    b = pd.Series(pd.Categorical(["y", "z"] * 5), name="s", index=range(10, 20))
    got = dd.concat([dd.from_pandas(a, npartitions=2), dd.from_pandas(b, npartitions=2)]).compute()
    pd.testing.assert_series_equal(got, pd.concat([a, b]))


def test_concat_columns(pdf):
    left = dd.from_pandas(pdf[["i", "f"]], npartitions=4)
    other = dd.from_pandas(pdf[["s", "k"]].rename(columns={"k": "k2"}), npartitions=3)
    result = dd.concat([left, other], axis=1)
    assert not list(result.expr.find_operations(Shuffle)) and result.known_divisions
    pd.testing.assert_frame_equal(result.compute(), pd.concat([pdf[["i", "f"]], pdf[["s", "k"]].rename(
        columns={"k": "k2"})], axis=1))
    same = dd.concat([left.i, left.f * 2], axis=1).compute()
    pd.testing.assert_frame_equal(same, pd.concat([pdf.i, pdf.f * 2], axis=1))
    with pytest.raises(ValueError, match="partitioned differently"):
        dd.concat([dd.from_pandas(pdf, npartitions=2, sort=False), dd.from_pandas(pdf, npartitions=3, sort=False)],
                  axis=1)


def test_frames_whose_ranges_start_and_end_apart():
    # the union of the divisions reaches past each frame's own range: those partitions hold no rows of it
    a = pd.DataFrame({"x": np.arange(30), "y": np.arange(30) * 0.5}, index=np.arange(30))
    b = pd.DataFrame({"x": np.arange(20) + 100, "z": np.arange(20).astype(str)}, index=np.arange(15, 35))
    left, right = dd.from_pandas(a, npartitions=3), dd.from_pandas(b, npartitions=2)
    interleaved = dd.concat([left, right], interleave_partitions=True)
    assert interleaved.known_divisions
    got = interleaved.compute()
    pd.testing.assert_frame_equal(got.sort_index(kind="stable"), pd.concat([a, b]).sort_index(kind="stable"))
    for join in ["outer", "inner"]:
        side_by_side = dd.concat([left, right.drop(columns="x")], axis=1, join=join)
        pd.testing.assert_frame_equal(side_by_side.compute().sort_index(),
                                      pd.concat([a, b.drop(columns="x")], axis=1, join=join).sort_index())


@pytest.mark.parametrize("interleave", [False, True])
def test_concat_frames_and_series(interleave):
    frame = pd.DataFrame({"x": np.arange(6), "y": np.arange(6.0)})
    named = pd.Series(np.arange(4), name="x", index=range(3, 7))
    unnamed = pd.Series(np.arange(4) * 10, index=range(20, 24))
    parts = [dd.from_pandas(frame, npartitions=2), dd.from_pandas(named, npartitions=2),
             dd.from_pandas(unnamed, npartitions=1)]
    result = dd.concat(parts, interleave_partitions=interleave)
    expected = pd.concat([frame, named, unnamed])
    pd.testing.assert_frame_equal(result.compute().sort_index(kind="stable"), expected.sort_index(kind="stable"))


def test_concat_with_pandas_objects():
    first = pd.DataFrame({"x": np.arange(6)}, index=np.arange(6))
    second = pd.DataFrame({"x": np.arange(4) + 10}, index=np.arange(10, 14))
    result = dd.concat([dd.from_pandas(first, npartitions=2), second])
    assert result.known_divisions
    pd.testing.assert_frame_equal(result.compute(), pd.concat([first, second]))
    with pytest.raises(TypeError, match="shoal DataFrame or Series"):
        dd.concat([dd.from_pandas(first, npartitions=2), [1, 2]])


@pytest.mark.parametrize("interleave", [False, True])
def test_concat_ignore_index(interleave, local_scheduler):
    a = pd.DataFrame({"x": np.arange(30), "y": np.arange(30) * 0.5}, index=np.arange(30))
    b = pd.DataFrame({"x": np.arange(20) + 100, "z": np.arange(20).astype(str)}, index=np.arange(15, 35))
    with_empty = dd.from_map(lambda part: part, [a.iloc[:0], a.iloc[:10], a.iloc[10:10], a.iloc[10:]], meta=a.iloc[:0])
    for parts, frames in [([dd.from_pandas(a, npartitions=3), dd.from_pandas(b, npartitions=2)], [a, b]),
                          ([with_empty, dd.from_pandas(b, npartitions=2), with_empty], [a, b, a])]:
        result = dd.concat(parts, ignore_index=True, interleave_partitions=interleave)
        assert not result.known_divisions
        got = result.compute(scheduler=local_scheduler)
        expected = pd.concat(frames, ignore_index=True)
        assert got.index.equals(expected.index)
        if not interleave:  # interleaving orders the rows by their old index first
            pd.testing.assert_frame_equal(got, expected)
    series = dd.concat([dd.from_pandas(a.x, npartitions=2), dd.from_pandas(b.x, npartitions=3)], ignore_index=True)
    pd.testing.assert_series_equal(series.compute(), pd.concat([a.x, b.x], ignore_index=True))
    columns = dd.concat([dd.from_pandas(a, npartitions=3), dd.from_pandas(a.y * 2, npartitions=3)], axis=1,
                        ignore_index=True)
    pd.testing.assert_frame_equal(columns.compute(), pd.concat([a, a.y * 2], axis=1, ignore_index=True))
