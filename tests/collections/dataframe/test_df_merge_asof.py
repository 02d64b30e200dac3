"""``merge_asof`` (``merge_asof.py``) compared with pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as dd
from shoal.testing import assert_eq


def _sides(seed=0):
    rng = np.random.default_rng(seed)
    quotes = pd.DataFrame({"sym": rng.choice(["a", "b", "c"], 80), "bid": rng.normal(size=80)},
                          index=pd.Index(np.sort(rng.choice(1000, 80, replace=False)), name="t"))
    trades = pd.DataFrame({"sym": rng.choice(["a", "b", "c", "d"], 50), "qty": rng.integers(1, 9, 50)},
                          index=pd.Index(np.sort(rng.choice(np.arange(-20, 1100), 50, replace=False)), name="t"))
    return trades, quotes


@pytest.mark.parametrize("direction", ["backward", "forward", "nearest"])
@pytest.mark.parametrize("by", [None, "sym"])
@pytest.mark.parametrize("parts", [(3, 5), (7, 2), (1, 4)])
def test_merge_asof_matches_pandas(direction, by, parts, local_scheduler):
    trades, quotes = _sides()
    left, right = dd.from_pandas(trades, npartitions=parts[0]), dd.from_pandas(quotes, npartitions=parts[1])
    kwargs = {"direction": direction, "by": by}
    result = dd.merge_asof(left, right, left_index=True, right_index=True, **kwargs)
    assert result.known_divisions
    expected = pd.merge_asof(trades, quotes, left_index=True, right_index=True, **kwargs)
    assert_eq(result, expected, scheduler=local_scheduler)


def test_merge_asof_tolerance_and_exact_matches():
    trades, quotes = _sides(1)
    left, right = dd.from_pandas(trades, npartitions=4), dd.from_pandas(quotes, npartitions=3)
    kwargs = {"tolerance": 15, "allow_exact_matches": False}
    assert_eq(dd.merge_asof(left, right, left_index=True, right_index=True, **kwargs),
              pd.merge_asof(trades, quotes, left_index=True, right_index=True, **kwargs))


def test_merge_asof_refuses_what_it_cannot_do():
    trades, quotes = _sides()
    left, right = dd.from_pandas(trades, npartitions=2), dd.from_pandas(quotes, npartitions=2)
    # on= naming both indexes merges on them as columns, as pandas (test_df_merge_asof_on.py has column keys)
    assert_eq(dd.merge_asof(left, right, on="t"), pd.merge_asof(trades, quotes, on="t"))
    with pytest.raises(ValueError, match="unknown divisions"):
        dd.merge_asof(dd.from_pandas(trades, npartitions=2, sort=False), right, left_index=True, right_index=True)


def test_merge_asof_with_a_pandas_side():
    trades, quotes = _sides(2)
    left = dd.from_pandas(trades, npartitions=3)
    assert_eq(dd.merge_asof(left, quotes, left_index=True, right_index=True, by="sym"),
              pd.merge_asof(trades, quotes, left_index=True, right_index=True, by="sym"))
    assert_eq(dd.merge_asof(trades, dd.from_pandas(quotes, npartitions=4), left_index=True, right_index=True),
              pd.merge_asof(trades, quotes, left_index=True, right_index=True))
