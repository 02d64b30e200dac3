"""The scheduler's side of the p2p shuffle: runs, their workers, barriers and restarts.

One ``ShuffleSchedulerExtension`` per scheduler, made the first time a worker
asks about a shuffle (workers reach it with ``run-on-scheduler`` requests
calling the module functions ``get_or_create_run``, ``pass_barrier`` and
``restart_run``; nothing in ``scheduler.py`` knows about shuffles). It is a
``SchedulerPlugin`` too: it hears of workers leaving and of shuffle tasks
being forgotten.

A *run* is one attempt at a shuffle: a run id (unique on this scheduler, never
reused), the workers taking part (the running workers when the run began,
sorted by address) and ``worker_for[p]``, the worker owning output partition
``p`` (contiguous blocks of partitions per worker, so the same worker list
always gives the same assignment).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from dataclasses import dataclass

from shoal.distributed.state.plugins import SchedulerPlugin
from shoal.taskgraph.core import Fused

logger = logging.getLogger("shoal.distributed.shuffle")

__all__ = ["ShuffleSchedulerExtension", "extension_of", "get_or_create_run", "pass_barrier", "restart_run",
           "transfer_key", "barrier_key", "assign_partitions"]

_extensions: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()

#: a shuffle whose barrier sends transfers back this many times fails instead
MAX_STALE_BARRIERS = 50


def transfer_key(shuffle_id: str, index: int) -> tuple:
    return (f"{shuffle_id}-transfer", index)


def barrier_key(shuffle_id: str) -> tuple:
    return (f"{shuffle_id}-barrier", 0)


def assign_partitions(workers: list, n_out: int) -> list:
    """The owner of each output partition: contiguous blocks, as even as can be.

    >>> assign_partitions(["a", "b"], 5)
    ['a', 'a', 'a', 'b', 'b']
    """
    return [workers[p * len(workers) // n_out] for p in range(n_out)]


@dataclass
class ShuffleRun:
    shuffle_id: str
    run_id: int
    n_in: int
    workers: tuple
    worker_for: list
    dead: bool = False  # a worker taking part left: the next transfer starts a new run


class ShuffleSchedulerExtension(SchedulerPlugin):
    """Runs of the p2p shuffles of one ``Scheduler`` (see the module docstring)."""

    def __init__(self, scheduler):
        self.scheduler = scheduler
        self.runs: dict = {}  # shuffle id -> its current ShuffleRun
        # Run ids grow from the clock (in µs) so that a new scheduler never reuses one: workers that
        # outlive a scheduler (reconnect=True) would take a reused id for a stale run.
        self._last_run_id = time.time_ns() // 1000
        self._by_task_name: dict = {}  # "<id>-transfer" / "<id>-barrier" -> shuffle id
        self.restarts = 0  # runs abandoned, for tests and benchmarks
        self._requests: set = set()  # forget requests in flight (referenced until done)
        self._stale_barriers: dict = {}  # shuffle id -> barriers that sent transfers back
        self._observing = False  # a plugin of the scheduler only while some shuffle has a run

    # ------------------------------------------------------------------ requests from workers
    def get_or_create(self, shuffle_id: str, n_in: int, n_out: int) -> tuple:
        """``(run id, worker_for)`` of the shuffle's current run, starting one if there is none
        or the last one was abandoned."""
        run = self.runs.get(shuffle_id)
        if run is None or run.dead:
            state = self.scheduler.state
            workers = sorted(a for a, ws in state.workers.items() if ws.status == "running")
            if not workers:
                raise RuntimeError(f"p2p shuffle {shuffle_id}: no running worker to take part; start workers "
                                   "or wait for them with client.wait_for_workers(n).")
            self._last_run_id += 1
            run = ShuffleRun(shuffle_id, self._last_run_id, n_in, tuple(workers), assign_partitions(workers, n_out))
            self.runs[shuffle_id] = run
            if not self._observing:
                self.scheduler.add_plugin(self)
                self._observing = True
            self._by_task_name[transfer_key(shuffle_id, 0)[0]] = shuffle_id
            self._by_task_name[barrier_key(shuffle_id)[0]] = shuffle_id
            state.log_event("shuffle-run", shuffle=shuffle_id, run=run.run_id, workers=len(workers))
        return run.run_id, run.worker_for

    def barrier(self, shuffle_id: str, run_ids: list) -> tuple | None:
        """Every transfer is done: ``(run id, worker_for)`` if all of them sent to the current
        run, which then pins each output partition's task to its owner; else ``None``, after
        making the scheduler run the stale transfers again."""
        run = self.runs.get(shuffle_id)
        stale = [i for i, r in enumerate(run_ids) if run is None or run.dead or r != run.run_id]
        if stale:
            rounds = self._stale_barriers[shuffle_id] = self._stale_barriers.get(shuffle_id, 0) + 1
            if rounds > MAX_STALE_BARRIERS:  # fail for real rather than loop forever
                raise RuntimeError(
                    f"p2p shuffle {shuffle_id}: its barrier found inputs sent to abandoned runs "
                    f"{rounds} times (inputs {stale[:5]}...); workers keep leaving, or old results keep "
                    "coming back. Check the workers' logs, or use shuffle_method='tasks'.")
            msgs = self._invalidate([transfer_key(shuffle_id, i) for i in stale])
            barrier = self.scheduler.state.tasks.get(barrier_key(shuffle_id))
            if barrier is not None and barrier.state == "processing":
                # Normally releasing its inputs released it; if not (its stale inputs had been redone
                # already, e.g. this is an old execution the worker resumed), start it again anyway:
                # the ShuffleRestart its caller raises must never be taken for its result.
                msgs += self.scheduler.state.transitions({barrier.key: "waiting"})
            self.scheduler.send(msgs)
            return None
        self._pin_outputs(run)
        return run.run_id, run.worker_for

    def restart(self, shuffle_id: str, run_id: int, reason: str, partition: int | None = None) -> None:
        """Abandon run ``run_id`` (if it is still current): results of the shuffle that are still
        needed are computed again, under a new run. ``partition``: the output whose task asks
        (it raises next, so it must not stay processing)."""
        run = self.runs.get(shuffle_id)
        if run is None or run.run_id != run_id or run.dead:
            if partition is not None:
                self._start_output_again(shuffle_id, partition)
            return
        run.dead = True
        self.restarts += 1
        state = self.scheduler.state
        state.log_event("shuffle-restart", shuffle=shuffle_id, run=run_id, reason=reason)
        logger.info("p2p shuffle %s: run %d abandoned (%s); running it again", shuffle_id, run_id, reason)
        barrier = state.tasks.get(barrier_key(shuffle_id))
        if barrier is not None and any(d.state != "memory" for d in barrier.dependents):
            # transfers first: releasing the barrier first would run it at once on the old transfers
            msgs = self._invalidate([transfer_key(shuffle_id, i) for i in range(run.n_in)])
            msgs += self._invalidate([barrier.key])
            self.scheduler.send(msgs)
        self._tell_workers_to_forget(run)
        if partition is not None:
            self._start_output_again(shuffle_id, partition)

    def _start_output_again(self, shuffle_id: str, partition: int) -> None:
        """The output task of ``partition`` waits again if it is still processing (normally the
        restart released it with the barrier; an execution the worker resumed may not have been)."""
        state = self.scheduler.state
        barrier = state.tasks.get(barrier_key(shuffle_id))
        if barrier is None:
            return
        stuck = [d.key for d in barrier.dependents
                 if d.state == "processing" and _output_partition(d, shuffle_id) == partition]
        if stuck:
            self.scheduler.send(state.transitions({key: "waiting" for key in stuck}))

    # ------------------------------------------------------------------ plugin hooks
    def remove_worker(self, address: str, **info) -> None:
        lost = [run for run in self.runs.values() if address in run.workers and not run.dead]
        if lost:
            # after remove_worker's own transitions (this hook runs inside it)
            loop = asyncio.get_running_loop()
            for run in lost:
                loop.call_soon(self.restart, run.shuffle_id, run.run_id, f"worker {address} left")

    def transition(self, key, start: str, finish: str, **info) -> None:
        if finish not in ("forgotten", "erred") or type(key) is not tuple or not key:
            return
        shuffle_id = self._by_task_name.get(key[0])
        if shuffle_id is None:
            return
        run = self.runs.get(shuffle_id)
        if run is None:
            return
        if finish == "erred":  # the shuffle failed: free the workers' buffers now
            self._tell_workers_to_forget(run)
        elif key == barrier_key(shuffle_id):  # every output is gone too: the shuffle is over
            del self.runs[shuffle_id]
            if not self.runs:
                # every transition calls each plugin: stop observing (after this hook, which runs in a
                # loop over the plugins) until the next shuffle
                asyncio.get_running_loop().call_soon(self._stop_observing)
            self._stale_barriers.pop(shuffle_id, None)
            self._by_task_name.pop(key[0], None)
            self._by_task_name.pop(transfer_key(shuffle_id, 0)[0], None)
            self._tell_workers_to_forget(run, over=True)

    def _stop_observing(self) -> None:
        if self._observing and not self.runs:
            self.scheduler.remove_plugin(self)
            self._observing = False

    # ------------------------------------------------------------------ helpers
    def _invalidate(self, keys: list) -> list:
        """Tell the state machine the results of ``keys`` are gone (as if their holders lost
        them): it computes them again if they are needed, and what depends on them waits."""
        state = self.scheduler.state
        msgs: list = []
        frees: dict = {}
        for key in keys:
            ts = state.tasks.get(key)
            if ts is None or ts.state != "memory":
                continue
            for ws in list(ts.who_has):
                frees.setdefault(ws.address, []).append(key)
                msgs += state.handle_missing_data(ws.address, key, ws.address)
        msgs = [(to, msg) for to, msg in msgs if msg.get("op") != "update-who-has"]
        # The holders really drop the old values (the state machine took them for lost, so it
        # tells nobody): a worker still holding one would report it again instead of recomputing.
        # After the transitions' messages, so tasks reading them there are cancelled first.
        return msgs + [(address, {"op": "free-keys", "keys": keys}) for address, keys in frees.items()]

    def _pin_outputs(self, run: ShuffleRun) -> None:
        """Restrict each output partition's task to its owner (loosely: if the owner cannot run
        it, another worker may, and fetches the partition from the owner)."""
        barrier = self.scheduler.state.tasks.get(barrier_key(run.shuffle_id))
        if barrier is None:
            return
        for dts in barrier.dependents:
            partition = _output_partition(dts, run.shuffle_id)
            if partition is not None and 0 <= partition < len(run.worker_for):
                dts.worker_restrictions = {run.worker_for[partition]}
                dts.loose_restrictions = True

    def _tell_workers_to_forget(self, run: ShuffleRun, over: bool = False) -> None:
        """Workers drop the run's shards (and, once the shuffle is ``over``, every trace of it)."""
        msg = {"op": "shuffle-forget", "shuffle": run.shuffle_id, "run": run.run_id, "over": over}
        state = self.scheduler.state
        for address in run.workers:
            if address in state.workers:
                task = asyncio.get_running_loop().create_task(
                    _quietly(self.scheduler.pool.request(address, msg, timeout=10)))
                self._requests.add(task)
                task.add_done_callback(self._requests.discard)


async def _quietly(request) -> None:
    try:
        await request
    except Exception as error:  # the worker left: its buffers went with it
        logger.debug("shuffle-forget not delivered: %s", error)


def _output_partition(ts, shuffle_id: str):
    """The output partition a dependent of the barrier unpacks: from its key ``(shuffle id, p)``,
    or from the node of that key inside it when later tasks were fused onto it."""
    key = ts.key
    if type(key) is tuple and len(key) == 2 and key[0] == shuffle_id:
        return key[1]
    node = ts.run_spec
    if type(node) is Fused:
        for inner in node.nodes:
            k = inner.key
            if type(k) is tuple and len(k) == 2 and k[0] == shuffle_id:
                return k[1]
    return None


def extension_of(scheduler) -> ShuffleSchedulerExtension:
    """The scheduler's shuffle extension, made on first use."""
    extension = _extensions.get(scheduler)
    if extension is None:
        extension = _extensions[scheduler] = ShuffleSchedulerExtension(scheduler)
    return extension


# Called on the scheduler through run-on-scheduler requests from workers' shuffle tasks.
def get_or_create_run(shuffle_id: str, n_in: int, n_out: int, shoal_scheduler=None) -> tuple:
    return extension_of(shoal_scheduler).get_or_create(shuffle_id, n_in, n_out)


def pass_barrier(shuffle_id: str, run_ids: list, shoal_scheduler=None):
    return extension_of(shoal_scheduler).barrier(shuffle_id, run_ids)


def restart_run(shuffle_id: str, run_id: int, reason: str, partition: int | None = None,
                shoal_scheduler=None) -> None:
    extension_of(shoal_scheduler).restart(shuffle_id, run_id, reason, partition)
