"""Fuse linear chains of tasks into single tasks.

A chain link is a task with exactly one dependency whose only dependent it
is. Fusing such links removes scheduling overhead without removing any
parallelism: nothing else could have run the inner tasks concurrently.
"""

from __future__ import annotations

from typing import Hashable, Iterable, Mapping

from .core import Fused, GraphNode
from .errors import CycleError


def fuse(graph: Mapping[Hashable, GraphNode], keys: Iterable = ()) -> dict:
    """``graph`` with every linear chain replaced by one ``Fused`` node.

    The fused node keeps the key of the chain's last task, so dependents and
    requested ``keys`` still find it; ``keys`` are never fused away.

    >>> from shoal.taskgraph.core import Task, DataNode, Ref
    >>> g = {"a": DataNode("a", -2), "b": Task("b", abs, Ref("a")), "c": Task("c", str, Ref("b"))}
    >>> fused = fuse(g, keys=["c"])
    >>> list(fused), fused["c"]({})
    (['c'], '2')
    """
    keep = set(keys)
    dependent_count: dict = {}
    for node in graph.values():
        for dep in node.dependencies:
            dependent_count[dep] = dependent_count.get(dep, 0) + 1

    # absorbs[parent] = the one dependency the parent swallows.
    absorbs: dict = {}
    for key, node in graph.items():
        if len(node.dependencies) != 1:
            continue
        (dep,) = node.dependencies
        if dep in graph and dependent_count[dep] == 1 and dep not in keep:
            absorbs[key] = dep
    if not absorbs:
        return dict(graph)

    absorbed = set(absorbs.values())
    result: dict = {}
    for key, node in graph.items():
        if key in absorbed:
            continue
        if key not in absorbs:
            result[key] = node
            continue
        chain = [node]
        below = absorbs[key]
        while True:
            chain.append(graph[below])
            if below not in absorbs:
                break
            below = absorbs[below]
        # Only the chain's bottom may read a key of the chain: then the chain
        # closes on itself, and fusing would hide the cycle behind a KeyError.
        links = [part.key for part in chain]
        looped = chain[-1].dependencies.intersection(links)
        if looped:
            raise CycleError(links[links.index(next(iter(looped))):])
        nodes: list = []
        for part in reversed(chain):
            nodes.extend(part.nodes if type(part) is Fused else (part,))
        result[key] = Fused(key, nodes)
    return result
