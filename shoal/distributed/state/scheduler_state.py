"""``SchedulerState``: every decision of the distributed scheduler, without I/O.

Rules this file keeps
---------------------
- Everything that changes a task's state lives here, as one method per
  ``(start, finish)`` pair listed in ``SchedulerState.TRANSITIONS``. No other
  code assigns ``TaskState.state``.
- No sockets, no asyncio, no threads, no clocks read behind the caller's back
  (pass ``now=``, or a ``clock`` at construction). Every public method takes
  an event and returns the messages to send, ``[(recipient, msg), ...]``,
  where ``recipient`` is a worker address (a key of ``self.workers``) or a
  client id (a key of ``self.clients``) and ``msg`` a dict with an ``"op"``
  (shapes in ``messages.py``). Messages to one recipient must be sent in
  list order.
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
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from typing import Any, Callable, Hashable, Iterable, Mapping

from shoal.taskgraph.core import DataNode, key_prefix
from shoal.taskgraph.errors import MissingKeyError
from shoal.taskgraph.order import order

from .errors import KilledWorker, LostDataError, UnknownKeyError, UnknownWorkerError
from .messages import compute_task
from .placement import choose_worker, is_rootish
from .plugins import SchedulerPlugin
from .scheduler_records import NO_ITEMS, NO_WORKERS, ClientInfo, TaskPrefix, TaskState, WorkerInfo
from .stealing import plan_steals
from .validation import validate_scheduler_state

Key = Hashable
Messages = list  # [(recipient, msg dict), ...]

_WORKER_STATUSES = ("running", "paused", "closing")
_IN_PROGRESS = ("waiting", "queued", "no-worker", "processing")

__all__ = ["SchedulerState", "SchedulerPlugin"]


class SchedulerState:
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

    def _update_slots(self, ws: WorkerInfo) -> None:
        if ws.status != "running":
            self.free_slots.pop(ws, None)
            self.idle.pop(ws, None)
            return
        n = len(ws.processing)
        if n < ws.slots:
            self.free_slots[ws] = None
        else:
            self.free_slots.pop(ws, None)
        if n < ws.nthreads:
            self.idle[ws] = None
        else:
            self.idle.pop(ws, None)

    def _push_queued(self, ts: TaskState) -> None:
        self._queue_counter += 1
        ts.queue_seq = self._queue_counter
        # Flat (priority..., seq, ts) tuples compare faster than nested ones.
        heapq.heappush(self.queue, (*ts.priority, self._queue_counter, ts))
        if len(self.queue) > 2 * self.n_queued + 1024:
            # Drop stale entries now and then so the heap stays proportional.
            self.queue = [e for e in self.queue if e[-1].state == "queued" and e[-1].queue_seq == e[-2]]
            heapq.heapify(self.queue)

    def _pop_queued(self) -> TaskState | None:
        queue = self.queue
        while queue:
            entry = heapq.heappop(queue)
            seq, ts = entry[-2], entry[-1]
            if ts.state == "queued" and ts.queue_seq == seq:
                ts.queue_seq = -1
                return ts
        return None

    def _fill_slots(self, ws: WorkerInfo, recs: dict) -> None:
        """Recommend queued tasks for the free slots of ``ws``."""
        if not self.n_queued or ws.status != "running":
            return
        for _ in range(ws.slots - len(ws.processing)):
            ts = self._pop_queued()
            if ts is None:
                return
            recs[ts.key] = "processing"

    def _valid_workers(self, ts: TaskState):
        """``None`` if any running worker may run ``ts``, else the set that may."""
        if ts.worker_restrictions is None and ts.resource_restrictions is None:
            return None
        valid = None
        if ts.worker_restrictions is not None:
            valid = set()
            for name in ts.worker_restrictions:
                ws = self.workers.get(self.aliases.get(name, name))
                if ws is not None and ws.status == "running":
                    valid.add(ws)
        if ts.resource_restrictions:
            for resource, amount in ts.resource_restrictions.items():
                holders = {
                    ws for ws, have in self.resource_holders.get(resource, {}).items()
                    if have >= amount and ws.status == "running"
                }
                valid = holders if valid is None else valid & holders
        return valid

    def _round_robin(self) -> WorkerInfo | None:
        if not self._running:
            return None
        self._cursor = (self._cursor + 1) % len(self._running)
        return self._running[self._cursor]

    def _decide_worker(self, ts: TaskState) -> WorkerInfo | None:
        valid = self._valid_workers(ts)
        if valid is not None and not valid:
            if not ts.loose_restrictions:
                return None
            valid = None
        if valid is not None:
            return choose_worker(ts, valid, valid, self.bandwidth)
        if is_rootish(ts):
            return next(iter(self.free_slots), None)
        extra = []
        if self.idle:
            extra.append(next(iter(self.idle)))
        else:
            ws = self._round_robin()
            if ws is not None:
                extra.append(ws)
        return choose_worker(ts, extra, None, self.bandwidth)

    # ------------------------------------------------------------------ clients and graphs
    def add_client(self, client: str) -> Messages:
        """Register ``client`` (done implicitly by ``update_graph``)."""
        if client not in self.clients:
            if client in self.workers:
                raise ValueError(f"Client id {client!r} is already a worker's address; use another id.")
            self.clients[client] = ClientInfo(client)
            self.log_event("add-client", client=client)
            self._notify("add_client", client)
        return []

    def remove_client(self, client: str) -> Messages:
        """``client`` disconnected: release every key it held."""
        cs = self.clients.get(client)
        if cs is None:
            return []
        msgs = self.client_releases_keys(client, [ts.key for ts in cs.wants_what])
        del self.clients[client]
        self.log_event("remove-client", client=client)
        self._notify("remove_client", client)
        return msgs

    def update_graph(
        self,
        client: str,
        graph: Mapping[Key, Any],
        keys: Iterable[Key],
        *,
        priority: int | Mapping = 0,
        workers: Iterable[str] | Mapping | None = None,
        allow_other_workers: bool = False,
        resources: Mapping | None = None,
        retries: int | Mapping = 0,
    ) -> Messages:
        """``client`` submits ``graph`` (``{key: GraphNode}``) and wants ``keys``.

        Keys the scheduler already holds keep their task (a key names a
        result). ``priority``, ``retries``, ``workers`` and ``resources`` apply
        to every new task, or per key when given as a mapping (``resources``
        is per key when its values are mappings). Larger ``priority`` runs
        first; ties go to earlier submissions, then to ``taskgraph.order``.
        """
        self.add_client(client)
        cs = self.clients[client]
        keys = list(keys)
        tasks = self.tasks
        missing = [k for k in keys if k not in graph and k not in tasks]
        if missing:
            raise MissingKeyError(missing, graph)
        new = {k: node for k, node in graph.items() if k not in tasks}
        external: dict = {}
        for k, node in new.items():
            for dep in node.dependencies:
                if dep not in new:
                    if dep not in tasks:
                        raise UnknownKeyError(dep, k)
                    external[dep] = DataNode(dep, None)
        ranks = order({**external, **new} if external else new)

        self.generation += 1
        generation = self.generation
        prefixes = self.prefixes
        priority_of = priority.get if isinstance(priority, Mapping) else None
        retries_of = retries.get if isinstance(retries, Mapping) else None
        restricted = workers is not None or bool(resources)
        for k, node in new.items():
            name = key_prefix(k)
            prefix = prefixes.get(name)
            if prefix is None:
                prefix = prefixes[name] = TaskPrefix(name)
            ts = TaskState(k, node, prefix, empty=NO_ITEMS)
            ts.priority = (-(priority_of(k, 0) if priority_of else priority), generation, ranks[k])
            ts.retries = retries_of(k, 0) if retries_of else retries
            if restricted:
                self._set_restrictions(ts, workers, allow_other_workers, resources)
            tasks[k] = ts
            prefix.state_counts["released"] = prefix.state_counts.get("released", 0) + 1
        for k, node in new.items():
            ts = tasks[k]
            deps = node.dependencies
            if deps:
                ts.dependencies = {tasks[dep] for dep in deps}
                for dts in ts.dependencies:
                    if dts.dependents is NO_ITEMS:
                        dts.dependents = set()
                    dts.dependents.add(ts)

        msgs: list = []
        recs: dict = {}
        wanted = [tasks[k] for k in dict.fromkeys(keys)]
        wanted.sort(key=lambda t: t.priority, reverse=True)  # popitem() takes the last first
        for ts in wanted:
            if ts not in cs.wants_what:
                cs.wants_what.add(ts)
                if ts.who_wants is NO_ITEMS:
                    ts.who_wants = set()
                ts.who_wants.add(cs)
            if ts.state == "released":
                recs[ts.key] = "waiting"
            elif ts.state == "memory":
                msgs.append((client, {"op": "key-in-memory", "key": ts.key, "nbytes": ts.nbytes, "type": ts.type}))
            elif ts.state == "erred":
                self._report_erred_to(ts, client, msgs)
        msgs += self.transitions(recs)
        # Submitted tasks that no wanted key needs are dropped, dependents first.
        unneeded = {
            k: "forgotten" for k in new
            if tasks.get(k) is not None and tasks[k].state == "released"
            and not (tasks[k].who_wants or tasks[k].waiters)
        }
        if unneeded:
            msgs += self.transitions(dict(reversed(list(unneeded.items()))))
        self.log_event("update-graph", client=client, keys=len(keys), new_tasks=len(new))
        if self.plugins:
            self._notify("update_graph", client, keys, list(new))
        return msgs

    def _report_erred_to(self, ts: TaskState, client: str, msgs: list) -> None:
        msgs.append((client, {
            "op": "task-erred", "key": ts.key, "blamed_key": ts.exception_blame,
            "exception": ts.exception, "traceback": ts.traceback,
            "exception_text": ts.exception_text,
        }))

    @staticmethod
    def _set_restrictions(ts, workers, allow_other_workers, resources) -> None:
        if workers is not None:
            chosen = workers.get(ts.key) if isinstance(workers, Mapping) else workers
            if chosen is not None:
                ts.worker_restrictions = {chosen} if isinstance(chosen, str) else set(chosen)
                ts.loose_restrictions = bool(allow_other_workers)
        if resources:
            first = next(iter(resources.values()))
            chosen = resources.get(ts.key) if isinstance(first, Mapping) else resources
            if chosen:
                ts.resource_restrictions = dict(chosen)

    def client_releases_keys(self, client: str, keys: Iterable[Key]) -> Messages:
        """``client`` dropped its futures on ``keys``: free what nobody needs now."""
        cs = self.clients.get(client)
        if cs is None:
            return []
        recs: dict = {}
        for key in keys:
            ts = self.tasks.get(key)
            if ts is None or ts not in cs.wants_what:
                continue
            cs.wants_what.discard(ts)
            ts.who_wants.discard(cs)
            self._release_if_unneeded(ts, recs)
        return self.transitions(recs)

    def cancel_keys(self, client: str, keys: Iterable[Key], *, force: bool = False) -> Messages:
        """Cancel ``keys`` for ``client`` (for every client with ``force``).

        Each affected client gets ``cancelled-keys``; the tasks stop and their
        data is freed unless another client or a dependent still needs them.
        """
        msgs: list = []
        affected: dict = {}
        for key in keys:
            ts = self.tasks.get(key)
            if ts is None:
                continue
            for cs in list(ts.who_wants):
                if force or cs.id == client:
                    affected.setdefault(cs.id, []).append(key)
        for cid, cancelled in affected.items():
            msgs.append((cid, {"op": "cancelled-keys", "keys": cancelled}))
            msgs += self.client_releases_keys(cid, cancelled)
        return msgs

    def retry_keys(self, client: str, keys: Iterable[Key]) -> Messages:
        """Run erred ``keys`` again, with the erred tasks they depend on."""
        retry: dict = {}
        stack = [self.tasks[k] for k in keys if k in self.tasks and self.tasks[k].state == "erred"]
        while stack:
            ts = stack.pop()
            if ts in retry:
                continue
            retry[ts] = None
            stack.extend(d for d in ts.dependencies if d.state == "erred")
        # Inputs (smaller priority) must be retried before their dependents see them
        # erred, and popitem() takes the last entry first.
        ordered = sorted(retry, key=lambda t: t.priority, reverse=True)
        self.log_event("retry", client=client, keys=[ts.key for ts in ordered])
        return self.transitions({ts.key: "waiting" for ts in ordered})

    def update_data(self, client: str, who_has: Mapping, nbytes: Mapping | None = None,
                    types: Mapping | None = None) -> Messages:
        """``client`` scattered data: ``who_has`` is ``{key: [worker addresses holding it]}``.

        The keys are wanted by ``client`` and in memory. They have no task
        to rerun, so if every copy is lost they err with ``LostDataError``.
        """
        self.add_client(client)
        cs = self.clients[client]
        nbytes = nbytes or {}
        types = types or {}
        recs: dict = {}
        msgs: list = []
        for key, addresses in who_has.items():
            holders = [self._worker(a) for a in addresses]
            ts = self.tasks.get(key)
            if ts is None:
                name = key_prefix(key)
                prefix = self.prefixes.get(name) or self.prefixes.setdefault(name, TaskPrefix(name))
                ts = self.tasks[key] = TaskState(key, None, prefix)
                prefix.state_counts["released"] = prefix.state_counts.get("released", 0) + 1
                self.generation += 1
                ts.priority = (0, self.generation, 0)
            if ts not in cs.wants_what:
                cs.wants_what.add(ts)
                if ts.who_wants is NO_ITEMS:
                    ts.who_wants = set()
                ts.who_wants.add(cs)
            if ts.state == "memory":
                for ws in holders:
                    self._add_replica(ts, ws)
                msgs.append((client, {"op": "key-in-memory", "key": key, "nbytes": ts.nbytes, "type": ts.type}))
            elif ts.state == "released" and holders:
                ts.nbytes = nbytes.get(key, -1)
                ts.type = types.get(key, "")
                if ts.who_has is NO_ITEMS:
                    ts.who_has = set()
                ts.who_has.update(holders)
                recs[key] = "memory"
        self.log_event("update-data", client=client, keys=len(who_has))
        return msgs + self.transitions(recs)

    # ------------------------------------------------------------------ workers
    def add_worker(
        self,
        address: str,
        nthreads: int,
        *,
        name: str | None = None,
        memory_limit: int | None = None,
        resources: Mapping | None = None,
        now: float | None = None,
        nanny: str | None = None,
    ) -> Messages:
        """A worker joined with ``nthreads`` threads; queued and unrunnable tasks may go to it.

        ``nanny``: the address of the nanny supervising its process, if any.
        """
        if address in self.workers:
            raise ValueError(
                f"A worker at {address!r} is already registered; remove it before "
                "registering again (a restarted worker must wait for its old entry to go)."
            )
        if address in self.clients:
            raise ValueError(f"Worker address {address!r} is already a client's id.")
        if nthreads < 1:
            raise ValueError(f"Worker {address!r}: nthreads must be at least 1, got {nthreads}.")
        ws = WorkerInfo(
            address, nthreads, name=name, memory_limit=memory_limit, resources=resources,
            saturation=self.worker_saturation, now=self.clock() if now is None else now, nanny=nanny,
        )
        self.workers[address] = ws
        if ws.name != address:
            self.aliases[ws.name] = address
        for resource, amount in ws.resources.items():
            self.resource_holders.setdefault(resource, {})[ws] = amount
        self.total_nthreads += nthreads
        self._set_running(ws)
        self.log_event("add-worker", worker=address, nthreads=nthreads)
        self._notify("add_worker", address, nthreads=nthreads, name=ws.name)
        return self.transitions(self._work_for(ws))

    def _set_running(self, ws: WorkerInfo) -> None:
        ws.status = "running"
        if ws not in self._running:
            self._running.append(ws)
        self._update_slots(ws)

    def _work_for(self, ws: WorkerInfo) -> dict:
        """Recommendations that give a newly available worker something to do."""
        recs = {ts.key: "processing" for ts in self.unrunnable}
        self._fill_slots(ws, recs)
        return recs

    def set_worker_status(self, address: str, status: str) -> Messages:
        """``running``, ``paused`` (keeps its tasks, gets no new ones) or ``closing``."""
        if status not in _WORKER_STATUSES:
            raise ValueError(f"Worker status must be one of {_WORKER_STATUSES}, got {status!r}.")
        ws = self._worker(address)
        if status == ws.status:
            return []
        self.log_event("worker-status", worker=address, status=status)
        if status == "running":
            self._set_running(ws)
            return self.transitions(self._work_for(ws))
        ws.status = status
        if ws in self._running:
            self._running.remove(ws)
        self._update_slots(ws)
        return []

    def handle_worker_status_change(self, worker: str, status: str, **_: Any) -> Messages:
        """A worker paused (memory is short) or resumed; a retiring (``closing``) one stays so."""
        if status not in ("running", "paused"):
            raise ValueError(f"Worker {worker!r} reported status {status!r}; expected 'running' or 'paused'.")
        if self._worker(worker).status == "closing":
            return []
        return self.set_worker_status(worker, status)

    def remove_worker(self, address: str, *, reason: str = "") -> Messages:
        """A worker left or died: reschedule its tasks and recompute lost results.

        A task that was processing there counts one more death; at
        ``allowed_failures`` it errs with ``KilledWorker``.
        """
        ws = self.workers.pop(address, None)
        if ws is None:
            return []
        ws.status = "closed"
        self.retiring.pop(ws, None)
        if self.aliases.get(ws.name) == address:  # a restarted worker may already hold the name
            del self.aliases[ws.name]
        self.free_slots.pop(ws, None)
        self.idle.pop(ws, None)
        if ws in self._running:
            self._running.remove(ws)
        for resource in ws.resources:
            self.resource_holders.get(resource, {}).pop(ws, None)
        self.total_nthreads -= ws.nthreads
        self._free_keys_outbox.pop(address, None)

        recs: dict = {}
        for ts in [*ws.processing, *ws.long_running]:
            ts.suspicious += 1
            if ts.killed_on is NO_WORKERS:  # shared until a worker dies under it
                ts.killed_on = []
            ts.killed_on.append(address)
            if ts.suspicious >= self.allowed_failures:
                err = KilledWorker(ts.key, ts.killed_on, self.allowed_failures)
                ts.exception, ts.traceback, ts.exception_text = err, None, str(err)
                ts.exception_blame = ts.key
                recs[ts.key] = "erred"
                self.log_event("killed-worker", key=ts.key, workers=list(ts.killed_on))
            else:
                recs[ts.key] = "waiting"
        for ts in list(ws.has_what):
            self._remove_replica(ts, ws)
            if ts.run_spec is None:
                if ts.killed_on is NO_WORKERS:
                    ts.killed_on = []
                ts.killed_on.append(address)  # named by LostDataError if this was the last copy
            if not ts.who_has:
                recs[ts.key] = "waiting" if (ts.who_wants or ts.waiters) else "released"
        self.log_event("remove-worker", worker=address, reason=reason)
        self._notify("remove_worker", address, reason=reason)
        return self.transitions(recs)

    def heartbeat_worker(self, address: str, *, now: float | None = None, metrics: Mapping | None = None) -> Messages:
        """Record that ``address`` is alive (raises ``UnknownWorkerError`` if it was removed),
        and its latest ``metrics`` (``managed_bytes``, ``spilled_bytes``, ...) on ``ws.metrics``.
        Their ``events`` (transfers, spills) are for plugins, which see each heartbeat: not kept."""
        ws = self._worker(address)
        ws.last_seen = self.clock() if now is None else now
        if metrics:
            ws.metrics.update(metrics)
            ws.metrics.pop("events", None)
        return []

    def stale_workers(self, now: float, timeout: float) -> list:
        """Addresses of workers silent for more than ``timeout`` seconds (a periodic check)."""
        return [a for a, ws in self.workers.items() if now - ws.last_seen > timeout]

    def _worker(self, address: str) -> WorkerInfo:
        ws = self.workers.get(address)
        if ws is None:
            raise UnknownWorkerError(address, list(self.workers))
        return ws

    # ------------------------------------------------------------------ worker reports
    def handle_task_finished(self, worker: str, key: Key, nbytes: int = -1, duration: float | None = None,
                             type: str = "", **_: Any) -> Messages:
        """``worker`` computed ``key``; its result takes ``nbytes`` bytes."""
        ws = self.workers.get(worker)
        if ws is None:
            return []  # a late report from a removed worker; its data is gone with it
        ts = self.tasks.get(key)
        if ts is not None and ts.state == "processing" and ts.processing_on is ws:
            ts.nbytes = nbytes
            ts.type = type
            if duration is not None:
                ts.prefix.add_duration(duration)
            return self.transitions({key: "memory"})
        if ts is not None and ts.state == "memory":
            if ts.nbytes < 0:
                ts.nbytes = nbytes
            self._add_replica(ts, ws)
            return []
        return [(worker, {"op": "free-keys", "keys": [key]})]

    def handle_task_erred(self, worker: str, key: Key, exception: Any = None, traceback: Any = None,
                          exception_text: str = "", **_: Any) -> Messages:
        """Running ``key`` on ``worker`` raised; retry it or mark it (and its dependents) erred."""
        ws = self.workers.get(worker)
        ts = self.tasks.get(key)
        if ws is None or ts is None or ts.state != "processing" or ts.processing_on is not ws:
            return []
        if ts.retries > 0:
            ts.retries -= 1
            self.log_event("retry", key=key, worker=worker, retries_left=ts.retries)
            return self.transitions({key: "waiting"})
        ts.exception, ts.traceback = exception, traceback
        ts.exception_text = exception_text or repr(exception)
        ts.exception_blame = key
        self.log_event("task-erred", key=key, worker=worker, exception=ts.exception_text)
        return self.transitions({key: "erred"})

    def handle_add_keys(self, worker: str, keys: Iterable[Key], nbytes: Mapping | None = None, **_: Any) -> Messages:
        """``worker`` now holds replicas of ``keys`` (fetched from peers)."""
        ws = self.workers.get(worker)
        if ws is None:
            return []
        nbytes = nbytes or {}
        msgs: list = []
        unknown = []
        for key in keys:
            ts = self.tasks.get(key)
            if ts is not None and ts.state == "memory":
                self._add_replica(ts, ws)
            elif ts is not None and ts.state == "processing" and ts.processing_on is ws:
                msgs += self.handle_task_finished(worker, key, nbytes.get(key, -1))
            else:
                unknown.append(key)
        if unknown:
            msgs.append((worker, {"op": "free-keys", "keys": unknown}))
        return msgs

    def handle_missing_data(self, worker: str, key: Key, errant_worker: str, **_: Any) -> Messages:
        """``worker`` asked ``errant_worker`` for ``key``, which did not have it."""
        ts = self.tasks.get(key)
        if ts is None or ts.state != "memory":
            return []  # already being recomputed; dependents were told
        errant = self.workers.get(errant_worker)
        if errant is not None:
            self._remove_replica(ts, errant)
        if ts.who_has:
            who_has = {key: [w.address for w in ts.who_has]}
            return [(worker, {"op": "update-who-has", "who_has": who_has})]
        self.log_event("lost-data", key=key, worker=errant_worker)
        return self.transitions({key: "waiting" if (ts.who_wants or ts.waiters) else "released"})

    def handle_long_running(self, worker: str, key: Key, **_: Any) -> Messages:
        """Task ``key`` seceded from ``worker``'s thread pool (it waits on tasks it submitted).

        It stays ``processing`` there but no longer takes a slot or counts in
        occupancy, so the tasks it waits for can run — otherwise they could
        queue forever behind it.
        """
        ws = self.workers.get(worker)
        ts = self.tasks.get(key)
        if ws is None or ts is None or ts.processing_on is not ws or ts in ws.long_running:
            return []
        duration = ws.processing.pop(ts)
        ws.long_running.add(ts)
        ws.occupancy = ws.occupancy - duration if ws.processing else 0.0
        self.total_occupancy -= duration
        self._update_slots(ws)
        recs: dict = {}
        self._fill_slots(ws, recs)
        return self.transitions(recs)

    _WORKER_OPS = {
        "long-running": "handle_long_running",
        "task-finished": "handle_task_finished",
        "task-erred": "handle_task_erred",
        "add-keys": "handle_add_keys",
        "missing-data": "handle_missing_data",
        "worker-status-change": "handle_worker_status_change",
        "steal-response": "handle_steal_response",
    }

    def handle_worker_message(self, worker: str, msg: Mapping) -> Messages:
        """Dispatch one message of a worker's stream by its ``"op"``."""
        op = msg.get("op")
        if op == "task-finished":  # the hot path: one per task
            return self.handle_task_finished(
                worker, msg["key"], msg.get("nbytes", -1), msg.get("duration"), msg.get("type", ""),
            )
        name = self._WORKER_OPS.get(op)
        if name is None:
            raise ValueError(
                f"Unknown message op {msg.get('op')!r} from worker {worker!r}; "
                f"expected one of {sorted(self._WORKER_OPS)}."
            )
        fields = {k: v for k, v in msg.items() if k != "op"}
        return getattr(self, name)(worker, **fields)

    # ------------------------------------------------------------------ work stealing
    def balance(self) -> Messages:
        """Ask saturated workers to give queued tasks to idle ones (called periodically).

        Sends ``steal-request`` to each victim; the task stays where it is
        until the victim confirms it had not started it
        (``handle_steal_response``). See ``stealing.py`` for the policy.
        """
        if not self.idle:
            return []
        msgs: list = []
        for ts, victim, thief in plan_steals(self, self.in_flight_steals):
            self._steal_ids += 1
            self.in_flight_steals[ts] = (self._steal_ids, victim, thief)
            msgs.append((victim.address, {"op": "steal-request", "key": ts.key, "id": self._steal_ids}))
        if msgs:
            self.log_event("steal-requests", n=len(msgs))
        return msgs

    def handle_steal_response(self, worker: str, key: Key, id: int = -1, released: bool = False,
                              **_: Any) -> Messages:
        """The victim of steal ``id`` gave ``key`` up (``released``) or had started it.

        Only a released task moves: to the thief if it can still take it,
        otherwise back through placement. A response for a task that has
        been finished, released or moved since is ignored.
        """
        ts = self.tasks.get(key)
        record = self.in_flight_steals.get(ts) if ts is not None else None
        if record is None or record[0] != id or record[1].address != worker:
            return []
        del self.in_flight_steals[ts]
        _, victim, thief = record
        if not released:
            self.n_steals_refused += 1
            return []
        self.n_steals += 1
        self.log_event("steal", key=key, victim=victim.address, thief=thief.address)
        valid = self._valid_workers(ts)
        if thief.status != "running" or self.workers.get(thief.address) is not thief or \
                (valid is not None and thief not in valid):
            return self.transitions({key: "waiting"})  # placed again from scratch
        msgs: list = []
        recs: dict = {}
        self._unassign(ts)
        self._assign(ts, thief, msgs)
        if self.plugins:  # observers see it leave the victim and start on the thief
            self._notify("transition", key, "processing", "processing", worker=thief.address)
        self._fill_slots(victim, recs)
        return msgs + self.transitions(recs)

    # ------------------------------------------------------------------ graceful retirement
    def begin_retirement(self, addresses: Iterable[str]) -> Messages:
        """Start retiring ``addresses``: they get no new tasks (status ``closing``), their
        queued tasks move away and the results only they hold are copied to the others.

        Call ``retirement_step()`` periodically until ``retirement_done(address)``,
        then ``remove_worker(address)``: nothing computed is lost. Raises
        ``ValueError`` if no running worker would be left to take their data.
        """
        retiring = [self._worker(a) for a in addresses]
        staying = [ws for ws in self._running if ws not in retiring and ws not in self.retiring]
        if not staying and any(self._sole_holdings(ws, set(retiring) | set(self.retiring)) for ws in retiring):
            raise ValueError(
                f"Cannot retire {[ws.address for ws in retiring]}: no other running worker would be left to "
                "take the results they hold. Add a worker first, or close the cluster if the data may go."
            )
        msgs: list = []
        for ws in retiring:
            if ws not in self.retiring:
                self.retiring[ws] = None
                msgs += self.set_worker_status(ws.address, "closing")
                self.log_event("retire-worker", worker=ws.address)
        return msgs + self.retirement_step()

    def cancel_retirement(self, address: str) -> Messages:
        """Give up retiring ``address`` (e.g. on a timeout): it runs tasks again."""
        ws = self.workers.get(address)
        if ws is None or ws not in self.retiring:
            return []
        del self.retiring[ws]
        return self.set_worker_status(address, "running")

    def _sole_holdings(self, ws: WorkerInfo, leaving: set) -> list:
        """Tasks in memory on ``ws`` that no worker outside ``leaving`` holds."""
        return [ts for ts in ws.has_what if ts.who_has <= leaving]

    def retirement_step(self) -> Messages:
        """Move what still keeps the retiring workers busy: steal requests for their queued
        tasks, ``acquire-replicas`` to running workers for results only they hold."""
        if not self.retiring:
            return []
        staying = [ws for ws in self._running if ws not in self.retiring]
        if not staying:
            return []
        leaving = set(self.retiring)
        for key, target in list(self._evacuating.items()):  # forget copies done, or whose target left
            ts = self.tasks.get(key)
            if ts is None or ts.state != "memory" or not ts.who_has <= leaving or \
                    self.workers.get(target.address) is not target or target.status != "running":
                del self._evacuating[key]
        for ts in list(self._asked_to_move):
            if ts.state != "processing" or ts.processing_on not in self.retiring:
                del self._asked_to_move[ts]
        load = {ws: ws.nbytes for ws in staying}
        msgs: list = []
        copies: dict = {}  # target -> ({key: holders}, {key: nbytes})
        for ws in self.retiring:
            for ts in ws.processing:
                if ts not in self.in_flight_steals and ts not in self._asked_to_move:
                    thief = self._retirement_thief(ts, staying)
                    if thief is not None:
                        self._asked_to_move[ts] = None
                        self._steal_ids += 1
                        self.in_flight_steals[ts] = (self._steal_ids, ws, thief)
                        msgs.append((ws.address, {"op": "steal-request", "key": ts.key, "id": self._steal_ids}))
            for ts in self._sole_holdings(ws, leaving):
                if ts.key in self._evacuating:
                    continue
                target = min(load, key=load.get)  # the least loaded takes the next copy
                load[target] += max(ts.nbytes, 0)
                self._evacuating[ts.key] = target
                who_has, nbytes = copies.setdefault(target, ({}, {}))
                who_has[ts.key] = [w.address for w in ts.who_has]
                nbytes[ts.key] = ts.nbytes
        for target, (who_has, nbytes) in copies.items():
            msgs.append((target.address, {"op": "acquire-replicas", "who_has": who_has, "nbytes": nbytes}))
        return msgs

    def _retirement_thief(self, ts: TaskState, staying: list) -> WorkerInfo | None:
        valid = self._valid_workers(ts)
        candidates = staying if valid is None else [ws for ws in staying if ws in valid]
        if not candidates:
            return None
        return min(candidates, key=lambda ws: ws.occupancy / ws.nthreads)

    def retirement_done(self, address: str) -> bool:
        """True once the retiring ``address`` runs nothing and holds no result only it has."""
        ws = self.workers.get(address)
        if ws is None:
            return True
        if ws.processing or ws.long_running:
            return False
        return not self._sole_holdings(ws, set(self.retiring))

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
