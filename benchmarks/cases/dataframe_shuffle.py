"""Dataframe shuffles on threads: ``set_index`` on a random int column, a hash merge, a broadcast merge.

Partitions are built in setup (untimed) and kept in this module; the timed
part builds the plan over them (``from_map`` of a lookup) and computes a
small per-partition summary of the result (rows, key min/max), so neither
library pays for concatenating tens of millions of rows into one frame.

- ``dataframe-set-index-threads``: ``size * 1,000`` rows (20M at the default
  size) in 20 partitions, ``set_index('x')`` on uniformly random int64 keys;
  checked: every row is there and the partitions are sorted and ordered.
- ``dataframe-merge-hash-threads``: two frames of ``size * 250`` rows (5M)
  in 20 partitions each, keys a permutation of ``range(rows)`` on both
  sides, inner merge on the key (neither side is small: a hash join in both
  libraries); checked: rows and the sum of both value columns.
- ``dataframe-merge-broadcast-threads``: ``size * 1,000`` rows (20M) in 20
  partitions merged with a 1,000-row frame in one partition on a key in
  ``range(1000)``; checked the same way.
- ``dataframe-sort-values-threads``: ``size * 500`` rows (10M) in 20
  partitions, ``sort_values('x')`` on random int64; checked like set_index
  (on the column).
- ``dataframe-rolling-threads``: ``size * 1,000`` rows (20M) in 20
  partitions, ``v.rolling(100).sum()`` (ints, so sums are exact); checked:
  the total of the windowed sums against NumPy.

>>> part = make_keys(0, 10)
>>> summarize_parts([part_summary(part.sort_values("x"), "x")]) == (10, int(part.v.sum()), True)
True
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from .base import BenchmarkCase

PARTITIONS = 20
SMALL_ROWS = 1_000

_LEFT: list = []
_RIGHT: list = []


def make_keys(i: int, rows: int, high: int | None = None):
    import pandas as pd

    rng = np.random.default_rng(i)
    return pd.DataFrame({"x": rng.integers(0, high or 2**62, rows), "v": rng.integers(0, 100, rows)})


def get_left(i: int):
    return _LEFT[i]


def get_right(i: int):
    return _RIGHT[i]


def part_summary(part, key):
    import pandas as pd

    keys = part.index if key is None else part[key]
    return pd.DataFrame({"rows": [len(part)], "low": [keys.min() if len(part) else 0],
                         "high": [keys.max() if len(part) else 0], "sorted": [bool(keys.is_monotonic_increasing)],
                         "total": [int(part.select_dtypes("number").drop(columns=[key] if key else []).sum().sum())]})


def summarize_parts(summaries) -> tuple:
    """(rows, value total, partitions sorted and ordered) from the per-partition summaries."""
    import pandas as pd

    table = pd.concat(summaries, ignore_index=True) if isinstance(summaries, list) else summaries
    table = table[table["rows"] > 0]
    ordered = bool(table["sorted"].all()) and bool((table["low"].to_numpy()[1:] >= table["high"].to_numpy()[:-1]).all())
    return int(table["rows"].sum()), int(table["total"].sum()), ordered


_SUMMARY_META = {"rows": "int64", "low": "int64", "high": "int64", "sorted": "bool", "total": "int64"}


def set_index(lib: Any, meta) -> tuple:
    dd = importlib.import_module(f"{lib.__name__}.dataframe")
    df = dd.from_map(get_left, list(range(len(_LEFT))), meta=meta)
    out = df.set_index("x").map_partitions(part_summary, None, meta=_SUMMARY_META)
    return summarize_parts(out.compute(scheduler="threads"))


def merge(lib: Any, left_meta, right_meta) -> tuple:
    dd = importlib.import_module(f"{lib.__name__}.dataframe")
    left = dd.from_map(get_left, list(range(len(_LEFT))), meta=left_meta)
    right = dd.from_map(get_right, list(range(len(_RIGHT))), meta=right_meta)
    out = left.merge(right, on="x").map_partitions(part_summary, "x", meta=_SUMMARY_META)
    rows, total, _ = summarize_parts(out.compute(scheduler="threads"))
    return rows, total


class SetIndexCase(BenchmarkCase):
    name = "dataframe-set-index-threads"

    def setup(self, lib: str, size: int) -> None:
        super().setup(lib, size)
        rows = max(size * 1_000 // PARTITIONS, 1)
        _LEFT[:] = [make_keys(i, rows) for i in range(PARTITIONS)]
        self.meta = _LEFT[0].iloc[:0]

    def task_count(self, size: int) -> int:
        return PARTITIONS

    def workload(self, lib: Any) -> tuple:
        return set_index(lib, self.meta)

    def expected(self, size: int) -> tuple:
        return sum(len(p) for p in _LEFT), int(sum(int(p.v.sum()) for p in _LEFT)), True


def _permuted(seed: int, rows: int, parts: int, value_name: str):
    import pandas as pd

    keys = np.random.default_rng(seed).permutation(rows)
    values = np.arange(rows) % 100
    bounds = [i * rows // parts for i in range(parts + 1)]
    return [pd.DataFrame({"x": keys[a:b], value_name: values[a:b]}) for a, b in zip(bounds[:-1], bounds[1:])]


class HashMergeCase(BenchmarkCase):
    name = "dataframe-merge-hash-threads"

    def setup(self, lib: str, size: int) -> None:
        super().setup(lib, size)
        rows = max(size * 250, PARTITIONS)
        _LEFT[:] = _permuted(1, rows, PARTITIONS, "v")
        _RIGHT[:] = _permuted(2, rows, PARTITIONS, "w")
        self.metas = (_LEFT[0].iloc[:0], _RIGHT[0].iloc[:0])

    def task_count(self, size: int) -> int:
        return PARTITIONS * 2

    def workload(self, lib: Any) -> tuple:
        return merge(lib, *self.metas)

    def expected(self, size: int) -> tuple:
        rows = sum(len(p) for p in _LEFT)
        return rows, int(sum(int(p.v.sum()) for p in _LEFT) + sum(int(p.w.sum()) for p in _RIGHT))


class BroadcastMergeCase(BenchmarkCase):
    name = "dataframe-merge-broadcast-threads"

    def setup(self, lib: str, size: int) -> None:
        import pandas as pd

        super().setup(lib, size)
        rows = max(size * 1_000 // PARTITIONS, 1)
        _LEFT[:] = [make_keys(i, rows, high=SMALL_ROWS) for i in range(PARTITIONS)]
        _RIGHT[:] = [pd.DataFrame({"x": np.arange(SMALL_ROWS), "w": np.arange(SMALL_ROWS) % 7})]
        self.metas = (_LEFT[0].iloc[:0], _RIGHT[0].iloc[:0])

    def task_count(self, size: int) -> int:
        return PARTITIONS

    def workload(self, lib: Any) -> tuple:
        return merge(lib, *self.metas)

    def expected(self, size: int) -> tuple:
        rows = sum(len(p) for p in _LEFT)
        weights = _RIGHT[0].set_index("x").w
        total = sum(int(p.v.sum()) + int(weights.reindex(p.x).sum()) for p in _LEFT)
        return rows, total


def sort_values(lib: Any, meta) -> tuple:
    dd = importlib.import_module(f"{lib.__name__}.dataframe")
    df = dd.from_map(get_left, list(range(len(_LEFT))), meta=meta)
    out = df.sort_values("x").map_partitions(part_summary, "x", meta=_SUMMARY_META)
    return summarize_parts(out.compute(scheduler="threads"))


class SortValuesCase(SetIndexCase):
    name = "dataframe-sort-values-threads"

    def setup(self, lib: str, size: int) -> None:
        BenchmarkCase.setup(self, lib, size)
        rows = max(size * 500 // PARTITIONS, 1)
        _LEFT[:] = [make_keys(i, rows) for i in range(PARTITIONS)]
        self.meta = _LEFT[0].iloc[:0]

    def workload(self, lib: Any) -> tuple:
        return sort_values(lib, self.meta)


WINDOW = 100


def _window_total(part):
    import pandas as pd

    return pd.DataFrame({"total": [int(part.sum())], "rows": [len(part)]})


def rolling(lib: Any, meta) -> tuple:
    dd = importlib.import_module(f"{lib.__name__}.dataframe")
    starts = [int(p.index[0]) for p in _LEFT]
    divisions = starts + [int(_LEFT[-1].index[-1])]  # Dask rolls only over known divisions
    df = dd.from_map(get_left, list(range(len(_LEFT))), meta=meta, divisions=divisions)
    sums = df.v.rolling(WINDOW).sum()
    table = sums.map_partitions(_window_total, meta={"total": "int64", "rows": "int64"}).compute(scheduler="threads")
    return int(table["total"].sum()), int(table["rows"].sum())


class RollingCase(SetIndexCase):
    name = "dataframe-rolling-threads"

    def setup(self, lib: str, size: int) -> None:
        super().setup(lib, size)
        offset = 0
        for part in _LEFT:  # one increasing index across partitions
            part.index = np.arange(offset, offset + len(part))
            offset += len(part)

    def workload(self, lib: Any) -> tuple:
        return rolling(lib, self.meta)

    def expected(self, size: int) -> tuple:
        values = np.concatenate([p.v.to_numpy() for p in _LEFT])
        sums = np.convolve(values, np.ones(WINDOW, dtype=np.int64), mode="valid")
        return int(sums.sum()), len(values)


def cases() -> list[BenchmarkCase]:
    return [SetIndexCase(), HashMergeCase(), BroadcastMergeCase(), SortValuesCase(), RollingCase()]
