"""Scheduler names and the ``get`` functions behind them.

A scheduler is anything with the signature ``get(graph, keys, **kwargs)``.
Built-in names are ``sync``, ``threads`` and ``processes``; the distributed
``Client`` registers itself here when it is made, so collections never need
to know it exists.
"""

from __future__ import annotations

import functools
import threading
from concurrent.futures import Executor as FuturesPool
from typing import Any, Callable, Iterable

from .. import config

GetFunction = Callable[..., Any]

ALIASES = {
    "synchronous": "sync",
    "single-threaded": "sync",
    "threading": "threads",
    "multiprocessing": "processes",
}

_registry: dict[str, GetFunction] = {}
_lock = threading.Lock()


def register_scheduler(name: str, get: GetFunction) -> None:
    """Make ``scheduler=name`` run graphs with ``get``."""
    if not callable(get):
        raise TypeError(f"register_scheduler({name!r}, ...): get must be callable, got {type(get).__name__}")
    with _lock:
        _registry[name] = get


def unregister_scheduler(name: str) -> None:
    with _lock:
        _registry.pop(name, None)


def scheduler_names() -> list[str]:
    _ensure_builtins()
    with _lock:
        return sorted(_registry)


def get_scheduler(scheduler: Any = None, collections: Iterable[Any] = (), default: str | None = None) -> GetFunction:
    """The ``get`` function to use.

    In order of precedence: ``scheduler`` (a name, a ``get`` function, a
    ``concurrent.futures.Executor`` to run the tasks, or an object with a
    ``get`` method such as a distributed Client), the
    ``scheduler`` config setting, ``default`` (what the collections prefer),
    and finally ``threads``.
    """
    if scheduler is None:
        scheduler = config.get("scheduler", None)
    if scheduler is None:
        scheduler = default or "threads"
    if isinstance(scheduler, str):
        return _lookup(scheduler)
    if callable(getattr(scheduler, "get", None)):
        return scheduler.get
    if isinstance(scheduler, FuturesPool):
        from . import futures

        return functools.partial(futures.get, pool=scheduler)
    if callable(scheduler):
        return scheduler
    raise TypeError(
        f"scheduler= must be a scheduler name ({', '.join(repr(n) for n in scheduler_names())}), "
        f"a get function, a concurrent.futures.Executor, or a distributed Client; got {type(scheduler).__name__}"
    )


def _lookup(name: str) -> GetFunction:
    _ensure_builtins()
    canonical = ALIASES.get(name.lower(), name.lower())
    with _lock:
        get = _registry.get(canonical)
    if get is None:
        if canonical in ("distributed", "dask.distributed"):
            # The name exists only while a Client is open: say so, not "unknown".
            raise ValueError(
                f"scheduler={name!r} needs a running distributed Client, and none is open. Start one "
                "first: `from shoal.distributed import Client; client = Client()` (a local cluster) or "
                "`Client('tcp://scheduler:8786')`; or choose a local scheduler: "
                f"{', '.join(repr(n) for n in scheduler_names())}."
            )
        names = ", ".join(repr(n) for n in scheduler_names())
        aliases = ", ".join(f"{a!r} for {n!r}" for a, n in ALIASES.items())
        raise ValueError(
            f"Unknown scheduler {name!r}. Valid names are {names} (also {aliases}); "
            "or pass a get function or a distributed Client as scheduler=."
        )
    return get


def _ensure_builtins() -> None:
    if "sync" in _registry:
        return
    from . import processes, sync, threads

    with _lock:
        _registry.setdefault("sync", sync.get)
        _registry.setdefault("threads", threads.get)
        _registry.setdefault("processes", processes.get)
