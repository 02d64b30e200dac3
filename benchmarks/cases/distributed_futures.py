"""Distributed futures: ``client.map`` + ``gather``, and tiny ``submit().result()`` round trips.

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
from typing import Any

from .base import BenchmarkCase

ROUND_TRIPS = 200


def inc(x: int) -> int:
    return x + 1


def map_gather(client: Any, n: int) -> list:
    """``n`` independent tasks submitted at once, then all results fetched."""
    return client.gather(client.map(inc, range(n)))


def round_trips(client: Any, n: int) -> list:
    """``n`` sequential ``submit(inc, i).result()``: each waits for the previous."""
    return [client.submit(inc, i).result() for i in range(n)]


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
    """``ROUND_TRIPS`` round trips whatever ``--size`` says; µs/task is then the mean round trip."""

    name = "distributed-submit-result-roundtrip"

    def task_count(self, size: int) -> int:
        return ROUND_TRIPS

    def workload(self, lib: Any) -> list:
        return round_trips(self.client, ROUND_TRIPS)

    def expected(self, size: int) -> list:
        return [i + 1 for i in range(ROUND_TRIPS)]


def cases() -> list[BenchmarkCase]:
    return [MapGatherCase(), RoundTripCase()]
