"""``Worker``: the server around ``WorkerState``.

It registers with the scheduler, feeds ``WorkerState`` with the scheduler's
messages, and carries out the instructions it returns:

- ``Execute(key)``: run ``node(inputs)`` on one of ``nthreads`` threads and
  report the result or the error back to the state machine;
- ``GatherDep(peer, keys)``: ask the peer worker for ``keys`` in one request;
- ``ToScheduler(msg)``: send ``msg`` on the (batched) scheduler stream.

It also listens for peers and clients asking for data (``get-data``) or to
run a function (``run``), and sends heartbeats. Inside a task,
``get_worker()`` returns the worker running it.

This module holds the ``Worker`` itself: its options, lifecycle
(registration, reconnecting, closing), the scheduler stream, ``carry_out``,
heartbeats, and the registry of worker extensions. The rest is in mixins it
inherits, one idea each:

- ``worker_threads.py``: running tasks on threads (``TaskThreads``), and
  ``get_worker``, ``secede``, ``worker_client`` (re-exported here);
- ``worker_peers.py``: serving peers' and clients' requests, and gathering
  dependencies from peers;
- ``worker_memory.py``: the data store, memory metrics, spilling and pausing.

>>> import asyncio
>>> from operator import add
>>> from shoal.distributed.scheduler import Scheduler
>>> from shoal.taskgraph import Task
>>> async def demo():
...     async with Scheduler("inproc://") as s, Worker(s.address, nthreads=1) as w:
...         s.send(s.state.update_graph("me", {"x": Task("x", add, 1, 2)}, keys=["x"]))
...         for _ in range(500):  # bounded wait for the result
...             if "x" in w.data:
...                 return w.data["x"]
...             await asyncio.sleep(0.01)
>>> asyncio.run(demo())
3
"""

from __future__ import annotations

import asyncio
import collections
import logging
import numbers
import os
import time
from typing import Any

import psutil

from shoal import config

from .batched import BatchedStream, iter_batch
from .comm import CommClosedError, ConnectError, connect, listen, parse_address
from .rpc import ConnectionPool
from .memory import MemoryPolicy, parse_memory_limit, process_rss
from .security import as_security
from .server_lifecycle import ServerLifecycle
from .spill import SpillStore
from .state import Execute, GatherDep, ToScheduler, WorkerState
from .worker_memory import WorkerMemoryMixin
from .worker_peers import WorkerPeersMixin
from .worker_threads import TaskExecutionMixin, TaskThreads, get_worker, secede, worker_client

logger = logging.getLogger("shoal.distributed.worker")

__all__ = ["Worker", "get_worker", "secede", "worker_client", "TaskThreads", "register_worker_extension"]

#: name -> factory(worker): an extension made for every new Worker, which may add request handlers
#: to ``worker.handlers`` (the p2p shuffle's ``shuffle-receive``) and may have a ``close()``
_EXTENSIONS: dict = {}


def register_worker_extension(name: str, factory) -> None:
    """Give every Worker created from now on ``worker.extensions[name] = factory(worker)``."""
    _EXTENSIONS[name] = factory


class Worker(TaskExecutionMixin, WorkerPeersMixin, WorkerMemoryMixin, ServerLifecycle):
    """A worker with ``nthreads`` threads serving the scheduler at ``scheduler_address``.

    ``listen_address``: where peers and clients reach it (default: same
    transport as the scheduler, on 127.0.0.1 with a free port for TCP).
    ``reconnect``: when the scheduler goes away, drop all tasks and data and
    register again once it is back (for up to ``reconnect_timeout`` seconds,
    ``None``: until closed) instead of closing.
    ``security``: a ``Security`` with TLS credentials for ``tls://`` addresses.
    ``memory_limit``: bytes, ``"2GB"``, ``"auto"`` (all of the machine's
    memory) or ``None``; with a limit, results past the
    ``distributed.worker.memory.target`` fraction are spilled to a temporary
    directory under ``local_directory``, and every
    ``memory_monitor_interval`` seconds the process's RSS (``rss_reader()``,
    default psutil's) is checked: past ``.spill`` more is spilled, past
    ``.pause`` no new task starts until it is back below.
    ``nanny``: the address of the ``Nanny`` supervising this worker process.
    """

    server_kind = "worker"

    def __init__(self, scheduler_address: str, *, nthreads: int = 1, name: str | None = None,
                 listen_address: str | None = None, memory_limit: int | None = None,
                 resources: dict | None = None, heartbeat_interval: float = 1.0,
                 connect_timeout: float = 30.0, reconnect: bool = False,
                 reconnect_timeout: float | None = None, security: Any = None,
                 local_directory: str | None = None, rss_reader: Any = None,
                 memory_monitor_interval: float | None = None, nanny: str | None = None):
        if isinstance(nthreads, bool) or not isinstance(nthreads, numbers.Integral):
            raise TypeError(f"nthreads must be a whole number of threads, got {type(nthreads).__name__} {nthreads!r}")
        if nthreads < 1:
            raise ValueError(f"nthreads must be at least 1, got {nthreads}")
        self.scheduler_address = scheduler_address
        self.nthreads = nthreads
        self.name = name
        self.memory_limit = parse_memory_limit(memory_limit)
        self.local_directory = local_directory
        self.rss_reader = rss_reader or process_rss()
        self._process = psutil.Process()
        self._warned_unmanaged = False
        # Transfers for the dashboard's task stream, sent with the next heartbeat (bounded: the latest).
        self.events: collections.deque = collections.deque(maxlen=1000)
        self.memory_monitor_interval = (
            float(config.get("distributed.worker.memory.monitor-interval"))
            if memory_monitor_interval is None else memory_monitor_interval
        )
        self.memory_policy = MemoryPolicy.from_config(self.memory_limit) if self.memory_limit else None
        self.resources = resources
        self.heartbeat_interval = heartbeat_interval
        self.connect_timeout = connect_timeout
        self.reconnect = reconnect
        self.reconnect_timeout = reconnect_timeout
        self.nanny = nanny  # the address of the nanny supervising this process, announced to the scheduler
        if listen_address is None:
            scheme, _ = parse_address(scheduler_address)
            listen_address = "inproc://" if scheme == "inproc" else f"{scheme}://127.0.0.1:0"
        self._listen_address = listen_address
        self.state: WorkerState | None = None
        self.listener = None
        self.stream: BatchedStream | None = None
        self.threads: TaskThreads | None = None
        self.security = as_security(security)
        self.pool = ConnectionPool(connect_timeout=5.0, connection_args=self.security.connection_args("worker"))
        self.status = "created"
        self.loop: asyncio.AbstractEventLoop | None = None
        self._background_tasks: set = set()
        self._closed_event: asyncio.Event | None = None
        self.handlers: dict = {}  # request op -> async handler(msg) -> reply, added by extensions
        self.extensions: dict = {name: make(self) for name, make in _EXTENSIONS.items()}

    # ------------------------------------------------------------------ lifecycle
    # (address, await, async with, finished and _spawn: ServerLifecycle)
    @property
    def data(self) -> dict:
        """The results this worker holds, ``{key: value}``."""
        return self.state.data

    async def start(self) -> "Worker":
        if self.status == "running":
            return self
        self.loop = asyncio.get_running_loop()
        self._closed_event = asyncio.Event()
        self.listener = await listen(self._listen_address, self._handle_peer, **self.security.listen_args("worker"))
        if self.name is None:
            self.name = self.address
        self.threads = TaskThreads(self.nthreads, name=f"shoal-worker-{self.name}")
        try:
            await self._register()
        except BaseException:
            await self._teardown()
            raise
        return self

    async def _register(self) -> None:
        """Connect to the scheduler with a fresh ``WorkerState`` and start serving it."""
        self.state = WorkerState(self.address, self.nthreads, resources=self.resources, data=self._new_data())
        comm = await connect(self.scheduler_address, timeout=self.connect_timeout,
                             **self.security.connection_args("worker"))
        try:
            await comm.write({
                "op": "register-worker", "address": self.address, "nthreads": self.nthreads,
                "name": self.name, "memory_limit": self.memory_limit, "resources": self.resources,
                "pid": os.getpid(), "nanny": self.nanny,
            })
            reply = await asyncio.wait_for(comm.read(), self.connect_timeout)
        except BaseException:
            comm.abort()
            raise
        if reply.get("op") != "registered":
            comm.abort()
            raise ConnectError(
                f"The scheduler at {self.scheduler_address} refused worker {self.address}: "
                f"{reply.get('message', reply)}", self.scheduler_address,
            )
        self.stream = BatchedStream(comm)
        self.status = "running"
        self._spawn(self._read_scheduler(comm))
        self._spawn(self._heartbeat(self.stream))
        if self.memory_policy is not None and self.memory_monitor_interval:
            self._spawn(self._monitor_memory(self.state))
        logger.info("Worker at %s registered with scheduler %s", self.address, self.scheduler_address)

    async def _reconnect(self, reason: str = "lost") -> None:
        """Drop all task state and data and register again (once the scheduler is back,
        after losing it; at once, when it asked for a restart)."""
        self.status = "reconnecting"
        if self.stream is not None:
            self.stream.abort()
        loop = asyncio.get_running_loop()
        timeout = self.reconnect_timeout if reason == "lost" else self.connect_timeout
        deadline = None if timeout is None else loop.time() + timeout
        if reason == "lost":
            logger.warning("Worker %s lost its scheduler %s; reconnecting", self.address, self.scheduler_address)
        while self.status == "reconnecting":
            try:
                await self._register()
                return
            except (OSError, asyncio.TimeoutError) as error:
                if deadline is not None and loop.time() > deadline:
                    logger.error("Worker %s could not reconnect to %s: %s; closing",
                                 self.address, self.scheduler_address, error)
                    break
                await asyncio.sleep(0.5 if reason == "lost" else 0.05)
        if self.status == "reconnecting":
            self.status = "running"  # so close() runs
            await self.close(report=False)

    async def close(self, report: bool = True) -> None:
        """Leave the scheduler (``report``: say so first), stop threads and listener."""
        if self.status in ("closing", "closed", "created"):
            if self.status == "created":
                self.status = "closed"
            return
        self.status = "closing"
        if self.stream is not None:
            if report and not self.stream.closed:
                try:
                    self.stream.send({"op": "unregister"})
                except CommClosedError:
                    pass
            await self.stream.close(timeout=1.0)
        await self._teardown()

    async def _teardown(self) -> None:
        self._cancel_background_tasks()
        if self.listener is not None:
            await self.listener.stop(timeout=2.0)
        if self.threads is not None:
            # Running tasks cannot be interrupted; their threads end when they
            # return, and nothing waits for them.
            self.threads.shutdown()
        if self.state is not None and isinstance(self.state.data, SpillStore):
            self.state.data.close()  # removes its spill directory
        for extension in self.extensions.values():
            close = getattr(extension, "close", None)
            if close is not None:
                close()  # e.g. the shuffle's buffered shards and their files
        self.pool.close()
        self._mark_closed()

    def __repr__(self) -> str:
        where = self.listener.contact_address if self.listener else self._listen_address
        return f"<Worker {where} nthreads={self.nthreads} status={self.status}>"

    # ------------------------------------------------------------------ the scheduler stream
    async def _read_scheduler(self, comm) -> None:
        state = self.state
        try:
            while True:
                batch = await comm.read()
                instructions: list = []
                for msg in iter_batch(batch):
                    if msg.get("op") == "close":
                        logger.info("Scheduler asked worker %s to close", self.address)
                        if msg.get("reason") == "retired":  # for good: close, never register again
                            self._spawn(self.close(report=False))
                            return
                        break
                    if msg.get("op") == "restart":
                        logger.info("Scheduler asked worker %s to restart", self.address)
                        self._spawn(self._reconnect(reason="restart"))
                        return
                    if msg.get("op") == "worker-removed":
                        # A fetch in flight from that peer fails now (and is retried
                        # elsewhere) rather than at its timeout.
                        self.pool.forget(msg["address"])
                        continue
                    instructions += state.handle_scheduler_message(msg)
                else:
                    self.carry_out(instructions)
                    continue
                break
        except CommClosedError:
            pass
        except Exception:
            logger.exception("Worker %s: bad message from the scheduler", self.address)
        if self.status == "running" and self.state is state:
            if self.reconnect:
                self._spawn(self._reconnect())
            else:
                logger.warning("Worker %s lost its scheduler %s; closing", self.address, self.scheduler_address)
                self._spawn(self.close(report=False))

    def carry_out(self, instructions: list) -> None:
        """Do what ``WorkerState`` asked for."""
        to_scheduler = []
        for inst in instructions:
            kind = type(inst)
            if kind is ToScheduler:
                to_scheduler.append(inst.msg)
            elif kind is Execute:
                self._execute(inst.key)
            elif kind is GatherDep:
                self._spawn(self._gather_dep(inst.peer, inst.keys))
        if to_scheduler and self.stream is not None and not self.stream.closed:
            self.stream.send_many(to_scheduler)

    async def _heartbeat(self, stream: BatchedStream) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            if stream.closed or stream is not self.stream:
                return
            state = self.state
            stream.send({"op": "heartbeat", "metrics": {
                "executing": len(state.executing), "in_memory": len(state.data), "time": time.time(),
                **self.memory_metrics(),
            }})
