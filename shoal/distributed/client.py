"""``Client``: the user's connection to a shoal cluster.

>>> from shoal.distributed import Client, LocalCluster
>>> with LocalCluster(n_workers=1, processes=False) as cluster, Client(cluster) as client:
...     future = client.submit(sum, [1, 2, 3])
...     future.result(timeout=10)
6

``Client(address)`` connects to a running scheduler, ``Client(cluster)`` to a
``LocalCluster``, and ``Client()`` starts a LocalCluster of its own (closed
with the client). The synchronous API runs the client's event loop in a
shared background thread; ``Client(..., asynchronous=True)`` uses the
caller's running loop, and its methods return awaitables.

While a client is open it is the default scheduler: ``x.compute()`` on any
collection runs on the cluster (through ``client.get``). Closing the client
undoes that and releases everything it held on the scheduler.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import threading
import uuid
from typing import Any, Callable, Iterable

from shoal import config
from shoal.schedulers import registry
from shoal.taskgraph import Task, cull, ensure_graph, is_collection
from shoal.taskgraph.protocol import collections_to_graph, flatten_keys, pack_results
from shoal.taskgraph.tokenize import tokenize

from .batched import BatchedStream, iter_batch
from . import graph_wire
from .comm import CommClosedError, ConnectError, SerializationError, connect
from .future import Future, FutureState, as_completed, wait
from .graph_futures import (
    _futures_to_placeholders, _iter_futures, _placeholders_to_futures, _refs, _repack, graph_with_futures_resolved,
    replace_futures,
)
from .loop_thread import LoopThread
from .rpc import ConnectionPool
from .security import as_security

logger = logging.getLogger("shoal.distributed.client")

__all__ = ["Client", "Future", "wait", "as_completed", "default_client"]

_current_clients: list = []  # open clients, the newest last
_MAX_GATHER_ROUNDS = 20  # refetch attempts after data was lost with a worker
_WIRE_MIN_TASKS = 64  # graphs this large are sent in graph_wire's compact form


def default_client() -> "Client":
    """The most recently opened client that is still open."""
    if not _current_clients:
        raise ValueError("No shoal.distributed Client is open; create one with Client(...) first.")
    return _current_clients[-1]


def _func_name(func: Callable) -> str:
    name = getattr(func, "__name__", None) or type(func).__name__
    return name if name != "<lambda>" else "lambda"


class Client:
    """Connect to the scheduler at ``address`` (or a cluster, or a new LocalCluster).

    ``timeout``: seconds to wait for the connection. ``set_as_default``: make
    ``compute()`` of collections use this client while it is open (default:
    yes for a synchronous client, no for an asynchronous one).
    ``cluster_options`` (``n_workers=``, ``threads_per_worker=``,
    ``processes=``) go to the LocalCluster started when no address is given.
    ``security``: a ``Security`` with the client's TLS credentials (default:
    the cluster's, when given a cluster; True makes a temporary one for a new
    LocalCluster).
    """

    def __init__(self, address: Any = None, *, asynchronous: bool = False, timeout: float = 30.0,
                 set_as_default: bool | None = None, name: str | None = None, security: Any = None,
                 **cluster_options: Any):
        self.id = name or f"Client-{uuid.uuid4().hex}"
        self.asynchronous = asynchronous
        self.timeout = timeout
        # An asynchronous client cannot serve blocking x.compute() calls, so it
        # becomes the default scheduler only when asked to.
        self.set_as_default = (not asynchronous) if set_as_default is None else set_as_default
        self.status = "created"
        self.futures: dict = {}  # key -> FutureState
        self.refcount: dict = {}  # key -> live Future objects
        # Reentrant: a Future collected by the garbage collector while this thread
        # holds the lock releases its key from inside __del__.
        self._ref_lock = threading.RLock()
        self._pending_releases: list = []
        self._replies: dict = {}
        self._request_ids = itertools.count()
        self.stream: BatchedStream | None = None
        # Workers that stop answering are known to be gone soon: do not wait long on them.
        self.pool = ConnectionPool(connect_timeout=3.0)
        self._reader: asyncio.Task | None = None
        self._stream_error: str | None = None
        self._config_undo = None
        self._own_cluster = False
        self.cluster = None
        if address is None:
            from .cluster import LocalCluster

            if security is not None:
                cluster_options["security"] = security
            self.cluster = LocalCluster(asynchronous=asynchronous, **cluster_options)
            self._own_cluster = True
        elif not isinstance(address, str):
            if not hasattr(address, "scheduler_address"):
                raise TypeError(f"Client(address): expected an address string or a cluster, got {type(address).__name__}")
            self.cluster = address
        elif cluster_options:
            raise TypeError(f"Unexpected keywords {sorted(cluster_options)} with a scheduler address.")
        self._address = address if isinstance(address, str) else None
        if security is None or (security is True and self.cluster is not None):
            security = getattr(self.cluster, "security", security)  # a cluster's own credentials fit it
        self.security = as_security(security)
        self.pool.connection_args = self.security.connection_args("client")
        if asynchronous:
            self._loop_thread = None
            self.loop = None  # the running loop, set in _start
        else:
            self._loop_thread = LoopThread.acquire()
            self.loop = self._loop_thread.loop
            try:
                self._loop_thread.run(self._start, timeout=timeout + 5)
            except BaseException:
                if self._own_cluster:
                    self.cluster.close()
                self._release_resources()
                raise

    # ------------------------------------------------------------------ sync/async plumbing
    def _sync(self, coroutine_function: Callable, *args: Any, timeout: float | None = None) -> Any:
        """Run on the client's loop: an awaitable when asynchronous, else the result."""
        if self.asynchronous:
            return coroutine_function(*args)
        if self.status not in ("running", "created"):
            raise RuntimeError(f"Client {self.id} is {self.status}; create a new Client to compute.")
        return self._loop_thread.run(coroutine_function, *args, timeout=timeout)

    def _call_on_loop(self, callback: Callable, *args: Any) -> None:
        if self._loop_thread is not None:
            self._loop_thread.call_soon(callback, *args)
        else:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is self.loop:
                callback(*args)
            elif self.loop is not None and not self.loop.is_closed():
                self.loop.call_soon_threadsafe(callback, *args)

    def _send(self, msg: dict) -> None:
        """Queue ``msg`` for the scheduler, in order, from any thread."""
        # Close the batch of releases: its flush is queued before ``msg``; a release
        # made after ``msg`` must not ride in it, or the scheduler could forget a key
        # that ``msg``'s graph still depends on.
        with self._ref_lock:
            self._pending_releases = []
        self._call_on_loop(self._send_on_loop, msg)

    def _send_on_loop(self, msg: dict) -> None:
        if self.stream is None or self.stream.closed:
            return
        try:
            self.stream.send(msg)
        except CommClosedError:
            pass

    def __await__(self):
        async def start() -> Client:
            await self._start()
            return self

        return start().__await__()

    # ------------------------------------------------------------------ connect and close
    @property
    def scheduler_address(self) -> str:
        if self._address is not None:
            return self._address
        return self.cluster.scheduler_address

    async def _start(self) -> None:
        if self.status == "running":
            return
        if self.asynchronous:
            self.loop = asyncio.get_running_loop()
            if self.cluster is not None and self._own_cluster:
                await self.cluster
        address = self.scheduler_address
        comm = await connect(address, timeout=self.timeout, **self.security.connection_args("client"))
        await comm.write({"op": "register-client", "client": self.id})
        reply = await asyncio.wait_for(comm.read(), self.timeout)
        if reply.get("op") != "registered":
            comm.abort()
            raise ConnectError(f"The scheduler at {address} refused client {self.id}: {reply.get('message')}", address)
        self.stream = BatchedStream(comm, on_unserializable=self._on_unserializable)
        self._reader = self.loop.create_task(self._read_scheduler(comm))
        self.status = "running"
        _current_clients.append(self)
        from .shuffle import register_with_dataframes

        register_with_dataframes()  # shuffle_method="p2p" (imports pandas: done here, not in workers)
        if self.set_as_default:
            registry.register_scheduler("distributed", self.get)
            settings = {"scheduler": "distributed"}
            if config.get("dataframe.shuffle.method", "tasks") == "tasks":  # a method the user chose stays
                settings["dataframe.shuffle.method"] = "p2p"  # workers exchange shards directly
            self._config_undo = config.set(settings)

    async def _read_scheduler(self, comm) -> None:
        try:
            while True:
                for msg in iter_batch(await comm.read()):
                    self._handle_message(msg)
        except CommClosedError:
            pass
        except Exception:
            logger.exception("Client %s: bad message from the scheduler", self.id)
        if self.status == "running":
            logger.warning("Client %s lost its connection to the scheduler %s", self.id, self.scheduler_address)
            reason = f": it could not handle a message from this client ({self._stream_error})" \
                if self._stream_error else "."
            error = CommClosedError(f"Lost the connection to the scheduler at {self.scheduler_address}{reason}")
            with self._ref_lock:
                states = list(self.futures.values())
            for state in states:
                if not state.done():
                    state.set_error(error)
            for reply in self._replies.values():
                if not reply.done():
                    reply.set_exception(error)

    def _handle_message(self, msg: dict) -> None:
        op = msg["op"]
        if op == "key-in-memory":
            state = self.futures.get(msg["key"])
            if state is not None:
                state.finish(msg.get("type"), msg.get("workers"))
        elif op == "task-erred":
            state = self.futures.get(msg["key"])
            if state is not None:
                exception = msg.get("exception")
                if not isinstance(exception, BaseException):
                    exception = RuntimeError(msg.get("exception_text") or f"Task {msg['key']!r} failed")
                traceback = msg.get("traceback")
                if isinstance(traceback, str) and exception.__traceback__ is None:
                    # Sent from another process: keep where it failed visible when re-raised here.
                    note = f"(raised by task {msg.get('blamed_key', msg['key'])!r} on a worker)\n{traceback}"
                    if note not in getattr(exception, "__notes__", ()):
                        exception.add_note(note)
                state.set_error(exception, traceback)
        elif op == "cancelled-keys":
            for key in msg["keys"]:
                state = self.futures.get(key)
                if state is not None:
                    state.cancel()
        elif op == "graph-erred":
            for key in msg["keys"]:
                state = self.futures.get(key)
                if state is not None and not state.done():
                    state.set_error(msg["exception"])
        elif op == "reply":
            reply = self._replies.pop(msg.get("id"), None)
            if reply is not None and not reply.done():
                reply.set_result(msg)
        elif op == "worker-removed":
            address = msg["address"]
            self.pool.forget(address)
            with self._ref_lock:
                states = list(self.futures.values())
                # Copies elsewhere (e.g. moved off a retiring worker) keep those futures valid.
                moved = [(self.futures.get(k), holders) for k, holders in (msg.get("moved") or {}).items()]
            for state, holders in moved:
                if state is not None and holders:
                    state.workers = list(holders)
            for state in states:
                if address in state.workers:
                    state.workers.remove(address)
                    if not state.workers:
                        state.lose()
        elif op == "stream-error":
            self._stream_error = msg["message"]  # the scheduler closes the stream next
        elif op == "close":
            pass  # the scheduler is shutting down; the stream will close
        else:
            logger.warning("Client %s: unknown message %r from the scheduler", self.id, op)

    def _on_unserializable(self, msg: dict, error: Exception) -> None:
        if msg.get("op") == "update-graph":
            if not graph_wire.is_wire_graph(msg["graph"]):
                try:  # encoding names the key whose function or argument cannot be pickled
                    graph_wire.encode(msg["graph"])
                except SerializationError as named:
                    error = named
            for key in msg["keys"]:
                state = self.futures.get(key)
                if state is not None and not state.done():
                    state.set_error(error)
        elif "id" in msg:
            reply = self._replies.pop(msg["id"], None)
            if reply is not None and not reply.done():
                reply.set_exception(error)

    def close(self, timeout: float = 10.0) -> Any:
        """Release everything this client held, disconnect, and stop what it started."""
        if self.status in ("closing", "closed"):
            return None if not self.asynchronous else asyncio.sleep(0)
        if self.asynchronous:
            return self._close(timeout)
        try:
            if self.status == "running":
                self._loop_thread.run(self._close, timeout, timeout=timeout + 5)
        finally:
            if self._own_cluster and self.cluster is not None:
                self.cluster.close()
            self._release_resources()

    async def _close(self, timeout: float = 10.0) -> None:
        if self.status in ("closing", "closed"):
            return
        self.status = "closing"
        self._undo_default()
        if self.stream is not None:
            self._flush_releases()
            if not self.stream.closed:
                self.stream.send({"op": "close-client"})
            await self.stream.close(timeout=timeout)
        if self._reader is not None:
            self._reader.cancel()
        self.pool.close()
        for state in list(self.futures.values()):
            if not state.done():
                state.cancel()
        self.status = "closed"
        if self.asynchronous and self._own_cluster and self.cluster is not None:
            await self.cluster.close()

    def _undo_default(self) -> None:
        if self in _current_clients:
            _current_clients.remove(self)
        if self._config_undo is not None:
            self._config_undo.__exit__(None, None, None)
            self._config_undo = None
            if _current_clients and _current_clients[-1].set_as_default:
                registry.register_scheduler("distributed", _current_clients[-1].get)
            else:
                registry.unregister_scheduler("distributed")

    def _release_resources(self) -> None:
        self.status = "closed"
        self._undo_default()
        if self._loop_thread is not None:
            LoopThread.release(self._loop_thread)
            self._loop_thread = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> "Client":
        await self._start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._close()

    def __repr__(self) -> str:
        return f"<Client {self.id} scheduler={self._address or self.cluster!r} status={self.status}>"

    # ------------------------------------------------------------------ reference counting
    def _inc_ref(self, key: Any, state: FutureState | None = None) -> FutureState:
        with self._ref_lock:
            self.refcount[key] = self.refcount.get(key, 0) + 1
            existing = self.futures.get(key)
            if existing is None:
                existing = self.futures[key] = state or FutureState(key)
            return existing

    def _dec_ref(self, key: Any) -> None:
        with self._ref_lock:
            n = self.refcount.get(key, 0) - 1
            if n > 0:
                self.refcount[key] = n
                return
            self.refcount.pop(key, None)
            self.futures.pop(key, None)
            if self.status != "running":
                return
            batch = self._pending_releases
            batch.append(key)
            first = len(batch) == 1
        if first:
            # Always queued, never run at once: the garbage collector may drop a
            # future on the loop thread itself, and the release must still follow
            # the messages queued before it (a graph that depends on that future).
            loop = self.loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._flush_releases, batch)

    def _flush_releases(self, batch: list | None = None) -> None:
        """Send ``batch`` (default: the open one), the releases queued in order with other messages."""
        with self._ref_lock:
            if batch is None or batch is self._pending_releases:
                batch = self._pending_releases
                self._pending_releases = []
            keys = list(batch)
            batch.clear()  # sent once, whichever flush gets to it first
        if keys:
            self._send_on_loop({"op": "client-releases-keys", "keys": keys})

    async def _request(self, msg: dict) -> Any:
        """A query to the scheduler over the client stream; its result, or its error raised."""
        if self.stream is None or self.stream.closed:
            raise CommClosedError(f"Client {self.id} is not connected to a scheduler.")
        request_id = next(self._request_ids)
        reply = self.loop.create_future()
        self._replies[request_id] = reply
        self.stream.send({**msg, "id": request_id})
        answer = await reply
        if "error" in answer:
            raise answer["error"]
        return answer["result"]

    # ------------------------------------------------------------------ submitting
    def submit(self, func: Callable, *args: Any, key: Any = None, pure: bool = True, workers: Any = None,
               resources: dict | None = None, retries: int | None = None, priority: int = 0,
               allow_other_workers: bool = False, **kwargs: Any) -> Future:
        """Run ``func(*args, **kwargs)`` on the cluster; a ``Future`` of its result.

        Futures among the arguments (also inside lists, tuples and dicts)
        are replaced by their values on the worker. ``pure=True`` names the
        task by its inputs, so equal calls share one result; use
        ``pure=False`` for functions with side effects or randomness.
        """
        if not callable(func):
            raise TypeError(f"submit() needs a callable first argument, got {type(func).__name__}")
        if key is None:
            name = _func_name(func)
            key = f"{name}-{tokenize(func, args, kwargs)}" if pure else f"{name}-{uuid.uuid4().hex}"
        if self._already_submitted(key):
            return Future(key, self)
        args, kwargs = replace_futures(self, args), {k: replace_futures(self, v) for k, v in kwargs.items()}
        task = Task(key, func, *args, **kwargs)
        future = Future(key, self)
        self._submit_graph({key: task}, [key], workers=workers, resources=resources, retries=retries,
                           priority=priority, allow_other_workers=allow_other_workers)
        return future

    def map(self, func: Callable, *iterables: Iterable, key: Any = None, pure: bool = True, workers: Any = None,
            resources: dict | None = None, retries: int | None = None, priority: int = 0,
            allow_other_workers: bool = False, **kwargs: Any) -> list:
        """``submit(func, *items)`` for each tuple of items of ``iterables``, as one graph; a list of futures.

        ``key``: a list of keys, or a name prefix for them.
        """
        if not callable(func):
            raise TypeError(f"map() needs a callable first argument, got {type(func).__name__}")
        rows = list(zip(*iterables))
        if isinstance(key, (list, tuple)):
            if len(key) != len(rows):
                raise ValueError(f"map(): {len(key)} keys for {len(rows)} calls")
            keys = list(key)
        else:
            prefix = key or _func_name(func)
            if pure:
                base = tokenize(func, kwargs)
                keys = [f"{prefix}-{tokenize(base, row)}" for row in rows]
            else:
                keys = [f"{prefix}-{uuid.uuid4().hex}" for _ in rows]
        kwargs = {k: replace_futures(self, v) for k, v in kwargs.items()}
        graph = {}
        for k, row in zip(keys, rows):
            if k not in graph and not self._already_submitted(k):
                graph[k] = Task(k, func, *replace_futures(self, row), **kwargs)
        futures = [Future(k, self) for k in keys]
        if graph:
            self._submit_graph(graph, list(graph), workers=workers, resources=resources, retries=retries,
                               priority=priority, allow_other_workers=allow_other_workers)
        return futures

    def _already_submitted(self, key: Any) -> bool:
        """Whether ``key`` is held by a live future; a cancelled one is reset to be submitted again."""
        with self._ref_lock:
            state = self.futures.get(key)
            if state is None:
                return False
            if state.status != "cancelled":
                return True
            state.status, state.exception, state.workers = "pending", None, []
            if state._event is not None:
                self._call_on_loop(state._event.clear)
            return False

    def _submit_graph(self, graph: dict, keys: list, **options: Any) -> None:
        msg = {"op": "update-graph", "graph": self._graph_for_wire(graph), "keys": keys}
        msg.update({k: v for k, v in options.items() if v not in (None, False, 0)})
        self._send(msg)

    @staticmethod
    def _graph_for_wire(graph: dict) -> Any:
        """Large graphs travel in the compact wire form (``graph_wire``): a record per layer."""
        if len(graph) < _WIRE_MIN_TASKS:
            return graph  # a few tasks: plain nodes are cheaper than templates
        try:
            return graph_wire.encode(graph)
        except SerializationError:
            # Sent as it is: an in-process scheduler may not need to pickle it at all,
            # and when it must, _on_unserializable names the key that failed.
            return graph

    # ------------------------------------------------------------------ collections
    def compute(self, collections: Any, sync: bool = False, optimize_graph: bool = True, **options: Any) -> Any:
        """Futures of the computed values of one collection or a list of them.

        ``sync=True`` returns the values instead (``gather`` of the futures).
        Items that are not collections are returned as they are.
        """
        single = not isinstance(collections, (list, tuple))
        items = [collections] if single else list(collections)
        positions = [i for i, item in enumerate(items) if is_collection(item)]
        final_keys: list = []
        graph: dict = {}
        if positions:
            # One graph for all of them, optimized together, so work they share runs once.
            colls = [items[i] for i in positions]
            graph, keys = collections_to_graph(colls, optimize_graph)
            graph = graph_with_futures_resolved(self, graph)
            for coll, coll_keys in zip(colls, keys):
                func, extra = coll.__shoal_postcompute__()
                final = f"finalize-{tokenize(coll_keys, func, extra)}"
                graph[final] = Task(final, func, _refs(coll_keys), *extra)
                final_keys.append(final)
        futures = [Future(k, self) for k in final_keys]
        if final_keys:
            self._submit_graph(graph, final_keys, **options)
        out = list(items)
        for i, future in zip(positions, futures):
            out[i] = future
        if sync:
            out = self.gather(out)
        return out[0] if single else out

    def persist(self, collections: Any, optimize_graph: bool = True, **options: Any) -> Any:
        """Start computing collections; equivalent collections backed by futures of their parts."""
        single = not isinstance(collections, (list, tuple))
        items = [collections] if single else list(collections)
        colls = [c for c in items if is_collection(c)]
        for coll in colls:
            if getattr(type(coll), "__shoal_postpersist__", None) is None:
                raise TypeError(f"{type(coll).__name__} cannot be persisted: it has no __shoal_postpersist__")
        if not colls:
            return collections
        graph, keys = collections_to_graph(colls, optimize_graph)
        flat = list(dict.fromkeys(flatten_keys(keys)))
        futures = {k: Future(k, self) for k in flat}
        self._submit_graph(graph_with_futures_resolved(self, graph), flat, **options)
        out = []
        for item in items:
            if is_collection(item):
                rebuild, extra = item.__shoal_postpersist__()
                item = rebuild(futures, *extra)
            out.append(item)
        return out[0] if single else out

    def get(self, graph: Any, keys: Any, **kwargs: Any) -> Any:
        """Compute ``keys`` (a key or nested list of keys) of ``graph`` on the cluster: the
        ``get`` function behind ``scheduler="distributed"``."""
        if self.asynchronous:
            raise RuntimeError(
                "An asynchronous Client cannot compute synchronously (x.compute() or get); "
                "use `await client.compute(x)` instead."
            )
        flat = list(dict.fromkeys(flatten_keys(keys)))
        graph = graph_with_futures_resolved(self, cull(ensure_graph(graph), flat))
        futures = [Future(k, self) for k in flat]
        try:
            self._submit_graph(graph, flat)
            values = self._sync(self._gather_keys, flat)
            return pack_results(keys, values)
        finally:
            for future in futures:
                future.release()

    # ------------------------------------------------------------------ results
    def gather(self, futures: Any, errors: str = "raise") -> Any:
        """The values of ``futures`` (a future, or lists/tuples/dicts of them), same structure.

        ``errors="raise"`` re-raises the first task exception; ``"skip"`` leaves
        failed futures out of lists.
        """
        if errors not in ("raise", "skip"):
            raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
        keys = [f.key for f in _iter_futures(futures)]

        async def run():
            values = await self._gather_keys(keys, errors)
            return _repack(futures, values, errors)

        return self._sync(run)

    async def _gather_keys(self, keys: list, errors: str = "raise") -> dict:
        keys = list(dict.fromkeys(keys))
        states = {}
        for key in keys:
            state = self.futures.get(key)
            if state is None:
                raise ValueError(f"Future {key!r} was released; keep a reference to it until it is gathered.")
            states[key] = state
        results: dict = {}
        for _ in range(_MAX_GATHER_ROUNDS):
            todo = [k for k in keys if k not in results]
            for key in todo:
                await states[key].wait()
            by_worker: dict = {}
            for key in todo:
                state = states[key]
                if state.status in ("error", "cancelled"):
                    if errors == "raise":
                        raise state.exception
                    continue
                if not state.workers:
                    state.lose()
                    continue
                by_worker.setdefault(random.choice(state.workers), []).append(key)
            if by_worker:
                replies = await asyncio.gather(
                    *(self.pool.request(w, {"op": "get-data", "keys": ks}) for w, ks in by_worker.items()),
                    return_exceptions=True,
                )
                for (worker, ks), reply in zip(by_worker.items(), replies):
                    if isinstance(reply, BaseException):
                        self.pool.forget(worker)
                        data = {}
                    elif "error" in reply:
                        raise reply["error"]  # e.g. a result that cannot be serialized
                    else:
                        data = reply["data"]
                    results.update(data)
                    for key in ks:
                        if key not in data:
                            states[key].lose()
            lost = [k for k in keys if k not in results and states[k].status == "lost"]
            if lost:
                # The data went with a worker: ask where it is now. Empty means
                # it is being recomputed; "key-in-memory" will come.
                for key, holders in (await self._request({"op": "who-has", "keys": lost})).items():
                    if holders and states[key].status == "lost":
                        states[key].finish(workers=holders)
            remaining = [k for k in keys if k not in results and not (errors == "skip" and states[k].status in ("error", "cancelled"))]
            if not remaining:
                return results
        raise RuntimeError(
            f"Could not fetch {remaining[:5]!r} after {_MAX_GATHER_ROUNDS} attempts: the workers holding "
            "them kept disappearing. Check the worker logs."
        )

    def scatter(self, data: Any, workers: Any = None, broadcast: bool = False, hash: bool = True,
                timeout: float = 30.0) -> Any:
        """Send local data to the cluster: futures with the same structure (a value, list or dict).

        The values go straight from this client to the workers, never
        through the scheduler: each to the least-loaded worker in turn (of
        ``workers``, an address or list of addresses, when given), or with
        ``broadcast=True`` to every one of them. The scheduler then learns
        where the keys are. ``hash=True`` names values by their content, so
        scattering equal data twice reuses the first copy.
        """
        if isinstance(data, dict):
            items = list(data.items())
        elif isinstance(data, (list, tuple)):
            items = [(None, v) for v in data]
        else:
            items = [(None, data)]
        keys = []
        to_send: dict = {}
        for name, value in items:
            if name is not None:
                key = name
            else:
                key = f"{type(value).__name__}-{tokenize(value) if hash else uuid.uuid4().hex}"
            keys.append(key)
            if key not in to_send and not self._already_submitted(key):
                to_send[key] = value
        # Futures first: they hold the keys before the scheduler hears of them.
        futures = [Future(k, self) for k in keys]
        if isinstance(workers, str):
            workers = [workers]

        def structured() -> Any:
            if isinstance(data, dict):
                return dict(zip(data, futures))
            if isinstance(data, (list, tuple)):
                return type(data)(futures)
            return futures[0]

        async def run():
            if to_send:
                await asyncio.wait_for(self._scatter_to_workers(to_send, workers, broadcast), timeout)
            held = list(dict.fromkeys(k for k in keys if k not in to_send))
            if broadcast and held:  # already on the cluster: copy it to every worker from there
                await asyncio.wait_for(asyncio.gather(*(self.futures[k].wait() for k in held)), timeout)
                await self._request({"op": "replicate", "keys": held, "workers": workers, "timeout": timeout})
            return structured()

        return self._sync(run)

    async def _scatter_to_workers(self, data: dict, workers: list | None, broadcast: bool) -> None:
        """Push ``data`` to workers (``update-data``), then tell the scheduler who holds what."""
        info = await self._request({"op": "scheduler-info"})
        candidates = {a: w for a, w in info["workers"].items() if w.get("status", "running") == "running"}
        if workers is not None:
            unknown = [w for w in workers if w not in info["workers"]]
            if unknown:
                raise ValueError(f"scatter(workers=...): {unknown} are not workers of the scheduler "
                                 f"{self.scheduler_address}; its workers are {sorted(info['workers'])}.")
            candidates = {a: w for a, w in candidates.items() if a in workers}
        if not candidates:
            raise RuntimeError(f"scatter: no running worker to send data to (scheduler {self.scheduler_address}); "
                               "start workers or wait for them with client.wait_for_workers(n).")
        # Least-loaded first (bytes held, then tasks running), then round-robin over them.
        order = sorted(candidates, key=lambda a: (candidates[a].get("nbytes", 0), candidates[a]["processing"]))
        if broadcast:
            per_worker = {a: dict(data) for a in order}
        else:
            per_worker = {}
            for i, (key, value) in enumerate(data.items()):
                per_worker.setdefault(order[i % len(order)], {})[key] = value
        addresses = list(per_worker)
        replies = await asyncio.gather(
            *(self.pool.request(a, {"op": "update-data", "data": per_worker[a]}) for a in addresses),
            return_exceptions=True,
        )
        who_has: dict = {}
        nbytes: dict = {}
        types: dict = {}
        for address, reply in zip(addresses, replies):
            if isinstance(reply, BaseException):
                self.pool.forget(address)
                raise RuntimeError(f"scatter: could not send data to worker {address}: {reply}") from reply
            if "error" in reply:
                raise reply["error"]
            report = reply["result"]
            for key in report["keys"]:
                who_has.setdefault(key, []).append(address)
            nbytes.update(report["nbytes"])
            types.update(report.get("types", {}))
        unplaced = [k for k in data if k not in who_has]
        if unplaced:
            raise RuntimeError(f"scatter: no worker accepted {unplaced[:5]!r}; a task of that name is "
                               "running there. Scatter under another key (hash=False or a dict).")
        self._send_on_loop({"op": "update-data", "who_has": who_has, "nbytes": nbytes, "types": types})

    def restart(self, timeout: float = 30.0) -> int:
        """Cancel every future of every client and restart every worker; returns once all
        have registered again (within ``timeout`` s), with the number of workers.

        A worker under a nanny (the default for ``shoal-worker`` and
        ``LocalCluster(processes=True)``) is a fresh process afterwards: its
        memory, imported modules and threads are gone. A worker without one
        drops all its data and registers again in the same process.
        """
        return self._sync(self._request, {"op": "restart", "timeout": timeout})

    def retire_workers(self, workers: Any = None, n: int | None = None, close: bool = True,
                       timeout: float = 60.0) -> Any:
        """Retire workers gracefully and return their addresses.

        ``workers``: addresses or names; else ``n`` of them (idle ones holding
        the least data first); else every idle worker but one. They get no
        new tasks, their queued tasks move, and the results only they hold
        are copied to the remaining workers before they leave, so every
        future stays valid. ``close=False`` leaves them registered (as
        ``closing``) for whoever started them to stop.
        """
        if isinstance(workers, str):
            workers = [workers]
        msg = {"op": "retire-workers", "workers": None if workers is None else list(workers), "n": n,
               "close": close, "timeout": timeout}
        return self._sync(self._request, msg)

    def replicate(self, futures: Any, workers: list | None = None, timeout: float = 30.0) -> Any:
        """Copy the data of ``futures`` to every worker (or ``workers``); waits until they hold it."""
        futures = list(_iter_futures(futures))

        async def run():
            await asyncio.wait_for(asyncio.gather(*(f._state.wait() for f in futures)), timeout)
            for f in futures:
                if f._state.status != "finished":
                    raise f._state.exception or RuntimeError(f"Future {f.key!r} is {f._state.status}")
            await self._request({"op": "replicate", "keys": [f.key for f in futures], "workers": workers,
                                 "timeout": timeout})

        return self._sync(run)

    def cancel(self, futures: Any, force: bool = False) -> None:
        """Cancel ``futures``: stop their tasks and free their data unless still needed."""
        futures = list(_iter_futures(futures))
        keys = [f.key for f in futures]

        def cancel_now() -> None:
            for f in futures:
                if not f._state.done():
                    f._state.cancel()
            self._send_on_loop({"op": "cancel-keys", "keys": keys, "force": force})

        self._call_on_loop(cancel_now)

    def retry(self, futures: Any) -> None:
        """Run erred futures again."""
        futures = list(_iter_futures(futures))

        def retry_now() -> None:
            for f in futures:
                if f._state.status == "error":
                    f._state.status = "pending"
                    f._state.exception = f._state.traceback = None
                    if f._state._event is not None:
                        f._state._event.clear()
            self._send_on_loop({"op": "retry", "keys": [f.key for f in futures]})

        self._call_on_loop(retry_now)

    # ------------------------------------------------------------------ published datasets
    def publish_dataset(self, *args: Any, name: Any = None, override: bool = False, **datasets: Any) -> Any:
        """Keep futures (or lists/dicts of them) on the scheduler under a name, for any client.

        ``publish_dataset(futures, name="x")`` or ``publish_dataset(x=futures)``.
        The data stays until ``unpublish_dataset``, also after this client closes.
        """
        if args:
            if len(args) != 1 or name is None:
                raise TypeError("publish_dataset(value, name=...) takes one value and a name")
            datasets[name] = args[0]

        async def publish_all():
            for dataset_name, value in datasets.items():
                keys = [f.key for f in _iter_futures(value)]
                await self._request({"op": "publish-dataset", "name": dataset_name, "keys": keys,
                                     "value": _futures_to_placeholders(value), "override": override})

        return self._sync(publish_all)

    def get_dataset(self, name: Any) -> Any:
        """The published dataset ``name``, with fresh futures of this client."""
        async def get():
            dataset = await self._request({"op": "get-dataset", "name": name})
            value = _placeholders_to_futures(dataset["value"], self)  # before the scheduler answers
            # Say we want the keys too, so they survive an unpublish while we hold them.
            self.stream.send({"op": "update-graph", "graph": {}, "keys": dataset["keys"]})
            return value

        return self._sync(get)

    def unpublish_dataset(self, name: Any) -> None:
        """Forget the dataset ``name``; its data is freed unless someone holds futures of it."""
        return self._sync(self._request, {"op": "unpublish-dataset", "name": name})

    def list_datasets(self) -> list:
        """The names of the published datasets."""
        return self._sync(self._request, {"op": "list-datasets"})

    # ------------------------------------------------------------------ cluster queries
    def who_has(self, futures: Any = None) -> dict:
        """``{key: [worker addresses]}`` for ``futures`` (default: every key the scheduler has)."""
        keys = None if futures is None else [f.key for f in _iter_futures(futures)]
        return self._sync(self._request, {"op": "who-has", "keys": keys})

    def has_what(self) -> dict:
        """``{worker address: [keys it holds]}``."""
        return self._sync(self._request, {"op": "has-what"})

    def nthreads(self) -> dict:
        """``{worker address: number of threads}``."""
        return self._sync(self._request, {"op": "nthreads"})

    @property
    def dashboard_link(self) -> str | None:
        """The URL of the scheduler's ``/status`` dashboard page (None when it serves none)."""
        return self.scheduler_info().get("dashboard_link")

    def performance_report(self, filename: str = "shoal-report.html", title: str = "shoal performance report"):
        """A context manager writing one standalone HTML file (task stream, time per
        task group, memory per worker over time) about what ran inside the block::

            with client.performance_report("report.html"):
                x.sum().compute()
        """
        from .services import service  # the report lives in shoal.dashboard, a layer above this one

        return service("performance-report")(self, filename, title)

    def scheduler_info(self) -> dict:
        """The scheduler's address, workers (threads, status, keys held) and task counts."""
        return self._sync(self._request, {"op": "scheduler-info"})

    def run_on_scheduler(self, function: Callable, *args: Any, **kwargs: Any) -> Any:
        """Run ``function(*args, **kwargs)`` in the scheduler's process; its result."""
        return self._sync(self._request, {"op": "run-on-scheduler", "function": function, "args": args,
                                          "kwargs": kwargs})

    def run(self, function: Callable, *args: Any, workers: list | None = None, wait: bool = True,
            **kwargs: Any) -> dict:
        """Run ``function(*args, **kwargs)`` on every worker (or ``workers``); ``{address: result}``."""
        async def run_all():
            addresses = workers if workers is not None else list(await self._request({"op": "nthreads"}))
            msg = {"op": "run", "function": function, "args": args, "kwargs": kwargs, "wait": wait}
            replies = await asyncio.gather(*(self.pool.request(a, msg) for a in addresses))
            out = {}
            for address, reply in zip(addresses, replies):
                if "error" in reply:
                    raise reply["error"]
                out[address] = reply["result"]
            return out

        return self._sync(run_all)

    def wait_for_workers(self, n_workers: int, timeout: float = 30.0) -> None:
        """Block until at least ``n_workers`` workers are registered (``TimeoutError`` after ``timeout`` s)."""
        async def poll():
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while True:
                n = len(await self._request({"op": "nthreads"}))
                if n >= n_workers:
                    return
                if loop.time() > deadline:
                    raise TimeoutError(f"Only {n} of {n_workers} workers registered within {timeout} s.")
                await asyncio.sleep(0.05)

        return self._sync(poll)
