"""The worker's record of one key (``WorkerTaskState``) and the size estimate of a value.

``WorkerState`` (``worker_state.py``) holds one ``WorkerTaskState`` per key it
knows of and moves it between states; this module only says what a record
holds. ``sizeof`` is also what the worker server and the spilling store use
to weigh results.
"""

from __future__ import annotations

import sys
from typing import Any, Hashable

Key = Hashable

#: size assumed for an input whose size the scheduler did not say
DEFAULT_NBYTES = 1024


def sizeof(value: Any) -> int:
    """A cheap size estimate: ``.nbytes`` when the object has one, else ``sys.getsizeof``.

    >>> import numpy as np
    >>> sizeof(np.zeros(100)) >= 800
    True
    """
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    try:
        return sys.getsizeof(value)
    except TypeError:
        return DEFAULT_NBYTES


class WorkerTaskState:
    """The worker's record of one key."""

    __slots__ = (
        "key", "run_spec", "state", "priority", "dependencies", "dependents",
        "waiting_for_data", "waiters", "who_has", "nbytes", "resources", "duration",
        "scheduler_holds", "cancelled_from", "coming_from", "exception", "traceback",
        "exception_text", "seq", "resumed",
    )

    def __init__(self, key: Key):
        self.key = key
        self.run_spec = None  # set when the scheduler asks us to compute it
        self.state = "released"
        self.priority: tuple = ()
        self.dependencies: set = set()
        self.dependents: set = set()
        self.waiting_for_data: set = set()  # inputs not in memory here yet
        self.waiters: set = set()  # local tasks that still need this one's data
        self.who_has: set = set()  # peer addresses believed to hold it
        self.nbytes = -1
        self.resources = None
        self.duration = None
        self.scheduler_holds = False
        self.cancelled_from = None  # "executing" or "flight"
        # Executing again after a cancel: the thread still runs the attempt that began before it.
        self.resumed = False
        self.coming_from = None  # peer, while in flight
        self.exception = self.traceback = None
        self.exception_text = ""
        self.seq = 0

    def __repr__(self) -> str:
        return f"<WorkerTaskState {self.key!r} {self.state}>"
