"""``Nanny``: a small process that supervises one worker process.

A worker can die: killed by the kernel or a user, crashed by a task, or past
its memory limit. The nanny keeps the slot alive. It

- starts the worker as its child process
  (``python -m shoal.distributed.cli worker ADDRESS ... --no-nanny``), which
  registers with the scheduler naming the nanny (so ``client.restart()`` can
  reach it) and then tells the nanny it is up (``worker-started``);
- restarts the worker when it dies unexpectedly, after a short back-off; a
  worker that keeps dying within ``quick_death_seconds`` of starting is
  given up on after ``max_quick_deaths`` deaths in a row (a log line says
  so, and the nanny closes) rather than restarted forever;
- polls the worker's resident memory every ``poll_interval`` seconds and
  kills it past ``terminate_fraction`` (config
  ``distributed.worker.memory.terminate``, 0.95) of ``memory_limit``, with a
  log line saying why, then restarts it;
- listens (same transport and credentials as the worker) for ``restart``,
  ``kill`` and ``identity`` requests from the scheduler or a client.

Rules kept here: the nanny never runs tasks and never talks to the scheduler
itself; the worker process is the only thing it starts, and it leaves no
worker behind when it closes (a worker also watches its parent pid and exits
when the nanny is gone, see ``watch_parent``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from typing import Any, Callable, Sequence

import psutil

from .comm import CommClosedError, listen, parse_address
from .comm.sizes import format_bytes
from .memory import memory_fraction, parse_memory_limit
from .rpc import portable_exception
from .security import as_security
from .server_lifecycle import ServerLifecycle

logger = logging.getLogger("shoal.distributed.nanny")

__all__ = ["Nanny", "watch_parent", "restart_backoff"]


def restart_backoff(quick_deaths: int, *, first: float = 0.1, longest: float = 5.0) -> float:
    """Seconds to wait before restarting a worker after ``quick_deaths`` quick deaths in a row.

    Doubles from ``first`` so a crash loop does not spin the machine, capped at ``longest``.

    >>> [restart_backoff(n) for n in range(5)]
    [0.0, 0.1, 0.2, 0.4, 0.8]
    >>> restart_backoff(20)
    5.0
    """
    if quick_deaths <= 0:
        return 0.0
    return min(longest, first * 2 ** (quick_deaths - 1))


async def watch_parent(parent_pid: int, on_gone: Callable[[], Any], interval: float = 0.2) -> None:
    """Call ``on_gone()`` once the process ``parent_pid`` is no longer our parent.

    When a parent dies its children are re-parented (to init or a subreaper),
    so a changed ``os.getppid()`` means it is gone, even if killed with
    SIGKILL, which no handler of its own could report.
    """
    while os.getppid() == parent_pid:
        await asyncio.sleep(interval)
    on_gone()


def _worker_environment() -> dict:
    env = dict(os.environ)
    # The worker's output should reach the nanny's own stdout/stderr at once.
    env.setdefault("PYTHONUNBUFFERED", "1")
    # glibc keeps freed memory of large blocks in the heap unless told to trim
    # it: a worker that spilled its results would still look past its limit
    # (RSS) and be killed for memory it no longer uses.
    env.setdefault("MALLOC_TRIM_THRESHOLD_", "65536")
    return env


class Nanny(ServerLifecycle):
    """Supervise one worker process registered with ``scheduler_address``.

    ``worker_args``: further ``shoal-worker`` arguments for the worker
    (``--nthreads``, ``--name``, ``--memory-limit``, TLS flags, ...), passed
    unchanged. ``memory_limit`` (bytes, a size such as ``"2GB"``, or None) is what
    the nanny enforces.
    ``host``: the interface the nanny listens on. ``security``: TLS
    credentials for the nanny's listener when the cluster uses ``tls://``.
    ``start_timeout``: seconds for a worker to start and register.
    ``terminate_fraction``: kill the worker past this fraction of
    ``memory_limit`` (True: config ``distributed.worker.memory.terminate``;
    None: never), reading its RSS every ``poll_interval`` seconds.
    ``max_quick_deaths``: give up after this many deaths in a row of workers
    that lived less than ``quick_death_seconds`` each.
    ``env``: the worker's environment (default: ours, plus
    ``MALLOC_TRIM_THRESHOLD_`` so freed memory returns to the system).

    >>> Nanny("tcp://127.0.0.1:8786", worker_args=["--nthreads", "2"])
    <Nanny not started worker=None status=created>
    """

    server_kind = "nanny"

    def __init__(self, scheduler_address: str, worker_args: Sequence[str] = (), *,
                 memory_limit: int | None = None, host: str = "127.0.0.1", security: Any = None,
                 terminate_fraction: float | None | bool = True, poll_interval: float = 0.1,
                 max_quick_deaths: int = 5, quick_death_seconds: float = 10.0, start_timeout: float = 60.0,
                 env: dict | None = None):
        self.scheduler_address = scheduler_address
        self.worker_args = list(worker_args)
        # A size such as "2GB" as the Worker takes it (a string left here failed only in _watch's
        # background task, and the limit was silently never enforced).
        self.memory_limit = parse_memory_limit(memory_limit)
        self.terminate_fraction = memory_fraction("terminate") if terminate_fraction is True else terminate_fraction
        self.poll_interval = poll_interval
        self.max_quick_deaths = max_quick_deaths
        self.quick_death_seconds = quick_death_seconds
        self.start_timeout = start_timeout
        self.env = env
        scheme, _ = parse_address(scheduler_address)
        if scheme == "inproc":
            raise ValueError("A Nanny supervises a worker process, which cannot reach an inproc:// scheduler; "
                             "use a tcp:// or tls:// scheduler address (or a Worker without nanny).")
        self._listen_address = f"{scheme}://{host}:0"
        self.security = as_security(security)
        self.listener = None
        self.process: subprocess.Popen | None = None  # the current worker process
        self.worker_address: str | None = None
        self.status = "created"
        self.deaths = 0  # unexpected deaths, memory kills included
        self.memory_kills = 0
        self.gave_up = False  # True once the worker died max_quick_deaths times in a row
        self.quick_deaths = 0  # in a row: reset by a worker that lived long enough
        self._started_at = 0.0
        self._registered: asyncio.Event | None = None
        self._closed_event: asyncio.Event | None = None
        self._restart_lock: asyncio.Lock | None = None
        self._background_tasks: set = set()

    # ------------------------------------------------------------------ lifecycle
    # (address, await, async with, finished and _spawn: ServerLifecycle)
    @property
    def worker_pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def start(self) -> "Nanny":
        """Listen, start the worker and wait until it has registered with the scheduler."""
        if self.status == "running":
            return self
        self._closed_event = asyncio.Event()
        self._restart_lock = asyncio.Lock()
        self.listener = await listen(self._listen_address, self._handle_comm, **self.security.listen_args("worker"))
        self.status = "running"
        try:
            await self._start_worker()
        except BaseException:
            await self.close()
            raise
        return self

    async def close(self, timeout: float = 5.0) -> None:
        """Stop the worker (SIGTERM, then SIGKILL after ``timeout`` s) and the listener."""
        if self.status in ("closing", "closed", "created"):
            self.status = "closed" if self.status == "created" else self.status
            return
        self.status = "closing"
        proc, self.process = self.process, None
        if proc is not None:
            await _stop_process(proc, timeout)
        self._cancel_background_tasks()
        if self.listener is not None:
            await self.listener.stop(timeout=2.0)
        self._mark_closed()

    def __repr__(self) -> str:
        where = self.listener.contact_address if self.listener else "not started"
        return f"<Nanny {where} worker={self.worker_address} status={self.status}>"

    # ------------------------------------------------------------------ the worker process
    def worker_command(self) -> list:
        """The command line that starts the worker (it reports back to this nanny)."""
        # Later flags win in argparse, so ours override any the caller passed.
        return [sys.executable, "-m", "shoal.distributed.cli", "worker", self.scheduler_address,
                *self.worker_args, "--no-nanny", "--nanny-address", self.address,
                "--parent-pid", str(os.getpid())]

    async def _start_worker(self) -> None:
        """Start a worker process and wait until it says it registered (bounded)."""
        self._registered = asyncio.Event()
        self.worker_address = None
        loop = asyncio.get_running_loop()
        proc = subprocess.Popen(self.worker_command(), env=self.env or _worker_environment(),
                                stdin=subprocess.DEVNULL)
        self.process = proc
        self._started_at = loop.time()
        self._spawn(self._watch(proc))
        deadline = loop.time() + self.start_timeout
        while not self._registered.is_set():
            if proc.poll() is not None:
                raise RuntimeError(f"The worker process (pid {proc.pid}) exited with code {proc.returncode} "
                                   f"before registering with {self.scheduler_address}; see its output above.")
            if self.process is not proc:
                raise RuntimeError("The worker process was stopped before it registered (the nanny is closing "
                                   "or restarting it).")
            if loop.time() > deadline:
                raise TimeoutError(f"The worker process (pid {proc.pid}) did not register with "
                                   f"{self.scheduler_address} within {self.start_timeout} s.")
            try:
                await asyncio.wait_for(self._registered.wait(), 0.05)
            except asyncio.TimeoutError:
                pass
        logger.info("Nanny %s: worker %s (pid %d) registered", self.address, self.worker_address, proc.pid)

    async def _watch(self, proc: subprocess.Popen) -> None:
        """Until ``proc`` exits: poll its memory; then restart it unless that exit was asked for."""
        try:
            ps = psutil.Process(proc.pid)
        except psutil.Error:
            ps = None
        limit = None
        if self.memory_limit and self.terminate_fraction:
            limit = self.terminate_fraction * self.memory_limit
        reason = "died"
        while proc.poll() is None:
            if limit is not None and ps is not None:
                try:
                    rss = ps.memory_info().rss
                except psutil.Error:
                    rss = 0
                if rss > limit and self.process is proc:
                    logger.warning(
                        "Worker %s (pid %d) used %s of its %s memory limit: terminated",
                        self.worker_address or "(starting)", proc.pid, format_bytes(rss),
                        format_bytes(self.memory_limit),
                    )
                    self.memory_kills += 1
                    reason = "memory"
                    proc.kill()
                    await _wait_exit(proc, 5.0)
                    break
            await asyncio.sleep(self.poll_interval)
        if self.process is not proc or self.status != "running":
            return  # stopped on purpose (restart, kill, close)
        await self._worker_died(proc, reason)

    async def _worker_died(self, proc: subprocess.Popen, reason: str) -> None:
        code = proc.returncode
        self.process = None
        if code == 0 and reason != "memory":
            # The worker chose to stop (e.g. its scheduler told it to close): so do we.
            logger.info("Nanny %s: worker (pid %d) exited cleanly; the nanny closes too", self.address, proc.pid)
            self._spawn(self.close())
            return
        self.deaths += 1
        uptime = asyncio.get_running_loop().time() - self._started_at
        self.quick_deaths = self.quick_deaths + 1 if uptime < self.quick_death_seconds else 0
        if reason != "memory":
            logger.warning("Worker %s (pid %d) died unexpectedly (exit code %s) after %.1f s; restarting it",
                           self.worker_address, proc.pid, code, uptime)
        if self.quick_deaths >= self.max_quick_deaths:
            logger.error(
                "Nanny %s: the worker died %d times in a row within %.0f s of starting; giving up on it "
                "(check the worker's output above; the nanny closes)",
                self.address, self.quick_deaths, self.quick_death_seconds,
            )
            self.gave_up = True
            self._spawn(self.close())
            return
        await asyncio.sleep(restart_backoff(self.quick_deaths))
        if self.status != "running" or self.process is not None:
            return  # closed, or restarted by request, while we waited
        async with self._restart_lock:
            if self.status != "running" or self.process is not None:
                return
            try:
                await self._start_worker()
            except Exception as error:
                logger.error("Nanny %s could not restart its worker: %s", self.address, error)

    # ------------------------------------------------------------------ requests
    async def restart(self, timeout: float | None = None) -> dict:
        """Kill the worker and start a fresh one; returns its ``{"address", "pid"}`` once registered."""
        if self.status != "running":
            raise RuntimeError(f"Nanny {self!r} is not running; it cannot restart its worker.")
        async with self._restart_lock:
            proc, self.process = self.process, None
            if proc is not None:
                await _stop_process(proc, timeout=2.0)
            self.quick_deaths = 0
            if timeout is not None:
                await asyncio.wait_for(self._start_worker(), timeout)
            else:
                await self._start_worker()
        return {"address": self.worker_address, "pid": self.worker_pid}

    async def kill(self, timeout: float = 2.0) -> None:
        """Stop the worker and leave it stopped (until ``restart``)."""
        async with self._restart_lock:
            proc, self.process = self.process, None
            self.worker_address = None
            if proc is not None:
                await _stop_process(proc, timeout)

    async def handle_request(self, msg: dict) -> Any:
        op = msg.get("op")
        if op == "worker-started":
            proc = self.process
            if proc is not None and msg.get("pid") == proc.pid:
                self.worker_address = msg["address"]
                self._registered.set()
            return None
        if op == "restart":
            return await self.restart(msg.get("timeout"))
        if op == "kill":
            await self.kill()
            return None
        if op == "identity":
            return {"type": "Nanny", "address": self.address, "worker_address": self.worker_address,
                    "worker_pid": self.worker_pid, "pid": os.getpid(), "deaths": self.deaths,
                    "memory_kills": self.memory_kills, "memory_limit": self.memory_limit}
        raise ValueError(f"Unknown request op {op!r} sent to nanny {self.address}; "
                         "a nanny answers 'restart', 'kill', 'identity' and 'worker-started'.")

    async def _handle_comm(self, comm) -> None:
        try:
            while True:
                msg = await comm.read()
                try:
                    if not isinstance(msg, dict):
                        raise ValueError(f"Expected a message dict with an 'op', got {type(msg).__name__}")
                    reply = {"op": "reply", "result": await self.handle_request(msg)}
                except Exception as error:
                    reply = {"op": "reply", "error": portable_exception(error)}
                await comm.write(reply)
        except CommClosedError:
            pass


async def _wait_exit(proc: subprocess.Popen, timeout: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while proc.poll() is None:
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def _stop_process(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM (the worker unregisters cleanly), then SIGKILL after ``timeout`` s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    if not await _wait_exit(proc, timeout):
        proc.kill()
        await _wait_exit(proc, 5.0)
