"""The loop that runs inside each worker process of the processes scheduler.

Started as ``python -m shoal.schedulers.process_worker FD``: a fresh
interpreter (so it is safe to start from a parent with threads, and the
parent's ``__main__`` is never re-run) talking over the socket ``FD``.
The parent first sends its ``sys.path``, so functions pickled by reference
import here as they do there. Then, for every batch, the parent sends
``(run_id, batch, data)`` and the worker answers ``(run_id, outcomes)``
with one ``(key, ok, value, remote_traceback)`` per task.
"""

from __future__ import annotations

import pickle
import signal
import socket
import sys
from multiprocessing.connection import Connection
from typing import Any

import cloudpickle

from .errors import format_remote_traceback

#: True inside a worker process; nested computations there run in-process.
in_worker_process = False


def worker_main(conn: Connection) -> None:
    global in_worker_process
    in_worker_process = True
    sys.path[:] = pickle.loads(conn.recv_bytes())
    while True:
        try:
            payload = conn.recv_bytes()
        except (EOFError, OSError):
            return
        run_id, batch, data = pickle.loads(payload)
        outcomes = []
        for key, node in batch:
            try:
                outcomes.append((key, True, node(data), None))
            except BaseException as exc:  # sys.exit() in a task is the task's error, as on threads
                outcomes.append((key, False, portable_exception(exc), format_remote_traceback(exc)))
        del batch, data, payload
        conn.send_bytes(dumps_outcomes(run_id, outcomes))


def portable_exception(exc: BaseException) -> Any:
    """``exc``, or a stand-in that unpickles as the same exception, for the trip home.

    Plain pickling rebuilds an exception by calling ``cls(*exc.args)``, which
    fails or garbles the message when ``__init__`` takes other arguments than
    it passes to ``Exception.__init__`` (``MyError(field)`` storing
    ``f"bad {field}"``). The stand-in rebuilds it from its class, args and
    attributes without calling ``__init__``.
    """
    for candidate in (exc, _ExceptionByState(exc)):
        try:
            copy = cloudpickle.loads(cloudpickle.dumps(candidate, protocol=pickle.HIGHEST_PROTOCOL))
        except Exception:
            continue
        if type(copy).__qualname__ == type(exc).__qualname__ and str(copy) == str(exc):
            return candidate
    return RuntimeError(f"{type(exc).__name__}: {exc} (the original exception could not be pickled)")


class _ExceptionByState:
    __slots__ = ("exc",)

    def __init__(self, exc: Exception):
        self.exc = exc

    def __reduce__(self):
        exc = self.exc
        return (rebuild_exception, (type(exc), exc.args, dict(getattr(exc, "__dict__", {}))))


def rebuild_exception(cls: type, args: tuple, state: dict) -> BaseException:
    exc = cls.__new__(cls, *args)
    exc.args = args
    if state:
        exc.__dict__.update(state)
    return exc


def dumps_outcomes(run_id: int, outcomes: list) -> bytes:
    """Pickle the outcomes; values that cannot travel become errors naming their task."""
    try:
        return cloudpickle.dumps((run_id, outcomes), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        pass
    safe = []
    for key, ok, value, tb in outcomes:
        try:
            cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as err:
            if ok:
                value = TypeError(
                    f"The result of task {key!r} ({type(value).__name__}) cannot be pickled "
                    f"to send it back from the worker process: {err}. Return picklable data, "
                    "or run this computation with scheduler='threads'."
                )
            else:
                value = RuntimeError(f"{type(value).__name__}: {value} (the original exception could not be pickled)")
            ok = False
        safe.append((key, ok, value, tb))
    return cloudpickle.dumps((run_id, safe), protocol=pickle.HIGHEST_PROTOCOL)


if __name__ == "__main__":
    # Ctrl-C reaches the whole process group; the parent decides what to do
    # (it kills the pool), so workers must not die with their own traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fd = int(sys.argv[1])
    # Run the loop from the importable module, so that other modules (and
    # nested computations) see ``in_worker_process`` set.
    from shoal.schedulers import process_worker

    process_worker.worker_main(Connection(socket.socket(fileno=fd).detach()))
