"""The threads scheduler: a pool of threads in this process.

Right for NumPy and pandas work, which releases the GIL. Pools are kept per
size and reused. A task that itself calls ``compute()`` runs that nested
computation in its own thread (sync), so a full pool can never deadlock
waiting on itself.
"""

from __future__ import annotations

import os
import threading
from queue import SimpleQueue
from typing import Any, Iterable, Mapping

from .. import config
from .callbacks import Callback, nesting
from .engine import Executor, execute
from .pools import PoolsBySize
from .sync import SyncExecutor

_in_pool = threading.local()


class ThreadPool:
    """``num_workers`` daemon threads taking batches from one queue."""

    def __init__(self, num_workers: int):
        if num_workers < 1:
            raise ValueError(f"num_workers must be at least 1, got {num_workers}")
        self.num_workers = num_workers
        self.inbox: SimpleQueue = SimpleQueue()
        self.threads = [
            threading.Thread(target=self._work, args=(i,), name=f"shoal-thread-{i}", daemon=True)
            for i in range(num_workers)
        ]
        for thread in self.threads:
            thread.start()

    def _work(self, worker_id: int) -> None:
        _in_pool.active = True
        nesting.depth = 1  # whatever runs here runs inside an outer computation
        inbox = self.inbox
        while True:
            item = inbox.get()
            if item is None:
                return
            batch, data, outbox = item
            for key, node in batch:
                try:
                    outbox.put((key, True, node(data), worker_id, None))
                except BaseException as exc:
                    outbox.put((key, False, exc, worker_id, None))
            del item, batch, data  # do not keep the last inputs alive while idle

    def shutdown(self) -> None:
        for _ in self.threads:
            self.inbox.put(None)
        for thread in self.threads:
            thread.join(timeout=5)


class ThreadExecutor(Executor):
    name = "threads"

    def __init__(self, pool: ThreadPool):
        self.pool = pool
        self.num_workers = pool.num_workers
        # One queued task per worker keeps every thread busy between wake-ups.
        self.max_in_flight = 2 * pool.num_workers
        self.outbox: SimpleQueue = SimpleQueue()

    def submit(self, batch: list, results: Mapping) -> None:
        self.pool.inbox.put((batch, results, self.outbox))

    def collect(self) -> list:
        outbox = self.outbox
        done = [outbox.get()]
        while not outbox.empty():
            done.append(outbox.get())
        return done


_pools: PoolsBySize[ThreadPool] = PoolsBySize(ThreadPool)


def default_num_workers() -> int:
    return config.get("num-workers", None) or os.cpu_count() or 1


def shared_pool(num_workers: int) -> ThreadPool:
    """The thread pool of ``num_workers`` threads every computation of that size shares."""
    return _pools.get(num_workers)


def get(
    graph: Mapping,
    keys: Any,
    num_workers: int | None = None,
    pool: ThreadPool | None = None,
    callbacks: Iterable[Callback] | None = None,
    **kwargs,
) -> Any:
    """Compute ``keys`` of ``graph`` on a pool of threads.

    ``pool`` (or the ``pool`` config setting) may also be any
    ``concurrent.futures.Executor``, which then runs the tasks.
    """
    if pool is None:
        pool = config.get("pool", None)
    if pool is not None and not isinstance(pool, ThreadPool):
        from . import futures

        return futures.get(graph, keys, pool=pool, callbacks=callbacks)
    if num_workers is not None and num_workers < 1:
        raise ValueError(f"num_workers must be at least 1, got {num_workers!r}")
    if getattr(_in_pool, "active", False) and pool is None:
        return execute(graph, keys, SyncExecutor(), callbacks=callbacks)
    if pool is None:
        pool = shared_pool(num_workers or default_num_workers())
    return execute(graph, keys, ThreadExecutor(pool), callbacks=callbacks)
