"""The operations of sort_index, describe, ewm var, concat keys, rolling on, merge_asof on and merge
validate/sort run on the processes scheduler too (their task functions pickle)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal
import shoal.dataframe as dd


def test_new_operations_on_processes(pdf):
    data = pdf.iloc[np.random.default_rng(0).permutation(len(pdf))]
    df = dd.from_pandas(data, npartitions=3, sort=False)
    got = shoal.compute(df.sort_index(ascending=False), df.describe(include="all"), df.f.ewm(span=4).std(),
                     dd.concat([df, df], keys=["a", "b"]), df.groupby("k").s.nunique(dropna=False),
                     scheduler="processes")
    expected = (data.sort_index(ascending=False, kind="stable"), data.describe(include="all"),
                data.f.ewm(span=4).std(), pd.concat([data, data], keys=["a", "b"]),
                data.groupby("k").s.nunique(dropna=False))
    for a, b in zip(got, expected):
        if isinstance(b, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)
        else:
            pd.testing.assert_series_equal(a, b, check_exact=False, rtol=1e-9)


def test_merge_options_and_rolling_on_processes():
    left = pd.DataFrame({"t": np.arange(0, 40, 2), "k": np.arange(20) % 7, "x": np.arange(20.0)})
    left["when"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(left.t, unit="h")
    right = pd.DataFrame({"t": np.arange(1, 40, 3), "k": np.arange(13) % 5, "y": np.arange(13.0)})
    a, b = dd.from_pandas(left, npartitions=3, sort=False), dd.from_pandas(right, npartitions=2, sort=False)
    sorted_merge, asof, rolled = shoal.compute(a.merge(b, on="k", sort=True),
                                               dd.merge_asof(a, b, on="t", suffixes=("_l", "_r")),
                                               a.rolling("5h", on="when").sum(), scheduler="processes")
    pd.testing.assert_series_equal(sorted_merge.reset_index(drop=True).k, left.merge(right, on="k", sort=True).k)
    pd.testing.assert_frame_equal(asof, pd.merge_asof(left, right, on="t", suffixes=("_l", "_r")))
    pd.testing.assert_frame_equal(rolled, left.rolling("5h", on="when").sum())
    with pytest.raises(pd.errors.MergeError, match="not unique in right dataset"):
        a.merge(b, on="k", validate="many_to_one").compute(scheduler="processes")
