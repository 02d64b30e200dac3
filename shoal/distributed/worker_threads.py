"""Running a worker's tasks on its threads, and what a task can ask of its worker.

- ``TaskThreads``: the ``nthreads`` threads that run tasks, in order of
  submission; a task that secedes is replaced by a new thread at once.
- A thread-local says which worker and task the current thread serves:
  ``get_worker()`` reads it, ``secede()`` leaves the pool, and
  ``worker_client()`` gives a task a ``Client`` of its own cluster.
- ``TaskExecutionMixin``: ``Execute`` instructions of ``WorkerState`` run
  ``node(inputs)`` on those threads and report the result or the error back
  to the state machine on the event loop. ``Worker`` (``worker.py``)
  inherits it.

What ``TaskExecutionMixin`` needs from the host class (``Worker``): the
attributes ``state``, ``loop``, ``threads`` (a ``TaskThreads``) and
``status``; the method ``carry_out``. ``secede`` and ``worker_client`` use
the worker's ``threads``, ``loop``, ``_secede`` and ``scheduler_address``.
"""

from __future__ import annotations

import contextlib
import contextvars
import queue
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any

from .rpc import portable_exception
from .spill import SpillStore
from .state.worker_state import sizeof

if TYPE_CHECKING:
    from .worker import Worker

_running = threading.local()
# The worker a coroutine function given to ``Client.run`` runs on: it runs on the
# worker's event loop, whose thread may serve several in-process workers.
_running_coroutine_worker: contextvars.ContextVar = contextvars.ContextVar("shoal_coroutine_worker", default=None)


def get_worker() -> "Worker":
    """The ``Worker`` running the current task (call it inside a task).

    >>> get_worker()
    Traceback (most recent call last):
    ...
    ValueError: get_worker() was called outside a task running on a shoal worker; ...
    """
    worker = _running_coroutine_worker.get()
    return worker if worker is not None else _current_worker("get_worker()")


def _current_worker(caller: str) -> "Worker":
    worker = getattr(_running, "worker", None)
    if worker is None:
        raise ValueError(
            f"{caller} was called outside a task running on a shoal worker; "
            "call it from inside a function submitted to a distributed Client."
        )
    return worker


def secede() -> None:
    """Leave the worker's thread pool: the calling task stops counting against its
    worker's threads, so tasks it waits for can run (call it before blocking on them)."""
    worker = _current_worker("secede()")
    if getattr(_running, "seceded", False):
        return
    _running.seceded = True
    worker.threads.replace_current()  # another thread takes the next task
    worker.loop.call_soon_threadsafe(worker._secede, _running.key)


@contextlib.contextmanager
def worker_client(timeout: float = 30.0):
    """A Client for a task to submit tasks to its own cluster and wait on them.

    The task secedes from the worker's thread pool first, so waiting cannot
    starve the tasks it submitted. The client is closed on exit; gather
    results inside the block.

    >>> def fan_out(n):  # runs on a worker
    ...     with worker_client() as client:
    ...         return sum(client.gather(client.map(abs, range(-n, 0))))
    """
    from .client import Client

    worker = _current_worker("worker_client()")
    secede()
    client = Client(worker.scheduler_address, timeout=timeout, set_as_default=False)
    try:
        yield client
    finally:
        client.close()


class TaskThreads:
    """``n`` threads running submitted callables in order of submission.

    A thread whose task seceded (``replace_current``) is replaced by a new
    one at once and ends when its task returns, so ``n`` threads keep taking
    work. Threads are daemons: a task that never returns cannot hold up exit.
    """

    def __init__(self, n: int, name: str = "shoal-worker"):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._name = name
        self._count = 0
        self._closed = False
        for _ in range(n):
            self._add_thread()

    def _add_thread(self) -> None:
        self._count += 1
        threading.Thread(target=self._serve, name=f"{self._name}-{self._count}", daemon=True).start()

    def _serve(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            _running.seceded = False
            job()
            if _running.seceded:
                _running.seceded = False
                return  # its replacement is already serving

    def submit(self, job) -> None:
        if self._closed:
            raise RuntimeError("The worker's threads are shut down.")
        self._queue.put(job)

    def replace_current(self) -> None:
        if not self._closed:
            self._add_thread()

    def shutdown(self) -> None:
        """Stop taking jobs; queued jobs are dropped, running ones finish."""
        self._closed = True
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        for _ in range(self._count):
            self._queue.put(None)


class TaskExecutionMixin:
    """Running ``WorkerState``'s ``Execute`` instructions on the worker's threads."""

    # ------------------------------------------------------------------ execution
    def _execute(self, key: Any) -> None:
        data = self.state.data
        if isinstance(data, SpillStore):
            # Inputs spilled to disk are read on the task's thread, not on this loop.
            node, input_keys = self.state.execution_node(key)
            inputs = None
        else:
            node, inputs = self.state.execution_inputs(key)
        loop = self.loop
        done = self._execution_done

        def run() -> None:
            _running.worker = self
            _running.key = key
            start = time.time()
            try:
                value = node({k: data[k] for k in input_keys} if inputs is None else inputs)
            except BaseException as error:  # reported to the scheduler, not raised here
                text = "".join(traceback.format_exception(error))
                report = (key, False, error, text, start, time.time())
            else:
                report = (key, True, value, None, start, time.time())
            try:
                loop.call_soon_threadsafe(done, *report)
            except RuntimeError:  # the worker closed (its loop with it) while this ran
                pass
            finally:
                _running.worker = _running.key = None

        try:
            self.threads.submit(run)
        except RuntimeError:  # shutting down: the scheduler reschedules it elsewhere
            pass

    def _secede(self, key: Any) -> None:
        if self.status == "running":
            self.carry_out(self.state.handle_secede(key))

    def _execution_done(self, key, ok: bool, value, text, start: float, stop: float) -> None:
        if self.status != "running":
            return
        if ok:
            instructions = self.state.handle_execute_success(key, value, sizeof(value), start, stop)
        else:
            instructions = self.state.handle_execute_failure(
                key, portable_exception(value), text, exception_text=f"{type(value).__name__}: {value}",
            )
        self.carry_out(instructions)
