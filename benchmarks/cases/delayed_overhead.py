"""Scheduling overhead: many trivial ``delayed`` tasks, three graph shapes.

Each workload is one function taking the library module (``shoal`` or
``dask``), so the two libraries run literally the same lines. The task
functions live at module level so the processes schedulers pickle them by
reference instead of by value.

>>> independent(_PlainLibrary, 3, "sync")
[1, 2, 3]
>>> chain(_PlainLibrary, 4, "sync")
4
>>> tree(_PlainLibrary, 5, "sync") == sum(range(5))
True
"""

from __future__ import annotations

from typing import Any

from .base import BenchmarkCase

SCHEDULERS = ("sync", "threads", "processes")


def inc(x: int) -> int:
    return x + 1


def add(x: int, y: int) -> int:
    return x + y


# --- the workloads: build the graph, then compute it -----------------------

def independent(lib: Any, n: int, scheduler: str) -> list:
    """``n`` unrelated tasks computed together: ``[inc(0), ..., inc(n-1)]``."""
    xs = [lib.delayed(inc)(i) for i in range(n)]
    return list(lib.compute(*xs, scheduler=scheduler))


def chain(lib: Any, n: int, scheduler: str) -> int:
    """``inc(inc(...inc(0)))``, ``n`` deep: each task waits for the previous."""
    x = lib.delayed(0)
    for _ in range(n):
        x = lib.delayed(inc)(x)
    (result,) = lib.compute(x, scheduler=scheduler)
    return result


def tree(lib: Any, n: int, scheduler: str) -> int:
    """Sum of ``range(n)`` by adding neighbours pairwise, level by level.

    The leaves are plain integers, so the graph holds ``n - 1`` add tasks; an
    odd element out is carried up to the next level unchanged.
    """
    level: list = list(range(n))
    while len(level) > 1:
        paired = [lib.delayed(add)(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    (result,) = lib.compute(level[0], scheduler=scheduler)
    return result


# --- the cases ---------------------------------------------------------------

class IndependentCase(BenchmarkCase):
    def __init__(self, scheduler: str):
        super().__init__()
        self.scheduler = scheduler
        self.name = f"delayed-independent-{scheduler}"

    def task_count(self, size: int) -> int:
        return size

    def workload(self, lib: Any) -> list:
        return independent(lib, self.size, self.scheduler)

    def expected(self, size: int) -> list:
        return [i + 1 for i in range(size)]


class ChainCase(BenchmarkCase):
    def __init__(self, scheduler: str):
        super().__init__()
        self.scheduler = scheduler
        self.name = f"delayed-chain-{scheduler}"

    def task_count(self, size: int) -> int:
        return size

    def workload(self, lib: Any) -> int:
        return chain(lib, self.size, self.scheduler)

    def expected(self, size: int) -> int:
        return size


class TreeCase(BenchmarkCase):
    def __init__(self, scheduler: str):
        super().__init__()
        self.scheduler = scheduler
        self.name = f"delayed-tree-{scheduler}"

    def task_count(self, size: int) -> int:
        return max(size - 1, 0)

    def workload(self, lib: Any) -> int:
        return tree(lib, self.size, self.scheduler)

    def expected(self, size: int) -> int:
        return sum(range(size))


def cases() -> list[BenchmarkCase]:
    """Every case of this module, shape by shape, each on every scheduler."""
    return [shape(s) for shape in (IndependentCase, ChainCase, TreeCase) for s in SCHEDULERS]


class _PlainLibrary:
    """Runs the workloads eagerly, for the doctests: ``delayed(f)`` is ``f``."""

    @staticmethod
    def delayed(obj: Any) -> Any:
        return obj

    @staticmethod
    def compute(*values: Any, scheduler: str | None = None) -> tuple:
        return values
