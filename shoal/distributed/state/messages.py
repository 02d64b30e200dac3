"""The shapes of the messages the state machines exchange.

Wire messages are plain dicts with an ``"op"`` field (cheap to build, and
msgpack-friendly for the comm layer); the ``TypedDict`` classes below document
their fields. The worker's *instructions* to its own server are small
dataclasses: ``Execute``, ``GatherDep`` and ``ToScheduler``.

Scheduler -> worker: ``compute-task``, ``free-keys``, ``acquire-replicas``,
``update-who-has``, ``steal-request``. Worker -> scheduler: ``task-finished``,
``task-erred``, ``add-keys``, ``missing-data``, ``long-running``, ``steal-response``. Scheduler -> client: ``key-in-memory``,
``task-erred``, ``cancelled-keys``.

>>> msg = compute_task("x", None, (0, 1, 0), {}, {}, None, 0.5)
>>> msg["op"], msg["key"]
('compute-task', 'x')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable, TypedDict

Key = Hashable
#: what every ``SchedulerState`` event returns: ``[(recipient, msg dict), ...]``
Messages = list


# --------------------------------------------------------------- scheduler -> worker
class ComputeTaskMsg(TypedDict):
    op: str  # "compute-task"
    key: Key
    run_spec: Any  # a shoal.taskgraph GraphNode, called as node(data)
    priority: tuple
    who_has: dict  # {dependency key: [worker addresses holding it]}
    nbytes: dict  # {dependency key: size in bytes}
    resources: dict | None  # {resource name: amount} the task holds while executing
    duration: float  # the scheduler's estimate, seconds


class FreeKeysMsg(TypedDict):
    op: str  # "free-keys": drop these keys' data, cancel them if running
    keys: list


class AcquireReplicasMsg(TypedDict):
    op: str  # "acquire-replicas": fetch copies of these keys from peers
    who_has: dict
    nbytes: dict


class UpdateWhoHasMsg(TypedDict):
    op: str  # "update-who-has": where the given keys can be fetched now
    who_has: dict


class StealRequestMsg(TypedDict):
    op: str  # "steal-request": give key up if it has not started (work stealing, retirement)
    key: Key
    id: int  # echoed in the answer; a stale answer's id no longer matches


# --------------------------------------------------------------- worker -> scheduler
class TaskFinishedMsg(TypedDict):
    op: str  # "task-finished"
    key: Key
    nbytes: int
    duration: float
    type: str


class TaskErredMsg(TypedDict):
    op: str  # "task-erred"
    key: Key
    exception: Any  # opaque to the state machines; the servers serialize it
    traceback: Any
    exception_text: str


class AddKeysMsg(TypedDict):
    op: str  # "add-keys": this worker now holds replicas of these keys
    keys: list
    nbytes: dict


class MissingDataMsg(TypedDict):
    op: str  # "missing-data": errant_worker did not have key when asked
    key: Key
    errant_worker: str


class LongRunningMsg(TypedDict):
    op: str  # "long-running": key seceded from the thread pool (waits on tasks it submitted)
    key: Key


class StealResponseMsg(TypedDict):
    op: str  # "steal-response"
    key: Key
    id: int
    released: bool  # True: dropped, the scheduler may send it elsewhere; False: it runs here
    state: str | None  # the task's state on the worker when asked (None: unknown there)


# --------------------------------------------------------------- scheduler -> client
class KeyInMemoryMsg(TypedDict):
    op: str  # "key-in-memory"
    key: Key
    nbytes: int
    type: str


class ClientTaskErredMsg(TypedDict):
    op: str  # "task-erred"
    key: Key
    blamed_key: Key  # the task that raised (key itself, or a dependency)
    exception: Any
    traceback: Any
    exception_text: str


class CancelledKeysMsg(TypedDict):
    op: str  # "cancelled-keys"
    keys: list


def compute_task(key, run_spec, priority, who_has, nbytes, resources, duration) -> dict:
    """A ``compute-task`` message (a plain dict; see ``ComputeTaskMsg``)."""
    return {
        "op": "compute-task", "key": key, "run_spec": run_spec, "priority": priority,
        "who_has": who_has, "nbytes": nbytes, "resources": resources, "duration": duration,
    }


# --------------------------------------------------------------- worker instructions
@dataclass(slots=True)
class Execute:
    """Run task ``key`` on a thread: ``WorkerState.execution_inputs(key)`` gives
    the node and its input data; report with ``handle_execute_success/failure``."""

    key: Key


@dataclass(slots=True)
class GatherDep:
    """Fetch ``keys`` from the peer worker ``peer`` in one request; report with
    ``handle_gather_dep_success/failure``."""

    peer: str
    keys: list
    total_nbytes: int = 0


@dataclass(slots=True)
class ToScheduler:
    """Send ``msg`` (a dict with ``"op"``) to the scheduler, in order."""

    msg: dict = field(default_factory=dict)


Instruction = Execute | GatherDep | ToScheduler
