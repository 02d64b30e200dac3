"""Fetching a worker's inputs from its peers: the ``fetch`` -> ``flight`` side of ``WorkerState``.

``WorkerFetchMixin`` fills and drains the per-peer fetch queues
(``data_needed``), batches ``GatherDep`` requests under
``transfer_incoming_count_limit`` and ``transfer_message_bytes_limit``, and
handles the events about where data is (``acquire-replicas``,
``update-who-has``) and how a fetch ended (``handle_gather_dep_success``/
``_failure``). The transitions themselves
stay in ``WorkerState.TRANSITIONS`` (``worker_state.py``); this mixin
only decides what to fetch from whom and feeds the results back in.

What it needs from the host class (``WorkerState``): the attributes
``address``, ``status``, ``tasks``, ``data``, ``data_needed``,
``in_flight_workers``, ``transfer_incoming_count_limit``,
``transfer_message_bytes_limit`` and the counter ``_seq``; the table
``TRANSITIONS``; and the methods ``_transitions``, ``_run``,
``_ensure_task`` and ``_fetch_or_missing``.
"""

from __future__ import annotations

import heapq
from typing import Any, Iterable, Iterator, Mapping

from .messages import GatherDep, ToScheduler
from .worker_records import DEFAULT_NBYTES, WorkerTaskState, sizeof


class WorkerFetchMixin:
    """Fetch queues per peer, ``GatherDep`` batches, and the events about peers' data."""

    # ------------------------------------------------------------------ fetch queues
    def _push_fetch(self, ts: WorkerTaskState) -> None:
        self._seq += 1
        for peer in ts.who_has:
            heapq.heappush(self.data_needed.setdefault(peer, []), (ts.priority, self._seq, ts))

    def _ensure_communicating(self, recs: dict, instructions: list) -> None:
        """Ask idle peers for the inputs we need, one batch per peer (none while paused:
        fetched data would only add to the memory that is short)."""
        if not self.data_needed or self.status == "paused":
            return
        for peer in list(self.data_needed):
            if len(self.in_flight_workers) >= self.transfer_incoming_count_limit:
                return
            if peer in self.in_flight_workers:
                continue
            heap = self.data_needed[peer]
            batch: list = []
            total = 0
            while heap:
                ts = heap[0][2]
                if ts.state != "fetch" or peer not in ts.who_has or ts in batch:
                    heapq.heappop(heap)
                    continue
                nbytes = ts.nbytes if ts.nbytes >= 0 else DEFAULT_NBYTES
                if batch and total + nbytes > self.transfer_message_bytes_limit:
                    break
                heapq.heappop(heap)
                batch.append(ts)
                total += nbytes
            if not heap:
                del self.data_needed[peer]
            if batch:
                self.in_flight_workers[peer] = {ts.key for ts in batch}
                for ts in batch:
                    ts.coming_from = peer
                    self._run(self.TRANSITIONS[("fetch", "flight")], ts, "fetch", recs, instructions)
                instructions.append(GatherDep(peer, [ts.key for ts in batch], total))

    def _set_who_has(self, ts: WorkerTaskState, addresses: Iterable[str]) -> None:
        ts.who_has = {a for a in addresses if a != self.address}
        if ts.state == "fetch":
            self._push_fetch(ts)  # new peers need entries; duplicates are skipped

    # ------------------------------------------------------------------ events from the scheduler
    def handle_acquire_replicas(self, who_has: Mapping, nbytes: Mapping | None = None, **_: Any) -> list:
        """The scheduler asks us to hold copies of these keys, fetched from peers."""
        nbytes = nbytes or {}
        recs: dict = {}
        for key, addresses in who_has.items():
            ts = self._ensure_task(key)
            ts.scheduler_holds = True
            if ts.state == "memory":
                continue
            if key in nbytes:
                ts.nbytes = nbytes[key]
            self._set_who_has(ts, addresses)
            if ts.state in ("released", "missing"):
                recs[key] = self._fetch_or_missing(ts)
            elif ts.state == "cancelled" and ts.cancelled_from == "flight":
                recs[key] = "flight"
        return self._transitions(recs)

    def handle_update_who_has(self, who_has: Mapping, **_: Any) -> list:
        """Where the given keys can be fetched from now."""
        recs: dict = {}
        for key, addresses in who_has.items():
            ts = self.tasks.get(key)
            if ts is None or ts.state == "memory":
                continue
            self._set_who_has(ts, addresses)
            if ts.state == "missing" and ts.who_has:
                recs[key] = "fetch"
            elif ts.state == "fetch" and not ts.who_has:
                recs[key] = "missing"
        return self._transitions(recs)

    # ------------------------------------------------------------------ events from the server
    def handle_gather_dep_success(self, peer: str, data: Mapping, nbytes: Mapping | None = None) -> list:
        """``peer`` answered our ``GatherDep``; keys absent from ``data`` it did not have."""
        nbytes = nbytes or {}
        recs: dict = {}
        instructions: list = []
        for ts in self._still_in_flight_from(peer, recs, instructions):
            key = ts.key
            if key in data:
                value = data[key]
                self.data[key] = value
                ts.nbytes = nbytes[key] if key in nbytes else sizeof(value)
                recs[key] = "memory"
            else:
                self._peer_lacks(ts, peer, recs, instructions)
        return self._transitions(recs, instructions)

    def handle_gather_dep_failure(self, peer: str, exception: Any = None) -> list:
        """Fetching from ``peer`` failed (connection lost): try other holders, tell the scheduler."""
        recs: dict = {}
        instructions: list = []
        for ts in self._still_in_flight_from(peer, recs, instructions):
            self._peer_lacks(ts, peer, recs, instructions)
        return self._transitions(recs, instructions)

    def _still_in_flight_from(self, peer: str, recs: dict, instructions: list) -> Iterator[WorkerTaskState]:
        """Close the ``GatherDep`` out to ``peer`` (it answered or failed) and yield, one at a time,
        the tasks it carried that are still in ``flight``.

        Those cancelled meanwhile are released as they come up (their transfer is over); keys
        forgotten meanwhile are skipped. A generator, so that the caller handles each task
        before the next one is looked at.
        """
        for key in self.in_flight_workers.pop(peer, ()):
            ts = self.tasks.get(key)
            if ts is None:
                continue
            if ts.state == "cancelled":
                self._run(self.TRANSITIONS[("cancelled", "released")], ts, "cancelled", recs, instructions)
            elif ts.state == "flight":
                yield ts

    def _peer_lacks(self, ts, peer, recs, instructions) -> None:
        ts.who_has.discard(peer)
        instructions.append(ToScheduler({"op": "missing-data", "key": ts.key, "errant_worker": peer}))
        if ts.run_spec is not None:
            # The scheduler asked us to compute it while the copy was on its way:
            # compute it now rather than look for another copy it may not know of.
            self._run(self.TRANSITIONS[("flight", "released")], ts, "flight", recs, instructions)
            recs[ts.key] = "waiting"
        else:
            recs[ts.key] = self._fetch_or_missing(ts)
