"""In-process comms: ``inproc://NAME``, two queues between two ``Comm`` ends.

For tests and for clusters that live in one process: messages are handed
over as the same Python objects (no copy, no serialization), unless
``distributed.comm.inproc.serialize`` is on, in which case each message goes
through ``dumps``/``loads`` like on TCP (useful to catch unserializable values
in fast tests).  The ends may live on different event loops (threads): a
write wakes the reader on the reader's loop.

Semantics match TCP: a handshake on connect, ``CommClosedError`` on a closed
comm, and after one end closes the other reads the messages already sent,
then ``CommClosedError``.

>>> new_address().startswith("inproc://")
True
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
from collections import deque
from typing import Any

from . import settings
from .addressing import unparse_address
from .core import Backend, Comm, Handler, Listener, register_backend
from .errors import CommClosedError
from .serialize import dumps, frames_nbytes, loads

__all__ = ["InprocComm", "InprocListener", "InprocBackend", "new_address"]

_CLOSED = object()  # the sentinel that tells a reader its peer closed

_listeners: dict[str, InprocListener] = {}
_listeners_lock = threading.Lock()
_counter = itertools.count(1)


def new_address() -> str:
    """A fresh, unused ``inproc://`` address of this process."""
    return unparse_address("inproc", f"{os.getpid()}/{next(_counter)}")


class _Mailbox:
    """A thread-safe queue whose ``get`` awaits on the reader's own event loop."""

    def __init__(self) -> None:
        self._items: deque = deque()
        self._waiter: asyncio.Future | None = None
        self._lock = threading.Lock()

    def put(self, item: Any) -> None:
        with self._lock:
            self._items.append(item)
            waiter, self._waiter = self._waiter, None
        if waiter is None:
            return
        loop = waiter.get_loop()
        try:
            same_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            same_loop = False
        if same_loop:
            _wake(waiter)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(_wake, waiter)

    async def get(self) -> Any:
        while True:
            with self._lock:
                if self._items:
                    return self._items.popleft()
                waiter = self._waiter = asyncio.get_running_loop().create_future()
            await waiter


def _wake(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(None)


class _Connection:
    """What the two ends share: whether either side has closed."""

    def __init__(self) -> None:
        self.closed = False


class InprocComm(Comm):
    """One end of an in-process connection."""

    def __init__(self, local_address: str, peer_address: str, inbox: _Mailbox, outbox: _Mailbox, connection: _Connection) -> None:
        super().__init__(local_address, peer_address)
        self._inbox = inbox
        self._outbox = outbox
        self._connection = connection
        self._closed = False  # this end has closed or read the peer's close
        self._serialize = settings.inproc_serializes()

    def closed(self) -> bool:
        return self._closed or self._connection.closed

    async def read(self) -> Any:
        if self._closed:
            raise CommClosedError(f"Connection {self._local_address} -> {self._peer_address} is closed (reading).")
        with self._sole_reader():
            item = await self._inbox.get()
        if item is _CLOSED:
            self._closed = True
            raise CommClosedError(f"Connection {self._local_address} -> {self._peer_address} was closed (reading).")
        return loads(item) if self._serialize else item

    async def write(self, msg: Any) -> int:
        if self.closed():
            raise CommClosedError(f"Connection {self._local_address} -> {self._peer_address} is closed (writing).")
        if self._serialize:
            frames = dumps(msg)
            # Frames point at the sender's buffers; copy so the reader owns its data, as on TCP.
            frames = [bytearray(f) for f in frames]
            self._outbox.put(frames)
            return frames_nbytes(frames)
        self._outbox.put(msg)
        return 0

    async def close(self) -> None:
        self.abort()

    def abort(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._connection.closed = True
        self._outbox.put(_CLOSED)  # the peer reads what was sent, then learns of the close
        self._inbox.put(_CLOSED)  # wakes our own pending read


class InprocListener(Listener):
    """Accepts in-process connections under one ``inproc://`` name."""

    def __init__(self, location: str, handler: Handler) -> None:
        super().__init__(handler)
        self._address = unparse_address("inproc", location) if location else new_address()
        self._started = False

    @property
    def listen_address(self) -> str:
        return self._address

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        with _listeners_lock:
            if self._address in _listeners:
                raise OSError(f"Could not listen on {self._address}: another listener in this process uses it.")
            _listeners[self._address] = self
        self._started = True

    def _stop_accepting(self) -> None:
        with _listeners_lock:
            if _listeners.get(self._address) is self:
                del _listeners[self._address]
        self._started = False

    def _connect_from(self, client_address: str) -> InprocComm:
        """Make both ends of a new connection; the server end goes to the handler."""
        to_server, to_client, connection = _Mailbox(), _Mailbox(), _Connection()
        server_end = InprocComm(self._address, client_address, to_server, to_client, connection)
        client_end = InprocComm(client_address, self._address, to_client, to_server, connection)
        try:
            same_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            same_loop = False
        if same_loop:
            self._accept(server_end)
        elif self._loop is None or self._loop.is_closed():
            # Its event loop ended without stopping the listener: nobody will answer.
            self._stop_accepting()
            raise ConnectionRefusedError(f"The inproc listener at {self._address} is gone (its event loop closed).")
        else:
            self._loop.call_soon_threadsafe(self._accept, server_end)
        return client_end


class InprocBackend(Backend):
    async def connect(self, location: str, **_: Any) -> Comm:
        address = unparse_address("inproc", location)
        with _listeners_lock:
            listener = _listeners.get(address)
        if listener is None:
            raise ConnectionRefusedError(f"No inproc listener at {address} in this process.")
        return listener._connect_from(new_address())

    def get_listener(self, location: str, handler: Handler, **_: Any) -> Listener:
        return InprocListener(location, handler)


register_backend("inproc", InprocBackend())
