"""Stages of a computation and their outliers (pure functions, no Bokeh).

A stage is a set of task prefixes joined by narrow dependencies (each task
reads at most one task of the other prefix); a wide dependency (a shuffle,
a reduction, a broadcast) starts a new stage, as in Spark. Within a stage a
*straggler* is a task whose duration is far above the stage's median and a
*skewed partition* one whose output is far larger than the median output.

>>> split_stages(["load", "inc", "sum"], {("load", "inc"): False, ("inc", "sum"): True})
[['load', 'inc'], ['sum']]
>>> outliers([1.0, 1.1, 0.9, 9.0], factor=3.0, min_excess=0.0)
[False, False, False, True]
"""

from __future__ import annotations

from statistics import median
from typing import Iterable, Mapping


def readable_prefix(prefix: str) -> str:
    """``prefix`` without the hex tokens some keys carry in the middle of their name.

    >>> readable_prefix("shuffle-e596994d7cb9dfdc19331f65a64ba4f3-split0")
    'shuffle-split0'
    >>> readable_prefix("inc")
    'inc'
    """
    parts = [part for part in prefix.split("-")
             if not (len(part) >= 8 and all(c in "0123456789abcdef" for c in part))]
    return "-".join(parts) or prefix


def split_stages(prefixes: Iterable[str], prefix_edges: Mapping) -> list:
    """Group ``prefixes`` (listed in execution order) into stages.

    ``prefix_edges`` maps ``(dependency prefix, dependent prefix)`` to True
    when that dependency is wide. Stages come in the order of their first
    prefix in ``prefixes``; prefixes keep that order inside a stage.
    """
    prefixes = list(prefixes)
    parent = {p: p for p in prefixes}

    def root(p: str) -> str:
        while parent[p] != p:
            parent[p] = parent[parent[p]]  # path halving keeps the trees flat
            p = parent[p]
        return p

    for (source, target), wide in prefix_edges.items():
        if not wide and source in parent and target in parent:
            a, b = root(source), root(target)
            if a != b:
                parent[b] = a
    stages: dict = {}
    for p in prefixes:
        stages.setdefault(root(p), []).append(p)
    return list(stages.values())


def outliers(values: list, *, factor: float, min_excess: float) -> list:
    """For each value, whether it is above ``factor`` x the median and at least
    ``min_excess`` above it (the excess keeps noise on tiny values quiet)."""
    if len(values) < 2:
        return [False] * len(values)
    middle = median(values)
    return [v > factor * middle and v - middle >= min_excess for v in values]


def stage_table(computation, *, straggler_factor: float = 3.0, skew_factor: float = 3.0,
                min_straggler_seconds: float = 0.05, min_skew_bytes: int = 1024) -> list:
    """One dict per stage of ``computation`` (a ``Computation``): its prefixes,
    task counts, and per finished task its key, duration, nbytes and whether
    it is a straggler or a skewed partition."""
    order = sorted(computation.prefix_order, key=lambda p: computation.prefix_order[p])
    stage_of = {}
    stages = split_stages(order, computation.prefix_edges)
    for number, members in enumerate(stages):
        for prefix in members:
            stage_of[prefix] = number
    tasks: list = [[] for _ in stages]
    totals = [0] * len(stages)
    for key, prefix in computation.prefix.items():
        totals[stage_of[prefix]] += 1
    for key, (duration, nbytes) in computation.finished.items():
        tasks[stage_of[computation.prefix[key]]].append((key, duration, nbytes))
    table = []
    for number, members in enumerate(stages):
        done = tasks[number]
        durations = [d for _, d, _ in done]
        sizes = [max(n, 0) for _, _, n in done]
        table.append({
            "stage": number,
            "prefixes": members,
            "n_tasks": totals[number],
            "n_finished": len(done),
            "keys": [k for k, _, _ in done],
            "durations": durations,
            "nbytes": sizes,
            "median_duration": median(durations) if durations else 0.0,
            "median_nbytes": median(sizes) if sizes else 0,
            "stragglers": outliers(durations, factor=straggler_factor, min_excess=min_straggler_seconds),
            "skewed": outliers(sizes, factor=skew_factor, min_excess=min_skew_bytes),
        })
    return table
