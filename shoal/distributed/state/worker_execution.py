"""Execution slots of a worker: the ``ready`` -> ``executing`` side of ``WorkerState``.

``WorkerExecutionMixin`` fills and drains the ready and constrained heaps
and the ``nthreads`` slots (``executing``, ``long_running``), accounts for
the resources tasks take, and handles the events from the threads that run
tasks (success, failure, secede) and pausing when memory is short. The transitions themselves stay
in ``WorkerState.TRANSITIONS`` (``worker_state.py``); this mixin only
decides what runs when and feeds the results back in.

What it needs from the host class (``WorkerState``): the attributes
``address``, ``nthreads``, ``status``, ``tasks``, ``data``, ``ready``,
``constrained``, ``executing``, ``long_running``, ``available_resources``
and the counter ``_seq``; the table ``TRANSITIONS``; and the methods
``_transitions`` and ``_run``.
"""

from __future__ import annotations

import heapq
from typing import Any

from .messages import ToScheduler
from .worker_records import Key, WorkerTaskState, sizeof


class WorkerExecutionMixin:
    """Ready heaps, thread slots and resources, and the events from executing tasks."""

    # ------------------------------------------------------------------ thread slots
    def _push(self, heap: list, ts: WorkerTaskState) -> None:
        self._seq += 1
        ts.seq = self._seq
        heapq.heappush(heap, (ts.priority, self._seq, ts))

    def _leave_thread(self, ts: WorkerTaskState) -> None:
        self.executing.discard(ts)
        self.long_running.discard(ts)
        if ts.resources:
            for name, amount in ts.resources.items():
                self.available_resources[name] += amount

    def _resources_free(self, ts: WorkerTaskState) -> bool:
        if not ts.resources:
            return True
        available = self.available_resources
        return all(available.get(name, 0) >= amount for name, amount in ts.resources.items())

    def _ensure_computing(self, recs: dict, instructions: list) -> None:
        """Start ready tasks on free threads, highest priority first."""
        if self.status != "running":
            return
        while len(self.executing) < self.nthreads:
            heap = None
            if self.constrained and self._live(self.constrained, "constrained") \
                    and self._resources_free(self.constrained[0][2]):
                heap = self.constrained
            elif self._live(self.ready, "ready"):
                heap = self.ready
            if heap is None:
                return
            ts = heapq.heappop(heap)[2]
            start = ts.state
            if self._resources_free(ts):
                self._run(self.TRANSITIONS[(start, "executing")], ts, start, recs, instructions)
            elif start == "ready":
                self._run(self.TRANSITIONS[("ready", "constrained")], ts, start, recs, instructions)

    @staticmethod
    def _live(heap: list, state: str) -> bool:
        """Drop stale entries from the top of ``heap``; True if a live one remains."""
        while heap:
            _, seq, ts = heap[0]
            if ts.state == state and ts.seq == seq:
                return True
            heapq.heappop(heap)
        return False

    # ------------------------------------------------------------------ events from the server
    def handle_execute_success(self, key: Key, value: Any, nbytes: int | None = None,
                               start: float | None = None, stop: float | None = None) -> list:
        """Task ``key`` returned ``value`` on its thread."""
        ts = self.tasks.get(key)
        if ts is None:
            return []
        recs: dict = {}
        instructions: list = []
        if ts.state == "executing":
            self.data[key] = value
            ts.nbytes = sizeof(value) if nbytes is None else nbytes
            ts.duration = (stop - start) if start is not None and stop is not None else None
            recs[key] = "memory"
        elif ts.state == "cancelled":
            self._run(self.TRANSITIONS[("cancelled", "released")], ts, "cancelled", recs, instructions)
        return self._transitions(recs, instructions)

    def handle_execute_failure(self, key: Key, exception: Any, traceback: Any = None,
                               exception_text: str = "") -> list:
        """Task ``key`` raised ``exception`` on its thread.

        An attempt that began before the scheduler cancelled the task (and then
        asked for it again) may have failed because of what changed meanwhile
        (a p2p shuffle's barrier that found an abandoned run): its error is not
        reported, the task runs afresh, and the fresh attempt's error counts.
        """
        ts = self.tasks.get(key)
        if ts is None:
            return []
        recs: dict = {}
        instructions: list = []
        if ts.state == "executing" and ts.resumed:
            recs[key] = "waiting"
        elif ts.state == "executing":
            ts.exception, ts.traceback = exception, traceback
            ts.exception_text = exception_text or repr(exception)
            recs[key] = "error"
        elif ts.state == "cancelled":
            self._run(self.TRANSITIONS[("cancelled", "released")], ts, "cancelled", recs, instructions)
        return self._transitions(recs, instructions)

    def handle_secede(self, key: Key) -> list:
        """Task ``key`` left the thread pool to wait on tasks it submitted.

        Its slot goes to the next ready task and the scheduler is told
        (``long-running``) so it stops counting the task against this worker.
        The task keeps its resources until it finishes.
        """
        ts = self.tasks.get(key)
        if ts is None or ts not in self.executing:
            return []
        self.executing.discard(ts)
        self.long_running.add(ts)
        instructions: list = []
        if ts.state == "executing":
            instructions.append(ToScheduler({"op": "long-running", "key": key}))
        return self._transitions({}, instructions)

    def handle_pause(self) -> list:
        """Memory is short: start no new tasks (running ones finish) and fetch no inputs,
        and tell the scheduler, so it sends no more until we resume.

        >>> from shoal.distributed.state.worker_state import WorkerState
        >>> WorkerState("w1").handle_pause()
        [ToScheduler(msg={'op': 'worker-status-change', 'status': 'paused'})]
        """
        if self.status == "paused":
            return []
        self.status = "paused"
        return [ToScheduler({"op": "worker-status-change", "status": "paused"})]

    def handle_resume(self) -> list:
        """Memory is available again: start ready tasks, and tell the scheduler."""
        if self.status != "paused":
            return []
        self.status = "running"
        return self._transitions({}, [ToScheduler({"op": "worker-status-change", "status": "running"})])

    # ------------------------------------------------------------------ queries
    def execution_inputs(self, key: Key) -> tuple:
        """``(node, {dependency: value})`` to run task ``key``: ``node(inputs)``."""
        node, keys = self.execution_node(key)
        return node, {k: self.data[k] for k in keys}

    def execution_node(self, key: Key) -> tuple:
        """``(node, [dependency keys])`` of task ``key``, without reading its inputs (a server
        whose data may be on disk reads them on the task's own thread). They stay in
        ``data`` while the task executes: it is among their ``waiters``."""
        ts = self.tasks.get(key)
        if ts is None or ts.run_spec is None:
            raise KeyError(f"Worker {self.address!r} has no task {key!r} to execute.")
        return ts.run_spec, [dep.key for dep in ts.dependencies]
