"""``DashboardPlugin``: the counts the dashboard shows, kept as the scheduler runs.

The dashboard never scans the scheduler's tasks: this plugin updates a few
counters on every transition (O(1) each) and the pages read only these
counters. Everything it holds is bounded by the number of live tasks,
workers and task prefixes, and the task stream is a ring buffer.

>>> from shoal.distributed.state import SchedulerState
>>> state = SchedulerState()
>>> plugin = DashboardPlugin(state)
>>> state.add_plugin(plugin)
>>> plugin.counts()["workers"]
0
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Hashable

from shoal.distributed.state import SchedulerPlugin
from shoal.taskgraph.core import key_prefix

#: The task states counted per prefix ("released" and "forgotten" tasks are
#: not live work, and new tasks are created released without a transition).
COUNTED_STATES = ("waiting", "queued", "no-worker", "processing", "memory", "erred")


class WorkerCounts:
    """What the dashboard knows about one worker."""

    __slots__ = ("address", "name", "nthreads", "memory_limit", "processing", "in_memory", "nbytes")

    def __init__(self, address: str, name: Any, nthreads: int, memory_limit: int | None):
        self.address = address
        self.name = name
        self.nthreads = nthreads
        self.memory_limit = memory_limit
        self.processing = 0
        self.in_memory = 0
        self.nbytes = 0

    def as_dict(self) -> dict:
        return {slot: getattr(self, slot) for slot in self.__slots__}


class DashboardPlugin(SchedulerPlugin):
    """Aggregate task and worker counts for the dashboard.

    ``state``: the ``SchedulerState`` observed; only the one task that
    transitions is looked up (for its size and holder), never all of them.
    ``task_stream_size``: how many finished tasks the task stream keeps.

    Memory per worker counts each result once, on the worker that first
    held it (replicas made later by transfers are not counted).
    Task stream times are the scheduler's: sent to the worker, reported done.
    """

    def __init__(self, state: Any, *, task_stream_size: int = 10_000, clock=time.time):
        self.state = state
        self.clock = clock
        self.prefix_counts: dict = {}  # prefix -> {state: n}
        self.state_counts: dict = dict.fromkeys(COUNTED_STATES, 0)
        self.workers: dict = {}  # address -> WorkerCounts
        self.nbytes_in_memory = 0
        self._processing: dict = {}  # key -> (worker address, start time)
        self._in_memory: dict = {}  # key -> (worker address or None, nbytes)
        self.task_stream: deque = deque(maxlen=task_stream_size)  # (key, worker, start, stop, prefix)
        self.task_stream_total = 0  # entries ever appended: readers fetch only the new ones
        for address, ws in getattr(state, "workers", {}).items():
            self.add_worker(address, nthreads=ws.nthreads, name=ws.name)

    # ------------------------------------------------------------------ plugin hooks
    def add_worker(self, address: str, **info: Any) -> None:
        ws = self.state.workers.get(address) if self.state is not None else None
        self.workers[address] = WorkerCounts(
            address, info.get("name", address), info.get("nthreads", 1),
            getattr(ws, "memory_limit", None),
        )

    def remove_worker(self, address: str, **info: Any) -> None:
        self.workers.pop(address, None)

    def transition(self, key: Hashable, start: str, finish: str, **info: Any) -> None:
        prefix = key_prefix(key)
        counts = self.prefix_counts.get(prefix)
        if counts is None:
            counts = self.prefix_counts[prefix] = dict.fromkeys(COUNTED_STATES, 0)
        if start in counts:
            counts[start] -= 1
            self.state_counts[start] -= 1
        if finish in counts:
            counts[finish] += 1
            self.state_counts[finish] += 1
        if start == "processing":
            self._leave_processing(key, finish, prefix)
        elif start == "memory":
            self._leave_memory(key)
        if finish == "processing":
            worker = info.get("worker")
            self._processing[key] = (worker, self.clock())
            wc = self.workers.get(worker)
            if wc is not None:
                wc.processing += 1
        elif finish == "memory":
            self._enter_memory(key)

    # ------------------------------------------------------------------ bookkeeping
    def _leave_processing(self, key: Hashable, finish: str, prefix: str) -> None:
        worker, started = self._processing.pop(key, (None, None))
        wc = self.workers.get(worker)
        if wc is not None:
            wc.processing -= 1
        if finish in ("memory", "erred") and started is not None:
            self.task_stream.append((key, worker, started, self.clock(), prefix if finish == "memory" else "erred"))
            self.task_stream_total += 1

    def _enter_memory(self, key: Hashable) -> None:
        ts = self.state.tasks.get(key)
        nbytes = max(getattr(ts, "nbytes", 0) or 0, 0)
        holder = next(iter(ts.who_has)).address if ts is not None and ts.who_has else None
        self._in_memory[key] = (holder, nbytes)
        self.nbytes_in_memory += nbytes
        wc = self.workers.get(holder)
        if wc is not None:
            wc.in_memory += 1
            wc.nbytes += nbytes

    def _leave_memory(self, key: Hashable) -> None:
        holder, nbytes = self._in_memory.pop(key, (None, 0))
        self.nbytes_in_memory -= nbytes
        wc = self.workers.get(holder)
        if wc is not None:
            wc.in_memory -= 1
            wc.nbytes -= nbytes

    # ------------------------------------------------------------------ readers
    def new_task_stream(self, seen: int, limit: int = 1000) -> tuple[list, int]:
        """Entries appended after the first ``seen`` (at most ``limit``, the newest), and the new total."""
        fresh = min(self.task_stream_total - seen, len(self.task_stream), limit)
        if fresh <= 0:
            return [], self.task_stream_total
        stream = self.task_stream
        return [stream[i] for i in range(len(stream) - fresh, len(stream))], self.task_stream_total

    def counts(self, max_prefixes: int = 100, max_workers: int = 1000) -> dict:
        """A JSON-ready summary; at most ``max_prefixes`` prefixes and ``max_workers`` workers."""
        prefixes = sorted(self.prefix_counts.items(), key=lambda item: -sum(item[1].values()))
        return {
            "tasks": dict(self.state_counts),
            "prefixes": {name: dict(c) for name, c in prefixes[:max_prefixes] if any(c.values())},
            "workers": len(self.workers),
            "threads": sum(wc.nthreads for wc in self.workers.values()),
            "bytes_in_memory": self.nbytes_in_memory,
            "worker_details": [wc.as_dict() for _, wc in zip(range(max_workers), self.workers.values())],
        }
