"""``Scheduler``: the server around ``SchedulerState``.

It only does I/O: it listens, turns what workers and clients send into
``SchedulerState`` method calls, and sends the messages those return. Every
decision (placement, reference counting, lost workers) is the state
machine's.

This module holds the ``Scheduler`` itself: its options, lifecycle, plugins,
``send`` and the periodic checks (heartbeats, work stealing). The rest is in
mixins it inherits, one idea each:

- ``scheduler_streams.py``: connections, the protocol of worker and client
  streams, and their message handlers;
- ``scheduler_queries.py``: ``handle_query``, ``info``, ``gather``;
- ``scheduler_admin.py``: ``restart``, ``replicate``;
- ``scheduler_retire.py``: graceful retirement of workers;
- ``scheduler_datasets.py``: published datasets.

Observers use ``Scheduler.add_plugin`` (a ``SchedulerPlugin``) and
``Scheduler.events``, both kept by the state machine.

>>> import asyncio
>>> async def demo():
...     async with Scheduler("inproc://") as s:
...         return (await s.handle_query({"op": "identity"}))["type"]
>>> asyncio.run(demo())
'Scheduler'
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from shoal import config

from .comm import CommClosedError, listen
from .scheduler_admin import SchedulerAdminMixin
from .scheduler_datasets import PublishedDatasetsMixin
from .scheduler_queries import SchedulerQueriesMixin
from .scheduler_retire import WorkerRetirementMixin
from .scheduler_streams import SchedulerStreamsMixin
from .security import as_security
from .server_lifecycle import ServerLifecycle
from .services import service
from .rpc import ConnectionPool
from .state import SchedulerPlugin, SchedulerState

logger = logging.getLogger("shoal.distributed.scheduler")

__all__ = ["Scheduler", "SchedulerPlugin", "default_dashboard_address"]

# Where LocalCluster, Client() and shoal-scheduler serve the dashboard unless told otherwise (a busy
# port falls back to a free one); None: no dashboard. A bare Scheduler(...) serves one only when asked.
config.update_defaults({"distributed": {"scheduler": {"dashboard-address": "127.0.0.1:8787"}}})


def default_dashboard_address() -> str | None:
    """``distributed.scheduler.dashboard-address``, or None when it is off (None, False, "", "none")."""
    value = config.get("distributed.scheduler.dashboard-address", None)
    if value in (None, False, "") or str(value).strip().lower() in ("none", "false", "off", "no"):
        return None
    return str(value)


class Scheduler(SchedulerStreamsMixin, SchedulerQueriesMixin, SchedulerAdminMixin, WorkerRetirementMixin,
                PublishedDatasetsMixin, ServerLifecycle):
    """Listen on ``address`` and run ``SchedulerState`` for workers and clients.

    ``heartbeat_timeout``: a worker silent for that long is removed (a
    killed process is noticed at once anyway, when its connection breaks).
    ``security``: a ``Security`` (TLS credentials for ``tls://`` addresses,
    ``require_encryption``); True makes a temporary one.
    ``work_stealing``: every ``work_stealing_interval`` seconds move queued
    tasks from saturated workers to idle ones (default: config
    ``distributed.scheduler.work-stealing`` and ``.work-stealing-interval``).
    Other keywords go to ``SchedulerState`` (``allowed_failures=``, default:
    config ``distributed.scheduler.allowed-failures``, 3, as in Dask; ...).
    """

    server_kind = "scheduler"

    def __init__(self, address: str = "tcp://127.0.0.1:0", *, heartbeat_timeout: float = 60.0,
                 check_interval: float = 1.0, dashboard_address: str | None = None, security: Any = None,
                 work_stealing: bool | None = None, work_stealing_interval: float | None = None,
                 **state_options: Any):
        if state_options.get("allowed_failures") is None:
            state_options["allowed_failures"] = config.get("distributed.scheduler.allowed-failures", 3)
        self.state = SchedulerState(**state_options)
        self.work_stealing = bool(config.get("distributed.scheduler.work-stealing")
                                  if work_stealing is None else work_stealing)
        self.work_stealing_interval = float(config.get("distributed.scheduler.work-stealing-interval")
                                            if work_stealing_interval is None else work_stealing_interval)
        self.dashboard_address = dashboard_address  # "host:port" serves shoal.dashboard; None/False: none
        self.dashboard = None
        self._listen_address = address
        self.heartbeat_timeout = heartbeat_timeout
        self.check_interval = check_interval
        self.streams: dict = {}  # worker address or client id -> BatchedStream
        self.listener = None
        self.security = as_security(security)
        self.pool = ConnectionPool(connect_timeout=5.0, connection_args=self.security.connection_args("scheduler"))
        self.status = "created"
        self.start_time = time.time()
        self._background_tasks: set = set()
        self._checker: asyncio.Task | None = None
        self._closed_event: asyncio.Event | None = None
        self.datasets: dict = {}  # name -> {"keys": [...], "value": structure with key placeholders}

    # ------------------------------------------------------------------ lifecycle
    # (address, await, async with, finished and _spawn: ServerLifecycle)
    async def start(self) -> "Scheduler":
        if self.status == "running":
            return self
        self._closed_event = asyncio.Event()
        self.listener = await listen(self._listen_address, self._handle_comm, **self.security.listen_args("scheduler"))
        self._checker = asyncio.get_running_loop().create_task(self._check_heartbeats())
        if self.work_stealing:
            self._spawn(self._steal_periodically())
        if self.dashboard_address:
            # the dashboard sits above this layer: found by name, and Bokeh loads only when asked for
            self.dashboard = service("dashboard")(self, self.dashboard_address)
        self.status = "running"
        logger.info("Scheduler at %s", self.address)
        return self

    async def close(self) -> None:
        """Stop listening and drop every connection (workers notice and stop)."""
        if self.status in ("closing", "closed"):
            return
        self.status = "closing"
        if self._checker is not None:
            self._checker.cancel()
        if self.dashboard is not None:
            self.dashboard.stop()
        for stream in list(self.streams.values()):
            try:
                stream.send({"op": "close", "reason": "scheduler-close"})
            except CommClosedError:
                pass
        for stream in list(self.streams.values()):
            await stream.close(timeout=1.0)
        if self.listener is not None:
            await self.listener.stop(timeout=2.0)
        for task in list(self._background_tasks):  # all of them: no task of its own closes the scheduler
            task.cancel()
        self.pool.close()
        self._mark_closed()

    def __repr__(self) -> str:
        where = self.listener.contact_address if self.listener else self._listen_address
        return f"<Scheduler {where} workers={len(self.state.workers)} tasks={len(self.state.tasks)}>"

    # ------------------------------------------------------------------ observers
    def add_plugin(self, plugin: SchedulerPlugin) -> None:
        """Observe task transitions, graphs, workers and clients (see ``SchedulerPlugin``)."""
        self.state.add_plugin(plugin)

    def remove_plugin(self, plugin: SchedulerPlugin) -> None:
        self.state.remove_plugin(plugin)

    def _plugins_heartbeat(self, address: str, metrics: Any) -> None:
        """Hand a worker's heartbeat metrics to plugins with a ``heartbeat(address, metrics)``
        method (the dashboard reads memory, CPU and transfer/spill events there)."""
        for plugin in self.state.plugins:
            hook = getattr(plugin, "heartbeat", None)
            if hook is not None and metrics:
                try:
                    hook(address, metrics)
                except Exception as exc:  # an observer must not break the worker's stream
                    self.state.log_event("plugin-error", plugin=type(plugin).__name__, hook="heartbeat",
                                         error=repr(exc))

    def _plugins_worker_report(self, address: str, msg: dict) -> None:
        """Show a worker's message to plugins with a ``worker_report(address, msg)`` method
        before the state handles it (the dashboard reads the worker's task durations)."""
        for plugin in self.state.plugins:
            hook = getattr(plugin, "worker_report", None)
            if hook is not None:
                try:
                    hook(address, msg)
                except Exception as exc:  # an observer must not break the worker's stream
                    self.state.log_event("plugin-error", plugin=type(plugin).__name__, hook="worker_report",
                                         error=repr(exc))

    @property
    def events(self):
        """The bounded log of ``(time, topic, payload)`` events."""
        return self.state.events

    # ------------------------------------------------------------------ sending
    def send(self, msgs: list) -> None:
        """Send ``[(recipient, msg), ...]`` as returned by ``SchedulerState``."""
        if not msgs:
            return
        streams = self.streams
        tasks = self.state.tasks
        for recipient, msg in msgs:
            stream = streams.get(recipient)
            if stream is None:
                continue  # it left; its removal already released what it held
            if msg["op"] == "key-in-memory":
                # Tell the client where the result is, so it can fetch it
                # from the worker directly without asking us first.
                ts = tasks.get(msg["key"])
                if ts is not None:
                    msg = {**msg, "workers": [ws.address for ws in ts.who_has]}
            try:
                stream.send(msg)
            except CommClosedError:
                pass

    # ------------------------------------------------------------------ periodic checks
    async def _steal_periodically(self) -> None:
        """Every ``work_stealing_interval`` s, one ``SchedulerState.balance()`` round."""
        while self.status in ("created", "running"):
            await asyncio.sleep(self.work_stealing_interval)
            try:
                self.send(self.state.balance())
            except Exception:  # a bug in the policy must not stop the scheduler
                logger.exception("Work stealing round failed; trying again in %s s", self.work_stealing_interval)

    async def _check_heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.check_interval)
            for address in self.state.stale_workers(time.time(), self.heartbeat_timeout):
                stream = self.streams.get(address)
                logger.warning("Worker %s missed heartbeats for %s s; removing it", address, self.heartbeat_timeout)
                if stream is not None:
                    stream.abort()  # its serve loop ends and removes it
                else:
                    self.send(self.state.remove_worker(address, reason="missed heartbeats"))
