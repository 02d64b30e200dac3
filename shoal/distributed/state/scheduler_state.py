"""``SchedulerState``: every decision of the distributed scheduler, without I/O.

Rules this file keeps
---------------------
- Everything that changes a task's state lives here, as one method per
  ``(start, finish)`` pair listed in ``SchedulerState.TRANSITIONS``. No other
  code assigns ``TaskState.state`` (the mixins below recommend transitions,
  they never make them).
- No sockets, no asyncio, no threads, no clocks read behind the caller's back
  (pass ``now=``, or a ``clock`` at construction). Every public method takes
  an event and returns the messages to send, ``[(recipient, msg), ...]``,
  where ``recipient`` is a worker address (a key of ``self.workers``) or a
  client id (a key of ``self.clients``) and ``msg`` a dict with an ``"op"``
  (shapes in ``messages.py``). Messages to one recipient must be sent in
  list order.
- These rules hold for the mixins ``SchedulerState`` is built from too.
- Per-task work is O(1) in the size of the cluster and of the graph:
  occupancy, free slots and idle workers are kept incrementally, and no
  transition scans all workers or all tasks (dask/distributed#7256).

Task states
-----------
``released`` (known, no data, not scheduled) -> ``waiting`` (for
dependencies) -> ``queued`` (root-ish, waiting for a free worker slot) or
``no-worker`` (restrictions no running worker meets) -> ``processing`` (sent
to a worker) -> ``memory`` (a worker holds the result) or ``erred``;
``forgotten`` when nothing refers to it any more.

Invariants (checked by ``validate_state``)
-------------------------------------------
- ``ts.waiters`` are the dependents of ``ts`` that still need its data: those
  in waiting/queued/no-worker/processing. ``ts.waiting_on`` (waiting only) are
  its dependencies not in memory.
- A task in memory has ``who_has`` non-empty and appears in each holder's
  ``has_what``; a task processing is in exactly one of its worker's
  ``processing`` (holding a slot) or ``long_running`` (seceded, no slot).
- No task is queued while a running worker has a free slot.
- A task is *needed* while a client wants it (``who_wants``) or a waiter
  needs it; a task that is not needed holds no data; a released task is
  forgotten once it also has no dependents (dependents keep it as lineage,
  so lost results can be recomputed).
- ``ws.occupancy == sum(ws.processing.values())``; ``free_slots`` holds the
  running workers with fewer than ``ws.slots`` tasks processing, ``idle``
  those with fewer than ``nthreads``.

Theory of operation
-------------------
Events (``update_graph``, ``handle_task_finished``, ``remove_worker``, ...)
turn into *recommendations* ``{key: finish}``; ``transitions`` pops them one
at a time, runs the table's method, and each method may recommend more. A
pair missing from the table is run as ``start -> released -> finish`` when
``finish`` is ``waiting`` or ``forgotten``; any other missing pair is a
recommendation made stale by an earlier transition and is dropped. Before a
``released``/``forgotten`` recommendation runs it is checked again, because
the task may have become needed since (reference counting is where Dask's
deadlocks came from, dask/distributed#5507).

Placement (``placement.py``): a ready root-ish task goes to a worker with a
free slot or waits in ``queued``; any other ready task goes to the cheapest
of the workers holding its inputs and one idle worker, where cost weighs
queued seconds per thread against bytes to transfer.

Work stealing (``stealing.py``) corrects placement afterwards: ``balance()``
asks saturated workers for queued tasks (``steal-request``); a task moves
only once its victim confirms it had not started it
(``handle_steal_response``), and stays ``processing`` on the victim until
then (``in_flight_steals``; ``_unassign`` drops a pending steal, so a late
answer is ignored). Graceful retirement (``begin_retirement``) marks workers
``closing``, moves their queue the same way and copies the results only they
hold to running workers (``acquire-replicas``) before ``remove_worker``.

Where the code lives
--------------------
This file holds the state, the transition engine, the transitions and their
bookkeeping, queries, events and validation. ``SchedulerState`` gets the rest
from one mixin per idea, each saying what it needs from the class:

- ``scheduler_clients.py`` (``SchedulerClientsMixin``): clients, submitted
  graphs, scattered data, releasing/cancelling/retrying keys;
- ``scheduler_workers.py`` (``SchedulerWorkersMixin``): workers joining,
  changing status and leaving, heartbeats, and their reports on tasks;
- ``placement.py`` (``PlacementMixin``): free slots, the root-ish queue and
  the worker a ready task goes to;
- ``stealing.py`` (``WorkStealingMixin``): ``balance`` and steal responses;
- ``retirement.py`` (``RetirementMixin``): graceful retirement.
"""

from __future__ import annotations

import numbers
import time
from collections import deque
from typing import Any, Callable, Iterable

from .errors import LostDataError
from .messages import Key, Messages, compute_task
from .placement import PlacementMixin, is_rootish
from .plugins import SchedulerPlugin
from .retirement import RetirementMixin
from .scheduler_clients import SchedulerClientsMixin
from .scheduler_records import NO_ITEMS, TaskState, WorkerInfo
from .scheduler_workers import SchedulerWorkersMixin
from .stealing import WorkStealingMixin
from .validation import validate_scheduler_state

_IN_PROGRESS = ("waiting", "queued", "no-worker", "processing")

__all__ = ["SchedulerState", "SchedulerPlugin"]


class SchedulerState(
    SchedulerClientsMixin, SchedulerWorkersMixin, PlacementMixin, WorkStealingMixin, RetirementMixin,
):
    """The scheduler's tasks, workers and clients, and the rules that move them.

    >>> from operator import add
    >>> from shoal.taskgraph import Task, Ref
    >>> s = SchedulerState()
    >>> s.add_worker("w1", nthreads=1)
    []
    >>> msgs = s.update_graph("c1", {"x": Task("x", add, 1, 2)}, keys=["x"])
    >>> [(to, m["op"], m["key"]) for to, m in msgs]
    [('w1', 'compute-task', 'x')]
    >>> s.handle_task_finished("w1", "x", nbytes=28)
    [('c1', {'op': 'key-in-memory', 'key': 'x', 'nbytes': 28, 'type': ''})]
    >>> s.client_releases_keys("c1", ["x"])
    [('w1', {'op': 'free-keys', 'keys': ['x']})]
    >>> s.tasks
    {}
    """

    def __init__(
        self,
        *,
        allowed_failures: int = 3,
        worker_saturation: float = 1.1,
        default_task_duration: float = 0.5,
        bandwidth: float = 100e6,
        event_log_size: int = 10_000,
        transition_log_size: int = 100_000,
        clock: Callable[[], float] = time.time,
    ):
        if isinstance(allowed_failures, bool) or not isinstance(allowed_failures, numbers.Integral) or allowed_failures < 0:
            # Checked here: a bad value only failed when a worker died, inside remove_worker.
            raise ValueError(f"allowed_failures must be a whole number of worker deaths >= 0, "
                             f"got {allowed_failures!r}")
        self.allowed_failures = allowed_failures
        self.worker_saturation = worker_saturation
        self.default_task_duration = default_task_duration
        self.bandwidth = bandwidth
        self.clock = clock

        self.tasks: dict = {}  # key -> TaskState
        self.workers: dict = {}  # address -> WorkerInfo
        self.aliases: dict = {}  # worker name -> address
        self.clients: dict = {}  # client id -> ClientInfo
        self.prefixes: dict = {}  # prefix name -> TaskPrefix

        self.free_slots: dict = {}  # WorkerInfo -> None; running, len(processing) < slots
        self.idle: dict = {}  # WorkerInfo -> None; running, len(processing) < nthreads
        self._running: list = []  # running WorkerInfos, for round-robin fallbacks
        self._cursor = 0
        self.resource_holders: dict = {}  # resource name -> {WorkerInfo: amount}
        self.total_nthreads = 0
        self.total_occupancy = 0.0

        self.queue: list = []  # heap of (*priority, seq, TaskState); stale entries skipped
        self.n_queued = 0
        self._queue_counter = 0
        self.unrunnable: dict = {}  # TaskState -> None, tasks in no-worker
        self.generation = 0

        self.plugins: list = []
        self.events: deque = deque(maxlen=event_log_size)  # (time, topic, payload)
        self.transition_log: deque = deque(maxlen=transition_log_size)  # (key, start, finish)
        self.n_transitions = 0
        self.n_stale_recommendations = 0
        self._free_keys_outbox: dict = {}  # address -> [keys], flushed per batch
        # Work stealing (stealing.py): TaskState -> (steal id, victim, thief) awaiting the victim's answer.
        self.in_flight_steals: dict = {}
        self._steal_ids = 0
        self.n_steals = 0  # confirmed moves
        self.n_steals_refused = 0  # the victim had started the task already
        # Graceful retirement: retiring WorkerInfo -> None; key -> WorkerInfo asked to copy it off them.
        self.retiring: dict = {}
        self._evacuating: dict = {}
        self._asked_to_move: dict = {}  # TaskState -> None: one steal request each (a refusal means it runs)

    # ------------------------------------------------------------------ engine
    def transitions(self, recommendations: dict) -> Messages:
        """Run ``{key: finish}`` recommendations, and those they lead to, to completion."""
        msgs: list = []
        recs = recommendations
        while True:
            while recs:
                key, finish = recs.popitem()
                self._transition(key, finish, recs, msgs)
            if not (self.n_queued and self.free_slots):
                break
            # A slot can stay free if the queued task popped for it turned out
            # to be unneeded: hand out queued work until no slot or task is left.
            for ws in list(self.free_slots):
                self._fill_slots(ws, recs)
            if not recs:
                break
        self._flush_free_keys(msgs)
        return msgs

    def _transition(self, key: Key, finish: str, recs: dict, msgs: list) -> None:
        ts = self.tasks.get(key)
        if ts is None:
            return
        start = ts.state
        if start == finish:
            return
        if finish in ("released", "forgotten") and self._still_needed(ts, finish):
            if start == "queued":
                self._push_queued(ts)  # it may have been popped for a slot meanwhile
            return
        if finish in _IN_PROGRESS and not (ts.who_wants or ts.waiters):
            # Recommended while needed, but what needed it has gone since.
            finish = "released" if ts.dependents else "forgotten"
            if start == finish:
                return
        if finish == "processing" and start == "waiting" and not self.free_slots and is_rootish(ts):
            finish = "queued"
        method = self.TRANSITIONS.get((start, finish))
        if method is not None:
            self._run(method, ts, start, recs, msgs)
        elif finish in ("waiting", "forgotten"):
            self._run(self.TRANSITIONS[(start, "released")], ts, start, recs, msgs)
            if ts.state == "released":
                self._run(self.TRANSITIONS[("released", finish)], ts, "released", recs, msgs)
        else:
            self.n_stale_recommendations += 1
            if start == "queued":
                self._push_queued(ts)

    def _run(self, method, ts: TaskState, start: str, recs: dict, msgs: list) -> None:
        method(self, ts, recs, msgs)
        finish = ts.state
        if finish == start:
            return
        counts = ts.prefix.state_counts
        counts[start] -= 1
        counts[finish] = counts.get(finish, 0) + 1
        self.n_transitions += 1
        self.transition_log.append((ts.key, start, finish))
        if self.plugins:
            info = {"worker": ts.processing_on.address} if finish == "processing" else {}
            self._notify("transition", ts.key, start, finish, **info)

    def _still_needed(self, ts: TaskState, finish: str) -> bool:
        if finish == "forgotten":
            return bool(ts.who_wants or ts.waiters or ts.dependents)
        if ts.who_wants or ts.waiters:
            # Lost data (memory with no holder) is released even though needed.
            return not (ts.state == "memory" and not ts.who_has)
        return False

    def _release_if_unneeded(self, ts: TaskState, recs: dict) -> None:
        if ts.waiters or ts.who_wants:
            return
        if ts.state == "released":
            if not ts.dependents:
                recs[ts.key] = "forgotten"
        else:
            recs[ts.key] = "released" if ts.dependents else "forgotten"

    def _after_released(self, ts: TaskState, recs: dict) -> None:
        if ts.who_wants or ts.waiters:
            recs[ts.key] = "waiting"
        elif not ts.dependents:
            recs[ts.key] = "forgotten"

    def _stop_needing_dependencies(self, ts: TaskState, recs: dict) -> None:
        for dep in ts.dependencies:
            dep.waiters.discard(ts)
            self._release_if_unneeded(dep, recs)

    # ------------------------------------------------------------------ transitions
    def _transition_released_waiting(self, ts, recs, msgs):
        ts.state = "waiting"
        ts.waiting_on.clear()
        if ts.run_spec is None:  # scattered data has no recipe: it cannot be recomputed
            err = LostDataError(ts.key, ts.killed_on)
            ts.exception, ts.traceback, ts.exception_text = err, None, str(err)
            ts.exception_blame = ts.key
            recs[ts.key] = "erred"
            return
        erred_dep = None
        for dep in ts.dependencies:
            state = dep.state
            if state == "erred":
                erred_dep = dep
                continue
            if dep.waiters is NO_ITEMS:  # shared until first needed (scheduler_records.NO_ITEMS)
                dep.waiters = set()
            dep.waiters.add(ts)
            if state != "memory":
                if ts.waiting_on is NO_ITEMS:
                    ts.waiting_on = set()
                ts.waiting_on.add(dep)
                if state == "released":
                    recs[dep.key] = "waiting"
        if erred_dep is not None:
            self._blame(ts, erred_dep)
            recs[ts.key] = "erred"
        elif not ts.waiting_on:
            recs[ts.key] = "processing"

    def _transition_released_forgotten(self, ts, recs, msgs):
        ts.state = "forgotten"
        del self.tasks[ts.key]
        for dep in ts.dependencies:
            dep.dependents.discard(ts)
            dep.waiters.discard(ts)
            if not (dep.dependents or dep.who_wants or dep.waiters):
                recs[dep.key] = "forgotten"

    def _transition_waiting_processing(self, ts, recs, msgs):
        if ts.waiting_on:  # stale: an input was lost after this was recommended
            self.n_stale_recommendations += 1
            return
        ws = self._decide_worker(ts)
        if ws is None:
            self._transition_waiting_no_worker(ts, recs, msgs)
        else:
            self._assign(ts, ws, msgs)

    def _transition_waiting_queued(self, ts, recs, msgs):
        ts.state = "queued"
        self.n_queued += 1
        self._push_queued(ts)

    def _transition_waiting_no_worker(self, ts, recs, msgs):
        ts.state = "no-worker"
        self.unrunnable[ts] = None

    def _transition_waiting_released(self, ts, recs, msgs):
        ts.state = "released"
        ts.waiting_on.clear()
        self._stop_needing_dependencies(ts, recs)
        self._after_released(ts, recs)

    def _transition_waiting_erred(self, ts, recs, msgs):
        ts.state = "erred"
        ts.waiting_on.clear()
        self._stop_needing_dependencies(ts, recs)
        self._err_dependents(ts, recs)
        self._report_erred(ts, msgs)

    def _transition_queued_processing(self, ts, recs, msgs):
        ws = self._decide_worker(ts)
        if ws is None:
            self._push_queued(ts)  # no slot after all; stay queued
            return
        self.n_queued -= 1
        self._assign(ts, ws, msgs)

    def _transition_queued_released(self, ts, recs, msgs):
        ts.state = "released"
        self.n_queued -= 1
        ts.queue_seq = -1
        self._stop_needing_dependencies(ts, recs)
        self._after_released(ts, recs)

    def _transition_no_worker_processing(self, ts, recs, msgs):
        ws = self._decide_worker(ts)
        if ws is not None:
            del self.unrunnable[ts]
            self._assign(ts, ws, msgs)

    def _transition_no_worker_released(self, ts, recs, msgs):
        ts.state = "released"
        del self.unrunnable[ts]
        self._stop_needing_dependencies(ts, recs)
        self._after_released(ts, recs)

    def _transition_processing_memory(self, ts, recs, msgs):
        ws = self._unassign(ts)
        ts.state = "memory"
        self._add_replica(ts, ws)
        self._stop_needing_dependencies(ts, recs)
        for dts in ts.waiters:
            if dts.state == "waiting":
                dts.waiting_on.discard(ts)
                if not dts.waiting_on:
                    recs[dts.key] = "processing"
        if ts.who_wants:
            msg = {"op": "key-in-memory", "key": ts.key, "nbytes": ts.nbytes, "type": ts.type}
            for client in ts.who_wants:
                msgs.append((client.id, msg))
        self._fill_slots(ws, recs)

    def _transition_processing_erred(self, ts, recs, msgs):
        ws = self._unassign(ts)
        ts.state = "erred"
        # The worker keeps the failed task until told to free it (see erred -> released).
        ts.erred_on = ws if ws.status != "closed" else None
        self._stop_needing_dependencies(ts, recs)
        self._err_dependents(ts, recs)
        self._report_erred(ts, msgs)
        self._fill_slots(ws, recs)

    def _transition_processing_released(self, ts, recs, msgs):
        ws = self._unassign(ts)
        ts.state = "released"
        if ws.status != "closed":
            self._free_key_on(ws, ts.key)  # cancel it there
        self._stop_needing_dependencies(ts, recs)
        self._fill_slots(ws, recs)
        self._after_released(ts, recs)

    def _transition_memory_released(self, ts, recs, msgs):
        for ws in ts.who_has:
            del ws.has_what[ts]
            ws.nbytes -= max(ts.nbytes, 0)
            if ws.status != "closed":
                self._free_key_on(ws, ts.key)
        ts.who_has.clear()
        ts.state = "released"
        for dts in ts.waiters:
            if dts.state == "waiting":
                if dts.waiting_on is NO_ITEMS:
                    dts.waiting_on = set()
                dts.waiting_on.add(ts)
            else:  # queued, no-worker or processing: its input is gone, start again
                recs[dts.key] = "waiting"
        self._after_released(ts, recs)

    def _transition_erred_released(self, ts, recs, msgs):
        ws = ts.erred_on  # where it failed; that worker still holds the error
        if ws is not None and ws.status != "closed":
            self._free_key_on(ws, ts.key)
        ts.erred_on = None
        ts.state = "released"
        ts.exception = ts.traceback = ts.exception_blame = None
        ts.exception_text = ""
        self._after_released(ts, recs)

    def _transition_released_memory(self, ts, recs, msgs):
        # Data a client scattered: ``ts.who_has`` was filled by update_data.
        ts.state = "memory"
        for ws in ts.who_has:
            ws.has_what[ts] = None
            ws.nbytes += max(ts.nbytes, 0)
        msg = {"op": "key-in-memory", "key": ts.key, "nbytes": ts.nbytes, "type": ts.type}
        for client in ts.who_wants:
            msgs.append((client.id, msg))

    TRANSITIONS = {
        ("released", "waiting"): _transition_released_waiting,
        ("released", "forgotten"): _transition_released_forgotten,
        ("released", "memory"): _transition_released_memory,
        ("waiting", "processing"): _transition_waiting_processing,
        ("waiting", "queued"): _transition_waiting_queued,
        ("waiting", "no-worker"): _transition_waiting_no_worker,
        ("waiting", "released"): _transition_waiting_released,
        ("waiting", "erred"): _transition_waiting_erred,
        ("queued", "processing"): _transition_queued_processing,
        ("queued", "released"): _transition_queued_released,
        ("no-worker", "processing"): _transition_no_worker_processing,
        ("no-worker", "released"): _transition_no_worker_released,
        ("processing", "memory"): _transition_processing_memory,
        ("processing", "erred"): _transition_processing_erred,
        ("processing", "released"): _transition_processing_released,
        ("memory", "released"): _transition_memory_released,
        ("erred", "released"): _transition_erred_released,
    }

    # ------------------------------------------------------------------ helpers of transitions
    def _blame(self, ts: TaskState, culprit: TaskState) -> None:
        # Copy, not reference: the culprit's error is cleared if it is released.
        ts.exception_blame = culprit.exception_blame
        ts.exception = culprit.exception
        ts.traceback = culprit.traceback
        ts.exception_text = culprit.exception_text

    def _err_dependents(self, ts: TaskState, recs: dict) -> None:
        for dts in ts.waiters:
            if dts.state == "waiting":
                self._blame(dts, ts)
                recs[dts.key] = "erred"

    def _report_erred(self, ts: TaskState, msgs: list) -> None:
        if not ts.who_wants:
            return
        msg = {
            "op": "task-erred", "key": ts.key, "blamed_key": ts.exception_blame,
            "exception": ts.exception, "traceback": ts.traceback,
            "exception_text": ts.exception_text,
        }
        for client in ts.who_wants:
            msgs.append((client.id, msg))

    def _estimate(self, ts: TaskState) -> float:
        average = ts.prefix.duration_average
        return average if average >= 0 else self.default_task_duration

    def _assign(self, ts: TaskState, ws: WorkerInfo, msgs: list) -> None:
        duration = self._estimate(ts)
        ws.processing[ts] = duration
        ws.occupancy += duration
        self.total_occupancy += duration
        ts.processing_on = ws
        ts.state = "processing"
        self._update_slots(ws)
        if ws.address in self._free_keys_outbox:
            # A free-keys for this key may be pending: it must arrive first.
            msgs.append((ws.address, {"op": "free-keys", "keys": self._free_keys_outbox.pop(ws.address)}))
        deps = ts.dependencies
        if deps:
            who_has = {d.key: [w.address for w in d.who_has] for d in deps}
            nbytes = {d.key: d.nbytes for d in deps}
        else:
            who_has, nbytes = {}, {}
        msgs.append((ws.address, compute_task(
            ts.key, ts.run_spec, ts.priority, who_has, nbytes, ts.resource_restrictions, duration,
        )))

    def _unassign(self, ts: TaskState) -> WorkerInfo:
        ws = ts.processing_on
        ts.processing_on = None
        if self.in_flight_steals:
            self.in_flight_steals.pop(ts, None)  # its answer, when it comes, is stale
        if ts in ws.long_running:
            ws.long_running.discard(ts)  # holds no slot and no occupancy any more
            return ws
        duration = ws.processing.pop(ts)
        if ws.processing:
            ws.occupancy -= duration
        else:
            ws.occupancy = 0.0  # no float drift accumulates across runs
        self.total_occupancy -= duration
        self._update_slots(ws)
        return ws

    def _add_replica(self, ts: TaskState, ws: WorkerInfo) -> None:
        if ws not in ts.who_has:
            if ts.who_has is NO_ITEMS:
                ts.who_has = set()
            ts.who_has.add(ws)
            ws.has_what[ts] = None
            ws.nbytes += max(ts.nbytes, 0)

    def _remove_replica(self, ts: TaskState, ws: WorkerInfo) -> None:
        if ws in ts.who_has:
            ts.who_has.discard(ws)
            del ws.has_what[ts]
            ws.nbytes -= max(ts.nbytes, 0)

    def _free_key_on(self, ws: WorkerInfo, key: Key) -> None:
        self._free_keys_outbox.setdefault(ws.address, []).append(key)

    def _flush_free_keys(self, msgs: list) -> None:
        if self._free_keys_outbox:
            for address, keys in self._free_keys_outbox.items():
                msgs.append((address, {"op": "free-keys", "keys": keys}))
            self._free_keys_outbox = {}


    # ------------------------------------------------------------------ queries
    def who_has(self, keys: Iterable[Key] | None = None) -> dict:
        """``{key: [addresses holding it]}`` for ``keys`` (default: every task)."""
        keys = self.tasks if keys is None else keys
        return {k: [w.address for w in self.tasks[k].who_has] if k in self.tasks else [] for k in keys}

    def has_what(self, workers: Iterable[str] | None = None) -> dict:
        """``{address: [keys it holds]}`` for ``workers`` (default: all)."""
        workers = self.workers if workers is None else workers
        return {a: [ts.key for ts in self.workers[a].has_what] if a in self.workers else [] for a in workers}

    def nbytes(self, keys: Iterable[Key] | None = None) -> dict:
        """``{key: size in bytes}`` of results in memory."""
        keys = self.tasks if keys is None else keys
        return {k: self.tasks[k].nbytes for k in keys if k in self.tasks and self.tasks[k].state == "memory"}

    def task_counts(self) -> dict:
        """``{state: number of tasks}`` over all prefixes."""
        counts: dict = {}
        for prefix in self.prefixes.values():
            for state, n in prefix.state_counts.items():
                if n and state != "forgotten":
                    counts[state] = counts.get(state, 0) + n
        return counts

    # ------------------------------------------------------------------ events and plugins
    def add_plugin(self, plugin: SchedulerPlugin) -> None:
        self.plugins.append(plugin)

    def remove_plugin(self, plugin: SchedulerPlugin) -> None:
        self.plugins.remove(plugin)

    def log_event(self, topic: str, **payload: Any) -> None:
        """Append to the bounded event log the dashboard reads."""
        self.events.append((self.clock(), topic, payload))

    def _notify(self, hook: str, *args: Any, **kwargs: Any) -> None:
        for plugin in self.plugins:
            try:
                getattr(plugin, hook)(*args, **kwargs)
            except Exception as exc:  # an observer must not break the scheduler
                self.log_event("plugin-error", plugin=type(plugin).__name__, hook=hook, error=repr(exc))

    # ------------------------------------------------------------------ validation
    def validate_state(self) -> None:
        """Check every invariant in the module docstring; raise AssertionError naming the task."""
        validate_scheduler_state(self)
