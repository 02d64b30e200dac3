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
