"""Adaptive scaling: grow a cluster while tasks queue, shrink it when it idles.

Two parts, so the decision is testable without a cluster:

- ``recommend_workers(...)``: a pure function from what the scheduler sees
  (runnable tasks, tasks in progress, workers holding results) to a number
  of workers, clamped to ``[minimum, maximum]``.
- ``Adaptive(cluster, ...)``: runs that policy every ``interval`` seconds on
  the scheduler's event loop and calls ``cluster._scale(n)``. Growing happens
  at once; shrinking only after ``wait_count`` consecutive recommendations
  agree, so a short pause between two computations does not cancel jobs that
  took minutes to start.

Any cluster works that has an in-process ``scheduler``, an ``async
_scale(n)``, ``threads_per_worker`` and either ``planned_workers`` (workers
asked for, counting those still waiting in a batch queue) or ``workers``.
A cluster whose workers come in jobs of ``workers_per_job`` is only rescaled
when the number of jobs would change (``maximum`` may then be exceeded by
less than one job).

>>> recommend_workers(runnable_tasks=10, tasks_in_progress=10, current=1, threads_per_worker=2,
...                   workers_holding_data=0, minimum=0, maximum=4)
4
>>> recommend_workers(runnable_tasks=0, tasks_in_progress=0, current=3, threads_per_worker=2,
...                   workers_holding_data=1, minimum=0, maximum=4)
1
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
from typing import Any

logger = logging.getLogger("shoal.distributed.deploy.adaptive")

__all__ = ["Adaptive", "recommend_workers"]

# Tasks a worker could start now (or is running); "waiting" tasks still wait for inputs.
_RUNNABLE_STATES = ("queued", "no-worker", "processing")
_IN_PROGRESS_STATES = ("waiting",) + _RUNNABLE_STATES


def recommend_workers(*, runnable_tasks: int, tasks_in_progress: int, current: int, threads_per_worker: int,
                      workers_holding_data: int, minimum: int, maximum: float) -> int:
    """How many workers the cluster should have now.

    - more runnable tasks than threads: one thread per runnable task;
    - nothing in progress: only the workers that hold results (shrinking
      those would lose data that futures still point at);
    - otherwise: keep ``current``.

    >>> recommend_workers(runnable_tasks=3, tasks_in_progress=5, current=2, threads_per_worker=2,
    ...                   workers_holding_data=2, minimum=0, maximum=10)
    2
    >>> recommend_workers(runnable_tasks=0, tasks_in_progress=0, current=0, threads_per_worker=1,
    ...                   workers_holding_data=0, minimum=1, maximum=10)
    1
    """
    if runnable_tasks > current * threads_per_worker:
        wanted = math.ceil(runnable_tasks / max(threads_per_worker, 1))
    elif tasks_in_progress == 0:
        wanted = workers_holding_data
    else:
        wanted = current
    return int(max(minimum, min(wanted, maximum)))


def scheduler_load(scheduler: Any) -> dict:
    """The inputs of ``recommend_workers`` read from an in-process ``Scheduler``."""
    counts = scheduler.state.task_counts()
    return {
        "runnable_tasks": sum(counts.get(state, 0) for state in _RUNNABLE_STATES),
        "tasks_in_progress": sum(counts.get(state, 0) for state in _IN_PROGRESS_STATES),
        "workers_holding_data": sum(1 for ws in scheduler.state.workers.values() if ws.has_what),
    }


_SECONDS_PER_UNIT = {"ms": 1e-3, "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0, "m": 60.0, "min": 60.0,
                     "minute": 60.0, "minutes": 60.0, "h": 3600.0, "hour": 3600.0, "hours": 3600.0}


def _seconds(value: Any, name: str) -> float:
    """``value`` (a number of seconds, or a string such as ``"500ms"`` or ``"2s"`` as Dask's
    ``adapt(interval=...)`` takes) as seconds; a TypeError naming ``name`` for anything else.

    >>> _seconds("500ms", "interval"), _seconds(2, "interval"), _seconds("1.5 min", "interval")
    (0.5, 2.0, 90.0)
    """
    if isinstance(value, str):
        number = value.strip().rstrip("abcdefghijklmnopqrstuvwxyz ")
        unit = value.strip()[len(number):].strip() or "s"
        try:
            return float(number) * _SECONDS_PER_UNIT[unit]
        except (ValueError, KeyError):
            pass
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"adapt({name}=...) must be a number of seconds or a duration such as '500ms' or '2s', "
                    f"got {type(value).__name__} {value!r}")


def _count(value: Any, name: str, *, infinite_ok: bool = False) -> Any:
    """``value`` as a whole number of workers (``math.inf`` too where ``infinite_ok``); a
    TypeError naming ``name`` for anything else (a string failed in a comparison)."""
    if isinstance(value, float) and (value.is_integer() or (infinite_ok and value == math.inf)):
        return value if value == math.inf else int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"adapt({name}=...) must be a whole number of workers, got {type(value).__name__} {value!r}")
    return value


class Adaptive:
    """Scale ``cluster`` between ``minimum`` and ``maximum`` workers as load changes.

    ``interval``: seconds between decisions (or a duration such as ``"500ms"``); ``wait_count``: how many
    decisions in a row must ask for fewer workers before the cluster shrinks.
    ``log`` keeps the last scaling decisions as ``(time, from, to)``.
    """

    def __init__(self, cluster: Any, minimum: int = 0, maximum: float = math.inf, *, interval: float = 1.0,
                 wait_count: int = 3):
        minimum, maximum = _count(minimum, "minimum"), _count(maximum, "maximum", infinite_ok=True)
        interval, wait_count = _seconds(interval, "interval"), _count(wait_count, "wait_count")
        if minimum < 0 or maximum < minimum:
            raise ValueError(f"adapt(minimum={minimum}, maximum={maximum}): need 0 <= minimum <= maximum.")
        if interval <= 0 or wait_count < 1:
            raise ValueError(f"adapt(interval={interval}, wait_count={wait_count}): need interval > 0 "
                             "and wait_count >= 1.")
        self.cluster = cluster
        self.minimum, self.maximum = minimum, maximum
        self.interval, self.wait_count = interval, wait_count
        self.log: collections.deque = collections.deque(maxlen=100)
        self._shrink_votes = 0
        self._task: asyncio.Task | None = None

    def _current(self) -> int:
        planned = getattr(self.cluster, "planned_workers", None)
        return planned if planned is not None else len(self.cluster.workers)

    async def adapt_once(self) -> int:
        """Decide once, scale if the decision says so, and return the target."""
        forget_ended = getattr(self.cluster, "_forget_ended_jobs", None)
        if forget_ended is not None:  # batch jobs end by themselves (walltime): count only live ones
            await forget_ended()
        current = self._current()
        load = scheduler_load(self.cluster.scheduler)
        if getattr(self.cluster, "retires_gracefully", False) and load["workers_holding_data"]:
            # Its shrinking copies results to the workers that stay (LocalCluster): one worker must
            # stay to hold them, not every worker that holds some.
            load["workers_holding_data"] = 1
        target = recommend_workers(current=current, threads_per_worker=self.cluster.threads_per_worker,
                                   minimum=self.minimum, maximum=self.maximum, **load)
        per_job = getattr(self.cluster, "workers_per_job", 1)
        if math.ceil(target / per_job) == math.ceil(current / per_job):
            target = current  # the same jobs either way: nothing to submit or cancel
        if target < current:
            self._shrink_votes += 1
            if self._shrink_votes < self.wait_count:
                return current
        self._shrink_votes = 0
        if target != current:
            self.log.append((time.time(), current, target))
            logger.info("Adaptive scaling %s from %d to %d workers", self.cluster, current, target)
            await self.cluster._scale(target)
        return target

    def start(self) -> None:
        """Start deciding every ``interval`` seconds (call on the cluster's event loop)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                await self.adapt_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed sbatch must not end adaptivity; the next round retries
                logger.exception("Adaptive scaling of %s failed; retrying in %s s", self.cluster, self.interval)
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        """Stop deciding (the cluster keeps the workers it has)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    def __repr__(self) -> str:
        return f"<Adaptive minimum={self.minimum} maximum={self.maximum} interval={self.interval}>"
