"""Administering and querying the cluster from a ``Client``: restart and retire
workers, run functions on them or on the scheduler, and ask who holds what.

``ClientAdminMixin`` only sends requests (to the scheduler, or to every
worker for ``run``) and returns their answers: none of it touches this
client's futures. ``Client`` (``client.py``) inherits it.

What it needs from the host class (``Client``): the attributes ``pool`` (a
``ConnectionPool``) and ``_dashboard_link``; and the methods ``_sync`` and
``_request``.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from .future import check_timeout
from .graph_futures import _iter_futures


class ClientAdminMixin:
    """Worker administration and cluster queries of ``Client``."""

    # ------------------------------------------------------------------ workers
    def restart(self, timeout: float = 30.0, wait_for_workers: bool = True) -> int:
        """Cancel every future of every client and restart every worker; returns once all
        have registered again (within ``timeout`` s), with the number of workers.
        ``wait_for_workers=False`` (as in Dask) returns once they were told to restart,
        with the number registered then, and raises no TimeoutError for late ones.

        A worker under a nanny (the default for ``shoal-worker`` and
        ``LocalCluster(processes=True)``) is a fresh process afterwards: its
        memory, imported modules and threads are gone. A worker without one
        drops all its data and registers again in the same process.
        """
        timeout = check_timeout(timeout, "restart")
        return self._sync(self._request, {"op": "restart", "timeout": timeout,
                                          "wait_for_workers": bool(wait_for_workers)})

    def retire_workers(self, workers: Any = None, n: int | None = None, close: bool = True,
                       timeout: float = 60.0, *, close_workers: bool | None = None,
                       names: Any = None) -> Any:
        """Retire workers gracefully; ``{address: info}`` of those retired, as in Dask.

        Each ``info`` is what ``scheduler_info()["workers"]`` showed of that
        worker as it left (``name``, ``nthreads``, ``memory_limit``, ``nanny``,
        ...); ``list(client.retire_workers(...))`` gives the addresses.

        ``workers``: addresses or names (one, or a list); else ``names`` (as
        Dask's keyword); else ``n`` of them (idle ones holding the least data
        first); else every idle worker but one. They get no new tasks, their
        queued tasks move, and the results only they hold are copied to the
        remaining workers before they leave, so every future stays valid.
        ``close=False`` (Dask spells it ``close_workers=False``) leaves them
        registered (as ``closing``) for whoever started them to stop.
        """
        if close_workers is not None:
            close = close_workers
        if workers is None and names is not None:
            workers = names
        if workers is not None:
            # One address or name (a str, or an int name) is a list of one; a string
            # iterated would have been its characters.
            workers = [workers] if isinstance(workers, (str, int)) else list(workers)
        if n is not None:
            if isinstance(n, float) and n.is_integer():
                n = int(n)
            if isinstance(n, bool) or not isinstance(n, int):
                raise TypeError(f"retire_workers(n=...) must be a whole number of workers, "
                                f"got {type(n).__name__} {n!r}")
        timeout = check_timeout(timeout, "retire_workers")
        msg = {"op": "retire-workers", "workers": workers, "n": n, "close": close, "timeout": timeout}
        return self._sync(self._request, msg)

    # ------------------------------------------------------------------ cluster queries
    def who_has(self, futures: Any = None) -> dict:
        """``{key: [worker addresses]}`` for ``futures`` (default: every key the scheduler has)."""
        keys = None if futures is None else [f.key for f in _iter_futures(futures)]
        return self._sync(self._request, {"op": "who-has", "keys": keys})

    def has_what(self) -> dict:
        """``{worker address: [keys it holds]}``."""
        return self._sync(self._request, {"op": "has-what"})

    def nthreads(self) -> dict:
        """``{worker address: number of threads}``."""
        return self._sync(self._request, {"op": "nthreads"})

    @property
    def dashboard_link(self) -> str | None:
        """The URL of the scheduler's ``/status`` dashboard page (None when it serves none).

        Asked of the scheduler once, when the client connects, so that an
        asynchronous client has it too (a property cannot be awaited).
        """
        return self._dashboard_link

    def performance_report(self, filename: str = "shoal-report.html", title: str = "shoal performance report"):
        """A context manager writing one standalone HTML file (task stream, time per
        task group, memory per worker over time) about what ran inside the block::

            with client.performance_report("report.html"):
                x.sum().compute()
        """
        from .services import service  # the report lives in shoal.dashboard, a layer above this one

        return service("performance-report")(self, filename, title)

    def scheduler_info(self) -> dict:
        """The scheduler's address, workers (threads, status, keys held) and task counts."""
        return self._sync(self._request, {"op": "scheduler-info"})

    def run_on_scheduler(self, function: Callable, *args: Any, **kwargs: Any) -> Any:
        """Run ``function(*args, **kwargs)`` in the scheduler's process; its result."""
        return self._sync(self._request, {"op": "run-on-scheduler", "function": function, "args": args,
                                          "kwargs": kwargs})

    def run(self, function: Callable, *args: Any, workers: Any = None, wait: bool = True,
            nanny: bool = False, on_error: str = "raise", **kwargs: Any) -> dict:
        """Run ``function(*args, **kwargs)`` on every worker (or ``workers``); ``{address: result}``.

        ``workers``: an address or name, or a list of them. A function with a
        ``shoal_worker`` parameter (or Dask's ``dask_worker``) gets the
        ``Worker`` it runs on there. A plain function runs on a thread of its
        own (it may block); an ``async def`` function is awaited on the
        worker's event loop, as in Dask (it must not block; ``get_worker()``
        works in both). ``wait=False`` does not wait for it: every result is None
        (and an error is only logged on the worker).
        ``on_error`` (as in Dask): ``"raise"`` the first exception, ``"return"``
        it as that worker's result, or ``"ignore"`` that worker. ``nanny``:
        Dask's keyword; only ``False`` (run in the workers) is offered.
        """
        if on_error not in ("raise", "return", "ignore"):
            raise ValueError(f"on_error must be 'raise', 'return' or 'ignore', got {on_error!r}")
        if nanny:
            raise NotImplementedError("run(..., nanny=True): shoal's nannies run no user code; run it in the "
                                      "workers (nanny=False), or use client.restart() to restart them.")
        if not callable(function):
            raise TypeError(f"run(function, ...): function must be callable, got {type(function).__name__} "
                            f"{function!r:.60}")
        if isinstance(workers, (str, int)):  # one address or name (names may be ints)
            workers = [workers]

        async def run_all():
            addresses = await self._worker_addresses(workers, "run")
            msg = {"op": "run", "function": function, "args": args, "kwargs": kwargs, "wait": wait}
            replies = await asyncio.gather(*(self.pool.request(a, msg) for a in addresses))
            out = {}
            for address, reply in zip(addresses, replies):
                if "error" not in reply:
                    out[address] = reply["result"]
                elif on_error == "raise":
                    raise reply["error"]
                elif on_error == "return":
                    out[address] = reply["error"]
            return out

        return self._sync(run_all)

    async def _worker_addresses(self, workers: list | None, caller: str) -> list:
        """The addresses of ``workers`` (addresses or names; ``None``: every worker)."""
        info = (await self._request({"op": "scheduler-info"}))["workers"]
        if workers is None:
            return list(info)
        by_name = {str(w.get("name")): address for address, w in info.items()}
        addresses, unknown = [], []
        for worker in workers:
            address = worker if worker in info else by_name.get(str(worker))
            (addresses if address is not None else unknown).append(address or worker)
        if unknown:
            known = sorted(f"{address} (name {w.get('name')!r})" for address, w in info.items())
            raise ValueError(f"{caller}(workers=...): {unknown} are neither addresses nor names of workers of "
                             f"this cluster; its workers are {known}.")
        return addresses

    def wait_for_workers(self, n_workers: int, timeout: float = 30.0) -> None:
        """Block until at least ``n_workers`` workers are registered (``TimeoutError`` after ``timeout`` s)."""
        async def poll():
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while True:
                n = len(await self._request({"op": "nthreads"}))
                if n >= n_workers:
                    return
                if loop.time() > deadline:
                    raise TimeoutError(f"Only {n} of {n_workers} workers registered within {timeout} s.")
                await asyncio.sleep(0.05)

        return self._sync(poll)
