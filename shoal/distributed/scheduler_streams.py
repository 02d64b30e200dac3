"""The ``Scheduler``'s connections: who is calling, and their long-lived streams.

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

``SchedulerStreamsMixin`` reads those messages, hands them to
``SchedulerState`` and sends what it returns. ``Scheduler`` (``scheduler.py``)
inherits it; the listener calls its ``_handle_comm``.

What it needs from the host class (``Scheduler``): the attributes ``state``,
``streams`` and ``pool``, and the property ``address``; the methods ``send``,
``_spawn``, ``_plugins_heartbeat`` and ``_plugins_worker_report``,
``handle_query`` (``SchedulerQueriesMixin``) and ``_replicas_elsewhere``
(``WorkerRetirementMixin``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
from typing import Any, Iterator

from . import graph_wire
from .batched import BatchedStream, iter_batch
from .comm import CommClosedError, UnknownOperationError
from .rpc import portable_exception, request_problem
from .state import UnknownWorkerError

# The scheduler's logger: these lines are the scheduler's, wherever the code sits.
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


def _well_formed_requests(batch: Any) -> Iterator[dict]:
    """The messages of one batch read from a worker's or client's stream, in order, each a
    dict with a string ``op``; a malformed one raises ``ValueError`` when it is reached, so
    the messages before it have been handled (and what they caused can still be sent).

    >>> [m["op"] for m in _well_formed_requests([{"op": "heartbeat"}, {"op": "unregister"}])]
    ['heartbeat', 'unregister']
    >>> handled = []
    >>> for m in _well_formed_requests([{"op": "heartbeat"}, ["not", "a", "dict"]]):
    ...     handled.append(m["op"])
    Traceback (most recent call last):
    ValueError: expected a message dict with a string 'op', got a list
    >>> handled
    ['heartbeat']
    """
    for msg in iter_batch(batch):
        problem = request_problem(msg)
        if problem:
            raise ValueError(problem)
        yield msg


class SchedulerStreamsMixin:
    """Serving one connection: a worker's stream, a client's stream, or one query at a time."""

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
                for m in _well_formed_requests(batch):
                    op = m["op"]
                    if op == "heartbeat":
                        state.heartbeat_worker(address, metrics=m.get("metrics"))
                        self._plugins_heartbeat(address, m.get("metrics"))
                    elif op == "unregister":
                        reason = "worker closed"
                        self.send(out)  # what the batch's reports before it caused (a result, an error)
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
                # A worker that said it is closing did not die of its tasks: they are not suspected.
                self.send(state.remove_worker(address, reason=reason, expected=reason == "worker closed"))
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
        stream.on_unserializable = functools.partial(_reply_unsendable, stream)
        state = self.state
        out: list = []
        try:
            while True:
                batch = await comm.read()
                out: list = []
                for m in _well_formed_requests(batch):
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
                        self.send(out)  # what the batch's requests before it caused (e.g. freeing data)
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


def _reply_unsendable(stream: BatchedStream, msg: dict, error: Exception) -> None:
    """A reply that cannot be serialized (e.g. ``run_on_scheduler``'s result) goes back as
    its error: dropped, it left the client's request waiting forever."""
    if msg.get("op") == "reply" and "error" not in msg:
        stream.send({"op": "reply", "id": msg.get("id"), "error": portable_exception(error)})
