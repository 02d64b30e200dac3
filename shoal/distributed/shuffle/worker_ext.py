"""The worker's side of the p2p shuffle: sending shards, receiving them, unpacking outputs.

``ShuffleWorkerExtension`` is made for every ``Worker`` (``worker.extensions
["shuffle"]``) and answers three requests from peers:

- ``shuffle-receive`` ``{shuffle, run, input, shards: [[partition, frame], ...]}``:
  store the shards (``ShardBuffer``: memory up to the budget, then disk) and
  reply once they are stored, so the reply is the sender's acknowledgement;
  ``"stale"`` when the run was abandoned here already.
- ``shuffle-get-output`` ``{shuffle, run, partition}``: hand an output partition's
  shards to the worker running its task (when it is not the owner).
- ``shuffle-forget`` ``{shuffle, run}``: drop that run (and older ones) and their files.

Tasks call ``transfer``, ``unpack`` and ``call_scheduler`` on their worker's
thread; network I/O runs on the worker's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from shoal import config

from ..comm.sizes import parse_bytes
from .buffer import ShardBuffer, frame_nbytes
from .errors import ShuffleRestart
from .limiter import ByteLimiter

logger = logging.getLogger("shoal.distributed.shuffle")

__all__ = ["ShuffleWorkerExtension", "WorkerRun"]


def _setting(name: str) -> int:
    return int(parse_bytes(config.get(f"distributed.shuffle.{name}")))


class WorkerRun:
    """This worker's part of one run: the shards it received."""

    def __init__(self, shuffle_id: str, run_id: int, buffer: ShardBuffer):
        self.shuffle_id = shuffle_id
        self.run_id = run_id
        self.buffer = buffer


class ShuffleWorkerExtension:
    """Shuffle runs on one worker (see the module docstring)."""

    def __init__(self, worker):
        self.worker = worker
        self.runs: dict = {}  # shuffle id -> WorkerRun (the newest run seen here)
        self.dropped: dict = {}  # shuffle id -> highest run id dropped here
        self._lock = threading.Lock()
        self._limiters: dict = {}  # peer address -> ByteLimiter (on the worker's loop)
        # totals over every run, for tests and benchmarks
        self.spilled_bytes = 0
        self.peak_memory_bytes = 0
        self.sent_bytes = 0
        self.fetched_outputs = 0  # output partitions unpacked here but owned by a peer
        #: seconds a transfer waits before sending (tests use it to make a shuffle slow enough to interrupt)
        self.send_delay = 0.0
        worker.handlers["shuffle-receive"] = self.handle_receive
        worker.handlers["shuffle-get-output"] = self.handle_get_output
        worker.handlers["shuffle-forget"] = self.handle_forget

    # ------------------------------------------------------------------ runs
    def run_for(self, shuffle_id: str, run_id: int, create: bool = True) -> WorkerRun | None:
        """The state of run ``run_id`` here; ``None`` if that run is stale (a newer one is
        known, or it was dropped). A newer run replaces the older one."""
        with self._lock:
            current = self.runs.get(shuffle_id)
            if current is not None and current.run_id == run_id:
                return current
            if (current is not None and current.run_id > run_id) or run_id <= self.dropped.get(shuffle_id, 0):
                return None
            if current is not None:
                self._drop(current)
            if not create:
                return None
            budget = _setting("memory-budget")
            if self.worker.memory_limit:  # shards are not results: the worker's own spilling cannot free them
                budget = min(budget, self.worker.memory_limit // 4)
            buffer = ShardBuffer(budget, directory=self.worker.local_directory, name=shuffle_id)
            run = self.runs[shuffle_id] = WorkerRun(shuffle_id, run_id, buffer)
            return run

    def _drop(self, run: WorkerRun) -> None:
        """Forget ``run`` (the lock is held)."""
        if self.runs.get(run.shuffle_id) is run:
            del self.runs[run.shuffle_id]
        self.dropped[run.shuffle_id] = max(self.dropped.get(run.shuffle_id, 0), run.run_id)
        self._account(run)
        run.buffer.close()

    def _account(self, run: WorkerRun) -> None:
        self.spilled_bytes += run.buffer.spilled_bytes
        run.buffer.spilled_bytes = 0
        self.peak_memory_bytes = max(self.peak_memory_bytes, run.buffer.peak_memory_bytes)

    def forget(self, shuffle_id: str, run_id: int | None = None, over: bool = False) -> None:
        """Drop the shuffle's run if it is ``run_id`` or older (any run when ``None``); when the
        shuffle is ``over``, keep no record of it (a later run of it has a larger id anyway)."""
        with self._lock:
            current = self.runs.get(shuffle_id)
            if current is not None and (run_id is None or current.run_id <= run_id):
                self._drop(current)
            elif run_id is not None:
                self.dropped[shuffle_id] = max(self.dropped.get(shuffle_id, 0), run_id)
            if over and shuffle_id not in self.runs:
                self.dropped.pop(shuffle_id, None)

    def stats(self) -> dict:
        """Bytes spilled and the most bytes of shards held in memory at once, over every run."""
        with self._lock:
            live = list(self.runs.values())
            spilled = self.spilled_bytes + sum(r.buffer.spilled_bytes for r in live)
            peak = max([self.peak_memory_bytes] + [r.buffer.peak_memory_bytes for r in live])
        return {"spilled_bytes": spilled, "peak_memory_bytes": peak, "sent_bytes": self.sent_bytes,
                "fetched_outputs": self.fetched_outputs, "runs": len(live), "remembered": len(self.dropped)}

    def close(self) -> None:
        with self._lock:
            for run in list(self.runs.values()):
                self._drop(run)

    # ------------------------------------------------------------------ talking to the scheduler
    def call_scheduler(self, function, *args, timeout: float = 60.0):
        """Run ``function(*args, shoal_scheduler=...)`` on the scheduler (from a task's thread)."""
        worker = self.worker
        msg = {"op": "run-on-scheduler", "function": function, "args": args}
        future = asyncio.run_coroutine_threadsafe(
            worker.pool.request(worker.scheduler_address, msg, timeout=timeout), worker.loop)
        reply = future.result(timeout + 5)
        if "error" in reply:
            raise reply["error"]
        return reply["result"]

    def _on_loop(self, coroutine, timeout: float):
        return asyncio.run_coroutine_threadsafe(coroutine, self.worker.loop).result(timeout)

    # ------------------------------------------------------------------ sending
    def transfer(self, spec, index: int, pieces: dict, deadline: float = 120.0) -> int:
        """Send input ``index``'s ``{output partition: frame}`` to the partitions' owners in the
        shuffle's current run; the run id. Tries again in a new run when the run is abandoned
        meanwhile (a peer left), for up to ``deadline`` seconds."""
        from .scheduler_ext import get_or_create_run

        if self.send_delay:
            time.sleep(self.send_delay)
        give_up = time.monotonic() + deadline
        attempt = 0
        while True:
            run_id, worker_for = self.call_scheduler(get_or_create_run, spec.shuffle_id, spec.n_in, spec.n_out)
            try:
                self._send(spec.shuffle_id, run_id, worker_for, index, pieces)
                return run_id
            except ShuffleRestart as error:
                attempt += 1
                if time.monotonic() > give_up:
                    raise ShuffleRestart(
                        f"p2p shuffle {spec.shuffle_id}: input partition {index} could not be sent in "
                        f"{deadline:.0f} s ({attempt} runs; last: {error}). Workers keep leaving; check them."
                    ) from error
                logger.info("p2p shuffle %s: input %d: %s; trying again", spec.shuffle_id, index, error)
                time.sleep(min(0.05 * 2 ** attempt, 1.0))  # the scheduler notices the lost worker meanwhile

    def _send(self, shuffle_id: str, run_id: int, worker_for: list, index: int, pieces: dict) -> None:
        me = self.worker.address
        by_peer: dict = {}
        local = []
        for partition, frame in pieces.items():
            owner = worker_for[partition]
            if owner == me:
                local.append((partition, frame.copy()))  # a view would keep the whole input alive
            else:
                by_peer.setdefault(owner, []).append((partition, frame))
        if by_peer:
            self._on_loop(self._send_to_peers(shuffle_id, run_id, index, by_peer), timeout=600)
        if local:
            run = self.run_for(shuffle_id, run_id)
            if run is None or not run.buffer.add(index, local):
                raise ShuffleRestart(f"run {run_id} was abandoned here")

    async def _send_to_peers(self, shuffle_id: str, run_id: int, index: int, by_peer: dict) -> None:
        batch_bytes = _setting("batch-bytes")
        results = await asyncio.gather(
            *(self._send_to_peer(peer, shuffle_id, run_id, index, shards, batch_bytes)
              for peer, shards in by_peer.items()),
            return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _send_to_peer(self, peer: str, shuffle_id: str, run_id: int, index: int, shards: list,
                            batch_bytes: int) -> None:
        limiter = self._limiters.get(peer)
        if limiter is None:
            limiter = self._limiters[peer] = ByteLimiter(_setting("bytes-in-flight"))
        for batch, nbytes in _batches(shards, batch_bytes):
            await limiter.acquire(nbytes)
            try:
                msg = {"op": "shuffle-receive", "shuffle": shuffle_id, "run": run_id, "input": index,
                       "shards": batch}
                reply = await self.worker.pool.request(peer, msg, timeout=300)
            except Exception as error:
                self.worker.pool.forget(peer)
                raise ShuffleRestart(f"peer {peer} is unreachable ({type(error).__name__}: {error})") from error
            finally:
                limiter.release(nbytes)
            if "error" in reply:
                raise ShuffleRestart(f"peer {peer} could not store shards: {reply['error']!r}")
            if reply.get("result") != "ok":
                raise ShuffleRestart(f"peer {peer} has abandoned run {run_id}")
            self.sent_bytes += nbytes

    # ------------------------------------------------------------------ receiving
    async def handle_receive(self, msg: dict) -> dict:
        run = self.run_for(msg["shuffle"], msg["run"])
        if run is None:
            return {"op": "reply", "result": "stale"}
        # storing may write files: on a thread, so this loop goes on serving
        stored = await self.worker.loop.run_in_executor(None, run.buffer.add, msg["input"],
                                                        [tuple(s) for s in msg["shards"]])
        return {"op": "reply", "result": "ok" if stored else "stale"}

    async def handle_forget(self, msg: dict) -> dict:
        self.forget(msg["shuffle"], msg.get("run"), bool(msg.get("over")))
        return {"op": "reply", "result": None}

    async def handle_get_output(self, msg: dict) -> dict:
        try:
            frames = await self.worker.loop.run_in_executor(
                None, self.take_output, msg["shuffle"], msg["run"], msg["partition"], msg["worker_for"])
        except KeyError as error:
            return {"op": "reply", "result": None, "reason": str(error)}
        return {"op": "reply", "result": frames}

    # ------------------------------------------------------------------ unpacking
    def take_output(self, shuffle_id: str, run_id: int, partition: int, worker_for: list) -> list:
        """The shards of ``partition`` held here for run ``run_id``, in input order (``KeyError``
        if they are gone); the run is dropped once every partition this worker owns is taken."""
        with self._lock:
            current = self.runs.get(shuffle_id)
            if current is None or current.run_id < run_id:
                if run_id <= self.dropped.get(shuffle_id, 0):
                    raise KeyError(f"run {run_id} was dropped on {self.worker.address}")
                return []  # no input had rows for the partitions owned here
            if current.run_id > run_id:
                raise KeyError(f"run {run_id} was replaced by run {current.run_id} on {self.worker.address}")
        frames = current.buffer.take(partition)
        me = self.worker.address
        owned = {p for p, owner in enumerate(worker_for) if owner == me}
        if owned <= current.buffer.consumed:
            with self._lock:
                if self.runs.get(shuffle_id) is current:
                    self._drop(current)
        return frames

    def unpack(self, spec, run_id: int, worker_for: list, partition: int) -> list:
        """Output ``partition``'s shards in input order, from here or from its owner."""
        from .scheduler_ext import restart_run

        owner = worker_for[partition]
        try:
            if owner == self.worker.address:
                return self.take_output(spec.shuffle_id, run_id, partition, worker_for)
            self.fetched_outputs += 1
            msg = {"op": "shuffle-get-output", "shuffle": spec.shuffle_id, "run": run_id,
                   "partition": partition, "worker_for": worker_for}
            try:
                reply = self._on_loop(self.worker.pool.request(owner, msg, timeout=300), timeout=330)
            except Exception as error:
                raise KeyError(f"its owner {owner} is unreachable ({type(error).__name__}: {error})") from error
            if reply.get("result") is None:
                raise KeyError(reply.get("reason") or reply.get("error"))
            return reply["result"]
        except KeyError as error:
            reason = f"output partition {partition} is missing: {error.args[0] if error.args else error}"
            self.call_scheduler(restart_run, spec.shuffle_id, run_id, reason, partition)
            raise ShuffleRestart(f"p2p shuffle {spec.shuffle_id}: {reason}") from None


def _batches(shards: list, batch_bytes: int):
    """``[(partition, frame), ...]`` in groups of about ``batch_bytes`` (one shard never split),
    with each group's bytes.

    >>> import pandas as pd
    >>> shards = [(p, pd.DataFrame({"x": range(100)})) for p in range(3)]
    >>> [len(b) for b, _ in _batches(shards, 2000)]  # about 930 bytes each
    [2, 1]
    """
    batch, size = [], 0
    for partition, frame in shards:
        nbytes = frame_nbytes(frame)
        if batch and size + nbytes > batch_bytes:
            yield batch, size
            batch, size = [], 0
        batch.append((partition, frame))
        size += nbytes
    if batch:
        yield batch, size
