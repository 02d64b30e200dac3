"""Accept Dask-style dict-of-tuples graphs and turn them into nodes, once.

In such a graph (``{"x": 1, "y": (inc, "x")}``) a tuple whose first element
is callable is a task, a hashable value equal to a key is a reference, and
lists, other tuples, sets and frozensets are searched for both, as Dask does.
Dicts and everything else are literal data.
"""

from __future__ import annotations

from typing import Any, Hashable, Mapping

from .core import Alias, DataNode, GraphNode, Ref, Task


# Containers searched for keys and tasks (a dict is passed as it is, as in Dask).
_SEARCHED = (list, tuple, set, frozenset)


def is_legacy_task(value: Any) -> bool:
    return type(value) is tuple and len(value) > 0 and callable(value[0])


def _identity(value):
    return value


def convert_legacy_graph(graph: Mapping[Hashable, Any]) -> dict:
    """``graph`` with every value turned into a ``GraphNode``.

    Values that already are nodes are kept.

    >>> from operator import add
    >>> g = convert_legacy_graph({"x": 1, "y": (add, "x", 10), "z": "y"})
    >>> g["x"], g["y"]({"x": 1}), g["z"]
    (DataNode('x', 1), 11, Alias('z' -> 'y'))
    """
    keys = graph.keys()
    return {key: convert_legacy_node(key, value, keys) for key, value in graph.items()}


def ensure_graph(graph: Mapping[Hashable, Any]) -> Mapping[Hashable, GraphNode]:
    """``graph`` itself when every value is a node, else its conversion."""
    if not isinstance(graph, Mapping):
        raise TypeError(
            f"A task graph is a mapping of keys to tasks (a dict such as {{'x': 1, 'y': (inc, 'x')}}); "
            f"got {type(graph).__name__}. To compute a collection, call .compute() or shoal.compute() on it."
        )
    for value in graph.values():
        if not isinstance(value, GraphNode):
            return convert_legacy_graph(graph)
    return graph


def convert_legacy_node(key: Hashable, value: Any, keys) -> GraphNode:
    if isinstance(value, GraphNode):
        return value if value.key == key else value.with_key(key)
    if is_legacy_task(value):
        return _convert_task(key, value, keys)
    if _is_key(value, keys) and value != key:
        return Alias(key, value)
    if type(value) in _SEARCHED:
        converted = _convert_argument(value, keys)
        if converted is not value:
            return Task(key, _identity, converted)
    return DataNode(key, value)


def _convert_task(key, value: tuple, keys) -> Task:
    func, *args = value
    return Task(key, func, *[_convert_argument(a, keys) for a in args])


def _convert_argument(arg: Any, keys) -> Any:
    """The argument with keys as ``Ref`` and task tuples as inline ``Task``.

    Returns ``arg`` itself (same object) when nothing in it changes.
    """
    if is_legacy_task(arg):
        return _convert_task(None, arg, keys)
    kind = type(arg)
    if kind in _SEARCHED:
        if kind is not list and _is_key(arg, keys):  # a tuple key such as ("x", 0)
            return Ref(arg)
        items = [_convert_argument(a, keys) for a in arg]
        if all(new is old for new, old in zip(items, arg)):
            return arg
        return kind(items)
    if _is_key(arg, keys):
        return Ref(arg)
    return arg


def _is_key(value: Any, keys) -> bool:
    try:
        return value in keys
    except TypeError:  # unhashable values are never keys
        return False
