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


@pytest.mark.parametrize("npartitions", [1, 3])
def test_values_of_timezone_aware_and_nullable_columns(npartitions):
    # as pandas' .values gave: a timezone-aware column as UTC datetime64 (pandas now deprecates that for
    # tz_convert(None).to_numpy()), a nullable one with missing values as float64 (NaN) or object (booleans);
    # nullable columns are float64/object in every block, whatever a partition holds
    pdf = pd.DataFrame({
        "when": pd.date_range("2024-03-30", periods=6, freq="11h", tz="Europe/Paris"),
        "count": pd.array([1, 2, 3, 4, 5, None], dtype="Int64"),
        "share": pd.array([0.5, None, 1.5, 2.0, 2.5, 3.0], dtype="Float64"),
        "flag": pd.array([True, None, False, True, False, True], dtype="boolean"),
    }, index=pd.date_range("2024-03-30", periods=6, freq="11h", tz="Europe/Paris"))
    df = dd.from_pandas(pdf, npartitions=npartitions)
    expected_values = {"when": pdf.when.dt.tz_convert(None).to_numpy(), "count": np.asarray(pdf["count"].array),
                       "share": np.asarray(pdf.share.array), "flag": np.asarray(pdf.flag.array)}
    assert [expected_values[c].dtype.kind for c in pdf.columns] == ["M", "f", "f", "O"]
    for column in pdf.columns:
        expected = expected_values[column]
        result = df[column].values
        assert result.dtype == expected.dtype, column
        computed = result.compute()
        assert computed.dtype == expected.dtype, column
        missing = pd.isna(expected)  # pd.NA in object arrays compares to nothing: check where it is, then the rest
        np.testing.assert_array_equal(pd.isna(computed), missing)
        np.testing.assert_array_equal(computed[~missing], expected[~missing])
    index_values = pdf.index.tz_convert(None).to_numpy()
    np.testing.assert_array_equal(df.index.values.compute(), index_values)
    assert df.index.values.dtype == index_values.dtype
    frame_values = df.values.compute()
    assert frame_values.dtype == object and frame_values.shape == pdf.shape
    assert pd.DataFrame(frame_values, columns=pdf.columns).equals(pd.DataFrame(pdf.values, columns=pdf.columns))
