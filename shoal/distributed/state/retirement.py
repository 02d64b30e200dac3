"""Graceful retirement: removing workers from the scheduler without losing any result.

``RetirementMixin.begin_retirement`` marks workers ``closing`` (they get no
new tasks); ``retirement_step``, called periodically, asks them to give up
the tasks they have not started (the ``steal-request`` protocol of
``stealing.py``, one request per task: a refusal means the task runs there)
and asks running workers to copy the results only the retiring ones hold
(``acquire-replicas``, the least loaded taking the next copy). Once
``retirement_done(address)``, ``remove_worker`` loses nothing.

What it needs from the host class (``SchedulerState``): the attributes
``retiring``, ``_evacuating``, ``_asked_to_move``, ``in_flight_steals``,
``_steal_ids``, ``_running``, ``tasks`` and ``workers``; the methods
``log_event``, ``set_worker_status`` and ``_worker`` (from
``SchedulerWorkersMixin``) and ``_valid_workers`` (from ``PlacementMixin``).
"""

from __future__ import annotations

from typing import Iterable

from .messages import Messages
from .scheduler_records import TaskState, WorkerInfo


class RetirementMixin:
    """Retiring workers: move their queued tasks and their only copies elsewhere first."""

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
