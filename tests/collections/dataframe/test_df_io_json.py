"""read_json / to_json (line-delimited)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as dd
from shoal.testing import assert_eq


def _table(n=200):
    rng = np.random.default_rng(4)
    return pd.DataFrame({"a": rng.integers(0, 50, n), "f": rng.normal(size=n), "s": rng.choice(["u", "v"], n)})


@pytest.mark.parametrize("blocksize", [None, 700])
def test_json_lines_roundtrip(tmp_path, blocksize):
    pdf = _table()
    files = dd.from_pandas(pdf, npartitions=3).to_json(str(tmp_path / "out-*.jsonl"))
    assert len(files) == 3
    df = dd.read_json(str(tmp_path / "out-*.jsonl"), blocksize=blocksize)
    if blocksize:
        assert df.npartitions > 3
    expected = pd.concat([pd.read_json(f, lines=True) for f in files], ignore_index=True)
    pd.testing.assert_frame_equal(df.compute().reset_index(drop=True), expected)
    assert_eq(df.a.sum(), pdf.a.sum())
    with pytest.raises(ValueError, match="lines=True"):
        dd.read_json(files, lines=False, blocksize=100)


@pytest.mark.parametrize("blocksize", [None, 300])
def test_empty_partitions_write_empty_files_that_read_back(tmp_path, blocksize):
    # an empty first file gave a meta without columns, and an empty file later failed the meta check
    pdf = _table(60)
    df = dd.from_pandas(pdf, npartitions=4)
    kept = df[(df.a < 20) & (df.index >= 20)]  # the first partition is left empty
    files = kept.to_json(str(tmp_path / "out-*.jsonl"))
    assert len(files) == 4
    back = dd.read_json(str(tmp_path / "out-*.jsonl"), blocksize=blocksize)
    expected = pdf[(pdf.a < 20) & (pdf.index >= 20)].reset_index(drop=True)
    pd.testing.assert_frame_equal(back.compute().reset_index(drop=True), expected)
    assert list(back.columns) == list(pdf.columns)
