"""Groupby through a shuffle (``groupby_shuffle.py``): split_out, median, apply, transform, no second shuffle."""

from __future__ import annotations

import pandas as pd
import pytest

import shoal.dataframe as dd
from shoal.collections.dataframe.shuffle import Shuffle
from shoal.testing import assert_eq


def _shuffles(collection) -> int:
    return len(list(collection.optimize().expr.find_operations(Shuffle)))


@pytest.mark.parametrize("split_out", [2, 5])
def test_split_out_matches_pandas(frames, split_out, local_scheduler):
    pdf, df = frames
    result = df.groupby("k")[["f", "i", "n"]].agg(["sum", "mean", "max"], split_out=split_out)
    assert result.npartitions == split_out
    assert_eq(result.compute(scheduler=local_scheduler).sort_index(), pdf.groupby("k")[["f", "i", "n"]].agg(
        ["sum", "mean", "max"]))
    assert_eq(df.groupby(["k", "c"]).s.count(split_out=split_out).compute().sort_index(),
              pdf.groupby(["k", "c"], observed=True).s.count())
    assert_eq(df.groupby("s").i.nunique(split_out=split_out).compute().sort_index(), pdf.groupby("s").i.nunique())


def test_exact_median_and_nunique(frames):
    pdf, df = frames
    assert_eq(df.groupby("k").f.median(), pdf.groupby("k").f.median())
    assert_eq(df.groupby("k")[["f", "i"]].median(), pdf.groupby("k")[["f", "i"]].median())


def _spread(group):
    return group.i.max() - group.i.min()


def _centred(values):
    return values - values.mean()


def test_apply_and_transform(frames, scheduler):
    pdf, df = frames
    got = df.groupby("k").apply(_spread).compute(scheduler=scheduler)
    assert_eq(got.sort_index(), pdf.groupby("k").apply(_spread))
    got = df.groupby("k").f.transform(_centred).compute(scheduler=scheduler)
    assert_eq(got.sort_index(), pdf.groupby("k").f.transform(_centred))
    top = df.groupby("s").apply(lambda g: g.nlargest(2, "i"), meta=pdf.iloc[:0]).compute(scheduler=scheduler)
    expected = pdf.groupby("s").apply(lambda g: g.nlargest(2, "i"))
    assert_eq(top.sort_index(), expected.sort_index())


def test_groupby_after_a_shuffle_on_the_key_needs_no_second_shuffle(pdf):
    shuffled = dd.from_pandas(pdf, npartitions=4).shuffle("k")
    result = shuffled.groupby("k").agg({"f": "sum", "i": "max"})
    assert _shuffles(result) == 1
    assert_eq(result, pdf.groupby("k").agg({"f": "sum", "i": "max"}))
    finer = shuffled.groupby(["k", "s"]).i.first()  # a superset of the shuffle keys is fine too
    assert _shuffles(finer) == 1
    assert_eq(finer, pdf.groupby(["k", "s"]).i.first())
    assert _shuffles(shuffled.groupby("k").f.median()) == 1


def test_groupby_after_a_merge_on_the_key_needs_no_second_shuffle(pdf):
    right = pd.DataFrame({"k": [0, 1, 2, 5], "w": [1.0, 2.0, 3.0, 4.0]})
    merged = dd.from_pandas(pdf, npartitions=4).merge(dd.from_pandas(right, npartitions=2), on="k", broadcast=False)
    result = merged.groupby("k").w.sum()
    assert _shuffles(result) == 2  # one per side of the merge
    assert_eq(result, pdf.merge(right, on="k").groupby("k").w.sum())


def test_projection_is_pushed_below_the_shuffle(pdf):
    result = dd.from_pandas(pdf, npartitions=3).shuffle("k")[["f"]]
    (shuffle,) = result.optimize().expr.find_operations(Shuffle)
    assert list(shuffle.columns) == ["f", "k"]
    assert_eq(result.compute().sort_index(), pdf[["f"]])


def test_apply_needs_meta_when_it_cannot_be_guessed(pdf):
    df = dd.from_pandas(pdf, npartitions=2)

    def fails_on_fake_data(group):
        if len(group) < 3:
            raise RuntimeError("too small")
        return group.i.sum()

    with pytest.raises(ValueError, match="pass meta="):
        df.groupby("k").apply(fails_on_fake_data)
