"""Dataframe read_parquet using 2 of 10 columns: ``(df.c0 + df.c1).sum()`` on threads.

A dataset of ``size * 250`` rows (5M at the runner's default size of 20,000)
by 10 float64 columns in 20 files is written once, untimed, into a cache
directory under the system's temporary directory
(``shoal-bench-parquet-<size>``). The timed part reads it and sums two
columns: both libraries push the projection into the reader, so the bytes
read are those of 2 columns of 10. The answer is the sum computed in numpy
from the same generator, rounded.

>>> round(expected_sum(2, 100), 6) == round(float(sum(partition_columns(0, 100)[0]) + sum(partition_columns(0, 100)[1]) + sum(partition_columns(1, 100)[0]) + sum(partition_columns(1, 100)[1])), 6)
True
"""

from __future__ import annotations

import importlib
import os
import tempfile
from typing import Any

import numpy as np

from .base import BenchmarkCase

FILES = 20
COLUMNS = 10
ROWS_PER_SIZE_UNIT = 250


def partition_columns(i: int, rows: int) -> list:
    rng = np.random.default_rng(1000 + i)
    return [rng.random(rows) for _ in range(COLUMNS)]


def expected_sum(files: int, rows: int) -> float:
    total = 0.0
    for i in range(files):
        cols = partition_columns(i, rows)
        total += float(cols[0].sum() + cols[1].sum())
    return total


def write_dataset(directory: str, rows: int) -> None:
    import pandas as pd

    os.makedirs(directory, exist_ok=True)
    for i in range(FILES):
        frame = pd.DataFrame({f"c{j}": col for j, col in enumerate(partition_columns(i, rows))})
        frame.to_parquet(os.path.join(directory, f"part.{i:03d}.parquet"), index=False)
    open(os.path.join(directory, "_complete"), "w").close()


def sum_two_columns(lib: Any, path: str) -> float:
    dd = importlib.import_module(f"{lib.__name__}.dataframe")
    df = dd.read_parquet(path)
    return round(float((df.c0 + df.c1).sum().compute(scheduler="threads")), 3)


class ParquetTwoColumnsCase(BenchmarkCase):
    name = "dataframe-read-parquet-2-of-10-columns-threads"

    def _directory(self, size: int) -> str:
        return os.path.join(tempfile.gettempdir(), f"shoal-bench-parquet-{size}")

    def setup(self, lib: str, size: int) -> None:
        super().setup(lib, size)
        self.path = self._directory(size)
        if not os.path.exists(os.path.join(self.path, "_complete")):
            write_dataset(self.path, self._rows(size))

    def _rows(self, size: int) -> int:
        return max(size * ROWS_PER_SIZE_UNIT // FILES, 1)

    def task_count(self, size: int) -> int:
        return FILES

    def workload(self, lib: Any) -> float:
        return sum_two_columns(lib, self.path)

    def expected(self, size: int) -> float:
        return round(expected_sum(FILES, self._rows(size)), 3)


def cases() -> list[BenchmarkCase]:
    return [ParquetTwoColumnsCase()]
