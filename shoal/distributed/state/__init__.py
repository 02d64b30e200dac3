"""Socket-free state machines of the distributed scheduler and worker.

``SchedulerState`` and ``WorkerState`` hold every decision the servers make;
they take events as method calls and return the messages to send. The servers
around them (``shoal.distributed.scheduler``/``worker``) only do I/O.
"""

from .errors import InvalidTransition, KilledWorker, UnknownWorkerError
from .scheduler_state import SchedulerPlugin, SchedulerState
from .worker_state import Execute, GatherDep, ToScheduler, WorkerState

__all__ = [
    "SchedulerState", "SchedulerPlugin", "WorkerState", "Execute", "GatherDep", "ToScheduler",
    "KilledWorker", "InvalidTransition", "UnknownWorkerError",
]
