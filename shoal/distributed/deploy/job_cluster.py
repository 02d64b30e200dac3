"""``JobCluster``: a scheduler in this process, workers started as batch jobs.

The common part of clusters whose workers a resource manager starts (Slurm
now; PBS or LSF would be a subclass of ~60 lines). The scheduler runs in
this process, on the shared event loop thread, listening on an address the
compute nodes can reach. Each job runs one generated shell script whose last
line is::

    exec PYTHON -m shoal.distributed.cli worker tcp://SCHEDULER:PORT --nthreads T --nworkers P
        --name JOBNAME-$JOB_ID ... --no-reconnect

so a worker's name says which job started it (``scale`` down uses that to
cancel the jobs holding the least data), and a worker whose scheduler is gone
exits, ending its job instead of burning an allocation.

A subclass says how to talk to its resource manager:

- ``header_lines()``: the directives at the top of the script (``#SBATCH ...``);
- ``submit_command()`` / ``parse_job_id(stdout)``: submit the script (fed on stdin);
- ``cancel_command(job_ids)``;
- ``status_command()`` / ``parse_job_states(stdout)``: ``{job_id: state}`` of live jobs;
- ``job_id_variable``: the environment variable holding the job id inside a job.

Commands run in a worker thread (``asyncio.to_thread``), so a slow
controller never blocks the scheduler's loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import shlex
import socket
import sys
import weakref
from typing import Any

from ..comm.sizes import parse_bytes
from ..loop_thread import LoopThread
from ..scheduler import Scheduler
from ..security import as_security
from .adaptive import Adaptive
from .commands import run_command

logger = logging.getLogger("shoal.distributed.deploy")

__all__ = ["JobCluster", "reachable_host"]


def reachable_host() -> str:
    """The IP address of the interface this host uses to reach others (127.0.0.1 without a network).

    Connecting a UDP socket sends no packet; it only asks the kernel which
    interface a route would use. Hostnames are not trusted: Debian maps its
    own name to 127.0.1.1, which no other node can reach.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.254.254.254", 1))
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def _cancel_at_exit(cancel_argv: Any, job_ids: dict) -> None:
    # The weakref finalizer: a cluster never closed must not leave jobs queued.
    if job_ids:
        try:
            run_command(cancel_argv(list(job_ids)), timeout=30)
        except Exception:
            pass
        job_ids.clear()


class JobCluster:
    """Scheduler here, each worker group a job of ``cores`` cores and ``memory`` bytes.

    ``processes``: worker processes per job (threads per worker = cores // processes).
    ``python``: the interpreter on the compute nodes. ``env_extra``: shell lines
    run before the worker starts (``module load ...``, ``source venv/bin/activate``).
    ``host``/``scheduler_port``: where the scheduler listens (default: this host's
    outward interface, a free port). ``worker_host``: the interface workers listen
    on inside the job. ``n_workers``: workers to ask for at once.
    ``worker_extra_args``: more ``shoal-worker`` flags (``["--no-nanny"]``).
    ``security``: a ``Security`` (TLS between all members; its files must be
    readable at the same paths on the compute nodes, e.g. on a shared file
    system), or True for a temporary one (single-host clusters only).
    """

    #: shell variable holding the job's id inside a job script
    job_id_variable = "JOB_ID"
    #: scaling down retires workers first (their results move): Adaptive need only keep one
    retires_gracefully = True

    def __init__(self, *, cores: int, memory: int | str | None = None, processes: int = 1,
                 python: str = sys.executable, job_name: str = "shoal-worker", log_directory: str | None = None,
                 env_extra: list | tuple = (), host: str | None = None, scheduler_port: int = 0,
                 worker_host: str = "0.0.0.0", dashboard_address: str | None = None, n_workers: int = 0,
                 death_timeout: float = 60.0, command_timeout: float = 60.0, security: Any = None,
                 worker_extra_args: list | tuple = (), **scheduler_options: Any):
        if not isinstance(cores, int) or cores < 1:
            raise ValueError(f"cores must be a positive integer (cores per job), got {cores!r}.")
        if not isinstance(processes, int) or not 1 <= processes <= cores:
            raise ValueError(f"processes must be an integer between 1 and cores={cores}, got {processes!r}.")
        if not job_name or any(c.isspace() or c in "/'\"$" for c in job_name):
            raise ValueError(f"job_name {job_name!r} must be non-empty without spaces, quotes, '/' or '$'.")
        self.cores, self.processes = cores, processes
        self.threads_per_worker = max(1, cores // processes)
        self.memory = None if memory is None else parse_bytes(memory)
        self.python, self.job_name = python, job_name
        self.log_directory = None if log_directory is None else os.path.abspath(os.path.expanduser(log_directory))
        self.env_extra = list(env_extra)
        self.worker_extra_args = [str(arg) for arg in worker_extra_args]
        self.host = host or reachable_host()
        self.scheduler_port, self.worker_host = scheduler_port, worker_host
        self.death_timeout, self.command_timeout = death_timeout, command_timeout
        self.scheduler_options = dict(scheduler_options, dashboard_address=dashboard_address)
        self.security = as_security(security)  # Client(cluster) uses it too
        self.scheduler: Scheduler | None = None
        self.jobs: dict = {}  # job id -> None, in submission order (oldest first)
        self.job_refresh_interval = 10.0  # seconds between status commands while adaptive
        self._next_refresh = 0.0
        self.status = "created"
        self._adaptive: Adaptive | None = None
        self._finalizer = weakref.finalize(self, _cancel_at_exit, type(self).cancel_command, self.jobs)
        if self.log_directory is not None:
            os.makedirs(self.log_directory, exist_ok=True)
        self._loop_thread = LoopThread.acquire()
        try:
            self._loop_thread.run(self._start, timeout=command_timeout + 30)
            if n_workers:
                self.scale(n_workers)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ what a subclass provides
    def header_lines(self) -> list:
        """Resource-manager directives at the top of the job script."""
        return []

    def submit_command(self) -> list:
        raise NotImplementedError

    def parse_job_id(self, stdout: str) -> str:
        return stdout.strip()

    @classmethod
    def cancel_command(cls, job_ids: list) -> list:
        # A classmethod: the exit-time finalizer must not hold the cluster alive.
        raise NotImplementedError

    def status_command(self) -> list:
        raise NotImplementedError

    def parse_job_states(self, stdout: str) -> dict:
        raise NotImplementedError

    # ------------------------------------------------------------------ the job script
    @property
    def worker_memory_limit(self) -> int | None:
        """Bytes each worker process announces (the job's memory shared among its processes)."""
        return None if self.memory is None else self.memory // self.processes

    def worker_command(self) -> str:
        """The shell command a job runs: ``shoal-worker`` pointed at this scheduler."""
        argv = [self.python, "-m", "shoal.distributed.cli", "worker", self.scheduler_address,
                "--nthreads", str(self.threads_per_worker), "--nworkers", str(self.processes),
                "--host", self.worker_host, "--connect-timeout", str(self.death_timeout), "--no-reconnect"]
        if self.worker_memory_limit is not None:
            argv += ["--memory-limit", str(self.worker_memory_limit)]
        argv += self.security.cli_arguments("worker") + self.worker_extra_args
        # The name is expanded by the job's shell, so it carries the job id.
        name = shlex.quote(f"{self.job_name}-") + "${" + self.job_id_variable + "}"
        return f"{shlex.join(argv)} --name {name}"

    def job_script(self) -> str:
        """The script each job runs: directives, ``env_extra`` lines, then the worker command."""
        lines = ["#!/usr/bin/env bash", *self.header_lines(), *self.env_extra, f"exec {self.worker_command()}"]
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ starting
    async def _start(self) -> None:
        scheme = "tls" if self.security.tls_enabled else "tcp"
        self.scheduler = Scheduler(f"{scheme}://{self.host}:{self.scheduler_port}", security=self.security,
                                   **self.scheduler_options)
        await self.scheduler.start()
        self.status = "running"

    @property
    def scheduler_address(self) -> str:
        return self.scheduler.address

    @property
    def dashboard_link(self) -> str | None:
        """The URL of the ``/status`` dashboard page (``dashboard_address=`` starts one)."""
        dashboard = self.scheduler.dashboard if self.scheduler is not None else None
        return dashboard.link if dashboard is not None else None

    def _sync(self, coroutine_function, *args: Any, timeout: float | None = None) -> Any:
        if self.status != "running":
            raise RuntimeError(f"{type(self).__name__} is {self.status}; create a new one.")
        return self._loop_thread.run(coroutine_function, *args, timeout=timeout or self.command_timeout * 4)

    async def _run(self, argv: list, input: str | None = None) -> str:
        return await asyncio.to_thread(run_command, argv, input=input, timeout=self.command_timeout)

    # ------------------------------------------------------------------ jobs
    @property
    def workers_per_job(self) -> int:
        """Workers each job starts (``processes``): the step in which the cluster grows and shrinks."""
        return self.processes

    @property
    def planned_workers(self) -> int:
        """Workers asked for: those running plus those whose jobs still wait in the queue."""
        return len(self.jobs) * self.processes

    async def _submit_job(self) -> str:
        job_id = self.parse_job_id(await self._run(self.submit_command(), input=self.job_script()))
        logger.info("Submitted job %s for %d shoal worker(s)", job_id, self.processes)
        return job_id

    async def _cancel_jobs(self, job_ids: list) -> None:
        await self._run(self.cancel_command(job_ids))

    async def _job_states(self) -> dict:
        states = self.parse_job_states(await self._run(self.status_command()))
        return {job_id: state for job_id, state in states.items() if job_id in self.jobs}

    def job_states(self) -> dict:
        """``{job_id: state}`` of this cluster's jobs the resource manager still lists."""
        return self._sync(self._job_states)

    async def _forget_ended_jobs(self) -> None:
        """Drop jobs the resource manager no longer lists (walltime reached, node failure, scancel by hand).

        Adaptive scaling calls this, at most every ``job_refresh_interval``
        seconds, so a job that ended on its own is replaced rather than
        counted forever. A failing status command changes nothing.
        """
        loop = asyncio.get_running_loop()
        if not self.jobs or loop.time() < self._next_refresh:
            return
        self._next_refresh = loop.time() + self.job_refresh_interval
        submitted = list(self.jobs)
        try:
            listed = await self._job_states()
        except Exception as error:
            logger.warning("Could not list the jobs of %s: %s", self, error)
            return
        for job_id in submitted:  # jobs submitted while we asked are not judged on this answer
            if job_id not in listed:
                logger.info("Job %s ended on its own; forgetting it", job_id)
                self.jobs.pop(job_id, None)

    def _job_of_worker(self, worker_name: Any) -> str | None:
        prefix = f"{self.job_name}-"
        name = str(worker_name)
        if not name.startswith(prefix):
            return None
        rest = name[len(prefix):]
        job_id = rest.rsplit("-", 1)[0] if self.processes > 1 else rest
        return job_id if job_id in self.jobs else None

    def _jobs_by_cancel_preference(self) -> list:
        """Jobs to cancel first: those without workers yet, then those holding the fewest bytes, newest."""
        held: dict = {}
        for ws in self.scheduler.state.workers.values():
            job_id = self._job_of_worker(ws.name)
            if job_id is not None:
                held[job_id] = held.get(job_id, 0) + ws.nbytes + 1  # +1: a running job beats a pending one
        age = {job_id: i for i, job_id in enumerate(self.jobs)}
        return sorted(self.jobs, key=lambda job_id: (held.get(job_id, 0), -age[job_id]))

    def scale(self, n: int | None = None, *, jobs: int | None = None) -> None:
        """Ask for ``n`` workers (``ceil(n / processes)`` jobs), or for ``jobs`` jobs.

        Returns once the jobs are submitted or cancelled; jobs may wait in the
        queue, see ``wait_for_workers``. Scaling down cancels jobs still
        queued first, then those whose workers hold the fewest bytes, after
        retiring their workers (their results move to the workers that stay).
        Stops adaptive scaling.
        """
        if (n is None) == (jobs is None):
            raise TypeError("scale() takes exactly one of n (workers) or jobs=.")
        wanted = jobs if jobs is not None else n
        if not isinstance(wanted, int) or wanted < 0:
            raise ValueError(f"scale(): the number of workers/jobs must be an integer >= 0, got {wanted!r}.")
        self._sync(self._stop_adaptive)
        self._sync(self._scale, wanted * self.processes if jobs is not None else wanted)

    async def _scale(self, n: int) -> None:
        wanted_jobs = math.ceil(n / self.processes)
        while len(self.jobs) < wanted_jobs:
            self.jobs[await self._submit_job()] = None
        if len(self.jobs) > wanted_jobs:
            to_cancel = self._jobs_by_cancel_preference()[: len(self.jobs) - wanted_jobs]
            if wanted_jobs:  # someone is left to take their results
                await self._retire_workers_of(to_cancel)
            await self._cancel_jobs(to_cancel)
            for job_id in to_cancel:
                self.jobs.pop(job_id, None)

    async def _retire_workers_of(self, job_ids: list) -> None:
        """Move the results held by these jobs' workers to other workers before the jobs are cancelled."""
        addresses = [address for address, ws in self.scheduler.state.workers.items()
                     if self._job_of_worker(ws.name) in job_ids]
        if not addresses:
            return
        try:
            # close=False: the resource manager ends the processes (and the job) itself.
            await self.scheduler.retire_workers(addresses, close=False, timeout=self.death_timeout)
        except Exception as error:  # cancel anyway: lost results are recomputed from their lineage
            logger.warning("Could not retire workers %s before cancelling jobs %s (%s); their results "
                           "will be recomputed if needed", addresses, job_ids, error)

    def wait_for_workers(self, n: int, timeout: float = 120.0) -> None:
        """Block until ``n`` workers have registered with the scheduler."""
        self._sync(self._wait_for_workers, n, timeout, timeout=timeout + self.command_timeout + 10)

    async def _wait_for_workers(self, n: int, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.scheduler.state.workers) < n:
            if loop.time() > deadline:
                try:
                    states = await self._job_states()
                except Exception as error:  # the report must not hide the timeout
                    states = f"unknown ({error})"
                raise TimeoutError(
                    f"{len(self.scheduler.state.workers)} of {n} workers registered with {self.scheduler_address} "
                    f"within {timeout} s. Job states: {states}. Pending jobs wait for the resource manager; "
                    f"running jobs whose workers never connect log why in "
                    f"{self.log_directory or 'the job output files'}.")
            await asyncio.sleep(0.1)

    # ------------------------------------------------------------------ adaptivity
    def adapt(self, minimum: int = 0, maximum: float = math.inf, *, interval: float = 1.0,
              wait_count: int = 3) -> Adaptive:
        """Scale between ``minimum`` and ``maximum`` workers as tasks queue and drain (see ``Adaptive``)."""
        adaptive = Adaptive(self, minimum, maximum, interval=interval, wait_count=wait_count)

        async def start() -> None:
            await self._stop_adaptive()
            self._adaptive = adaptive
            adaptive.start()

        self._sync(start)
        return adaptive

    async def _stop_adaptive(self) -> None:
        if self._adaptive is not None:
            await self._adaptive.stop()
            self._adaptive = None

    # ------------------------------------------------------------------ information
    def scheduler_info(self) -> dict:
        """The scheduler's view of the cluster (workers, tasks)."""
        async def info() -> dict:
            return self.scheduler.info()

        return self._sync(info)

    # ------------------------------------------------------------------ closing
    def close(self, timeout: float = 60.0) -> None:
        """Cancel every job, wait (up to ``timeout`` s) until the resource manager lists none, stop the scheduler."""
        try:
            if self.status == "running":
                self._loop_thread.run(self._close, timeout, timeout=timeout + self.command_timeout + 10)
        finally:
            self._finalizer()  # cancels whatever is left if _close could not
            self.status = "closed"
            if self._loop_thread is not None:
                LoopThread.release(self._loop_thread)
                self._loop_thread = None

    async def _close(self, timeout: float) -> None:
        self.status = "closing"
        await self._stop_adaptive()
        try:
            if self.jobs:
                await self._cancel_jobs(list(self.jobs))
                await self._wait_jobs_gone(timeout)
                self.jobs.clear()
        finally:
            if self.scheduler is not None:
                await self.scheduler.close()

    async def _wait_jobs_gone(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            states = await self._job_states()
            if not states:
                return
            if loop.time() > deadline:
                logger.warning("Jobs %s still listed %s s after being cancelled", states, timeout)
                return
            await asyncio.sleep(0.25)

    def __enter__(self) -> "JobCluster":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self.scheduler.address if self.scheduler is not None and self.scheduler.listener else "not started"
        return (f"<{type(self).__name__} {where} jobs={len(self.jobs)} workers/job={self.processes} "
                f"cores/job={self.cores} status={self.status}>")
