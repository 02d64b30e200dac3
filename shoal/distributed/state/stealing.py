"""Work stealing: which queued tasks should move from saturated workers to idle ones.

Placement decides once, when a task becomes ready, with estimates that are
soon wrong: a worker that holds all the input data gets all the tasks, some
tasks take longer than their prefix's average, new workers join after the
graph was placed. Stealing corrects this afterwards. The scheduler calls
``SchedulerState.balance()`` periodically (config
``distributed.scheduler.work-stealing-interval``); it asks ``plan_steals``
what to move and sends each victim a ``steal-request``.

A steal is a request and a confirmation, so that no task runs twice and none
is lost (graceful retirement moves a leaving worker's queue the same way):

1. the scheduler asks the victim (``{"op": "steal-request", "key", "id"}``)
   and leaves the task ``processing`` there meanwhile;
2. the victim answers ``steal-response`` with ``released: True`` only if the
   task had not started (it drops it), ``False`` otherwise (it runs it);
3. only on ``released: True`` does the scheduler send the task to the thief.

Anything that happens to the task in between (it finishes, it is released,
the victim dies) drops the pending steal, and a response whose ``id`` no
longer matches is ignored. ``WorkStealingMixin`` (at the end of this file)
gives ``SchedulerState`` both ends of it: ``balance()`` and
``handle_steal_response()``.

Which tasks move
----------------
A *victim* is a worker with more tasks processing than threads (the excess
waits in its own queue), or a paused/closing worker with any (it starts
nothing new: its wait counts as endless); a *thief* is a running worker with
a free thread. The victim runs its tasks highest
priority first, so the candidates are its lowest-priority tasks, the ones
that would start last. A candidate moves when the thief can start it clearly
sooner, inputs included::

    transfer_seconds(task, thief) + STEAL_LATENCY  <=  GAIN * wait_on_victim

where ``wait_on_victim`` is the victim's remaining queued work per thread
(per-prefix average durations, ``TaskPrefix.duration_average``) and
``transfer_seconds`` counts the input bytes the thief lacks over the
assumed ``bandwidth``. Demanding a clear gain (``GAIN`` < 1) keeps rough
estimates from bouncing tasks back and forth.

>>> worth_stealing(wait_on_victim=2.0, transfer=0.01)
True
>>> worth_stealing(wait_on_victim=0.01, transfer=0.5)
False
"""

from __future__ import annotations

import heapq
from typing import Any, Iterable

from shoal import config

from .messages import Key, Messages
from .placement import DEFAULT_NBYTES

__all__ = ["plan_steals", "transfer_seconds", "worth_stealing", "STEAL_LATENCY", "GAIN", "WorkStealingMixin"]

#: seconds one steal costs beyond data transfer: request, answer, new compute-task
STEAL_LATENCY = 0.005
#: a move must cut the task's wait to at most this fraction of what it would be
GAIN = 0.5
#: thieves scored per candidate task (the least loaded ones), so a round stays cheap
MAX_THIEVES_SCORED = 8

config.update_defaults({"distributed": {"scheduler": {
    "work-stealing": True,
    "work-stealing-interval": 0.1,  # seconds between balance() rounds
}}})


def transfer_seconds(ts, thief, bandwidth: float) -> float:
    """Seconds to copy the inputs of ``ts`` that ``thief`` does not hold yet.

    >>> from shoal.distributed.state.scheduler_records import TaskPrefix, TaskState, WorkerInfo
    >>> a, b = WorkerInfo("a", 1), WorkerInfo("b", 1)
    >>> dep, t = TaskState("d", None, TaskPrefix("d")), TaskState("t", None, TaskPrefix("t"))
    >>> t.dependencies.add(dep); dep.nbytes = 200; dep.who_has.add(a)
    >>> transfer_seconds(t, a, 100.0), transfer_seconds(t, b, 100.0)
    (0.0, 2.0)
    """
    missing = 0
    for dep in ts.dependencies:
        if thief not in dep.who_has:
            missing += dep.nbytes if dep.nbytes >= 0 else DEFAULT_NBYTES
    return missing / bandwidth


def worth_stealing(*, wait_on_victim: float, transfer: float) -> bool:
    """True when moving saves clearly more time than fetching the inputs costs."""
    return transfer + STEAL_LATENCY <= GAIN * wait_on_victim


def _excess(ws, pending_from: dict) -> int:
    """How many of ``ws``'s processing tasks wait in its own queue (and may be stolen)."""
    n = len(ws.processing) - pending_from.get(ws, 0)
    if ws.status == "running":
        return n - ws.nthreads
    return n  # paused or retiring: it starts nothing new, all it has not started may go


def plan_steals(state, in_flight: dict) -> list:
    """``[(task, victim, thief), ...]`` worth moving now.

    ``state`` is a ``SchedulerState``; ``in_flight`` maps tasks with a steal
    request out to ``(id, victim, thief)``: those are neither candidates nor
    counted as free work on their victim, and their thief's thread counts as
    taken. Costs O(saturated workers x their queue + moves x thieves scored).
    """
    pending_from: dict = {}
    pending_to: dict = {}
    for _, victim, thief in in_flight.values():
        pending_from[victim] = pending_from.get(victim, 0) + 1
        pending_to[thief] = pending_to.get(thief, 0) + 1
    free: dict = {}
    for ws in state.idle:
        n = ws.nthreads - len(ws.processing) - pending_to.get(ws, 0)
        if n > 0 and ws.status == "running":
            free[ws] = n
    if not free:
        return []
    victims = [ws for ws in state.workers.values() if ws not in free and _excess(ws, pending_from) > 0]
    if not victims:
        return []
    victims.sort(key=lambda ws: ws.occupancy / ws.nthreads, reverse=True)
    plan: list = []
    for victim in victims:
        candidates = heapq.nlargest(
            _excess(victim, pending_from),
            (ts for ts in victim.processing if ts not in in_flight),
            key=lambda ts: ts.priority,
        )
        occupancy = victim.occupancy
        for ts in candidates:  # lowest priority first: the last the victim would start
            if not free:
                return plan
            duration = victim.processing[ts]
            if victim.status == "running":
                wait = max(occupancy - duration, 0.0) / victim.nthreads
            else:
                wait = float("inf")  # paused or retiring: it would not start it at all
            thief = _best_thief(state, ts, free, wait)
            if thief is None:
                continue
            plan.append((ts, victim, thief))
            occupancy -= duration
            free[thief] -= 1
            if not free[thief]:
                del free[thief]
    return plan


def thief_candidates(state, ts):
    """``None`` if any running worker may steal ``ts``, else the set that may.

    Tasks submitted with ``workers=...`` and ``allow_other_workers=True``
    prefer those workers but may move, as Dask steals them (only resource
    restrictions, which a worker must meet, still bind them).
    """
    if ts.loose_restrictions and not ts.resource_restrictions:
        return None
    return state._valid_workers(ts)


def _best_thief(state, ts, free: dict, wait: float):
    """The free worker that could start ``ts`` soonest, if that beats waiting ``wait`` s."""
    valid = thief_candidates(state, ts)
    best, best_cost = None, None
    for thief in _least_loaded(free, MAX_THIEVES_SCORED):
        if valid is not None and thief not in valid:
            continue
        cost = transfer_seconds(ts, thief, state.bandwidth)
        if best_cost is None or cost < best_cost:
            best, best_cost = thief, cost
    if best is None or not worth_stealing(wait_on_victim=wait, transfer=best_cost):
        return None
    return best


def _least_loaded(free: dict, n: int) -> Iterable:
    if len(free) <= n:
        return list(free)
    return heapq.nsmallest(n, free, key=lambda ws: ws.occupancy / ws.nthreads)


class WorkStealingMixin:
    """The scheduler's side of a steal: send the requests ``plan_steals`` picks, act on the answers.

    What it needs from the host class (``SchedulerState``): the attributes
    ``idle``, ``in_flight_steals``, ``_steal_ids``, ``n_steals``,
    ``n_steals_refused``, ``tasks``, ``workers`` and ``plugins``; the
    methods ``transitions``, ``_assign``, ``_unassign``, ``log_event`` and
    ``_notify``, and ``_valid_workers`` and ``_fill_slots`` (from
    ``PlacementMixin``).
    """

    def balance(self) -> Messages:
        """Ask saturated workers to give queued tasks to idle ones (called periodically).

        Sends ``steal-request`` to each victim; the task stays where it is
        until the victim confirms it had not started it
        (``handle_steal_response``). The policy is ``plan_steals`` above.
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
        valid = thief_candidates(self, ts)
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
