"""Deploying shoal on clusters that already exist: Slurm jobs, ssh hosts.

- ``SlurmCluster``: the scheduler here, workers submitted as Slurm jobs
  (``job_script()``, ``scale``, ``adapt``, ``close``); built on ``JobCluster``.
- ``SSHCluster``: the scheduler on the first host, workers on the others,
  all started with the ``ssh`` command.
- ``Adaptive``: scale a cluster with the load (``cluster.adapt(...)``).

Kubernetes manifests and a Dockerfile live in the repository's ``deploy/``.
"""

from .adaptive import Adaptive, recommend_workers
from .job_cluster import JobCluster
from .slurm import SlurmCluster
from .ssh import SSHCluster

__all__ = ["Adaptive", "JobCluster", "SlurmCluster", "SSHCluster", "recommend_workers"]
