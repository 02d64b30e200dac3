"""``describe`` of non-numeric and mixed columns (``describe.py``) against pandas."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as dd

from conftest import PARTITIONINGS, partitioned


@pytest.fixture
def mixed(pdf):
    """The conftest frame plus an object column, a column missing everywhere and one of tied values."""
    return pdf.assign(o=pdf["s"].astype(object), gone=pd.Series([None] * len(pdf), index=pdf.index, dtype=object),
                      tie=np.tile(["x", "y", "z", "w"], len(pdf) // 4))


SELECTIONS = [{}, {"include": "all"}, {"include": ["object"]}, {"include": ["category", "bool"]},
              {"exclude": ["number"]}, {"include": "all", "percentiles": [0.1, 0.9]}, {"include": ["str"]}]


def _pandas_describe(frame, **kwargs):
    with warnings.catch_warnings():  # pandas 3 warns that include=['object'] also picks 'str' columns
        warnings.simplefilter("ignore")
        return frame.describe(**kwargs)


@pytest.mark.parametrize("how", PARTITIONINGS)
@pytest.mark.parametrize("kwargs", SELECTIONS)
def test_frame_describe_matches_pandas(mixed, how, kwargs, local_scheduler):
    expected = _pandas_describe(mixed, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lazy = partitioned(mixed, how).describe(**kwargs)
    pd.testing.assert_frame_equal(lazy.compute(scheduler=local_scheduler), expected)


@pytest.mark.parametrize("how", PARTITIONINGS)
@pytest.mark.parametrize("column", ["s", "o", "c", "b", "t", "gone", "tie"])
def test_series_describe_matches_pandas(mixed, how, column):
    got = partitioned(mixed, how)[column].describe().compute()
    pd.testing.assert_series_equal(got, mixed[column].describe())


def test_top_on_a_tie_across_partitions_is_the_first_seen():
    # 'a' and 'b' are both seen twice; 'b' is more frequent in the first partition, 'a' is seen first
    values = pd.Series(["a", "b", "b", "c", "a"], dtype=object, name="v")
    lazy = dd.from_map(lambda part: part, [values.iloc[:3], values.iloc[3:]], meta=values.iloc[:0])
    pd.testing.assert_series_equal(lazy.describe().compute(), values.describe())
    pd.testing.assert_series_equal(lazy.value_counts().compute(), values.value_counts())


def test_describe_bad_selections(mixed):
    df = dd.from_pandas(mixed, npartitions=2)
    with pytest.raises(ValueError, match="exclude must be None when include is 'all'"):
        df.describe(include="all", exclude=["number"])
    with pytest.raises(ValueError, match=r"describe: no column matches include=\['timedelta'\]"):
        df.describe(include=["timedelta"])
    spans = dd.from_pandas(pd.DataFrame({"d": pd.to_timedelta(np.arange(4), unit="h")}), npartitions=2)
    with pytest.raises(NotImplementedError, match=r"timedelta columns are not summarized.*total_seconds"):
        spans.describe()
