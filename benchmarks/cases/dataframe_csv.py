"""Dataframe read_csv then groupby: ``read_csv(files).groupby('k').x.sum()`` on threads.

``size * 50 kB`` of CSV (1 GB at the runner's default size of 20,000) in 16
files of three integer columns (``k`` with 1,000 groups, ``x``, ``y``) is
written once, untimed, into a cache directory under the system's temporary
directory (``shoal-bench-csv-<size>``), with the expected answer computed
while writing it. Both libraries read with their default block size.

>>> rows_for(20)
3906
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
from typing import Any

import numpy as np

from .base import BenchmarkCase

FILES = 16
GROUPS = 1_000
BYTES_PER_SIZE_UNIT = 50_000
BYTES_PER_ROW = 16  # about: "123,45678,91011\n"


def rows_for(size: int) -> int:
    """Rows per file for ``size``."""
    return max(size * BYTES_PER_SIZE_UNIT // BYTES_PER_ROW // FILES, 1)


def generate(directory: str, size: int) -> list:
    import pandas as pd

    os.makedirs(directory, exist_ok=True)
    totals = np.zeros(GROUPS, dtype=np.int64)
    rows = rows_for(size)
    for i in range(FILES):
        rng = np.random.default_rng(500 + i)
        frame = pd.DataFrame({"k": rng.integers(0, GROUPS, rows), "x": rng.integers(0, 100_000, rows),
                              "y": rng.integers(0, 100_000, rows)})
        totals += np.bincount(frame.k.to_numpy(), weights=frame.x.to_numpy(), minlength=GROUPS).astype(np.int64)
        frame.to_csv(os.path.join(directory, f"part-{i:03d}.csv"), index=False)
    return [[k, int(t)] for k, t in enumerate(totals) if t]


def group_sums(lib: Any, pattern: str) -> list:
    dd = importlib.import_module(f"{lib.__name__}.dataframe")
    result = dd.read_csv(pattern).groupby("k").x.sum().compute(scheduler="threads").sort_index()
    return [[int(k), int(v)] for k, v in result.items()]


class CSVGroupbyCase(BenchmarkCase):
    name = "dataframe-read-csv-groupby-threads"

    def _directory(self, size: int) -> str:
        return os.path.join(tempfile.gettempdir(), f"shoal-bench-csv-{size}")

    def setup(self, lib: str, size: int) -> None:
        super().setup(lib, size)
        directory = self._directory(size)
        answer = os.path.join(directory, "expected.json")
        if not os.path.exists(answer):
            expected = generate(directory, size)
            with open(answer + ".tmp", "w") as f:
                json.dump(expected, f)
            os.replace(answer + ".tmp", answer)  # written last: its presence means the data is complete
        self.pattern = os.path.join(directory, "part-*.csv")

    def task_count(self, size: int) -> int | None:
        return None

    def workload(self, lib: Any) -> list:
        return group_sums(lib, self.pattern)

    def expected(self, size: int) -> list:
        with open(os.path.join(self._directory(size), "expected.json")) as f:
            return json.load(f)


def cases() -> list[BenchmarkCase]:
    return [CSVGroupbyCase()]
