"""Dataframe groupby-aggregate: ``groupby('k').x.agg(['sum', 'mean', 'count'])`` on threads.

``size * 1,000`` rows (20M at the runner's default size of 20,000) in 20
partitions of int64 keys (1,000 groups) and int64 values, built in setup
(untimed) and kept in this module, so the timed part is building the plan
over the pre-built partitions (``from_map`` of a lookup, which both libraries
tokenize by the function's name) and computing it. Integer values keep sums
and counts exact; the means are compared rounded to 6 decimals.

>>> frame = make_partition(0, 1000)
>>> len(frame), frame.k.nunique() <= GROUPS
(1000, True)
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from .base import BenchmarkCase

GROUPS = 1_000
PARTITIONS = 20
ROWS_PER_SIZE_UNIT = 1_000

_PARTS: list = []  # the pre-built partitions, shared by the threads


def make_partition(i: int, rows: int):
    import pandas as pd

    rng = np.random.default_rng(i)
    return pd.DataFrame({"k": rng.integers(0, GROUPS, rows), "x": rng.integers(0, 100, rows)})


def get_partition(i: int):
    return _PARTS[i]


def summarize(result) -> list:
    """``[(key, sum, mean rounded, count), ...]`` sorted by key: plain Python, comparable with ``==``."""
    result = result.sort_index()
    return [(int(k), int(s), round(float(m), 6), int(c))
            for k, s, m, c in zip(result.index, result["sum"], result["mean"], result["count"])]


def groupby_agg(lib: Any, meta) -> list:
    dd = importlib.import_module(f"{lib.__name__}.dataframe")
    df = dd.from_map(get_partition, list(range(len(_PARTS))), meta=meta)
    result = df.groupby("k").x.agg(["sum", "mean", "count"]).compute(scheduler="threads")
    return summarize(result)


class GroupbyAggCase(BenchmarkCase):
    name = "dataframe-groupby-agg-threads"

    def setup(self, lib: str, size: int) -> None:
        super().setup(lib, size)
        rows = max(size * ROWS_PER_SIZE_UNIT // PARTITIONS, 1)
        _PARTS[:] = [make_partition(i, rows) for i in range(PARTITIONS)]
        self.meta = _PARTS[0].iloc[:0]

    def task_count(self, size: int) -> int:
        return PARTITIONS

    def workload(self, lib: Any) -> list:
        return groupby_agg(lib, self.meta)

    def expected(self, size: int) -> list:
        import pandas as pd

        whole = pd.concat(_PARTS)
        return summarize(whole.groupby("k").x.agg(["sum", "mean", "count"]))


def cases() -> list[BenchmarkCase]:
    return [GroupbyAggCase()]
