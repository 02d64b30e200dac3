"""``Scheduler``: the server around ``SchedulerState``.

It only does I/O: it listens, turns what workers and clients send into
``SchedulerState`` method calls, and sends the messages those return. Every
decision (placement, reference counting, lost workers) is the state
machine's.

Connections
-----------
The first message on a connection says who is calling:

- ``{"op": "register-worker", "address", "nthreads", "name", "memory_limit",
  "resources", "nanny"}``: a worker's long-lived stream (``nanny``: the
  address of the nanny supervising its process, which ``restart`` asks).
  The scheduler answers
  ``registered`` (or ``error``), then both sides send batches of messages
  (``compute-task``/``free-keys`` one way; ``task-finished``, ``task-erred``,
  ``add-keys``, ``missing-data``, ``heartbeat`` the other). When the stream
  breaks the worker is removed: its tasks are rescheduled and lost results
  recomputed (``SchedulerState.remove_worker``).
- ``{"op": "register-client", "client"}``: a client's long-lived stream:
  ``update-graph``, ``update-data`` (scattered keys), ``client-releases-keys``, ``cancel-keys``, ``retry`` and
  queries carrying an ``id`` (answered by a ``reply`` with the same id).
  When it breaks, everything the client held is released.
- anything else: one query per message (``identity``, ``who-has``, ...),
  answered on the same connection.

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
import contextlib
import logging
import time
from typing import Any

from shoal import config

from . import graph_wire
from .batched import BatchedStream, iter_batch
from .comm import CommClosedError, UnknownOperationError, listen
from .security import as_security
from .services import service
from .rpc import ConnectionPool, portable_exception, request_problem
from .state import SchedulerPlugin, SchedulerState, UnknownWorkerError

logger = logging.getLogger("shoal.distributed.scheduler")

#: Optional fields of register-worker and the types they may have.
_WORKER_FIELDS = {"name": (str, int, type(None)), "memory_limit": (int, float, type(None)),
                  "resources": (dict, type(None)), "nanny": (str, type(None))}


def _registration_problem(msg: dict) -> str | None:
    """What is wrong with a ``register-worker``/``register-client`` message (None: nothing, or another op).

    >>> _registration_problem({"op": "register-worker", "address": "tcp://127.0.0.1:1", "nthreads": 0})
    'register-worker tcp://127.0.0.1:1: nthreads must be a positive int, got 0'
    """
    op = msg["op"]
    if op == "register-worker":
        address, nthreads = msg.get("address"), msg.get("nthreads")
        if type(address) is not str or "://" not in address:
            return f"register-worker needs an address like 'tcp://host:port', got {address!r:.60}"
        if type(nthreads) is not int or nthreads < 1:
            return f"register-worker {address}: nthreads must be a positive int, got {nthreads!r:.60}"
        for field, types in _WORKER_FIELDS.items():
            if not isinstance(msg.get(field), types) or isinstance(msg.get(field), bool):
                return f"register-worker {address}: {field} has the wrong type ({type(msg.get(field)).__name__})"
    elif op == "register-client" and type(msg.get("client")) is not str:
        return f"register-client needs a str client id, got {msg.get('client')!r:.60}"
    return None

__all__ = ["Scheduler", "SchedulerPlugin"]


def _takes_argument(function: Any, name: str) -> bool:
    """Whether ``function`` has a parameter called ``name`` (False when it cannot be inspected)."""
    import inspect

    try:
        return name in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


class Scheduler:
    """Listen on ``address`` and run ``SchedulerState`` for workers and clients.

    ``heartbeat_timeout``: a worker silent for that long is removed (a
    killed process is noticed at once anyway, when its connection breaks).
    ``security``: a ``Security`` (TLS credentials for ``tls://`` addresses,
    ``require_encryption``); True makes a temporary one.
    ``work_stealing``: every ``work_stealing_interval`` seconds move queued
    tasks from saturated workers to idle ones (default: config
    ``distributed.scheduler.work-stealing`` and ``.work-stealing-interval``).
    Other keywords go to ``SchedulerState`` (``allowed_failures=``, ...).
    """

    def __init__(self, address: str = "tcp://127.0.0.1:0", *, heartbeat_timeout: float = 60.0,
                 check_interval: float = 1.0, dashboard_address: str | None = None, security: Any = None,
                 work_stealing: bool | None = None, work_stealing_interval: float | None = None,
                 **state_options: Any):
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
        self._background: set = set()
        self._checker: asyncio.Task | None = None
        self._closed_event: asyncio.Event | None = None
        self.datasets: dict = {}  # name -> {"keys": [...], "value": structure with key placeholders}

    # ------------------------------------------------------------------ lifecycle
    @property
    def address(self) -> str:
        if self.listener is None:
            raise RuntimeError("The scheduler has not been started; await scheduler.start() first.")
        return self.listener.contact_address

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

    def __await__(self):
        return self.start().__await__()

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
        for task in list(self._background):
            task.cancel()
        self.pool.close()
        self.status = "closed"
        if self._closed_event is not None:
            self._closed_event.set()

    async def finished(self) -> None:
        """Wait until the scheduler is closed."""
        await self._closed_event.wait()

    async def __aenter__(self) -> "Scheduler":
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

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

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------ connections
    async def _handle_comm(self, comm) -> None:
        # Anything but a well-formed request closes this one connection, with a
        # log line naming the peer; the listener and every other peer go on.
        try:
            msg = await comm.read()
        except CommClosedError:
            return
        problem = request_problem(msg) or _registration_problem(msg)
        if problem:
            logger.warning("Closing connection from %s: %s", comm.peer_address, problem)
            with contextlib.suppress(CommClosedError):
                await comm.write({"op": "error", "message": problem})
            return
        op = msg["op"]
        if op == "register-worker":
            await self._serve_worker(comm, msg)
        elif op == "register-client":
            await self._serve_client(comm, msg)
        else:
            while True:
                reply = await self._answer(msg)
                await comm.write(reply)
                if isinstance(reply.get("error"), UnknownOperationError):
                    logger.warning("Closing connection from %s: %s", comm.peer_address, reply["error"])
                    return
                msg = await comm.read()
                problem = request_problem(msg)
                if problem:
                    logger.warning("Closing connection from %s: %s", comm.peer_address, problem)
                    return

    async def _answer(self, msg: Any) -> dict:
        try:
            if not isinstance(msg, dict):
                raise ValueError(f"Expected a message dict with an 'op', got {type(msg).__name__}")
            return {"op": "reply", "id": msg.get("id"), "result": await self.handle_query(msg)}
        except Exception as error:
            return {"op": "reply", "id": msg.get("id") if isinstance(msg, dict) else None,
                    "error": portable_exception(error)}

    async def _serve_worker(self, comm, msg: dict) -> None:
        address = msg["address"]
        try:
            msgs = self.state.add_worker(
                address, int(msg["nthreads"]), name=msg.get("name"),
                memory_limit=msg.get("memory_limit"), resources=msg.get("resources"), nanny=msg.get("nanny"),
            )
        except (ValueError, KeyError, TypeError) as error:
            logger.warning("Refused worker registration from %s: %s", comm.peer_address, error)
            await comm.write({"op": "error", "message": str(error)})
            return
        await comm.write({"op": "registered", "scheduler": self.address})
        stream = self.streams[address] = BatchedStream(comm)
        logger.info("Registered worker %s (%s threads)", address, msg["nthreads"])
        self.send(msgs)
        reason = "connection closed"
        state = self.state
        out: list = []
        try:
            while True:
                batch = await comm.read()
                out: list = []
                for m in iter_batch(batch):
                    problem = request_problem(m)
                    if problem:
                        raise ValueError(problem)
                    op = m["op"]
                    if op == "heartbeat":
                        state.heartbeat_worker(address, metrics=m.get("metrics"))
                        self._plugins_heartbeat(address, m.get("metrics"))
                    elif op == "unregister":
                        reason = "worker closed"
                        return
                    else:
                        if state.plugins:
                            self._plugins_worker_report(address, m)
                        out += state.handle_worker_message(address, m)
                self.send(out)
        except CommClosedError:
            pass
        except UnknownWorkerError:
            reason = "removed (missed heartbeats)"
        except Exception as error:
            # A malformed message closes this connection only; others go on.
            logger.error("Closing the stream of worker %s (connected from %s) after a bad message: %s: %s",
                         address, comm.peer_address, type(error).__name__, error, exc_info=True)
            reason = "bad message"
            self.send(out)  # what the batch's good messages before the bad one caused
        finally:
            if self.streams.get(address) is stream:
                del self.streams[address]
            stream.abort()
            self.pool.forget(address)
            moved = self._replicas_elsewhere(address)  # read before the state forgets the worker
            if address in state.workers:
                logger.info("Removing worker %s: %s", address, reason)
                self.send(state.remove_worker(address, reason=reason))
            self.send([(c, {"op": "worker-removed", "address": address, "moved": keys})
                       for c, keys in moved.items()])
            # Clients and workers stop fetching from it at once instead of timing out
            # on it (a worker that vanished without closing its connections, e.g. its
            # cable pulled, would leave their requests waiting for minutes).
            self.send([(c, {"op": "worker-removed", "address": address}) for c in [*state.clients, *state.workers]])

    async def _serve_client(self, comm, msg: dict) -> None:
        client = msg["client"]
        if client in self.streams or client in self.state.workers:
            await comm.write({"op": "error", "message": f"Client id {client!r} is already connected."})
            return
        self.state.add_client(client)
        await comm.write({"op": "registered", "scheduler": self.address})
        stream = self.streams[client] = BatchedStream(comm)
        state = self.state
        out: list = []
        try:
            while True:
                batch = await comm.read()
                out: list = []
                for m in iter_batch(batch):
                    problem = request_problem(m)
                    if problem:
                        raise ValueError(problem)
                    op = m["op"]
                    if op == "update-graph":
                        out += self._update_graph(client, m, stream)
                    elif op == "client-releases-keys":
                        out += state.client_releases_keys(client, m["keys"])
                    elif op == "cancel-keys":
                        out += state.cancel_keys(client, m["keys"], force=m.get("force", False))
                    elif op == "retry":
                        out += state.retry_keys(client, m["keys"])
                    elif op == "update-data":  # the client scattered data straight to workers
                        out += state.update_data(client, m["who_has"], m.get("nbytes"), m.get("types"))
                    elif op == "close-client":
                        return
                    else:
                        self._spawn(self._answer_on_stream(stream, m))
                self.send(out)
        except CommClosedError:
            pass
        except Exception as error:
            logger.error("Closing the stream of client %s (connected from %s) after a bad message: %s: %s",
                         client, comm.peer_address, type(error).__name__, error, exc_info=True)
            self.send(out)  # what the batch's good messages before the bad one caused
            try:  # tell the client why, so its futures fail with the reason
                stream.send({"op": "stream-error", "message": f"{type(error).__name__}: {error}"})
            except CommClosedError:
                pass
        finally:
            if self.streams.get(client) is stream:
                del self.streams[client]
            # The client is gone: release everything it held.
            self.send(state.remove_client(client))
            await stream.close(timeout=1.0)

    def _update_graph(self, client: str, m: dict, stream: BatchedStream) -> list:
        options = {k: m[k] for k in ("priority", "workers", "allow_other_workers", "resources", "retries")
                   if m.get(k) is not None}
        try:
            graph = m["graph"]
            with graph_wire.paused_gc():  # a large graph: millions of new objects, a quarter of the time in GC
                if graph_wire.is_wire_graph(graph):
                    graph = graph_wire.decode(graph)
                return self.state.update_graph(client, graph, m["keys"], **options)
        except Exception as error:
            # The graph is refused as a whole: its futures fail with the reason.
            stream.send({"op": "graph-erred", "keys": list(m["keys"]), "exception": portable_exception(error)})
            return []

    async def _answer_on_stream(self, stream: BatchedStream, m: dict) -> None:
        reply = await self._answer(m)
        try:
            stream.send(reply)
        except CommClosedError:
            pass

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
            return await self.restart(msg.get("timeout", 30.0))
        if op == "replicate":
            return await self.replicate(msg["keys"], msg.get("workers"), msg.get("timeout", 30.0))
        if op == "retire-workers":
            return await self.retire_workers(msg.get("workers"), n=msg.get("n"), close=msg.get("close", True),
                                             timeout=msg.get("timeout", 60.0))
        if op in self._DATASET_OPS:
            return getattr(self, self._DATASET_OPS[op])(msg)
        if op == "run-on-scheduler":
            function, kwargs = msg["function"], dict(msg.get("kwargs", {}))
            if _takes_argument(function, "shoal_scheduler"):  # a function may ask for the scheduler itself
                kwargs["shoal_scheduler"] = self
            result = function(*msg.get("args", ()), **kwargs)
            if asyncio.iscoroutine(result):
                result = await result
            return result
        raise UnknownOperationError(f"Unknown query op {op!r} sent to the scheduler.")

    # ------------------------------------------------------------------ published datasets
    # A published dataset holds its keys through a client id of its own, so the
    # data outlives the client that published it until it is unpublished.
    _DATASET_OPS = {"publish-dataset": "publish_dataset", "unpublish-dataset": "unpublish_dataset",
                    "get-dataset": "get_dataset", "list-datasets": "list_datasets"}

    @staticmethod
    def _dataset_holder(name: Any) -> str:
        return f"published-dataset:{name!r}"

    def publish_dataset(self, msg: dict) -> None:
        name, keys = msg["name"], list(msg["keys"])
        if name in self.datasets and not msg.get("override"):
            raise KeyError(f"A dataset named {name!r} is already published; unpublish it or pass override=True.")
        if name in self.datasets:
            self.unpublish_dataset({"name": name})
        self.send(self.state.update_graph(self._dataset_holder(name), {}, keys))
        self.datasets[name] = {"keys": keys, "value": msg["value"]}

    def unpublish_dataset(self, msg: dict) -> None:
        name = msg["name"]
        if self.datasets.pop(name, None) is None:
            raise KeyError(f"No dataset named {name!r} is published (known: {sorted(map(repr, self.datasets))}).")
        self.send(self.state.remove_client(self._dataset_holder(name)))

    def get_dataset(self, msg: dict) -> dict:
        name = msg["name"]
        if name not in self.datasets:
            raise KeyError(f"No dataset named {name!r} is published (known: {sorted(map(repr, self.datasets))}).")
        return self.datasets[name]

    def list_datasets(self, msg: dict) -> list:
        return list(self.datasets)

    def info(self) -> dict:
        """What ``Client.scheduler_info()`` shows."""
        state = self.state
        return {
            "type": "Scheduler",
            "address": self.address,
            "started": self.start_time,
            "dashboard_link": self.dashboard.link if self.dashboard is not None else None,
            "workers": {
                a: {"name": ws.name, "nthreads": ws.nthreads, "memory_limit": ws.memory_limit,
                    "status": ws.status, "processing": len(ws.processing), "keys": len(ws.has_what),
                    "nbytes": ws.nbytes, "nanny": ws.nanny, "metrics": dict(ws.metrics)}
                for a, ws in state.workers.items()
            },
            "clients": sorted(state.clients),
            "n_tasks": len(state.tasks),
            "task_counts": state.task_counts(),
        }

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

    async def restart(self, timeout: float = 30.0) -> int:
        """Cancel every task of every client, then restart every worker and wait until all
        have registered again. Returns the number of workers.

        A worker with a nanny is killed and started afresh by its nanny (a new
        process); one without drops all its data and registers again (same
        process: a soft restart).
        """
        state = self.state
        msgs: list = []
        for client, cs in list(state.clients.items()):
            msgs += state.cancel_keys(client, [ts.key for ts in cs.wants_what], force=True)
        self.datasets.clear()
        self.send(msgs)
        before = dict(state.workers)
        nannies = {a: ws.nanny for a, ws in before.items() if ws.nanny}
        for address in before:
            stream = self.streams.get(address)
            if stream is not None and address not in nannies:
                stream.send({"op": "restart"})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        replies = await asyncio.gather(
            *(self.pool.request(n, {"op": "restart", "timeout": timeout}, timeout=timeout) for n in nannies.values()),
            return_exceptions=True,
        )
        failed = {}
        for (address, nanny), reply in zip(nannies.items(), replies):
            error = reply if isinstance(reply, BaseException) else reply.get("error")
            if error is not None:
                self.pool.forget(nanny)
                failed[address] = f"{nanny}: {type(error).__name__}: {error}"
        if failed:
            raise RuntimeError(f"restart: the nannies of {len(failed)} workers could not restart them "
                               f"({'; '.join(failed.values())}); check those nannies' output.")

        def pending(address: str, ws) -> bool:
            if state.workers.get(address) is ws:
                return True  # the old worker is still registered
            if address in nannies:  # a new process registers from its nanny (at a new address)
                return not any(w.nanny == nannies[address] for w in state.workers.values())
            return address not in state.workers

        while any(pending(a, ws) for a, ws in before.items()):
            if loop.time() > deadline:
                back = sum(not pending(a, ws) for a, ws in before.items())
                raise TimeoutError(f"Only {back} of {len(before)} workers came back within {timeout} s of a restart.")
            await asyncio.sleep(0.02)
        self.state.log_event("restart", workers=len(before))
        return len(state.workers)

    async def replicate(self, keys: list, workers: list | None = None, timeout: float = 30.0) -> dict:
        """Copy ``keys`` (in memory) to every worker (or ``workers``); wait until they hold them.

        Workers fetch the copies from peers (``acquire-replicas``) and report
        them (``add-keys``), so the state machine learns of each replica as
        usual. Returns ``{key: [holders]}``.
        """
        state = self.state
        targets = list(state.workers) if workers is None else [w for w in workers if w in state.workers]
        for address in targets:
            who_has, nbytes = {}, {}
            for key in keys:
                ts = state.tasks.get(key)
                if ts is None or ts.state != "memory":
                    raise KeyError(f"Cannot replicate {key!r}: it is not in memory (compute it first).")
                holders = [ws.address for ws in ts.who_has]
                if address not in holders:
                    who_has[key], nbytes[key] = holders, ts.nbytes
            stream = self.streams.get(address)
            if who_has and stream is not None:
                stream.send({"op": "acquire-replicas", "who_has": who_has, "nbytes": nbytes})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            who_has = state.who_has(keys)
            if all(set(targets) <= set(holders) or not set(targets) & set(state.workers)
                   for holders in who_has.values()):
                return who_has
            if loop.time() > deadline:
                raise TimeoutError(f"Replicas of {len(keys)} keys did not reach {len(targets)} workers "
                                   f"within {timeout} s.")
            await asyncio.sleep(0.01)

    def workers_to_retire(self, workers: list | None = None, n: int | None = None) -> list:
        """Addresses to retire: ``workers`` (addresses or names); else ``n`` of the running
        workers, idle ones holding the fewest bytes first; else every idle worker but one."""
        state = self.state
        if workers is not None:
            if isinstance(workers, str):
                workers = [workers]
            chosen = []
            for name in workers:
                address = state.aliases.get(name, name)
                if address not in state.workers:
                    raise ValueError(f"retire_workers: no worker {name!r}; known: {sorted(state.workers)}.")
                chosen.append(address)
            return list(dict.fromkeys(chosen))
        candidates = [ws for ws in state.workers.values() if ws.status == "running" and ws not in state.retiring]
        candidates.sort(key=lambda ws: (len(ws.processing) + len(ws.long_running), ws.nbytes))
        if n is None:
            idle = [ws for ws in candidates if not (ws.processing or ws.long_running)]
            n = min(len(idle), len(candidates) - 1)
        if n < 0:
            raise ValueError(f"retire_workers(n={n}): n must be >= 0.")
        return [ws.address for ws in candidates[:n]]

    async def retire_workers(self, workers: list | None = None, *, n: int | None = None, close: bool = True,
                             timeout: float = 60.0, interval: float = 0.02) -> list:
        """Retire workers gracefully; returns their addresses.

        They get no new tasks, hand their queued tasks on, and the results
        only they hold are copied to the other workers. Then, with
        ``close``, they are removed and told to close (a worker under a
        nanny exits cleanly, and its nanny with it); without, they stay
        registered as ``closing`` (no tasks, nothing only they hold) until
        whoever started them stops them. Nothing computed is lost. Raises
        ``TimeoutError`` (and puts back to work those not done) after
        ``timeout`` seconds.
        """
        state = self.state
        addresses = self.workers_to_retire(workers, n)
        if not addresses:
            return []
        self.send(state.begin_retirement(addresses))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pending = list(addresses)
        while True:
            for address in [a for a in pending if state.retirement_done(a)]:
                pending.remove(address)
                self._remove_retired(address, close)
            if not pending:
                return addresses
            if loop.time() > deadline:
                for address in pending:
                    self.send(state.cancel_retirement(address))
                raise TimeoutError(
                    f"Workers {pending} did not finish retiring within {timeout} s (tasks still running there, "
                    "or their results could not be copied); they were put back to work. Try a longer timeout."
                )
            await asyncio.sleep(interval)
            self.send(state.retirement_step())

    def _replicas_elsewhere(self, address: str) -> dict:
        """``{client: {key: [other holders]}}`` for the keys each client wants that ``address``
        holds and other workers hold too: sent with ``worker-removed``, so the client
        fetches them from there instead of waiting for a recomputation that never comes."""
        ws = self.state.workers.get(address)
        if ws is None or not ws.has_what:
            return {}
        moved: dict = {}
        for cid, cs in self.state.clients.items():
            keys = {ts.key: [w.address for w in ts.who_has if w is not ws]
                    for ts in ws.has_what if len(ts.who_has) > 1 and ts in cs.wants_what}
            if keys:
                moved[cid] = keys
        return moved

    def _remove_retired(self, address: str, close: bool) -> None:
        if not close:
            logger.info("Worker %s retired; it stays registered (closing) until it disconnects", address)
            return
        logger.info("Worker %s retired; closing it", address)
        moved = self._replicas_elsewhere(address)
        self.send(self.state.remove_worker(address, reason="retired"))
        self.send([(c, {"op": "worker-removed", "address": address, "moved": keys}) for c, keys in moved.items()])
        stream = self.streams.get(address)
        if stream is not None:
            try:
                stream.send({"op": "close", "reason": "retired"})
            except CommClosedError:
                pass

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
