"""Distributed computing: a scheduler, workers, and a Client with futures.

>>> from shoal.distributed import Client, LocalCluster
>>> with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
...     with Client(cluster) as client:
...         futures = client.map(lambda x: x * 10, range(4))
...         client.gather(futures)
[0, 10, 20, 30]

See ``client.py`` (the user API), ``scheduler.py`` / ``worker.py`` (servers
around the state machines in ``state/``), ``cluster.py`` (LocalCluster),
``cli.py`` (``shoal-scheduler`` / ``shoal-worker``) and ``comm/`` (messages).
"""

from .client import Client, default_client
from .cluster import LocalCluster
from .deploy import SlurmCluster, SSHCluster
from .future import Future, FutureCancelledError, as_completed, wait
from .graph_futures import futures_of
from .progress import progress
from .report import performance_report
from .scheduler import Scheduler, SchedulerPlugin
from .state import KilledWorker
from .worker import Worker, get_worker, secede, worker_client
from . import shuffle  # the p2p shuffle: its worker extension, and shuffle_method="p2p"

__all__ = [
    "Client", "LocalCluster", "Scheduler", "SchedulerPlugin", "Worker", "Future", "FutureCancelledError",
    "SlurmCluster", "SSHCluster",
    "wait", "futures_of", "as_completed", "progress", "performance_report", "get_worker", "secede", "worker_client", "default_client", "KilledWorker",
]
