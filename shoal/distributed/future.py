"""``Future``: a remote result held on the cluster, plus ``wait`` and ``as_completed``.

A ``Future`` is a handle on one key. All futures of a client for the same
key share one ``FutureState`` (status, error, where the data is). The client
counts the live ``Future`` objects per key; when the last is released or
garbage collected it tells the scheduler, which frees the data once nothing
else needs it.

Statuses: ``pending`` -> ``finished`` | ``error`` | ``cancelled``; ``lost``
when the client found the data gone (a worker died) and waits for the
scheduler to recompute it.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
import types
from collections import namedtuple
from typing import Any, Callable, Iterable

from .remote_traceback import rebuild_traceback

__all__ = ["Future", "FutureState", "FutureCancelledError", "wait", "as_completed"]

_FINAL = ("finished", "error", "cancelled")


class FutureCancelledError(Exception):
    """The result of a cancelled future was asked for."""

    def __init__(self, key: Any):
        self.key = key
        super().__init__(f"Future {key!r} was cancelled; submit it again to compute it.")

    def __reduce__(self):
        return (FutureCancelledError, (self.key,))


def check_timeout(timeout: Any, where: str) -> float | None:
    """``timeout`` as seconds (``None``: no limit); a clear ``TypeError`` for anything else.

    The usual mistake is ``wait(x, y)`` for ``wait([x, y])``: ``y`` lands in
    ``timeout`` and used to fail deep inside asyncio.

    >>> check_timeout(2, "wait")
    2.0
    >>> check_timeout("2s", "wait")
    Traceback (most recent call last):
    ...
    TypeError: wait(timeout=...) must be a number of seconds or None, got str '2s'
    """
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        hint = ("; pass several futures as one list: wait([x, y]), not wait(x, y)"
                if isinstance(timeout, Future) else "")
        raise TypeError(f"{where}(timeout=...) must be a number of seconds or None, "
                        f"got {type(timeout).__name__} {timeout!r}{hint}")
    return float(timeout)


class FutureState:
    """What the client knows of one key; updated on the client's event loop."""

    __slots__ = ("key", "status", "exception", "traceback", "type", "workers", "_event", "_listeners")

    def __init__(self, key: Any):
        self.key = key
        self.status = "pending"
        self.exception: BaseException | None = None
        self.traceback: str | None = None
        self.type: str | None = None
        self.workers: list = []  # addresses holding the result, as last heard
        self._event: asyncio.Event | None = None
        self._listeners: list = []  # called on the loop when the state becomes final

    def _get_event(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
            if self.status in _FINAL:
                self._event.set()
        return self._event

    async def wait(self) -> None:
        if self.status not in _FINAL:
            await self._get_event().wait()

    def done(self) -> bool:
        return self.status in _FINAL

    def finish(self, type_name: str | None = None, workers: list | None = None) -> None:
        self.status = "finished"
        self.type = type_name or self.type
        if workers is not None:
            self.workers = list(workers)
        self._settle()

    def set_error(self, exception: BaseException, traceback: str | None = None) -> None:
        self.status = "error"
        self.exception = exception
        self.traceback = traceback
        self._settle()

    def cancel(self) -> None:
        self.status = "cancelled"
        self.exception = FutureCancelledError(self.key)
        self._settle()

    def lose(self) -> None:
        """The data is gone; wait for the scheduler to say it is back."""
        if self.status == "finished":
            self.status = "lost"
            self.workers = []
            if self._event is not None:
                self._event.clear()

    def _settle(self) -> None:
        if self._event is not None:
            self._event.set()
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            listener(self)

    def on_done(self, listener: Callable[["FutureState"], None]) -> None:
        """Call ``listener(state)`` on the loop when final (at once if it already is)."""
        if self.status in _FINAL:
            listener(self)
        else:
            self._listeners.append(listener)


class Future:
    """A result being computed, or held, on the cluster.

    Made by ``Client.submit``, ``map``, ``scatter``, ``compute``; pass it to
    other ``submit`` calls to use its value there without fetching it.
    """

    __slots__ = ("key", "client", "_state", "_released", "__weakref__")

    def __init__(self, key: Any, client: Any, state: FutureState | None = None):
        self.key = key
        self.client = client
        self._released = False
        self._state = client._inc_ref(key, state)

    @property
    def status(self) -> str:
        return self._state.status

    def done(self) -> bool:
        """Whether the result is ready, the task failed or it was cancelled."""
        return self._state.done()

    def cancelled(self) -> bool:
        """Whether this future was cancelled (as ``concurrent.futures`` and Dask have it)."""
        return self._state.status == "cancelled"

    @property
    def type(self) -> str | None:
        """The name of the result's type once it is known (e.g. ``'ndarray'``), else None."""
        return self._state.type

    def result(self, timeout: float | None = None) -> Any:
        """The value (fetched from the worker); re-raises the task's exception.

        ``TimeoutError`` if it is not ready within ``timeout`` seconds. With an
        asynchronous client this returns an awaitable.
        """
        timeout = check_timeout(timeout, "Future.result")
        if self._released:  # the scheduler may have forgotten the key: it would never finish
            raise ValueError(f"Future {self.key!r} was released (future.release()); its result is gone. "
                             "Keep the future unreleased until you have its result.")
        return self.client._sync(self._result, timeout, timeout=None)

    async def _result(self, timeout: float | None = None) -> Any:
        if timeout is not None:
            try:
                await asyncio.wait_for(self._state.wait(), timeout)
            except asyncio.TimeoutError:
                raise TimeoutError(f"Future {self.key!r} was not done within {timeout} s "
                                   f"(status {self.status!r}).") from None
        results = await self.client._gather_keys([self.key])
        return results[self.key]

    def __await__(self):
        return self._result().__await__()

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The exception the task raised (``None`` if it succeeded); waits for the task."""
        timeout = check_timeout(timeout, "Future.exception")
        return self.client._sync(self._wait_then, timeout, lambda s: s.exception if s.status == "error" else None)

    def traceback(self, timeout: float | None = None) -> types.TracebackType | None:
        """The traceback of the task's exception on the worker (``None`` if it did not fail).

        A traceback object rebuilt from the worker's formatted traceback, so
        ``traceback.format_tb(future.traceback())`` and ``extract_tb`` work;
        the worker's text is also a note of ``future.exception()``.
        ``None`` too when the failure happened before any task ran (a
        graph the scheduler refused).
        """
        timeout = check_timeout(timeout, "Future.traceback")
        return self.client._sync(
            self._wait_then, timeout, lambda s: rebuild_traceback(s.traceback) if s.status == "error" else None,
        )

    async def _wait_then(self, timeout: float | None, pick: Callable) -> Any:
        try:
            await asyncio.wait_for(self._state.wait(), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"Future {self.key!r} was not done within {timeout} s.") from None
        return pick(self._state)

    def cancel(self, force: bool = False) -> None:
        """Stop computing this key (and free its data) unless others still need it."""
        return self.client.cancel([self], force=force)

    def retry(self) -> None:
        """Run an erred task again (with the erred tasks it depends on)."""
        return self.client.retry([self])

    def add_done_callback(self, fn: Callable[["Future"], Any]) -> None:
        """Call ``fn(future)`` in a thread once the future is done (at once if it is)."""
        loop = self.client.loop

        def listener(_state: FutureState) -> None:
            loop.run_in_executor(None, _safe_call, fn, self)

        self.client._call_on_loop(self._state.on_done, listener)

    def release(self) -> None:
        """Drop this handle now (as garbage collection would)."""
        if not self._released:
            self._released = True
            self.client._dec_ref(self.key)

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:  # interpreter shutdown, client gone: nothing left to tell
            pass

    def __shoal_tokenize__(self):
        # A future stands for its key. (Without this, tokenizing fell back to
        # pickling, which a future refuses: the key came out random, and the
        # caught error's traceback kept the future alive until the cyclic
        # garbage collector ran, so the scheduler held its data that long.)
        return ("shoal.distributed.Future", self.key)

    def __reduce__(self):
        raise TypeError(
            f"Future {self.key!r} cannot be pickled: pass futures directly as arguments of "
            "submit/map/compute (they become references to the remote data), or call "
            ".result() to get the value."
        )

    def __repr__(self) -> str:
        extra = f", type: {self._state.type}" if self._state.type else ""
        return f"<Future: {self.status}{extra}, key: {self.key!r}>"

    __hash__ = object.__hash__


def _safe_call(fn: Callable, future: Future) -> None:
    try:
        fn(future)
    except Exception:
        import logging

        logging.getLogger("shoal.distributed.client").exception("Future done callback %r failed", fn)


WaitResult = namedtuple("WaitResult", ["done", "not_done"])


def wait(futures: Any, timeout: float | None = None, return_when: str = "ALL_COMPLETED") -> WaitResult:
    """Wait until all (or the first, ``return_when="FIRST_COMPLETED"``) futures are done.

    ``futures``: a future, futures in lists/dicts, or a collection persisted on
    the cluster (``client.persist(x)``), whose every block's future counts.
    Returns ``(done, not_done)`` sets; ``TimeoutError`` after ``timeout`` s.
    """
    from .graph_futures import futures_of  # graph_futures imports this module

    timeout = check_timeout(timeout, "wait")
    if return_when not in ("ALL_COMPLETED", "FIRST_COMPLETED"):
        raise ValueError(f"return_when must be 'ALL_COMPLETED' or 'FIRST_COMPLETED', got {return_when!r}")
    futures = futures_of(futures)
    if not futures:
        return WaitResult(set(), set())
    client = futures[0].client
    return client._sync(_wait, futures, timeout, return_when)


async def _wait(futures: list, timeout: float | None, return_when: str) -> WaitResult:
    waits = [asyncio.ensure_future(f._state.wait()) for f in futures]
    how = asyncio.ALL_COMPLETED if return_when == "ALL_COMPLETED" else asyncio.FIRST_COMPLETED
    try:
        _, pending = await asyncio.wait(waits, timeout=timeout, return_when=how)
    finally:
        for w in waits:
            w.cancel()
    if pending and return_when == "ALL_COMPLETED":
        n = sum(1 for f in futures if not f.done())
        raise TimeoutError(f"{n} of {len(futures)} futures were not done within {timeout} s.")
    done = {f for f in futures if f.done()}
    return WaitResult(done, set(futures) - done)


class as_completed:
    """Iterate over futures in the order they finish.

    ``with_results=True`` yields ``(future, result)`` pairs; a failed future
    then raises its exception, or with ``raise_errors=False`` comes as
    ``(future, exception)`` (a cancelled one always does). ``add(future)``
    and ``update(futures)`` add futures while iterating; ``next_batch()``
    and ``batches()`` hand over every future finished so far at once.
    ``timeout``: seconds from the call to ``as_completed`` after which a
    ``next`` still waiting raises ``TimeoutError`` (as in Dask).
    An asynchronous client iterates with ``async for``.
    """

    def __init__(self, futures: Iterable[Future] | None = None, with_results: bool = False,
                 raise_errors: bool = True, *, timeout: float | None = None):
        self.with_results = with_results
        self.raise_errors = raise_errors
        self.timeout = check_timeout(timeout, "as_completed")
        self._deadline = None if self.timeout is None else time.monotonic() + self.timeout
        self._done: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._outstanding = 0  # added and not yet handed over
        self._wakers: list = []  # (loop, asyncio.Event) of ``async for`` loops waiting
        if futures is not None:
            self.update(futures)

    def update(self, futures: Iterable[Future]) -> None:
        """Add several futures; each comes out of the iterator once it is done."""
        futures = list(futures)
        for future in futures:
            if not isinstance(future, Future):
                raise TypeError(f"as_completed takes futures, got {type(future).__name__} {future!r}")
        for future in futures:
            self.add(future)

    def add(self, future: Future) -> None:
        """Add one future; it comes out of the iterator once it is done."""
        if not isinstance(future, Future):
            raise TypeError(f"as_completed takes futures, got {type(future).__name__} {future!r}")
        with self._lock:
            self._outstanding += 1
        future.client._call_on_loop(future._state.on_done, lambda _s: self._arrived(future))

    def _arrived(self, future: Future) -> None:
        self._done.put(future)
        with self._lock:
            wakers, self._wakers = self._wakers, []
        for loop, event in wakers:
            loop.call_soon_threadsafe(event.set)

    def count(self) -> int:
        """How many futures are still to come out (running, or done and not handed over yet)."""
        with self._lock:
            return self._outstanding

    def is_empty(self) -> bool:
        """Whether no future is left to come out."""
        return self.count() == 0

    def has_ready(self) -> bool:
        """Whether a finished future is waiting to be handed over."""
        return not self._done.empty()

    def __repr__(self) -> str:
        ready = self._done.qsize()
        return f"<as_completed: waiting={self.count() - ready} done={ready}>"

    def __iter__(self):
        return self

    def _remaining(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def _timed_out(self) -> TimeoutError:
        return TimeoutError(f"{self.count()} futures were not done within {self.timeout} s of as_completed().")

    def _handed_over(self, future: Future) -> Future:
        with self._lock:
            self._outstanding -= 1
        return future

    def _failure(self, future: Future) -> BaseException | None:
        """The exception to hand over instead of a result (raised if it is a task's error)."""
        state = future._state
        if state.status == "error" and self.raise_errors:
            raise state.exception
        return state.exception if state.status in ("error", "cancelled") else None

    def __next__(self):
        with self._lock:
            if self._outstanding == 0:
                raise StopIteration
        try:
            future = self._done.get(timeout=self._remaining())
        except queue.Empty:
            raise self._timed_out() from None
        future = self._handed_over(future)
        if not self.with_results:
            return future
        failure = self._failure(future)
        return (future, failure) if failure is not None else (future, future.result())

    def __aiter__(self):
        return self

    async def __anext__(self):
        while self._done.empty():
            if self.count() == 0:
                raise StopAsyncIteration
            event = asyncio.Event()
            with self._lock:
                self._wakers.append((asyncio.get_running_loop(), event))
            if not self._done.empty():  # arrived before the waker was registered
                continue
            try:
                await asyncio.wait_for(event.wait(), self._remaining())
            except asyncio.TimeoutError:
                raise self._timed_out() from None
        future = self._handed_over(self._done.get_nowait())
        if not self.with_results:
            return future
        failure = self._failure(future)
        return (future, failure) if failure is not None else (future, await future._result())

    def next_batch(self, block: bool = True) -> list:
        """Every future finished so far (waiting for one first when ``block``); as ``next`` gives them."""
        batch = [next(self)] if block else []
        while self.has_ready():
            batch.append(next(self))
        return batch

    def batches(self):
        """Lists of the futures finished since the last list, until all have come out."""
        while True:
            try:
                yield self.next_batch(block=True)
            except StopIteration:
                return
