"""Futures inside graphs and nested structures, as the Client sends and receives them.

Futures never travel: in a submitted call or graph each becomes a ``Ref`` to
its key (the scheduler holds the key while the future lives), and in a
published dataset a ``_FutureKey`` placeholder.

>>> _repack({"a": [1, 2]}, {}, "raise")
{'a': [1, 2]}
"""

from __future__ import annotations

import io
import pickle
from typing import Any, Iterator

from shoal.taskgraph import Alias, DataNode, Fused, Ref, Task, ensure_graph, is_collection

from .future import Future


def replace_futures(client: Any, value: Any) -> Any:
    """``value`` with each ``Future`` replaced by a ``Ref`` to its key (searching containers)."""
    kind = type(value)
    if kind is Future:
        if value.client is not client:
            raise ValueError(f"Future {value.key!r} belongs to another client; gather it and pass its value.")
        return Ref(value.key)
    if kind in (tuple, list, set, frozenset):  # sets too, as Dask searches them
        if not any(type(v) in (Future, tuple, list, dict, set, frozenset) for v in value):
            return value
        return kind(replace_futures(client, v) for v in value)
    if kind is dict:
        return {k: replace_futures(client, v) for k, v in value.items()}
    return value


def graph_with_futures_resolved(client: Any, graph: dict) -> dict:
    """The graph with futures held as literal data (persisted collections) turned into
    references to their keys, which the scheduler holds while the futures live."""
    out = {}
    for key, node in graph.items():
        kind = type(node)
        if kind is DataNode or kind is Fused:
            node = _resolve_future_nodes(key, node)
            if node is None:
                continue
        if type(node) is Task or type(node) is Fused:
            node = _task_with_future_refs(client, node)
        out[key] = node
    return out


def _task_with_future_refs(client: Any, node: Any) -> Any:
    """A Task (or Fused of them) whose arguments hold futures (``delayed(f)(future)``),
    rebuilt with references to the futures' keys."""
    if type(node) is Fused:
        inner = [_task_with_future_refs(client, n) for n in node.nodes]
        if all(a is b for a, b in zip(inner, node.nodes)):
            return node
        return Fused(node.key, inner)
    if type(node) is not Task:
        return node
    if not (_has_future(node.args) or _has_future(node.kwargs)):
        return node
    args = replace_futures(client, list(node.args))
    kwargs = {k: replace_futures(client, v) for k, v in node.kwargs.items()}
    return Task(node.key, node.func, *args, **kwargs)


def _has_future(value: Any) -> bool:
    kind = type(value)
    if kind is Future:
        return True
    if kind in (list, tuple, set, frozenset):
        return any(_has_future(v) for v in value)
    if kind is dict:
        return any(_has_future(v) for v in value.values())
    return False


def _is_future_data(node: Any) -> bool:
    return type(node) is DataNode and type(node.value) is Future


def _resolve_future_nodes(key: Any, node: Any) -> Any:
    """``node`` without literal futures: ``None`` (drop it: the scheduler holds ``key``),
    an ``Alias`` to the future's key, or a ``Fused`` whose future inputs became dependencies."""
    if _is_future_data(node):
        return None if node.value.key == key else Alias(key, node.value.key)
    if type(node) is not Fused or not any(_is_future_data(n) for n in node.nodes):
        return node
    last = node.nodes[-1]
    if _is_future_data(last):
        return None if last.value.key == key else Alias(key, last.value.key)
    renamed = {n.key: Ref(n.value.key) for n in node.nodes if _is_future_data(n) and n.key != n.value.key}
    inner = [n.substitute(renamed) if renamed else n for n in node.nodes if not _is_future_data(n)]
    return Fused(key, inner)


class _FutureKey:
    """Stands for a future inside a published dataset (futures themselves do not travel)."""

    __slots__ = ("key",)

    def __init__(self, key: Any):
        self.key = key

    def __reduce__(self):
        return (_FutureKey, (self.key,))


class _PersistedCollection:
    """Stands for a collection persisted on the cluster inside a published dataset: the
    collection pickled with each future it holds written as its key, and read back with a
    fresh future of this client for each key."""

    __slots__ = ("payload",)

    def __init__(self, payload: bytes):
        self.payload = payload

    def __reduce__(self):
        return (_PersistedCollection, (self.payload,))

    @classmethod
    def of(cls, collection: Any) -> "_PersistedCollection":
        import cloudpickle

        class Pickler(cloudpickle.Pickler):
            def persistent_id(self, obj):
                return ("shoal-future", obj.key) if type(obj) is Future else None

        buffer = io.BytesIO()
        Pickler(buffer).dump(collection)
        return cls(buffer.getvalue())

    def load(self, client: Any) -> Any:
        class Unpickler(pickle.Unpickler):
            def persistent_load(self, pid):
                return Future(pid[1], client)

        return Unpickler(io.BytesIO(self.payload)).load()


def _futures_to_placeholders(value: Any) -> Any:
    if type(value) is Future:
        return _FutureKey(value.key)
    if is_collection(value) and next(_futures_in(value), None) is not None:
        return _PersistedCollection.of(value)
    if isinstance(value, (list, tuple, set)):
        return type(value)(_futures_to_placeholders(v) for v in value)
    if isinstance(value, dict):
        return {k: _futures_to_placeholders(v) for k, v in value.items()}
    return value


def _placeholders_to_futures(value: Any, client: Any) -> Any:
    if type(value) is _FutureKey:
        return Future(value.key, client)
    if type(value) is _PersistedCollection:
        return value.load(client)
    if isinstance(value, (list, tuple, set)):
        return type(value)(_placeholders_to_futures(v, client) for v in value)
    if isinstance(value, dict):
        return {k: _placeholders_to_futures(v, client) for k, v in value.items()}
    return value


def _refs(keys: Any) -> Any:
    """The nested list ``keys`` with each key made a ``Ref``."""
    if type(keys) is list:
        return [_refs(k) for k in keys]
    return Ref(keys)


def futures_of(value: Any) -> list[Future]:
    """The futures in ``value``, each once: ``value`` itself, those inside lists, tuples,
    sets and dicts, and those a persisted collection's graph holds (``client.persist(x)``)."""
    return list(dict.fromkeys(_futures_in(value)))


def _futures_in(value: Any) -> Iterator[Future]:
    if is_collection(value):
        for node in ensure_graph(value.__shoal_graph__()).values():
            yield from _futures_in_node(node)
    elif isinstance(value, (list, tuple, set)):
        for v in value:
            yield from _futures_in(v)
    else:
        yield from _iter_futures(value)


def _futures_in_node(node: Any) -> Iterator[Future]:
    kind = type(node)
    if kind is DataNode:
        yield from _iter_futures(node.value)
    elif kind is Fused:
        for inner in node.nodes:
            yield from _futures_in_node(inner)
    elif kind is Task:
        yield from _iter_futures(list(node.args))
        yield from _iter_futures(node.kwargs)


def _iter_futures(value: Any):
    if type(value) is Future:
        yield value
    elif isinstance(value, (list, tuple, set)):
        for v in value:
            yield from _iter_futures(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _iter_futures(v)


_SKIPPED = object()


def _repack(value: Any, results: dict, errors: str) -> Any:
    """``value`` with each future replaced by its result; with ``errors="skip"`` a failed
    future is left out of lists, tuples and sets, and is ``None`` elsewhere (as in Dask)."""
    out = _repack_or_skip(value, results, errors)
    return None if out is _SKIPPED else out


def _repack_or_skip(value: Any, results: dict, errors: str) -> Any:
    if type(value) is Future:
        return results.get(value.key, _SKIPPED) if errors == "skip" else results[value.key]
    if isinstance(value, (list, tuple, set)):
        items = [_repack_or_skip(v, results, errors) for v in value]
        return type(value)(v for v in items if v is not _SKIPPED)
    if isinstance(value, dict):
        # A dict keeps its keys: a failed value is None rather than a missing entry.
        return {k: _repack(v, results, errors) for k, v in value.items()}
    return value
