"""``DashboardPlugin``: the counts the dashboard shows, kept as the scheduler runs.

The dashboard never scans the scheduler's tasks: this plugin updates a few
counters on every transition (O(1) each) and the pages read only these
counters. Everything it holds is bounded by the number of live tasks,
workers and task prefixes, and the task stream is a ring buffer.

Task stream entries are ``(key, worker, start, stop, prefix, kind)`` with
``kind`` one of ``"compute"``, ``"erred"``, ``"transfer"``, ``"spill"``.
Transfers and spills happen on workers, which the scheduler does not see;
they reach the plugin as *events*: call ``plugin.worker_event(worker,
kind, start, stop, nbytes=..., key=...)``, or let the worker put a list of
such dicts under ``"events"`` in its heartbeat ``metrics`` (the scheduler
hands every heartbeat to ``plugin.heartbeat(worker, metrics)``). Heartbeat
metrics also give memory per worker: ``managed_bytes``,
``unmanaged_bytes``, ``spilled_bytes`` (and ``cpu`` in percent,
``executing`` tasks, ``paused``); missing fields count as 0, and managed
memory falls back to the bytes of results the scheduler knows the worker
holds. shoal's worker sends its fetches from peers and its spills as
events. A worker that sends no spill events but cumulative
``spilled_count`` / ``unspilled_count`` gets a spill bar over each
heartbeat interval in which they grew. Bytes transferred (``/metrics``,
``/workers``) are counted by the scheduler itself: when a task is sent to a
worker, the sizes of its inputs that worker does not hold yet.

>>> from shoal.distributed.state import SchedulerState
>>> state = SchedulerState()
>>> plugin = DashboardPlugin(state)
>>> state.add_plugin(plugin)
>>> plugin.counts()["workers"]
0
"""

from __future__ import annotations

import bisect
import math
import time
from collections import deque
from typing import Any, Hashable, Mapping

from shoal import config
from shoal.distributed.state import SchedulerPlugin
from shoal.taskgraph.core import key_prefix

from .computation import Computation

#: The task states counted per prefix ("released" and "forgotten" tasks are
#: not live work, and new tasks are created released without a transition).
COUNTED_STATES = ("waiting", "queued", "no-worker", "processing", "memory", "erred")

#: Upper bounds (seconds) of the task-duration histogram buckets (Prometheus' ``le``).
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, math.inf)

#: The states a task is in while its computation is still running.
ACTIVE_STATES = ("waiting", "queued", "no-worker", "processing")

#: Task stream kinds coming from worker events (and their meaning).
EVENT_KINDS = {"transfer": "fetching inputs from a peer", "spill": "moving results to or from disk"}


class DurationHistogram:
    """Task durations counted in ``DURATION_BUCKETS`` (O(log buckets) per task).

    >>> h = DurationHistogram()
    >>> h.add(0.02); h.add(3.0)
    >>> h.count, h.cumulative()[DURATION_BUCKETS.index(0.025)]
    (2, 1)
    """

    def __init__(self):
        self.counts = [0] * len(DURATION_BUCKETS)
        self.count = 0
        self.sum = 0.0

    def add(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(DURATION_BUCKETS, seconds)] += 1
        self.count += 1
        self.sum += seconds

    def cumulative(self) -> list:
        """Tasks at most each bucket's bound long (what Prometheus' ``_bucket`` lines hold)."""
        total, out = 0, []
        for n in self.counts:
            total += n
            out.append(total)
        return out


class WorkerCounts:
    """What the dashboard knows about one worker."""

    __slots__ = ("address", "name", "nthreads", "memory_limit", "processing", "in_memory", "nbytes",
                 "executing", "managed_bytes", "unmanaged_bytes", "spilled_bytes", "cpu",
                 "transfer_bytes", "sent_bytes", "spill_bytes", "paused", "last_heartbeat", "spill_counts",
                 "reports_spills")

    def __init__(self, address: str, name: Any, nthreads: int, memory_limit: int | None):
        self.address = address
        self.name = name
        self.nthreads = nthreads
        self.memory_limit = memory_limit
        self.processing = 0
        self.in_memory = 0
        self.nbytes = 0
        self.executing = None  # from heartbeats; None until the first one
        self.managed_bytes = None  # from heartbeats; None: use nbytes
        self.unmanaged_bytes = 0
        self.spilled_bytes = 0
        self.cpu = 0.0
        self.transfer_bytes = 0  # bytes of inputs this worker fetched from peers
        self.sent_bytes = 0  # bytes peers fetched from this worker (counted on one holder)
        self.spill_bytes = 0  # bytes of spill events reported
        self.paused = False  # the worker stopped taking tasks (memory past its pause threshold)
        self.last_heartbeat = None  # the worker's clock at its last heartbeat
        self.spill_counts: dict = {}  # spilled_count / unspilled_count at the last heartbeat
        self.reports_spills = False  # the worker sends spill events (no need to derive them from counts)

    @property
    def queued(self) -> int:
        """Tasks sent to this worker that it is not running yet (its own queue)."""
        running = min(self.processing, self.nthreads) if self.executing is None else self.executing
        return max(self.processing - running, 0)

    @property
    def managed(self) -> int:
        return self.nbytes if self.managed_bytes is None else self.managed_bytes

    def as_dict(self) -> dict:
        out = {slot: getattr(self, slot) for slot in self.__slots__ if slot not in ("spill_counts", "reports_spills")}
        out["queued"], out["managed_bytes"] = self.queued, self.managed
        return out


class DashboardPlugin(SchedulerPlugin):
    """Aggregate task and worker counts for the dashboard.

    ``state``: the ``SchedulerState`` observed; only the one task that
    transitions is looked up (for its size and holder), never all of them.
    ``task_stream_size``: how many finished tasks the task stream keeps.

    Memory per worker counts each result once, on the worker that first
    held it (replicas made later by transfers are not counted).
    Task stream times are the scheduler's: sent to the worker, reported done.
    """

    def __init__(self, state: Any, *, task_stream_size: int = 10_000, clock=time.time,
                 graph_limit: int | None = None):
        self.state = state
        self.clock = clock
        self.graph_limit = int(config.get("dashboard.graph-limit", 1000) if graph_limit is None else graph_limit)
        self.computation = Computation(graph_limit=self.graph_limit)
        self.durations = DurationHistogram()  # scheduler-side: sent to the worker -> reported done
        self.tasks_finished = 0
        self.tasks_erred = 0
        self.transfer_bytes = 0  # inputs that had to move to the worker running their dependent
        self.transfers = 0
        self._idle = True  # no task active since the last graph: the next graph starts a computation
        self._reported_durations: dict = {}  # key -> seconds the worker measured, until its transition
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
        if self.workers.pop(address, None) is not None:
            self._move_results_of(address)

    def _move_results_of(self, address: str) -> None:
        """Count the results held on ``address`` (which left) on a worker that still
        holds a copy (``retire_workers`` copies them first): they would otherwise
        vanish from memory per worker while still in memory. O(results in memory),
        once per departing worker; results left with no copy are counted on no worker
        until the scheduler releases or recomputes them."""
        for key, (holder, nbytes) in list(self._in_memory.items()):
            if holder != address:
                continue
            ts = self.state.tasks.get(key)
            copies = ts.who_has if ts is not None else ()
            new_holder = next((ws.address for ws in copies if ws.address in self.workers), None)
            self._in_memory[key] = (new_holder, nbytes)
            wc = self.workers.get(new_holder)
            if wc is not None:
                wc.in_memory += 1
                wc.nbytes += nbytes

    def update_graph(self, client: str, keys: list, tasks: list, **info: Any) -> None:
        # The scheduler reports the graph after its first transitions, so "idle"
        # means: every earlier task finished before this graph came.
        if self._idle:
            self.computation = Computation(graph_limit=self.graph_limit)
            self._idle = False
            # Prefixes with no live task are dropped (some keys carry a token in
            # their prefix, so a long-lived scheduler would otherwise keep them all).
            for name in [name for name, c in self.prefix_counts.items() if not any(c.values())]:
                del self.prefix_counts[name]
        records = self.state.tasks
        self.computation.add_tasks([records[k] for k in tasks if k in records])

    def heartbeat(self, address: str, metrics: Mapping) -> None:
        """A worker's heartbeat ``metrics`` (see the module docstring for the fields read)."""
        wc = self.workers.get(address)
        if wc is None or not metrics:
            return
        if "executing" in metrics:
            wc.executing = int(metrics["executing"])
        if "managed_bytes" in metrics:
            wc.managed_bytes = int(metrics["managed_bytes"])
        wc.unmanaged_bytes = int(metrics.get("unmanaged_bytes", 0) or 0)
        wc.spilled_bytes = int(metrics.get("spilled_bytes", 0) or 0)
        wc.cpu = float(metrics.get("cpu", 0.0) or 0.0)
        wc.paused = bool(metrics.get("paused", False))
        events = metrics.get("events", ()) or ()
        for event in events:
            self.worker_event(address, event["kind"], event["start"], event["stop"],
                              nbytes=event.get("nbytes", 0), key=event.get("key"))
        now = float(metrics.get("time") or self.clock())
        if any(event["kind"] == "spill" for event in events):
            wc.reports_spills = True  # its own spill events: counting would draw them twice
        if not wc.reports_spills:
            self._spills_from_counts(address, wc, metrics, now)
        wc.last_heartbeat = now

    def _spills_from_counts(self, address: str, wc: WorkerCounts, metrics: Mapping, now: float) -> None:
        """A worker that reports only how many values it spilled and read back so far
        (``spilled_count``, ``unspilled_count``) gets one spill bar per heartbeat
        interval in which those grew, spanning that interval."""
        for field, label in (("spilled_count", "spilled to disk"), ("unspilled_count", "read back from disk")):
            if field not in metrics:
                continue
            count = int(metrics[field] or 0)
            before = wc.spill_counts.get(field)
            wc.spill_counts[field] = count
            if before is not None and count > before and wc.last_heartbeat is not None:
                self.worker_event(address, "spill", wc.last_heartbeat, now, key=f"{count - before} {label}")

    def worker_report(self, worker: str, msg: Mapping) -> None:
        """A message of ``worker``'s stream, seen just before the scheduler handles it.

        Only ``task-finished`` is read: its ``duration`` (the worker's own
        measure of the run) replaces the scheduler's span in the task stream,
        the histogram and ``/stages``. Kept only for a task processing here,
        and dropped at its next transition, so it stays bounded.
        """
        if msg.get("op") == "task-finished" and msg.get("duration") is not None:
            key = msg.get("key")
            if key in self._processing:
                self._reported_durations[key] = float(msg["duration"])

    def worker_event(self, worker: str, kind: str, start: float, stop: float, *,
                     nbytes: int = 0, key: Hashable = None) -> None:
        """Mark a ``"transfer"`` or ``"spill"`` of ``nbytes`` on ``worker``'s task stream row."""
        if kind not in EVENT_KINDS:
            raise ValueError(f"Unknown worker event kind {kind!r}; expected one of {sorted(EVENT_KINDS)}.")
        wc = self.workers.get(worker)
        if wc is not None and kind == "spill":
            wc.spill_bytes += nbytes
        label = kind if key is None else key
        self.task_stream.append((label, worker, start, stop, kind, kind))
        self.task_stream_total += 1

    def transition(self, key: Hashable, start: str, finish: str, **info: Any) -> None:
        # The scheduler's record already holds the prefix: parsing the key on
        # every transition was most of this plugin's cost.
        ts = self.state.tasks.get(key) if self.state is not None else None
        prefix = ts.prefix.name if ts is not None else key_prefix(key)
        counts = self.prefix_counts.get(prefix)
        if counts is None:
            counts = self.prefix_counts[prefix] = dict.fromkeys(COUNTED_STATES, 0)
        if start in counts:
            counts[start] -= 1
            self.state_counts[start] -= 1
        if finish in counts:
            counts[finish] += 1
            self.state_counts[finish] += 1
        if start in ACTIVE_STATES and finish not in ACTIVE_STATES and not self._n_active():
            self._idle = True
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
                self._count_transfers(key, worker, wc)
        elif finish == "memory":
            self._enter_memory(key)

    # ------------------------------------------------------------------ bookkeeping
    def _n_active(self) -> int:
        counts = self.state_counts
        return counts["waiting"] + counts["queued"] + counts["no-worker"] + counts["processing"]

    def _count_transfers(self, key: Hashable, worker: str, wc: WorkerCounts) -> tuple[int, int]:
        """Inputs of ``key`` not yet on ``worker`` will be fetched from peers (O(dependencies));
        how many and their bytes."""
        ts = self.state.tasks.get(key)
        n = nbytes = 0
        if ts is None:
            return n, nbytes
        for dep in ts.dependencies:
            if dep.nbytes > 0 and dep.who_has and not any(ws.address == worker for ws in dep.who_has):
                self.transfer_bytes += dep.nbytes
                self.transfers += 1
                wc.transfer_bytes += dep.nbytes
                # The worker picks one holder to fetch from; which one is its choice,
                # so "sent" credits one holder (the totals agree either way).
                sender = self.workers.get(next(iter(dep.who_has)).address)
                if sender is not None:
                    sender.sent_bytes += dep.nbytes
                n += 1
                nbytes += dep.nbytes
        return n, nbytes

    def _leave_processing(self, key: Hashable, finish: str, prefix: str) -> None:
        worker, started = self._processing.pop(key, (None, None))
        wc = self.workers.get(worker)
        if wc is not None:
            wc.processing -= 1
        reported = self._reported_durations.pop(key, None)
        if finish in ("memory", "erred") and started is not None:
            stop = self.clock()
            # The worker's own measure excludes the time the task waited in its
            # queue and on the network; the scheduler's span is the fallback.
            duration = stop - started if reported is None else reported
            start = max(started, stop - duration)
            kind = "compute" if finish == "memory" else "erred"
            self.task_stream.append((key, worker, start, stop, prefix if finish == "memory" else "erred", kind))
            self.task_stream_total += 1
            if finish == "memory":
                self.tasks_finished += 1
                self.durations.add(duration)
                ts = self.state.tasks.get(key)
                self.computation.task_finished(key, duration, getattr(ts, "nbytes", 0) or 0)
            else:
                self.tasks_erred += 1

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
            "tasks_finished": self.tasks_finished,
            "tasks_erred": self.tasks_erred,
            "transfer_bytes": self.transfer_bytes,
            "transfers": self.transfers,
            "cpu": sum(wc.cpu for wc in self.workers.values()),
            "task_duration_seconds": {
                # "+Inf" as Prometheus spells it: JSON has no infinity.
                "buckets": [[bound if bound != math.inf else "+Inf", n]
                            for bound, n in zip(DURATION_BUCKETS, self.durations.cumulative())],
                "sum": self.durations.sum, "count": self.durations.count,
            },
            "worker_details": [wc.as_dict() for _, wc in zip(range(max_workers), self.workers.values())],
        }
