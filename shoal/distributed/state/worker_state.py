"""``WorkerState``: every decision of a distributed worker, without I/O.

Rules this file keeps
---------------------
- Everything that changes a task's state on a worker lives here, as one
  method per ``(start, finish)`` pair in ``WorkerState.TRANSITIONS``.
- No sockets, threads or clocks. Each ``handle_*`` method takes one event
  (a scheduler message, a finished fetch, a finished execution) and returns
  *instructions* for the server, in order: ``Execute(key)``,
  ``GatherDep(peer, keys)`` and ``ToScheduler(msg)`` (``messages.py``).
- ``self.data`` (any mutable mapping; the server may pass a spilling one)
  holds results; the state machine adds and deletes entries and never
  looks inside them.

Task states on a worker
-----------------------
A task the scheduler asked us to compute: ``waiting`` (for inputs) ->
``ready`` -> ``executing`` (on a thread; ``constrained`` first if it needs
resources not free now) -> ``memory`` or ``error``. An input we must fetch:
``fetch`` (queued per peer) -> ``flight`` (a ``GatherDep`` is out) ->
``memory``; ``missing`` when no peer is known to hold it (the scheduler is
asked). ``cancelled``: freed while executing or in flight; the thread or
transfer cannot be stopped, so the slot stays taken until its result
arrives and is discarded — or the task is wanted again and resumes.
``released`` then ``forgotten`` when nothing needs it.

Invariants (checked by ``validate_state``)
-------------------------------------------
- A task is *needed* while ``scheduler_holds`` (the scheduler asked for it,
  or we told it we hold it) or a local task still waits on it (``waiters``).
  Data the scheduler knows about is deleted only when it says ``free-keys``.
- ``len(self.executing) <= nthreads``; ``executing`` holds the tasks in
  ``executing`` and those ``cancelled`` from it, except those that seceded
  from the pool (``handle_secede``), which are in ``long_running`` instead.
- At most one ``GatherDep`` per peer and at most
  ``transfer_incoming_count_limit`` peers at a time (``in_flight_workers``);
  a batch asks one peer for up to ``transfer_message_bytes_limit`` bytes.

Theory of operation
-------------------
As in ``SchedulerState``: events make recommendations ``{key: finish}``;
``_transitions`` runs them through the table (a missing pair goes through
``released`` when ``finish`` is ``waiting``/``fetch``/``forgotten``,
otherwise it is stale and dropped), then fills free threads from the ready
heap and free transfer slots from the per-peer fetch heaps.

Where the rest lives
--------------------
This file holds the engine, the transition table and the events that start
or end a task's life here (``compute-task``, ``free-keys``,
``steal-request``, a client's ``update-data``). Around it, in modules of
their own: ``worker_records.py`` (``WorkerTaskState``, ``sizeof``),
``worker_execution.py`` (thread slots, resources, events from executing
tasks, pause/resume; the mixin ``WorkerExecutionMixin``) and
``worker_fetch.py`` (fetching inputs from peers; ``WorkerFetchMixin``).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterable, Mapping, MutableMapping

# GatherDep is re-exported: ``from .worker_state import GatherDep`` is a public path.
from .messages import Execute, GatherDep, ToScheduler
from .validation import validate_worker_state
from .worker_execution import WorkerExecutionMixin
from .worker_fetch import WorkerFetchMixin
# Re-exported: ``sizeof`` and ``WorkerTaskState`` have always been importable from here.
from .worker_records import DEFAULT_NBYTES, Key, WorkerTaskState, sizeof


class WorkerState(WorkerExecutionMixin, WorkerFetchMixin):
    """The tasks of one worker with ``nthreads`` threads, and the rules that move them.

    >>> from operator import add
    >>> from shoal.taskgraph import Task, Ref
    >>> ws = WorkerState("w1", nthreads=1)
    >>> ws.handle_compute_task("y", Task("y", add, Ref("x"), 1), (0,), who_has={"x": ["w2"]}, nbytes={"x": 28})
    [GatherDep(peer='w2', keys=['x'], total_nbytes=28)]
    >>> ws.handle_gather_dep_success("w2", {"x": 41})
    [ToScheduler(msg={'op': 'add-keys', 'keys': ['x'], 'nbytes': {'x': 28}}), Execute(key='y')]
    >>> node, inputs = ws.execution_inputs("y")
    >>> node(inputs)
    42
    >>> [i.msg["op"] for i in ws.handle_execute_success("y", 42, nbytes=28)]
    ['task-finished']
    """

    def __init__(
        self,
        address: str,
        nthreads: int = 1,
        *,
        resources: Mapping | None = None,
        transfer_incoming_count_limit: int = 4,
        transfer_message_bytes_limit: float = 50e6,
        data: MutableMapping | None = None,
        transition_log_size: int = 10_000,
    ):
        if nthreads < 1:
            raise ValueError(f"Worker {address!r}: nthreads must be at least 1, got {nthreads}.")
        self.address = address
        self.nthreads = nthreads
        self.total_resources = dict(resources or {})
        self.available_resources = dict(self.total_resources)
        self.transfer_incoming_count_limit = transfer_incoming_count_limit
        self.transfer_message_bytes_limit = transfer_message_bytes_limit
        self.data: MutableMapping = {} if data is None else data
        self.status = "running"

        self.tasks: dict = {}
        self.ready: list = []  # heap of (priority, seq, ts)
        self.constrained: list = []  # heap of (priority, seq, ts) waiting for resources
        self.executing: set = set()  # tasks holding one of the nthreads slots
        self.long_running: set = set()  # executing tasks that seceded from the pool
        self.data_needed: dict = {}  # peer -> heap of (priority, seq, ts) to fetch from it
        self.in_flight_workers: dict = {}  # peer -> set of keys asked for
        self.transition_log: deque = deque(maxlen=transition_log_size)
        self.n_transitions = 0
        self.n_stale_recommendations = 0
        self._seq = 0
        self._added_keys: list = []  # fetched keys to announce, flushed per batch

    # ------------------------------------------------------------------ engine
    def _transitions(self, recs: dict, instructions: list | None = None) -> list:
        instructions = [] if instructions is None else instructions
        while True:
            while recs:
                key, finish = recs.popitem()
                self._transition(key, finish, recs, instructions)
            if self._added_keys:
                keys, self._added_keys = self._added_keys, []
                nbytes = {ts.key: ts.nbytes for ts in keys}
                instructions.append(ToScheduler({"op": "add-keys", "keys": list(nbytes), "nbytes": nbytes}))
            self._ensure_communicating(recs, instructions)
            self._ensure_computing(recs, instructions)
            if not recs:
                return instructions

    def _transition(self, key: Key, finish: str, recs: dict, instructions: list) -> None:
        ts = self.tasks.get(key)
        if ts is None:
            return
        start = ts.state
        if start == finish:
            return
        if finish in ("released", "forgotten"):
            if self._needed(ts) or (finish == "forgotten" and ts.dependents):
                return
            if start in ("executing", "flight"):
                finish = "cancelled"
            elif start == "cancelled":
                return  # released when its result arrives
        method = self.TRANSITIONS.get((start, finish))
        if method is not None:
            self._run(method, ts, start, recs, instructions)
        elif finish in ("waiting", "fetch", "forgotten") and start not in ("flight", "cancelled") \
                and (start, "released") in self.TRANSITIONS:
            self._run(self.TRANSITIONS[(start, "released")], ts, start, recs, instructions)
            if ts.state == "released":
                self._run(self.TRANSITIONS[("released", finish)], ts, "released", recs, instructions)
        else:
            self.n_stale_recommendations += 1

    def _run(self, method, ts, start, recs, instructions) -> None:
        method(self, ts, recs, instructions)
        if ts.state != start:
            self.n_transitions += 1
            self.transition_log.append((ts.key, start, ts.state))

    @staticmethod
    def _needed(ts: WorkerTaskState) -> bool:
        return ts.scheduler_holds or bool(ts.waiters)

    def _release_if_unneeded(self, ts: WorkerTaskState, recs: dict) -> None:
        if self._needed(ts):
            return
        if ts.state == "released":
            if not ts.dependents:
                recs[ts.key] = "forgotten"
        elif ts.state != "cancelled":
            recs[ts.key] = "released"

    def _stop_needing_dependencies(self, ts: WorkerTaskState, recs: dict) -> None:
        for dep in ts.dependencies:
            dep.waiters.discard(ts)
            self._release_if_unneeded(dep, recs)

    def _after_released(self, ts: WorkerTaskState, recs: dict) -> None:
        if ts.waiters:
            # A local task still needs it as an input (e.g. the result of a
            # cancelled run was dropped meanwhile): fetch it from a peer.
            recs[ts.key] = self._fetch_or_missing(ts)
        elif not self._needed(ts) and not ts.dependents:
            recs[ts.key] = "forgotten"

    def _fetch_or_missing(self, ts: WorkerTaskState) -> str:
        return "fetch" if ts.who_has else "missing"

    # ------------------------------------------------------------------ transitions
    def _transition_released_waiting(self, ts, recs, instructions):
        ts.state = "waiting"
        ts.waiting_for_data.clear()
        for dep in ts.dependencies:
            dep.waiters.add(ts)
            if dep.state == "memory":
                continue
            ts.waiting_for_data.add(dep)
            if dep.state in ("released", "error"):
                recs[dep.key] = self._fetch_or_missing(dep)
            elif dep.state == "cancelled" and dep.cancelled_from == "flight":
                recs[dep.key] = "flight"
            # A dependency cancelled while executing is fetched once its
            # result has come back and been dropped (see _after_released).
        if not ts.waiting_for_data:
            recs[ts.key] = "ready"

    def _transition_released_fetch(self, ts, recs, instructions):
        ts.state = "fetch"
        self._push_fetch(ts)

    def _transition_released_missing(self, ts, recs, instructions):
        ts.state = "missing"
        # No peer is known to hold it: ask the scheduler where it is.
        instructions.append(ToScheduler({"op": "missing-data", "key": ts.key, "errant_worker": None}))

    def _transition_released_forgotten(self, ts, recs, instructions):
        ts.state = "forgotten"
        del self.tasks[ts.key]
        for dep in ts.dependencies:
            dep.dependents.discard(ts)
            dep.waiters.discard(ts)
            if not dep.dependents and not self._needed(dep):
                recs[dep.key] = "forgotten" if dep.state == "released" else "released"

    def _transition_waiting_ready(self, ts, recs, instructions):
        ts.state = "ready"
        self._push(self.ready, ts)

    def _transition_waiting_released(self, ts, recs, instructions):
        ts.state = "released"
        ts.waiting_for_data.clear()
        self._stop_needing_dependencies(ts, recs)
        self._after_released(ts, recs)

    def _transition_ready_executing(self, ts, recs, instructions):
        ts.state = "executing"
        ts.resumed = False
        self.executing.add(ts)
        if ts.resources:
            for name, amount in ts.resources.items():
                self.available_resources[name] -= amount
        instructions.append(Execute(ts.key))

    def _transition_ready_constrained(self, ts, recs, instructions):
        ts.state = "constrained"
        self._push(self.constrained, ts)

    def _transition_ready_released(self, ts, recs, instructions):
        ts.state = "released"  # its heap entry goes stale
        self._stop_needing_dependencies(ts, recs)
        self._after_released(ts, recs)

    _transition_constrained_executing = _transition_ready_executing
    _transition_constrained_released = _transition_ready_released

    def _transition_executing_memory(self, ts, recs, instructions):
        self._leave_thread(ts)
        ts.state = "memory"
        ts.scheduler_holds = True  # reported below; kept until the scheduler frees it
        instructions.append(ToScheduler({
            "op": "task-finished", "key": ts.key, "nbytes": ts.nbytes,
            "duration": ts.duration, "type": type(self.data[ts.key]).__name__,
        }))
        self._stop_needing_dependencies(ts, recs)
        self._wake_waiters(ts, recs)

    def _transition_executing_error(self, ts, recs, instructions):
        self._leave_thread(ts)
        ts.state = "error"
        instructions.append(ToScheduler({
            "op": "task-erred", "key": ts.key, "exception": ts.exception,
            "traceback": ts.traceback, "exception_text": ts.exception_text,
        }))
        self._stop_needing_dependencies(ts, recs)

    def _transition_executing_waiting(self, ts, recs, instructions):
        # A resumed attempt failed (see handle_execute_failure): run the task afresh.
        self._leave_thread(ts)
        ts.resumed = False
        self._transition_released_waiting(ts, recs, instructions)

    def _transition_executing_cancelled(self, ts, recs, instructions):
        ts.state = "cancelled"
        ts.cancelled_from = "executing"  # the thread runs on; its slot stays taken
        self._stop_needing_dependencies(ts, recs)

    def _transition_fetch_flight(self, ts, recs, instructions):
        ts.state = "flight"  # the GatherDep is emitted by _ensure_communicating

    def _transition_fetch_missing(self, ts, recs, instructions):
        ts.state = "missing"
        instructions.append(ToScheduler({"op": "missing-data", "key": ts.key, "errant_worker": None}))

    def _transition_fetch_released(self, ts, recs, instructions):
        ts.state = "released"  # its entries in data_needed go stale
        self._after_released(ts, recs)

    def _transition_flight_memory(self, ts, recs, instructions):
        ts.state = "memory"
        ts.coming_from = None
        if ts.run_spec is not None:
            # The scheduler asked us to compute it meanwhile: the copy will do.
            instructions.append(ToScheduler({
                "op": "task-finished", "key": ts.key, "nbytes": ts.nbytes,
                "duration": 0.0, "type": type(self.data[ts.key]).__name__,
            }))
        else:
            self._added_keys.append(ts)
        ts.scheduler_holds = True
        self._wake_waiters(ts, recs)

    def _transition_flight_fetch(self, ts, recs, instructions):
        ts.state = "fetch"
        ts.coming_from = None
        self._push_fetch(ts)

    def _transition_flight_missing(self, ts, recs, instructions):
        ts.state = "missing"  # the handler already told the scheduler which peer failed
        ts.coming_from = None

    def _transition_flight_cancelled(self, ts, recs, instructions):
        ts.state = "cancelled"
        ts.cancelled_from = "flight"
        ts.run_spec = None  # a compute-task sets it again if it is wanted as a task

    def _transition_flight_released(self, ts, recs, instructions):
        # Only once the transfer is over without the data (see _peer_lacks).
        ts.state = "released"
        ts.coming_from = None
        self._after_released(ts, recs)

    def _transition_missing_fetch(self, ts, recs, instructions):
        ts.state = "fetch"
        self._push_fetch(ts)

    def _transition_missing_released(self, ts, recs, instructions):
        ts.state = "released"
        self._after_released(ts, recs)

    def _transition_cancelled_executing(self, ts, recs, instructions):
        # Wanted again while its thread still runs: its result will be reported (an error will not).
        ts.state = "executing"
        ts.cancelled_from = None
        ts.resumed = True

    def _transition_cancelled_flight(self, ts, recs, instructions):
        ts.state = "flight"
        ts.cancelled_from = None

    def _transition_cancelled_released(self, ts, recs, instructions):
        if ts.cancelled_from == "executing":
            self._leave_thread(ts)
        ts.cancelled_from = ts.coming_from = ts.run_spec = None
        ts.state = "released"
        self._after_released(ts, recs)

    def _transition_memory_released(self, ts, recs, instructions):
        self.data.pop(ts.key, None)
        ts.state = "released"
        self._after_released(ts, recs)

    def _transition_error_released(self, ts, recs, instructions):
        ts.state = "released"
        ts.exception = ts.traceback = None
        ts.exception_text = ""
        self._after_released(ts, recs)

    TRANSITIONS = {
        ("released", "waiting"): _transition_released_waiting,
        ("released", "fetch"): _transition_released_fetch,
        ("released", "missing"): _transition_released_missing,
        ("released", "forgotten"): _transition_released_forgotten,
        ("waiting", "ready"): _transition_waiting_ready,
        ("waiting", "released"): _transition_waiting_released,
        ("ready", "executing"): _transition_ready_executing,
        ("ready", "constrained"): _transition_ready_constrained,
        ("ready", "released"): _transition_ready_released,
        ("constrained", "executing"): _transition_constrained_executing,
        ("constrained", "released"): _transition_constrained_released,
        ("executing", "memory"): _transition_executing_memory,
        ("executing", "error"): _transition_executing_error,
        ("executing", "cancelled"): _transition_executing_cancelled,
        ("executing", "waiting"): _transition_executing_waiting,
        ("fetch", "flight"): _transition_fetch_flight,
        ("fetch", "missing"): _transition_fetch_missing,
        ("fetch", "released"): _transition_fetch_released,
        ("flight", "memory"): _transition_flight_memory,
        ("flight", "fetch"): _transition_flight_fetch,
        ("flight", "missing"): _transition_flight_missing,
        ("flight", "cancelled"): _transition_flight_cancelled,
        ("flight", "released"): _transition_flight_released,
        ("missing", "fetch"): _transition_missing_fetch,
        ("missing", "released"): _transition_missing_released,
        ("cancelled", "executing"): _transition_cancelled_executing,
        ("cancelled", "flight"): _transition_cancelled_flight,
        ("cancelled", "released"): _transition_cancelled_released,
        ("memory", "released"): _transition_memory_released,
        ("error", "released"): _transition_error_released,
    }

    # ------------------------------------------------------------------ helpers
    def _wake_waiters(self, ts: WorkerTaskState, recs: dict) -> None:
        for dts in ts.waiters:
            if dts.state == "waiting":
                dts.waiting_for_data.discard(ts)
                if not dts.waiting_for_data:
                    recs[dts.key] = "ready"

    def _ensure_task(self, key: Key) -> WorkerTaskState:
        ts = self.tasks.get(key)
        if ts is None:
            ts = self.tasks[key] = WorkerTaskState(key)
        return ts

    # ------------------------------------------------------------------ events from the scheduler
    def handle_compute_task(self, key: Key, run_spec: Any, priority: tuple, who_has: Mapping | None = None,
                            nbytes: Mapping | None = None, resources: Mapping | None = None,
                            duration: float | None = None, **_: Any) -> list:
        """The scheduler asks us to compute ``key``; ``who_has`` says where its inputs are."""
        who_has = who_has or {}
        nbytes = nbytes or {}
        ts = self._ensure_task(key)
        ts.run_spec = run_spec
        ts.priority = tuple(priority)
        ts.resources = dict(resources) if resources else None
        ts.scheduler_holds = True
        recs: dict = {}
        for dep_key in run_spec.dependencies:
            dep = self._ensure_task(dep_key)
            ts.dependencies.add(dep)
            dep.dependents.add(ts)
            if not dep.priority or ts.priority < dep.priority:
                dep.priority = ts.priority
            if dep_key in nbytes and dep.state != "memory":
                dep.nbytes = nbytes[dep_key]
            if dep_key in who_has and dep.state != "memory":
                self._set_who_has(dep, who_has[dep_key])
                if dep.state == "missing" and dep.who_has:
                    recs[dep_key] = "fetch"
        instructions: list = []
        state = ts.state
        if state in ("released", "error", "fetch", "missing"):
            recs[key] = "waiting"
        elif state == "cancelled":
            recs[key] = ts.cancelled_from
        elif state == "memory":
            instructions.append(ToScheduler({
                "op": "task-finished", "key": key, "nbytes": ts.nbytes, "duration": 0.0,
                "type": type(self.data[key]).__name__,
            }))
        return self._transitions(recs, instructions)

    def handle_free_keys(self, keys: Iterable[Key], **_: Any) -> list:
        """The scheduler no longer needs ``keys`` here: drop their data, cancel their work."""
        recs: dict = {}
        for key in keys:
            ts = self.tasks.get(key)
            if ts is not None:
                ts.scheduler_holds = False
                if ts.state not in ("executing", "cancelled", "flight") and not ts.waiters:
                    ts.run_spec = None  # no longer a task of ours; at most an input
                recs[key] = "released"
        return self._transitions(recs)

    def handle_steal_request(self, key: Key, id: Any = None, **_: Any) -> list:
        """The scheduler wants to move ``key`` to another worker: give it up if it has not started.

        The answer (``steal-response``) says whether we released it; only
        then does the scheduler send it elsewhere, so it never runs twice.

        >>> from operator import add
        >>> from shoal.taskgraph import Task
        >>> ws = WorkerState("w1", nthreads=1)
        >>> _ = ws.handle_compute_task("a", Task("a", add, 1, 1), (0,))
        >>> _ = ws.handle_compute_task("b", Task("b", add, 2, 2), (1,))
        >>> ws.handle_steal_request("b", id=7)
        [ToScheduler(msg={'op': 'steal-response', 'key': 'b', 'id': 7, 'released': True, 'state': 'ready'})]
        >>> ws.handle_steal_request("a", id=8)[0].msg["released"]  # already executing
        False
        """
        ts = self.tasks.get(key)
        state = None if ts is None else ts.state
        recs: dict = {}
        released = ts is not None and ts.run_spec is not None and state in ("waiting", "ready", "constrained")
        if released:
            ts.scheduler_holds = False
            ts.run_spec = None
            recs[key] = "released"
        answer = {"op": "steal-response", "key": key, "id": id, "released": released, "state": state}
        return self._transitions(recs, [ToScheduler(answer)])

    # ------------------------------------------------------------------ events from clients
    def handle_update_data(self, data: Mapping, nbytes: Mapping | None = None) -> tuple:
        """A client pushed ``data`` (``{key: value}``) here to scatter it: hold it in memory.

        Returns ``(report, instructions)``: the ``add-keys``-style report of
        what is now held, for the client to pass on to the scheduler
        (``SchedulerState.update_data``), and the instructions for tasks here
        that were waiting for these keys.
        Nothing goes to the scheduler from here: it does not know the keys
        yet and would tell us to free them. Keys that are being computed or
        fetched here are left alone and absent from the report.

        >>> ws = WorkerState("w1")
        >>> ws.handle_update_data({"x": 3}, nbytes={"x": 28})
        ({'op': 'add-keys', 'keys': ['x'], 'nbytes': {'x': 28}}, [])
        >>> ws.data["x"], ws.tasks["x"].state
        (3, 'memory')
        """
        nbytes = nbytes or {}
        recs: dict = {}
        stored: dict = {}
        for key, value in data.items():
            ts = self._ensure_task(key)
            if ts.state not in ("released", "fetch", "missing", "memory", "error"):
                continue  # executing, in flight, ...: its own result will come
            self.data[key] = value
            ts.nbytes = nbytes[key] if key in nbytes else sizeof(value)
            ts.scheduler_holds = True  # until the scheduler frees it
            ts.exception = ts.traceback = None
            ts.exception_text = ""
            if ts.state != "memory":
                ts.state = "memory"  # stale fetch-queue entries are skipped by state
                ts.who_has.clear()
                self._wake_waiters(ts, recs)
            stored[key] = ts.nbytes
        instructions = self._transitions(recs)
        return {"op": "add-keys", "keys": list(stored), "nbytes": stored}, instructions

    _SCHEDULER_OPS = {
        "compute-task": "handle_compute_task",
        "acquire-replicas": "handle_acquire_replicas",
        "free-keys": "handle_free_keys",
        "update-who-has": "handle_update_who_has",
        "steal-request": "handle_steal_request",
    }

    def handle_scheduler_message(self, msg: Mapping) -> list:
        """Dispatch one message of the scheduler's stream by its ``"op"``."""
        name = self._SCHEDULER_OPS.get(msg.get("op"))
        if name is None:
            raise ValueError(
                f"Worker {self.address!r}: unknown message op {msg.get('op')!r} from the "
                f"scheduler; expected one of {sorted(self._SCHEDULER_OPS)}."
            )
        return getattr(self, name)(**{k: v for k, v in msg.items() if k != "op"})

    # ------------------------------------------------------------------ validation
    def validate_state(self) -> None:
        """Check the invariants in the module docstring; raise AssertionError naming the task."""
        validate_worker_state(self)
