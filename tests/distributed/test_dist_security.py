"""TLS with mutual authentication: computations over tls://, strangers refused and logged."""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import shoal.array as da
from shoal import config
from shoal.distributed import Client, LocalCluster, Scheduler, Worker
from shoal.distributed.cli import is_loopback, warn_if_exposed
from shoal.distributed.comm import ConnectError, connect
from shoal.distributed.security import Security

pytestmark = pytest.mark.timeout(60)

COMM_LOGGER = "shoal.distributed.comm"


def inc(x):
    return x + 1


@pytest.fixture(scope="module")
def security():
    return Security.temporary()


@pytest.fixture(scope="module")
def other_ca():
    """Valid credentials, but from another CA: a stranger to ``security``'s cluster."""
    return Security.temporary()


def run(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def refusals(caplog) -> list:
    return [r.getMessage() for r in caplog.records
            if r.name == COMM_LOGGER and r.getMessage().startswith("Refused TLS connection")]


async def closed_without_a_word(reader: asyncio.StreamReader, timeout: float = 5.0) -> bool:
    """Whether the server closed (or reset) the connection without sending anything."""
    try:
        return await asyncio.wait_for(reader.read(), timeout) == b""
    except ConnectionResetError:
        return True


async def hangs_up(reader: asyncio.StreamReader, timeout: float = 5.0) -> bool:
    """Whether the server closes the connection within ``timeout`` s (whatever it sends first is skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while loop.time() < deadline:
            if not await asyncio.wait_for(reader.read(1 << 16), deadline - loop.time()):
                return True
    except (ConnectionResetError, ssl.SSLError):
        return True
    except TimeoutError:
        return False
    return False


# ---------------------------------------------------------------------- the Security object
def test_temporary_security_makes_mutual_tls_contexts(security):
    server = security.server_context("scheduler")
    client = security.client_context("client")
    assert server.verify_mode == ssl.CERT_REQUIRED and client.verify_mode == ssl.CERT_REQUIRED
    assert server.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert security.require_encryption
    assert security.cli_arguments("worker")[:2] == ["--tls-ca-file", security.tls_ca_file]


def test_security_errors_name_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Security(str(tmp_path / "ca.pem"))
    with pytest.raises(ValueError, match="no TLS certificate for the worker"):
        Security().cert_and_key("worker")
    with pytest.raises(ValueError, match="TLS is not configured"):
        Security().server_context("scheduler")


def test_security_from_config_is_the_default(security):
    settings = {"distributed.comm.tls.ca-file": security.tls_ca_file, "distributed.comm.tls.cert": security.tls_cert,
                "distributed.comm.tls.key": security.tls_key, "distributed.comm.require-encryption": True}

    async def main():
        with config.set(settings):
            configured = Security.from_config()
            assert configured.tls_enabled and configured.require_encryption
            assert configured.cert_and_key("worker") == (security.tls_cert, security.tls_key)
            # No security= anywhere: the configuration is used.
            async with Scheduler("tls://127.0.0.1:0") as s, Worker(s.address, nthreads=1), \
                    Client(s.address, asynchronous=True) as c:
                assert await c.submit(inc, 1) == 2
            with pytest.raises(ValueError, match="Encryption is required"):
                await Scheduler("tcp://127.0.0.1:0").start()
        assert not Security.from_config().tls_enabled

    run(main())


# ---------------------------------------------------------------------- computing over tls://
def test_in_process_workers_compute_over_tls(security):
    async def main():
        async with Scheduler("tls://127.0.0.1:0", security=security) as s:
            async with Worker(s.address, nthreads=1, security=security) as a, \
                    Worker(s.address, nthreads=1, security=security) as b:
                assert a.address.startswith("tls://") and b.address.startswith("tls://")
                async with Client(s.address, asynchronous=True, security=security) as c:
                    futures = c.map(inc, range(20))
                    total = c.submit(sum, futures)  # inputs travel between workers over tls
                    assert await c.gather(futures) == [x + 1 for x in range(20)]
                    assert await total == sum(x + 1 for x in range(20))
                    assert {ws for ws in s.state.workers} == {a.address, b.address}

    run(main())


def test_local_cluster_with_worker_processes_over_tls():
    x = np.arange(40_000, dtype="f8").reshape(200, 200)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, security=True) as cluster, \
            Client(cluster) as client:
        assert cluster.scheduler_address.startswith("tls://")
        workers = cluster.scheduler_info()["workers"]
        assert len(workers) == 2 and all(a.startswith("tls://") for a in workers)
        result = client.compute((da.from_array(x, chunks=50) @ da.from_array(x.T, chunks=50)).sum()).result()
        np.testing.assert_allclose(result, (x @ x.T).sum())


def test_in_process_local_cluster_with_security_uses_tls():
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, security=True) as cluster, \
            Client(cluster) as client:
        assert cluster.scheduler_address.startswith("tls://")
        assert client.submit(inc, 41).result() == 42


# ---------------------------------------------------------------------- strangers
def test_strangers_are_refused_at_the_handshake_and_logged(security, other_ca, caplog):
    caplog.set_level(logging.WARNING, logger=COMM_LOGGER)
    no_certificate = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=security.tls_ca_file)
    no_certificate.check_hostname = False

    async def main():
        async with Scheduler("tls://127.0.0.1:0", security=security) as s:
            address = s.address
            # 1. TLS without a certificate: the scheduler requires one.
            with pytest.raises(ConnectError, match="refused the TLS connection"):
                await connect(address, timeout=5, ssl_context=no_certificate)
            # 2. A certificate from another CA (each side rejects the other's).
            with pytest.raises(ConnectError, match="TLS handshake failed"):
                await connect(address, timeout=5, **other_ca.connection_args("client"))
            # 3. Plain TCP to the TLS port: never a shoal connection (retried until the timeout).
            with pytest.raises(ConnectError):
                await connect("tcp://" + address.split("://", 1)[1], timeout=0.5)
            # 4. Raw bytes that are not even a TLS hello.
            reader, writer = await asyncio.open_connection(s.listener.host, s.listener.port)
            writer.write(b"GET / HTTP/1.0\r\n\r\n")
            await writer.drain()
            assert await closed_without_a_word(reader)
            writer.close()
            # A stranger never became a client or worker.
            assert not s.state.clients and not s.state.workers
            # ... and the scheduler still serves a member.
            async with Worker(address, nthreads=1, security=security), \
                    Client(address, asynchronous=True, security=security) as c:
                assert await c.gather(c.map(inc, range(5))) == [1, 2, 3, 4, 5]

    run(main())
    messages = refusals(caplog)
    assert any("PEER_DID_NOT_RETURN_A_CERTIFICATE" in m or "certificate required" in m for m in messages), messages
    assert any("UNKNOWN_CA" in m or "unknown ca" in m.lower() for m in messages), messages
    assert any("WRONG_VERSION_NUMBER" in m or "wrong version" in m.lower() for m in messages), messages
    assert all("Refused TLS connection from tls://127.0.0.1:" in m for m in messages)


def test_a_silent_peer_on_the_tls_port_is_dropped_after_the_handshake_timeout(security, caplog):
    caplog.set_level(logging.WARNING, logger=COMM_LOGGER)

    async def main():
        with config.set({"distributed.comm.timeouts.handshake": 0.3}):
            async with Scheduler("tls://127.0.0.1:0", security=security) as s:
                reader, writer = await asyncio.open_connection(s.listener.host, s.listener.port)
                start = time.monotonic()
                assert await closed_without_a_word(reader)  # we never said hello
                assert time.monotonic() - start < 5
                writer.close()

    run(main())
    assert any("TLS handshake failed (TimeoutError)" in m for m in refusals(caplog)), refusals(caplog)


def test_a_worker_from_another_ca_cannot_join(security, other_ca, caplog):
    caplog.set_level(logging.WARNING, logger=COMM_LOGGER)

    async def main():
        async with Scheduler("tls://127.0.0.1:0", security=security) as s:
            stranger = Worker(s.address, nthreads=1, security=other_ca, connect_timeout=5)
            with pytest.raises(ConnectError, match="TLS handshake failed"):
                await stranger.start()
            assert stranger.status == "closed" and not s.state.workers

    run(main())
    assert refusals(caplog)


def test_a_client_without_tls_credentials_gets_a_clear_error(security):
    async def main():
        async with Scheduler("tls://127.0.0.1:0", security=security) as s:
            with pytest.raises(ValueError, match=r"tls:// addresses need TLS credentials.*Security.temporary\(\)"):
                await Client(s.address, asynchronous=True)
            assert not s.state.clients

    run(main())


def test_a_plain_tcp_client_at_a_tls_port_is_told_to_use_tls(security, caplog):
    async def main():
        async with Scheduler("tls://127.0.0.1:0", security=security) as s:
            plain = s.address.replace("tls://", "tcp://")
            with caplog.at_level(logging.WARNING, logger="shoal.distributed"):
                with pytest.raises(ConnectError, match=r"closed the connection: if the cluster uses TLS, connect "
                                                       r"to its tls:// address with security="):
                    await Client(plain, asynchronous=True, timeout=1)
            assert not s.state.clients
            assert "Refused TLS connection" in caplog.text  # and the scheduler says so
            async with Worker(s.address, nthreads=1, security=security), \
                    Client(s.address, asynchronous=True, security=security) as c:
                assert await c.submit(inc, 1) == inc(1)  # it goes on serving

    run(main())


def test_nothing_listening_keeps_the_check_the_address_hint():
    async def main():
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()  # a port nobody listens on
        with pytest.raises(ConnectError, match="Is a shoal scheduler or worker listening at that address"):
            await connect(f"tcp://127.0.0.1:{port}", timeout=0.3)

    run(main())


# ---------------------------------------------------------------------- require_encryption
def test_require_encryption_refuses_plain_addresses(security):
    async def main():
        with pytest.raises(ValueError, match=r"Encryption is required.*'tcp://127.0.0.1:0'.*use a tls:// address"):
            await Scheduler("tcp://127.0.0.1:0", security=security).start()
        async with Scheduler("tls://127.0.0.1:0", security=security) as s:
            plain = "tcp://" + s.address.split("://", 1)[1]
            with pytest.raises(ValueError, match="Encryption is required"):
                await Client(plain, asynchronous=True, security=security)
            with pytest.raises(ValueError, match="Encryption is required"):
                await Worker(plain, nthreads=1, security=security).start()

    run(main())


def test_without_require_encryption_plain_tcp_still_works(security):
    relaxed = Security(security.tls_ca_file, security.tls_cert, security.tls_key, require_encryption=False)

    async def main():
        async with Scheduler("tcp://127.0.0.1:0", security=relaxed) as s, \
                Worker(s.address, nthreads=1, security=relaxed), \
                Client(s.address, asynchronous=True, security=relaxed) as c:
            assert s.address.startswith("tcp://")
            assert await c.submit(inc, 1) == 2

    run(main())


# ---------------------------------------------------------------------- command lines
class Process:
    """A started command whose output lines are read on a thread (so waits are bounded)."""

    def __init__(self, args: list, env: dict | None = None):
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     stdin=subprocess.DEVNULL, env=env)
        self.lines: queue.Queue = queue.Queue()
        self.seen: list = []
        threading.Thread(target=lambda: [self.lines.put(line) for line in self.proc.stdout], daemon=True).start()

    def wait_for_line(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not printed within {timeout} s; output so far: {self.seen}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def cli(*args: str) -> list:
    return [sys.executable, "-m", "shoal.distributed.cli", *args]


@pytest.fixture
def processes():
    started: list = []
    yield started
    for p in reversed(started):
        p.stop()


def tls_environment(security) -> dict:
    """The environment variables that configure ``security`` (``distributed.comm.tls.*``)."""
    return {**os.environ, "SHOAL_DISTRIBUTED__COMM__TLS__CA_FILE": security.tls_ca_file,
            "SHOAL_DISTRIBUTED__COMM__TLS__CERT": security.tls_cert,
            "SHOAL_DISTRIBUTED__COMM__TLS__KEY": security.tls_key}


def test_cli_scheduler_and_worker_with_tls_flags(security, processes):
    flags = security.cli_arguments("scheduler") + ["--require-encryption"]
    # The scheduler takes its credentials from the environment, the workers from flags.
    scheduler = Process(cli("scheduler", "--port", "0", "--require-encryption"), env=tls_environment(security))
    processes.append(scheduler)
    address = scheduler.wait_for_line("Scheduler at:").split("Scheduler at:")[1].strip()
    assert address.startswith("tls://127.0.0.1:")
    # A bare host:port means tls:// when TLS flags are given; --nworkers passes the flags on.
    workers = Process(cli("worker", address.split("://", 1)[1], "--nthreads", "1", "--nworkers", "2", *flags))
    processes.append(workers)
    # (the two workers share one stdout, so their lines may interleave: count workers at the scheduler)
    assert "Worker at: tls://127.0.0.1:" in workers.wait_for_line("Worker at:")
    with Client(address, security=security) as client:
        client.wait_for_workers(2, timeout=30)
        assert all(a.startswith("tls://") for a in client.scheduler_info()["workers"])
        x = np.arange(1000)
        assert client.submit(np.sum, client.scatter(x)).result() == x.sum()
        parts = client.map(np.sum, np.array_split(np.arange(10_000), 8))
        assert client.submit(sum, parts).result() == np.arange(10_000).sum()
    assert not any("without TLS" in line for line in scheduler.seen)


def test_cli_refuses_inconsistent_tls_flags(security, tmp_path):
    cases = {  # command line -> what its error says
        ("worker", "tcp://127.0.0.1:1", "--require-encryption"): "--require-encryption needs TLS credentials",
        ("worker", "tcp://127.0.0.1:1", *security.cli_arguments("worker"), "--require-encryption"):
            "refuses the unencrypted scheduler address",
        ("scheduler", "--port", "0", "--tls-cert", security.tls_cert): "need --tls-ca-file",
        ("scheduler", "--port", "0", "--tls-ca-file", str(tmp_path / "missing.pem"), "--tls-cert", security.tls_cert):
            "does not exist",
    }
    # All at once: each exits at argument parsing, so the time is Python's start-up.
    started = {args: subprocess.Popen(cli(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      stdin=subprocess.DEVNULL) for args in cases}
    for args, proc in started.items():
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 2 and cases[args] in stderr, (args, proc.returncode, stderr)


def test_scheduler_cli_warns_when_exposed_without_tls(caplog, processes):
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
    caplog.set_level(logging.WARNING, logger="shoal.distributed.cli")
    assert warn_if_exposed("0.0.0.0", tls=False)
    assert not warn_if_exposed("0.0.0.0", tls=True) and not warn_if_exposed("127.0.0.1", tls=False)
    assert len([r for r in caplog.records if "without TLS" in r.getMessage()]) == 1
    # For real: listening on every interface prints the warning; loopback does not.
    exposed = Process(cli("scheduler", "--host", "0.0.0.0", "--port", "0"))
    processes.append(exposed)
    exposed.wait_for_line("Scheduler at:")
    assert any("listens on 0.0.0.0 without TLS" in line for line in exposed.seen), exposed.seen


def test_dashboard_binds_loopback_unless_asked(security):
    pytest.importorskip("bokeh")

    async def main():
        async with Scheduler("tls://127.0.0.1:0", security=security, dashboard_address=":0") as s:
            link = s.dashboard.link
            assert link.startswith("http://127.0.0.1:"), link

    run(main())


def test_a_member_sending_garbage_inside_tls_is_dropped(security, caplog):
    """Passing the TLS handshake earns no trust in the bytes: a bad frame still closes that connection only."""
    caplog.set_level(logging.WARNING, logger=COMM_LOGGER)
    context = security.client_context("client")

    async def main():
        async with Scheduler("tls://127.0.0.1:0", security=security) as s, \
                Worker(s.address, nthreads=1, security=security) as w:
            for listener in (s.listener, w.listener):
                for garbage in (b"\xff" * 8 + b"\x00" * 16,  # 2**64-1 frames
                                (2).to_bytes(8, "little") + (1 << 62).to_bytes(8, "little") * 2):  # 2**63 bytes
                    reader, writer = await asyncio.open_connection(listener.host, listener.port, ssl=context)
                    writer.write(garbage)
                    await writer.drain()
                    assert await hangs_up(reader)  # after its own handshake, which it sends first
                    writer.close()
            async with Client(s.address, asynchronous=True, security=security) as c:
                assert await c.gather(c.map(inc, range(4))) == [1, 2, 3, 4]
            # Only the worker's stream is left once the client's close has been seen (bounded wait).
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if len(s.listener.active_comms) == 1 and not w.listener.active_comms:
                    break
                await asyncio.sleep(0.01)
            assert len(s.listener.active_comms) == 1 and not w.listener.active_comms

    run(main())
    closed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Closing connection from tls://")]
    assert len(closed) == 4, closed


def make_role_certificates(openssl: str, directory) -> dict:
    """A CA and one certificate per role signed by it (made with the openssl command): {name: path}."""
    def run(*args):
        done = subprocess.run([openssl, *args], capture_output=True, text=True, timeout=60, cwd=directory)
        assert done.returncode == 0, done.stderr

    files = {"ca": str(directory / "ca.pem"), "ca-key": str(directory / "ca-key.pem")}
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
        files["ca-key"], "-out", files["ca"], "-days", "1", "-subj", "/CN=test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    (directory / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
                                       "extendedKeyUsage=serverAuth,clientAuth\n")
    for role in ("scheduler", "worker", "client"):
        cert, key, csr = (str(directory / f"{role}{suffix}.pem") for suffix in ("", "-key", "-csr"))
        run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
            "-out", csr, "-subj", f"/CN={role}")
        run("x509", "-req", "-in", csr, "-CA", files["ca"], "-CAkey", files["ca-key"], "-CAcreateserial",
            "-out", cert, "-days", "1", "-extfile", "ext.cnf")
        files[role], files[f"{role}-key"] = cert, key
    return files


def test_each_role_may_have_its_own_certificate(require_command, tmp_path):
    files = make_role_certificates(require_command("openssl", "openssl"), tmp_path)
    security = Security(files["ca"], tls_scheduler_cert=files["scheduler"], tls_scheduler_key=files["scheduler-key"],
                        tls_worker_cert=files["worker"], tls_worker_key=files["worker-key"],
                        tls_client_cert=files["client"], tls_client_key=files["client-key"], require_encryption=True)
    assert security.cert_and_key("worker") == (files["worker"], files["worker-key"])
    assert security.cli_arguments("worker") == ["--tls-ca-file", files["ca"], "--tls-cert", files["worker"],
                                                "--tls-key", files["worker-key"]]

    async def main():
        async with Scheduler("tls://127.0.0.1:0", security=security) as s, \
                Worker(s.address, nthreads=1, security=security), \
                Client(s.address, asynchronous=True, security=security) as c:
            assert await c.gather(c.map(inc, range(3))) == [1, 2, 3]
            # The scheduler saw the worker's and the client's own certificates.
            peers = [comm._stream.socket.getpeercert() for comm in s.listener.active_comms]
            assert sorted(dict(x[0] for x in p["subject"])["commonName"] for p in peers) == ["client", "worker"]

    run(main())
