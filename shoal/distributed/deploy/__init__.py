"""Deploying shoal on clusters that already exist: Slurm jobs, ssh hosts.

- ``SlurmCluster``: the scheduler here, workers submitted as Slurm jobs
  (``job_script()``, ``scale``, ``adapt``, ``close``); built on ``JobCluster``.
- ``SSHCluster``: the scheduler on the first host, workers on the others,
  all started with the ``ssh`` command.
- ``Adaptive``: scale a cluster with the load (``cluster.adapt(...)``).
- ``LocalSlurm``: a throw-away single-node Slurm on this machine (tests, docs).

Kubernetes manifests and a Dockerfile live in the repository's ``deploy/``.
"""

from .adaptive import Adaptive, recommend_workers
from .job_cluster import JobCluster
from .local_slurm import LocalSlurm
from .slurm import SlurmCluster
from .ssh import SSHCluster

__all__ = ["Adaptive", "JobCluster", "LocalSlurm", "SlurmCluster", "SSHCluster", "recommend_workers"]
