"""Arrays: ``(x @ y).sum()`` for two random square float64 matrices, threads scheduler.

The side is ``size * 3 // 10`` (6,000 at the runner's default size of
20,000) in blocks of a quarter of the side (1,500). Both libraries draw their
own random numbers, so the answer is checked statistically: for uniform
numbers in [0, 1) the sum of all entries of ``x @ y`` is close to
``side**3 / 4`` (relative spread well under 1e-3 at these sizes), so
``round(result / side**3, 2)`` is 0.25.

>>> matmul_sum(_NumpyArrays, 40, "sync")
0.25
"""

from __future__ import annotations

import importlib
from typing import Any

from .base import BenchmarkCase


def matmul_sum(array_module: Any, side: int, scheduler: str) -> float:
    rng = array_module.random.default_rng(0)
    chunks = max(side // 4, 1)
    x = rng.random((side, side), chunks=chunks)
    y = rng.random((side, side), chunks=chunks)
    total = (x @ y).sum().compute(scheduler=scheduler)
    return round(float(total) / side**3, 2)


class MatmulCase(BenchmarkCase):
    name = "array-matmul-sum-threads"

    def task_count(self, size: int) -> int:
        import shoal.array as sa
        from shoal.taskgraph.protocol import collections_to_graph

        side = size * 3 // 10
        rng = sa.random.default_rng(0)
        x = rng.random((side, side), chunks=max(side // 4, 1))
        graph, _ = collections_to_graph([(x @ x).sum()])
        return len(graph)

    def setup(self, lib: str, size: int) -> None:
        super().setup(lib, size)
        self.array_module = importlib.import_module(f"{lib}.array")

    def workload(self, lib: Any) -> float:
        return matmul_sum(self.array_module, self.size * 3 // 10, "threads")

    def expected(self, size: int) -> float:
        return 0.25


def cases() -> list[BenchmarkCase]:
    return [MatmulCase()]


class _NumpyArrays:
    """NumPy dressed as an array module, eagerly, for the doctest."""

    class random:
        @staticmethod
        def default_rng(seed):
            import numpy as np

            rng = np.random.default_rng(seed)

            class _Rng:
                def random(self, shape, chunks=None):
                    return _NumpyArrays._Eager(rng.random(shape))

            return _Rng()

    class _Eager:
        def __init__(self, value):
            self.value = value

        def __matmul__(self, other):
            return _NumpyArrays._Eager(self.value @ other.value)

        def sum(self):
            return _NumpyArrays._Eager(self.value.sum())

        def compute(self, scheduler=None):
            return self.value
