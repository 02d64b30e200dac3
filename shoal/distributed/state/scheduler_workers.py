"""Workers as ``SchedulerState`` sees them: who is in the cluster, and what they report.

``SchedulerWorkersMixin`` holds the membership of the cluster (a worker
joins, pauses, resumes, starts retiring, sends heartbeats, leaves or dies)
and the handlers of the messages a worker sends about its tasks (finished,
erred, replicas fetched, data missing on a peer, seceded), with
``handle_worker_message`` dispatching a worker's stream by ``"op"``. A
worker that leaves takes its tasks back to ``waiting`` and its results with
it; the transitions of ``scheduler_state.py`` do the rest.

What it needs from the host class (``SchedulerState``): the attributes set
in ``SchedulerState.__init__`` for workers (``workers``, ``aliases``,
``free_slots``, ``idle``, ``_running``, ``resource_holders``,
``total_nthreads``, ``total_occupancy``, ``unrunnable``, ``retiring``,
``_free_keys_outbox``, ``worker_saturation``, ``allowed_failures``,
``clock``) and ``tasks``, ``clients``; the methods ``transitions``,
``_add_replica``, ``_remove_replica``, ``log_event`` and ``_notify``,
``_update_slots`` and ``_fill_slots`` (from ``PlacementMixin``), and
``handle_steal_response`` (from ``WorkStealingMixin``) for the dispatch.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from .errors import KilledWorker, UnknownWorkerError
from .messages import Key, Messages
from .scheduler_records import NO_WORKERS, WorkerInfo

_WORKER_STATUSES = ("running", "paused", "closing")


class SchedulerWorkersMixin:
    """Workers joining, changing status and leaving; their reports on the tasks they run."""

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

    def remove_worker(self, address: str, *, reason: str = "", expected: bool = False) -> Messages:
        """A worker left or died: reschedule its tasks and recompute lost results.

        A task that was processing there counts one more death (once per
        worker, whatever else is reported about it); at ``allowed_failures``
        it errs with ``KilledWorker``. ``expected``: the worker left on
        purpose (it said it was closing), so its tasks are rescheduled without
        counting it against them, as in Dask: a task is suspected only of
        deaths it may have caused.
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
            if expected:
                recs[ts.key] = "waiting"
                continue
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
