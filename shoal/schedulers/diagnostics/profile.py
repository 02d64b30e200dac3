"""Profilers for local computations: when each task ran, and what the machine did.

``Profiler`` records one ``TaskData`` per task from the engine's hooks.
``ResourceProfiler`` samples memory and CPU of this process and its children
(the processes scheduler's workers) from a background thread. Both keep
times in seconds since the profiler's first computation (``time.perf_counter``
rebased), so their plots line up on one time axis; both accumulate results
over every computation they see until ``clear()`` or a new ``with`` block.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Hashable, Mapping, NamedTuple

from ..callbacks import Callback


class TaskData(NamedTuple):
    """One task's run: ``start_time`` is when the engine handed it to a worker,
    ``end_time`` when the engine saw its result, in seconds since the
    profiler's origin."""

    key: Hashable
    task: Any
    start_time: float
    end_time: float
    worker_id: int


class ResourceData(NamedTuple):
    """One sample: seconds since the profiler's origin, resident memory in MB
    (10**6 bytes), CPU percent (100 = one core busy), both summed over this
    process and its children."""

    time: float
    mem: float
    cpu: float


class _Recorder(Callback):
    """What both profilers share: a time origin, ``clear()``, ``visualize()``,
    and following only the outermost computation."""

    def __init__(self):
        super().__init__()
        self._graph: Mapping | None = None
        self.clear()

    def clear(self) -> None:
        """Forget every result; the next computation sets a new time origin."""
        self.results: list = []
        self._origin: float | None = None

    def __enter__(self):
        self.clear()
        return super().__enter__()

    def _begin(self, graph: Mapping) -> bool:
        """Start following ``graph``; False for a computation nested in a task."""
        if self._graph is not None:
            return False
        self._graph = graph
        if self._origin is None:
            self._origin = time.perf_counter()
        return True

    def _now(self) -> float:
        now = time.perf_counter()
        if self._origin is None:  # clear() was called mid-computation
            self._origin = now
        return now - self._origin

    def visualize(self, filename: str | None = "profile.html", show: bool = False, **kwargs):
        """Plot the results with Bokeh; see ``shoal.diagnostics.visualize``."""
        from .plot import visualize

        return visualize([self], filename=filename, show=show, **kwargs)


class Profiler(_Recorder):
    """Record when every task ran and on which worker.

    ``results`` holds ``TaskData(key, task, start_time, end_time, worker_id)``
    in the order the tasks finished.

    >>> from operator import add
    >>> from shoal.taskgraph import DataNode, Ref, Task
    >>> from shoal.schedulers import get_scheduler
    >>> graph = {"x": DataNode("x", 1), "y": Task("y", add, Ref("x"), 10)}
    >>> with Profiler() as prof:
    ...     get_scheduler("sync")(graph, "y")
    11
    >>> [r.key for r in prof.results]
    ['x', 'y']
    """

    def clear(self) -> None:
        super().clear()
        self._started: dict = {}

    def start(self, graph: Mapping) -> None:
        if self._begin(graph):
            self._started = {}

    def pretask(self, key: Hashable, graph: Mapping, state: Any) -> None:
        if graph is self._graph:
            self._started[key] = self._now()

    def posttask(self, key: Hashable, result: Any, graph: Mapping, state: Any, worker_id: int) -> None:
        if graph is self._graph:
            end = self._now()
            start = self._started.pop(key, end)
            self.results.append(TaskData(key, graph[key], start, end, worker_id))

    def finish(self, graph: Mapping, state: Any, errored: bool) -> None:
        if graph is self._graph:
            self._graph = None
            self._started = {}


class ResourceProfiler(_Recorder):
    """Sample memory and CPU every ``dt`` seconds while a computation runs.

    Counts this process plus all its child processes, so the processes
    scheduler's workers are included. A sample is also taken when the
    computation finishes, so even a short one yields at least one.
    ``results`` holds ``ResourceData(time, mem, cpu)``.
    """

    def __init__(self, dt: float = 1.0):
        if dt <= 0:
            raise ValueError(f"ResourceProfiler(dt={dt!r}): dt is the sampling interval in seconds and must be positive")
        self.dt = dt
        self._sampler: _Sampler | None = None
        super().__init__()

    def start(self, graph: Mapping) -> None:
        if self._begin(graph):
            self._stop_sampler()
            self._sampler = _Sampler(self.dt, self._now, self._append)
            self._sampler.start()

    def finish(self, graph: Mapping, state: Any, errored: bool) -> None:
        if graph is self._graph:
            self._stop_sampler()
            self._graph = None

    def __exit__(self, *exc_info) -> None:
        self._stop_sampler()
        self._graph = None
        super().__exit__(*exc_info)

    def _append(self, sample: ResourceData) -> None:
        self.results.append(sample)  # the current list, even after clear()

    def close(self) -> None:
        """Stop sampling now (also done at ``finish`` and when a ``with`` block ends)."""
        self._stop_sampler()

    def _stop_sampler(self) -> None:
        sampler, self._sampler = self._sampler, None
        if sampler is not None:
            sampler.stop()


class _Sampler:
    """A thread passing a ``ResourceData`` to ``append`` every ``dt`` seconds."""

    def __init__(self, dt: float, clock, append):
        import psutil  # a dependency, but only needed once someone profiles

        self._psutil = psutil
        self.dt = dt
        self.clock = clock
        self.append = append
        self.process = psutil.Process(os.getpid())
        # psutil reports CPU since the previous call on the same Process
        # object, so keep one object per child for as long as it lives.
        self._children: dict[int, Any] = {}
        self._last_sample = 0.0
        self._sampled = False  # whether this computation has a real sample yet
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shoal-resource-profiler", daemon=True)

    def start(self) -> None:
        self._measure()  # prime the CPU counters; this first reading is meaningless
        self._last_sample = time.perf_counter()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        # One last sample so a computation shorter than ``dt`` still shows up;
        # skipped when the previous one is so recent its CPU reading would be noise.
        if not self._sampled or time.perf_counter() - self._last_sample >= self.dt / 2:
            self._record()

    def _run(self) -> None:
        while not self._stop.wait(self.dt):
            self._record()

    def _record(self) -> None:
        mem, cpu = self._measure()
        self._last_sample = time.perf_counter()
        self._sampled = True
        self.append(ResourceData(self.clock(), mem, cpu))

    def _measure(self) -> tuple[float, float]:
        psutil = self._psutil
        gone = (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess)
        rss = self.process.memory_info().rss
        cpu = self.process.cpu_percent()
        try:
            children = self.process.children(recursive=True)
        except gone:
            children = []
        alive = {}
        for child in children:
            known = self._children.get(child.pid, child)
            try:
                rss += known.memory_info().rss
                cpu += known.cpu_percent()
            except gone:
                continue
            alive[child.pid] = known
        self._children = alive
        return rss / 1e6, cpu
