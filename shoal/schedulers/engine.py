"""The local engine: run a graph on an executor, in priority order.

One loop serves every local scheduler. It keeps, for every waiting task, the
number of dependencies not yet computed; hands ready tasks to the executor
smallest priority first (``order()``: finish a branch before opening the
next); and drops a result as soon as the last task that reads it has run,
unless it was requested. Executors only run tasks; see ``Executor``.
"""

from __future__ import annotations

import heapq
from typing import Any, Iterable, Mapping

from ..taskgraph.convert import ensure_graph
from ..taskgraph.cull import cull
from ..taskgraph.order import order
from ..taskgraph.protocol import flatten_keys, pack_results
from .callbacks import Callback, Hooks, active_callbacks, nesting
from .errors import reraise_task_error


class Executor:
    """Runs batches of tasks somewhere and reports their outcomes.

    ``submit(batch, results)`` starts ``batch`` (a list of ``(key, node)``),
    reading dependencies from ``results``; ``collect()`` blocks until at
    least one task has finished and returns ``[(key, ok, value, worker_id,
    remote_traceback)]`` where ``value`` is the exception when not ``ok``.
    """

    name = "executor"
    num_workers = 1
    #: how many tasks may be submitted and not yet collected
    max_in_flight = 1

    def can_submit(self, in_flight: int) -> bool:
        return in_flight < self.max_in_flight

    def batch_size(self, ready: int) -> int:
        return 1

    def submit(self, batch: list, results: Mapping) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def collect(self) -> list:  # pragma: no cover - abstract
        raise NotImplementedError

    def abandon(self, exc: BaseException | None = None) -> None:
        """Forget tasks still running after a failure (their results are dropped)."""


class EngineState:
    """What callbacks can see of a running computation."""

    __slots__ = ("graph", "results", "total", "finished", "running", "waiting", "ready")

    def __init__(self, graph, results, waiting, ready):
        self.graph = graph
        self.results = results  # live values, released as soon as possible
        self.total = len(graph)
        self.finished = 0
        self.running = 0
        self.waiting = waiting  # key -> count of dependencies not yet done
        self.ready = ready  # heap of priorities of runnable tasks

    def __getitem__(self, name):
        # Callbacks written for Dask index its state dict; say what to use here.
        raise TypeError(
            f"state[{name!r}]: shoal's engine state is an object, not Dask's dict. Use its attributes: "
            "state.results (live values, Dask's 'cache'), state.finished, state.running and state.total "
            "(counts), state.waiting (key -> dependencies not yet done), state.graph."
        )


def execute(
    graph: Mapping,
    keys: Any,
    executor: Executor,
    callbacks: Iterable[Callback] | None = None,
) -> Any:
    """Compute ``keys`` (a key or nested list of keys) of ``graph`` on ``executor``."""
    flat = flatten_keys(keys)
    graph = cull(ensure_graph(graph), flat)
    hooks = Hooks(active_callbacks(callbacks))
    nesting.depth += 1
    try:
        return _run(graph, keys, flat, executor, hooks)
    finally:
        nesting.depth -= 1


def _run(graph: Mapping, keys: Any, flat: list, executor: Executor, hooks: Hooks) -> Any:
    priority = order(graph, flat)  # also rejects cycles and missing dependencies

    key_at: list = [None] * len(priority)
    for key, p in priority.items():
        key_at[p] = key
    waiting: dict = {}
    dependents: dict = {}
    ready: list = []
    for key, node in graph.items():
        deps = node.dependencies
        if deps:
            waiting[key] = len(deps)
            for dep in deps:
                dependents.setdefault(dep, []).append(key)
        else:
            ready.append(priority[key])
    heapq.heapify(ready)
    readers_left = {key: len(users) for key, users in dependents.items()}
    requested = set(flat)
    results: dict = {}
    state = EngineState(graph, results, waiting, ready)

    pretask, posttask = hooks.pretask, hooks.posttask
    heappop, heappush = heapq.heappop, heapq.heappush
    can_submit, batch_size = executor.can_submit, executor.batch_size
    in_flight = 0
    finished = 0
    total = len(graph)
    try:
        # Inside the try: if one start hook fails, the others still get finish.
        for hook in hooks.start:
            hook(graph)
        for hook in hooks.start_state:
            hook(graph, state)
        while finished < total:
            while ready and can_submit(in_flight):
                size = min(batch_size(len(ready)), len(ready))
                batch = []
                for _ in range(size):
                    key = key_at[heappop(ready)]
                    batch.append((key, graph[key]))
                    for hook in pretask:
                        hook(key, graph, state)
                in_flight += size
                state.running = in_flight
                executor.submit(batch, results)
            for key, ok, value, worker_id, remote_tb in executor.collect():
                in_flight -= 1
                if not ok:
                    reraise_task_error(key, value, remote_tb, executor.name)
                results[key] = value
                finished += 1
                state.finished = finished
                state.running = in_flight
                for hook in posttask:
                    hook(key, value, graph, state, worker_id)
                for user in dependents.get(key, ()):
                    left = waiting[user] - 1
                    if left:
                        waiting[user] = left
                    else:
                        del waiting[user]
                        heappush(ready, priority[user])
                for dep in graph[key].dependencies:
                    left = readers_left[dep] - 1
                    if left:
                        readers_left[dep] = left
                    else:
                        del readers_left[dep]
                        if dep not in requested:
                            del results[dep]
    except BaseException as exc:
        executor.abandon(exc)
        for hook in hooks.finish:
            hook(graph, state, True)
        raise
    for hook in hooks.finish:
        hook(graph, state, False)
    return pack_results(keys, results)

