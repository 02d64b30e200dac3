"""Moving data between the client and the workers: ``Client.gather``, ``scatter``
and ``replicate``.

``ClientDataMixin`` fetches results straight from the workers that hold
them (asking the scheduler again when a worker left with them) and pushes
local data straight to the workers, never through the scheduler. ``Client``
(``client.py``) inherits it.

What it needs from the host class (``Client``): the attributes ``futures``,
``pool`` (a ``ConnectionPool``) and ``scheduler_address``; and the methods
``_sync``, ``_request``, ``_send_on_loop``, ``_already_submitted``
(``client_submit.py``) and ``_worker_addresses`` (``client_admin.py``).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator
from typing import Any

from shoal.taskgraph.tokenize import tokenize

from .future import Future
from .graph_futures import _iter_futures, _repack

_MAX_GATHER_ROUNDS = 20  # refetch attempts after data was lost with a worker


class ClientDataMixin:
    """``gather``, ``scatter`` and ``replicate`` of ``Client``."""

    # ------------------------------------------------------------------ results
    def gather(self, futures: Any, errors: str = "raise", direct: bool | None = None) -> Any:
        """The values of ``futures`` (a future, or lists/tuples/dicts of them), same structure.

        ``errors="raise"`` re-raises the first task exception; ``"skip"`` leaves
        failed futures out of lists (as Dask does, a failed future that is a
        dict's value, or the one future asked for, gives ``None``). An
        iterator of futures gives an iterator of their values, each gathered
        as the iterator reaches it (e.g. over ``as_completed``). ``direct`` is
        accepted for Dask's signature: results always come straight from the
        workers.
        """
        if errors not in ("raise", "skip"):
            raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
        if isinstance(futures, Iterator):
            # Not materialized: the iterator may be as_completed, still being fed.
            return (self.gather(future, errors=errors) for future in futures)
        found = list(_iter_futures(futures))
        others = [f.key for f in found if f.client is not self]
        if others:
            raise ValueError(f"gather(): futures {others[:5]!r} belong to another client; gather them with "
                             "that client (future.client.gather) or call future.result().")
        keys = [f.key for f in found]

        async def run():
            values = await self._gather_keys(keys, errors)
            return _repack(futures, values, errors)

        return self._sync(run)

    async def _gather_keys(self, keys: list, errors: str = "raise") -> dict:
        keys = list(dict.fromkeys(keys))
        states = {}
        for key in keys:
            state = self.futures.get(key)
            if state is None:
                raise ValueError(f"Future {key!r} was released; keep a reference to it until it is gathered.")
            states[key] = state
        results: dict = {}
        for _ in range(_MAX_GATHER_ROUNDS):
            todo = [k for k in keys if k not in results]
            for key in todo:
                await states[key].wait()
            by_worker: dict = {}
            for key in todo:
                state = states[key]
                if state.status in ("error", "cancelled"):
                    if errors == "raise":
                        raise state.exception
                    continue
                if not state.workers:
                    state.lose()
                    continue
                by_worker.setdefault(random.choice(state.workers), []).append(key)
            if by_worker:
                replies = await asyncio.gather(
                    *(self.pool.request(w, {"op": "get-data", "keys": ks}) for w, ks in by_worker.items()),
                    return_exceptions=True,
                )
                for (worker, ks), reply in zip(by_worker.items(), replies):
                    if isinstance(reply, BaseException):
                        self.pool.forget(worker)
                        data = {}
                    elif "error" in reply:
                        raise reply["error"]  # e.g. a result that cannot be serialized
                    else:
                        data = reply["data"]
                    results.update(data)
                    for key in ks:
                        if key not in data:
                            states[key].lose()
            lost = [k for k in keys if k not in results and states[k].status == "lost"]
            if lost:
                # The data went with a worker: ask where it is now. Empty means
                # it is being recomputed; "key-in-memory" will come.
                for key, holders in (await self._request({"op": "who-has", "keys": lost})).items():
                    if holders and states[key].status == "lost":
                        states[key].finish(workers=holders)
            remaining = [k for k in keys if k not in results and not (errors == "skip" and states[k].status in ("error", "cancelled"))]
            if not remaining:
                return results
        raise RuntimeError(
            f"Could not fetch {remaining[:5]!r} after {_MAX_GATHER_ROUNDS} attempts: the workers holding "
            "them kept disappearing. Check the worker logs."
        )

    def scatter(self, data: Any, workers: Any = None, broadcast: bool = False, hash: bool = True,
                timeout: float = 30.0, direct: bool | None = None) -> Any:
        """Send local data to the cluster: futures with the same structure (a value, list or dict).

        The values go straight from this client to the workers, never
        through the scheduler: each to the least-loaded worker in turn (of
        ``workers``, an address or name or a list of them, when given), or with
        ``broadcast=True`` to every one of them. The scheduler then learns
        where the keys are. ``hash=True`` names values by their content, so
        scattering equal data twice reuses the first copy.

        A list, tuple (also a named tuple), set or ``range`` gives one future
        per element, in a container of the same type; a dict one per value.
        ``direct`` is accepted for Dask's signature: data always goes
        straight to the workers.
        """
        if isinstance(data, Iterator):
            raise TypeError(f"scatter() cannot scatter an iterator ({type(data).__name__}): its values would "
                            "be consumed here; pass a list, e.g. client.scatter(list(values)).")
        if isinstance(data, range):
            data = list(data)
        if isinstance(data, dict):
            items = list(data.items())
        elif isinstance(data, (list, tuple, set, frozenset)):
            items = [(None, v) for v in data]
        else:
            items = [(None, data)]
        keys = []
        to_send: dict = {}
        for name, value in items:
            if name is not None:
                key = name
            else:
                key = f"{type(value).__name__}-{tokenize(value) if hash else uuid.uuid4().hex}"
            keys.append(key)
            if key not in to_send and not self._already_submitted(key):
                to_send[key] = value
        # Futures first: they hold the keys before the scheduler hears of them.
        futures = [Future(k, self) for k in keys]
        if isinstance(workers, (str, int)):  # one address or name (names may be ints)
            workers = [workers]

        def structured() -> Any:
            if isinstance(data, dict):
                return dict(zip(data, futures))
            if isinstance(data, tuple) and hasattr(data, "_fields"):
                return type(data)(*futures)  # a named tuple takes its fields one by one
            if isinstance(data, (list, tuple, set, frozenset)):
                return type(data)(futures)
            return futures[0]

        async def run():
            nonlocal workers
            if workers is not None:  # names too, as submit(workers=...) takes them
                workers = await self._worker_addresses(workers, "scatter")
            if to_send:
                await asyncio.wait_for(self._scatter_to_workers(to_send, workers, broadcast), timeout)
            held = list(dict.fromkeys(k for k in keys if k not in to_send))
            if broadcast and held:  # already on the cluster: copy it to every worker from there
                await asyncio.wait_for(asyncio.gather(*(self.futures[k].wait() for k in held)), timeout)
                await self._request({"op": "replicate", "keys": held, "workers": workers, "timeout": timeout})
            return structured()

        return self._sync(run)

    async def _scatter_to_workers(self, data: dict, workers: list | None, broadcast: bool) -> None:
        """Push ``data`` to workers (``update-data``), then tell the scheduler who holds what."""
        info = await self._request({"op": "scheduler-info"})
        candidates = {a: w for a, w in info["workers"].items() if w.get("status", "running") == "running"}
        if workers is not None:
            unknown = [w for w in workers if w not in info["workers"]]
            if unknown:
                raise ValueError(f"scatter(workers=...): {unknown} are not workers of the scheduler "
                                 f"{self.scheduler_address}; its workers are {sorted(info['workers'])}.")
            candidates = {a: w for a, w in candidates.items() if a in workers}
        if not candidates:
            raise RuntimeError(f"scatter: no running worker to send data to (scheduler {self.scheduler_address}); "
                               "start workers or wait for them with client.wait_for_workers(n).")
        # Least-loaded first (bytes held, then tasks running), then round-robin over them.
        order = sorted(candidates, key=lambda a: (candidates[a].get("nbytes", 0), candidates[a]["processing"]))
        if broadcast:
            per_worker = {a: dict(data) for a in order}
        else:
            per_worker = {}
            for i, (key, value) in enumerate(data.items()):
                per_worker.setdefault(order[i % len(order)], {})[key] = value
        addresses = list(per_worker)
        replies = await asyncio.gather(
            *(self.pool.request(a, {"op": "update-data", "data": per_worker[a]}) for a in addresses),
            return_exceptions=True,
        )
        who_has: dict = {}
        nbytes: dict = {}
        types: dict = {}
        for address, reply in zip(addresses, replies):
            if isinstance(reply, BaseException):
                self.pool.forget(address)
                raise RuntimeError(f"scatter: could not send data to worker {address}: {reply}") from reply
            if "error" in reply:
                raise reply["error"]
            report = reply["result"]
            for key in report["keys"]:
                who_has.setdefault(key, []).append(address)
            nbytes.update(report["nbytes"])
            types.update(report.get("types", {}))
        unplaced = [k for k in data if k not in who_has]
        if unplaced:
            raise RuntimeError(f"scatter: no worker accepted {unplaced[:5]!r}; a task of that name is "
                               "running there. Scatter under another key (hash=False or a dict).")
        self._send_on_loop({"op": "update-data", "who_has": who_has, "nbytes": nbytes, "types": types})

    def replicate(self, futures: Any, workers: list | None = None, timeout: float = 30.0) -> Any:
        """Copy the data of ``futures`` to every worker (or ``workers``); waits until they hold it."""
        futures = list(_iter_futures(futures))

        async def run():
            await asyncio.wait_for(asyncio.gather(*(f._state.wait() for f in futures)), timeout)
            for f in futures:
                if f._state.status != "finished":
                    raise f._state.exception or RuntimeError(f"Future {f.key!r} is {f._state.status}")
            await self._request({"op": "replicate", "keys": [f.key for f in futures], "workers": workers,
                                 "timeout": timeout})

        return self._sync(run)
