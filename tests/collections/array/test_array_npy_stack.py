"""to_npy_stack / from_npy_stack round trips."""

from __future__ import annotations

import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

A = np.arange(60.0).reshape(6, 10)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_round_trip(tmp_path, axis, sched):
    x = sa.from_array(A, chunks=(4, 3))
    to_dir = tmp_path / "stack"
    sa.to_npy_stack(str(to_dir), x, axis=axis, scheduler=sched)
    files = sorted(p.name for p in to_dir.iterdir())
    assert files == sorted([f"{i}.npy" for i in range(x.numblocks[axis])] + ["info.json"])
    y = sa.from_npy_stack(str(to_dir))
    assert y.chunks[axis] == x.chunks[axis] and y.dtype == x.dtype
    assert_eq(y, A, scheduler=sched)
    assert_eq(y[1:4].sum(axis=0), A[1:4].sum(axis=0), scheduler=sched)
    np.testing.assert_array_equal(np.load(to_dir / "0.npy"), A[:4] if axis == 0 else A[:, :3])


def test_missing_directory_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="to_npy_stack"):
        sa.from_npy_stack(str(tmp_path))


def test_unknown_block_lengths_are_refused_before_writing(tmp_path):
    x = sa.from_array(np.arange(12.0).reshape(3, 4), chunks=2)
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        sa.to_npy_stack(str(tmp_path / "stack"), x[x > 3])
    assert not (tmp_path / "stack").exists()
