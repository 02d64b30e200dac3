"""Topological sort, and the checks every traversal shares (cycles, missing keys)."""

from __future__ import annotations

from typing import Hashable, Iterable, Mapping

from .core import GraphNode
from .errors import CycleError, MissingDependencyError, check_requested_keys

_VISITING, _DONE = 1, 2


def sort_key(key: Hashable):
    """A total order on keys that is stable across processes.

    Tuple keys sort by name, then numerically by index, so ``('x', 2)`` comes
    before ``('x', 10)``.

    >>> sorted([("x", 10), "y", ("x", 2)], key=sort_key)
    [('x', 2), ('x', 10), 'y']
    """
    if type(key) is tuple:
        return (str(key[0]), tuple((0, i, "") if type(i) is int else (1, 0, str(i)) for i in key[1:]))
    return (str(key), ())


def toposort(graph: Mapping[Hashable, GraphNode], keys: Iterable | None = None) -> list:
    """Keys of ``graph`` (or the ancestors of ``keys``), each after all its dependencies.

    Raises ``CycleError`` naming the keys of a cycle and
    ``MissingDependencyError`` naming a dependency that no task produces.

    >>> from shoal.taskgraph.core import Task, DataNode, Ref
    >>> g = {"b": Task("b", abs, Ref("a")), "a": DataNode("a", -1)}
    >>> toposort(g)
    ['a', 'b']
    """
    roots = list(graph) if keys is None else check_requested_keys(keys, graph)
    result: list = []
    state: dict = {}
    for root in roots:
        if root in state:
            continue
        state[root] = _VISITING
        stack = [(root, iter(graph[root].dependencies))]
        while stack:
            key, deps = stack[-1]
            for dep in deps:
                seen = state.get(dep)
                if seen is None:
                    node = graph.get(dep)
                    if node is None:
                        raise MissingDependencyError(dep, key, graph)
                    state[dep] = _VISITING
                    stack.append((dep, iter(node.dependencies)))
                    break
                if seen == _VISITING:
                    path = [k for k, _ in stack]
                    raise CycleError(path[path.index(dep):])
            else:
                stack.pop()
                state[key] = _DONE
                result.append(key)
    return result


def find_cycle(graph: Mapping[Hashable, GraphNode]) -> list | None:
    """The keys of one cycle in ``graph``, or None when it has none."""
    try:
        toposort(graph)
    except CycleError as err:
        return err.cycle
    return None
