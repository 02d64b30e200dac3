"""A worker's memory: its data store, the metrics it reports, and the monitor that spills or pauses.

``WorkerMemoryMixin`` makes the store for a fresh ``WorkerState`` (a
``SpillStore`` under a memory limit, else a dict), measures managed,
spilled and unmanaged memory for heartbeats, and every
``memory_monitor_interval`` seconds reads the RSS and acts on what
``MemoryPolicy`` (``memory.py``) decides: spill, pause or resume.
``Worker`` (``worker.py``) inherits it.

What it needs from the host class (``Worker``): the attributes ``state``,
``memory_limit``, ``memory_policy``, ``memory_monitor_interval``,
``local_directory``, ``rss_reader``, ``events``, ``loop``, ``status``,
``_process`` and ``_warned_unmanaged``, and the property ``address``; the
method ``carry_out``.
"""

from __future__ import annotations

import asyncio
import logging

from .comm.sizes import format_bytes
from .memory import trim_memory
from .spill import SpillStore
from .state import WorkerState

# The worker's logger: these lines are the worker's, wherever the code sits.
logger = logging.getLogger("shoal.distributed.worker")


class WorkerMemoryMixin:
    """Memory of ``Worker``: its store, metrics, and spilling or pausing by RSS."""

    # ------------------------------------------------------------------ memory
    def _new_data(self):
        """The store for a fresh ``WorkerState``: spilling with a memory limit, else a dict."""
        if self.state is not None and isinstance(self.state.data, SpillStore):
            self.state.data.close()  # a restart or reconnect drops all data
        if not self.memory_limit:
            return {}
        target = self.memory_policy.target
        return SpillStore(None if target is None else target * self.memory_limit, directory=self.local_directory)

    @property
    def paused(self) -> bool:
        """True while memory is short and no new task starts here."""
        return self.state is not None and self.state.status == "paused"

    def memory_metrics(self) -> dict:
        """Bytes of results in memory (``managed_bytes``) and on disk (``spilled_bytes``), the
        process's ``rss`` and the rest of it (``unmanaged_bytes``), as sent in heartbeats."""
        state = self.state
        data = state.data
        events = [self.events.popleft() for _ in range(len(self.events))]
        if isinstance(data, SpillStore):
            managed, spilled = data.memory, data.spilled
            counts = data.counts
            events += data.drain_events()  # spill bars on the dashboard's task stream
        else:
            tasks = state.tasks
            managed = sum(max(tasks[k].nbytes, 0) for k in list(data) if k in tasks)
            spilled, counts = 0, {}
        try:
            rss = int(self.rss_reader())
        except Exception:  # a failing reader must not stop heartbeats
            rss = 0
        metrics = {"managed_bytes": managed, "unmanaged_bytes": max(rss - managed, 0), "spilled_bytes": spilled,
                   "rss": rss, "spilled_count": counts.get("spilled", 0),
                   "unspilled_count": counts.get("unspilled", 0), "paused": self.paused,
                   "cpu": self._process.cpu_percent(None)}  # percent of one core since the last heartbeat
        if events:
            metrics["events"] = events
        return metrics

    async def _monitor_memory(self, state: WorkerState) -> None:
        """Every ``memory_monitor_interval`` s: spill or pause by RSS (see ``MemoryPolicy``)."""
        while self.state is state and self.status == "running":
            await asyncio.sleep(self.memory_monitor_interval)
            if self.state is not state or self.status != "running":
                return
            try:
                await self.check_memory()
            except Exception:
                logger.exception("Worker %s: memory check failed", self.address)

    async def check_memory(self) -> None:
        """Read the RSS and act on it: pause or resume, and spill (on a thread, so that this
        loop goes on serving peers and the scheduler while the files are written)."""
        state = self.state
        rss = int(self.rss_reader())
        actions = self.memory_policy.decide(rss, paused=state.status == "paused")
        self._set_paused(actions.status, rss)  # pausing first: no new task while we spill
        data = state.data
        if not actions.spill_bytes or not isinstance(data, SpillStore):
            return
        freed = await self.loop.run_in_executor(None, _spill_at_least, data, actions.spill_bytes)
        if self.state is not state or self.status != "running":
            return
        if not freed:
            if not data.fast and not self._warned_unmanaged:
                self._warned_unmanaged = True  # once per worker: this repeats every 100 ms otherwise
                logger.warning(
                    "Worker %s uses %s, past %.0f%% of its %s limit, but holds no results in memory to spill: "
                    "the memory is held by running tasks or leaked (unmanaged). Use smaller chunks/partitions, "
                    "or a bigger memory_limit.", self.address, format_bytes(rss), 100 * self.memory_policy.spill,
                    format_bytes(self.memory_limit))
            return
        rss = int(self.rss_reader())
        logger.debug("Worker %s spilled %d bytes; RSS now %d bytes", self.address, freed, rss)
        self._set_paused(self.memory_policy.decide(rss, paused=state.status == "paused").status, rss)

    def _set_paused(self, status: str | None, rss: int) -> None:
        if status == "paused":
            logger.warning("Worker %s is paused: its memory use (%s) is past %.0f%% of its %s limit; no new tasks "
                           "start until it drops", self.address, format_bytes(rss), 100 * self.memory_policy.pause,
                           format_bytes(self.memory_limit))
            self.carry_out(self.state.handle_pause())
        elif status == "running":
            logger.info("Worker %s resumes: memory use is down to %s", self.address, format_bytes(rss))
            self.carry_out(self.state.handle_resume())


def _spill_at_least(store: SpillStore, nbytes: int) -> int:
    """Spill least recently used values of ``store`` until ``nbytes`` are freed (or none is left);
    the bytes freed. The store's lock is taken per value, so the event loop waits for one write at most."""
    freed = 0
    for _ in range(len(store.fast)):  # bounded: each value goes to disk at most once
        if freed >= nbytes:
            break
        spilled = store.evict()
        if not spilled:
            break
        freed += spilled
    if freed:
        trim_memory()  # so the RSS shows what was freed, and a paused worker can resume
    return freed
