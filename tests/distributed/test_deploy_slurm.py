"""``SlurmCluster``: job scripts checked without Slurm, then workers started by a real single-node Slurm.

The ``slurm`` fixture is a ``LocalSlurm``: munged, slurmctld and slurmd as
this user in a temporary directory (its own munge key and socket, free ports,
SLURM_CONF pointing there), torn down afterwards: jobs cancelled, any process
still carrying that SLURM_CONF killed, daemons stopped, files removed.
``JobCluster``'s scaling and ``adapt`` are also tested against a stand-in
resource manager that runs each job script as a local process.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import psutil
import pytest

import shoal.array as sa
from shoal.distributed import Client
from shoal.distributed import cli
from shoal.distributed.deploy import JobCluster, SlurmCluster
from shoal.distributed.deploy.commands import CommandError
from shoal.distributed.deploy.local_slurm import COMMANDS as SLURM_COMMANDS
from shoal.distributed.deploy.local_slurm import LocalSlurm

pytestmark = pytest.mark.timeout(120)


def cli_parser(main) -> argparse.ArgumentParser:
    """The real parser of ``main`` (``cli.worker_main``...), strict about abbreviations."""
    parser = {cli.scheduler_main: cli.scheduler_parser, cli.worker_main: cli.worker_parser}[main]()
    parser.allow_abbrev = False  # a misspelt "--nthread" must not pass for "--nthreads"
    return parser


def worker_command_args(script: str, job_id: str = "77") -> list:
    """The argv of the script's ``exec`` line, with the job id the job's shell would substitute."""
    last = script.rstrip("\n").splitlines()[-1]
    assert last.startswith("exec ")
    return shlex.split(last[len("exec "):].replace("${SLURM_JOB_ID}", job_id))


def wait_until(condition, timeout: float) -> bool:
    """Poll ``condition`` every 0.1 s for up to ``timeout`` s; whether it became true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


# ---------------------------------------------------------------------------- job scripts, no Slurm needed
def test_job_script_holds_the_directives_then_a_valid_worker_command(tmp_path):
    with SlurmCluster(cores=4, memory="2 GiB", walltime="00:20:00", queue="short", account="proj",
                      job_extra=["--qos=low", "--exclusive"], processes=2, python="/opt/env/bin/python",
                      log_directory=str(tmp_path), host="127.0.0.1",
                      env_extra=["module load python", "source /opt/env/bin/activate"]) as cluster:
        script = cluster.job_script()
        address = cluster.scheduler_address
    lines = script.splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    directives = [line[len("#SBATCH "):] for line in lines if line.startswith("#SBATCH ")]
    assert directives == [
        "--job-name=shoal-worker", "--ntasks=1", "--cpus-per-task=4", f"--mem={2 * 1024}M", "--time=00:20:00",
        "--partition=short", "--account=proj", f"--output={tmp_path}/shoal-worker-%j.out", "--qos=low",
        "--exclusive",
    ]
    # every directive comes before the first command, or sbatch ignores it
    assert lines[1:1 + len(directives)] == [f"#SBATCH {d}" for d in directives]
    assert lines[-3:-1] == ["module load python", "source /opt/env/bin/activate"]
    argv = worker_command_args(script)
    assert argv[:4] == ["/opt/env/bin/python", "-m", "shoal.distributed.cli", "worker"]
    args = cli_parser(cli.worker_main).parse_args(argv[4:])
    assert args.address == address and args.nanny  # the default: a nanny restarts a worker that dies
    assert (args.nthreads, args.nworkers) == (2, 2)
    assert int(args.memory_limit) == (2 * 2**30) // 2  # the job's memory shared by its two processes
    assert args.name == "shoal-worker-77" and args.no_reconnect


def test_log_directory_is_made_absolute_with_the_home_directory_expanded(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    with SlurmCluster(cores=1, host="127.0.0.1", log_directory="~/logs") as cluster:
        assert f"#SBATCH --output={tmp_path}/logs/shoal-worker-%j.out" in cluster.job_script().splitlines()
    assert (tmp_path / "logs").is_dir()


def test_job_script_without_memory_or_walltime_asks_for_neither():
    with SlurmCluster(cores=1, walltime=None, host="127.0.0.1", job_name="analysis",
                      worker_extra_args=["--no-nanny", "--log-level", "info"]) as cluster:
        script = cluster.job_script()
    assert not any(flag in script for flag in ("--mem", "--time", "--partition", "--output", "--memory-limit"))
    args = cli_parser(cli.worker_main).parse_args(worker_command_args(script, "5")[4:])
    assert args.name == "analysis-5" and args.nthreads == 1 and args.memory_limit is None
    assert not args.nanny and args.log_level == "info"


@pytest.mark.parametrize("options, message", [
    ({"cores": 0}, "cores"),
    ({"cores": 2, "processes": 3}, "processes"),
    ({"cores": 1, "job_extra": ["exclusive"]}, "job_extra"),
    ({"cores": 1, "walltime": "1 hour"}, "walltime"),
    ({"cores": 1, "memory": "lots"}, "lots"),
    ({"cores": 1, "job_name": "my job"}, "job_name"),
])
def test_bad_arguments_are_refused_with_the_argument_named(options, message):
    with pytest.raises(ValueError, match=message):
        SlurmCluster(host="127.0.0.1", **options)


def test_dashboard_link_answers_when_a_dashboard_is_asked_for():
    with SlurmCluster(cores=1, host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster:
        link = cluster.dashboard_link
        assert link.startswith("http://127.0.0.1:") and link.endswith("/status")
        with urllib.request.urlopen(link, timeout=30) as response:
            assert response.status == 200
    with SlurmCluster(cores=1, host="127.0.0.1") as cluster:
        assert cluster.dashboard_link is None


def test_scale_without_slurm_says_sbatch_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no sbatch
    with SlurmCluster(cores=1, host="127.0.0.1") as cluster:
        with pytest.raises(FileNotFoundError, match="sbatch"):
            cluster.scale(1)
        assert cluster.jobs == {}


# ---------------------------------------------------------------------------- a stand-in resource manager
class LocalJobCluster(JobCluster):
    """Each "job" is ``bash -c SCRIPT`` on this machine; cancelling is SIGTERM (like scancel)."""

    job_id_variable = "LOCAL_JOB_ID"

    def __init__(self, **kwargs):
        self.processes_by_job: dict = {}
        self._next_id = 100
        super().__init__(**kwargs)

    async def _submit_job(self) -> str:
        self._next_id += 1
        job_id = str(self._next_id)
        env = dict(os.environ, LOCAL_JOB_ID=job_id,
                   PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        # Its own process group: cancelling signals every process of the job, as Slurm does.
        self.processes_by_job[job_id] = subprocess.Popen(["bash", "-c", self.job_script()], env=env,
                                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                         start_new_session=True)
        return job_id

    async def _cancel_jobs(self, job_ids: list) -> None:
        for job_id in job_ids:
            self._signal_job(job_id, signal.SIGTERM)

    def _signal_job(self, job_id: str, sig: int) -> None:
        try:
            os.killpg(self.processes_by_job[job_id].pid, sig)
        except ProcessLookupError:
            pass

    async def _job_states(self) -> dict:
        return {job_id: "RUNNING" for job_id, proc in self.processes_by_job.items()
                if proc.poll() is None and job_id in self.jobs}

    def kill_all(self) -> None:
        for job_id, proc in self.processes_by_job.items():
            self._signal_job(job_id, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture
def local_jobs():
    clusters = []

    def make(**kwargs):
        # No nanny: half the processes to start, and these tests are about jobs, not restarts.
        cluster = LocalJobCluster(host="127.0.0.1", worker_host="127.0.0.1", worker_extra_args=["--no-nanny"],
                                  **kwargs)
        clusters.append(cluster)
        return cluster

    yield make
    for cluster in clusters:
        cluster.close(timeout=20)
        cluster.kill_all()


def _compute_matrix_product_sum(client) -> tuple:
    """(the cluster's result, NumPy's) for a blocked matrix product summed."""
    x = np.arange(400.0).reshape(20, 20)
    result = client.compute((sa.from_array(x, chunks=5) @ sa.from_array(x.T, chunks=5)).sum()).result(60)
    return float(result), float((x @ x.T).sum())


def test_job_cluster_scales_by_jobs_and_cancels_the_emptiest(local_jobs):
    cluster = local_jobs(cores=2, processes=2, memory="1 GiB")
    cluster.scale(3)  # 3 workers at 2 per job: 2 jobs
    assert len(cluster.jobs) == 2 and cluster.planned_workers == 4
    first, newest = cluster.jobs
    cluster.wait_for_workers(4, timeout=60)
    cluster.scale(jobs=1)  # both jobs run and hold no data: the newest goes
    assert list(cluster.jobs) == [first]
    assert cluster.processes_by_job[newest].wait(20) is not None
    assert wait_until(lambda: len(cluster.scheduler_info()["workers"]) == 2, timeout=20)
    names = sorted(w["name"] for w in cluster.scheduler_info()["workers"].values())
    assert names == [f"shoal-worker-{first}-0", f"shoal-worker-{first}-1"]
    with Client(cluster) as client:
        got, expected = _compute_matrix_product_sum(client)
    assert got == expected


def test_scale_down_keeps_the_job_whose_worker_holds_results(local_jobs):
    cluster = local_jobs(cores=1)
    cluster.scale(1)
    cluster.wait_for_workers(1, timeout=60)
    with Client(cluster) as client:
        future = client.submit(sum, [4, 5, 6])
        assert future.result(30) == 15
        (holder,) = cluster.jobs
        cluster.scale(2)
        cluster.scale(1)  # the new job (pending or running, holding nothing) is the one cancelled
        assert list(cluster.jobs) == [holder] and future.result(30) == 15


def test_scale_down_moves_results_off_the_cancelled_job_instead_of_recomputing_them(local_jobs):
    cluster = local_jobs(cores=1)
    cluster.scale(2)
    cluster.wait_for_workers(2, timeout=60)
    with Client(cluster) as client:
        # os.urandom: a recomputed result would differ, so equal values prove the result moved
        futures = [client.submit(os.urandom, 8 + i, workers=[address])
                   for i, address in enumerate(sorted(cluster.scheduler_info()["workers"]))]
        before = client.gather(futures)
        cluster.scale(1)
        assert wait_until(lambda: len(cluster.scheduler_info()["workers"]) == 1, timeout=20)
        (survivor,) = [a for a, w in cluster.scheduler_info()["workers"].items()
                       if w["name"] == f"shoal-worker-{next(iter(cluster.jobs))}"]
        assert all(holders == [survivor] for holders in client.who_has(futures).values())
        assert client.gather(futures) == before


def test_tls_reaches_the_job_scripts_workers_and_client(local_jobs):
    cluster = local_jobs(cores=1, security=True)
    assert cluster.scheduler_address.startswith("tls://")
    args = cli_parser(cli.worker_main).parse_args(worker_command_args(cluster.job_script(), "1")[4:])
    security = cluster.security
    assert (args.tls_ca_file, args.tls_cert) == (security.tls_ca_file, security.cert_and_key("worker")[0])
    cluster.scale(1)
    cluster.wait_for_workers(1, timeout=60)
    assert all(a.startswith("tls://") for a in cluster.scheduler_info()["workers"])
    with Client(cluster) as client:  # takes the cluster's credentials
        got, expected = _compute_matrix_product_sum(client)
    assert got == expected


def test_close_cancels_every_job_and_stops_the_scheduler(local_jobs):
    cluster = local_jobs(cores=1)
    cluster.scale(2)
    cluster.wait_for_workers(2, timeout=60)
    address = cluster.scheduler_address
    cluster.close()
    assert cluster.jobs == {} and cluster.status == "closed"
    assert all(proc.poll() is not None for proc in cluster.processes_by_job.values())
    host, port = address.rsplit("/", 1)[-1].rsplit(":", 1)
    with pytest.raises(OSError):
        socket.create_connection((host, int(port)), timeout=2).close()


def test_adapt_grows_while_tasks_queue_and_shrinks_when_idle(local_jobs):
    cluster = local_jobs(cores=1)
    adaptive = cluster.adapt(minimum=0, maximum=2, interval=0.1, wait_count=3)
    assert cluster.jobs == {}
    with Client(cluster) as client:
        # distinct arguments: equal ones would share one key, hence one task
        futures = client.map(time.sleep, [0.3 + i / 1000 for i in range(8)])
        client.gather(futures)
        assert max(to for _, _, to in adaptive.log) == 2  # never above maximum
        del futures
    assert wait_until(lambda: not cluster.jobs, timeout=20)
    assert [(before, after) for _, before, after in adaptive.log][-1][1] == 0


def test_adapt_replaces_a_job_that_ended_on_its_own(local_jobs):
    cluster = local_jobs(cores=1)
    cluster.job_refresh_interval = 0.2
    cluster.adapt(minimum=1, maximum=1, interval=0.1)
    assert wait_until(lambda: len(cluster.jobs) == 1, timeout=10)
    (first,) = cluster.jobs
    cluster.wait_for_workers(1, timeout=60)
    cluster._signal_job(first, signal.SIGKILL)  # as Slurm does when the walltime is reached
    assert wait_until(lambda: list(cluster.jobs) not in ([], [first]), timeout=20), cluster.jobs
    assert wait_until(lambda: len(cluster.scheduler_info()["workers"]) == 1, timeout=60)
    with Client(cluster) as client:
        assert client.submit(sum, [1, 2, 3]).result(30) == 6


def test_adapt_shrinks_to_one_job_holding_every_result_and_no_further(local_jobs):
    cluster = local_jobs(cores=1)
    adaptive = cluster.adapt(minimum=0, maximum=2, interval=0.1, wait_count=3)
    with Client(cluster) as client:
        # slow enough that both workers get some; os.urandom: a recomputed result would differ
        futures = client.map(lambda n: (time.sleep(0.3), os.urandom(n))[1], range(8, 16))
        before = client.gather(futures)
        assert max(to for _, _, to in adaptive.log) == 2
        assert wait_until(lambda: len(cluster.jobs) == 1, timeout=20)  # the results moved to one worker
        time.sleep(1.0)  # ten more decisions: the results pin that last job
        assert len(cluster.jobs) == 1 and client.gather(futures) == before


# ---------------------------------------------------------------------------- a real single-node Slurm
@pytest.fixture
def slurm(require_command, monkeypatch):
    """A ``LocalSlurm`` (munged, slurmctld, slurmd in a temporary directory), SLURM_CONF pointing at it."""
    local = LocalSlurm(commands={name: require_command(name, package) for name, package in SLURM_COMMANDS.items()})
    try:
        local.start()
        monkeypatch.setenv("SLURM_CONF", local.conf)
        yield local
    finally:
        print(local.logs())  # shown by pytest when the test failed
        local.stop()


def test_local_slurm_leaves_nothing_behind(require_command):
    commands = {name: require_command(name, package) for name, package in SLURM_COMMANDS.items()}
    saved = os.environ.get("SLURM_CONF")
    with LocalSlurm(commands=commands) as local:
        directory, daemons = local.dir, list(local.daemons)
        assert os.environ["SLURM_CONF"] == local.conf
        job_id = local.run(["sbatch", "--parsable", f"--output={local.job_directory}/%j.out", "--wrap",
                            "sleep 299.5"]).strip()
        assert job_id in local.job_ids()
        assert wait_until(lambda: sleeping_jobs(), timeout=20)
    assert os.environ.get("SLURM_CONF") == saved
    assert not os.path.exists(directory)
    assert all(proc.poll() is not None for proc in daemons)
    assert not sleeping_jobs()  # the job was cancelled with its processes


def sleeping_jobs() -> list:
    """The ``sleep 299.5`` processes of the job above."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if proc.info["cmdline"] == ["sleep", "299.5"]:
            found.append(proc)
    return found


def test_slurm_cluster_runs_a_computation_on_workers_slurm_started(slurm):
    log_directory = slurm.job_directory
    with SlurmCluster(cores=1, memory="256 MiB", walltime="00:05:00", queue="debug", host="127.0.0.1",
                      worker_host="127.0.0.1", log_directory=log_directory) as cluster:
        cluster.scale(2)
        job_ids = set(cluster.jobs)
        assert len(job_ids) == 2 and job_ids <= slurm.job_ids()
        cluster.wait_for_workers(2, timeout=60)
        assert cluster.job_states() == {job_id: "RUNNING" for job_id in job_ids}
        names = {w["name"] for w in cluster.scheduler_info()["workers"].values()}
        assert names == {f"shoal-worker-{job_id}" for job_id in job_ids}
        with Client(cluster) as client:
            got, expected = _compute_matrix_product_sum(client)
        assert got == expected
        cluster.scale(1)
        assert len(cluster.jobs) == 1
        # a cancelled job stays listed as COMPLETING until its processes are gone
        assert wait_until(lambda: slurm.job_ids() & job_ids == set(cluster.jobs), timeout=20)
    assert slurm.job_ids() & job_ids == set()
    outputs = sorted(os.listdir(log_directory))
    assert outputs == sorted(f"shoal-worker-{job_id}.out" for job_id in job_ids)
    for name in outputs:
        with open(os.path.join(log_directory, name)) as f:
            assert "Worker at:" in f.read()


def test_slurm_refusals_and_queued_jobs_are_reported_with_their_cause(slurm):
    with SlurmCluster(cores=1, queue="no-such-partition", host="127.0.0.1") as cluster:
        with pytest.raises(CommandError, match="(?i)partition"):
            cluster.scale(1)
        assert cluster.jobs == {}
    with SlurmCluster(cores=1, host="127.0.0.1", job_extra=["--begin=now+1hour"],
                      log_directory=slurm.job_directory) as cluster:
        cluster.scale(1)
        (job_id,) = cluster.jobs
        with pytest.raises(TimeoutError, match=f"'{job_id}': 'PENDING'"):
            cluster.wait_for_workers(1, timeout=1)
    assert job_id not in slurm.job_ids()


def test_slurm_cluster_adapts_to_queued_tasks(slurm):
    with SlurmCluster(cores=1, walltime="00:05:00", host="127.0.0.1", worker_host="127.0.0.1",
                      log_directory=slurm.job_directory) as cluster:
        adaptive = cluster.adapt(minimum=0, maximum=2, interval=0.2, wait_count=3)
        with Client(cluster) as client:
            client.gather(client.map(time.sleep, [0.2 + i / 1000 for i in range(10)]))
            got, expected = _compute_matrix_product_sum(client)
            assert got == expected
        assert max(to for _, _, to in adaptive.log) == 2
        assert wait_until(lambda: not cluster.jobs and not slurm.job_ids(), timeout=30)
