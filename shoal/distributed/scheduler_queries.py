"""The ``Scheduler``'s answers to queries (``identity``, ``who-has``, ``gather``, ...).

``SchedulerQueriesMixin.handle_query`` answers one ``{"op": name, ...}``
message, whether it came on a connection of its own or with an ``id`` on a
client's stream; the longer operations it starts (restart, replicate,
retirement, published datasets) live in their own mixins. ``Scheduler``
(``scheduler.py``) inherits it.

What it needs from the host class (``Scheduler``): the attributes ``state``,
``pool``, ``start_time`` and ``dashboard``, and the property ``address``; the
methods ``restart`` and ``replicate`` (``SchedulerAdminMixin``),
``retire_workers`` (``WorkerRetirementMixin``) and the ``_DATASET_OPS``
table with its methods (``PublishedDatasetsMixin``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from .comm import UnknownOperationError
from .run_arguments import SCHEDULER_PARAMETERS, with_server_argument


class SchedulerQueriesMixin:
    """``handle_query``, ``info`` and ``gather`` of ``Scheduler``."""

    # ------------------------------------------------------------------ queries
    async def handle_query(self, msg: dict) -> Any:
        """Answer one query message (``{"op": name, ...}``); raises on unknown ops."""
        op = msg.get("op")
        state = self.state
        if op == "identity" or op == "scheduler-info":
            return self.info()
        if op == "who-has":
            return state.who_has(msg.get("keys"))
        if op == "has-what":
            return state.has_what(msg.get("workers"))
        if op == "nthreads":
            return {a: ws.nthreads for a, ws in state.workers.items()}
        if op == "task-counts":
            return state.task_counts()
        if op == "client-keys":
            cs = state.clients.get(msg["client"])
            return sorted((ts.key for ts in cs.wants_what), key=repr) if cs else []
        if op == "gather":
            return await self.gather(msg["keys"])
        if op == "restart":
            return await self.restart(msg.get("timeout", 30.0), wait_for_workers=msg.get("wait_for_workers", True))
        if op == "replicate":
            return await self.replicate(msg["keys"], msg.get("workers"), msg.get("timeout", 30.0))
        if op == "retire-workers":
            return await self.retire_workers(msg.get("workers"), n=msg.get("n"), close=msg.get("close", True),
                                             timeout=msg.get("timeout", 60.0))
        if op in self._DATASET_OPS:
            return getattr(self, self._DATASET_OPS[op])(msg)
        if op == "run-on-scheduler":
            function = msg["function"]
            # A function may ask for the scheduler itself (as shoal_scheduler, or Dask's dask_scheduler).
            kwargs = with_server_argument(function, dict(msg.get("kwargs") or {}), self, SCHEDULER_PARAMETERS)
            result = function(*msg.get("args", ()), **kwargs)
            if asyncio.iscoroutine(result):
                result = await result
            return result
        raise UnknownOperationError(f"Unknown query op {op!r} sent to the scheduler.")

    def info(self) -> dict:
        """What ``Client.scheduler_info()`` shows."""
        state = self.state
        return {
            "type": "Scheduler",
            "address": self.address,
            "started": self.start_time,
            "dashboard_link": self.dashboard.link if self.dashboard is not None else None,
            "workers": {a: self.worker_info(ws) for a, ws in state.workers.items()},
            "clients": sorted(state.clients),
            "n_tasks": len(state.tasks),
            "task_counts": state.task_counts(),
        }

    @staticmethod
    def worker_info(ws) -> dict:
        """What the scheduler knows of one worker (its ``WorkerInfo``), as a plain dict: an
        entry of ``scheduler_info()["workers"]`` and of what ``retire_workers`` returns."""
        return {"name": ws.name, "nthreads": ws.nthreads, "memory_limit": ws.memory_limit,
                "status": ws.status, "processing": len(ws.processing), "keys": len(ws.has_what),
                "nbytes": ws.nbytes, "nanny": ws.nanny, "metrics": dict(ws.metrics)}

    async def gather(self, keys: list) -> dict:
        """``{key: value}`` fetched from the workers holding ``keys`` (raises KeyError naming missing keys)."""
        by_worker: dict = {}
        missing = []
        for key in keys:
            ts = self.state.tasks.get(key)
            if ts is None or not ts.who_has:
                missing.append(key)
            else:
                by_worker.setdefault(next(iter(ts.who_has)).address, []).append(key)
        results: dict = {}
        replies = await asyncio.gather(
            *(self.pool.request(w, {"op": "get-data", "keys": ks}) for w, ks in by_worker.items()),
            return_exceptions=True,
        )
        for (worker, ks), reply in zip(by_worker.items(), replies):
            data = {} if isinstance(reply, BaseException) else reply["data"]
            results.update(data)
            missing += [k for k in ks if k not in data]
        if missing:
            raise KeyError(f"No worker holds {missing[:5]!r}; they may have been lost with a worker.")
        return results
