"""Sum a random array far bigger than the cluster's memory: no worker may be paused or killed.

The issue's must-show: a 16 GB lazily generated array (``shoal.array.random``)
summed on 2 worker processes with a 2 GB memory limit each. Each block is
drawn and reduced on its worker, so memory holds a few blocks at a time.
Prints the seconds, the peak RSS each worker reported in its heartbeats (as
a fraction of its limit), and whether any worker was paused or removed; the
sum is checked against the uniform distribution's mean (n/2, within 6 sigma).

    python -m benchmarks.memory_sum                          # 16 GB, 2 x 2 GB, 128 MB blocks
    python -m benchmarks.memory_sum --total 4GB --limit 500MB --chunk 32MB
    python -m benchmarks.memory_sum --dask                   # also Dask's distributed, same setup

Exits with status 1 if the check fails or a worker was paused or removed.
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
import time

import psutil


def _largest_rss(process: "psutil.Process") -> int:
    """The RSS of the biggest process in ``process``'s tree (the worker, under a nanny if there is one)."""
    largest = 0
    try:
        for member in [process, *process.children(recursive=True)]:
            largest = max(largest, member.memory_info().rss)
    except psutil.Error:
        pass
    return largest


def sum_random_on_cluster(total_bytes: int, memory_limit, chunk_bytes: int, n_workers: int = 2,
                          seed: int = 0) -> dict:
    """Run the sum on a fresh ``LocalCluster``; what happened, as a dict."""
    import shoal.array as sa
    from shoal.distributed import Client, LocalCluster

    n = total_bytes // 8
    chunk = max(1, chunk_bytes // 8)
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                      memory_limit=memory_limit) as cluster, Client(cluster) as client:
        state = cluster.scheduler.state
        addresses = sorted(state.workers)
        processes = {name: psutil.Process(proc.pid) for name, proc in cluster.workers.items()}
        peak_rss = dict.fromkeys(processes, 0)
        stop = threading.Event()

        def watch() -> None:  # sample the worker processes' RSS directly: heartbeats are too coarse
            while not stop.wait(0.05):
                for name, process in processes.items():
                    peak_rss[name] = max(peak_rss[name], _largest_rss(process))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            x = sa.random.default_rng(seed).random(n, chunks=chunk)
            start = time.perf_counter()
            total = float(client.compute(x.sum(), sync=True))
            seconds = time.perf_counter() - start
        finally:
            stop.set()
            watcher.join(5)
        events = list(state.events)
        limit = cluster.memory_limit
        alive = all(proc.poll() is None for proc in cluster.workers.values())
        still_registered = sorted(state.workers) == addresses
    sigma = math.sqrt(n / 12)  # the standard deviation of a sum of n uniform [0, 1) draws
    return {
        "n": n, "seconds": seconds, "sum": total, "sum_ok": abs(total - n / 2) < 6 * sigma,
        "memory_limit": limit, "peak_rss": peak_rss,
        "paused": [p for _, topic, p in events if topic == "worker-status" and p.get("status") == "paused"],
        "removed": [p for _, topic, p in events if topic == "remove-worker"],
        "alive": alive and still_registered,
    }


def sum_random_on_dask(total_bytes: int, memory_limit, chunk_bytes: int, n_workers: int = 2,
                       seed: int = 0) -> dict:
    """The same sum on Dask's ``distributed.LocalCluster`` (worker processes under nannies)."""
    import dask.array as da
    from distributed import Client, LocalCluster

    n = total_bytes // 8
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, memory_limit=memory_limit,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        x = da.random.default_rng(seed).random(n, chunks=max(1, chunk_bytes // 8))
        start = time.perf_counter()
        total = float(x.sum().compute())
        seconds = time.perf_counter() - start
    sigma = math.sqrt(n / 12)
    return {"n": n, "seconds": seconds, "sum": total, "sum_ok": abs(total - n / 2) < 6 * sigma}


def main(argv: list | None = None) -> int:
    from shoal.distributed.comm.sizes import format_bytes, parse_bytes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", default="16GB", help="bytes of float64 to draw and sum (default 16GB)")
    parser.add_argument("--limit", default="2GB", help="memory limit per worker (default 2GB)")
    parser.add_argument("--chunk", default="128MB", help="bytes per block (default 128MB)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dask", action="store_true", help="run the same on Dask's distributed too")
    args = parser.parse_args(argv)
    out = sum_random_on_cluster(parse_bytes(args.total), args.limit, parse_bytes(args.chunk), args.workers)
    print(f"summed {format_bytes(out['n'] * 8)} on {args.workers} workers with {format_bytes(out['memory_limit'])} "
          f"each in {out['seconds']:.1f} s ({out['n'] * 8 / out['seconds'] / 1e9:.2f} GB/s)")
    print(f"sum {out['sum']:.6g} vs n/2 {out['n'] / 2:.6g}: {'ok' if out['sum_ok'] else 'WRONG'}")
    for name, rss in out["peak_rss"].items():
        print(f"  {name}: peak RSS {format_bytes(rss)} = {rss / out['memory_limit']:.0%} of the limit")
    print(f"paused: {len(out['paused'])}, removed: {len(out['removed'])}, all workers alive: {out['alive']}")
    if args.dask:
        theirs = sum_random_on_dask(parse_bytes(args.total), args.limit, parse_bytes(args.chunk), args.workers)
        print(f"dask: {theirs['seconds']:.1f} s, sum {'ok' if theirs['sum_ok'] else 'WRONG'}; "
              f"shoal/dask {out['seconds'] / theirs['seconds']:.2f}")
    return 0 if out["sum_ok"] and out["alive"] and not out["paused"] and not out["removed"] else 1


if __name__ == "__main__":
    sys.exit(main())
