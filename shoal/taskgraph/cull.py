"""Keep only what the requested keys need."""

from __future__ import annotations

from typing import Hashable, Iterable, Mapping

from .core import GraphNode
from .errors import MissingDependencyError, check_requested_keys


def cull(graph: Mapping[Hashable, GraphNode], keys: Iterable) -> dict:
    """The sub-graph of ``keys`` and everything they depend on, nothing else.

    >>> from shoal.taskgraph.core import Task, DataNode, Ref
    >>> g = {"a": DataNode("a", 1), "b": Task("b", abs, Ref("a")), "c": DataNode("c", 2)}
    >>> sorted(cull(g, ["b"]))
    ['a', 'b']
    """
    keys = check_requested_keys(keys, graph)
    culled: dict = {}
    stack = list(keys)
    while stack:
        key = stack.pop()
        if key in culled:
            continue
        node = graph[key]
        culled[key] = node
        for dep in node.dependencies:
            if dep not in culled:
                if dep not in graph:
                    raise MissingDependencyError(dep, key, graph)
                stack.append(dep)
    return culled
