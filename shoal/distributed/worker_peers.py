"""A worker's peers: serving them data and requests, and gathering dependencies from them.

``WorkerPeersMixin`` answers requests on the worker's listener
(``get-data`` from peers and clients, ``update-data`` when a client
scatters, ``run``, ``identity`` and the ops extensions add to
``worker.handlers``), and carries out ``GatherDep`` instructions: one
``get-data`` request to a peer, its answer handed back to ``WorkerState``.
``Worker`` (``worker.py``) inherits it; the listener calls its
``_handle_peer``.

What it needs from the host class (``Worker``): the attributes ``state``,
``pool``, ``loop``, ``status``, ``events``, ``handlers``, ``name`` and
``nthreads``, and the property ``address``; the methods ``carry_out`` and
``_spawn``.
"""

from __future__ import annotations

import inspect
import logging
import os
import time

from .comm import SerializationError, UnknownOperationError, dumps
from .rpc import portable_exception, request_problem
from .spill import SpillStore
from .run_arguments import WORKER_PARAMETERS, with_server_argument
from .worker_threads import _running, _running_coroutine_worker

# The worker's logger: these lines are the worker's, wherever the code sits.
logger = logging.getLogger("shoal.distributed.worker")


class WorkerPeersMixin:
    """``handle_request`` and the gathering of dependencies of ``Worker``."""

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
            return await self._run_function(msg)
        if op == "identity":
            return {"op": "reply", "result": {"type": "Worker", "address": self.address, "name": self.name,
                                              "nthreads": self.nthreads, "pid": os.getpid()}}
        handler = self.handlers.get(op)
        if handler is not None:
            return await handler(msg)
        raise UnknownOperationError(f"Unknown request op {op!r} sent to worker {self.address}")

    async def _run_function(self, msg: dict) -> dict:
        """``Client.run``: ``function(*args, **kwargs)`` here, its result or error as the reply.

        A parameter named ``shoal_worker`` (or Dask's ``dask_worker``) is given
        this ``Worker``. With ``wait=False`` the reply goes at once and an error
        is only logged.
        """
        func, args = msg["function"], msg.get("args", ())
        kwargs = with_server_argument(func, dict(msg.get("kwargs") or {}), self, WORKER_PARAMETERS)
        if not msg.get("wait", True):
            self._spawn(self._run_in_background(func, args, kwargs))
            return {"op": "reply", "result": None}
        try:
            result = await self._call_for_run(func, args, kwargs)
        except Exception as error:
            return {"op": "reply", "error": portable_exception(error)}
        return {"op": "reply", "result": result}

    async def _call_for_run(self, func, args, kwargs):
        """An ``async def`` function is awaited on this worker's event loop (as in Dask: it
        may use the worker's asyncio objects, and must not block). Any other runs on a
        thread, so it may block; a coroutine it returns is then awaited here too."""
        if inspect.iscoroutinefunction(func):
            result = func(*args, **kwargs)
        else:
            result = await self.loop.run_in_executor(None, self._run_as_worker, func, args, kwargs)
        if inspect.isawaitable(result):
            token = _running_coroutine_worker.set(self)  # get_worker() inside it answers this worker
            try:
                result = await result
            finally:
                _running_coroutine_worker.reset(token)
        return result

    async def _run_in_background(self, func, args, kwargs) -> None:
        try:
            await self._call_for_run(func, args, kwargs)
        except Exception:
            logger.exception("Worker %s: %r, run with wait=False, failed", self.address, func)

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
