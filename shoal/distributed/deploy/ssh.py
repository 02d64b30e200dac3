"""``SSHCluster``: a scheduler on the first host, workers on the others, started with ``ssh``.

Each remote process is ``ssh [options] HOST 'PYTHON -m shoal.distributed.deploy.stdin_guard --
PYTHON -m shoal.distributed.cli scheduler|worker ...'``: the system's ``ssh``
binary (so ``~/.ssh/config``, agents and jump hosts work as usual), never a
password prompt (``BatchMode=yes``). The guard ends the remote process when
the ssh connection's stdin closes, which is how ``close()`` stops them and
why a killed client leaves nothing running on the hosts. The remote hosts
need the same Python environment (``remote_python``, default this
interpreter's path) with shoal installed.

>>> ssh_argv("node1", {"port": 2222, "username": "ana", "identity_file": "/k", "StrictHostKeyChecking": "no"})
... # doctest: +NORMALIZE_WHITESPACE
['ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-p', '2222', '-l', 'ana', '-i', '/k',
 '-o', 'StrictHostKeyChecking=no', 'node1']
"""

from __future__ import annotations

import collections
import os
import re
import shlex
import subprocess
import sys
import threading
import time
import weakref
from typing import Any

from ..security import as_security

__all__ = ["SSHCluster", "ssh_argv", "cli_flags"]

_SCHEDULER_LINE = re.compile(r"Scheduler at: (\S+)")
_DASHBOARD_LINE = re.compile(r"Dashboard at: (\S+)")
_WORKER_LINE = re.compile(r"Worker at: (\S+)")


def ssh_argv(host: str, connect_options: dict | None = None) -> list:
    """The ``ssh`` command line reaching ``host``.

    ``connect_options``: ``port``, ``username``, ``identity_file`` (or a
    ``client_keys`` list), ``known_hosts`` (a file; ``None`` turns host-key
    checking off), ``config_file``; any other key is an ``ssh -o`` option
    (``{"StrictHostKeyChecking": "no"}``).
    """
    options = dict(connect_options or {})
    argv = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={options.pop('connect_timeout', 10)}"]
    if "config_file" in options:
        argv += ["-F", str(options.pop("config_file"))]
    if "port" in options:
        argv += ["-p", str(int(options.pop("port")))]
    if "username" in options:
        argv += ["-l", str(options.pop("username"))]
    keys = options.pop("client_keys", [])
    if "identity_file" in options:
        keys = [options.pop("identity_file"), *keys]
    for key in keys:
        argv += ["-i", os.path.expanduser(str(key))]
    if "known_hosts" in options:
        known_hosts = options.pop("known_hosts")
        argv += (["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"] if known_hosts is None
                 else ["-o", f"UserKnownHostsFile={known_hosts}"])
    for name, value in options.items():
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", str(name)):
            raise ValueError(f"connect_options key {name!r} is neither a known option (port, username, "
                             f"identity_file, client_keys, known_hosts, config_file) nor an ssh -o option name.")
        argv += ["-o", f"{name}={value}"]
    return argv + [host]


def cli_flags(options: dict | None) -> list:
    """``{"nthreads": 2, "no_reconnect": True}`` as ``["--nthreads", "2", "--no-reconnect"]``.

    >>> cli_flags({"nthreads": 2, "memory_limit": 10**9, "no_reconnect": True, "name": None})
    ['--nthreads', '2', '--memory-limit', '1000000000', '--no-reconnect']
    """
    flags = []
    for name, value in (options or {}).items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            flags.append(flag)
        elif value is not None and value is not False:
            flags += [flag, str(value)]
    return flags


def _bind_host(host: str) -> str:
    # "user@node1" -> "node1": the interface the remote process listens on.
    return host.rsplit("@", 1)[-1]


class RemoteProcess:
    """One ``ssh HOST 'guard -- COMMAND'`` process; its output is kept (last lines) and searchable."""

    def __init__(self, host: str, command: list, connect_options: dict | None, remote_python: str,
                 remote_env: dict | None = None):
        self.host = host
        guarded = [remote_python, "-m", "shoal.distributed.deploy.stdin_guard", "--", *command]
        environment = [f"{k}={v}" for k, v in (remote_env or {}).items()]
        remote = shlex.join((["env", *environment] if environment else []) + guarded)
        self.argv = ssh_argv(host, connect_options) + [remote]
        self.lines: collections.deque = collections.deque(maxlen=200)
        self._changed = threading.Condition()
        # A new session: a Ctrl-C meant for the user's program must not cut the connection before close().
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self._reader = threading.Thread(target=self._read, name=f"ssh-output-{host}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for raw in self.proc.stdout:
            with self._changed:
                self.lines.append(raw.decode(errors="replace").rstrip())
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, pattern: re.Pattern, count: int, timeout: float, what: str) -> list:
        """The first group of ``count`` output lines matching ``pattern``; errors name the host and show the output."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [m.group(1) for m in map(pattern.search, self.lines) if m]
                if len(found) >= count:
                    return found[:count]
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise RuntimeError(f"The {what} on {self.host} exited with status {self.proc.returncode} "
                                       f"before starting. Its output:\n{self.output()}\nCommand: "
                                       f"{shlex.join(self.argv)}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"The {what} on {self.host} did not start within {timeout} s. Its output "
                                       f"so far:\n{self.output()}\nCommand: {shlex.join(self.argv)}")
                self._changed.wait(min(left, 0.5))

    def output(self) -> str:
        return "\n".join(self.lines) or "(none)"

    def end_input(self) -> None:
        """Close the remote command's stdin: its guard then stops it with SIGTERM."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def close(self, timeout: float = 15.0) -> None:
        """End the input, wait for ssh to finish (the remote command stopped), kill ssh if it lingers."""
        if self.proc.poll() is None:
            self.end_input()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # the connection drops; the guard sees end of file anyway
                self.proc.wait(5)
        self._reader.join(5)
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


def _close_all(processes: list, timeout: float = 15.0) -> None:
    # Workers first (all at once: each close only ends an ssh stdin), the scheduler last.
    for group in (processes[1:], processes[:1]):
        for remote in group:
            remote.end_input()
        for remote in group:
            try:
                remote.close(timeout)
            except Exception:
                pass


class SSHCluster:
    """The scheduler on ``hosts[0]``, one ``shoal-worker`` on each of ``hosts[1:]``.

    ``connect_options``: one dict for all hosts or a list with one per host
    (see ``ssh_argv``). ``worker_options`` / ``scheduler_options``: flags of
    ``shoal-worker`` / ``shoal-scheduler`` as a dict (``{"nthreads": 2}``,
    ``{"dashboard_address": ":8787"}``); each binds the host's own name
    unless ``host`` is given, and the scheduler takes a free port unless
    ``port`` is. ``remote_python``: the interpreter on the hosts;
    ``remote_env``: environment variables set there (``PYTHONPATH``...).
    ``security``: a ``Security`` whose files exist at the same paths on every
    host (True: a temporary one, for hosts sharing this file system). For example::

        with SSHCluster(["node1", "node2", "node3"], worker_options={"nthreads": 4}) as cluster:
            client = Client(cluster)
    """

    def __init__(self, hosts: list, connect_options: dict | list | None = None, worker_options: dict | None = None,
                 scheduler_options: dict | None = None, remote_python: str = sys.executable,
                 remote_env: dict | None = None, start_timeout: float = 60.0, security: Any = None):
        hosts = list(hosts)
        if len(hosts) < 2:
            raise ValueError(f"SSHCluster needs at least two hosts (the scheduler on the first, workers on the "
                             f"rest; repeat a host to run both there), got {hosts!r}.")
        if isinstance(connect_options, (list, tuple)):
            if len(connect_options) != len(hosts):
                raise ValueError(f"connect_options has {len(connect_options)} entries for {len(hosts)} hosts; give "
                                 f"one dict per host or a single dict for all.")
            per_host = list(connect_options)
        else:
            per_host = [connect_options] * len(hosts)
        self.hosts = hosts
        self.security = as_security(security)  # Client(cluster) uses it too
        self.status = "starting"
        self.scheduler_address: str | None = None
        self.dashboard_link: str | None = None
        self.remotes: list = []  # RemoteProcess: the scheduler first, then the workers
        self._finalizer = weakref.finalize(self, _close_all, self.remotes)
        try:
            self._start(per_host, dict(worker_options or {}), dict(scheduler_options or {}), remote_python,
                        remote_env, start_timeout)
        except BaseException:
            self.close()
            raise
        self.status = "running"

    def _start(self, per_host: list, worker_options: dict, scheduler_options: dict, remote_python: str,
               remote_env: dict | None, start_timeout: float) -> None:
        scheduler_host = self.hosts[0]
        scheduler_options.setdefault("host", _bind_host(scheduler_host))
        scheduler_options.setdefault("port", 0)
        command = [remote_python, "-m", "shoal.distributed.cli", "scheduler", *cli_flags(scheduler_options),
                   *self.security.cli_arguments("scheduler")]
        scheduler = RemoteProcess(scheduler_host, command, per_host[0], remote_python, remote_env)
        self.remotes.append(scheduler)
        self.scheduler_address = scheduler.wait_for(_SCHEDULER_LINE, 1, start_timeout, "scheduler")[0]
        if scheduler_options.get("dashboard_address"):
            self.dashboard_link = scheduler.wait_for(_DASHBOARD_LINE, 1, start_timeout, "scheduler's dashboard")[0]
        nworkers = int(worker_options.get("nworkers", 1))
        for i, host in enumerate(self.hosts[1:], start=1):
            options = {"host": _bind_host(host), "name": f"ssh-worker-{i}", **worker_options}
            command = [remote_python, "-m", "shoal.distributed.cli", "worker", self.scheduler_address,
                       *cli_flags(options), *self.security.cli_arguments("worker")]
            self.remotes.append(RemoteProcess(host, command, per_host[i], remote_python, remote_env))
        for remote in self.remotes[1:]:
            remote.wait_for(_WORKER_LINE, nworkers, start_timeout, "worker")

    @property
    def workers(self) -> list:
        """The ``RemoteProcess`` of each worker host."""
        return self.remotes[1:]

    def logs(self) -> dict:
        """``{"scheduler on HOST" | "worker i on HOST": recent output}``."""
        names = ["scheduler"] + [f"worker {i}" for i in range(1, len(self.remotes))]
        return {f"{name} on {remote.host}": remote.output() for name, remote in zip(names, self.remotes)}

    def close(self) -> None:
        """Stop the workers, then the scheduler, and wait for every ssh connection to end."""
        self.status = "closing"
        self._finalizer()
        self.status = "closed"

    def __enter__(self) -> "SSHCluster":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SSHCluster {self.scheduler_address} hosts={self.hosts} status={self.status}>"
