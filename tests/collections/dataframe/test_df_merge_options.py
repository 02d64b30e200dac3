"""``merge(..., validate=)`` and ``merge(..., sort=True)`` (``merge.py``, ``merge_sorted.py``) against pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as dd

from conftest import partitioned


def _sides():
    """Left keys unique (with one NaN), right keys repeated (3 twice, NaN once); a key only on each side."""
    left = pd.DataFrame({"k": [5.0, 1.0, np.nan, 2.0, 3.0, 7.0, 4.0, 0.0], "x": np.arange(8)})
    right = pd.DataFrame({"k": [2.0, np.nan, 3.0, 9.0, 3.0, 1.0], "y": np.arange(6) * 10})
    return left, right


def _uneven(pdf):
    """Partitions of 0, 3, 0 and the remaining rows: repeated keys land in different partitions."""
    cuts = [0, 0, 3, 3, len(pdf)]
    return dd.from_map(lambda part: part, [pdf.iloc[a:b] for a, b in zip(cuts[:-1], cuts[1:])], meta=pdf.iloc[:0])


def _rows(frame):
    frame = frame.reset_index(drop=True)
    return frame.sort_values(list(frame.columns), na_position="last", kind="stable").reset_index(drop=True)


def _pandas_error(left, right, **kwargs):
    with pytest.raises(pd.errors.MergeError) as info:
        left.merge(right, **kwargs)
    return str(info.value).split(";")[0]  # "Merge keys are not unique in <side> dataset"


FORMS = [("one_to_one", "1:1"), ("one_to_many", "1:m"), ("many_to_one", "m:1"), ("many_to_many", "m:m")]
STRATEGIES = [{"broadcast": False}, {"broadcast": None}, {"skew": True}]


@pytest.mark.parametrize("forms", FORMS)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("how", ["inner", "left", "right", "outer"])
def test_validate_matches_pandas(forms, strategy, how):
    left, right = _sides()
    for validate in forms:
        for a, b in ((left, right), (right, left)):  # the repeated keys on the right, then on the left
            lazy = _uneven(a).merge(dd.from_pandas(b, npartitions=2), on="k", how=how, validate=validate,
                                    **strategy)
            try:
                expected = a.merge(b, on="k", how=how)
                a.merge(b, on="k", how=how, validate=validate)
            except pd.errors.MergeError:
                message = _pandas_error(a, b, on="k", how=how, validate=validate)
                with pytest.raises(pd.errors.MergeError, match=message):
                    lazy.compute(scheduler="sync")
            else:
                pd.testing.assert_frame_equal(_rows(lazy.compute(scheduler="sync")), _rows(expected))


def test_validate_finds_keys_repeated_in_different_partitions(local_scheduler):
    # 1 sits in the first and the last non-empty partition: no partition holds both on its own
    left = pd.DataFrame({"k": [1, 2, 3, 4, 5, 1], "x": np.arange(6)})
    right = pd.DataFrame({"k": [1, 2, 3], "y": [10, 20, 30]})
    small_right = dd.from_pandas(right, npartitions=1)
    lazy = _uneven(left).merge(small_right, on="k", validate="one_to_many")
    assert "strategy='hash'" in lazy.explain_text()  # the left side must be checked whole: not broadcast to
    with pytest.raises(pd.errors.MergeError, match="not unique in left dataset; not a one-to-many merge"):
        lazy.compute(scheduler=local_scheduler)
    # the right side must be unique: broadcasting it (whole in every task) is still allowed
    fine = _uneven(left).merge(small_right, on="k", validate="many_to_one")
    assert "strategy='broadcast'" in fine.explain_text()
    pd.testing.assert_frame_equal(_rows(fine.compute(scheduler=local_scheduler)),
                                  _rows(left.merge(right, on="k", validate="many_to_one")))


def test_validate_counts_repeated_null_keys_as_pandas_does():
    left = pd.DataFrame({"k": [np.nan, 1.0, np.nan], "x": [1, 2, 3]})
    right = pd.DataFrame({"k": [1.0, 2.0], "y": [5, 6]})
    message = _pandas_error(left, right, on="k", validate="1:1")
    lazy = dd.from_pandas(left, npartitions=2).merge(dd.from_pandas(right, npartitions=2), on="k", validate="1:1",
                                                     broadcast=False)
    with pytest.raises(pd.errors.MergeError, match=message):
        lazy.compute(scheduler="sync")


def test_validate_on_both_sides_names_both():
    left = pd.DataFrame({"k": [1, 1, 2], "x": [1, 2, 3]})
    right = pd.DataFrame({"k": [1, 1, 2], "y": [5, 6, 7]})
    message = _pandas_error(left, right, on="k", validate="one_to_one")
    assert "either left or right" in message
    lazy = dd.from_pandas(left, npartitions=1).merge(dd.from_pandas(right, npartitions=1), on="k",
                                                     validate="one_to_one")
    with pytest.raises(pd.errors.MergeError, match=message):
        lazy.compute(scheduler="sync")


@pytest.mark.parametrize("how", ["inner", "left"])
def test_validate_still_raises_when_a_filter_follows_the_merge(how):
    # a filter on the validated side's columns must not be pushed below the merge: filtering first would drop
    # the repeated key pandas complains about
    left = pd.DataFrame({"k": [1, 2, 2, 3], "v": [10, 20, 30, 40]})
    right = pd.DataFrame({"k": [1, 2, 3], "w": [1, 2, 3]})
    message = _pandas_error(left, right, on="k", how=how, validate="one_to_one")
    for npartitions in (1, 2):
        merged = dd.from_pandas(left, npartitions=npartitions).merge(
            dd.from_pandas(right, npartitions=1), on="k", how=how, validate="one_to_one")
        with pytest.raises(pd.errors.MergeError, match=message):
            merged[merged.v < 25].compute(scheduler="sync")


def test_validate_index_join_and_semi_join(pdf):
    left = pdf[["i", "f"]]
    right = pd.DataFrame({"r": np.arange(30.0)}, index=pd.Index(np.arange(30) * 4, name="idx"))
    lazy = dd.from_pandas(left, npartitions=4).merge(dd.from_pandas(right, npartitions=3), left_index=True,
                                                     right_index=True, validate="1:1")
    assert "strategy='aligned'" in lazy.explain_text()
    pd.testing.assert_frame_equal(lazy.compute(scheduler="sync").sort_index(),
                                  left.merge(right, left_index=True, right_index=True, validate="1:1").sort_index())
    repeated = pd.concat([right, right.iloc[[3]]]).sort_index()
    lazy = dd.from_pandas(left, npartitions=4).merge(dd.from_pandas(repeated, npartitions=3), left_index=True,
                                                     right_index=True, validate="1:1")
    message = _pandas_error(left, repeated, left_index=True, right_index=True, validate="1:1")
    with pytest.raises(pd.errors.MergeError, match=message):
        lazy.compute(scheduler="sync")
    # a semi join (no pandas equivalent) checks the same way
    semi = dd.from_pandas(pdf, npartitions=3).merge(dd.from_pandas(pdf[["k"]], npartitions=2), on="k",
                                                    how="leftsemi", validate="many_to_one")
    with pytest.raises(pd.errors.MergeError, match="not unique in right dataset; not a many-to-one merge"):
        semi.compute(scheduler="sync")


def test_validate_on_several_keys(pdf):
    # (k, s) pairs repeat on the left; made unique, the merge is one-to-one
    right = pdf[["k", "s"]].drop_duplicates().assign(r=1.0)
    lazy = partitioned(pdf, "empty-parts").merge(dd.from_pandas(right, npartitions=2), on=["k", "s"],
                                                 validate="one_to_one")
    message = _pandas_error(pdf, right, on=["k", "s"], validate="one_to_one")
    with pytest.raises(pd.errors.MergeError, match=message):
        lazy.compute(scheduler="sync")
    unique_left = pdf.drop_duplicates(["k", "s"])
    lazy = partitioned(unique_left, "unknown").merge(dd.from_pandas(right, npartitions=2), on=["k", "s"],
                                                     validate="1:1", how="left")
    pd.testing.assert_frame_equal(_rows(lazy.compute()),
                                  _rows(unique_left.merge(right, on=["k", "s"], validate="1:1", how="left")))


def test_validate_bad_input():
    left, right = _sides()
    a, b = dd.from_pandas(left, npartitions=2), dd.from_pandas(right, npartitions=2)
    with pytest.raises(ValueError) as expected:
        left.merge(right, on="k", validate="one_to_few")
    with pytest.raises(ValueError) as got:
        a.merge(b, on="k", validate="one_to_few")
    assert str(got.value) == str(expected.value)
    with pytest.raises(ValueError, match="broadcast=True cannot be combined with validate='one_to_one'"):
        a.merge(b, on="k", validate="1:1", broadcast=True)
    # validate= is checked when computing; a join of sides whose keys are fine computes as pandas does
    unique_right = right.drop_duplicates("k").set_index("k")
    pd.testing.assert_frame_equal(
        _rows(a.join(dd.from_pandas(unique_right, npartitions=2), on="k", validate="m:1").compute()),
        _rows(left.join(unique_right, on="k", validate="m:1")))


# ------------------------------------------------------------------ sort=True


@pytest.mark.parametrize("how", ["inner", "left", "right", "outer", "leftsemi"])
@pytest.mark.parametrize("strategy", [{"broadcast": False}, {"broadcast": None}])
def test_sort_orders_rows_on_the_keys_as_pandas(how, strategy, local_scheduler):
    left, right = _sides()
    lazy = _uneven(left).merge(dd.from_pandas(right, npartitions=2), on="k", how=how, sort=True, **strategy)
    got = lazy.compute(scheduler=local_scheduler).reset_index(drop=True)
    if how == "leftsemi":
        expected = left[left.k.isin(right.k)].sort_values("k", kind="stable").reset_index(drop=True)
    else:
        expected = left.merge(right, on="k", how=how, sort=True)
    # the key order is pandas'; rows with equal keys may come in another order
    pd.testing.assert_series_equal(got.k, expected.k)
    pd.testing.assert_frame_equal(_rows(got), _rows(expected))


@pytest.mark.parametrize("how", ["inner", "left", "right", "outer"])
def test_sort_on_differently_named_and_several_keys(pdf, how):
    left = pdf[["k", "s", "i"]]
    right = pd.DataFrame({"kk": [3, 0, 1, 0, 7, 2], "ss": ["date", "apple", None, "date", "cherry", "Banana"],
                          "r": np.arange(6.0)}).astype({"ss": "str"})
    expected = left.merge(right, left_on=["k", "s"], right_on=["kk", "ss"], how=how, sort=True)
    lazy = partitioned(left, "empty-parts").merge(dd.from_pandas(right, npartitions=2), left_on=["k", "s"],
                                                  right_on=["kk", "ss"], how=how, sort=True)
    got = lazy.compute().reset_index(drop=True)
    order = ["k", "s"] if how != "right" else ["kk", "ss"]
    pd.testing.assert_frame_equal(got[order], expected[order], check_dtype=False)
    pd.testing.assert_frame_equal(_rows(got.astype(expected.dtypes.to_dict())), _rows(expected))


def test_sort_of_an_index_join(pdf):
    right = pd.DataFrame({"r": np.arange(20.0)}, index=pd.Index(np.arange(20)[::-1] * 5, name="idx"))
    lazy = dd.from_pandas(pdf, npartitions=3, sort=False).merge(dd.from_pandas(right, npartitions=2, sort=False),
                                                                left_index=True, right_index=True, how="outer",
                                                                sort=True)
    pd.testing.assert_frame_equal(lazy.compute(), pdf.merge(right, left_index=True, right_index=True, how="outer",
                                                            sort=True))


@pytest.mark.parametrize("how", ["inner", "left", "right", "outer"])
def test_sort_of_a_column_joined_with_an_index(how):
    left = pd.DataFrame({"k": [3, 1, np.nan, 1, 2, 7, 3], "x": np.arange(7)})
    right = pd.DataFrame({"y": np.arange(5)}, index=[2.0, 1.0, 3.0, 9.0, 5.0])
    lazy = _uneven(left).merge(dd.from_pandas(right, npartitions=2, sort=False), left_on="k", right_index=True,
                               how=how, sort=True)
    got = lazy.compute().reset_index(drop=True)
    expected = left.merge(right, left_on="k", right_index=True, how=how, sort=True).reset_index(drop=True)
    pd.testing.assert_series_equal(got.k, expected.k)
    pd.testing.assert_frame_equal(_rows(got), _rows(expected))
    mirrored = dd.from_pandas(right, npartitions=2, sort=False).merge(_uneven(left), left_index=True, right_on="k",
                                                                      how=how, sort=True)
    expected = right.merge(left, left_index=True, right_on="k", how=how, sort=True).reset_index(drop=True)
    got = mirrored.compute().reset_index(drop=True)
    pd.testing.assert_series_equal(got.k, expected.k)
    pd.testing.assert_frame_equal(_rows(got), _rows(expected))
