"""``python -m shoal demo``: the first thing to run, a real workload on a local cluster.

``python -m shoal demo`` starts a LocalCluster (a scheduler and two worker
processes on 127.0.0.1) with its dashboard, prints the dashboard link first,
then runs two realistic workloads with progress bars:

- a dataframe of taxi trips (made on the workers, one partition per day),
  persisted in the workers' memory, merged with a zone table and grouped;
- an array of daily temperatures on a grid: climatology, anomalies and
  extremes.

Every result is checked against plain pandas/NumPy computed in this process,
and a summary tells which worker ran how many tasks of each kind (counted by
the scheduler). ``--keep-up`` keeps the cluster up afterwards (until Ctrl-C,
or for a number of seconds) to explore the dashboard; ``--local`` runs a
delayed tree reduction on this machine's cores without a cluster.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections import Counter
from typing import Any

import numpy as np

import shoal
from shoal.diagnostics import ProgressBar

BOROUGHS = ["Harbour", "Old Town", "Riverside", "Hills", "Airport"]
N_ZONES = 40


# --------------------------------------------------------------------------- the dataframe workload
def make_trips(day: int, rows: int):
    """One day of synthetic taxi trips, the same for the same ``day`` wherever it runs.

    >>> make_trips(3, 5).columns.tolist()
    ['pickup', 'zone', 'distance', 'fare', 'tip', 'payment']
    """
    import pandas as pd

    rng = np.random.default_rng(day)
    seconds = np.sort(rng.integers(0, 86_400, rows))
    distance = rng.gamma(2.0, 1.6, rows).round(2)
    fare = (3.0 + 2.4 * distance + rng.normal(0, 1.0, rows).clip(-2, 2)).round(2)
    payment = np.where(rng.random(rows) < 0.7, "card", "cash")
    tip = np.where(payment == "card", fare * rng.beta(2, 9, rows), 0.0).round(2)
    return pd.DataFrame({
        "pickup": pd.Timestamp("2026-01-01") + pd.to_timedelta(day * 86_400 + seconds, unit="s"),
        "zone": rng.integers(0, N_ZONES, rows),
        "distance": distance,
        "fare": fare,
        "tip": tip,
        "payment": payment,
    })


def make_zones():
    """The zone lookup table: which borough each zone belongs to."""
    import pandas as pd

    return pd.DataFrame({"zone": np.arange(N_ZONES), "borough": [BOROUGHS[z % len(BOROUGHS)] for z in range(N_ZONES)]})


def trip_queries(trips: Any, zones: Any) -> dict:
    """The analysis, written once for pandas and shoal.dataframe alike."""
    with_borough = trips.merge(zones, on="zone", how="left")
    by_borough = with_borough.groupby("borough").agg({"fare": "mean", "tip": "mean", "distance": "sum"})
    trips = trips.assign(hour=trips.pickup.dt.hour, tip_rate=trips.tip / trips.fare)
    tip_rate_by_hour = trips[trips.payment == "card"].groupby("hour").tip_rate.mean()
    return {"by_borough": by_borough, "tip_rate_by_hour": tip_rate_by_hour}


def dataframe_workload(client: Any, days: int, rows_per_day: int) -> bool:
    import pandas as pd

    import shoal.dataframe as dd
    from shoal.distributed import progress

    print(f"\ndataframe: {days} days x {rows_per_day:,} taxi trips, one partition per day, made on the workers")
    trips = dd.from_map(make_trips, range(days), rows=rows_per_day, meta=make_trips(0, 2))
    print("  persist in the workers' memory:")
    trips = client.persist(trips)
    progress(trips)
    print("  merge with the zone table, group by borough and by hour:")
    queries = trip_queries(trips, dd.from_pandas(make_zones(), npartitions=1))  # small: broadcast to every partition
    futures = client.compute(list(queries.values()))
    progress(futures)
    results = dict(zip(queries, client.gather(futures)))

    eager = trip_queries(pd.concat([make_trips(day, rows_per_day) for day in range(days)], ignore_index=True),
                         make_zones())
    ok = True
    for name, got in results.items():
        try:
            compare = pd.testing.assert_frame_equal if isinstance(got, pd.DataFrame) else pd.testing.assert_series_equal
            compare(got.sort_index(), eager[name].sort_index())
        except AssertionError as error:
            print(f"  MISMATCH in {name}: {error}", file=sys.stderr)
            ok = False
    busiest = results["by_borough"].distance.idxmax()
    best_hour = results["tip_rate_by_hour"].idxmax()
    print(f"  most kilometres driven in {busiest}; best tipping hour {best_hour}:00; equal to pandas: {ok}")
    return ok


# --------------------------------------------------------------------------- the array workload
def temperature_statistics(x: Any, xp: Any) -> dict:
    """Climatology, anomaly spread and extremes of ``x`` (day, lat, lon); ``xp`` is numpy or shoal.array."""
    climatology = x.mean(axis=0)
    anomaly = x - climatology
    spread = anomaly.std(axis=0)
    extreme_days = (xp.abs(anomaly) > 2 * spread).sum(axis=0)
    return {"climatology": climatology, "spread": spread, "extreme_days": extreme_days}


def array_workload(client: Any, days: int, lat: int, lon: int) -> bool:
    import shoal.array as sa
    from shoal.distributed import progress

    chunks = (max(days // 8, 1), max(lat // 2, 1), max(lon // 2, 1))
    x = sa.random.default_rng(7).normal(12.0, 8.0, size=(days, lat, lon), chunks=chunks)
    print(f"\narray: {days} days of temperatures on a {lat} x {lon} grid ({x.nbytes / 2**20:.0f} MiB "
          f"in {math.prod(x.numblocks)} blocks)")
    print("  persist in the workers' memory:")
    x = client.persist(x)
    progress(x)
    print("  climatology, anomaly spread and extreme days per grid cell:")
    stats = temperature_statistics(x, sa)
    futures = client.compute(list(stats.values()))
    progress(futures)
    results = dict(zip(stats, client.gather(futures)))

    eager = temperature_statistics(x.compute(), np)  # the same numbers: blocks are seeded by position
    ok = all(np.allclose(results[name], eager[name]) for name in results)
    print(f"  mean temperature {results['climatology'].mean():.3f}, at most "
          f"{results['extreme_days'].max()} extreme days in one cell; equal to NumPy: {ok}")
    return ok


# --------------------------------------------------------------------------- what ran where
def _placement_plugin():
    """A scheduler plugin counting finished tasks per worker and per kind (key prefix)."""
    from shoal.distributed import SchedulerPlugin
    from shoal.taskgraph.core import key_prefix

    class TaskPlacement(SchedulerPlugin):
        def __init__(self) -> None:
            self.running_on: dict = {}  # key -> worker address while processing
            self.done: dict = {}  # worker address -> Counter of prefixes

        def transition(self, key: Any, start: str, finish: str, **info: Any) -> None:
            if finish == "processing":
                self.running_on[key] = info.get("worker")
            elif start == "processing":
                worker = self.running_on.pop(key, None)
                if finish == "memory" and worker is not None:
                    self.done.setdefault(worker, Counter())[key_prefix(key)] += 1

    return TaskPlacement()


def print_placement(placement: Any, info: dict) -> None:
    """The table of tasks per worker, with the three most frequent kinds of task."""
    print("\nwhat ran where (counted by the scheduler):")
    print(f"  {'worker':<16} {'address':<24} {'tasks':>6}  {'results held':>12}  most frequent")
    for address, worker in sorted(info["workers"].items(), key=lambda item: str(item[1]["name"])):
        counts = placement.done.get(address, Counter())
        common = ", ".join(f"{prefix} {n}" for prefix, n in counts.most_common(3))
        held = f"{worker['nbytes'] / 2**20:.1f} MiB"
        print(f"  {worker['name']:<16} {address:<24} {sum(counts.values()):>6}  {held:>12}  {common}")


def keep_up(link: str | None, seconds: float) -> None:
    """Wait ``seconds`` (forever if infinite) or until Ctrl-C, so the dashboard can be explored."""
    until = "press Ctrl-C to stop" if math.isinf(seconds) else f"for {seconds:g} s, or press Ctrl-C"
    deadline = time.monotonic() + seconds
    try:  # Ctrl-C may come as soon as the line is shown
        print(f"\nthe cluster stays up: explore the dashboard at {link} ({until})", flush=True)
        while time.monotonic() < deadline:
            time.sleep(min(0.5, max(deadline - time.monotonic(), 0)))
    except KeyboardInterrupt:
        print("\nCtrl-C: stopping the cluster", flush=True)


def cluster_demo(n_workers: int = 2, threads_per_worker: int = 1, scale: float = 1.0,
                 dashboard_address: str = "127.0.0.1:8787", keep_up_seconds: float = 0.0) -> int:
    """The dataframe and array workloads on a LocalCluster, checked eagerly; 0 when all match."""
    from shoal.distributed import Client, LocalCluster

    started = time.perf_counter()
    with LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                      dashboard_address=dashboard_address) as cluster, Client(cluster) as client:
        placement = _placement_plugin()
        cluster.scheduler.add_plugin(placement)  # the scheduler runs in this process
        link = cluster.dashboard_link
        plural = "es" if n_workers != 1 else ""
        print(f"shoal {shoal.__version__}: LocalCluster with {n_workers} worker process{plural} x "
              f"{threads_per_worker} thread(s), scheduler at {cluster.scheduler_address}")
        print(f"dashboard: {link}  (open it now to watch the work)", flush=True)

        ok_frame = dataframe_workload(client, days=max(int(round(14 * scale)), 2),
                                      rows_per_day=max(int(150_000 * scale), 100))
        side = max(int(round(160 * math.sqrt(scale))), 4)
        ok_array = array_workload(client, days=max(int(round(240 * scale)), 8), lat=side, lon=2 * side)

        print_placement(placement, client.scheduler_info())
        print(f"\nall done in {time.perf_counter() - started:.1f} s; "
              f"results equal to pandas/NumPy: {ok_frame and ok_array}", flush=True)
        if keep_up_seconds > 0:
            keep_up(link, keep_up_seconds)
        else:
            print("next: `python -m shoal demo --keep-up` keeps the cluster up to explore the dashboard; "
                  "docs/getting-started.md shows the same on your own data")
    return 0 if ok_array and ok_frame else 1


# --------------------------------------------------------------------------- --local
def _chunk_stats(seed: int, size: int) -> tuple[float, float, int]:
    """Sum and sum of squares of one chunk of normal random numbers."""
    values = np.random.default_rng(seed).standard_normal(size)
    return float(values.sum()), float((values**2).sum()), size


def _combine(a: tuple, b: tuple) -> tuple:
    return a[0] + b[0], a[1] + b[1], a[2] + b[2]


def demo(chunks: int = 64, chunk_size: int = 2_000_000, scheduler: str = "threads") -> int:
    """Mean and variance of ``chunks * chunk_size`` random numbers, by tree reduction."""
    print(f"shoal {shoal.__version__}: {chunks} chunks of {chunk_size:,} random numbers, "
          f"scheduler={scheduler!r}, {os.cpu_count()} cores")
    parts = [shoal.delayed(_chunk_stats, pure=True)(seed, chunk_size) for seed in range(chunks)]
    while len(parts) > 1:  # pairwise tree: every level runs in parallel
        parts = [shoal.delayed(_combine, pure=True)(*parts[i:i + 2]) if i + 1 < len(parts) else parts[i]
                 for i in range(0, len(parts), 2)]
    start = time.perf_counter()
    with ProgressBar():
        total, squares, count = parts[0].compute(scheduler=scheduler)
    elapsed = time.perf_counter() - start
    mean = total / count
    variance = squares / count - mean**2
    print(f"mean={mean:+.5f} variance={variance:.5f} over {count:,} numbers in {elapsed:.2f}s")

    # The same numbers, eagerly on one core, to show the answer is right.
    check = [_chunk_stats(seed, chunk_size) for seed in range(min(chunks, 4))]
    partial = shoal.compute(*[shoal.delayed(_chunk_stats)(s, chunk_size) for s in range(len(check))],
                            scheduler=scheduler)
    if list(partial) != check:
        print("MISMATCH between shoal and eager NumPy results", file=sys.stderr)
        return 1
    print(f"checked against eager NumPy on {len(check)} chunks: identical")
    return 0


def _seconds(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"--keep-up takes a positive number of seconds, got {text!r}")
    return value


def command_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m shoal``."""
    parser = argparse.ArgumentParser(prog="python -m shoal")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("demo", help="run a dataframe and an array workload on a local cluster, with progress")
    run.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    run.add_argument("--threads-per-worker", type=int, default=1)
    run.add_argument("--scale", type=float, default=1.0, help="data size relative to the default (e.g. 0.1)")
    run.add_argument("--dashboard-address", default="127.0.0.1:8787",
                     help="host:port of the dashboard (a busy port falls back to a free one)")
    run.add_argument("--keep-up", type=_seconds, nargs="?", const=math.inf, default=0.0, metavar="SECONDS",
                     help="keep the cluster up afterwards to explore the dashboard: until Ctrl-C, or SECONDS")
    run.add_argument("--local", action="store_true", help="use this machine's cores without a cluster")
    run.add_argument("--chunks", type=int, default=64, help="with --local")
    run.add_argument("--chunk-size", type=int, default=2_000_000, help="with --local")
    run.add_argument("--scheduler", default="threads", help="with --local: sync, threads or processes")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = command_parser()
    args = parser.parse_args(argv)
    if args.scale <= 0:
        parser.error(f"--scale must be positive, got {args.scale}")
    try:
        if args.local:
            return demo(args.chunks, args.chunk_size, args.scheduler)
        return cluster_demo(args.workers, args.threads_per_worker, args.scale, args.dashboard_address, args.keep_up)
    except KeyboardInterrupt:  # Ctrl-C during the work: the cluster was closed on the way out
        print("\ninterrupted: the cluster is stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
