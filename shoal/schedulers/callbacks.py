"""Hooks into the local engine: ``start``, ``start_state``, ``pretask``, ``posttask``, ``finish``.

Subclass ``Callback`` and override the hooks you need, or pass functions to
its constructor. Activate a callback for a block with ``with cb:``, for the
whole session with ``cb.register()``, or for one call with
``compute(..., callbacks=[cb])``. The engine calls hooks in its own thread,
in this order: ``start`` once, ``start_state`` once, ``pretask``/``posttask``
around every task, ``finish`` once (also when a task failed, with
``errored=True``). Subclasses written for Dask, which override ``_start``,
``_start_state``, ``_pretask``, ``_posttask`` and ``_finish``, work as they are.

Globally active callbacks see only outermost computations: a ``compute()``
called from inside a task does not report to them (it would look like a
second, unrelated computation), but callbacks passed to it explicitly do.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Hashable, Iterable, Mapping


class Callback:
    """Base class of engine callbacks; every hook is a no-op by default."""

    #: callbacks registered globally (``register()`` or ``with``)
    active: set = set()
    _lock = threading.Lock()

    def __init__(
        self,
        start: Callable | None = None,
        start_state: Callable | None = None,
        pretask: Callable | None = None,
        posttask: Callable | None = None,
        finish: Callable | None = None,
    ):
        # A function given here shadows the method of the same name.
        hooks = (("start", start), ("start_state", start_state), ("pretask", pretask),
                 ("posttask", posttask), ("finish", finish))
        for name, func in hooks:
            if func is not None:
                setattr(self, name, func)

    def start(self, graph: Mapping) -> None:
        """Before anything runs; ``graph`` is the graph about to run."""

    def start_state(self, graph: Mapping, state: Any) -> None:
        """After ``start``, with the engine's state (counts of finished,
        running and waiting tasks) before the first task runs."""

    def pretask(self, key: Hashable, graph: Mapping, state: Any) -> None:
        """Just before the task ``key`` is handed to a worker."""

    def posttask(self, key: Hashable, result: Any, graph: Mapping, state: Any, worker_id: int) -> None:
        """Just after the task ``key`` finished on worker ``worker_id``."""

    def finish(self, graph: Mapping, state: Any, errored: bool) -> None:
        """After the last task, or after the first failure."""

    def register(self) -> None:
        with Callback._lock:
            Callback.active.add(self)

    def unregister(self) -> None:
        with Callback._lock:
            Callback.active.discard(self)

    def __enter__(self):
        self.register()
        return self

    def __exit__(self, *exc_info) -> None:
        self.unregister()


class Hooks:
    """The bound hooks of a set of callbacks, leaving out the no-ops."""

    __slots__ = ("start", "start_state", "pretask", "posttask", "finish")

    def __init__(self, callbacks: Iterable[Callback]):
        callbacks = list(callbacks)
        self.start = _overridden(callbacks, "start")
        self.start_state = _overridden(callbacks, "start_state")
        self.pretask = _overridden(callbacks, "pretask")
        self.posttask = _overridden(callbacks, "posttask")
        self.finish = _overridden(callbacks, "finish")


def _overridden(callbacks: list, name: str) -> list:
    base = getattr(Callback, name)
    hooks = []
    for cb in callbacks:
        hook = getattr(cb, name)
        if getattr(hook, "__func__", None) is base:
            # Dask's Callback subclasses override the underscored names.
            hook = getattr(cb, f"_{name}", None)
            if not callable(hook):
                continue
        hooks.append(hook)
    return hooks


class _Nesting(threading.local):
    depth = 0  # engines running in this thread; pool threads start at 1


nesting = _Nesting()


def active_callbacks(extra: Iterable[Callback] | None = None) -> list[Callback]:
    """The globally active callbacks (outermost computations only) plus ``extra``
    (one ``Callback`` or several)."""
    found = []
    if nesting.depth == 0:
        with Callback._lock:
            found = list(Callback.active)
    if isinstance(extra, Callback):
        extra = [extra]
    for cb in extra or ():
        if not isinstance(cb, Callback):
            raise TypeError(
                f"callbacks= takes Callback objects (ProgressBar(), Profiler(), Callback(posttask=f), ...); "
                f"got {type(cb).__name__} {cb!r:.60}. Wrap a function as Callback(start=..., posttask=...)."
            )
        if cb not in found:
            found.append(cb)
    return found
