"""Inline nodes into the tasks that use them."""

from __future__ import annotations

from typing import Hashable, Iterable, Mapping

from .core import DataNode, GraphNode
from .toposort import toposort


def inline(graph: Mapping[Hashable, GraphNode], keys: Iterable | None = None, output: Iterable = ()) -> dict:
    """Replace references to ``keys`` by the nodes themselves, and drop those keys.

    A ``DataNode`` becomes a literal argument; any other node becomes an inline
    sub-task, run by each dependent (so only inline cheap work). ``keys``
    defaults to every ``DataNode``. Keys in ``output`` are inlined into their
    dependents but also kept, since someone asked for them.

    >>> from operator import add
    >>> from shoal.taskgraph.core import Task, DataNode, Ref
    >>> g = {"x": DataNode("x", 1), "y": Task("y", add, Ref("x"), 2)}
    >>> new = inline(g, output=["y"])
    >>> list(new), new["y"]({})
    (['y'], 3)
    """
    output = set(output)
    if keys is None:
        targets = {k for k, node in graph.items() if type(node) is DataNode}
    else:
        targets = set(keys)
    if not targets:
        return dict(graph)
    replacements: dict = {}
    for key in toposort(graph):
        if key in targets:
            replacements[key] = graph[key].substitute(replacements)
    return {
        key: node.substitute(replacements)
        for key, node in graph.items()
        if key not in replacements or key in output
    }
