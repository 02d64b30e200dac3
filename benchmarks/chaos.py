"""Chaos: computations that survive worker processes being killed under them.

Starts a LocalCluster of worker processes, then runs rounds of two workloads:

- a task graph of ``--tasks`` delayed calls (leaves, then a pairwise tree
  of additions down to one total), and
- a hash shuffle of a shoal dataframe (``from_pandas(...).shuffle("key")``),

while a killer thread SIGKILLs a random worker process every ``--interval``
seconds, ``--kills`` times in all. Every result is compared with the same
computation on the local ``sync`` scheduler; then it prints what the cluster
survived: kills, tasks that had to be scheduled again, wall time.

    python -m benchmarks.chaos --kills 6 --interval 3
    python -m benchmarks.chaos --kills 2 --interval 1 --tasks 2000 --rows 20000 --json

Killed workers come back: each worker's nanny restarts it (LocalCluster's
default). With ``--no-nanny``, or when a nanny gives up on a worker that died
too often too soon after starting, this script replaces the dead process
itself with ``LocalCluster.scale``. Exit status 0 means every result arrived
and equalled the local one.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

import shoal
import shoal.dataframe as dd
from shoal.distributed import Client, LocalCluster
from shoal.distributed.state import SchedulerPlugin


# ---------------------------------------------------------------------- workloads
def slow_inc(i: int, seconds: float) -> int:
    """A leaf task: ``i + 1`` after ``seconds`` of sleep (so kills land mid-graph)."""
    if seconds:
        time.sleep(seconds)
    return i + 1


def add(a: int, b: int) -> int:
    return a + b


def task_graph(n_tasks: int, task_seconds: float):
    """A Delayed total of about ``n_tasks`` tasks: ``n_tasks // 2`` leaves, then a pairwise
    tree of additions (one fewer than the leaves).

    >>> task_graph(10, 0).compute(scheduler="sync") == sum(range(1, 6))
    True
    """
    level = [shoal.delayed(slow_inc)(i, task_seconds) for i in range(max(1, n_tasks // 2))]
    while len(level) > 1:
        pairs = [shoal.delayed(add)(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = pairs + level[len(pairs) * 2:]  # an odd one out joins the next level
    return level[0]


def shuffle_frame(rows: int, partitions: int, seed: int):
    """The pandas frame and its shoal version hash-shuffled on ``key``."""
    rng = np.random.default_rng(seed)
    pdf = pd.DataFrame({"id": np.arange(rows), "key": rng.integers(0, max(1, rows // 10), rows),
                        "x": rng.random(rows)})
    return pdf, dd.from_pandas(pdf, npartitions=partitions).shuffle("key")


# ---------------------------------------------------------------------- observing the scheduler
class RescheduleCounter(SchedulerPlugin):
    """Counts how often tasks were sent to a worker again (their worker died, or the
    result they had produced was lost with it); ``reset()`` starts a round."""

    def __init__(self):
        self._lock = threading.Lock()
        self._starts: Counter = Counter()
        self.removed_workers = 0
        self.interrupted = 0  # taken off a worker while running there (it died)

    def transition(self, key, start, finish, **info):
        if finish == "processing" and start != "processing":  # processing -> processing is a steal
            with self._lock:
                self._starts[key] += 1
        elif start == "processing" and finish in ("waiting", "released"):
            self.interrupted += 1

    def remove_worker(self, address, **info):
        self.removed_workers += 1

    def reset(self) -> None:
        with self._lock:
            self._starts.clear()

    def rescheduled(self) -> int:
        with self._lock:
            return sum(n - 1 for n in self._starts.values())


# ---------------------------------------------------------------------- killing workers
@dataclass
class ChaosReport:
    kills: int = 0
    kill_times: list = field(default_factory=list)  # seconds after the start
    rounds: int = 0
    rescheduled_tasks: int = 0  # sent to a worker again: interrupted, or recomputed from lineage
    interrupted_tasks: int = 0  # of which running on a worker when it died
    removed_workers: int = 0
    graph_tasks: int = 0
    shuffle_rows: int = 0
    wall_seconds: float = 0.0
    graph_total: int | None = None  # the last round's results, for an independent check
    frame_rows: int | None = None
    frame_x_sum: float | None = None
    ok: bool = False
    error: str | None = None


class Killer(threading.Thread):
    """Every ``interval`` s, SIGKILL a random worker process (``kills`` times), then wait
    until the cluster has all its workers again."""

    def __init__(self, cluster: LocalCluster, client: Client, counter: RescheduleCounter, kills: int,
                 interval: float, n_workers: int, seed: int, started: float):
        super().__init__(name="chaos-killer", daemon=True)
        self.cluster, self.client, self.counter = cluster, client, counter
        self.kills, self.interval, self.n_workers = kills, interval, n_workers
        self.random = random.Random(seed)
        self.started = started
        self.stop = threading.Event()
        self.done = threading.Event()
        self.kill_times: list = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for _ in range(self.kills):
                if self.stop.wait(self.interval):
                    return
                removed_before = self.counter.removed_workers
                self._kill_one()
                self._wait_for_full_strength(removed_before, timeout=60)
        except BaseException as error:  # reported by the main thread, never lost
            self.error = error
        finally:
            self.done.set()

    def _kill_one(self, attempts: int = 5) -> None:
        for attempt in range(attempts):
            victim = self.random.choice(sorted(self.client.scheduler_info()["workers"]))
            try:
                # The worker's own pid, whoever started it (LocalCluster, or a nanny in between).
                pid = self.client.run(os.getpid, workers=[victim])[victim]
                break
            except Exception:  # it left meanwhile: pick another
                if attempt == attempts - 1:
                    raise
                time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
        self.kill_times.append(round(time.monotonic() - self.started, 2))
        print(f"chaos: killed worker {victim} (pid {pid}) at {self.kill_times[-1]} s", flush=True)

    def _wait_for_full_strength(self, removed_before: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stop.is_set():
            _replace_dead_processes(self.cluster, self.n_workers)
            # The death noticed by the scheduler, and as many workers as before.
            if (self.counter.removed_workers > removed_before
                    and len(self.client.scheduler_info()["workers"]) >= self.n_workers):
                return
            time.sleep(0.1)
        if not self.stop.is_set():
            raise TimeoutError(f"The cluster did not get back to {self.n_workers} workers within {timeout} s "
                               "of a kill.")


def _replace_dead_processes(cluster: LocalCluster, n_workers: int) -> None:
    """Start new worker processes for dead ones: needed without nannies, or when a nanny
    gave up on a worker that kept dying (a nanny otherwise restarts its worker itself)."""
    dead = [name for name, proc in cluster.worker_processes.items() if proc.poll() is not None]
    if not dead:
        return
    for name in dead:
        # LocalCluster keeps its started workers by name; forget the dead ones so
        # scale() starts replacements rather than counting corpses.
        cluster.workers.pop(name, None)
        cluster._processes.pop(name, None)
    cluster.scale(n_workers)


# ---------------------------------------------------------------------- the run
def run_chaos(kills: int = 6, interval: float = 3.0, n_tasks: int = 10_000, rows: int = 200_000,
              partitions: int = 20, n_workers: int = 4, task_seconds: float = 0.0005, seed: int = 0,
              max_rounds: int = 20, round_timeout: float = 120.0, nanny: bool = True) -> ChaosReport:
    """Run the workloads on a cluster under fire until all ``kills`` are done (at least one
    round, at most ``max_rounds``); every result is checked against the ``sync`` scheduler."""
    report = ChaosReport(graph_tasks=n_tasks, shuffle_rows=rows)
    total = task_graph(n_tasks, task_seconds)
    pdf, shuffled = shuffle_frame(rows, partitions, seed)
    expected_total = total.compute(scheduler="sync")
    assert expected_total == sum(range(1, n_tasks // 2 + 1)), "the sync scheduler disagrees with plain Python"
    expected_frame = shuffled.compute(scheduler="sync")
    pd.testing.assert_frame_equal(expected_frame.sort_values("id").reset_index(drop=True), pdf)

    counter = RescheduleCounter()
    # A chaos kill is not the task's fault: let a task outlive every kill of the run
    # rather than fail with KilledWorker after the default three.
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, nanny=nanny,
                           allowed_failures=max(3, kills + 1))
    started = time.monotonic()
    killer = None
    try:
        cluster.scheduler.add_plugin(counter)
        with Client(cluster.scheduler_address, set_as_default=False) as client:
            killer = Killer(cluster, client, counter, kills, interval, n_workers, seed, started)
            killer.start()
            while report.rounds < max_rounds:
                got_total, got_frame = (f.result(timeout=round_timeout)
                                        for f in client.compute([total, shuffled]))
                if got_total != expected_total:
                    raise AssertionError(f"round {report.rounds}: the task graph gave {got_total}, "
                                         f"the sync scheduler {expected_total}")
                pd.testing.assert_frame_equal(got_frame, expected_frame)
                report.graph_total, report.frame_rows = int(got_total), len(got_frame)
                report.frame_x_sum = float(got_frame["x"].sum())
                report.rounds += 1
                report.rescheduled_tasks += counter.rescheduled()
                counter.reset()
                print(f"chaos: round {report.rounds} correct after {len(killer.kill_times)} kills "
                      f"({time.monotonic() - started:.1f} s)", flush=True)
                if killer.done.is_set():
                    break
            killer.stop.set()
            killer.join(70)
            if killer.error is not None:
                raise killer.error
            report.ok = len(killer.kill_times) == kills
            if not report.ok:
                report.error = f"only {len(killer.kill_times)} of {kills} kills happened within {max_rounds} rounds"
    except Exception as error:
        report.error = f"{type(error).__name__}: {error}"
    finally:
        if killer is not None:
            killer.stop.set()
            report.kill_times = list(killer.kill_times)
        report.kills = len(report.kill_times)
        report.removed_workers = counter.removed_workers
        report.interrupted_tasks = counter.interrupted
        report.wall_seconds = round(time.monotonic() - started, 2)
        cluster.close()
    return report


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=6, help="worker processes to kill (default 6)")
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between kills (default 3)")
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks in the delayed graph (default 10,000)")
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the shuffled frame (default 200,000)")
    parser.add_argument("--partitions", type=int, default=20, help="partitions of the frame (default 20)")
    parser.add_argument("--workers", type=int, default=4, help="worker processes (default 4)")
    parser.add_argument("--task-ms", type=float, default=0.5, help="sleep in each leaf task, ms (default 0.5)")
    parser.add_argument("--max-rounds", type=int, default=20, help="rounds of both workloads at most")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-nanny", action="store_true", help="workers without nannies (the script restarts them)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON line at the end")
    args = parser.parse_args(argv)
    if args.kills < 0 or args.interval <= 0:
        parser.error("--kills must be >= 0 and --interval > 0")
    report = run_chaos(kills=args.kills, interval=args.interval, n_tasks=args.tasks, rows=args.rows,
                       partitions=args.partitions, n_workers=args.workers, task_seconds=args.task_ms / 1000,
                       seed=args.seed, max_rounds=args.max_rounds, nanny=not args.no_nanny)
    print(f"chaos: survived {report.kills} kills over {report.rounds} rounds of a {report.graph_tasks}-task graph "
          f"and a {report.shuffle_rows}-row shuffle; {report.rescheduled_tasks} tasks scheduled again "
          f"({report.interrupted_tasks} interrupted, the rest recomputed from lineage); "
          f"{report.wall_seconds} s; results {'all correct' if report.ok else 'NOT OK: ' + str(report.error)}")
    if args.json:
        print(json.dumps(asdict(report)), flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
