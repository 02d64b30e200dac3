"""Arrays: rechunk a stored ``size x size`` float64 array from row blocks to column blocks, peak memory checked.

At the runner's default size (20,000) the array is 3.2 GB, stored as a raw
row-major file in the temp directory (written once, untimed, and cached) and
read through ``RawArrayFile``, a minimal array-like that reads with
``pread`` (a memory map would count every page a strided read faults in, and
its neighbours, as resident memory). The workload opens it in
row blocks (``size // 20`` rows by every column, 160 MB), rechunks to column
blocks (every row by ``size // 20`` columns) and sums each column block on
the threads scheduler.

``x[i, j] = i + j``, so the sum of all entries is ``size**2 * (size - 1)``
(exact in float64: every partial sum is an integer below 2**53). The
workload returns ``(total, peak_under_budget)``: the second item is True
when the process never held more than 2 GB (``ru_maxrss``, interpreter and
libraries included), the issue's budget for this case. (Dask 2026.8 reads
whole row blocks and splits them, holding most of the array at once: its
runs exceed the budget and are listed as wrong results, after the times.)

>>> rows_to_columns_sum(_NumpyArrays, _small_file(), "sync")[0] == 16**2 * 15
True
"""

from __future__ import annotations

import importlib
import os
import tempfile
from typing import Any

import numpy as np

from .array_random_sum import peak_rss_bytes
from .base import BenchmarkCase

PEAK_BUDGET_BYTES = 2e9


class RawArrayFile:
    """A 2-d float64 array stored row-major in a raw file, readable by slicing (``x[rows, cols]``).

    >>> reader = _small_file()
    >>> reader.shape, reader[1:3, 2:4].tolist()
    ((16, 16), [[3.0, 4.0], [4.0, 5.0]])
    """

    dtype = np.dtype(np.float64)

    def __init__(self, path: str, side: int):
        self.path = path
        self.shape = (side, side)
        self.ndim = 2

    def __getitem__(self, index: tuple) -> np.ndarray:
        """Read a block with ``pread`` (no mapping: only the block's own bytes become resident)."""
        if not (isinstance(index, tuple) and len(index) == 2 and all(isinstance(i, slice) for i in index)):
            raise IndexError(f"RawArrayFile reads (rows, columns) slices only, got {index!r}")
        (r0, r1, rstep), (c0, c1, cstep) = (i.indices(n) for i, n in zip(index, self.shape))
        if rstep != 1 or cstep != 1:
            raise IndexError(f"RawArrayFile reads contiguous slices only, got {index!r}")
        side, size = self.shape[1], self.dtype.itemsize
        out = np.empty((max(r1 - r0, 0), max(c1 - c0, 0)), dtype=self.dtype)
        if out.size == 0:
            return out
        fd = os.open(self.path, os.O_RDONLY)
        try:
            if c0 == 0 and c1 == side:  # whole rows: one contiguous read
                _read_exact(fd, out.reshape(-1), r0 * side * size)
            else:
                for k, row in enumerate(range(r0, r1)):
                    _read_exact(fd, out[k], (row * side + c0) * size)
        finally:
            os.close(fd)
        return out


def _read_exact(fd: int, target: np.ndarray, offset: int) -> None:
    view = memoryview(target).cast("B")
    done = 0
    while done < len(view):  # pread may return less than asked (Linux caps one call near 2 GB)
        n = os.preadv(fd, [view[done:]], offset + done)
        if n <= 0:
            raise EOFError(f"RawArrayFile: the file ends at byte {offset + done}")
        done += n


def write_array_file(path: str, side: int) -> None:
    """Write ``x[i, j] = i + j`` row block by row block (at most ~100 MB in memory at once)."""
    rows_per_write = max(1, 12_500_000 // max(side, 1))
    columns = np.arange(side, dtype=np.float64)
    partial = path + ".partial"
    with open(partial, "wb") as f:
        for start in range(0, side, rows_per_write):
            rows = np.arange(start, min(start + rows_per_write, side), dtype=np.float64)
            f.write(np.add.outer(rows, columns).tobytes())
    os.replace(partial, path)  # a half-written file from an interrupted run is never reused


def rows_to_columns_sum(array_module: Any, reader: RawArrayFile, scheduler: str) -> tuple:
    side = reader.shape[0]
    block = max(side // 20, 1)
    x = array_module.from_array(reader, chunks=(block, side))
    total = float(x.rechunk((side, block)).sum(axis=0).sum().compute(scheduler=scheduler))
    return total, peak_rss_bytes() < PEAK_BUDGET_BYTES


class RechunkRowsToColumnsCase(BenchmarkCase):
    name = "array-rechunk-rows-to-columns-threads"

    def task_count(self, size: int) -> int:
        import shoal.array as sa
        from shoal.taskgraph.protocol import collections_to_graph

        block = max(size // 20, 1)
        x = sa.from_array(RawArrayFile(os.devnull, size), chunks=(block, size))
        graph, _ = collections_to_graph([x.rechunk((size, block)).sum(axis=0).sum()])
        return len(graph)

    def setup(self, lib: str, size: int) -> None:
        super().setup(lib, size)
        self.array_module = importlib.import_module(f"{lib}.array")
        path = os.path.join(tempfile.gettempdir(), f"shoal-bench-rechunk-{size}.f8")
        if not os.path.exists(path) or os.path.getsize(path) != size * size * 8:
            write_array_file(path, size)
        self.reader = RawArrayFile(path, size)

    def workload(self, lib: Any) -> tuple:
        return rows_to_columns_sum(self.array_module, self.reader, "threads")

    def expected(self, size: int) -> tuple:
        return (float(size * size * (size - 1)), True)


def cases() -> list[BenchmarkCase]:
    return [RechunkRowsToColumnsCase()]


def _small_file() -> RawArrayFile:
    path = os.path.join(tempfile.mkdtemp(), "small.f8")
    write_array_file(path, 16)
    return RawArrayFile(path, 16)


class _NumpyArrays:
    """NumPy dressed as an array module, eagerly, for the doctest."""

    class _Eager:
        def __init__(self, value):
            self.value = value

        def rechunk(self, chunks):
            return self

        def sum(self, axis=None):
            return _NumpyArrays._Eager(self.value.sum(axis=axis))

        def compute(self, scheduler=None):
            return self.value

    @staticmethod
    def from_array(reader, chunks):
        return _NumpyArrays._Eager(reader[:, :])
