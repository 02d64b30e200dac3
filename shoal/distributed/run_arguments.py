"""Functions run on a server that ask for the server itself, by a parameter's name.

``Client.run(f)`` runs ``f`` on each worker and ``Client.run_on_scheduler(f)``
on the scheduler. A function that has a parameter named ``shoal_worker``
(``shoal_scheduler``) is given the ``Worker`` (``Scheduler``) object it runs
in. Dask's names, ``dask_worker`` and ``dask_scheduler``, work the same, so
code written for Dask runs unchanged after its import line changes.

>>> def where(x, dask_worker=None):
...     return x, dask_worker
>>> with_server_argument(where, {}, "the worker", WORKER_PARAMETERS)
{'dask_worker': 'the worker'}
>>> with_server_argument(abs, {}, "the worker", WORKER_PARAMETERS)
{}
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

__all__ = ["WORKER_PARAMETERS", "SCHEDULER_PARAMETERS", "takes_argument", "with_server_argument"]

WORKER_PARAMETERS = ("shoal_worker", "dask_worker")
SCHEDULER_PARAMETERS = ("shoal_scheduler", "dask_scheduler")


def takes_argument(function: Any, name: str) -> bool:
    """Whether ``function`` has a parameter called ``name`` (False when it cannot be inspected,
    as for some builtins)."""
    try:
        return name in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def with_server_argument(function: Callable, kwargs: dict, server: Any, names: tuple) -> dict:
    """``kwargs`` plus ``server`` under each of ``names`` that ``function`` has as a parameter
    (and the caller did not pass already)."""
    for name in names:
        if name not in kwargs and takes_argument(function, name):
            kwargs = {**kwargs, name: server}
    return kwargs
