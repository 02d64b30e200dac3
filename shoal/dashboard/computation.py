"""``Computation``: the tasks of the current computation, for ``/graph`` and ``/stages``.

A computation starts when a graph arrives while the scheduler is idle (no
task waiting, queued or processing) and grows with every graph submitted
before that work is done. It keeps, per task, its prefix, its depth in the
graph (for the layered layout), and once finished its duration and output
size (for the stage statistics); per pair of prefixes, whether the
dependency between them is narrow (each task reads at most one task of the
other prefix) or wide (a shuffle, a reduction, a broadcast).

Work per submitted task is O(its dependencies); reads never scan the
scheduler. Memory is bounded: past ``task_limit`` tasks new ones are only
counted, and past ``graph_limit`` the layout (edges) stops being kept.

>>> from types import SimpleNamespace as Rec
>>> a = Rec(key=("load-aaaaaaaa", 0), dependencies=[])
>>> b = Rec(key=("sum-bbbbbbbb", 0), dependencies=[a])
>>> comp = Computation(graph_limit=10)
>>> comp.add_tasks([a, b])
>>> comp.depth[b.key], comp.prefix_edges
(1, {('load', 'sum'): False})
"""

from __future__ import annotations

from typing import Any, Hashable, Iterable

from shoal.taskgraph.core import key_prefix


class Computation:
    """What ``/graph`` and ``/stages`` show about the current computation."""

    def __init__(self, *, graph_limit: int = 1000, task_limit: int = 100_000):
        self.graph_limit = graph_limit
        self.task_limit = task_limit
        self.n_tasks = 0  # every task submitted, even past task_limit
        self.prefix: dict = {}  # key -> prefix
        self.depth: dict = {}  # key -> 0 for tasks with no dependency in this computation
        self.edges: list = []  # (dependency key, dependent key), while n_tasks <= graph_limit
        self.finished: dict = {}  # key -> (duration seconds, output nbytes)
        self.prefix_edges: dict = {}  # (dependency prefix, dependent prefix) -> True when wide
        self.prefix_order: dict = {}  # prefix -> first depth seen (stages are listed by it)

    @property
    def graph_too_large(self) -> bool:
        return self.n_tasks > self.graph_limit

    def add_tasks(self, tasks: Iterable[Any]) -> None:
        """Record new scheduler ``TaskState``-like records (``key``, ``dependencies``)."""
        pending = [ts for ts in tasks if ts.key not in self.prefix]
        for ts in self._dependencies_first(pending):
            self.n_tasks += 1
            if len(self.prefix) >= self.task_limit:
                continue
            self._add_one(ts)
        if self.graph_too_large:
            self.edges = []  # the layout is not drawn any more: drop what it would need

    def _dependencies_first(self, pending: list) -> list:
        """``pending`` ordered so every task follows its pending dependencies
        (submitted graphs arrive in no particular order)."""
        members = {ts.key for ts in pending}
        done: set = set()
        ordered: list = []
        for root in pending:
            if root.key in done:
                continue
            stack = [(root, False)]
            while stack:  # iterative: graphs can be deeper than the recursion limit
                ts, expanded = stack.pop()
                if ts.key in done:
                    continue
                if expanded:
                    done.add(ts.key)
                    ordered.append(ts)
                    continue
                stack.append((ts, True))
                stack.extend((dep, False) for dep in ts.dependencies if dep.key in members and dep.key not in done)
        return ordered

    def _add_one(self, ts: Any) -> None:
        key, prefix = ts.key, key_prefix(ts.key)
        depth = 0
        reads_per_prefix: dict = {}
        for dep in ts.dependencies:
            dep_depth = self.depth.get(dep.key)
            if dep_depth is not None:
                depth = max(depth, dep_depth + 1)
            dep_prefix = self.prefix.get(dep.key) or key_prefix(dep.key)
            reads_per_prefix[dep_prefix] = reads_per_prefix.get(dep_prefix, 0) + 1
            if self.n_tasks <= self.graph_limit and dep_depth is not None:
                self.edges.append((dep.key, key))
        for dep_prefix, n in reads_per_prefix.items():
            edge = (dep_prefix, prefix)
            self.prefix_edges[edge] = self.prefix_edges.get(edge, False) or n > 1
        self.prefix[key] = prefix
        self.depth[key] = depth
        self.prefix_order.setdefault(prefix, depth)

    def task_finished(self, key: Hashable, duration: float, nbytes: int) -> None:
        if key in self.prefix:
            self.finished[key] = (duration, nbytes)
