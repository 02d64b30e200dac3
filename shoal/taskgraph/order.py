"""Static priorities that keep memory low.

The order is a depth-first, post-order walk from the outputs: a task comes
right after the last of its dependencies, so one branch is finished (and its
intermediates released) before the next is opened. Schedulers run the ready
task with the smallest number first.
"""

from __future__ import annotations

from typing import Hashable, Iterable, Mapping

from .core import GraphNode
from .errors import CycleError, MissingDependencyError, check_requested_keys
from .toposort import sort_key


def order(graph: Mapping[Hashable, GraphNode], keys: Iterable | None = None) -> dict:
    """``{key: priority}`` for every key of ``graph``; smaller runs first.

    ``keys`` are the outputs, in the order they should be finished; by default
    every key that nothing depends on, in ``sort_key`` order.

    >>> from operator import add
    >>> from shoal.taskgraph.core import Task, DataNode, Ref
    >>> g = {("x", i): DataNode(("x", i), i) for i in range(4)}
    >>> g["ab"] = Task("ab", add, Ref(("x", 0)), Ref(("x", 1)))
    >>> g["cd"] = Task("cd", add, Ref(("x", 2)), Ref(("x", 3)))
    >>> g["total"] = Task("total", add, Ref("ab"), Ref("cd"))
    >>> p = order(g)
    >>> sorted(g, key=p.get)
    [('x', 0), ('x', 1), 'ab', ('x', 2), ('x', 3), 'cd', 'total']
    """
    if keys is None:
        roots = _default_roots(graph)
    else:
        roots = check_requested_keys(keys, graph)
    priority: dict = {}
    _walk(graph, roots, priority)
    if len(priority) < len(graph):
        # Keys no output needs still get a place, after the outputs.
        rest = {k: n for k, n in graph.items() if k not in priority}
        _walk(graph, _default_roots(rest), priority)
    if len(priority) < len(graph):
        # What is left has no key without dependents: it holds a cycle, and
        # walking from each left-over key finds and names it.
        _walk(graph, sorted((k for k in graph if k not in priority), key=sort_key), priority)
    return priority


def _default_roots(graph: Mapping) -> list:
    has_dependent = set()
    for node in graph.values():
        has_dependent.update(node.dependencies)
    return sorted((k for k in graph if k not in has_dependent), key=sort_key)


def _walk(graph: Mapping, roots: list, priority: dict) -> None:
    """Number every unnumbered ancestor of ``roots`` in depth-first post-order."""
    visiting: set = set()
    for root in roots:
        if root in priority:
            continue
        visiting.add(root)
        stack = [(root, iter(_sorted_dependencies(graph[root])))]
        while stack:
            key, deps = stack[-1]
            for dep in deps:
                if dep in priority:
                    continue
                if dep in visiting:
                    path = [k for k, _ in stack]
                    raise CycleError(path[path.index(dep):])
                node = graph.get(dep)
                if node is None:
                    raise MissingDependencyError(dep, key, graph)
                visiting.add(dep)
                stack.append((dep, iter(_sorted_dependencies(node))))
                break
            else:
                stack.pop()
                visiting.discard(key)
                priority[key] = len(priority)


def _sorted_dependencies(node: GraphNode):
    deps = node.dependencies
    if len(deps) < 2:
        return deps
    return sorted(deps, key=sort_key)
