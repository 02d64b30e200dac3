"""One event loop in a background thread, shared by the synchronous Clients
and LocalClusters of a process.

Synchronous code calls ``LoopThread.run(coroutine_function, *args,
timeout=)``; the loop thread is started by the first user and stopped when
the last one releases it, so nothing is left running.

>>> import asyncio
>>> lt = LoopThread.acquire()
>>> async def answer():
...     await asyncio.sleep(0)
...     return 42
>>> lt.run(answer, timeout=5)
42
>>> LoopThread.release(lt)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Callable

__all__ = ["LoopThread"]


class LoopThread:
    _shared: "LoopThread | None" = None
    _users = 0
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.call_soon(started.set)
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="shoal-distributed-loop", daemon=True)
        self.thread.start()
        started.wait(10)

    @classmethod
    def acquire(cls) -> "LoopThread":
        """The shared loop thread, started if needed; pair with ``release``."""
        with cls._lock:
            if cls._shared is None or not cls._shared.thread.is_alive():
                cls._shared = LoopThread()
                cls._users = 0
            cls._users += 1
            return cls._shared

    @classmethod
    def release(cls, loop_thread: "LoopThread") -> None:
        """One user is done; the last one stops the thread."""
        with cls._lock:
            if loop_thread is not cls._shared:
                return
            cls._users -= 1
            if cls._users > 0:
                return
            cls._shared = None
        loop_thread.stop()

    def in_loop_thread(self) -> bool:
        return threading.current_thread() is self.thread

    def run(self, coroutine_function: Callable, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        """Run ``coroutine_function(*args, **kwargs)`` on the loop and wait for its result.

        ``TimeoutError`` after ``timeout`` seconds (the coroutine is cancelled).
        """
        if self.in_loop_thread():
            raise RuntimeError(
                "A synchronous shoal.distributed method was called from the event loop thread, "
                "where it would wait forever; use asynchronous=True and await it instead."
            )
        future = asyncio.run_coroutine_threadsafe(coroutine_function(*args, **kwargs), self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            if future.done():  # the coroutine's own TimeoutError (the same class since 3.11): keep its message
                raise
            future.cancel()
            raise TimeoutError(f"{getattr(coroutine_function, '__name__', 'operation')} did not finish "
                               f"within {timeout} s") from None

    def call_soon(self, callback: Callable, *args: Any) -> None:
        """Run ``callback(*args)`` on the loop, from any thread."""
        if self.in_loop_thread():
            callback(*args)
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(callback, *args)

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel what is still running on the loop, stop it and join the thread."""
        async def cancel_all() -> None:
            me = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not me]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=timeout)

        if self.thread.is_alive() and not self.loop.is_closed():
            try:
                asyncio.run_coroutine_threadsafe(cancel_all(), self.loop).result(timeout + 1)
            except Exception:
                pass
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout)
        if not self.thread.is_alive() and not self.loop.is_closed():
            self.loop.close()
