"""zarr read/write: round trips compared with the NumPy data written, on every scheduler."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

import shoal.array as sa
from shoal.testing import assert_eq


@pytest.mark.parametrize("chunks", [3, (1, 4), ((2, 5, 1), (7,))])
def test_round_trip_keeps_values_and_lays_out_zarr_chunks(tmp_path, chunks, sched):
    data = np.arange(56.0).reshape(8, 7) / 3
    x = sa.from_array(data, chunks=chunks)
    path = str(tmp_path / "a.zarr")
    sa.to_zarr(x, path, scheduler=sched)
    written = zarr.open_array(path, mode="r")
    np.testing.assert_array_equal(written[:], data)
    assert written.chunks == tuple(max(c) for c in x.chunks)
    back = sa.from_zarr(path)
    assert back.chunks == sa.from_array(data, chunks=written.chunks).chunks
    assert_eq(back, data, scheduler=sched)
    assert_eq(sa.from_zarr(path, chunks=(5, 2)).sum(axis=0), data.sum(axis=0), scheduler=sched)


@pytest.mark.parametrize("dtype", ["i4", "bool", "complex128", "M8[s]"])
def test_dtypes_survive(tmp_path, dtype):
    data = (np.arange(12) % 5).astype(dtype).reshape(3, 4)
    path = str(tmp_path / "d.zarr")
    sa.to_zarr(sa.from_array(data, chunks=2), path)
    assert sa.from_zarr(path).dtype == data.dtype
    assert_eq(sa.from_zarr(path), data)


def test_component_inside_a_group_and_a_zarr_array_object(tmp_path):
    data = np.linspace(0, 1, 30).reshape(5, 6)
    path = str(tmp_path / "g.zarr")
    sa.to_zarr(sa.from_array(data, chunks=(2, 3)), path, component="group/values")
    assert_eq(sa.from_zarr(path, component="group/values"), data)
    z = zarr.open_array(path, path="group/values", mode="r")
    assert_eq(sa.from_zarr(z) * 2, data * 2)
    with pytest.raises(ValueError, match="component"):
        sa.from_zarr(z, component="other")


def test_writing_into_an_existing_zarr_array_and_lazily(tmp_path):
    data = np.arange(20).reshape(4, 5)
    target = zarr.create_array(store=str(tmp_path / "t.zarr"), shape=(4, 5), chunks=(2, 2), dtype="i8")
    # shoal blocks (3, 5) do not match zarr chunks (2, 2): they are recut so no chunk is written twice
    writer = sa.to_zarr(sa.from_array(data, chunks=(3, 5)), target, compute=False)
    assert np.all(target[:] == 0)
    writer.compute(scheduler="threads")
    np.testing.assert_array_equal(target[:], data)
    with pytest.raises(ValueError, match=r"shape \(2, 2\).*\(4, 5\)"):
        sa.to_zarr(sa.ones((2, 2), chunks=1), target)


def test_clear_errors(tmp_path):
    path = str(tmp_path / "e.zarr")
    sa.to_zarr(sa.ones(4, chunks=2), path)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        sa.to_zarr(sa.zeros(4, chunks=2), path)
    sa.to_zarr(sa.zeros(3, chunks=2), path, overwrite=True)
    assert_eq(sa.from_zarr(path), np.zeros(3))
    with pytest.raises(FileNotFoundError, match="no zarr array"):
        sa.from_zarr(str(tmp_path / "missing.zarr"))
    x = sa.from_array(np.arange(6), chunks=2)
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        sa.to_zarr(x[x > 2], str(tmp_path / "u.zarr"))


def test_processes_scheduler_reads_and_writes(tmp_path):
    data = np.arange(30.0).reshape(6, 5)
    path = str(tmp_path / "p.zarr")
    sa.to_zarr(sa.from_array(data, chunks=(2, 5)) + 1, path, scheduler="processes")
    assert_eq(sa.from_zarr(path).sum(), (data + 1).sum(), scheduler="processes")
