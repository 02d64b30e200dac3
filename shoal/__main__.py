"""``python -m shoal demo``: real computations on a local cluster, with progress.

``python -m shoal demo`` starts a LocalCluster (a scheduler and two worker
processes on 127.0.0.1) and runs an array and a dataframe computation on it,
each checked against NumPy/pandas. ``--local`` runs a delayed tree reduction
on this machine's cores instead, with the local progress bar.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import shoal
from shoal.diagnostics import ProgressBar


def _chunk_stats(seed: int, size: int) -> tuple[float, float, int]:
    """Sum and sum of squares of one chunk of normal random numbers."""
    values = np.random.default_rng(seed).standard_normal(size)
    return float(values.sum()), float((values**2).sum()), size


def _combine(a: tuple, b: tuple) -> tuple:
    return a[0] + b[0], a[1] + b[1], a[2] + b[2]


def cluster_demo(n_workers: int = 2) -> int:
    """An array and a dataframe computation on a LocalCluster, checked eagerly."""
    import pandas as pd

    import shoal.array as da
    import shoal.dataframe as dd
    from shoal.distributed import Client, LocalCluster, progress

    with LocalCluster(n_workers=n_workers, threads_per_worker=1) as cluster, Client(cluster) as client:
        print(f"shoal {shoal.__version__}: LocalCluster with {n_workers} worker processes, "
              f"scheduler at {cluster.scheduler_address}")
        link = getattr(client, "dashboard_link", None)
        print(f"dashboard: {link}" if link else "dashboard: not available in this version")

        x = da.random.default_rng(42).random((4000, 4000), chunks=(500, 500))
        print("array: column means of x + x.T, 4000 x 4000 in 64 blocks")
        columns = (x + x.T).mean(axis=0)
        futures = client.compute([block for block in columns.to_delayed().ravel()])
        progress(futures)
        got = np.concatenate(client.gather(futures))
        eager = x.compute(scheduler="threads")  # the same numbers: seeds are per block
        ok_array = np.allclose(got, (eager + eager.T).mean(axis=0))
        print(f"  sum of column means = {got.sum():.4f}; equal to NumPy: {ok_array}")

        rng = np.random.default_rng(0)
        frame = pd.DataFrame({"key": rng.integers(0, 100, 2_000_000), "value": rng.random(2_000_000)})
        df = dd.from_pandas(frame, npartitions=16)
        print("dataframe: groupby-agg of 2,000,000 rows in 16 partitions")
        future = client.compute(df[df.value > 0.1].groupby("key").value.agg(["sum", "mean", "count"]))
        progress(future)
        result = future.result()
        expected = frame[frame.value > 0.1].groupby("key").value.agg(["sum", "mean", "count"])
        try:
            pd.testing.assert_frame_equal(result, expected)
            ok_frame = True
        except AssertionError:
            ok_frame = False
        print(f"  {len(result)} groups; equal to pandas: {ok_frame}")
    return 0 if ok_array and ok_frame else 1


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shoal")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("demo", help="run computations on a local cluster, with progress")
    run.add_argument("--local", action="store_true", help="use this machine's cores without a cluster")
    run.add_argument("--workers", type=int, default=2)
    run.add_argument("--chunks", type=int, default=64, help="with --local")
    run.add_argument("--chunk-size", type=int, default=2_000_000)
    run.add_argument("--scheduler", default="threads", help="sync, threads or processes")
    args = parser.parse_args(argv)
    if args.local:
        return demo(args.chunks, args.chunk_size, args.scheduler)
    return cluster_demo(args.workers)


if __name__ == "__main__":
    sys.exit(main())
