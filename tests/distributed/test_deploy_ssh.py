"""``SSHCluster`` against a real ``sshd`` the test starts on 127.0.0.1, and the stdin guard it relies on.

The ``sshd`` fixture runs its own daemon at a free port with a throw-away
host key, a throw-away client key in its own authorized_keys file and its
own sshd_config in a temporary directory (StrictModes no; root login allowed
there only, because CI runs as root). Teardown stops it and any session
process it left.
"""

from __future__ import annotations

import os
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
from shoal.distributed.deploy import SSHCluster
from shoal.distributed.deploy.ssh import cli_flags, ssh_argv

pytestmark = pytest.mark.timeout(120)


def wait_until(condition, timeout: float) -> bool:
    """Poll ``condition`` every 0.1 s for up to ``timeout`` s; whether it became true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def processes_mentioning(*texts: str) -> list:
    """Live processes whose command line contains every one of ``texts``."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or ())
            if proc.info["status"] != psutil.STATUS_ZOMBIE and all(text in cmdline for text in texts):
                found.append(proc)
        except psutil.Error:
            pass
    return found


# ---------------------------------------------------------------------------- the stdin guard, locally
GUARD = [sys.executable, "-m", "shoal.distributed.deploy.stdin_guard"]


def test_guard_stops_its_command_when_stdin_closes():
    marker = f"guard-test-{os.getpid()}-{time.monotonic_ns()}"
    guard = subprocess.Popen([*GUARD, "--grace", "5", "--", sys.executable, "-c",
                              f"import time; time.sleep(60)  # {marker}"], stdin=subprocess.PIPE)
    try:
        assert wait_until(lambda: processes_mentioning(marker), timeout=20)
        started = time.monotonic()
        guard.stdin.close()
        returncode = guard.wait(15)
        assert time.monotonic() - started < 10
        assert returncode == 128 + signal.SIGTERM  # the command was terminated, as a shell would report
        assert wait_until(lambda: not processes_mentioning(marker), timeout=15)
    finally:
        guard.kill()
        guard.wait(5)
        guard.stdin.close()


def test_guard_passes_on_the_exit_status_of_a_command_that_ends_by_itself():
    guard = subprocess.Popen([*GUARD, "--", sys.executable, "-c", "import sys; sys.exit(3)"], stdin=subprocess.PIPE)
    try:
        assert guard.wait(30) == 3  # stdin still open: the command ended by itself
    finally:
        guard.kill()
        guard.wait(5)
        guard.stdin.close()


def test_guard_kills_a_command_that_ignores_sigterm_after_the_grace_period():
    marker = f"stubborn-{os.getpid()}-{time.monotonic_ns()}"
    program = f"import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); " \
              f"time.sleep(60)  # {marker}"
    guard = subprocess.Popen([*GUARD, "--grace", "0.5", "--", sys.executable, "-c", program],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert guard.stdout.readline().strip() == b"ready"
        guard.stdin.close()
        assert guard.wait(15) == 128 + signal.SIGKILL
        assert wait_until(lambda: not processes_mentioning(marker), timeout=15)
    finally:
        guard.kill()
        guard.wait(5)
        guard.stdout.close()
        guard.stdin.close()


# ---------------------------------------------------------------------------- command lines
def test_ssh_argv_passes_options_and_never_prompts():
    argv = ssh_argv("ana@node1", {"port": 2200, "client_keys": ["/a", "/b"], "known_hosts": None,
                                  "ServerAliveInterval": 5})
    assert argv[:5] == ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
    assert argv[-1] == "ana@node1"
    pairs = list(zip(argv[5:-1:2], argv[6:-1:2]))
    assert pairs == [("-p", "2200"), ("-i", "/a"), ("-i", "/b"), ("-o", "StrictHostKeyChecking=no"),
                     ("-o", "UserKnownHostsFile=/dev/null"), ("-o", "ServerAliveInterval=5")]


def test_ssh_argv_refuses_an_unknown_option_name():
    with pytest.raises(ValueError, match="identity-file"):
        ssh_argv("node1", {"identity-file": "/k"})


def test_cli_flags_spell_options_as_the_shoal_commands_do():
    assert cli_flags({"dashboard_address": ":8787", "port": 0}) == ["--dashboard-address", ":8787", "--port", "0"]


def test_fewer_than_two_hosts_is_refused():
    with pytest.raises(ValueError, match="at least two hosts"):
        SSHCluster(["127.0.0.1"])


# ---------------------------------------------------------------------------- a real sshd
class Sshd:
    """An sshd on 127.0.0.1 with keys and configuration in ``directory``."""

    def __init__(self, directory: str, commands: dict):
        self.dir, self.commands = directory, commands
        self.port = None
        self.proc = None

    def start(self) -> None:
        keygen = self.commands["ssh-keygen"]
        self.host_key = os.path.join(self.dir, "host_key")
        self.client_key = os.path.join(self.dir, "client_key")
        for key in (self.host_key, self.client_key):
            subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", "shoal-test", "-f", key], check=True,
                           timeout=30, stdin=subprocess.DEVNULL)
        authorized_keys = os.path.join(self.dir, "authorized_keys")
        with open(self.client_key + ".pub") as src, open(authorized_keys, "w") as dst:
            dst.write(src.read())
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.config = os.path.join(self.dir, "sshd_config")
        with open(self.config, "w") as f:
            f.write("\n".join([
                f"ListenAddress 127.0.0.1:{self.port}", f"HostKey {self.host_key}",
                f"AuthorizedKeysFile {authorized_keys}", f"PidFile {self.dir}/sshd.pid",
                "StrictModes no", "PermitRootLogin yes", "PasswordAuthentication no",
                "KbdInteractiveAuthentication no", "UsePAM no", "PrintMotd no", "MaxStartups 50", "MaxSessions 50",
                "",
            ]))
        if os.getuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        self.log = os.path.join(self.dir, "sshd.log")
        self.proc = subprocess.Popen([self.commands["sshd"], "-D", "-e", "-f", self.config],
                                     stdout=open(self.log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        assert wait_until(self._accepting, timeout=20), f"sshd did not start: {self.logs()}"

    def _accepting(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"sshd exited with {self.proc.returncode}: {self.logs()}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    @property
    def connect_options(self) -> dict:
        return {"port": self.port, "identity_file": self.client_key, "StrictHostKeyChecking": "no",
                "UserKnownHostsFile": "/dev/null", "LogLevel": "ERROR"}

    def session_processes(self) -> list:
        """What the daemon runs for connections (children of the listening sshd)."""
        try:
            return [p for p in psutil.Process(self.proc.pid).children(recursive=True)
                    if p.status() != psutil.STATUS_ZOMBIE]
        except psutil.Error:
            return []

    def logs(self) -> str:
        with open(self.log, errors="replace") as f:
            return f.read()[-3000:]

    def stop(self) -> None:
        leftovers = self.session_processes()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for proc in leftovers:
            try:
                proc.kill()
            except psutil.Error:
                pass


@pytest.fixture
def sshd(require_command, tmp_path):
    commands = {"sshd": require_command("sshd", "openssh-server"), "ssh": require_command("ssh", "openssh-client"),
                "ssh-keygen": require_command("ssh-keygen", "openssh-client")}
    server = Sshd(str(tmp_path), commands)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def test_ssh_cluster_computes_and_leaves_nothing_running(sshd):
    x = np.arange(600.0).reshape(20, 30)
    with SSHCluster(["127.0.0.1", "127.0.0.1"], connect_options=sshd.connect_options,
                    worker_options={"nthreads": 2}, scheduler_options={"dashboard_address": "127.0.0.1:0"}) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        with urllib.request.urlopen(cluster.dashboard_link, timeout=30) as response:
            assert response.status == 200
        with Client(cluster) as client:
            workers = client.scheduler_info()["workers"].values()
            assert [(w["name"], w["nthreads"]) for w in workers] == [("ssh-worker-1", 2)]
            a = sa.from_array(x, chunks=(5, 10))
            got = client.compute((a.T @ a).sum(axis=0)).result(60)
        np.testing.assert_allclose(got, (x.T @ x).sum(axis=0))
        assert processes_mentioning(address, "--name ssh-worker-1")  # the remote worker
    assert cluster.status == "closed"
    assert wait_until(lambda: not processes_mentioning(address), timeout=15), processes_mentioning(address)
    assert wait_until(lambda: not sshd.session_processes(), timeout=15), sshd.session_processes()
    assert len(cluster.remotes) == 2 and all(remote.proc.poll() is not None for remote in cluster.remotes)
    assert "Worker at:" in cluster.logs()["worker 1 on 127.0.0.1"]  # the output stays readable after close


def test_a_dropped_connection_stops_the_remote_worker_and_tls_works_over_ssh(sshd):
    with SSHCluster(["127.0.0.1", "127.0.0.1", "127.0.0.1"], connect_options=sshd.connect_options,
                    worker_options={"nthreads": 1}, security=True) as cluster:
        assert cluster.scheduler_address.startswith("tls://")
        with Client(cluster) as client:  # takes the cluster's credentials
            assert all(a.startswith("tls://") for a in client.scheduler_info()["workers"])
            assert len(client.scheduler_info()["workers"]) == 2
            cluster.workers[0].proc.kill()  # as if this machine lost the network or the client was killed
            remote_worker = ("--name ssh-worker-1", cluster.scheduler_address)
            # the nanny and the worker it supervises, both: nothing is orphaned on the host
            assert wait_until(lambda: not processes_mentioning(*remote_worker), timeout=20), \
                [p.cmdline() for p in processes_mentioning(*remote_worker)]
            assert wait_until(lambda: len(client.scheduler_info()["workers"]) == 1, timeout=20)
            assert client.submit(sum, [1, 2, 3]).result(30) == 6
        address = cluster.scheduler_address
    assert wait_until(lambda: not processes_mentioning(address), timeout=15), processes_mentioning(address)


def test_an_unreachable_host_fails_fast_with_the_host_and_ssh_output(sshd):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    options = dict(sshd.connect_options, port=closed_port)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"scheduler on 127\.0\.0\.1 exited(.|\n)*refused"):
        SSHCluster(["127.0.0.1", "127.0.0.1"], connect_options=options)
    assert time.monotonic() - started < 20


def test_a_missing_remote_python_is_reported_with_the_remote_error(sshd):
    with pytest.raises(RuntimeError, match=r"(?s)scheduler on 127\.0\.0\.1 exited with status 127.*/no/such/python"):
        SSHCluster(["127.0.0.1", "127.0.0.1"], connect_options=sshd.connect_options, remote_python="/no/such/python")
