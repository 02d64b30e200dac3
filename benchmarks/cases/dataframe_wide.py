"""The other shuffle-based dataframe operations on threads, each beside Dask.

Partitions are built in setup (untimed) and read back with ``from_map``, as in
``dataframe_shuffle``; every case computes a small result, so neither library
pays for concatenating millions of rows into one frame. Rows: ``size * 100``
(2M at the default size) in 20 partitions, keys ``k`` in ``range(size)``.

- ``dataframe-drop-duplicates-threads``: ``drop_duplicates(subset=["k"], split_out=4)``;
  checked: the number of distinct keys and their sum.
- ``dataframe-groupby-split-out-threads``: ``groupby("k").v.sum(split_out=4)``;
  checked: the number of groups and the grand total.
- ``dataframe-groupby-median-threads``: exact ``groupby("k").v.median()`` (a
  shuffle in both libraries); checked against pandas.
- ``dataframe-nlargest-threads``: ``v.nlargest(100)``; checked against pandas.
- ``dataframe-melt-groupby-threads``: ``melt(id_vars="k")`` then the sum per
  variable; checked against pandas.
- ``dataframe-resample-threads``: ``v.resample("1h").sum()`` over a minute-spaced
  datetime index with known divisions; checked against pandas.
- ``dataframe-merge-asof-threads``: ``merge_asof`` of two frames on sorted
  integer indexes with known divisions (trades against quotes); checked: the
  rows and the sum of the matched quote values.

>>> frame = make_frame(0, 10, 3)
>>> sorted(frame.columns), len(frame)
(['k', 'v', 'w'], 10)
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from .base import BenchmarkCase

PARTITIONS = 20
_PARTS: list = []
_QUOTES: list = []


def make_frame(i: int, rows: int, keys: int):
    import pandas as pd

    rng = np.random.default_rng(i)
    return pd.DataFrame({"k": rng.integers(0, keys, rows), "v": rng.integers(0, 1_000_000, rows),
                         "w": rng.integers(0, 100, rows)})


def get_part(i: int):
    return _PARTS[i]


def get_quotes(i: int):
    return _QUOTES[i]


def _dataframe_module(lib: Any):
    return importlib.import_module(f"{lib.__name__}.dataframe")


def _eager():
    import pandas as pd

    return pd.concat(_PARTS, ignore_index=True)


class _WideCase(BenchmarkCase):
    """Random keyed partitions, ``size * 100`` rows in all."""

    def setup(self, lib: str, size: int) -> None:
        super().setup(lib, size)
        rows = max(size * 100 // PARTITIONS, 1)
        _PARTS[:] = [make_frame(i, rows, max(size, 1)) for i in range(PARTITIONS)]
        self.meta = _PARTS[0].iloc[:0]

    def task_count(self, size: int) -> int:
        return PARTITIONS

    def frame(self, lib: Any):
        return _dataframe_module(lib).from_map(get_part, list(range(len(_PARTS))), meta=self.meta)


class DropDuplicatesCase(_WideCase):
    name = "dataframe-drop-duplicates-threads"

    def workload(self, lib: Any) -> tuple:
        keys = self.frame(lib).drop_duplicates(subset=["k"], split_out=4).k
        count, total = lib.compute(keys.count(), keys.sum(), scheduler="threads")
        return int(count), int(total)

    def expected(self, size: int) -> tuple:
        keys = np.unique(np.concatenate([p.k.to_numpy() for p in _PARTS]))
        return len(keys), int(keys.sum())


class GroupbySplitOutCase(_WideCase):
    name = "dataframe-groupby-split-out-threads"

    def workload(self, lib: Any) -> tuple:
        sums = self.frame(lib).groupby("k").v.sum(split_out=4)
        count, total = lib.compute(sums.count(), sums.sum(), scheduler="threads")
        return int(count), int(total)

    def expected(self, size: int) -> tuple:
        keys = np.concatenate([p.k.to_numpy() for p in _PARTS])
        return len(np.unique(keys)), int(sum(int(p.v.sum()) for p in _PARTS))


class GroupbyMedianCase(_WideCase):
    name = "dataframe-groupby-median-threads"

    def workload(self, lib: Any) -> list:
        return sorted(self.frame(lib).groupby("k").v.median().compute(scheduler="threads").items())

    def expected(self, size: int) -> list:
        return sorted(_eager().groupby("k").v.median().items())


class NlargestCase(_WideCase):
    name = "dataframe-nlargest-threads"

    def workload(self, lib: Any) -> list:
        return sorted(self.frame(lib).v.nlargest(100).compute(scheduler="threads").tolist())

    def expected(self, size: int) -> list:
        return sorted(_eager().v.nlargest(100).tolist())


class MeltGroupbyCase(_WideCase):
    name = "dataframe-melt-groupby-threads"

    def workload(self, lib: Any) -> dict:
        long = _dataframe_module(lib).melt(self.frame(lib), id_vars="k", value_vars=["v", "w"])
        return {name: int(total) for name, total in
                long.groupby("variable").value.sum().compute(scheduler="threads").items()}

    def expected(self, size: int) -> dict:
        return {name: int(total) for name, total in
                _eager().melt(id_vars="k", value_vars=["v", "w"]).groupby("variable").value.sum().items()}


def _sorted_index_parts(seed: int, rows: int, step: int, column: str) -> list:
    """``PARTITIONS`` frames whose integer index increases across them (gaps of random size)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    index = np.cumsum(rng.integers(1, step + 1, rows * PARTITIONS))
    values = rng.integers(0, 1_000, rows * PARTITIONS)
    return [pd.DataFrame({column: values[i * rows:(i + 1) * rows]}, index=index[i * rows:(i + 1) * rows])
            for i in range(PARTITIONS)]


def _divisions(parts: list) -> list:
    return [int(p.index[0]) for p in parts] + [int(parts[-1].index[-1])]


class MergeAsofCase(BenchmarkCase):
    name = "dataframe-merge-asof-threads"

    def setup(self, lib: str, size: int) -> None:
        super().setup(lib, size)
        rows = max(size * 50 // PARTITIONS, 1)
        _PARTS[:] = _sorted_index_parts(1, rows, 4, "trade")
        _QUOTES[:] = _sorted_index_parts(2, rows, 4, "quote")

    def task_count(self, size: int) -> int:
        return 2 * PARTITIONS

    def workload(self, lib: Any) -> tuple:
        dd = _dataframe_module(lib)
        trades = dd.from_map(get_part, list(range(PARTITIONS)), meta=_PARTS[0].iloc[:0], divisions=_divisions(_PARTS))
        quotes = dd.from_map(get_quotes, list(range(PARTITIONS)), meta=_QUOTES[0].iloc[:0],
                             divisions=_divisions(_QUOTES))
        joined = dd.merge_asof(trades, quotes, left_index=True, right_index=True)
        rows, total = lib.compute(joined.trade.count(), joined.quote.sum(), scheduler="threads")
        return int(rows), int(total)

    def expected(self, size: int) -> tuple:
        import pandas as pd

        joined = pd.merge_asof(pd.concat(_PARTS), pd.concat(_QUOTES), left_index=True, right_index=True)
        return int(joined.trade.count()), int(joined.quote.sum())


class ResampleCase(_WideCase):
    name = "dataframe-resample-threads"

    def setup(self, lib: str, size: int) -> None:
        import pandas as pd

        super().setup(lib, size)
        start = pd.Timestamp("2026-01-01")
        offset = 0
        for part in _PARTS:  # one minute-spaced index across partitions
            part.index = start + pd.to_timedelta(np.arange(offset, offset + len(part)), unit="min")
            offset += len(part)
        self.meta = _PARTS[0].iloc[:0]
        self.divisions = [p.index[0] for p in _PARTS] + [_PARTS[-1].index[-1]]

    def frame(self, lib: Any):
        return _dataframe_module(lib).from_map(get_part, list(range(len(_PARTS))), meta=self.meta,
                                               divisions=self.divisions)

    def workload(self, lib: Any) -> list:
        return [int(v) for v in self.frame(lib).v.resample("1h").sum().compute(scheduler="threads")]

    def expected(self, size: int) -> list:
        import pandas as pd

        return [int(v) for v in pd.concat(_PARTS).v.resample("1h").sum()]


def cases() -> list[BenchmarkCase]:
    return [DropDuplicatesCase(), GroupbySplitOutCase(), GroupbyMedianCase(), NlargestCase(), MeltGroupbyCase(),
            ResampleCase(), MergeAsofCase()]
