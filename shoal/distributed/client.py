"""``Client``: the user's connection to a shoal cluster.

>>> from shoal.distributed import Client, LocalCluster
>>> with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster, Client(cluster) as client:
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

This module holds the connection: starting and closing, the stream to the
scheduler and the messages it brings, requests, and the reference counts
that release keys no future holds any more. The rest of ``Client`` comes
from mixins, each in a module of its own: ``client_submit.py`` (``submit``,
``map``, ``compute``, ``persist``, ``get``, ``cancel``, ``retry``),
``client_data.py`` (``gather``, ``scatter``, ``replicate``),
``client_admin.py`` (``restart``, ``retire_workers``, ``run``, ``who_has``
and other cluster queries) and ``client_datasets.py`` (published datasets).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import uuid
from typing import Any, Callable

from shoal import config
from shoal.schedulers import registry

from .batched import BatchedStream, iter_batch
from . import graph_wire
from .client_admin import ClientAdminMixin
from .client_data import ClientDataMixin
from .client_datasets import ClientDatasetsMixin
from .client_submit import ClientSubmitMixin
from .comm import CommClosedError, ConnectError, SerializationError, connect
# Future, wait and as_completed are re-exported (see __all__): users import them from here too.
from .future import Future, FutureState, as_completed, wait
from .loop_thread import LoopThread
from .rpc import ConnectionPool
from .security import as_security

logger = logging.getLogger("shoal.distributed.client")

__all__ = ["Client", "Future", "wait", "as_completed", "default_client"]

_current_clients: list = []  # open clients, the newest last


def default_client() -> "Client":
    """The most recently opened client that is still open."""
    if not _current_clients:
        raise ValueError("No shoal.distributed Client is open; create one with Client(...) first.")
    return _current_clients[-1]


class Client(ClientSubmitMixin, ClientDataMixin, ClientAdminMixin, ClientDatasetsMixin):
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
        self._dashboard_link: str | None = None  # asked of the scheduler in _start
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
            if getattr(address, "status", None) in ("closing", "closed"):  # else: a connect timeout later
                raise RuntimeError(f"Client(cluster): {address!r} is closed; start a new cluster.")
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
        # Close the batch of releases: it goes before ``msg``; a release made after
        # ``msg`` must not ride in it, or the scheduler could forget a key that
        # ``msg``'s graph still depends on.
        with self._ref_lock:
            batch, self._pending_releases = self._pending_releases, []
        self._call_on_loop(self._send_after_releases, batch, msg)

    def _send_after_releases(self, batch: list, msg: dict) -> None:
        # Its flush is queued already, but on an asynchronous client _call_on_loop
        # runs at once, ahead of it: then the scheduler heard "want key k" before
        # "release k" for a key released and submitted again (two awaits of the same
        # submit), dropped k, and the new future never finished. Flushed here first,
        # the queued flush finds the batch empty.
        self._flush_releases(batch)
        self._send_on_loop(msg)

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
        info = await asyncio.wait_for(self._request({"op": "scheduler-info"}), self.timeout)
        self._dashboard_link = info.get("dashboard_link")  # for the property, which cannot await
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
