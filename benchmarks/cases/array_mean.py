"""Arrays: ``(x + x.T).mean(axis=0).sum()`` on a random ``size x size`` float64 array.

At the runner's default size (20,000) that is a 3.2 GB array in 2000 x 2000
blocks (``size // 10``), generated lazily block by block, on the threads
scheduler. Both libraries draw from their own ``random.default_rng(0)``, so
the values differ; the answer is checked statistically instead: for uniform
numbers in [0, 1) the result is ``2 * sum(x) / size``, whose expected value
is ``size`` with a standard deviation of ``sqrt(1/3) ~ 0.58``, so
``round(result / size, 2)`` is 1.0 (checked to far more than 5 sigma at
every size the runner uses).

>>> import numpy as np
>>> transpose_mean_sum(_NumpyArrays, 50, "sync")
1.0
"""

from __future__ import annotations

import importlib
from typing import Any

from .base import BenchmarkCase


def transpose_mean_sum(array_module: Any, size: int, scheduler: str) -> float:
    x = array_module.random.default_rng(0).random((size, size), chunks=max(size // 10, 1))
    total = (x + x.T).mean(axis=0).sum().compute(scheduler=scheduler)
    return round(float(total) / size, 2)


class TransposeMeanSumCase(BenchmarkCase):
    name = "array-x-plus-xT-mean-sum-threads"

    def task_count(self, size: int) -> int:
        # shoal's graph after optimization (Dask's differs a little): one task per block plus the tree
        import shoal.array as sa
        from shoal.taskgraph.protocol import collections_to_graph

        x = sa.random.default_rng(0).random((size, size), chunks=max(size // 10, 1))
        graph, _ = collections_to_graph([(x + x.T).mean(axis=0).sum()])
        return len(graph)

    def setup(self, lib: str, size: int) -> None:
        super().setup(lib, size)
        self.array_module = importlib.import_module(f"{lib}.array")

    def workload(self, lib: Any) -> float:
        return transpose_mean_sum(self.array_module, self.size, "threads")

    def expected(self, size: int) -> float:
        return 1.0


def cases() -> list[BenchmarkCase]:
    return [TransposeMeanSumCase()]


class _NumpyArrays:
    """NumPy dressed as an array module, eagerly, for the doctest."""

    class _Eager:
        def __init__(self, value):
            self.value = value

        def __add__(self, other):
            return _NumpyArrays._Eager(self.value + other.value)

        @property
        def T(self):
            return _NumpyArrays._Eager(self.value.T)

        def mean(self, axis):
            return _NumpyArrays._Eager(self.value.mean(axis=axis))

        def sum(self):
            return _NumpyArrays._Eager(self.value.sum())

        def compute(self, scheduler=None):
            return self.value

    class random:
        @staticmethod
        def default_rng(seed):
            import numpy as np

            rng = np.random.default_rng(seed)

            class _Rng:
                def random(self, shape, chunks=None):
                    return _NumpyArrays._Eager(rng.random(shape))

            return _Rng()
