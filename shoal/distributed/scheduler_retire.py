"""Retiring workers gracefully from the ``Scheduler``: the I/O around ``state/retirement.py``.

``WorkerRetirementMixin.retire_workers`` chooses the workers
(``workers_to_retire``), starts ``SchedulerState.begin_retirement``, calls
``retirement_step`` until each is done, then removes it and tells it to
close, telling clients where the results it held have other copies
(``_replicas_elsewhere``, also used when a worker's stream breaks).
``Scheduler`` (``scheduler.py``) inherits it.

What it needs from the host class (``Scheduler``): the attributes ``state``
and ``streams``; the methods ``send`` and ``worker_info``.
"""

from __future__ import annotations

import asyncio
import math
import logging

from .comm import CommClosedError

# The scheduler's logger: these lines are the scheduler's, wherever the code sits.
logger = logging.getLogger("shoal.distributed.scheduler")


class WorkerRetirementMixin:
    """``workers_to_retire`` and ``retire_workers`` of ``Scheduler``."""

    # ------------------------------------------------------------------ graceful retirement
    def workers_to_retire(self, workers: list | None = None, n: int | None = None) -> list:
        """Addresses to retire: ``workers`` (addresses or names); else ``n`` of the running
        workers, idle ones holding the fewest bytes first; else every idle worker but one."""
        state = self.state
        if workers is not None:
            if isinstance(workers, str):
                workers = [workers]
            chosen = []
            for name in workers:
                address = state.aliases.get(name, name)
                if address not in state.workers:
                    raise ValueError(f"retire_workers: no worker {name!r}; known: {sorted(state.workers)}.")
                chosen.append(address)
            return list(dict.fromkeys(chosen))
        candidates = [ws for ws in state.workers.values() if ws.status == "running" and ws not in state.retiring]
        candidates.sort(key=lambda ws: (len(ws.processing) + len(ws.long_running), ws.nbytes))
        if n is None:
            idle = [ws for ws in candidates if not (ws.processing or ws.long_running)]
            n = min(len(idle), len(candidates) - 1)
        if n < 0:
            raise ValueError(f"retire_workers(n={n}): n must be >= 0.")
        return [ws.address for ws in candidates[:n]]

    async def retire_workers(self, workers: list | None = None, *, n: int | None = None, close: bool = True,
                             timeout: float = 60.0, interval: float = 0.02) -> dict:
        """Retire workers gracefully; returns ``{address: worker info}`` of those retired (as
        Dask does; the info is a ``scheduler_info()["workers"]`` entry, taken as each leaves).

        They get no new tasks, hand their queued tasks on, and the results
        only they hold are copied to the other workers. Then, with
        ``close``, they are removed and told to close (a worker under a
        nanny exits cleanly, and its nanny with it); without, they stay
        registered as ``closing`` (no tasks, nothing only they hold) until
        whoever started them stops them. Nothing computed is lost. Raises
        ``TimeoutError`` (and puts back to work those not done) after
        ``timeout`` seconds.
        """
        state = self.state
        addresses = self.workers_to_retire(workers, n)
        if not addresses:
            return {}
        self.send(state.begin_retirement(addresses))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (math.inf if timeout is None else timeout)  # None: no limit
        pending = list(addresses)
        # Taken now too, for a worker that dies while it retires (its record goes with it).
        retired = {address: self.worker_info(state.workers[address]) for address in addresses}
        while True:
            for address in [a for a in pending if state.retirement_done(a)]:
                pending.remove(address)
                if address in state.workers:  # as it leaves, before removal forgets it
                    retired[address] = self.worker_info(state.workers[address])
                self._remove_retired(address, close)
            if not pending:
                return retired
            if loop.time() > deadline:
                for address in pending:
                    self.send(state.cancel_retirement(address))
                raise TimeoutError(
                    f"Workers {pending} did not finish retiring within {timeout} s (tasks still running there, "
                    "or their results could not be copied); they were put back to work. Try a longer timeout."
                )
            await asyncio.sleep(interval)
            self.send(state.retirement_step())

    def _replicas_elsewhere(self, address: str) -> dict:
        """``{client: {key: [other holders]}}`` for the keys each client wants that ``address``
        holds and other workers hold too: sent with ``worker-removed``, so the client
        fetches them from there instead of waiting for a recomputation that never comes."""
        ws = self.state.workers.get(address)
        if ws is None or not ws.has_what:
            return {}
        moved: dict = {}
        for cid, cs in self.state.clients.items():
            keys = {ts.key: [w.address for w in ts.who_has if w is not ws]
                    for ts in ws.has_what if len(ts.who_has) > 1 and ts in cs.wants_what}
            if keys:
                moved[cid] = keys
        return moved

    def _remove_retired(self, address: str, close: bool) -> None:
        if not close:
            logger.info("Worker %s retired; it stays registered (closing) until it disconnects", address)
            return
        logger.info("Worker %s retired; closing it", address)
        moved = self._replicas_elsewhere(address)
        self.send(self.state.remove_worker(address, reason="retired", expected=True))
        self.send([(c, {"op": "worker-removed", "address": address, "moved": keys}) for c, keys in moved.items()])
        stream = self.streams.get(address)
        if stream is not None:
            try:
                stream.send({"op": "close", "reason": "retired"})
            except CommClosedError:
                pass
