"""from_array and to_shoal_array / .values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal.array as sa
import shoal.dataframe as dd
from shoal.testing import assert_eq


def test_from_numpy_and_shoal_arrays():
    data = np.arange(60, dtype="float64").reshape(20, 3)
    assert_eq(dd.from_array(data, chunksize=7, columns=["a", "b", "c"]), pd.DataFrame(data, columns=["a", "b", "c"]))
    x = sa.from_array(data, chunks=(6, 2))
    df = dd.from_array(x, columns=["a", "b", "c"])
    assert df.npartitions == 4 and df.divisions == (0, 6, 12, 18, 19)
    assert_eq(df, pd.DataFrame(data, columns=["a", "b", "c"]))
    series = dd.from_array(sa.from_array(data[:, 0], chunks=5), columns="a")
    assert_eq(series, pd.Series(data[:, 0], name="a"))
    with pytest.raises(ValueError, match="column names"):
        dd.from_array(x, columns=["a"])


def test_to_shoal_array_and_values(frames):
    pdf, df = frames
    numeric = ["i", "f", "k"]
    arr = df[numeric].to_shoal_array()
    assert arr.chunks[0] == tuple(len(df.partitions[i].compute()) for i in range(df.npartitions))
    np.testing.assert_array_equal(arr.compute(), pdf[numeric].to_numpy())
    np.testing.assert_array_equal(df.f.values.compute(), pdf.f.to_numpy())
    with pytest.raises(NotImplementedError, match="lengths=True"):
        df.to_shoal_array(lengths=False)
