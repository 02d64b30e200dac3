"""What the scheduler remembers about each task, worker, client and task prefix.

Plain ``__slots__`` records with no behaviour beyond small conveniences: the
rules that change them live in ``scheduler_state.py`` and the mixins it is
built from (listed in its docstring). Records refer to each other directly
(a task's ``who_has`` is a set of ``WorkerInfo``), so following an edge
never costs a dictionary lookup.
"""

from __future__ import annotations

import math
from typing import Any, Hashable


class TaskPrefix:
    """Tasks sharing a key prefix (``'inc'`` for ``'inc-3f2a...'``): duration
    estimates and per-state counts for the dashboard, kept incrementally."""

    __slots__ = ("name", "duration_average", "n_durations", "state_counts")

    def __init__(self, name: str):
        self.name = name
        self.duration_average = -1.0  # negative: nothing measured yet
        self.n_durations = 0
        self.state_counts: dict = {}

    def add_duration(self, seconds: float) -> None:
        # An exponential average adapts when a prefix's cost changes over a run.
        if self.n_durations == 0:
            self.duration_average = seconds
        else:
            self.duration_average = 0.5 * self.duration_average + 0.5 * seconds
        self.n_durations += 1

    def __repr__(self) -> str:
        return f"<TaskPrefix {self.name!r} avg={self.duration_average:.3g}s {self.state_counts}>"


class _NoItems(frozenset):
    """The one empty set that new tasks of a large graph share until they need their own.

    An empty ``set`` costs 216 bytes and a task has six of them, most of which
    stay empty (a root task has no dependencies, a task nobody holds a future
    on no ``who_wants``): sharing this immutable one saves over a kilobyte per
    task. It reads as an empty set and ``discard``/``clear`` do nothing; code
    that adds to one of these sets first gives the task its own (``if
    ts.who_has is NO_ITEMS: ts.who_has = set()``), see ``scheduler_state``.

    >>> NO_ITEMS.discard(1); len(NO_ITEMS), 1 in NO_ITEMS, NO_ITEMS == set()
    (0, False, True)
    """

    __slots__ = ()

    def discard(self, item: Any) -> None:
        pass

    def clear(self) -> None:
        pass


NO_ITEMS = _NoItems()
NO_WORKERS: tuple = ()  # ``killed_on`` of a task no worker died under, shared (a list per task costs 56 bytes)


class TaskState:
    """The scheduler's record of one key.

    ``TaskState(key, run_spec, prefix, empty=NO_ITEMS)`` starts its six sets
    as the shared ``NO_ITEMS`` instead of six new empty sets.
    """

    __slots__ = (
        "key", "run_spec", "state", "priority", "prefix",
        "dependencies", "dependents", "waiting_on", "waiters",
        "who_has", "processing_on", "who_wants", "nbytes", "type",
        "retries", "suspicious", "killed_on",
        "exception", "traceback", "exception_text", "exception_blame",
        "worker_restrictions", "resource_restrictions", "loose_restrictions",
        "queue_seq", "erred_on",
    )

    def __init__(self, key: Hashable, run_spec: Any, prefix: TaskPrefix, empty: Any = None):
        self.key = key
        self.run_spec = run_spec
        self.state = "released"
        self.priority: tuple = ()
        self.prefix = prefix
        if empty is None:
            self.dependencies: set = set()  # TaskStates this one reads
            self.dependents: set = set()  # TaskStates that read this one (kept for lineage)
            self.waiting_on: set = set()  # dependencies not yet in memory (state waiting)
            self.waiters: set = set()  # dependents that still need this one's data
            self.who_has: set = set()  # WorkerInfos holding the data
            self.who_wants: set = set()  # ClientInfos holding a future on it
        else:
            self.dependencies = self.dependents = self.waiting_on = empty
            self.waiters = self.who_has = self.who_wants = empty
        self.processing_on = None  # WorkerInfo, while processing
        self.nbytes = -1
        self.type = ""
        self.retries = 0
        self.suspicious = 0  # how many workers died while it was processing on them
        self.killed_on: list = [] if empty is None else NO_WORKERS
        self.exception = None
        self.traceback = None
        self.exception_text = ""
        self.exception_blame = None  # the TaskState whose error this one reports
        self.worker_restrictions = None  # set of addresses, or None
        self.resource_restrictions = None  # {name: amount}, or None
        self.loose_restrictions = False
        self.queue_seq = -1
        self.erred_on = None  # WorkerInfo where it failed, told to free it on release

    def __repr__(self) -> str:
        return f"<TaskState {self.key!r} {self.state}>"


class WorkerInfo:
    """The scheduler's record of one worker."""

    __slots__ = (
        "address", "name", "nthreads", "memory_limit", "resources", "status",
        "processing", "long_running", "occupancy", "has_what", "nbytes", "slots",
        "last_seen", "metrics", "nanny",
    )

    def __init__(self, address: str, nthreads: int, *, name=None, memory_limit=None,
                 resources=None, saturation: float = 1.1, now: float = 0.0, nanny=None):
        self.address = address
        self.nanny = nanny  # address of the Nanny supervising its process (it can restart it), or None
        self.name = address if name is None else name
        self.nthreads = nthreads
        self.memory_limit = memory_limit
        self.resources: dict = dict(resources or {})
        self.status = "running"
        self.processing: dict = {}  # TaskState -> estimated seconds, insertion-ordered
        self.long_running: set = set()  # processing tasks that seceded from the thread pool
        self.occupancy = 0.0  # sum of processing.values(), kept incrementally
        self.has_what: dict = {}  # TaskState -> None, insertion-ordered
        self.nbytes = 0
        self.slots = task_slots(nthreads, saturation)
        self.last_seen = now
        self.metrics: dict = {}

    def __repr__(self) -> str:
        return (f"<WorkerInfo {self.address!r} {self.status} threads={self.nthreads} "
                f"processing={len(self.processing)} memory={len(self.has_what)}>")


class ClientInfo:
    """The scheduler's record of one client and the keys it holds futures on."""

    __slots__ = ("id", "wants_what")

    def __init__(self, client_id: str):
        self.id = client_id
        self.wants_what: set = set()

    def __repr__(self) -> str:
        return f"<ClientInfo {self.id!r} wants={len(self.wants_what)}>"


def task_slots(nthreads: int, saturation: float) -> int:
    """How many tasks a worker may hold in ``processing`` before root tasks queue.

    >>> task_slots(1, 1.1), task_slots(4, 1.1), task_slots(8, 1.0)
    (2, 5, 8)
    >>> task_slots(2, float("inf")) > 10**9
    True
    """
    if math.isinf(saturation):
        return 2**62
    return max(math.ceil(nthreads * saturation), 1)
