"""``BatchedStream``: ordered, batched sending of small messages over one comm.

Scheduler, workers and clients exchange many small messages (one
``task-finished`` per task). Writing each on its own costs a frame header,
a serialization and a syscall per message; ``send`` instead appends to a
buffer and one writer task writes everything buffered so far as a single
list message. Messages stay in ``send`` order. The reader side treats a
list as a batch (``iter_batch``).

>>> list(iter_batch([{"op": "a"}, {"op": "b"}])), list(iter_batch({"op": "c"}))
([{'op': 'a'}, {'op': 'b'}], [{'op': 'c'}])
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from .comm import CommClosedError, MessageTooLargeError, SerializationError

logger = logging.getLogger("shoal.distributed")


def iter_batch(msg: Any) -> list:
    """The messages of what one ``comm.read()`` returned: a batch list or one message."""
    return msg if type(msg) is list else [msg]


class BatchedStream:
    """Send messages over ``comm`` in order, batching those sent close together.

    ``on_unserializable(msg, error)`` is called for a message that cannot be
    serialized (the others of its batch are still sent), so the sender can
    report it to whoever is waiting on it instead of losing it silently.
    Must be created and used on the comm's event loop.
    """

    def __init__(self, comm, on_unserializable: Callable[[dict, Exception], None] | None = None):
        self.comm = comm
        self.on_unserializable = on_unserializable
        self._buffer: list = []
        self._wake = asyncio.Event()
        self._closed = False
        self.n_messages = 0
        self.n_batches = 0
        self._task = asyncio.get_running_loop().create_task(self._run())

    def send(self, msg: dict) -> None:
        if self._closed:
            raise CommClosedError(f"Stream to {self.comm.peer_address} is closed")
        self._buffer.append(msg)
        self._wake.set()

    def send_many(self, msgs: list) -> None:
        if msgs:
            if self._closed:
                raise CommClosedError(f"Stream to {self.comm.peer_address} is closed")
            self._buffer.extend(msgs)
            self._wake.set()

    @property
    def closed(self) -> bool:
        return self._closed or self.comm.closed()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._buffer:
                if self._closed:
                    return
                continue
            batch, self._buffer = self._buffer, []
            try:
                await self.comm.write(batch)
            except (SerializationError, MessageTooLargeError):
                # Nothing was sent: send the others, report the culprit(s).
                await self._write_one_by_one(batch)
            except (CommClosedError, OSError):
                self._closed = True
                return
            except Exception:  # keep the stream alive; losing it would hang every waiter
                logger.exception("Dropped %d messages to %s", len(batch), self.comm.peer_address)
            self.n_messages += len(batch)
            self.n_batches += 1
            if self._closed and not self._buffer:
                return

    async def _write_one_by_one(self, batch: list) -> None:
        for msg in batch:
            try:
                await self.comm.write([msg])
            except (CommClosedError, OSError):
                self._closed = True
                return
            except (SerializationError, MessageTooLargeError) as error:
                logger.warning("Could not send %s to %s: %s", msg.get("op"), self.comm.peer_address, error)
                if self.on_unserializable is not None:
                    self.on_unserializable(msg, error)

    async def close(self, timeout: float = 5.0) -> None:
        """Send what is buffered (bounded by ``timeout``), then close the comm."""
        self._closed = True
        self._wake.set()
        if not self._task.done():
            # asyncio.wait neither raises the writer's error nor its cancellation (abort()).
            await asyncio.wait({self._task}, timeout=timeout)
            if not self._task.done():
                self._task.cancel()
        if not self.comm.closed():
            await self.comm.close()

    def abort(self) -> None:
        self._closed = True
        self._task.cancel()
        self.comm.abort()
