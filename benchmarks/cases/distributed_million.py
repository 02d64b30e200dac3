"""Distributed at scale: graphs of ``size * 50`` trivial tasks (1,000,000 at the default size).

- ``distributed-million-map``: ``client.map(inc, range(n))`` then ``gather``;
- ``distributed-million-array-sum``: ``(x + 1).sum()`` of a ``shoal.array`` /
  ``dask.array`` cut into ``n / 2`` chunks of 2 elements.

Both run on a LocalCluster of 2 worker processes x 1 thread (set up untimed,
as in ``distributed_futures``). The map case also measures the **scheduler's
memory per task**: the scheduler's RSS (asked from the scheduler itself with
``run_on_scheduler``) while all ``n`` results are held, minus its RSS before
the graph was submitted, divided by ``n``. The runner's table shows times;
the memory figure is printed on stderr, and running this module prints both
libraries side by side::

    python -m benchmarks.cases.distributed_million --size 2000   # 100,000 tasks
    python -m benchmarks.cases.distributed_million --size 2000 --phases   # µs/task of each step

>>> tasks_for(20_000), tasks_for(1)
(1000000, 50)
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from typing import Any

from .distributed_futures import _ClusterCase, inc

TASKS_PER_SIZE = 50


def tasks_for(size: int) -> int:
    return size * TASKS_PER_SIZE


def scheduler_rss() -> int:
    """The resident memory of the process this runs in (the scheduler's, through run_on_scheduler)."""
    import psutil

    return psutil.Process().memory_info().rss


def map_gather_measuring_memory(client: Any, n: int) -> tuple[list, float]:
    """``gather(map(inc, range(n)))`` and the scheduler's bytes per task while the results are held."""
    import gc

    client.run_on_scheduler(gc.collect)
    before = client.run_on_scheduler(scheduler_rss)
    futures = client.map(inc, range(n))
    results = client.gather(futures)
    during = client.run_on_scheduler(scheduler_rss)
    del futures
    return results, (during - before) / n


def array_sum(lib: Any, client: Any, n: int) -> int:
    array = importlib.import_module(f"{lib.__name__}.array")
    x = array.arange(n, chunks=2)
    return int((x + 1).sum().compute(scheduler=client))


class MillionMapCase(_ClusterCase):
    name = "distributed-million-map"

    def task_count(self, size: int) -> int:
        return tasks_for(size)

    def workload(self, lib: Any) -> list:
        results, self.bytes_per_task = map_gather_measuring_memory(self.client, tasks_for(self.size))
        print(f"{self.name} {lib.__name__}: scheduler memory {self.bytes_per_task:,.0f} B/task", file=sys.stderr)
        return results

    def expected(self, size: int) -> list:
        return [i + 1 for i in range(tasks_for(size))]


class MillionArraySumCase(_ClusterCase):
    name = "distributed-million-array-sum"

    def task_count(self, size: int) -> int:
        return tasks_for(size)

    def workload(self, lib: Any) -> int:
        return array_sum(lib, self.client, tasks_for(self.size))

    def expected(self, size: int) -> int:
        n = tasks_for(size)
        return n * (n - 1) // 2 + n


def cases() -> list:
    return [MillionMapCase(), MillionArraySumCase()]


def phases(n: int) -> dict:
    """Microseconds per task of each step a graph of ``n`` map tasks takes on its way, no cluster.

    Client: build the ``{key: Task}`` graph, ``graph_wire.encode``, frame it
    (``comm.serialize.dumps``); scheduler: ``loads``, ``decode``, ``order``,
    ``SchedulerState.update_graph`` (which calls ``order`` again), then every
    task's transitions up to memory on 2 simulated workers (each
    ``handle_task_finished`` answered at once). ``state bytes/task``: what the
    scheduler's state holds per task afterwards (tracemalloc, graph included).
    """
    import gc
    import time
    import tracemalloc

    from shoal.distributed import graph_wire
    from shoal.distributed.comm.serialize import dumps, loads
    from shoal.distributed.state import SchedulerState
    from shoal.taskgraph import Task, order

    timings: dict = {}

    def timed(name, function, *args):
        start = time.perf_counter()
        value = function(*args)
        timings[name] = (time.perf_counter() - start) * 1e6 / n
        return value

    keys = [f"inc-{i:032x}" for i in range(n)]
    graph = timed("build graph", lambda: {k: Task(k, inc, i) for i, k in enumerate(keys)})
    wire = timed("encode", graph_wire.encode, graph)
    frames = timed("dumps", dumps, {"op": "update-graph", "graph": wire, "keys": keys})
    del graph, wire
    state = SchedulerState()
    state.add_worker("w1", 1)
    state.add_worker("w2", 1)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()  # tracing slows allocation: measure memory in a second pass
    msg = timed("loads", loads, frames)
    decoded = timed("decode", graph_wire.decode, msg["graph"])
    timed("order", order, decoded)
    with graph_wire.paused_gc():  # as the Scheduler runs it
        timed("update_graph", state.update_graph, "client", decoded, msg["keys"])
    del decoded, msg

    def run_all():
        done = 0
        while done < n:  # bounded: each pass finishes at least one task or fails
            progressed = False
            for address in ("w1", "w2"):
                for ts in list(state.workers[address].processing)[:2]:
                    state.handle_task_finished(address, ts.key, nbytes=28, duration=1e-4)
                    done += 1
                    progressed = True
            if not progressed:
                raise RuntimeError(f"simulated run stalled after {done} of {n} tasks")

    timed("transitions to memory", run_all)
    gc.collect()
    tracemalloc.start()
    state2 = SchedulerState()
    msg = loads(frames)
    state2.update_graph("client", graph_wire.decode(msg["graph"]), msg["keys"])
    del msg
    gc.collect()
    timings["state bytes/task"] = (tracemalloc.get_traced_memory()[0] - before) / n
    tracemalloc.stop()
    return timings


def _measure_in_this_process(lib: str, size: int) -> None:
    import time

    case = MillionMapCase()
    case.setup(lib, size)
    start = time.perf_counter()
    results = case.workload(case.lib)
    seconds = time.perf_counter() - start
    assert results == case.expected(size), f"{lib}: wrong results"
    print(f"RESULT {lib} {seconds:.3f} {case.bytes_per_task:.1f}", flush=True)
    case._close()


def main(argv: list | None = None) -> int:
    """Both libraries, each in a fresh interpreter: seconds and scheduler bytes per task, and the ratios."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--size", type=int, default=20_000, help="tasks = size * 50 (default 20,000: 1M tasks)")
    parser.add_argument("--lib", choices=["shoal", "dask"], help=argparse.SUPPRESS)
    parser.add_argument("--phases", action="store_true",
                        help="time each step of shoal's submission and scheduling in this process, no cluster")
    args = parser.parse_args(argv)
    if args.phases:
        for name, value in phases(tasks_for(args.size)).items():
            print(f"{name:24s} {value:10.2f}")
        return 0
    if args.lib:
        _measure_in_this_process(args.lib, args.size)
        return 0
    figures = {}
    for lib in ("shoal", "dask"):
        out = subprocess.run([sys.executable, "-m", "benchmarks.cases.distributed_million", "--size",
                              str(args.size), "--lib", lib], capture_output=True, text=True, check=True).stdout
        _, _, seconds, per_task = next(line for line in out.splitlines() if line.startswith("RESULT")).split()
        figures[lib] = (float(seconds), float(per_task))
        print(f"{lib:6s} {tasks_for(args.size):>9,} tasks  {figures[lib][0]:8.2f} s  "
              f"{figures[lib][1]:8,.0f} B/task scheduler memory", flush=True)
    (ts, ms), (td, md) = figures["shoal"], figures["dask"]
    print(f"ratio shoal/dask: time {ts / td:.2f}x, scheduler memory per task {ms / md:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
