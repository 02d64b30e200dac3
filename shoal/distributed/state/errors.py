"""Errors raised or reported by the distributed state machines, worded for users."""

from __future__ import annotations

from typing import Hashable, Sequence


class KilledWorker(Exception):
    """A task was running on ``allowed_failures`` workers that all died.

    >>> err = KilledWorker("f-1", ["tcp://a:1", "tcp://b:2"], 2)
    >>> err.key, err.workers
    ('f-1', ['tcp://a:1', 'tcp://b:2'])

    Dask's names for the same facts, for code written against Dask:

    >>> err.task, err.last_worker, err.allowed_failures
    ('f-1', 'tcp://b:2', 2)
    """

    def __init__(self, key: Hashable, workers: Sequence[str], allowed_failures: int):
        self.key = key
        self.workers = list(workers)
        self.allowed_failures = allowed_failures
        super().__init__(key, self.workers, allowed_failures)

    @property
    def task(self) -> Hashable:
        """The key of the task (Dask's ``KilledWorker.task``)."""
        return self.key

    @property
    def last_worker(self) -> str | None:
        """The address of the last worker that died running it (Dask's ``KilledWorker.last_worker``)."""
        return self.workers[-1] if self.workers else None

    def __str__(self) -> str:
        return (
            f"Task {self.key!r} was running on {len(self.workers)} workers that died: "
            f"{', '.join(self.workers)} (allowed_failures={self.allowed_failures}). The task "
            "itself may be killing them (running out of memory, a crash in compiled code): "
            "check the worker logs, reduce the memory the task needs, or raise allowed_failures."
        )

    def __reduce__(self):
        return (KilledWorker, (self.key, self.workers, self.allowed_failures))


class LostDataError(Exception):
    """Every copy of scattered data was lost; there is no task to recompute it from."""

    def __init__(self, key: Hashable, workers: Sequence[str] = ()):
        self.key = key
        self.workers = list(workers)
        super().__init__(key, self.workers)

    def __str__(self) -> str:
        where = f" with worker(s) {', '.join(self.workers)}" if self.workers else ""
        return (
            f"The data of {self.key!r} was scattered by a client and its last copy was lost"
            f"{where}. Scattered data has no task to recompute it from: scatter it again, "
            "or scatter it with broadcast=True (or replicate it) so one lost worker does not lose it."
        )

    def __reduce__(self):
        return (LostDataError, (self.key, self.workers))


class UnknownWorkerError(KeyError):
    """An operation named a worker the scheduler does not know."""

    def __init__(self, address: str, known: Sequence[str] = ()):
        self.address = address
        shown = ", ".join(list(known)[:5]) or "none"
        super().__init__(
            f"No worker {address!r} is registered with the scheduler (known: {shown}). "
            "It may have been removed after missing heartbeats; restart it or use another."
        )

    __str__ = Exception.__str__


class UnknownKeyError(KeyError):
    """A graph refers to a key the scheduler does not hold (e.g. a released future)."""

    def __init__(self, key: Hashable, needed_by: Hashable):
        self.key, self.needed_by = key, needed_by
        super().__init__(
            f"Task {needed_by!r} depends on {key!r}, which is neither in the submitted graph "
            "nor held by the scheduler. If it was a future, it was released before this "
            "submission: keep a reference to it until the dependent computation is submitted."
        )

    __str__ = Exception.__str__
