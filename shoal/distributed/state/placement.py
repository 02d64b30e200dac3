"""Where a ready task should run: data locality weighed against occupancy.

The cost of running a task on worker ``w`` is an estimate, in seconds, of
when it could finish there::

    w.occupancy / w.nthreads          # queued work ahead of it, per thread
    + missing_bytes(w) / bandwidth    # inputs w must fetch from peers

Only a handful of workers are ever scored: those already holding some input,
the given extra candidates (an idle worker, or the workers a restriction
allows). Nothing here scans every worker or every task, so a decision costs
O(dependencies x replicas), independent of cluster size — the lesson of
dask/distributed#7256, where recomputing occupancy over all workers took a
third of the scheduler's time.

Root-ish tasks (no inputs, or inputs shared by a wide fan-out) are not placed
by locality at all: their inputs are everywhere or nowhere, and flooding them
onto workers is what blows up memory (dask/distributed#2602). The scheduler
queues them and hands one out whenever a worker has a free slot.

The pure functions come first; ``PlacementMixin`` at the end applies them to
``SchedulerState``: it keeps the free slots and idle workers incrementally,
holds the queue of root-ish tasks, and decides a ready task's worker
(``_decide_worker``), honouring worker and resource restrictions.
"""

from __future__ import annotations

import heapq
from typing import Iterable

from .scheduler_records import TaskState, WorkerInfo

#: size assumed for a dependency whose size is not known yet
DEFAULT_NBYTES = 1024
#: a task with more inputs than this is never root-ish
ROOTISH_MAX_DEPENDENCIES = 4
#: an input read by at least this many tasks is "shared by a wide fan-out"
ROOTISH_FANOUT = 16


def is_rootish(ts) -> bool:
    """True if ``ts`` should be queued rather than placed by locality.

    >>> from shoal.distributed.state.scheduler_records import TaskState, TaskPrefix
    >>> t = TaskState("a", None, TaskPrefix("a"))
    >>> is_rootish(t)
    True
    >>> t.worker_restrictions = {"tcp://w:1"}
    >>> is_rootish(t)
    False
    """
    if ts.worker_restrictions is not None or ts.resource_restrictions is not None:
        return False
    deps = ts.dependencies
    if not deps:
        return True
    if len(deps) > ROOTISH_MAX_DEPENDENCIES:
        return False
    for dep in deps:
        if len(dep.dependents) < ROOTISH_FANOUT:
            return False
    return True


def worker_cost(ws, missing_bytes: float, bandwidth: float) -> float:
    """Estimated seconds until a new task could finish on ``ws``."""
    return ws.occupancy / ws.nthreads + missing_bytes / bandwidth


def choose_worker(ts, extra: Iterable, valid, bandwidth: float):
    """The cheapest worker for ``ts`` among holders of its inputs and ``extra``.

    ``valid`` is ``None`` (any running worker may run it) or the set of
    workers its restrictions allow. Returns ``None`` when no candidate is
    running. Ties go to the worker holding more input bytes, then to the one
    with fewer tasks in flight.
    """
    local: dict = {}
    total = 0
    for dep in ts.dependencies:
        nbytes = dep.nbytes if dep.nbytes >= 0 else DEFAULT_NBYTES
        total += nbytes
        for ws in dep.who_has:
            if ws.status == "running" and (valid is None or ws in valid):
                local[ws] = local.get(ws, 0) + nbytes
    best = None
    best_rank = None
    for ws in (*local, *extra):
        if ws.status != "running" or (valid is not None and ws not in valid):
            continue
        here = local.get(ws, 0)
        rank = (worker_cost(ws, total - here, bandwidth), -here, len(ws.processing))
        if best_rank is None or rank < best_rank:
            best, best_rank = ws, rank
    return best


class PlacementMixin:
    """Free slots, idle workers, the queue of root-ish tasks, and the worker a ready task goes to.

    What it needs from the host class (``SchedulerState``): the attributes
    ``free_slots``, ``idle``, ``_running``, ``_cursor``, ``queue``,
    ``n_queued``, ``_queue_counter``, ``workers``, ``aliases``,
    ``resource_holders`` and ``bandwidth`` (all set in
    ``SchedulerState.__init__``).
    """

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
