"""``python -m shoal demo``: a real computation on every core, with a progress bar."""

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
    run = sub.add_parser("demo", help="run a multi-core computation with a progress bar")
    run.add_argument("--chunks", type=int, default=64)
    run.add_argument("--chunk-size", type=int, default=2_000_000)
    run.add_argument("--scheduler", default="threads", help="sync, threads or processes")
    args = parser.parse_args(argv)
    return demo(args.chunks, args.chunk_size, args.scheduler)


if __name__ == "__main__":
    sys.exit(main())
