"""``merge_asof(on="column")``, ``left_on``/``right_on`` and ``left_by``/``right_by`` (``merge_asof.py``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as dd


def _sides(seed=0):
    """Trades and quotes sorted on their time column ``t`` (not the index); some trades before any quote."""
    rng = np.random.default_rng(seed)
    quotes = pd.DataFrame({"sym": rng.choice(["a", "b", "c"], 80), "bid": rng.normal(size=80),
                           "t": np.sort(rng.choice(1000, 80, replace=False)), "size": rng.integers(1, 5, 80)},
                          index=rng.permutation(80))
    trades = pd.DataFrame({"sym": rng.choice(["a", "b", "c", "d"], 50),
                           "t": np.sort(rng.choice(np.arange(-20, 1100), 50, replace=False)),
                           "qty": rng.integers(1, 9, 50)}, index=rng.permutation(50) * 3)
    return trades, quotes


def _uneven(pdf):
    cuts = [0, 0, 9, 9, 30, len(pdf)]
    return dd.from_map(lambda part: part, [pdf.iloc[a:b] for a, b in zip(cuts[:-1], cuts[1:])], meta=pdf.iloc[:0])


@pytest.mark.parametrize("direction", ["backward", "forward", "nearest"])
@pytest.mark.parametrize("by", [None, "sym"])
@pytest.mark.parametrize("parts", [(3, 5), (7, 2), "uneven"])
def test_merge_asof_on_a_column_matches_pandas(direction, by, parts, local_scheduler):
    trades, quotes = _sides()
    if parts == "uneven":
        left, right = _uneven(trades), _uneven(quotes)
    else:
        left = dd.from_pandas(trades, npartitions=parts[0], sort=False)
        right = dd.from_pandas(quotes, npartitions=parts[1], sort=False)
    got = dd.merge_asof(left, right, on="t", by=by, direction=direction).compute(scheduler=local_scheduler)
    pd.testing.assert_frame_equal(got, pd.merge_asof(trades, quotes, on="t", by=by, direction=direction))


def test_left_on_right_on_left_by_right_by_and_options():
    trades, quotes = _sides(1)
    quotes = quotes.rename(columns={"t": "qt", "sym": "qsym"})
    left = dd.from_pandas(trades, npartitions=4, sort=False)
    right = dd.from_pandas(quotes, npartitions=3, sort=False)
    for kwargs in ({}, {"left_by": "sym", "right_by": "qsym"}, {"tolerance": 15, "allow_exact_matches": False},
                   {"direction": "nearest", "suffixes": ("_l", "_r")}):
        got = dd.merge_asof(left, right, left_on="t", right_on="qt", **kwargs).compute()
        pd.testing.assert_frame_equal(got, pd.merge_asof(trades, quotes, left_on="t", right_on="qt", **kwargs))


def test_every_row_matched_keeps_int_columns():
    # no left row without a match: the right's int column stays int, as in pandas
    trades, quotes = _sides(2)
    trades = trades[trades.t >= quotes.t.min()]
    got = dd.merge_asof(dd.from_pandas(trades, npartitions=3, sort=False),
                        dd.from_pandas(quotes, npartitions=4, sort=False), on="t")
    expected = pd.merge_asof(trades, quotes, on="t")
    assert expected["size"].dtype == np.int64
    pd.testing.assert_frame_equal(got.compute(), expected)


def test_merge_asof_on_columns_bad_input():
    trades, quotes = _sides()
    left = dd.from_pandas(trades, npartitions=3, sort=False)
    right = dd.from_pandas(quotes, npartitions=3, sort=False)
    unsorted = dd.from_pandas(pd.concat([quotes.iloc[40:], quotes.iloc[:40]]), npartitions=2, sort=False)
    with pytest.raises(ValueError, match=r"the right side must be sorted on 't' across its partitions.*sort_values"):
        dd.merge_asof(left, unsorted, on="t")
    with pytest.raises(KeyError, match="merge_asof left key 'when' not found"):
        dd.merge_asof(left, right, left_on="when", right_on="t")
    with pytest.raises(NotImplementedError, match="reset_index"):
        dd.merge_asof(left, right.set_index("t", sorted=True), left_on="t", right_index=True)
    with pytest.raises(ValueError, match="give on= alone"):
        dd.merge_asof(left, right, on="t", left_on="t")


@pytest.mark.parametrize("direction", ["backward", "nearest"])
@pytest.mark.parametrize("empty_side", ["left", "right"])
def test_merge_asof_on_a_column_with_one_side_without_rows(empty_side, direction):
    # a side with no rows (filtered away, or built empty) still joins as in pandas: no row finds a match
    left = pd.DataFrame({"t": [1, 5, 10, 12, 20, 21], "g": list("abaabb"), "v": range(6)})
    right = pd.DataFrame({"t": [0, 2, 3, 6, 7, 11, 15, 19], "g": list("abababab"), "w": range(8)})
    lazy_left, lazy_right = dd.from_pandas(left, npartitions=3), dd.from_pandas(right, npartitions=2)
    if empty_side == "left":
        lazy_left, left = lazy_left[lazy_left.t > 100], left[left.t > 100]
    else:
        lazy_right, right = dd.from_pandas(right.iloc[:0], npartitions=1), right.iloc[:0]
    lazy = dd.merge_asof(lazy_left, lazy_right, on="t", by="g", direction=direction)
    pd.testing.assert_frame_equal(lazy.compute(scheduler="sync"),
                                  pd.merge_asof(left, right, on="t", by="g", direction=direction))
