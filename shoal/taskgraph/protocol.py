"""The collection protocol, and gathering the graphs of many collections.

Every collection implements three methods:

- ``__shoal_graph__()``: a ``Mapping[key, GraphNode]`` holding its tasks;
- ``__shoal_keys__()``: its output keys, as a (possibly nested) list;
- ``__shoal_postcompute__()``: ``(finalize, extra_args)``; the computed value
  is ``finalize(results, *extra_args)`` where ``results`` has the structure
  of ``__shoal_keys__()`` filled with values.

Optionally, ``__shoal_postpersist__()`` returns ``(rebuild, extra_args)`` so
that ``rebuild({key: value}, *extra_args)`` makes an equivalent collection
backed by computed data (used by ``persist``), and ``__shoal_scheduler__`` names
the scheduler that suits the collection by default. A collection type may
also offer a classmethod ``__shoal_merge_graphs__(collections)`` that builds
one graph for many of its instances at once (``compute(*many_delayed)`` then
walks their shared history once, not once per object).
"""

from __future__ import annotations

from typing import Any, Hashable, Iterable

from .cull import cull
from .fuse import fuse


def is_collection(obj: Any) -> bool:
    """True when ``obj`` speaks the protocol (looked up on the type, not the
    instance, so proxies with ``__getattr__`` are not fooled)."""
    return not isinstance(obj, type) and callable(getattr(type(obj), "__shoal_graph__", None))


def flatten_keys(keys: Any) -> list:
    """The keys of a nested list of keys, in order."""
    if type(keys) is not list:
        return [keys]
    flat: list = []
    stack = [iter(keys)]
    while stack:
        for item in stack[-1]:
            if type(item) is list:
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def pack_results(keys: Any, results: dict) -> Any:
    """The nested list ``keys`` with each key replaced by ``results[key]``."""
    if type(keys) is not list:
        return results[keys]
    return [pack_results(k, results) for k in keys]


def collections_to_graph(collections: Iterable[Any], optimize_graph: bool = True) -> tuple[dict, list]:
    """One graph for all ``collections`` and the list of their output keys.

    Work the collections share is shared in the graph, since equal work has
    equal keys. With ``optimize_graph``, what no output needs is culled and
    linear chains are fused.
    """
    collections = list(collections)
    graph: dict = {}
    keys = [coll.__shoal_keys__() for coll in collections]
    by_type: dict = {}
    for coll in collections:
        by_type.setdefault(type(coll), []).append(coll)
    for kind, group in by_type.items():
        merge = getattr(kind, "__shoal_merge_graphs__", None)
        if merge is not None and len(group) > 1:
            graph.update(merge(group))
        else:
            for coll in group:
                graph.update(coll.__shoal_graph__())
    if optimize_graph:
        flat = flatten_keys(keys)
        graph = fuse(cull(graph, flat), keys=flat)
    return graph, keys


def default_scheduler(collections: Iterable[Any]) -> str | None:
    """The scheduler the collections prefer, when they agree on one."""
    names = {getattr(type(c), "__shoal_scheduler__", None) for c in collections}
    names.discard(None)
    return names.pop() if len(names) == 1 else None


def finalize(collection: Any, results: Any) -> Any:
    func, extra = collection.__shoal_postcompute__()
    return func(results, *extra)


def output_keys(collection: Any) -> list[Hashable]:
    return flatten_keys(collection.__shoal_keys__())
