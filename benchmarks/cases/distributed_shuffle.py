"""Distributed: ``set_index`` with the worker-to-worker ("p2p") shuffle on both libraries.

``size * 1,000`` rows (20M at the default size) in 20 partitions of int64
keys and values, made on the workers from a seed, are re-indexed by key with
``shuffle_method="p2p"`` (shoal's ``shoal.distributed.shuffle``, Dask's
``distributed.shuffle``) on a LocalCluster of 2 worker processes x 1 thread,
started in the untimed ``setup``. The timed run builds the graph (both
libraries read the keys once to choose the divisions), shuffles, sorts each
output partition and reduces each to a small summary, so what comes back is
the same on both sides although their divisions differ: rows, the sums of
keys and values, and whether every partition is sorted and in order.

>>> summarize_partitions([(0, 3, 2, 3, 10, True), (5, 7, 2, 12, 20, True)])
(4, 15, 30, True)
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from .base import BenchmarkCase
from .distributed_futures import _ClusterCase

PARTITIONS = 20
KEYS = 10**9


def make_partition(i: int, rows: int):
    """Partition ``i``: random int64 keys and values, made on the worker from a seed."""
    import pandas as pd

    rng = np.random.default_rng(1000 + i)
    return pd.DataFrame({"k": rng.integers(0, KEYS, rows), "x": rng.integers(0, 100, rows)})


def partition_summary(part) -> Any:
    """``(min key, max key, rows, key sum, value sum, sorted)`` of one output partition, as a frame."""
    import pandas as pd

    keys = part.index.to_numpy()
    row = (int(keys.min()) if len(keys) else -1, int(keys.max()) if len(keys) else -1, len(part),
           int(keys.sum()), int(part["x"].sum()), bool(part.index.is_monotonic_increasing))
    return pd.DataFrame([row], columns=["lo", "hi", "n", "ksum", "xsum", "sorted"])


def summarize_partitions(rows: list) -> tuple:
    """``(rows, key sum, value sum, sorted and in order)`` from the per-partition summaries."""
    rows = [r for r in rows if r[2]]  # empty partitions say nothing about order
    in_order = all(r[5] for r in rows) and all(a[1] <= b[0] for a, b in zip(rows, rows[1:]))
    return sum(r[2] for r in rows), sum(r[3] for r in rows), sum(r[4] for r in rows), in_order


def set_index_p2p(lib: Any, client: Any, rows: int) -> tuple:
    dd = importlib.import_module(f"{lib.__name__}.dataframe")
    meta = make_partition(0, 0)
    df = dd.from_map(make_partition, list(range(PARTITIONS)), rows=rows, meta=meta)
    indexed = df.set_index("k", shuffle_method="p2p")
    meta_summary = partition_summary(make_partition(0, 0).set_index("k"))
    summaries = indexed.map_partitions(partition_summary, meta=meta_summary).compute(scheduler=client)
    return summarize_partitions(list(summaries.itertuples(index=False, name=None)))


class SetIndexP2PCase(_ClusterCase):
    """``set_index`` of ``size * 1,000`` rows by a p2p shuffle on 2 worker processes."""

    name = "distributed-set-index-p2p"

    def setup(self, lib: str, size: int) -> None:
        super().setup(lib, size)
        self.client.submit(make_partition, 0, 10).result()  # pandas imported on the workers too

    def rows(self, size: int) -> int:
        return max(size * 1_000 // PARTITIONS, 1)

    def task_count(self, size: int) -> int:
        return 2 * PARTITIONS + 1  # transfers, barrier, outputs

    def workload(self, lib: Any) -> tuple:
        return set_index_p2p(lib, self.client, self.rows(self.size))

    def expected(self, size: int) -> tuple:
        rows = self.rows(size)
        parts = [make_partition(i, rows) for i in range(PARTITIONS)]
        return (rows * PARTITIONS, sum(int(p.k.sum()) for p in parts), sum(int(p.x.sum()) for p in parts), True)


def cases() -> list[BenchmarkCase]:
    return [SetIndexP2PCase()]
