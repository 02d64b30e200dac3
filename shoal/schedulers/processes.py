"""The processes scheduler: a pool of worker processes, fed over pipes.

Right for pure-Python work that holds the GIL (bags). Functions and data
travel with cloudpickle; every task's inputs go with it and its output comes
back. Workers are fresh interpreters started with ``subprocess``, which is
safe when the parent has threads (a plain fork is not) and, unlike
multiprocessing's spawn, never re-runs the user's ``__main__`` module, so
scripts need no ``if __name__ == "__main__"`` guard. The pool is kept and
reused between calls;
ready tasks are sent in batches so that small tasks do not each pay for a
round trip.
"""

from __future__ import annotations

import atexit
import itertools
import pickle
import signal
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection, wait
from typing import Any, Iterable, Mapping

import cloudpickle

from . import process_worker
from .callbacks import Callback
from .engine import Executor, execute
from .pools import PoolsBySize
from .sync import SyncExecutor
from .threads import default_num_workers

_run_ids = itertools.count(1)


class WorkerDiedError(RuntimeError):
    """A worker process ended while it was running tasks."""


class ProcessPool:
    """``num_workers`` worker processes, each with its own pipe."""

    def __init__(self, num_workers: int):
        if num_workers < 1:
            raise ValueError(f"num_workers must be at least 1, got {num_workers}")
        self.num_workers = num_workers
        self.processes: list[subprocess.Popen] = []
        self.conns: list[Connection] = []
        path = pickle.dumps(list(sys.path))
        for _ in range(num_workers):
            parent_end, child_end = socket.socketpair()
            proc = subprocess.Popen(
                [sys.executable, "-m", "shoal.schedulers.process_worker", str(child_end.fileno())],
                pass_fds=[child_end.fileno()],
                stdin=subprocess.DEVNULL,
            )
            child_end.close()
            conn = Connection(parent_end.detach())
            conn.send_bytes(path)
            self.processes.append(proc)
            self.conns.append(conn)
        # pending[i]: (run_id, keys) of the batch worker i is running, if any
        self.pending: list[list] = [[] for _ in range(num_workers)]
        # One computation at a time: the pipes and ``pending`` are not shared
        # between engines. ``owner`` is the thread whose computation runs.
        self.lock = threading.Lock()
        self.owner: int | None = None
        self.closed = False

    def shutdown(self, kill: bool = False) -> None:
        self.closed = True
        for conn in self.conns:
            conn.close()
        for proc in self.processes:
            if kill:
                proc.kill()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


class ProcessExecutor(Executor):
    name = "processes"
    max_batch = 64

    def __init__(self, pool: ProcessPool):
        self.pool = pool
        self.num_workers = pool.num_workers
        self.run_id = next(_run_ids)

    def can_submit(self, in_flight: int) -> bool:
        # One batch per worker at a time: a worker and the parent both sending
        # large pickles into a full pipe would wait on each other forever.
        return not all(self.pool.pending)

    def batch_size(self, ready: int) -> int:
        return max(1, min(self.max_batch, ready // (2 * self.num_workers)))

    def submit(self, batch: list, results: Mapping) -> None:
        pool = self.pool
        worker = next(i for i in range(pool.num_workers) if not pool.pending[i])
        inside = {key for key, _ in batch}
        data = {}
        for _, node in batch:
            for dep in node.dependencies:
                if dep not in inside:
                    data[dep] = results[dep]
        payload = _dumps_batch(self.run_id, batch, data)
        pool.conns[worker].send_bytes(payload)
        pool.pending[worker].append((self.run_id, [key for key, _ in batch]))

    def collect(self) -> list:
        pool = self.pool
        while True:
            busy = [pool.conns[i] for i in range(pool.num_workers) if pool.pending[i]]
            done = []
            for conn in wait(busy):
                worker = pool.conns.index(conn)
                run_id, keys = pool.pending[worker].pop(0)
                try:
                    payload = conn.recv_bytes()
                except (EOFError, OSError):
                    # Read how the worker ended before the pool is killed.
                    error = _worker_died(pool.processes[worker], keys)
                    _discard_pool(pool)
                    raise error from None
                reply_run, outcomes = pickle.loads(payload)
                if reply_run != self.run_id:
                    continue  # a batch of an earlier, failed computation
                for key, ok, value, tb in outcomes:
                    done.append((key, ok, value, worker, tb))
            if done:
                return done

    def abandon(self, exc: BaseException | None = None) -> None:
        # Interrupted (Ctrl-C) or a broken pipe: running tasks may never end.
        if exc is None or not isinstance(exc, Exception) or isinstance(exc, WorkerDiedError):
            _discard_pool(self.pool)


def _dumps_batch(run_id: int, batch: list, data: dict) -> bytes:
    try:
        return cloudpickle.dumps((run_id, batch, data), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        pass
    for key, node in batch:  # find the culprit to name it
        try:
            cloudpickle.dumps(node, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as err:
            raise TypeError(
                f"Task {key!r} cannot be sent to a worker process: its function or arguments "
                f"cannot be pickled ({type(err).__name__}: {err}). The processes scheduler needs "
                "picklable tasks; run this computation with scheduler='threads' (or 'sync'), "
                "or build the task from module-level functions and picklable data."
            ) from err
    for dep, value in data.items():
        try:
            cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as err:
            raise TypeError(
                f"The result of task {dep!r} ({type(value).__name__}) cannot be pickled to send "
                f"it to a worker process ({type(err).__name__}: {err}). Use scheduler='threads' "
                "for this computation."
            ) from err
    raise TypeError("A batch of tasks could not be pickled for the processes scheduler")


def _worker_died(proc: subprocess.Popen, keys: list) -> WorkerDiedError:
    try:
        code = proc.wait(timeout=1)
    except subprocess.TimeoutExpired:
        code = None
    if code is not None and code < 0:
        try:
            how = f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"was killed by signal {-code}"
    else:
        how = f"exited with code {code}"
    shown = ", ".join(repr(k) for k in keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
    return WorkerDiedError(
        f"A worker process (pid {proc.pid}) {how} while running task(s) {shown}. "
        "A crash in compiled code, os._exit, or running out of memory ends a worker; the pool "
        "has been restarted. Try smaller partitions, or scheduler='threads' to see the error in-process."
    )


_pools: PoolsBySize[ProcessPool] = PoolsBySize(ProcessPool)


def shared_pool(num_workers: int) -> ProcessPool:
    """The process pool of ``num_workers`` workers every computation of that size shares."""
    return _pools.get(num_workers)


def _discard_pool(pool: ProcessPool) -> None:
    _pools.discard(pool)
    pool.shutdown(kill=True)


@atexit.register
def shutdown_pools() -> None:
    for pool in _pools.take_all():
        pool.shutdown()


def get(
    graph: Mapping,
    keys: Any,
    num_workers: int | None = None,
    callbacks: Iterable[Callback] | None = None,
    pool: Any = None,
    **kwargs,
) -> Any:
    """Compute ``keys`` of ``graph`` on a pool of worker processes.

    ``pool`` may be a ``concurrent.futures.Executor`` (a
    ``ProcessPoolExecutor`` of your own) to run the tasks instead.
    """
    if pool is not None:
        from . import futures

        return futures.get(graph, keys, pool=pool, callbacks=callbacks)
    if num_workers is not None and num_workers < 1:
        raise ValueError(f"num_workers must be at least 1, got {num_workers!r}")
    if process_worker.in_worker_process:
        return execute(graph, keys, SyncExecutor(), callbacks=callbacks)
    me = threading.get_ident()
    while True:
        pool = shared_pool(num_workers or default_num_workers())
        if pool.owner == me:
            # Computing again from inside a running computation (a callback): the
            # pool is busy with the outer one, and waiting for it would never end.
            return execute(graph, keys, SyncExecutor(), callbacks=callbacks)
        with pool.lock:  # computations from other threads wait their turn
            if pool.closed:
                continue  # a worker died while we waited and the pool was replaced
            pool.owner = me
            try:
                return execute(graph, keys, ProcessExecutor(pool), callbacks=callbacks)
            finally:
                pool.owner = None
