"""``ServerLifecycle``: what ``Scheduler``, ``Worker`` and ``Nanny`` share around ``start`` and ``close``.

Each of the three servers is started with ``await server`` (or ``await
server.start()``, or ``async with server:``, which also closes it), is
reached at ``server.address`` once its listener is up, runs its background
coroutines as tasks it keeps (a task nobody references may be garbage
collected mid-run, and ``close`` must be able to cancel them), and lets
callers ``await server.finished()`` until it has closed.

What it needs from the host class: the class attribute ``server_kind``
(``"scheduler"``, ``"worker"``, ``"nanny"``: it names the server in errors);
the attributes ``listener`` (None until started), ``status``,
``_closed_event`` (an ``asyncio.Event`` made by ``start``, None before) and
``_background_tasks`` (a set); and the coroutine methods ``start`` (returns
the server) and ``close``.

>>> import asyncio
>>> class Sleeper(ServerLifecycle):
...     server_kind = "sleeper"
...     def __init__(self):
...         self.listener, self.status, self._closed_event, self._background_tasks = None, "created", None, set()
...     async def start(self):
...         self._closed_event = asyncio.Event()
...         self.status = "running"
...         self._spawn(asyncio.sleep(3600))
...         return self
...     async def close(self):
...         self._cancel_background_tasks()
...         self._mark_closed()
>>> Sleeper().address
Traceback (most recent call last):
RuntimeError: The sleeper has not been started; await sleeper.start() first.
>>> async def demo():
...     async with Sleeper() as server:
...         running = len(server._background_tasks)
...     await server.finished()  # returns at once: it has closed
...     return running, server.status
>>> asyncio.run(demo())
(1, 'closed')
"""

from __future__ import annotations

import asyncio
from typing import Any, Coroutine, Self

__all__ = ["ServerLifecycle"]


class ServerLifecycle:
    """Starting, awaiting, background tasks and closing, for a server with one listener."""

    server_kind = "server"

    @property
    def address(self) -> str:
        """Where peers and clients reach this server (its listener's contact address)."""
        if self.listener is None:
            kind = self.server_kind
            raise RuntimeError(f"The {kind} has not been started; await {kind}.start() first.")
        return self.listener.contact_address

    def __await__(self):
        return self.start().__await__()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def finished(self) -> None:
        """Wait until the server is closed: asked to, or on its own (a worker whose scheduler went
        away, a nanny that gave up on its worker)."""
        await self._closed_event.wait()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` as a background task of this server (on the running loop), kept until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background_tasks.add(task)
        task.add_done_callback(self._background_tasks.discard)

    def _cancel_background_tasks(self) -> None:
        """Cancel the background tasks, except the one calling: a ``close`` that runs as one of
        them (``_spawn(self.close())``) must get to its end."""
        me = asyncio.current_task()
        for task in list(self._background_tasks):
            if task is not me:
                task.cancel()

    def _mark_closed(self) -> None:
        """The last step of ``close``: the status says so and ``finished()`` returns."""
        self.status = "closed"
        if self._closed_event is not None:
            self._closed_event.set()
