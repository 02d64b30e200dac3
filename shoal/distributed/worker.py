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
import os
import threading
import time
import traceback
import contextlib
import queue
from typing import Any

import psutil

from shoal import config

from .batched import BatchedStream, iter_batch
from .comm import (
    CommClosedError, ConnectError, SerializationError, UnknownOperationError, connect, dumps, listen, parse_address,
)
from .rpc import ConnectionPool, portable_exception, request_problem
from .comm.sizes import format_bytes
from .memory import MemoryPolicy, parse_memory_limit, process_rss, trim_memory
from .security import as_security
from .spill import SpillStore
from .state import Execute, GatherDep, ToScheduler, WorkerState
from .state.worker_state import sizeof

logger = logging.getLogger("shoal.distributed.worker")

__all__ = ["Worker", "get_worker", "secede", "worker_client", "TaskThreads", "register_worker_extension"]

_running = threading.local()

#: name -> factory(worker): an extension made for every new Worker, which may add request handlers
#: to ``worker.handlers`` (the p2p shuffle's ``shuffle-receive``) and may have a ``close()``
_EXTENSIONS: dict = {}


def register_worker_extension(name: str, factory) -> None:
    """Give every Worker created from now on ``worker.extensions[name] = factory(worker)``."""
    _EXTENSIONS[name] = factory


def get_worker() -> "Worker":
    """The ``Worker`` running the current task (call it inside a task).

    >>> get_worker()
    Traceback (most recent call last):
    ...
    ValueError: get_worker() was called outside a task running on a shoal worker; ...
    """
    worker = getattr(_running, "worker", None)
    if worker is None:
        raise ValueError(
            "get_worker() was called outside a task running on a shoal worker; "
            "call it from inside a function submitted to a distributed Client."
        )
    return worker


def secede() -> None:
    """Leave the worker's thread pool: the calling task stops counting against its
    worker's threads, so tasks it waits for can run (call it before blocking on them)."""
    worker = get_worker()
    if getattr(_running, "seceded", False):
        return
    _running.seceded = True
    worker.threads.replace_current()  # another thread takes the next task
    worker.loop.call_soon_threadsafe(worker._secede, _running.key)


@contextlib.contextmanager
def worker_client(timeout: float = 30.0):
    """A Client for a task to submit tasks to its own cluster and wait on them.

    The task secedes from the worker's thread pool first, so waiting cannot
    starve the tasks it submitted. The client is closed on exit; gather
    results inside the block.

    >>> def fan_out(n):  # runs on a worker
    ...     with worker_client() as client:
    ...         return sum(client.gather(client.map(abs, range(-n, 0))))
    """
    from .client import Client

    worker = get_worker()
    secede()
    client = Client(worker.scheduler_address, timeout=timeout, set_as_default=False)
    try:
        yield client
    finally:
        client.close()


class TaskThreads:
    """``n`` threads running submitted callables in order of submission.

    A thread whose task seceded (``replace_current``) is replaced by a new
    one at once and ends when its task returns, so ``n`` threads keep taking
    work. Threads are daemons: a task that never returns cannot hold up exit.
    """

    def __init__(self, n: int, name: str = "shoal-worker"):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._name = name
        self._count = 0
        self._closed = False
        for _ in range(n):
            self._add_thread()

    def _add_thread(self) -> None:
        self._count += 1
        threading.Thread(target=self._serve, name=f"{self._name}-{self._count}", daemon=True).start()

    def _serve(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            _running.seceded = False
            job()
            if _running.seceded:
                _running.seceded = False
                return  # its replacement is already serving

    def submit(self, job) -> None:
        if self._closed:
            raise RuntimeError("The worker's threads are shut down.")
        self._queue.put(job)

    def replace_current(self) -> None:
        if not self._closed:
            self._add_thread()

    def shutdown(self) -> None:
        """Stop taking jobs; queued jobs are dropped, running ones finish."""
        self._closed = True
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        for _ in range(self._count):
            self._queue.put(None)


class Worker:
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

    def __init__(self, scheduler_address: str, *, nthreads: int = 1, name: str | None = None,
                 listen_address: str | None = None, memory_limit: int | None = None,
                 resources: dict | None = None, heartbeat_interval: float = 1.0,
                 connect_timeout: float = 30.0, reconnect: bool = False,
                 reconnect_timeout: float | None = None, security: Any = None,
                 local_directory: str | None = None, rss_reader: Any = None,
                 memory_monitor_interval: float | None = None, nanny: str | None = None):
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
        self._tasks: set = set()
        self._closed_event: asyncio.Event | None = None
        self.handlers: dict = {}  # request op -> async handler(msg) -> reply, added by extensions
        self.extensions: dict = {name: make(self) for name, make in _EXTENSIONS.items()}

    # ------------------------------------------------------------------ lifecycle
    @property
    def address(self) -> str:
        if self.listener is None:
            raise RuntimeError("The worker has not been started; await worker.start() first.")
        return self.listener.contact_address

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

    def __await__(self):
        return self.start().__await__()

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
        me = asyncio.current_task()
        for task in list(self._tasks):
            if task is not me:
                task.cancel()
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
        self.status = "closed"
        if self._closed_event is not None:
            self._closed_event.set()

    async def finished(self) -> None:
        """Wait until the worker is closed (e.g. because the scheduler went away)."""
        await self._closed_event.wait()

    async def __aenter__(self) -> "Worker":
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        where = self.listener.contact_address if self.listener else self._listen_address
        return f"<Worker {where} nthreads={self.nthreads} status={self.status}>"

    def _spawn(self, coro) -> None:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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

    # ------------------------------------------------------------------ memory
    def _new_data(self):
        """The store for a fresh ``WorkerState``: spilling with a memory limit, else a dict."""
        if self.state is not None and isinstance(self.state.data, SpillStore):
            self.state.data.close()  # a restart or reconnect drops all data
        if not self.memory_limit:
            return {}
        target = self.memory_policy.target
        return SpillStore(None if target is None else target * self.memory_limit, directory=self.local_directory)

    @property
    def paused(self) -> bool:
        """True while memory is short and no new task starts here."""
        return self.state is not None and self.state.status == "paused"

    def memory_metrics(self) -> dict:
        """Bytes of results in memory (``managed_bytes``) and on disk (``spilled_bytes``), the
        process's ``rss`` and the rest of it (``unmanaged_bytes``), as sent in heartbeats."""
        state = self.state
        data = state.data
        events = [self.events.popleft() for _ in range(len(self.events))]
        if isinstance(data, SpillStore):
            managed, spilled = data.memory, data.spilled
            counts = data.counts
            events += data.drain_events()  # spill bars on the dashboard's task stream
        else:
            tasks = state.tasks
            managed = sum(max(tasks[k].nbytes, 0) for k in list(data) if k in tasks)
            spilled, counts = 0, {}
        try:
            rss = int(self.rss_reader())
        except Exception:  # a failing reader must not stop heartbeats
            rss = 0
        metrics = {"managed_bytes": managed, "unmanaged_bytes": max(rss - managed, 0), "spilled_bytes": spilled,
                   "rss": rss, "spilled_count": counts.get("spilled", 0),
                   "unspilled_count": counts.get("unspilled", 0), "paused": self.paused,
                   "cpu": self._process.cpu_percent(None)}  # percent of one core since the last heartbeat
        if events:
            metrics["events"] = events
        return metrics

    async def _monitor_memory(self, state: WorkerState) -> None:
        """Every ``memory_monitor_interval`` s: spill or pause by RSS (see ``MemoryPolicy``)."""
        while self.state is state and self.status == "running":
            await asyncio.sleep(self.memory_monitor_interval)
            if self.state is not state or self.status != "running":
                return
            try:
                await self.check_memory()
            except Exception:
                logger.exception("Worker %s: memory check failed", self.address)

    async def check_memory(self) -> None:
        """Read the RSS and act on it: pause or resume, and spill (on a thread, so that this
        loop goes on serving peers and the scheduler while the files are written)."""
        state = self.state
        rss = int(self.rss_reader())
        actions = self.memory_policy.decide(rss, paused=state.status == "paused")
        self._set_paused(actions.status, rss)  # pausing first: no new task while we spill
        data = state.data
        if not actions.spill_bytes or not isinstance(data, SpillStore):
            return
        freed = await self.loop.run_in_executor(None, _spill_at_least, data, actions.spill_bytes)
        if self.state is not state or self.status != "running":
            return
        if not freed:
            if not data.fast and not self._warned_unmanaged:
                self._warned_unmanaged = True  # once per worker: this repeats every 100 ms otherwise
                logger.warning(
                    "Worker %s uses %s, past %.0f%% of its %s limit, but holds no results in memory to spill: "
                    "the memory is held by running tasks or leaked (unmanaged). Use smaller chunks/partitions, "
                    "or a bigger memory_limit.", self.address, format_bytes(rss), 100 * self.memory_policy.spill,
                    format_bytes(self.memory_limit))
            return
        rss = int(self.rss_reader())
        logger.debug("Worker %s spilled %d bytes; RSS now %d bytes", self.address, freed, rss)
        self._set_paused(self.memory_policy.decide(rss, paused=state.status == "paused").status, rss)

    def _set_paused(self, status: str | None, rss: int) -> None:
        if status == "paused":
            logger.warning("Worker %s is paused: its memory use (%s) is past %.0f%% of its %s limit; no new tasks "
                           "start until it drops", self.address, format_bytes(rss), 100 * self.memory_policy.pause,
                           format_bytes(self.memory_limit))
            self.carry_out(self.state.handle_pause())
        elif status == "running":
            logger.info("Worker %s resumes: memory use is down to %s", self.address, format_bytes(rss))
            self.carry_out(self.state.handle_resume())

    # ------------------------------------------------------------------ execution
    def _execute(self, key: Any) -> None:
        data = self.state.data
        if isinstance(data, SpillStore):
            # Inputs spilled to disk are read on the task's thread, not on this loop.
            node, input_keys = self.state.execution_node(key)
            inputs = None
        else:
            node, inputs = self.state.execution_inputs(key)
        loop = self.loop
        done = self._execution_done

        def run() -> None:
            _running.worker = self
            _running.key = key
            start = time.time()
            try:
                value = node({k: data[k] for k in input_keys} if inputs is None else inputs)
            except BaseException as error:  # reported to the scheduler, not raised here
                text = "".join(traceback.format_exception(error))
                report = (key, False, error, text, start, time.time())
            else:
                report = (key, True, value, None, start, time.time())
            try:
                loop.call_soon_threadsafe(done, *report)
            except RuntimeError:  # the worker closed (its loop with it) while this ran
                pass
            finally:
                _running.worker = _running.key = None

        try:
            self.threads.submit(run)
        except RuntimeError:  # shutting down: the scheduler reschedules it elsewhere
            pass

    def _secede(self, key: Any) -> None:
        if self.status == "running":
            self.carry_out(self.state.handle_secede(key))

    def _execution_done(self, key, ok: bool, value, text, start: float, stop: float) -> None:
        if self.status != "running":
            return
        if ok:
            instructions = self.state.handle_execute_success(key, value, sizeof(value), start, stop)
        else:
            instructions = self.state.handle_execute_failure(
                key, portable_exception(value), text, exception_text=f"{type(value).__name__}: {value}",
            )
        self.carry_out(instructions)

    # ------------------------------------------------------------------ peers
    async def _gather_dep(self, peer: str, keys: list) -> None:
        start = time.time()
        try:
            reply = await self.pool.request(peer, {"op": "get-data", "keys": list(keys)}, timeout=60)
        except Exception as error:
            logger.info("Worker %s could not fetch %d keys from %s: %s", self.address, len(keys), peer, error)
            self.pool.forget(peer)
            if self.status == "running":
                self.carry_out(self.state.handle_gather_dep_failure(peer, error))
            return
        if self.status != "running":
            return
        if "data" not in reply:
            logger.error("Worker %s could not fetch %s from %s: %s", self.address, keys, peer, reply.get("error"))
            self.carry_out(self.state.handle_gather_dep_failure(peer, reply.get("error")))
            return
        nbytes = reply.get("nbytes") or {}
        self.events.append({"kind": "transfer", "start": start, "stop": time.time(),
                            "nbytes": sum(nbytes.values()), "key": f"{len(reply['data'])} from {peer}"})
        self.carry_out(self.state.handle_gather_dep_success(peer, reply["data"], reply.get("nbytes")))

    async def _handle_peer(self, comm) -> None:
        while True:
            msg = await comm.read()
            problem = request_problem(msg)
            if problem:  # not a request at all: this connection goes, the worker stays
                logger.warning("Worker %s: closing connection from %s: %s", self.address, comm.peer_address, problem)
                return
            try:
                reply = await self.handle_request(msg)
            except Exception as error:
                reply = {"op": "reply", "error": portable_exception(error)}
            try:
                await comm.write(reply)
            except SerializationError as error:
                await comm.write({"op": "reply", "error": _unserializable_reply_error(reply, error)})
            if isinstance(reply.get("error"), UnknownOperationError):
                logger.warning("Worker %s: closing connection from %s: %s", self.address, comm.peer_address,
                               reply["error"])
                return
            # An idle connection must not keep what it sent alive (e.g. a value read back from disk).
            msg = reply = None

    async def handle_request(self, msg: dict) -> dict:
        """Answer ``get-data`` (keys absent here are left out), ``update-data`` (scatter), ``run`` and ``identity``."""
        op = msg.get("op")
        if op == "get-data":
            state = self.state
            data = state.data
            keys = [k for k in msg["keys"] if k in data]
            if isinstance(data, SpillStore) and any(k in data.slow for k in keys):
                # Reading from disk happens on a thread: this loop goes on serving meanwhile.
                found = await self.loop.run_in_executor(None, _read_present, data, keys)
            else:
                found = {k: data[k] for k in keys}
            return {"op": "data", "data": found,
                    "nbytes": {k: state.tasks[k].nbytes for k in found if k in state.tasks}}
        if op == "update-data":
            # A client scattering: the payload comes straight here, never through the scheduler.
            report, instructions = self.state.handle_update_data(msg["data"], msg.get("nbytes"))
            self.carry_out(instructions)
            report["types"] = {k: type(self.state.data[k]).__name__ for k in report["keys"]}
            return {"op": "reply", "result": report}
        if op == "run":
            func, args, kwargs = msg["function"], msg.get("args", ()), msg.get("kwargs", {})
            if msg.get("wait", True):
                try:
                    # Functions run on a thread so they can block; get_worker() works inside.
                    result = await self.loop.run_in_executor(None, self._run_as_worker, func, args, kwargs)
                except Exception as error:
                    return {"op": "reply", "error": portable_exception(error)}
                return {"op": "reply", "result": result}
            self.loop.run_in_executor(None, self._run_as_worker, func, args, kwargs)
            return {"op": "reply", "result": None}
        if op == "identity":
            return {"op": "reply", "result": {"type": "Worker", "address": self.address, "name": self.name,
                                              "nthreads": self.nthreads, "pid": os.getpid()}}
        handler = self.handlers.get(op)
        if handler is not None:
            return await handler(msg)
        raise UnknownOperationError(f"Unknown request op {op!r} sent to worker {self.address}")

    def _run_as_worker(self, func, args, kwargs):
        _running.worker = self
        try:
            return func(*args, **kwargs)
        finally:
            _running.worker = None


def _read_present(store: SpillStore, keys: list) -> dict:
    """``{key: value}`` for those of ``keys`` still in ``store`` (some may go while we read)."""
    found = {}
    for key in keys:
        try:
            found[key] = store[key]
        except KeyError:
            pass
    return found


def _spill_at_least(store: SpillStore, nbytes: int) -> int:
    """Spill least recently used values of ``store`` until ``nbytes`` are freed (or none is left);
    the bytes freed. The store's lock is taken per value, so the event loop waits for one write at most."""
    freed = 0
    for _ in range(len(store.fast)):  # bounded: each value goes to disk at most once
        if freed >= nbytes:
            break
        spilled = store.evict()
        if not spilled:
            break
        freed += spilled
    if freed:
        trim_memory()  # so the RSS shows what was freed, and a paused worker can resume
    return freed


def _unserializable_reply_error(reply: dict, error: Exception) -> Exception:
    """A ``SerializationError`` naming the key and type of the result that cannot be sent."""
    for key, value in reply.get("data", {}).items():
        try:
            dumps({"value": value})
        except SerializationError as cause:
            return SerializationError(
                f"The result of task {key!r} (type {type(value).__module__}.{type(value).__qualname__}) "
                f"cannot be serialized to send it from worker to client or peer: {cause}. Return a "
                "picklable value from the task (e.g. convert it), or use it only on the worker."
            )
    return SerializationError(str(error))
