"""``LocalSlurm``: a throw-away single-node Slurm on this machine, for tests, docs and trying ``SlurmCluster``.

Everything lives in one temporary directory: its own munge key and socket
(``munged --force`` as this user), a ``slurm.conf`` with free ports, state,
spool and logs; ``slurmctld`` and ``slurmd`` run in the foreground as
children of this process. Inside ``with LocalSlurm() as slurm:`` the
environment variable ``SLURM_CONF`` points at it, so ``sbatch``, ``squeue``,
``scancel`` and ``SlurmCluster`` use it. Leaving cancels every job, kills any
process still carrying this ``SLURM_CONF``, stops the daemons and removes the
directory. Needs Debian's ``slurm-wlm`` and ``munge`` packages (run as root,
or as a user who may run them; no cgroups: ``proctrack/linuxproc``).

Typical use::

    with LocalSlurm() as slurm:
        with SlurmCluster(cores=1, host="127.0.0.1", log_directory=slurm.job_directory) as cluster:
            cluster.scale(2)
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import psutil

__all__ = ["LocalSlurm"]

#: command -> Debian package providing it
COMMANDS = {"munged": "munge", "slurmctld": "slurm-wlm", "slurmd": "slurm-wlm", "sbatch": "slurm-wlm",
            "squeue": "slurm-wlm", "scancel": "slurm-wlm", "sinfo": "slurm-wlm"}


def find_command(name: str) -> str:
    """The path of ``name``, also looking in the sbin directories a user's PATH often lacks."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/local/sbin")
    if path is None:
        raise FileNotFoundError(f"{name!r} is not installed; LocalSlurm needs Debian's slurm-wlm and munge "
                                f"packages (apt-get install slurm-wlm munge).")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kill_processes_with_env(variable: str) -> None:
    """Kill processes whose environment holds ``variable`` (``SLURM_CONF=...``): what jobs left behind."""
    me = os.getpid()
    for proc in psutil.process_iter():
        try:
            if proc.pid != me and variable in (f"{k}={v}" for k, v in proc.environ().items()):
                proc.kill()
        except (psutil.Error, OSError):
            pass


class LocalSlurm:
    """munged + slurmctld + slurmd for this user, one node of ``cpus`` CPUs, in a temporary directory.

    ``commands``: ``{name: path}`` to use instead of looking them up.
    ``start_timeout``: seconds to wait for the node to be idle.
    """

    def __init__(self, *, cpus: int = 2, memory_mb: int = 2000, commands: dict | None = None,
                 start_timeout: float = 30.0):
        self.cpus, self.memory_mb, self.start_timeout = cpus, memory_mb, start_timeout
        self.commands = {name: (commands or {}).get(name) or find_command(name) for name in COMMANDS}
        self.node = socket.gethostname().split(".")[0]
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.dir: str | None = None
        self.daemons: list = []
        self._saved_conf: str | None = None

    # ------------------------------------------------------------------ paths
    @property
    def conf(self) -> str:
        return os.path.join(self.dir, "slurm.conf")

    @property
    def job_directory(self) -> str:
        """A directory for jobs' output (``log_directory=``), removed with the rest."""
        return os.path.join(self.dir, "jobs")

    @property
    def env(self) -> dict:
        """This process's environment with ``SLURM_CONF`` pointing here."""
        return dict(os.environ, SLURM_CONF=self.conf)

    # ------------------------------------------------------------------ starting
    def start(self) -> "LocalSlurm":
        # A short path: munge's socket path must fit in 108 bytes.
        self.dir = tempfile.mkdtemp(prefix="shoal-slurm-")
        try:
            self._start_munge()
            with open(self.conf, "w") as f:
                f.write(self.config())
            self._daemon([self.commands["slurmctld"], "-D", "-f", self.conf])
            self._daemon([self.commands["slurmd"], "-D", "-f", self.conf, "-N", self.node])
            self._wait(self._node_idle, "the node to be idle in sinfo")
        except BaseException:
            self.stop()
            raise
        return self

    def _start_munge(self) -> None:
        munge_dir = os.path.join(self.dir, "munge")
        for sub in ("munge", "state", "spool", "log", "jobs"):
            os.makedirs(os.path.join(self.dir, sub))
        os.chmod(munge_dir, 0o755)  # munged wants its socket's directory searchable by all
        key = os.path.join(munge_dir, "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o400)
        self.munge_socket = os.path.join(munge_dir, "munge.socket")
        self._daemon([self.commands["munged"], "--foreground", "--force", f"--socket={self.munge_socket}",
                      f"--key-file={key}", f"--log-file={munge_dir}/munged.log",
                      f"--pid-file={munge_dir}/munged.pid", f"--seed-file={munge_dir}/munged.seed"])
        self._wait(lambda: os.path.exists(self.munge_socket), "munged's socket")

    def config(self) -> str:
        """The ``slurm.conf`` text (one node, one partition ``debug``)."""
        d = self.dir
        return "\n".join([
            "ClusterName=shoal-local", f"SlurmctldHost={self.node}(127.0.0.1)",
            f"SlurmctldPort={_free_port()}", f"SlurmdPort={_free_port()}", f"SlurmUser={self.user}",
            "AuthType=auth/munge", "CredType=cred/munge", f"AuthInfo=socket={self.munge_socket}",
            f"StateSaveLocation={d}/state", f"SlurmdSpoolDir={d}/spool",
            f"SlurmctldPidFile={d}/slurmctld.pid", f"SlurmdPidFile={d}/slurmd.pid",
            f"SlurmctldLogFile={d}/log/slurmctld.log", f"SlurmdLogFile={d}/log/slurmd.log",
            # No cgroups: processes are tracked by parentage, tasks not confined.
            "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "JobAcctGatherType=jobacct_gather/none",
            "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core", "ReturnToService=2", "MpiDefault=none",
            # config_overrides: trust these CPUs/memory, so a small machine is not drained as "too small".
            "MailProg=/bin/true", "SlurmdParameters=config_overrides", "KillWait=5",
            f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.memory_mb} State=UNKNOWN",
            f"PartitionName=debug Nodes={self.node} Default=YES MaxTime=INFINITE State=UP", "",
        ])

    def _daemon(self, argv: list) -> None:
        with open(os.path.join(self.dir, "log", os.path.basename(argv[0]) + ".out"), "wb") as log:
            self.daemons.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                                 stdin=subprocess.DEVNULL, env=self.env))

    def _wait(self, condition, what: str) -> None:
        deadline = time.monotonic() + self.start_timeout
        while not condition():
            for proc in self.daemons:
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args[0]} exited ({proc.returncode}) while waiting for {what}; "
                                       f"logs:\n{self.logs()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"Waited {self.start_timeout} s for {what}; logs:\n{self.logs()}")
            time.sleep(0.2)

    def _node_idle(self) -> bool:
        return self.run(["sinfo", "--noheader", "--format=%T"], check=False).strip() == "idle"

    # ------------------------------------------------------------------ using
    def run(self, argv: list, check: bool = True) -> str:
        """Run a Slurm command against this cluster and return its output."""
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=self.env,
                              stdin=subprocess.DEVNULL)
        if check and done.returncode:
            raise RuntimeError(f"{argv} failed with status {done.returncode}: {done.stderr.strip()}")
        return done.stdout

    def job_ids(self) -> set:
        """Ids of the jobs ``squeue`` lists (pending, running or completing)."""
        return set(self.run(["squeue", "--noheader", "--format=%i"]).split())

    def logs(self) -> str:
        """The daemons' logs and the jobs' output (the tail of each)."""
        parts = []
        for sub in ("log", "jobs"):
            folder = os.path.join(self.dir or "", sub)
            for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
                with open(os.path.join(folder, name), errors="replace") as f:
                    parts.append(f"--- {sub}/{name}\n{f.read()[-3000:]}")
        return "\n".join(parts)

    # ------------------------------------------------------------------ stopping
    def stop(self) -> None:
        """Cancel every job, kill what they left, stop the daemons, remove the directory."""
        if self.dir is None:
            return
        try:
            if self.daemons and all(proc.poll() is None for proc in self.daemons) and os.path.exists(self.conf):
                self.run(["scancel", f"--user={self.user}"], check=False)
                deadline = time.monotonic() + 15
                while self.job_ids() and time.monotonic() < deadline:
                    time.sleep(0.2)
        except (OSError, RuntimeError, subprocess.TimeoutExpired):
            pass  # the controller is gone: the kills below still clean up
        finally:
            _kill_processes_with_env(f"SLURM_CONF={self.conf}")
            for proc in reversed(self.daemons):  # slurmd, slurmctld, then munged
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
            self.daemons.clear()
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> "LocalSlurm":
        self.start()
        self._saved_conf = os.environ.get("SLURM_CONF")
        os.environ["SLURM_CONF"] = self.conf
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._saved_conf is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = self._saved_conf
        self.stop()

    def __repr__(self) -> str:
        return f"<LocalSlurm {self.conf if self.dir else 'stopped'} cpus={self.cpus}>"
