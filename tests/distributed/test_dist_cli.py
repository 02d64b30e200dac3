"""``shoal-scheduler`` and ``shoal-worker`` started through their command lines."""

from __future__ import annotations

import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import numpy as np
import pandas as pd
import pytest

import shoal.array as da
import shoal.bag as db
import shoal.dataframe as dd
from shoal.distributed import Client

pytestmark = pytest.mark.timeout(90)


def command(name: str) -> list:
    """The installed console script, or the module fallback when it is not on PATH."""
    path = shutil.which(f"shoal-{name}")
    return [path] if path else [sys.executable, "-m", "shoal.distributed.cli", name]


class Process:
    """A started command whose output lines are read on a thread (so waiting is bounded)."""

    def __init__(self, args: list):
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     stdin=subprocess.DEVNULL)
        self.lines: queue.Queue = queue.Queue()
        self.seen: list = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for_line(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{text!r} not printed within {timeout} s; output so far: {self.seen}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line

    def stop(self, sig=signal.SIGTERM, timeout: float = 10.0) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                return None
        return self.proc.returncode


@pytest.fixture
def processes():
    started: list = []
    yield started
    for p in reversed(started):
        p.stop(signal.SIGKILL if p.proc.poll() is None else signal.SIGTERM, timeout=5)


def test_cli_scheduler_and_two_workers_compute(processes):
    scheduler = Process(command("scheduler") + ["--host", "127.0.0.1", "--port", "0"])
    processes.append(scheduler)
    line = scheduler.wait_for_line("Scheduler at:")
    address = line.split("Scheduler at:")[1].strip()
    assert address.startswith("tcp://127.0.0.1:")

    for name in ("cli-a", "cli-b"):
        worker = Process(command("worker") + [address, "--nthreads", "1", "--name", name])
        processes.append(worker)
        assert address in worker.wait_for_line("Worker at:")

    with Client(address, timeout=10) as client:
        client.wait_for_workers(2, timeout=20)
        assert len(client.nthreads()) == 2

        x = np.random.default_rng(3).random((600, 500))
        arr = da.from_array(x, chunks=(100, 100))
        assert np.allclose((arr + arr.T[:500, :600].T).sum(axis=0).compute(), (x + x.T[:500, :600].T).sum(axis=0))

        pdf = pd.DataFrame({"g": np.arange(1000) % 7, "v": np.arange(1000.0)})
        result = dd.from_pandas(pdf, npartitions=5).groupby("g").v.sum().compute()
        pd.testing.assert_series_equal(result.sort_index(), pdf.groupby("g").v.sum(), check_names=False)

        words = ["to be or not to be", "that is the question"] * 9
        bag = db.from_sequence(words, npartitions=3).map(str.split).flatten().frequencies()
        assert dict(bag.compute()) == dict(Counter(w for line in words for w in line.split()))

    # Clean shutdown on SIGTERM (workers) and SIGINT (scheduler).
    for worker in processes[1:]:
        assert worker.stop(signal.SIGTERM) == 0
        # Its last lines may still be on their way through the reader thread: wait (bounded).
        worker.wait_for_line("shutting down", timeout=10)
    assert scheduler.stop(signal.SIGINT) == 0


def test_cli_worker_fails_naming_unreachable_scheduler(processes):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    worker = Process(command("worker") + [address, "--connect-timeout", "1"])
    processes.append(worker)
    line = worker.wait_for_line("Could not connect", timeout=20)
    assert address in line
    worker.proc.wait(10)
    assert worker.proc.returncode == 1
