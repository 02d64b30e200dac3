"""Skewed join: output partition sizes of shoal (skew=True) beside Dask's, on the same data, threads.

Half of the left rows share one key; the right side has one row per key.
Neither side is small enough to broadcast, so both libraries hash-join.
Prints, per library, the seconds and the largest output partition over the
median one (a plain hash join puts the whole heavy key in one partition).

    python -m benchmarks.skew_join                 # 5M left rows, 20 partitions
    python -m benchmarks.skew_join --rows 200000   # smaller

The result rows and value totals are checked equal between the libraries
and against pandas' ``len(left.merge(right))``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def make(rows: int, keys: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    heavy = rng.random(rows) < 0.5
    left = pd.DataFrame({"k": np.where(heavy, 7, rng.integers(0, keys, rows)), "x": np.arange(rows) % 100})
    right = pd.DataFrame({"k": np.arange(keys), "y": np.arange(keys) % 13})
    return left, right


def _sizes(part):
    return pd.DataFrame({"rows": [len(part)], "total": [int(part.x.sum() + part.y.sum())]})


def measure(name: str, dd, left, right, parts: int, **merge_kwargs):
    a, b = dd.from_pandas(left, npartitions=parts), dd.from_pandas(right, npartitions=parts)
    start = time.perf_counter()
    merged = a.merge(b, on="k", **merge_kwargs)
    table = merged.map_partitions(_sizes, meta={"rows": "int64", "total": "int64"}).compute(scheduler="threads")
    seconds = time.perf_counter() - start
    rows = table["rows"].to_numpy()
    ratio = rows.max() / max(np.median(rows), 1)
    print(f"{name:<22} {seconds:7.2f} s   partitions {len(rows):3d}   largest/median {ratio:6.2f}")
    return int(rows.sum()), int(table["total"].sum())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--keys", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=20)
    args = parser.parse_args(argv)
    left, right = make(args.rows, args.keys)
    import shoal.dataframe as sd

    results = {"shoal skew=True": measure("shoal skew=True", sd, left, right, args.partitions, broadcast=False,
                                          skew=True),
               "shoal skew=False": measure("shoal skew=False", sd, left, right, args.partitions, broadcast=False,
                                           skew=False)}
    try:
        import dask.dataframe as ddd
    except ImportError:
        print("dask not installed")
    else:
        results["dask"] = measure("dask (tasks shuffle)", ddd, left, right, args.partitions, shuffle_method="tasks")
    expected_rows = len(left.merge(right, on="k"))
    ok = all(r[0] == expected_rows for r in results.values()) and len({r for r in results.values()}) == 1
    print("results equal and match pandas" if ok else f"MISMATCH: {results} vs {expected_rows} rows")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
