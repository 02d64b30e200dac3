"""Restarting the cluster's workers and replicating keys, from the ``Scheduler``.

``SchedulerAdminMixin.restart`` cancels everything and restarts every
worker (through its nanny, or in place); ``replicate`` asks workers to copy
keys from their peers and waits until they hold them. ``Scheduler``
(``scheduler.py``) inherits it; graceful retirement is in
``scheduler_retire.py``.

What it needs from the host class (``Scheduler``): the attributes ``state``,
``streams``, ``pool`` and ``datasets``; the method ``send``.
"""

from __future__ import annotations

import asyncio
import math


class SchedulerAdminMixin:
    """``restart`` and ``replicate`` of ``Scheduler``."""

    # ------------------------------------------------------------------ restart and replicate
    async def restart(self, timeout: float = 30.0, wait_for_workers: bool = True) -> int:
        """Cancel every task of every client, then restart every worker and wait until all
        have registered again (not with ``wait_for_workers=False``: then the workers
        registered so far). Returns the number of workers.

        A worker with a nanny is killed and started afresh by its nanny (a new
        process); one without drops all its data and registers again (same
        process: a soft restart).
        """
        state = self.state
        msgs: list = []
        for client, cs in list(state.clients.items()):
            msgs += state.cancel_keys(client, [ts.key for ts in cs.wants_what], force=True)
        self.datasets.clear()
        self.send(msgs)
        before = dict(state.workers)
        nannies = {a: ws.nanny for a, ws in before.items() if ws.nanny}
        for address in before:
            stream = self.streams.get(address)
            if stream is not None and address not in nannies:
                stream.send({"op": "restart"})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (math.inf if timeout is None else timeout)  # None: no limit
        replies = await asyncio.gather(
            *(self.pool.request(n, {"op": "restart", "timeout": timeout}, timeout=timeout) for n in nannies.values()),
            return_exceptions=True,
        )
        failed = {}
        for (address, nanny), reply in zip(nannies.items(), replies):
            error = reply if isinstance(reply, BaseException) else reply.get("error")
            if error is not None:
                self.pool.forget(nanny)
                failed[address] = f"{nanny}: {type(error).__name__}: {error}"
        if failed:
            raise RuntimeError(f"restart: the nannies of {len(failed)} workers could not restart them "
                               f"({'; '.join(failed.values())}); check those nannies' output.")

        def pending(address: str, ws) -> bool:
            if state.workers.get(address) is ws:
                return True  # the old worker is still registered
            if address in nannies:  # a new process registers from its nanny (at a new address)
                return not any(w.nanny == nannies[address] for w in state.workers.values())
            return address not in state.workers

        while wait_for_workers and any(pending(a, ws) for a, ws in before.items()):
            if loop.time() > deadline:
                back = sum(not pending(a, ws) for a, ws in before.items())
                raise TimeoutError(f"Only {back} of {len(before)} workers came back within {timeout} s of a restart.")
            await asyncio.sleep(0.02)
        self.state.log_event("restart", workers=len(before))
        return len(state.workers)

    async def replicate(self, keys: list, workers: list | None = None, timeout: float = 30.0) -> dict:
        """Copy ``keys`` (in memory) to every worker (or ``workers``); wait until they hold them.

        Workers fetch the copies from peers (``acquire-replicas``) and report
        them (``add-keys``), so the state machine learns of each replica as
        usual. Returns ``{key: [holders]}``.
        """
        state = self.state
        targets = list(state.workers) if workers is None else [w for w in workers if w in state.workers]
        for address in targets:
            who_has, nbytes = {}, {}
            for key in keys:
                ts = state.tasks.get(key)
                if ts is None or ts.state != "memory":
                    raise KeyError(f"Cannot replicate {key!r}: it is not in memory (compute it first).")
                holders = [ws.address for ws in ts.who_has]
                if address not in holders:
                    who_has[key], nbytes[key] = holders, ts.nbytes
            stream = self.streams.get(address)
            if who_has and stream is not None:
                stream.send({"op": "acquire-replicas", "who_has": who_has, "nbytes": nbytes})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (math.inf if timeout is None else timeout)  # None: no limit
        while True:
            who_has = state.who_has(keys)
            if all(set(targets) <= set(holders) or not set(targets) & set(state.workers)
                   for holders in who_has.values()):
                return who_has
            if loop.time() > deadline:
                raise TimeoutError(f"Replicas of {len(keys)} keys did not reach {len(targets)} workers "
                                   f"within {timeout} s.")
            await asyncio.sleep(0.01)
