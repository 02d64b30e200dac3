"""``SlurmCluster``: shoal workers started as Slurm batch jobs.

The scheduler runs in this process; ``scale(n)`` submits job scripts with
``sbatch --parsable`` (the script on stdin), ``scale`` down and ``close()``
cancel them with ``scancel``, and ``squeue`` tells which are still alive.
Slurm's client commands must be on PATH (and ``SLURM_CONF`` set if the site
needs it); jobs inherit this process's environment (``sbatch``'s default
``--export=ALL``), so the same Python environment is found on the nodes
when the file system is shared.

>>> print(slurm_header(job_name="shoal-worker", cores=4, memory=8 * 2**30, walltime="01:00:00",
...                    queue="short", log_directory="/scratch/logs", job_extra=["--exclusive"]))
#SBATCH --job-name=shoal-worker
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=4
#SBATCH --mem=8192M
#SBATCH --time=01:00:00
#SBATCH --partition=short
#SBATCH --output=/scratch/logs/shoal-worker-%j.out
#SBATCH --exclusive
"""

from __future__ import annotations

import datetime
import getpass
import math
import sys
from typing import Any

from .job_cluster import JobCluster

__all__ = ["SlurmCluster", "slurm_header", "format_walltime"]


def format_walltime(walltime: str | datetime.timedelta) -> str:
    """Slurm's ``--time`` spelling: strings pass through, a timedelta becomes ``[D-]HH:MM:SS``.

    >>> format_walltime(datetime.timedelta(hours=1, minutes=30)), format_walltime("00:10:00")
    ('01:30:00', '00:10:00')
    >>> format_walltime(datetime.timedelta(days=2, seconds=5))
    '2-00:00:05'
    """
    if isinstance(walltime, datetime.timedelta):
        seconds = int(walltime.total_seconds())
        if seconds <= 0:
            raise ValueError(f"walltime must be positive, got {walltime!r}.")
        days, seconds = divmod(seconds, 86400)
        clock = f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
        return f"{days}-{clock}" if days else clock
    if not isinstance(walltime, str) or not walltime.strip() or any(c.isspace() for c in walltime.strip()):
        raise ValueError(f"walltime must be a Slurm time such as '01:00:00' or '2-00:00:00' "
                         f"(or a datetime.timedelta), got {walltime!r}.")
    return walltime.strip()


def slurm_header(*, job_name: str, cores: int, memory: int | None = None, walltime: Any = None,
                 queue: str | None = None, account: str | None = None, log_directory: str | None = None,
                 job_extra: list | tuple = ()) -> str:
    """The ``#SBATCH`` lines of one worker job (one task of ``cores`` CPUs, ``memory`` bytes)."""
    options = [f"--job-name={job_name}", "--ntasks=1", f"--cpus-per-task={cores}"]
    if memory is not None:
        options.append(f"--mem={max(1, math.ceil(memory / 2**20))}M")  # Slurm counts MiB
    if walltime is not None:
        options.append(f"--time={format_walltime(walltime)}")
    if queue is not None:
        options.append(f"--partition={queue}")
    if account is not None:
        options.append(f"--account={account}")
    if log_directory is not None:
        options.append(f"--output={log_directory}/{job_name}-%j.out")
    for extra in job_extra:
        if not isinstance(extra, str) or not extra.strip().startswith("-"):
            raise ValueError(f"job_extra items are sbatch options such as '--qos=high' or '--gres=gpu:1'; "
                             f"got {extra!r}.")
        options.append(extra.strip())
    return "\n".join(f"#SBATCH {option}" for option in options)


class SlurmCluster(JobCluster):
    """Workers as Slurm jobs of ``cores`` CPUs and ``memory`` each.

    ``walltime`` (``"01:00:00"`` or a timedelta), ``queue`` (the partition),
    ``account``, ``job_extra`` (more ``sbatch`` options, one per item),
    ``processes`` (worker processes per job), ``python`` (the interpreter on
    the nodes), ``log_directory`` (where job output goes; default: Slurm's
    ``slurm-%j.out`` in the current directory), ``env_extra`` (shell lines
    before the worker starts). ``submit_command_options`` are added to every
    ``sbatch`` call. Other keywords: see ``JobCluster``. For example::

        cluster = SlurmCluster(cores=2, memory="4 GiB", walltime="00:30:00", queue="debug")
        print(cluster.job_script())   # what sbatch will run
        cluster.scale(4)              # four jobs of one worker each
        client = Client(cluster)
    """

    job_id_variable = "SLURM_JOB_ID"

    def __init__(self, *, cores: int, memory: int | str | None = None, walltime: Any = "01:00:00",
                 queue: str | None = None, account: str | None = None, job_extra: list | tuple = (),
                 processes: int = 1, python: str = sys.executable, log_directory: str | None = None,
                 submit_command_options: list | tuple = (), **kwargs: Any):
        self.walltime = None if walltime is None else format_walltime(walltime)
        self.queue, self.account = queue, account
        self.job_extra = list(job_extra)
        self.submit_command_options = list(submit_command_options)
        # Check the directives now, not at the first scale().
        slurm_header(job_name="x", cores=1, job_extra=self.job_extra)
        super().__init__(cores=cores, memory=memory, processes=processes, python=python,
                         log_directory=log_directory, **kwargs)

    def header_lines(self) -> list:
        return slurm_header(job_name=self.job_name, cores=self.cores, memory=self.memory, walltime=self.walltime,
                            queue=self.queue, account=self.account, log_directory=self.log_directory,
                            job_extra=self.job_extra).splitlines()

    def submit_command(self) -> list:
        return ["sbatch", "--parsable", *self.submit_command_options]

    def parse_job_id(self, stdout: str) -> str:
        # --parsable prints "JOBID" or "JOBID;CLUSTER"
        job_id = stdout.strip().split(";")[0]
        if not job_id.isdigit():
            raise RuntimeError(f"sbatch --parsable printed {stdout!r}, not a job id; check the Slurm setup.")
        return job_id

    @classmethod
    def cancel_command(cls, job_ids: list) -> list:
        return ["scancel", *job_ids]

    def status_command(self) -> list:
        return ["squeue", "--noheader", "--format=%i %T", f"--user={getpass.getuser()}"]

    def parse_job_states(self, stdout: str) -> dict:
        """``{job_id: state}`` from ``squeue --format='%i %T'``.

        >>> SlurmCluster.parse_job_states(None, "12 RUNNING\\n13 PENDING\\n")
        {'12': 'RUNNING', '13': 'PENDING'}
        """
        states = {}
        for line in stdout.splitlines():
            fields = line.split()
            if len(fields) == 2:
                states[fields[0]] = fields[1]
        return states
