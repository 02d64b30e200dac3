"""``LocalCluster``: a scheduler and workers on this machine.

The scheduler runs on this process's shared event loop thread. Workers are
separate processes (``python -m shoal.distributed.cli worker ADDRESS``) with
``processes=True``, talking TCP on 127.0.0.1; with ``processes=False`` they
run in this process on the same loop, talking ``inproc://`` (no
serialization at all: fast, but tasks share one GIL).

>>> with LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster:  # doctest: +ELLIPSIS
...     sorted(w["nthreads"] for w in cluster.scheduler_info()["workers"].values())
shoal LocalCluster: dashboard at http://127.0.0.1:.../status
[1, 1]
"""

from __future__ import annotations

import asyncio
import itertools
import inspect
import logging
import math
import numbers
import os
import signal
import subprocess
import sys
import weakref
from typing import Any

from .deploy.adaptive import Adaptive
from .loop_thread import LoopThread
from .memory import parse_memory_limit
from .scheduler import Scheduler, default_dashboard_address
from .security import as_security
from .worker import Worker

logger = logging.getLogger("shoal.distributed.cluster")

__all__ = ["LocalCluster"]


def _check_count(value: Any, name: str, minimum: int) -> int | None:
    """``value`` as an int (``None`` stays ``None``); a clear error for anything else.

    >>> _check_count(2.0, "n_workers", 0)
    2
    >>> _check_count(-1, "n_workers", 0)
    Traceback (most recent call last):
    ...
    ValueError: n_workers must be at least 0, got -1
    """
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def _check_scheduler_options(options: dict) -> None:
    """Refuse keywords neither LocalCluster nor the Scheduler takes, naming them (they used
    to fail inside SchedulerState, which the user never called)."""
    from .state import SchedulerState

    known = set()
    for function in (LocalCluster.__init__, Scheduler.__init__, SchedulerState.__init__):
        known.update(name for name, p in inspect.signature(function).parameters.items()
                     if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and name != "self")
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"LocalCluster() got unexpected keyword arguments {unknown}; it takes "
                        f"{sorted(known)}.")


def _default_layout(n_workers: int | None, threads_per_worker: int | None, processes: bool) -> tuple[int, int]:
    cores = os.cpu_count() or 1
    if n_workers is None and threads_per_worker is None:
        if processes:
            n_workers = min(4, cores)
            threads_per_worker = max(1, cores // n_workers)
        else:
            n_workers, threads_per_worker = 1, cores
    elif n_workers is None:
        n_workers = max(1, cores // threads_per_worker)
    elif threads_per_worker is None:
        threads_per_worker = max(1, cores // max(n_workers, 1))
    return n_workers, threads_per_worker


def _worker_environment() -> dict:
    # Like multiprocessing's spawn, let workers import what this process can
    # (functions defined in test files or scripts are pickled by reference).
    env = dict(os.environ)
    paths = [os.path.abspath(p or os.getcwd()) for p in sys.path if os.path.isdir(p or os.getcwd())]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc`` and its process group (a nanny's worker is in it)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # each worker process leads its own group
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _kill_all(processes: dict) -> None:
    for proc in list(processes.values()):
        if proc.poll() is None:
            _kill_group(proc)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass


class LocalCluster:
    """A scheduler and ``n_workers`` workers of ``threads_per_worker`` threads on 127.0.0.1.

    ``memory_limit`` per worker: bytes, a size such as ``"2GB"``, ``"auto"`` (the
    machine's memory shared among the workers) or ``None``; workers spill
    results to disk and pause as they near it.
    ``worker_start_timeout``: seconds to wait for workers to register.
    ``nanny`` (``processes=True`` only): each worker process runs under a
    nanny process that restarts it when it dies, kills it past
    ``distributed.worker.memory.terminate`` (0.95) of ``memory_limit``, and
    lets ``Client.restart`` start it afresh.
    ``dashboard_address``: where the scheduler serves the dashboard (default:
    config ``distributed.scheduler.dashboard-address``, ``127.0.0.1:8787``,
    or a free port when that one is taken); None or False: no dashboard.
    ``security``: a ``Security`` (or True for ``Security.temporary()``): the
    scheduler and every worker then speak ``tls://``, worker processes get
    the certificate files through ``--tls-*`` flags, and ``Client(cluster)``
    uses the same credentials.
    """

    #: shrinking copies the results a worker holds to the others first (read by ``Adaptive``)
    retires_gracefully = True

    def __init__(self, n_workers: int | None = None, threads_per_worker: int | None = None, *,
                 processes: bool = True, memory_limit: int | None = None, host: str = "127.0.0.1",
                 scheduler_port: int = 0, asynchronous: bool = False, worker_start_timeout: float = 60.0,
                 security: Any = None, nanny: bool = True, **scheduler_options: Any):
        n_workers = _check_count(n_workers, "n_workers", 0)
        threads_per_worker = _check_count(threads_per_worker, "threads_per_worker", 1)
        _check_scheduler_options(scheduler_options)
        if "dashboard_address" not in scheduler_options:  # None or False given: no dashboard
            scheduler_options["dashboard_address"] = default_dashboard_address()
        self.security = as_security(security)
        self.nanny = nanny
        self.n_workers, self.threads_per_worker = _default_layout(n_workers, threads_per_worker, processes)
        self.processes = processes
        self.memory_limit = parse_memory_limit(memory_limit, self.n_workers)
        self.host = host
        self.scheduler_port = scheduler_port
        self.asynchronous = asynchronous
        self.worker_start_timeout = worker_start_timeout
        self.scheduler_options = scheduler_options
        self.scheduler: Scheduler | None = None
        self.workers: dict = {}  # name -> Worker (in-process) or Popen (processes)
        self._names = itertools.count()
        self._processes: dict = {}  # name -> Popen, also killed at exit if we are not closed
        self._finalizer = weakref.finalize(self, _kill_all, self._processes)
        self.status = "created"
        self._adaptive: Adaptive | None = None
        self._loop_thread = None
        if not asynchronous:
            self._loop_thread = LoopThread.acquire()
            try:
                self._loop_thread.run(self._start, timeout=worker_start_timeout + 30)
            except BaseException:
                self.close()
                raise

    def _sync(self, coroutine_function, *args):
        if self.status in ("closing", "closed"):
            raise RuntimeError(f"LocalCluster at {self.scheduler_address if self.scheduler else 'nowhere'} is "
                               f"{self.status}; start a new LocalCluster.")
        if self.asynchronous:
            return coroutine_function(*args)
        return self._loop_thread.run(coroutine_function, *args, timeout=self.worker_start_timeout + 30)

    def __await__(self):
        async def start():
            await self._start()
            return self

        return start().__await__()

    @property
    def dashboard_link(self) -> str | None:
        """The URL of the ``/status`` dashboard page (``dashboard_address=`` starts one)."""
        dashboard = self.scheduler.dashboard if self.scheduler is not None else None
        return dashboard.link if dashboard is not None else None

    @property
    def scheduler_address(self) -> str:
        return self.scheduler.address

    async def _start(self) -> None:
        if self.status == "running":
            return
        if self.security.tls_enabled:  # in-process workers too: TLS was asked for, inproc has none
            address = f"tls://{self.host}:{self.scheduler_port}"
        else:
            address = f"tcp://{self.host}:{self.scheduler_port}" if self.processes else "inproc://"
        self.scheduler = Scheduler(address, security=self.security, **self.scheduler_options)
        await self.scheduler.start()
        if self.scheduler.dashboard is not None:
            print(f"shoal LocalCluster: dashboard at {self.scheduler.dashboard.link}", flush=True)
        self.status = "running"
        await self._scale(self.n_workers)

    # ------------------------------------------------------------------ workers
    def scale(self, n: int) -> Any:
        """Grow or shrink to ``n`` workers (waits until the scheduler sees them); stops ``adapt``.

        Shrinking retires workers gracefully (``Client.retire_workers``): idle
        ones holding the least data go first, and the results they hold are
        copied to the workers that stay, so no future loses its data. Only
        ``scale(0)`` drops data, having nowhere to put it.
        """
        if n is None:
            raise TypeError("scale(n) needs the number of workers to have, e.g. cluster.scale(4)")
        n = _check_count(n, "scale(n): n", 0)

        async def scale():
            await self._stop_adaptive()
            await self._scale(n)

        return self._sync(scale)

    async def _scale(self, n: int) -> None:
        self._forget_stopped_workers()
        new = []
        while len(self.workers) < n:
            name = f"{'proc' if self.processes else 'thread'}-worker-{next(self._names)}"
            new.append(name)
            self.workers[name] = await self._start_worker(name)
        if len(self.workers) > n:
            await self._retire(len(self.workers) - n, keep=n)
        self.n_workers = n
        if new:
            await self._wait_registered(new)

    def _forget_stopped_workers(self) -> None:
        """Drop workers that stopped on their own: retired through ``Client.retire_workers``
        (its nanny exits with it), or a process that exited. Counted, they made ``scale(n)``
        believe the cluster still had them and start no replacement."""
        for name, worker in list(self.workers.items()):
            if isinstance(worker, Worker):
                stopped = worker.status in ("closing", "closed")
            else:
                stopped = worker.poll() is not None
            if stopped:
                del self.workers[name]
                self._processes.pop(name, None)

    async def _retire(self, count: int, keep: int) -> None:
        """Stop ``count`` workers: not yet registered ones first, then gracefully retired ones."""
        by_name = {ws.name: ws.address for ws in self.scheduler.state.workers.values()}
        unregistered = [name for name in self.workers if name not in by_name]
        doomed = unregistered[-count:] if unregistered else []
        rest = count - len(doomed)
        if rest and keep > 0:
            addresses = self.scheduler.workers_to_retire(n=rest)
            try:
                await self.scheduler.retire_workers(addresses, close=True, timeout=self.worker_start_timeout)
            except (TimeoutError, ValueError) as error:
                logger.warning("LocalCluster could not retire %s gracefully (%s); stopping them", addresses, error)
            names = {ws_name for ws_name, address in by_name.items() if address in addresses}
            doomed += [name for name in self.workers if name in names]
        if len(doomed) < count:  # scale(0), or a retirement that picked fewer: stop from the end
            doomed += [name for name in reversed(list(self.workers)) if name not in doomed][:count - len(doomed)]
        for name in doomed:
            await self._stop_worker(name)

    # ------------------------------------------------------------------ adaptivity
    def adapt(self, minimum: int = 0, maximum: float = math.inf, *, interval: float = 1.0,
              wait_count: int = 3) -> Any:
        """Scale with the load between ``minimum`` and ``maximum`` workers, deciding every
        ``interval`` s (``deploy.adaptive``): grow while tasks queue beyond the threads,
        retire idle workers gracefully after ``wait_count`` decisions in a row ask for
        fewer. Returns the ``Adaptive``; ``scale()`` or another ``adapt()`` replaces it.
        """
        adaptive = Adaptive(self, minimum, maximum, interval=interval, wait_count=wait_count)

        async def start():
            await self._stop_adaptive()
            self._adaptive = adaptive
            adaptive.start()
            return adaptive

        return self._sync(start)

    async def _stop_adaptive(self) -> None:
        if self._adaptive is not None:
            await self._adaptive.stop()
            self._adaptive = None

    async def _start_worker(self, name: str) -> Any:
        if not self.processes:
            worker = Worker(self.scheduler.address, nthreads=self.threads_per_worker, name=name,
                            memory_limit=self.memory_limit, security=self.security)
            await worker.start()
            return worker
        command = [sys.executable, "-m", "shoal.distributed.cli", "worker", self.scheduler.address,
                   "--nthreads", str(self.threads_per_worker), "--name", name, "--host", self.host]
        if self.memory_limit is not None:
            command += ["--memory-limit", str(int(self.memory_limit))]
        # Security.temporary()'s certificates are files: the worker process reads the same ones.
        command += self.security.cli_arguments("worker")
        if self.security.require_encryption:
            command.append("--require-encryption")
        if not self.nanny:
            command.append("--no-nanny")
        # It exits when we do, even if we are killed; in a session of its own, a
        # Ctrl-C meant for us does not reach it (close() stops it in order), and
        # killpg reaches the nanny's worker too.
        command += ["--parent-pid", str(os.getpid())]
        proc = subprocess.Popen(command, env=_worker_environment(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, start_new_session=True)
        self._processes[name] = proc
        return proc

    async def _wait_registered(self, names: list) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.worker_start_timeout
        while True:
            registered = {ws.name for ws in self.scheduler.state.workers.values()}
            waiting = [n for n in names if n not in registered and n in self.workers]
            if not waiting:
                return
            for name in waiting:
                proc = self._processes.get(name)
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"Worker process {name} exited with code {proc.returncode} before "
                                       f"registering with {self.scheduler.address}; see its output above.")
            if loop.time() > deadline:
                raise TimeoutError(f"Workers {waiting} did not register with {self.scheduler.address} "
                                   f"within {self.worker_start_timeout} s.")
            await asyncio.sleep(0.02)

    async def _stop_worker(self, name: str) -> None:
        worker = self.workers.pop(name)
        if isinstance(worker, Worker):
            await worker.close()
            return
        self._processes.pop(name, None)
        await _terminate(worker)
        # Wait (bounded) until the scheduler has noticed, so scale() means what it says.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while any(ws.name == name for ws in self.scheduler.state.workers.values()) and loop.time() < deadline:
            await asyncio.sleep(0.02)

    @property
    def worker_processes(self) -> dict:
        """``{name: subprocess.Popen}`` of the worker processes (``processes=True``); with
        ``nanny=True`` these are the nannies, each the parent of its worker process."""
        return dict(self._processes)

    def scheduler_info(self) -> dict:
        """The scheduler's view of the cluster (workers, tasks)."""
        async def info():
            return self.scheduler.info()

        return self._sync(info)

    # ------------------------------------------------------------------ closing
    def close(self, timeout: float = 20.0) -> Any:
        """Stop the workers and the scheduler."""
        if self.asynchronous:
            return self._close()
        try:
            if self.status == "running" and self._loop_thread is not None:
                self._loop_thread.run(self._close, timeout=timeout)
        finally:
            _kill_all(self._processes)
            self.status = "closed"
            if self._loop_thread is not None:
                LoopThread.release(self._loop_thread)
                self._loop_thread = None

    async def _close(self) -> None:
        if self.status in ("closing", "closed"):
            return
        self.status = "closing"
        await self._stop_adaptive()
        await asyncio.gather(*(self._stop_worker(name) for name in list(self.workers)), return_exceptions=True)
        if self.scheduler is not None:
            await self.scheduler.close()
        _kill_all(self._processes)
        self.status = "closed"

    def __enter__(self) -> "LocalCluster":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> "LocalCluster":
        await self._start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._close()

    def __repr__(self) -> str:
        where = self.scheduler.address if self.scheduler and self.scheduler.listener else "not started"
        return (f"<LocalCluster {where} workers={len(self.workers)} threads_per_worker={self.threads_per_worker} "
                f"processes={self.processes} status={self.status}>")


async def _terminate(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    """SIGTERM (a clean shutdown), then SIGKILL after ``timeout`` s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while proc.poll() is None and loop.time() < deadline:
        await asyncio.sleep(0.02)
    if proc.poll() is None:
        _kill_group(proc)
        await loop.run_in_executor(None, proc.wait, 5)
