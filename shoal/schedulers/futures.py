"""Run a graph on a ``concurrent.futures.Executor`` the user already has.

``compute(scheduler=ThreadPoolExecutor(8))``, ``compute(pool=executor)`` and
``shoal.config.set(pool=executor)`` hand tasks to that executor instead of
shoal's own pools, as Dask allows. Each task is submitted with only the
values of its own dependencies. A process pool pickles with the standard
``pickle``, which refuses lambdas and locally defined functions, so for one
the task travels as cloudpickle bytes.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Executor as FuturesPool
from concurrent.futures import ProcessPoolExecutor
from queue import SimpleQueue
from typing import Any, Iterable, Mapping

import cloudpickle

from .callbacks import Callback, nesting
from .engine import Executor, execute
from .sync import SyncExecutor
from .threads import default_num_workers

# The executor whose task this thread is running, if any: a task computing
# again on that same executor runs the nested graph in its own thread, since
# waiting for a slot of a pool it occupies could wait forever.
_running_in = threading.local()


class FuturesExecutor(Executor):
    """The engine's executor interface over a ``concurrent.futures.Executor``."""

    name = "futures"

    def __init__(self, pool: FuturesPool):
        self.pool = pool
        self.num_workers = getattr(pool, "_max_workers", None) or default_num_workers()
        # One queued task per worker keeps every worker busy between wake-ups.
        self.max_in_flight = 2 * self.num_workers
        self.by_process = isinstance(pool, ProcessPoolExecutor)
        self.done: SimpleQueue = SimpleQueue()
        self.worker_ids: dict = {}  # where a task ran -> small int for profilers

    def submit(self, batch: list, results: Mapping) -> None:
        for key, node in batch:
            data = {dep: results[dep] for dep in node.dependencies}
            if self.by_process:
                future = self.pool.submit(_run_pickled, cloudpickle.dumps((node, data)))
            else:
                future = self.pool.submit(_run_node, self.pool, node, data)
            future.add_done_callback(lambda f, key=key: self.done.put((key, f)))

    def collect(self) -> list:
        items = [self.done.get()]
        while not self.done.empty():
            items.append(self.done.get())
        outcomes = []
        for key, future in items:
            exc = future.exception()
            if exc is not None:
                outcomes.append((key, False, exc, 0, None))
                continue
            value, where = future.result()
            worker_id = self.worker_ids.setdefault(where, len(self.worker_ids))
            outcomes.append((key, True, value, worker_id, None))
        return outcomes


def _run_node(pool: FuturesPool, node, data: Mapping) -> tuple:
    outer = getattr(_running_in, "pool", None)
    _running_in.pool = pool
    nesting.depth += 1  # a compute() inside the task is not an outermost one
    try:
        return node(data), threading.get_ident()
    finally:
        nesting.depth -= 1
        _running_in.pool = outer


def _run_pickled(payload: bytes) -> tuple:
    node, data = cloudpickle.loads(payload)
    return node(data), os.getpid()


def get(
    graph: Mapping,
    keys: Any,
    pool: FuturesPool | None = None,
    callbacks: Iterable[Callback] | None = None,
    **kwargs,
) -> Any:
    """Compute ``keys`` of ``graph`` with the tasks run by ``pool``."""
    if not isinstance(pool, FuturesPool):
        raise TypeError(f"pool= must be a concurrent.futures.Executor, got {type(pool).__name__}")
    if getattr(_running_in, "pool", None) is pool:
        return execute(graph, keys, SyncExecutor(), callbacks=callbacks)
    return execute(graph, keys, FuturesExecutor(pool), callbacks=callbacks)
