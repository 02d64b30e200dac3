"""Putting work on the cluster: ``Client.submit``, ``map``, ``compute``, ``persist``,
``get``, and ``cancel``/``retry`` of the futures they return.

``ClientSubmitMixin`` turns calls and collections into task graphs, names
their keys, and sends them to the scheduler as ``update-graph`` messages
(large graphs in ``graph_wire``'s compact form). ``Client`` (``client.py``)
inherits it.

What it needs from the host class (``Client``): the attributes
``asynchronous``, ``futures`` and ``_ref_lock``; and the methods ``_sync``,
``_send``, ``_send_on_loop``, ``_call_on_loop``, ``gather`` and
``_gather_keys`` (``client_data.py``).
"""

from __future__ import annotations

import numbers
import uuid
from collections.abc import Mapping
from typing import Any, Callable, Iterable

from shoal.taskgraph import Task, cull, ensure_graph, is_collection
from shoal.taskgraph.protocol import collections_to_graph, flatten_keys, pack_results
from shoal.taskgraph.tokenize import tokenize

from . import graph_wire
from .comm import SerializationError
from .future import Future
from .graph_futures import _iter_futures, _refs, graph_with_futures_resolved, replace_futures

_WIRE_MIN_TASKS = 64  # graphs this large are sent in graph_wire's compact form


_GRAPH_OPTIONS = ("workers", "resources", "retries", "priority", "allow_other_workers")
# Dask's compute/persist take these too; they change nothing here, so code written for
# Dask runs unchanged (traverse: lists are always searched for collections).
_IGNORED_DASK_OPTIONS = ("fifo_timeout", "actors", "traverse")


def _check_options(caller: str, options: dict) -> dict:
    """``options`` without Dask's ignored ones; refuses what the scheduler would ignore or
    fail on later: unknown keywords of ``compute``/``persist`` (they were dropped
    silently), a priority that is not a number and negative retries."""
    options = {k: v for k, v in options.items() if k not in _IGNORED_DASK_OPTIONS}
    unknown = sorted(set(options) - set(_GRAPH_OPTIONS))
    if unknown:
        raise TypeError(f"{caller}() got unexpected keyword arguments {unknown}; "
                        f"its scheduling options are {list(_GRAPH_OPTIONS)}.")
    priority = options.get("priority", 0)
    if not isinstance(priority, Mapping) and (isinstance(priority, bool) or not isinstance(priority, numbers.Real)):
        raise TypeError(f"{caller}(priority=...) must be a number (larger runs first), got {priority!r}")
    retries = options.get("retries")
    if retries is not None and not isinstance(retries, Mapping):
        if isinstance(retries, bool) or not isinstance(retries, numbers.Integral) or retries < 0:
            raise ValueError(f"{caller}(retries=...) must be a whole number >= 0, got {retries!r}")
    return options


def _func_name(func: Callable) -> str:
    name = getattr(func, "__name__", None) or type(func).__name__
    return name if name != "<lambda>" else "lambda"


class ClientSubmitMixin:
    """``submit``, ``map``, ``compute``, ``persist``, ``get``, ``cancel`` and ``retry`` of ``Client``."""

    # ------------------------------------------------------------------ submitting
    def submit(self, func: Callable, *args: Any, key: Any = None, pure: bool = True, workers: Any = None,
               resources: dict | None = None, retries: int | None = None, priority: int = 0,
               allow_other_workers: bool = False, **kwargs: Any) -> Future:
        """Run ``func(*args, **kwargs)`` on the cluster; a ``Future`` of its result.

        Futures among the arguments (also inside lists, tuples and dicts)
        are replaced by their values on the worker. ``pure=True`` names the
        task by its inputs, so equal calls share one result; use
        ``pure=False`` for functions with side effects or randomness.
        """
        if not callable(func):
            raise TypeError(f"submit() needs a callable first argument, got {type(func).__name__}")
        _check_options("submit", {"priority": priority, "retries": retries})
        if key is None:
            name = _func_name(func)
            key = f"{name}-{tokenize(func, args, kwargs)}" if pure else f"{name}-{uuid.uuid4().hex}"
        if self._already_submitted(key):
            return Future(key, self)
        # New names, not ``args``/``kwargs`` rebound: those may be the only holders of
        # futures made inline (``submit(f, [submit(g, 1)])``), which must outlive the
        # message below, or their release reaches the scheduler first and it forgets
        # the key this task depends on.
        wire_args = replace_futures(self, args)
        wire_kwargs = {k: replace_futures(self, v) for k, v in kwargs.items()}
        task = Task(key, func, *wire_args, **wire_kwargs)
        future = Future(key, self)
        self._submit_graph({key: task}, [key], workers=workers, resources=resources, retries=retries,
                           priority=priority, allow_other_workers=allow_other_workers)
        return future

    def map(self, func: Callable, *iterables: Iterable, key: Any = None, pure: bool = True, workers: Any = None,
            resources: dict | None = None, retries: int | None = None, priority: int = 0,
            allow_other_workers: bool = False, batch_size: int | None = None, **kwargs: Any) -> list:
        """``submit(func, *items)`` for each tuple of items of ``iterables``, as one graph; a list of futures.

        ``key``: a list of keys, or a name prefix for them. ``batch_size`` is
        accepted for Dask's signature (not passed to ``func``): every call
        goes to the scheduler in one graph anyway.
        """
        if not callable(func):
            raise TypeError(f"map() needs a callable first argument, got {type(func).__name__}")
        _check_options("map", {"priority": priority, "retries": retries})
        rows = list(zip(*iterables))
        if isinstance(key, (list, tuple)):
            if len(key) != len(rows):
                raise ValueError(f"map(): {len(key)} keys for {len(rows)} calls")
            keys = list(key)
        else:
            prefix = key or _func_name(func)
            if pure:
                base = tokenize(func, kwargs)
                keys = [f"{prefix}-{tokenize(base, row)}" for row in rows]
            else:
                keys = [f"{prefix}-{uuid.uuid4().hex}" for _ in rows]
        # A new name, not ``kwargs`` rebound: it may hold the only reference to a future
        # made inline, which must outlive the message below (see submit).
        wire_kwargs = {k: replace_futures(self, v) for k, v in kwargs.items()}
        graph = {}
        for k, row in zip(keys, rows):
            if k not in graph and not self._already_submitted(k):
                graph[k] = Task(k, func, *replace_futures(self, row), **wire_kwargs)
        futures = [Future(k, self) for k in keys]
        if graph:
            self._submit_graph(graph, list(graph), workers=workers, resources=resources, retries=retries,
                               priority=priority, allow_other_workers=allow_other_workers)
        return futures

    def _already_submitted(self, key: Any) -> bool:
        """Whether ``key`` is held by a live future; a cancelled one is reset to be submitted again."""
        with self._ref_lock:
            state = self.futures.get(key)
            if state is None:
                return False
            if state.status != "cancelled":
                return True
            state.status, state.exception, state.workers = "pending", None, []
            if state._event is not None:
                self._call_on_loop(state._event.clear)
            return False

    def _submit_graph(self, graph: dict, keys: list, **options: Any) -> None:
        if self.status != "running":
            # Sent now, the graph would be dropped and its futures stay pending forever.
            hint = ("await the client (`client = await Client(..., asynchronous=True)`) before submitting work"
                    if self.status == "created" else "create a new Client to compute")
            raise RuntimeError(f"Client {self.id} is {self.status}: {hint}.")
        msg = {"op": "update-graph", "graph": self._graph_for_wire(graph), "keys": keys}
        msg.update({k: v for k, v in options.items() if v not in (None, False, 0)})
        self._send(msg)

    @staticmethod
    def _graph_for_wire(graph: dict) -> Any:
        """Large graphs travel in the compact wire form (``graph_wire``): a record per layer."""
        if len(graph) < _WIRE_MIN_TASKS:
            return graph  # a few tasks: plain nodes are cheaper than templates
        try:
            return graph_wire.encode(graph)
        except SerializationError:
            # Sent as it is: an in-process scheduler may not need to pickle it at all,
            # and when it must, _on_unserializable names the key that failed.
            return graph

    # ------------------------------------------------------------------ collections
    def compute(self, collections: Any, sync: bool = False, optimize_graph: bool = True, **options: Any) -> Any:
        """Futures of the computed values of one collection or a list of them.

        ``sync=True`` returns the values instead (``gather`` of the futures).
        Items that are not collections are returned as they are.
        """
        options = _check_options("compute", options)
        single = not isinstance(collections, (list, tuple))
        items = [collections] if single else list(collections)
        positions = [i for i, item in enumerate(items) if is_collection(item)]
        final_keys: list = []
        graph: dict = {}
        if positions:
            # One graph for all of them, optimized together, so work they share runs once.
            colls = [items[i] for i in positions]
            graph, keys = collections_to_graph(colls, optimize_graph)
            graph = graph_with_futures_resolved(self, graph)
            for coll, coll_keys in zip(colls, keys):
                func, extra = coll.__shoal_postcompute__()
                final = f"finalize-{tokenize(coll_keys, func, extra)}"
                graph[final] = Task(final, func, _refs(coll_keys), *extra)
                final_keys.append(final)
        futures = [Future(k, self) for k in final_keys]
        if final_keys:
            self._submit_graph(graph, final_keys, **options)
        out = list(items)
        for i, future in zip(positions, futures):
            out[i] = future
        if sync:
            if self.asynchronous:  # gather gives an awaitable: unpack once it is done
                async def values():
                    gathered = await self.gather(out)
                    return gathered[0] if single else gathered

                return values()
            out = self.gather(out)
        return out[0] if single else out

    def persist(self, collections: Any, optimize_graph: bool = True, **options: Any) -> Any:
        """Start computing collections; equivalent collections backed by futures of their parts."""
        options = _check_options("persist", options)
        single = not isinstance(collections, (list, tuple))
        items = [collections] if single else list(collections)
        colls = [c for c in items if is_collection(c)]
        for coll in colls:
            if getattr(type(coll), "__shoal_postpersist__", None) is None:
                raise TypeError(f"{type(coll).__name__} cannot be persisted: it has no __shoal_postpersist__")
        if not colls:
            return collections
        graph, keys = collections_to_graph(colls, optimize_graph)
        flat = list(dict.fromkeys(flatten_keys(keys)))
        futures = {k: Future(k, self) for k in flat}
        self._submit_graph(graph_with_futures_resolved(self, graph), flat, **options)
        out = []
        for item in items:
            if is_collection(item):
                rebuild, extra = item.__shoal_postpersist__()
                item = rebuild(futures, *extra)
            out.append(item)
        return out[0] if single else out

    def get(self, graph: Any, keys: Any, **kwargs: Any) -> Any:
        """Compute ``keys`` (a key or nested list of keys) of ``graph`` on the cluster: the
        ``get`` function behind ``scheduler="distributed"``."""
        if self.asynchronous:
            raise RuntimeError(
                "An asynchronous Client cannot compute synchronously (x.compute() or get); "
                "use `await client.compute(x)` instead."
            )
        flat = list(dict.fromkeys(flatten_keys(keys)))
        # ``graph`` is kept (not rebound): futures in it must outlive the message (see submit).
        resolved = graph_with_futures_resolved(self, cull(ensure_graph(graph), flat))
        futures = [Future(k, self) for k in flat]
        try:
            self._submit_graph(resolved, flat)
            values = self._sync(self._gather_keys, flat)
            return pack_results(keys, values)
        finally:
            for future in futures:
                future.release()

    def cancel(self, futures: Any, force: bool = False) -> None:
        """Cancel ``futures``: stop their tasks and free their data unless still needed."""
        futures = list(_iter_futures(futures))
        keys = [f.key for f in futures]

        def cancel_now() -> None:
            for f in futures:
                if not f._state.done():
                    f._state.cancel()
            self._send_on_loop({"op": "cancel-keys", "keys": keys, "force": force})

        self._call_on_loop(cancel_now)

    def retry(self, futures: Any) -> None:
        """Run erred futures again."""
        futures = list(_iter_futures(futures))

        def retry_now() -> None:
            for f in futures:
                if f._state.status == "error":
                    f._state.status = "pending"
                    f._state.exception = f._state.traceback = None
                    if f._state._event is not None:
                        f._state._event.clear()
            self._send_on_loop({"op": "retry", "keys": [f.key for f in futures]})

        self._call_on_loop(retry_now)
