"""The same workloads on shoal and, when it is installed, on Dask.

Run ``python -m benchmarks.run`` from the repository root; see
``benchmarks/README.md`` for the options and how to read the ratio.

Layout, one job per module:

- ``cases/``: the workloads. Each case builds its graph *and* computes it
  (graph construction is part of the cost), once per library, line for line
  the same.
- ``child.py``: runs one case once, on one library, in the current process,
  and checks the result.
- ``run.py``: the command line. It starts every measurement in a fresh
  subprocess, alternating shoal and Dask, and prints the table.
- ``report.py``: medians, ratios and the table.
"""
