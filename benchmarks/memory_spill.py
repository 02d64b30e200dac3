"""Persist more than the workers' memory limits, then reduce it: everything past the target spills to disk.

Two worker processes, each with ``--limit``; an array of ``--total`` bytes
(``(arange % 1000) * 0.5``, so the exact sum is known) is persisted, then
summed, on shoal and (with ``--dask``) on Dask's distributed. Prints the
seconds, the bytes each shoal worker spilled and its RSS after the work.

    python -m benchmarks.memory_spill                         # 2 GB on 2 x 500 MB workers
    python -m benchmarks.memory_spill --total 1GB --limit 250MB --dask

Exits with status 1 if a sum is wrong.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def expected_sum(n: int) -> float:
    return float(np.sum(np.arange(1000) * 0.5) * (n // 1000) + np.sum(np.arange(n % 1000) * 0.5))


def persist_and_sum_on_shoal(total_bytes: int, memory_limit, chunk_bytes: int) -> dict:
    import shoal.array as sa
    from shoal.distributed import Client, LocalCluster

    n = total_bytes // 8
    with LocalCluster(n_workers=2, threads_per_worker=1, memory_limit=memory_limit) as cluster, \
            Client(cluster) as client:
        start = time.perf_counter()
        y = client.persist((sa.arange(n, chunks=chunk_bytes // 8) % 1000) * 0.5)
        total = client.compute(y.sum(), sync=True)
        seconds = time.perf_counter() - start
        time.sleep(1.5)  # one more heartbeat, so the metrics are those after the work
        metrics = [dict(ws.metrics) for ws in cluster.scheduler.state.workers.values()]
        events = [p for _, topic, p in cluster.scheduler.state.events if topic in ("worker-status", "remove-worker")]
    return {"seconds": seconds, "ok": total == expected_sum(n), "metrics": metrics,
            "pauses": sum(1 for p in events if p.get("status") == "paused")}


def persist_and_sum_on_dask(total_bytes: int, memory_limit, chunk_bytes: int) -> dict:
    import dask.array as da
    from distributed import Client, LocalCluster

    n = total_bytes // 8
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit=memory_limit,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        start = time.perf_counter()
        y = client.persist((da.arange(n, chunks=chunk_bytes // 8) % 1000) * 0.5)
        total = client.compute(y.sum(), sync=True)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "ok": total == expected_sum(n)}


def main(argv: list | None = None) -> int:
    from shoal.distributed.comm.sizes import format_bytes, parse_bytes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", default="2GB", help="bytes of float64 to persist (default 2GB)")
    parser.add_argument("--limit", default="500MB", help="memory limit per worker (default 500MB)")
    parser.add_argument("--chunk", default="10MB", help="bytes per block (default 10MB)")
    parser.add_argument("--dask", action="store_true", help="run the same on Dask's distributed too")
    args = parser.parse_args(argv)
    total, chunk = parse_bytes(args.total), parse_bytes(args.chunk)
    ours = persist_and_sum_on_shoal(total, args.limit, chunk)
    print(f"shoal: persisted and summed {format_bytes(total)} on 2 x {args.limit} workers in {ours['seconds']:.1f} s, "
          f"sum {'ok' if ours['ok'] else 'WRONG'}, {ours['pauses']} pauses")
    for i, m in enumerate(ours["metrics"]):
        print(f"  worker {i}: spilled {format_bytes(m.get('spilled_bytes', 0))} "
              f"({m.get('spilled_count', 0)} values, {m.get('unspilled_count', 0)} read back), "
              f"in memory {format_bytes(m.get('managed_bytes', 0))}, RSS {format_bytes(m.get('rss', 0))}")
    ok = ours["ok"]
    if args.dask:
        theirs = persist_and_sum_on_dask(total, args.limit, chunk)
        print(f"dask:  {theirs['seconds']:.1f} s, sum {'ok' if theirs['ok'] else 'WRONG'}; "
              f"shoal/dask {ours['seconds'] / theirs['seconds']:.2f}")
        ok = ok and theirs["ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
