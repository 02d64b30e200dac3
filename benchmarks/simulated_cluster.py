"""A simulated large cluster: the real ``SchedulerState`` against hundreds of simulated workers.

No sockets, no threads, no task really runs. Each simulated worker is a real
``WorkerState`` (the same state machine a worker process runs); what would
take time happens on a simulated clock instead:

- a task "runs" for a duration drawn for its kind (log-normal around a mean)
  and produces an output of a given size;
- fetching inputs from a peer takes ``latency + bytes / bandwidth``;
- every message between the scheduler and a worker takes ``latency``.

Events wait in a heap ordered by simulated time. Only the scheduler's own
work is timed on the real clock (the CPU seconds spent inside
``SchedulerState`` calls), so what this measures is the cost of scheduling
decisions and their quality, at cluster sizes this machine could never run:

- scheduler µs per task and decisions per second (tasks / scheduler seconds);
- efficiency: the ideal makespan (total task seconds / total threads, or the
  critical path if longer) over the simulated makespan;
- bytes moved between workers, as a fraction of all output bytes;
- balance: the busiest worker's busy seconds over the mean.

Run: ``python -m benchmarks.simulated_cluster`` (about a minute or two on
2 cores) writes ``benchmarks/results/simulated_cluster.json`` and a Bokeh
page ``simulated_cluster.html`` with the curves; ``--quick`` runs small sizes.

>>> row = simulate("independent", n_workers=4, tasks_per_worker=5)
>>> row["tasks"], row["completed"]
(40, 40)
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import math
import random
import time
from pathlib import Path

from shoal.distributed.state import Execute, GatherDep, SchedulerState, ToScheduler, WorkerState
from shoal.taskgraph import Ref, Task

CLIENT = "simulated-client"
RESULTS = Path(__file__).with_name("results")

#: mean duration (s) and output size (bytes) per task kind
KINDS = {
    "leaf": (0.050, 1_000_000),
    "combine": (0.005, 1_000_000),
    "inc": (0.010, 1_000),
    "map": (0.050, 4_000_000),
    "reduce": (0.020, 1_000_000),
}


def _never_called(*args):
    raise AssertionError("simulated tasks never run")


def _task(name: str, i: int, *deps) -> tuple:
    key = (name, i)
    return key, Task(key, _never_called, *[Ref(d) for d in deps])


# ------------------------------------------------------------------ workloads (graph, output keys)


def independent(n_tasks: int) -> tuple:
    """``n_tasks`` tasks with no inputs (``client.map``)."""
    graph = dict(_task("inc", i) for i in range(n_tasks))
    return graph, list(graph)


def tree(n_tasks: int, fan_in: int = 8) -> tuple:
    """Leaves summed by a tree of ``fan_in``-input combines (a reduction)."""
    leaves = max(n_tasks * (fan_in - 1) // fan_in, 1)
    graph = dict(_task("leaf", i) for i in range(leaves))
    level = [("leaf", i) for i in range(leaves)]
    counter = itertools.count()
    while len(level) > 1:
        nxt = []
        for g in range(0, len(level), fan_in):
            key, node = _task("combine", next(counter), *level[g:g + fan_in])
            graph[key] = node
            nxt.append(key)
        level = nxt
    return graph, level


def map_reduce(n_tasks: int, fan_in: int = 8) -> tuple:
    """Half maps, half reduces; reduce ``r`` reads ``fan_in`` maps spread over the whole input
    (one stage of a staged shuffle), so most inputs live on another worker."""
    n = max(n_tasks // 2, fan_in)
    graph = dict(_task("map", i) for i in range(n))
    stride = max(n // fan_in, 1)
    for r in range(n):
        deps = {("map", (r + j * stride) % n) for j in range(fan_in)}
        key, node = _task("reduce", r, *sorted(deps))
        graph[key] = node
    return graph, [("reduce", r) for r in range(n)]


WORKLOADS = {"independent": independent, "tree": tree, "map-reduce": map_reduce}


# ------------------------------------------------------------------ the simulation


class SimulatedCluster:
    """The event loop: a heap of (simulated time, sequence, event)."""

    def __init__(self, n_workers: int, nthreads: int = 2, *, bandwidth: float = 1e9, latency: float = 0.001,
                 seed: int = 0):
        self.state = SchedulerState()
        self.nthreads = nthreads
        self.bandwidth, self.latency = bandwidth, latency
        self.rng = random.Random(seed)
        self.now = 0.0
        self.events: list = []
        self.sequence = itertools.count()
        self.scheduler_seconds = 0.0
        self.bytes_moved = 0
        self.output_bytes = 0
        self.busy: dict = {}
        self.completed: set = set()
        self.workers: dict = {}
        for i in range(n_workers):
            address = f"sim://worker-{i}"
            self.workers[address] = WorkerState(address, nthreads)
            self.busy[address] = 0.0
            self._scheduler(self.state.add_worker, address, nthreads)

    # -------------------------------------------------------------- plumbing
    def _at(self, delay: float, *event) -> None:
        heapq.heappush(self.events, (self.now + delay, next(self.sequence), event))

    def _scheduler(self, method, *args, **kwargs) -> None:
        start = time.perf_counter()
        messages = method(*args, **kwargs)
        self.scheduler_seconds += time.perf_counter() - start
        for to, msg in messages:
            if to in self.workers:
                self._at(self.latency, "to-worker", to, msg)
            elif msg.get("op") == "key-in-memory":
                self.completed.add(msg["key"])

    def _follow(self, address: str, instructions: list) -> None:
        worker = self.workers[address]
        for ins in instructions:
            if type(ins) is Execute:
                mean, size = KINDS[ins.key[0]]
                duration = mean * math.exp(self.rng.gauss(-0.045, 0.3))  # log-normal, mean ~ ``mean``
                self.busy[address] += duration
                self._at(duration, "done", address, ins.key, self.now, size)
            elif type(ins) is GatherDep:
                peer = self.workers[ins.peer]
                nbytes = sum(peer.tasks[k].nbytes for k in ins.keys if k in peer.data)
                self.bytes_moved += nbytes
                self._at(self.latency + nbytes / self.bandwidth, "gathered", address, ins.peer, list(ins.keys))
            else:
                assert type(ins) is ToScheduler, ins
                self._at(self.latency, "to-scheduler", address, ins.msg)
        del worker

    def _handle(self, event: tuple) -> None:
        kind, address = event[0], event[1]
        worker = self.workers[address]
        if kind == "to-worker":
            self._follow(address, worker.handle_scheduler_message(event[2]))
        elif kind == "to-scheduler":
            self._scheduler(self.state.handle_worker_message, address, event[2])
        elif kind == "done":
            _, _, key, start, size = event
            self.output_bytes += size
            self._follow(address, worker.handle_execute_success(key, None, nbytes=size, start=start, stop=self.now))
        else:
            _, _, peer, keys = event
            source = self.workers[peer]
            data = {k: source.data[k] for k in keys if k in source.data}
            self._follow(address, worker.handle_gather_dep_success(peer, data, {k: source.tasks[k].nbytes for k in data}))

    def run(self, graph: dict, keys: list, max_events: int = 50_000_000) -> float:
        """Submit ``graph`` and run until ``keys`` are all in memory; the simulated makespan."""
        self._scheduler(self.state.update_graph, CLIENT, graph, keys)
        for _ in range(max_events):
            if not self.events or len(self.completed) >= len(keys):
                break
            self.now, _, event = heapq.heappop(self.events)
            self._handle(event)
        return self.now


def _critical_path(graph: dict) -> float:
    longest: dict = {}
    for key in graph:  # builders emit dependencies before dependents
        deps = graph[key].dependencies
        longest[key] = KINDS[key[0]][0] + max((longest[d] for d in deps), default=0.0)
    return max(longest.values())


def simulate(workload: str, n_workers: int, tasks_per_worker: int = 50, nthreads: int = 2, seed: int = 0) -> dict:
    """One simulated run; a row of measurements."""
    graph, keys = WORKLOADS[workload](n_workers * tasks_per_worker)
    cluster = SimulatedCluster(n_workers, nthreads, seed=seed)
    makespan = cluster.run(graph, keys)
    task_seconds = sum(cluster.busy.values())
    ideal = max(task_seconds / (n_workers * nthreads), _critical_path(graph))
    mean_busy = task_seconds / n_workers
    return {
        "workload": workload, "workers": n_workers, "threads": n_workers * nthreads, "tasks": len(graph),
        "completed": len(cluster.completed & set(keys)),
        "scheduler_us_per_task": round(1e6 * cluster.scheduler_seconds / len(graph), 2),
        "decisions_per_second": round(len(graph) / cluster.scheduler_seconds) if cluster.scheduler_seconds else None,
        "makespan_s": round(makespan, 4), "efficiency": round(ideal / makespan, 3) if makespan else None,
        "bytes_moved_fraction": round(cluster.bytes_moved / max(cluster.output_bytes, 1), 3),
        "busiest_over_mean": round(max(cluster.busy.values()) / mean_busy, 3) if mean_busy else None,
    }


# ------------------------------------------------------------------ the report


def plot(rows: list, path: Path) -> None:
    """Curves per workload against the number of workers, as one standalone Bokeh page."""
    from bokeh.embed import file_html
    from bokeh.layouts import gridplot
    from bokeh.palettes import Category10
    from bokeh.plotting import figure
    from bokeh.resources import INLINE

    metrics = [("scheduler_us_per_task", "scheduler µs per task"), ("efficiency", "efficiency (ideal / makespan)"),
               ("bytes_moved_fraction", "bytes moved / output bytes"), ("busiest_over_mean", "busiest worker / mean")]
    figures = []
    for metric, title in metrics:
        fig = figure(title=title, x_axis_label="simulated workers", width=420, height=300, tools="hover,save")
        for colour, workload in zip(Category10[10], WORKLOADS):
            mine = sorted((r for r in rows if r["workload"] == workload and r.get(metric) is not None),
                          key=lambda r: r["workers"])
            if mine:
                xs, ys = [r["workers"] for r in mine], [r[metric] for r in mine]
                fig.line(xs, ys, color=colour, legend_label=workload, line_width=2)
                fig.scatter(xs, ys, color=colour, size=6)
        fig.legend.location = "top_left"
        figures.append(fig)
    page = file_html(gridplot(figures, ncols=2), INLINE, "shoal: simulated cluster")
    path.write_text(page, encoding="utf-8")


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[100, 250, 500, 1000])
    parser.add_argument("--tasks-per-worker", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="10 and 40 workers, 10 tasks each: a smoke test")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sizes, per_worker = ([10, 40], 10) if args.quick else (args.workers, args.tasks_per_worker)
    rows = []
    print(f"{'workload':12} {'workers':>7} {'tasks':>7} {'sched µs/task':>13} {'decisions/s':>11} "
          f"{'efficiency':>10} {'moved':>6} {'busiest/mean':>12}")
    for workload in WORKLOADS:
        for n in sizes:
            row = simulate(workload, n, per_worker)
            if row["completed"] != len(WORKLOADS[workload](n * per_worker)[1]):
                raise SystemExit(f"{workload} on {n} workers: only {row['completed']} outputs completed")
            rows.append(row)
            print(f"{workload:12} {n:7} {row['tasks']:7} {row['scheduler_us_per_task']:13} "
                  f"{row['decisions_per_second']:11} {row['efficiency']:10} {row['bytes_moved_fraction']:6} "
                  f"{row['busiest_over_mean']:12}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "simulated_cluster.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    plot(rows, args.out / "simulated_cluster.html")
    print(f"wrote {args.out / 'simulated_cluster.json'} and {args.out / 'simulated_cluster.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
