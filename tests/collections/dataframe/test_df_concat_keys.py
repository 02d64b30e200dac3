"""``concat(..., keys=, names=)`` (``concat.py``): an index (or column) level per input frame, as in pandas."""

from __future__ import annotations

import pandas as pd
import pytest

import shoal.dataframe as dd

from conftest import PARTITIONINGS, partitioned


def _two_parts(pdf):
    """The first 25 rows with some columns, the rest with others (outer/inner joins differ)."""
    return pdf.iloc[:25][["i", "f", "s", "c"]], pdf.iloc[25:][["f", "t", "s", "n"]]


@pytest.mark.parametrize("how", PARTITIONINGS)
@pytest.mark.parametrize("join", ["outer", "inner"])
def test_keys_on_rows_match_pandas(pdf, how, join, local_scheduler):
    first, second = _two_parts(pdf)
    lazy = dd.concat([partitioned(first, how), partitioned(second, how), partitioned(first, how)],
                     keys=["a", "b", "c"], join=join)
    assert not lazy.known_divisions  # divisions of the old index do not bound the MultiIndex
    expected = pd.concat([first, second, first], keys=["a", "b", "c"], join=join)
    pd.testing.assert_frame_equal(lazy.compute(scheduler=local_scheduler), expected)


def test_mapping_of_frames_names_and_tuple_keys(pdf):
    first, second = _two_parts(pdf)
    frames = {"x": partitioned(first, "empty-parts"), "y": partitioned(second, "known")}
    expected = pd.concat({"x": first, "y": second}, names=["part", "row"])
    pd.testing.assert_frame_equal(dd.concat(frames, names=["part", "row"]).compute(), expected)
    # keys= picks (and orders) frames of the mapping
    pd.testing.assert_frame_equal(dd.concat(frames, keys=["y"]).compute(), pd.concat({"x": first, "y": second},
                                                                                      keys=["y"]))
    series = dd.concat([frames["x"].f, frames["y"].f], keys=[("p", 1), ("q", 2)])
    pd.testing.assert_series_equal(series.compute(), pd.concat([first.f, second.f], keys=[("p", 1), ("q", 2)]))


def test_keys_on_columns_match_pandas(pdf):
    df = dd.from_pandas(pdf, npartitions=3)
    lazy = dd.concat([df[["i", "f"]], df[["f", "s"]]], axis=1, keys=["left", "right"])
    pd.testing.assert_frame_equal(lazy.compute(), pd.concat([pdf[["i", "f"]], pdf[["f", "s"]]], axis=1,
                                                            keys=["left", "right"]))
    assert lazy.divisions == df.divisions  # the index is unchanged: still aligned partition by partition
    series = dd.concat([df.i, df.f], axis=1, keys=["p", "q"])
    pd.testing.assert_frame_equal(series.compute(), pd.concat([pdf.i, pdf.f], axis=1, keys=["p", "q"]))


def test_bad_keys_fail_as_pandas_does(pdf):
    first, second = _two_parts(pdf)
    a, b = dd.from_pandas(first, npartitions=2), dd.from_pandas(second, npartitions=2)
    for kwargs in ({"keys": ["only"]}, {"keys": ["a", "b"], "ignore_index": True}):
        with pytest.raises(ValueError) as expected:
            pd.concat([first, second], **kwargs)
        with pytest.raises(ValueError) as got:
            dd.concat([a, b], **kwargs)
        assert str(got.value) == str(expected.value)
    with pytest.raises(KeyError, match=r"keys \['z'\] are not in the mapping of frames; its keys are \['a', 'b'\]"):
        dd.concat({"a": a, "b": b}, keys=["a", "z"])
    with pytest.raises(ValueError, match="names= names the levels that keys= adds; give keys= too"):
        dd.concat([a, b], names=["src"])
    with pytest.raises(TypeError, match="every item must be a shoal DataFrame or Series, got int"):
        dd.concat([a, 3], keys=["a", "b"])
