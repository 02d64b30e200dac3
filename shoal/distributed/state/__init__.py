"""Socket-free state machines of the distributed scheduler and worker.

``SchedulerState`` and ``WorkerState`` hold every decision the servers make;
they take events as method calls and return the messages to send. The servers
around them (``shoal.distributed.scheduler``/``worker``) only do I/O.
"""

from .errors import KilledWorker, LostDataError, UnknownKeyError, UnknownWorkerError
from .plugins import SchedulerPlugin
from .scheduler_state import SchedulerState
from .worker_state import Execute, GatherDep, ToScheduler, WorkerState

__all__ = [
    "SchedulerState", "SchedulerPlugin", "WorkerState", "Execute", "GatherDep", "ToScheduler",
    "KilledWorker", "LostDataError", "UnknownKeyError", "UnknownWorkerError",
]
