"""Request/reply over comms: a pool of connections per peer, and error shipping.

Workers answer ``get-data`` from peers and clients, the scheduler answers
queries from clients; each request is one message and its reply one
message. ``ConnectionPool.request`` reuses idle connections so a round trip
costs no connect or handshake.

``portable_exception`` makes sure an exception raised in a task can cross
the wire: some exceptions cannot be pickled, or do not unpickle (their
``__init__`` takes other arguments than ``args``); those are replaced by a
``RemoteTaskError`` that keeps the original type's name and message.

>>> class Odd(Exception):
...     def __init__(self, a, b):
...         super().__init__(f"{a}/{b}")
>>> err = portable_exception(Odd(1, 2))
>>> type(err).__name__, str(err)
('RemoteTaskError', 'Odd: 1/2')
>>> type(portable_exception(ValueError("bad"))).__name__
'ValueError'
"""

from __future__ import annotations

import asyncio
import logging
import pickle
from typing import Any

import cloudpickle

from .comm import CommClosedError, connect

logger = logging.getLogger("shoal.distributed")


class RemoteTaskError(Exception):
    """Stands for an exception of a task that could not be sent back as itself."""


def request_problem(msg: Any) -> str | None:
    """What is wrong with ``msg`` as a request (None if it is a dict with a string ``op``).

    >>> request_problem({"op": "identity"}) is None, request_problem([1, 2])
    (True, "expected a message dict with a string 'op', got a list")
    >>> request_problem({"op": 7})
    "expected a message dict with a string 'op', got op=7 (int)"
    """
    if not isinstance(msg, dict):
        return f"expected a message dict with a string 'op', got a {type(msg).__name__}"
    op = msg.get("op")
    if type(op) is not str:
        return f"expected a message dict with a string 'op', got op={op!r:.60} ({type(op).__name__})"
    return None


def portable_exception(exc: BaseException) -> BaseException:
    """``exc`` if it survives a pickle round trip, else a ``RemoteTaskError`` naming it."""
    try:
        back = pickle.loads(cloudpickle.dumps(exc))
        if type(back) is type(exc):
            return exc
    except Exception:
        pass
    return RemoteTaskError(f"{type(exc).__name__}: {exc}")


class ConnectionPool:
    """Reusable comms to peers, keyed by address (use on one event loop)."""

    def __init__(self, connect_timeout: float = 10.0, connection_args: dict | None = None):
        self.connect_timeout = connect_timeout
        self.connection_args = dict(connection_args or {})  # e.g. TLS context, from Security.connection_args
        self._idle: dict = {}  # address -> [Comm]
        self._busy: dict = {}  # address -> {Comm} waiting for a reply
        self._forgotten: dict = {}  # address -> how many times forget() was called
        self._closed = False

    async def request(self, address: str, msg: Any, timeout: float | None = None) -> Any:
        """Send ``msg`` to ``address`` and return its reply.

        A pooled comm the peer closed meanwhile is retried once on a fresh
        connection; any other failure propagates (``ConnectError`` naming the
        address, ``CommClosedError``).
        """
        idle = self._idle.get(address)
        comm = idle.pop() if idle else None
        if comm is not None and comm.closed():
            comm = None
        if comm is not None:
            forgotten = self._forgotten.get(address, 0)
            try:
                return await self._exchange(address, comm, msg, timeout)
            except (CommClosedError, OSError):
                if self._forgotten.get(address, 0) != forgotten:
                    raise  # aborted by forget(): the peer is gone, do not dial it again
                # went stale while idle: one fresh attempt below
        comm = await connect(address, timeout=self.connect_timeout, **self.connection_args)
        return await self._exchange(address, comm, msg, timeout)

    async def _exchange(self, address: str, comm, msg: Any, timeout: float | None) -> Any:
        busy = self._busy.setdefault(address, set())
        busy.add(comm)
        try:
            await comm.write(msg)
            reply = await (asyncio.wait_for(comm.read(), timeout) if timeout else comm.read())
        except BaseException:
            comm.abort()
            raise
        finally:
            busy.discard(comm)
            if not busy and self._busy.get(address) is busy:
                del self._busy[address]
        if self._closed:
            comm.abort()
        else:
            self._idle.setdefault(address, []).append(comm)
        return reply

    def forget(self, address: str) -> None:
        """Drop the comms to ``address`` (a peer known to be gone), also those waiting
        for a reply: their requests fail now instead of at their timeout."""
        self._forgotten[address] = self._forgotten.get(address, 0) + 1
        for comm in [*self._idle.pop(address, ()), *self._busy.pop(address, ())]:
            comm.abort()

    def close(self) -> None:
        self._closed = True
        for address in list(self._idle):
            self.forget(address)
