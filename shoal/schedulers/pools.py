"""One pool of workers per worker count, made on first use and shared.

Starting threads or processes costs far more than a small computation, so the
threads and processes schedulers keep their pools between calls, one per
size, and every computation asking for that many workers shares it.

>>> pools = PoolsBySize(lambda n: ["worker"] * n)
>>> first = pools.get(2)
>>> first, pools.get(2) is first
(['worker', 'worker'], True)
>>> pools.discard(first)
>>> pools.get(2) is first
False
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["PoolsBySize"]

Pool = TypeVar("Pool")


class PoolsBySize(Generic[Pool]):
    """``make(num_workers)`` at most once per size, until the pool is discarded."""

    def __init__(self, make: Callable[[int], Pool]):
        self._make = make
        self._pools: dict[int, Pool] = {}
        self._lock = threading.Lock()

    def get(self, num_workers: int) -> Pool:
        """The shared pool of ``num_workers`` workers, made now if there is none."""
        with self._lock:
            pool = self._pools.get(num_workers)
            if pool is None:
                pool = self._pools[num_workers] = self._make(num_workers)
            return pool

    def discard(self, pool: Pool) -> None:
        """Forget ``pool`` (a broken one): the next ``get`` of its size makes a new one.

        Shutting it down is the caller's job.
        """
        with self._lock:
            for size, known in list(self._pools.items()):
                if known is pool:
                    del self._pools[size]

    def take_all(self) -> list[Pool]:
        """Forget every pool and return them, for the caller to shut down."""
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        return pools
