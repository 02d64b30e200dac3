"""Hostile bytes at a running Scheduler and Worker: each bad connection is closed, nothing else is hurt.

Hypothesis draws bounded batches of attacks -- random bytes, truncated
frames, absurd length prefixes, well-formed msgpack with unknown operations
or wrong types (before and after registering as a client or worker) -- and
sends each on its own raw socket.  After every batch the scheduler and the
worker must have dropped those connections (no leak), still hold only the
real worker and no stray client, and a good client must still compute the
right answer.  A peer that stops reading is closed after the write-stall
timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal import config
from shoal.distributed import Client, Scheduler, Worker
from shoal.distributed.comm import dumps
from shoal.distributed.comm.handshake import local_handshake
from shoal.distributed.comm.tcp import frame_prefix
from shoal.distributed.loop_thread import LoopThread

#: Hypothesis examples per property: each sends a whole batch, so a few suffice in
#: CI; SHOAL_FUZZ_EXAMPLES=500 searches deeper on a developer's machine.
EXAMPLES = int(os.environ.get("SHOAL_FUZZ_EXAMPLES", 6))
pytestmark = pytest.mark.timeout(60 + 2 * EXAMPLES)
#: How long one raw socket waits for the server to answer or hang up.
SOCKET_TIMEOUT = 5.0


def inc(x):
    return x + 1


# ---------------------------------------------------------------------- a running cluster
class Running:
    """A TCP Scheduler and one Worker on a background loop, with a sync helper to inspect them."""

    def __init__(self):
        self.loop_thread = LoopThread.acquire()
        self.scheduler = self.worker = None
        self.loop_thread.run(self._start, timeout=30)

    async def _start(self):
        self.scheduler = await Scheduler("tcp://127.0.0.1:0").start()
        self.worker = await Worker(self.scheduler.address, nthreads=1, name="real").start()

    def on_loop(self, function):
        async def call():
            return function()

        return self.loop_thread.run(call, timeout=10)

    def snapshot(self) -> dict:
        """What must be back to normal once the attackers have hung up."""
        def look():
            s, w = self.scheduler, self.worker
            return {
                "scheduler-comms": len(s.listener.active_comms),
                "worker-comms": len(w.listener.active_comms),
                "workers": sorted(s.state.workers),
                "clients": sorted(map(repr, s.state.clients)),
                "streams": sorted(map(repr, s.streams)),
                "tasks": len(s.state.tasks),
                # Coroutines left running on the loop: a handler stuck on a dead peer would show here.
                "asyncio-tasks": len(asyncio.all_tasks()) - 1,  # minus this look itself
                "status": (s.status, w.status),
            }

        return self.on_loop(look)

    def wait_for(self, expected: dict, timeout: float = 10.0, ignore: tuple = ()) -> None:
        """Wait until the snapshot is back to ``expected``: the same workers, clients,
        streams and status, and no more comms or coroutines than then (fewer is fine:
        a connection of an earlier test may have been closing when ``expected`` was taken)."""
        counts = ("scheduler-comms", "worker-comms", "asyncio-tasks")

        def normal(now: dict) -> bool:
            return all(now[k] <= expected[k] if k in counts else now[k] == expected[k]
                       for k in expected if k not in ignore)

        deadline = time.monotonic() + timeout
        while not normal(now := self.snapshot()):
            if time.monotonic() > deadline:
                raise AssertionError(f"not back to normal after {timeout} s: {now} != {expected}")
            time.sleep(0.02)

    def close(self):
        async def stop():
            await self.worker.close()
            await self.scheduler.close()

        try:
            self.loop_thread.run(stop, timeout=20)
        finally:
            LoopThread.release(self.loop_thread)


@pytest.fixture(scope="module")
def running():
    # Short handshake timeout: a silent stranger is dropped quickly.
    with config.set({"distributed.comm.timeouts.handshake": 1}):
        cluster = Running()
        try:
            yield cluster
        finally:
            cluster.close()


def host_port(address: str) -> tuple:
    host, port = address.split("://", 1)[1].rsplit(":", 1)
    return host, int(port)


def good_client_computes(running) -> None:
    with Client(running.scheduler.address, timeout=10) as client:
        futures = client.map(inc, range(10))
        assert client.submit(sum, futures).result(timeout=10) == sum(x + 1 for x in range(10))


# ---------------------------------------------------------------------- the wire
def wire(msg) -> bytes:
    """``msg`` exactly as a shoal comm puts it on the wire."""
    frames = dumps(msg)
    return frame_prefix([memoryview(f).nbytes for f in frames]) + b"".join(bytes(f) for f in frames)


HANDSHAKE = wire(local_handshake())


def read_message(sock: socket.socket):
    """One framed message (raw frames, not decoded), or None if the server hung up."""
    def exactly(n: int) -> bytes | None:
        chunks = []
        while n:
            chunk = sock.recv(min(n, 1 << 16))
            if not chunk:
                return None
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    head = exactly(8)
    if head is None:
        return None
    (n,) = struct.unpack("<Q", head)
    prefix = exactly(8 * n)
    if prefix is None:
        return None
    return [exactly(length) for length in struct.unpack(f"<{n}Q", prefix)]


def hung_up(sock: socket.socket, timeout: float = SOCKET_TIMEOUT) -> bool:
    """Whether the server closes ``sock`` within ``timeout`` s (whatever it sent first is skipped)."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(1 << 16):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    return False


@contextlib.contextmanager
def raw(address: str):
    sock = socket.create_connection(host_port(address), timeout=SOCKET_TIMEOUT)
    try:
        yield sock
    finally:
        sock.close()


def send(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(ConnectionResetError, BrokenPipeError):
        sock.sendall(data)


def hang_up_writing(sock: socket.socket) -> None:
    """Half-close: the server sees the end of our data (unless it has hung up already)."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)


def handshaken(sock: socket.socket) -> None:
    send(sock, HANDSHAKE)
    reply = read_message(sock)
    assert reply is not None, "the server hung up on a valid handshake"


# ---------------------------------------------------------------------- attacks
#: Plain msgpack values of every kind, nested a little.
values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=True)
    | st.text(max_size=20) | st.binary(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# Real operations (not the disruptive restart/run ones) and unknown ones.
SCHEDULER_OPS = ["register-worker", "register-client", "identity", "who-has", "has-what", "gather", "nthreads",
                 "task-counts", "client-keys", "get-dataset", "publish-dataset", "update-graph", "heartbeat",
                 "task-finished", "task-erred", "update-data", "cancel-keys", "client-releases-keys", "unregister"]
WORKER_OPS = ["get-data", "update-data", "identity", "compute-task", "free-keys", "steal-request"]
FIELDS = ["address", "nthreads", "client", "keys", "key", "graph", "who_has", "nbytes", "data", "name",
          "memory_limit", "resources", "id", "workers", "metrics"]


def messages(ops):
    """Dicts with a known or unknown op and fields of any type, and some non-dicts."""
    op = st.sampled_from(ops) | st.text(max_size=12) | values
    fields = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), values, max_size=5)
    as_dict = st.builds(lambda o, f: {**f, "op": o}, op, fields)
    return as_dict | values


def registrations():
    """A registration that the scheduler accepts (so what follows goes to a worker or client stream)."""
    return st.sampled_from([
        {"op": "register-client", "client": "fuzz-client"},
        {"op": "register-worker", "address": "tcp://127.0.0.1:9", "nthreads": 1, "name": "fuzz-worker"},
    ])


def attacks(ops, registered: bool):
    random_bytes = st.tuples(st.just("random-bytes"), st.binary(min_size=1, max_size=512), st.booleans())
    truncated = st.tuples(st.just("truncated"), st.floats(0, 0.999), st.booleans())
    absurd = st.tuples(
        st.just("absurd-prefix"),
        st.sampled_from([0, 1, 2**22 + 1, 2**32, 2**63, 2**64 - 1]) | st.integers(0, 2**64 - 1),
        st.sampled_from([2**31, 2**40, 2**63, 2**64 - 1]),
    )
    garbage = st.tuples(st.just("msgpack"), st.lists(messages(ops), min_size=1, max_size=3), st.booleans())
    choices = random_bytes | truncated | absurd | garbage
    if registered:
        choices = choices | st.tuples(st.just("registered-then-msgpack"), registrations(),
                                      st.lists(messages(ops), min_size=1, max_size=4))
    return st.lists(choices, min_size=1, max_size=5)


def attack(address: str, kind: str, a, b) -> None:
    """Send one attack on a fresh socket; assert the server hangs up (or, for msgpack, answers or hangs up)."""
    with raw(address) as sock:
        if kind == "random-bytes":
            send(sock, a)
            if b:  # and hang up ourselves, mid-message
                hang_up_writing(sock)
            # Garbage before the handshake: hung up at once, or by the handshake timeout.
            assert hung_up(sock), f"random bytes {a[:40]!r}... left the connection open"
        elif kind == "truncated":
            message = HANDSHAKE + wire({"op": "identity", "id": 1})
            cut = HANDSHAKE[: max(1, int(a * len(HANDSHAKE)))] if b else message[: max(1, int(a * len(message)))]
            send(sock, cut)
            hang_up_writing(sock)
            assert hung_up(sock), "a truncated message left the connection open"
        elif kind == "absurd-prefix":
            nframes = a
            send(sock, struct.pack("<Q", nframes) + struct.pack("<QQ", b, b))
            # Refused from the prefix alone: no allocation, no waiting for the rest.
            assert hung_up(sock), f"nframes={nframes} and lengths {b} left the connection open"
        elif kind == "msgpack":
            handshaken(sock)
            for msg in a:
                send(sock, wire(msg))
            if b:
                hang_up_writing(sock)
            # Replies (errors) are fine; the connection is closed once we hang up.
        elif kind == "registered-then-msgpack":
            handshaken(sock)
            send(sock, wire(a))
            reply = read_message(sock)
            if reply is None:
                return
            send(sock, wire(b))  # one batch on the stream
            hang_up_writing(sock)
            assert hung_up(sock, timeout=SOCKET_TIMEOUT), "a stream peer that hung up was not dropped"


HYPOTHESIS = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                      suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@HYPOTHESIS
@given(batch=attacks(SCHEDULER_OPS, registered=True))
def test_scheduler_survives_hostile_connections(running, batch):
    normal = running.snapshot()
    for kind, a, b in batch:
        attack(running.scheduler.address, kind, a, b)
    running.wait_for(normal)
    good_client_computes(running)
    running.wait_for(normal)


@HYPOTHESIS
@given(batch=attacks(WORKER_OPS, registered=False))
def test_worker_listener_survives_hostile_connections(running, batch):
    normal = running.snapshot()
    for kind, a, b in batch:
        attack(running.worker.address, kind, a, b)
    running.wait_for(normal)
    good_client_computes(running)
    running.wait_for(normal)


# ---------------------------------------------------------------------- the worst of each, logged
def test_each_kind_of_garbage_is_logged_with_the_peer(running, caplog):
    caplog.set_level(logging.INFO, logger="shoal.distributed")
    address = running.scheduler.address
    normal = running.snapshot()
    attack(address, "absurd-prefix", 2**63, 2**63)
    attack(address, "absurd-prefix", 2, 2**62)
    attack(address, "random-bytes", b"\x05\x00\x00\x00\x00\x00\x00\x00" + b"\xff" * 100, False)
    attack(address, "msgpack", [{"op": "no-such-op"}, [1, 2, 3]], True)
    attack(address, "registered-then-msgpack", {"op": "register-client", "client": "c"}, [{"op": 7}])
    attack(address, "msgpack", [{"op": "register-worker", "address": ["not", "a", "str"], "nthreads": "x"}], True)
    running.wait_for(normal)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "announces 9223372036854775808 frames" in text
    assert "announces" in text and "more than the limit before the handshake" in text
    assert "Unknown query op 'no-such-op'" in text
    assert "got op=7 (int)" in text
    assert "register-worker needs an address like 'tcp://host:port', got ['not', 'a', 'str']" in text
    # Every closing line names the peer it closed.
    closing = [m for m in text.splitlines() if "losing" in m]
    assert len(closing) >= 6 and all("from tcp://127.0.0.1:" in m for m in closing), closing
    good_client_computes(running)


def test_a_peer_that_stops_reading_is_dropped(running, caplog):
    """A client asking for large replies without reading them is closed after the write-stall timeout."""
    caplog.set_level(logging.WARNING, logger="shoal.distributed.comm")
    normal = running.snapshot()
    with config.set({"distributed.comm.timeouts.write-stall": 0.5}):
        with raw(running.worker.address) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            handshaken(sock)
            # Each reply carries 4 MB (random: compression cannot shrink it); the kernel
            # buffers take a fraction, then the worker's write stalls.
            big = os.urandom(4 << 20)
            send(sock, wire({"op": "update-data", "data": {"fuzz-big": big}}))
            for i in range(4):
                send(sock, wire({"op": "get-data", "keys": ["fuzz-big"]}))
            # Read nothing: the worker drops the connection (draining the bytes in
            # flight through a 4 KiB window would take long, so look at the worker).
            running.wait_for(normal, timeout=10)
    assert any("stopped reading" in r.getMessage() and "127.0.0.1" in r.getMessage() for r in caplog.records)
    good_client_computes(running)


def test_a_client_that_stops_reading_is_dropped_by_the_scheduler(running, caplog):
    """Replies the scheduler cannot deliver do not pile up: the connection goes, the scheduler stays."""
    caplog.set_level(logging.WARNING, logger="shoal.distributed.comm")
    with Client(running.scheduler.address, timeout=10) as owner:
        # Random bytes: compression cannot shrink the replies.
        big = owner.scatter(os.urandom(4 << 20))
        normal = running.snapshot()
        with config.set({"distributed.comm.timeouts.write-stall": 0.5}):
            with raw(running.scheduler.address) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                handshaken(sock)
                for _ in range(6):  # 24 MB of replies, never read
                    send(sock, wire({"op": "gather", "keys": [big.key], "id": 1}))
                # (the scheduler keeps its own pooled connection to the worker it gathered from)
                # (and the worker a task serving it)
                running.wait_for(normal, timeout=10, ignore=("worker-comms", "asyncio-tasks"))
        assert owner.submit(len, big).result(timeout=10) == 4 << 20
    assert any("stopped reading" in r.getMessage() for r in caplog.records)
    good_client_computes(running)
