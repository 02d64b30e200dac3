"""Distributed: ``client.map`` + ``gather``, tiny ``submit().result()`` round trips,
and an array and a dataframe groupby workload computed on the cluster.

Both run on a LocalCluster of 2 worker processes x 1 thread, started in the
untimed ``setup`` (``shoal.distributed`` or ``dask.distributed``); the cluster
is closed when the measuring process exits. Task functions are at module
level so workers unpickle them by reference.

>>> class _Eager:  # stands in for a Client, for the doctest
...     def map(self, f, xs): return [f(x) for x in xs]
...     def gather(self, xs): return xs
>>> map_gather(_Eager(), 3)
[1, 2, 3]
"""

from __future__ import annotations

import atexit
import importlib
import statistics
import time
from typing import Any

import numpy as np

from .base import BenchmarkCase

ROUND_TRIPS = 200


def inc(x: int) -> int:
    return x + 1


def map_gather(client: Any, n: int) -> list:
    """``n`` independent tasks submitted at once, then all results fetched."""
    return client.gather(client.map(inc, range(n)))


def round_trips(client: Any, n: int, timings: list | None = None) -> list:
    """``n`` sequential ``submit(inc, i).result()``: each waits for the previous.

    The seconds of each round trip are appended to ``timings`` when given.
    """
    results = []
    for i in range(n):
        start = time.perf_counter()
        results.append(client.submit(inc, i).result())
        if timings is not None:
            timings.append(time.perf_counter() - start)
    return results


ARRAY_CHUNK = 1_000
GROUPS = 1_000
PARTITIONS = 20


def array_side(size: int) -> int:
    """The side of the square array: 4,000 at the default size of 20,000."""
    return max(ARRAY_CHUNK, (size // 5_000) * ARRAY_CHUNK)


def array_sum(lib: Any, client: Any, side: int) -> float:
    """``(x + x.T).sum()`` of a ``side``-square array of ones, blocks of 1,000 x 1,000."""
    array = importlib.import_module(f"{lib.__name__}.array")
    x = array.ones((side, side), chunks=(ARRAY_CHUNK, ARRAY_CHUNK))
    return float((x + x.T).sum().compute(scheduler=client))


def make_partition(i: int, rows: int):
    """Partition ``i``: int64 keys (1,000 groups) and values, made on the worker from a seed."""
    import pandas as pd

    rng = np.random.default_rng(i)
    return pd.DataFrame({"k": rng.integers(0, GROUPS, rows), "x": rng.integers(0, 100, rows)})


def summarize(result) -> list:
    """``[(key, sum, count), ...]`` sorted by key: plain Python, comparable with ``==``."""
    result = result.sort_index()
    return [(int(k), int(s), int(c)) for k, s, c in zip(result.index, result["sum"], result["count"])]


def groupby_agg(lib: Any, client: Any, rows: int) -> list:
    """``groupby('k').x.agg(['sum', 'count'])`` over 20 partitions made on the workers."""
    dd = importlib.import_module(f"{lib.__name__}.dataframe")
    meta = make_partition(0, 0)
    df = dd.from_map(make_partition, list(range(PARTITIONS)), rows=rows, meta=meta)
    return summarize(df.groupby("k").x.agg(["sum", "count"]).compute(scheduler=client))


class _ClusterCase(BenchmarkCase):
    def setup(self, lib: str, size: int) -> None:
        super().setup(lib, size)
        distributed = importlib.import_module(f"{lib}.distributed")
        options = {"n_workers": 2, "threads_per_worker": 1, "processes": True}
        if lib == "dask":
            options["dashboard_address"] = None
        self.cluster = distributed.LocalCluster(**options)
        self.client = distributed.Client(self.cluster)
        atexit.register(self._close)
        self.client.submit(inc, -1).result()  # both workers warm, functions imported

    def _close(self) -> None:
        self.client.close()
        self.cluster.close()


class MapGatherCase(_ClusterCase):
    name = "distributed-map-gather"

    def task_count(self, size: int) -> int:
        return size

    def workload(self, lib: Any) -> list:
        return map_gather(self.client, self.size)

    def expected(self, size: int) -> list:
        return [i + 1 for i in range(size)]


class RoundTripCase(_ClusterCase):
    """``ROUND_TRIPS`` round trips whatever ``--size`` says, each timed on its own.

    The reported time is ``ROUND_TRIPS`` x the **median** round trip (so
    µs/task is the median round trip): one slow outlier (a garbage
    collection, a scheduler hiccup) does not move it as it moves a mean.
    """

    name = "distributed-submit-result-roundtrip"

    def task_count(self, size: int) -> int:
        return ROUND_TRIPS

    def workload(self, lib: Any) -> list:
        self.timings: list = []
        return round_trips(self.client, ROUND_TRIPS, self.timings)

    def reported_seconds(self) -> float | None:
        return ROUND_TRIPS * statistics.median(self.timings)

    def expected(self, size: int) -> list:
        return [i + 1 for i in range(ROUND_TRIPS)]


class ArraySumCase(_ClusterCase):
    name = "distributed-array-x-plus-xT-sum"

    def task_count(self, size: int) -> int:
        return (array_side(size) // ARRAY_CHUNK) ** 2

    def workload(self, lib: Any) -> float:
        return array_sum(lib, self.client, array_side(self.size))

    def expected(self, size: int) -> float:
        return float(2 * array_side(size) ** 2)


class GroupbyCase(_ClusterCase):
    """``size * 1,000`` rows (20M at the default size) in 20 partitions."""

    name = "distributed-dataframe-groupby-agg"

    def task_count(self, size: int) -> int:
        return PARTITIONS

    def rows(self, size: int) -> int:
        return max(size * 1_000 // PARTITIONS, 1)

    def workload(self, lib: Any) -> list:
        return groupby_agg(lib, self.client, self.rows(self.size))

    def expected(self, size: int) -> list:
        import pandas as pd

        whole = pd.concat([make_partition(i, self.rows(size)) for i in range(PARTITIONS)])
        return summarize(whole.groupby("k").x.agg(["sum", "count"]))


def cases() -> list[BenchmarkCase]:
    return [MapGatherCase(), RoundTripCase(), ArraySumCase(), GroupbyCase()]
