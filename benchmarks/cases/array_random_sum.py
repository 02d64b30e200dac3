"""Arrays: the mean of a large random array generated lazily, with its peak memory checked.

At the runner's default size of 20,000 the array is 50,000 x 40,000 float64
(16 GB) in ``'auto'`` blocks; at ``--quick`` sizes it is 160 MB. No block is
kept after it is summed, so the process's peak resident memory must stay
under 1.5 GB. The workload returns ``(round(mean, 2), peak_under_budget)``:
the mean of uniform numbers in [0, 1) is 0.5 (its spread at these sizes is
below 1e-4), and the second item is True when the process never held more
than 1.5 GB (``ru_maxrss``, which includes the interpreter and the library).

>>> random_mean(_NumpyArrays, 200, "sync")[0]
0.5
"""

from __future__ import annotations

import importlib
import resource
import sys
from typing import Any

from .base import BenchmarkCase

PEAK_BUDGET_BYTES = 1.5e9


def peak_rss_bytes() -> float:
    """The peak resident set size of this process (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return float(peak) if sys.platform == "darwin" else float(peak) * 1024


def random_mean(array_module: Any, size: int, scheduler: str) -> tuple:
    x = array_module.random.default_rng(0).random((size * 5 // 2, size * 2))
    mean = float(x.mean().compute(scheduler=scheduler))
    return round(mean, 2), peak_rss_bytes() < PEAK_BUDGET_BYTES


class RandomMeanCase(BenchmarkCase):
    name = "array-random-mean-16GB-threads"

    def task_count(self, size: int) -> int:
        import shoal.array as sa
        from shoal.taskgraph.protocol import collections_to_graph

        x = sa.random.default_rng(0).random((size * 5 // 2, size * 2))
        graph, _ = collections_to_graph([x.mean()])
        return len(graph)

    def setup(self, lib: str, size: int) -> None:
        super().setup(lib, size)
        self.array_module = importlib.import_module(f"{lib}.array")

    def workload(self, lib: Any) -> tuple:
        return random_mean(self.array_module, self.size, "threads")

    def expected(self, size: int) -> tuple:
        return (0.5, True)


def cases() -> list[BenchmarkCase]:
    return [RandomMeanCase()]


class _NumpyArrays:
    """NumPy dressed as an array module, eagerly, for the doctest."""

    class random:
        @staticmethod
        def default_rng(seed):
            import numpy as np

            rng = np.random.default_rng(seed)

            class _Eager:
                def __init__(self, value):
                    self.value = value

                def mean(self):
                    return _Eager(self.value.mean())

                def compute(self, scheduler=None):
                    return self.value

            class _Rng:
                def random(self, shape):
                    return _Eager(rng.random(shape))

            return _Rng()
