"""A real network: scheduler and workers in separate Linux network namespaces.

Each node (scheduler, worker-a, worker-b) lives in a network namespace of its
own, joined by a veth pair to a bridge that sits in yet another namespace.
Addresses (10.231.0.0/24) exist only inside those namespaces, so no packet
can reach the host's network or anything beyond it.

The computation runs across both workers; then one worker's cable is pulled
(its bridge port is set down): no FIN or RST ever reaches the scheduler, so
it can only notice through missed heartbeats. It must then reschedule the
work and recompute the results that were on the lost worker; fetches from
it in flight (a peer's, the client's) must fail over as soon as it is removed
rather than wait for a reply that will never come; and the client must still
receive the right answers. The worker behind the cable finds out by itself:
its heartbeats go unacknowledged, and after the dead-peer timeout
(``distributed.comm.timeouts.tcp``) it starts reconnecting. Plugged back, it
registers again and takes work.

Needs root and ``ip`` (iproute2): skipped on a developer machine without
them, a failure under CI (``CI`` set), which has both.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import numpy as np
import pytest

pytestmark = pytest.mark.timeout(90)

SUBNET = "10.231.0"  # private, and only ever configured inside our own namespaces
SCHEDULER_PORT = 8786  # free by construction: the scheduler's namespace is new
HEARTBEAT_TIMEOUT = 3.0
DEAD_PEER_TIMEOUT = 4  # distributed.comm.timeouts.tcp of the workers, in seconds
N_PARTS = 120
PART_SECONDS = 0.1


def _ip(ip_path: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([ip_path, *args], capture_output=True, text=True, timeout=20)
    if check and result.returncode != 0:
        raise RuntimeError(f"`ip {' '.join(args)}` failed ({result.returncode}): {result.stderr.strip()}")
    return result


class NodeProcess:
    """A process started inside a namespace; its output lines are read on a thread (bounded waits)."""

    def __init__(self, argv: list, env: dict):
        self.argv = argv
        # stdin is a pipe the test can write to (``tell``); closed, it reads as end of file.
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     stdin=subprocess.PIPE, env=env)
        self.lines: queue.Queue = queue.Queue()
        self.seen: list = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for_line(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{text!r} not printed by {self.argv[4:]} within {timeout} s; "
                                     f"output so far:\n{''.join(self.seen)}")
            try:
                line = self.lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    self._reader.join(1)
                    if self.lines.empty():
                        raise AssertionError(f"{self.argv[4:]} exited ({self.proc.returncode}) before printing "
                                             f"{text!r}; output:\n{''.join(self.seen)}")
                continue
            self.seen.append(line)
            if text in line:
                return line

    def tell(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def output(self) -> str:
        """Everything printed so far (drains the queue); once the process has exited, all it printed."""
        # Bounded, and at once when the process has exited: the reader thread ends at the end of
        # its output. 0.5 s could leave the last lines (the ones asserted on) unread under load.
        self._reader.join(10 if self.proc.poll() is not None else 0.5)
        while True:
            try:
                self.seen.append(self.lines.get_nowait())
            except queue.Empty:
                return "".join(self.seen)

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)


class NetnsLab:
    """Namespaces ``{prefix}-br`` (the bridge) and one per node, each node with
    ``eth0`` = ``10.231.0.N/24`` cabled to a port ``p-NODE`` of the bridge."""

    def __init__(self, ip_path: str):
        self.ip = ip_path
        self.prefix = f"shoal-{os.getpid()}-{uuid.uuid4().hex[:6]}"  # unique per run: tests may run at once
        self.bridge_ns = f"{self.prefix}-br"
        self.nodes: dict = {}  # node name -> (namespace, address)
        self.processes: list = []
        self._namespaces: list = []

    def setup_bridge(self) -> None:
        self._add_namespace(self.bridge_ns)
        _ip(self.ip, "-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
        _ip(self.ip, "-n", self.bridge_ns, "link", "set", "br0", "up")

    def add_node(self, name: str) -> str:
        """A namespace cabled to the bridge; returns its address."""
        ns = f"{self.prefix}-{name}"
        address = f"{SUBNET}.{len(self.nodes) + 1}"
        self._add_namespace(ns)
        port = f"p-{name}"[:15]  # interface names are at most 15 bytes
        # Both ends are created straight inside our namespaces: the host's own
        # namespace never sees an interface of ours.
        _ip(self.ip, "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", self.bridge_ns)
        _ip(self.ip, "-n", self.bridge_ns, "link", "set", port, "master", "br0")
        _ip(self.ip, "-n", self.bridge_ns, "link", "set", port, "up")
        _ip(self.ip, "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
        _ip(self.ip, "-n", ns, "link", "set", "eth0", "up")
        _ip(self.ip, "-n", ns, "link", "set", "lo", "up")
        self.nodes[name] = (ns, address)
        return address

    def _add_namespace(self, ns: str) -> None:
        _ip(self.ip, "netns", "add", ns)
        self._namespaces.append(ns)

    def run(self, node: str, argv: list, env: dict | None = None) -> NodeProcess:
        ns = self.nodes[node][0]
        env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
        # `ip netns exec` execs the command itself, so the Popen pid is the node's process.
        proc = NodeProcess([self.ip, "netns", "exec", ns, *argv], env)
        self.processes.append(proc)
        return proc

    def pull_cable(self, node: str) -> None:
        """Set the node's bridge port down: its packets go nowhere, and nobody is told."""
        _ip(self.ip, "-n", self.bridge_ns, "link", "set", f"p-{node}"[:15], "down")

    def plug_cable(self, node: str) -> None:
        _ip(self.ip, "-n", self.bridge_ns, "link", "set", f"p-{node}"[:15], "up")

    def teardown(self) -> None:
        """Stop every process and remove every namespace (each step tried even if another fails)."""
        for proc in self.processes:
            try:
                proc.stop()
            except Exception:
                pass
        for ns in reversed(self._namespaces):
            # Anything still running in the namespace (a stray child) would keep it alive.
            pids = _ip(self.ip, "netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            _ip(self.ip, "netns", "del", ns, check=False)

    def remaining_namespaces(self) -> list:
        listed = _ip(self.ip, "netns", "list", check=False).stdout
        return [ns for ns in self._namespaces if ns in listed.split()]


@pytest.fixture
def netns_lab(require_command):
    ip_path = require_command("ip", "iproute2")
    if os.geteuid() != 0:
        message = "network namespaces need root"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI runs the tests as root)")
        pytest.skip(message)
    lab = NetnsLab(ip_path)
    try:
        lab.setup_bridge()
        yield lab
    finally:
        lab.teardown()
        assert lab.remaining_namespaces() == [], "network namespaces were left behind"


CLIENT_SCRIPT = textwrap.dedent("""
    import json, sys, time
    from shoal.distributed import Client

    def slow_square(x, seconds):
        time.sleep(seconds)
        return x * x

    def slow_add(a, b, seconds):
        time.sleep(seconds)
        return a + b

    def total(parts):
        return sum(parts)

    address, shape, rejoin = sys.argv[1], sys.argv[4], sys.argv[6] == "rejoin"
    n_parts, seconds, pull_at = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[5])
    client = Client(address, timeout=20)
    client.wait_for_workers(2, timeout=20)
    parts = client.map(slow_square, range(n_parts), seconds=seconds)
    if shape == "sum":  # one task over all the parts, placed once they are all done
        result = client.submit(total, parts)
    else:  # a tree of pairwise sums (n_parts a power of two), run while parts are still being computed
        level = parts
        while len(level) > 1:
            level = [client.submit(slow_add, level[i], level[i + 1], seconds) for i in range(0, len(level), 2)]
        result = level[0]
    deadline = time.monotonic() + 30
    while sum(f.done() for f in parts) < n_parts * pull_at:  # bounded wait for the moment to pull the cable
        if time.monotonic() > deadline:
            raise SystemExit("the parts did not progress within 30 s")
        time.sleep(0.02)
    holders = sorted(w for w, keys in client.has_what().items() if keys)
    client.gather([f for f in parts if f.done()])  # leaves a pooled connection to each worker
    print("PULL " + json.dumps(holders), flush=True)
    sys.stdin.readline()  # the cable is pulled now
    # Parts already done, some of them held by the silent worker, fetched over the
    # connection pooled before the pull: once the scheduler removes that worker they
    # must come from elsewhere (recomputed) rather than wait forever for a reply.
    done = [i for i, f in enumerate(parts) if f.done()]
    started = time.monotonic()
    early = dict(zip(done, client.gather([parts[i] for i in done])))
    gather_seconds = time.monotonic() - started
    parts_total = sum(client.gather(parts))
    value = result.result(timeout=80)
    info = client.scheduler_info()
    print("RESULT " + json.dumps({"total": value, "parts_total": parts_total, "early": early,
                                  "gather_seconds": gather_seconds,
                                  "workers_after": sorted(info["workers"])}), flush=True)
    if rejoin:
        sys.stdin.readline()  # the cable is back
        deadline = time.monotonic() + 60
        while len(client.scheduler_info()["workers"]) < 2:  # bounded wait for the worker to register again
            if time.monotonic() > deadline:
                raise SystemExit("the worker did not come back within 60 s of its cable")
            time.sleep(0.1)
        again = client.map(slow_square, range(n_parts), seconds=seconds, pure=False)
        print("REJOINED " + json.dumps({"total": sum(client.gather(again)),
                                        "holders": sorted(w for w, keys in client.has_what().items() if keys)}),
              flush=True)
    client.close()
""")


def _host(address: str) -> str:
    return address.split("://")[1].rsplit(":", 1)[0]


def _run_and_pull_cable(lab, tmp_path, shape: str, n_parts: int, pull_at: float, rejoin: bool = False) -> tuple:
    """Scheduler, workers ``wa`` and ``wb``, a client computing ``shape``; ``wa``'s cable is pulled
    once ``pull_at`` of the parts are done (and plugged back afterwards if ``rejoin``). Returns
    (the client's report, seconds from pull to result, the client's report after the rejoin or None)."""
    scheduler_ip = lab.add_node("sched")
    worker_ips = {name: lab.add_node(name) for name in ("wa", "wb")}
    python = [sys.executable, "-m", "shoal.distributed.cli"]
    scheduler = lab.run("sched", [*python, "scheduler", "--host", scheduler_ip, "--port", str(SCHEDULER_PORT),
                                  "--heartbeat-timeout", str(HEARTBEAT_TIMEOUT)])
    scheduler.wait_for_line("Scheduler at:", timeout=60)
    address = f"tcp://{scheduler_ip}:{SCHEDULER_PORT}"
    # A short dead-peer timeout, so the worker behind the cable notices on its own.
    worker_env = {"SHOAL_DISTRIBUTED__COMM__TIMEOUTS__TCP": str(DEAD_PEER_TIMEOUT)}
    workers = {name: lab.run(name, [*python, "worker", address, "--host", ip, "--nthreads", "2", "--name", name,
                                    "--log-level", "info"], env=worker_env)
               for name, ip in worker_ips.items()}
    for worker in workers.values():
        worker.wait_for_line("Worker at:", timeout=60)

    script = tmp_path / "netns_client.py"
    script.write_text(CLIENT_SCRIPT)
    client = lab.run("sched", [sys.executable, str(script), address, str(n_parts), str(PART_SECONDS), shape,
                               str(pull_at), "rejoin" if rejoin else "no-rejoin"])
    holders = json.loads(client.wait_for_line("PULL", timeout=30).split(" ", 1)[1])
    # The work really is spread over both machines before the cable is pulled.
    assert sorted(map(_host, holders)) == sorted(worker_ips.values())

    pulled = time.monotonic()
    lab.pull_cable("wa")
    client.tell("pulled")
    report = json.loads(client.wait_for_line("RESULT", timeout=70).split(" ", 1)[1])
    elapsed = time.monotonic() - pulled
    rejoined = None
    if rejoin:
        # Its heartbeats go unacknowledged, so its kernel gives the connection up
        # after the dead-peer timeout, and the worker starts reconnecting while
        # the cable is still out (it does not wait for the scheduler's reset).
        workers["wa"].wait_for_line("lost its scheduler", timeout=DEAD_PEER_TIMEOUT + 15)
        lab.plug_cable("wa")
        client.tell("plugged")
        rejoined = json.loads(client.wait_for_line("REJOINED", timeout=70).split(" ", 1)[1])
    client.proc.wait(10)
    assert client.proc.returncode == 0, client.output()
    # Only the worker behind the pulled cable is gone.
    assert [_host(w) for w in report["workers_after"]] == [worker_ips["wb"]]
    scheduler.stop()
    log = scheduler.output()
    # It was noticed by its silence: nothing else could reach the scheduler.
    assert "missed heartbeats" in log and worker_ips["wa"] in log, log
    return report, elapsed, rejoined


def test_worker_behind_a_pulled_cable_is_removed_and_its_work_redone(netns_lab, tmp_path):
    report, elapsed, rejoined = _run_and_pull_cable(netns_lab, tmp_path, "sum", N_PARTS, pull_at=0.2, rejoin=True)
    expected = int(np.sum(np.arange(N_PARTS, dtype=np.int64) ** 2))
    assert report["total"] == report["parts_total"] == expected
    assert elapsed >= HEARTBEAT_TIMEOUT - 0.5  # nothing could have told the scheduler sooner
    # The parts done before the pull, fetched after it (also from the silent worker).
    assert report["early"] and {int(i): v for i, v in report["early"].items()} == {
        int(i): int(i) ** 2 for i in report["early"]}
    assert report["gather_seconds"] < 30, "a fetch from the silent worker waited instead of failing over"
    # Cable back: the worker finds its connection dead, registers again and takes work.
    assert rejoined["total"] == expected
    worker_ips = sorted(ip for name, (_, ip) in netns_lab.nodes.items() if name != "sched")
    assert sorted(map(_host, rejoined["holders"])) == worker_ips


def test_fetches_from_a_worker_behind_a_pulled_cable_fail_over(netns_lab, tmp_path):
    # Pairwise sums fetch parts across workers all along, so the surviving worker
    # is fetching (or about to) from the silent one: once the scheduler removes it,
    # that fetch must fail at once and the data be recomputed, not wait out a timeout.
    n_parts = 64
    report, elapsed, _ = _run_and_pull_cable(netns_lab, tmp_path, "tree", n_parts, pull_at=0.6)
    expected = int(np.sum(np.arange(n_parts, dtype=np.int64) ** 2))
    assert report["total"] == report["parts_total"] == expected
    assert elapsed < 30, f"{elapsed:.1f} s from the pulled cable to the result: a fetch waited for its timeout"

