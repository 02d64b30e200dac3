"""``python -m shoal demo``: the newcomer's first run (cluster, dashboard, summary, --keep-up, --local)."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np
import pandas as pd
import pytest

from shoal.__main__ import keep_up, make_trips, make_zones, temperature_statistics, trip_queries

LINK = re.compile(r"dashboard: (http://\S+/status)")


class StreamedProcess:
    """A command whose output is read line by line as it runs (bounded waits, always stopped).

    ``wait_for(pattern, timeout)`` returns the first match in a new line of
    output; ``stop()`` kills the whole process group if it is still running.
    """

    def __init__(self, command: list[str] | str, *, shell: bool = False, **popen_options):
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        self.proc = subprocess.Popen(command, shell=shell, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True, **popen_options)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: re.Pattern | str, timeout: float) -> re.Match:
        pattern = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"the process ended before printing {pattern.pattern!r}:\n{self.output}")
            self.lines.append(line)
            found = pattern.search(line)
            if found:
                return found
        raise AssertionError(f"no {pattern.pattern!r} within {timeout} s:\n{self.output}")

    def finish(self, timeout: float) -> int:
        """Wait for the exit (bounded) and collect the rest of the output."""
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        while not self._queue.empty():
            line = self._queue.get()
            if line is not None:
                self.lines.append(line)
        return code

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc.stdout.close()


def http_status(url: str, timeout: float = 15.0) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        response.read()
        return response.status


def demo_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "shoal", "demo", *args]


@pytest.mark.timeout(120)
def test_cluster_demo_shows_dashboard_checks_results_summarises_and_keeps_up_until_ctrl_c():
    demo = StreamedProcess(demo_command("--scale", "0.02", "--dashboard-address", "127.0.0.1:0", "--keep-up"))
    try:
        link = demo.wait_for(LINK, timeout=60).group(1)
        demo.wait_for("the cluster stays up", timeout=90)
        assert http_status(link) == 200  # the dashboard outlives the work while kept up
        with urllib.request.urlopen(link.replace("/status", "/json/counts"), timeout=15) as response:
            finished_by_dashboard = json.loads(response.read())["tasks_finished"]
        os.kill(demo.proc.pid, signal.SIGINT)  # Ctrl-C
        assert demo.finish(timeout=30) == 0, demo.output
    finally:
        demo.stop()
    out = demo.output
    assert "LocalCluster with 2 worker processes" in out
    assert "equal to pandas: True" in out and "equal to NumPy: True" in out
    assert "100% Completed" in out
    assert "Ctrl-C: stopping the cluster" in out
    # The summary has one row per worker, with the tasks the scheduler saw it finish.
    rows = re.findall(r"^\s+(proc-worker-\d+)\s+(tcp://\S+)\s+(\d+)\s", out, flags=re.MULTILINE)
    assert sorted(name for name, _, _ in rows) == ["proc-worker-0", "proc-worker-1"], out
    # The demo's own count agrees with the dashboard's, kept by a different plugin.
    assert sum(int(tasks) for _, _, tasks in rows) == finished_by_dashboard > 0


def test_keep_up_for_a_number_of_seconds_then_returns_by_itself(capsys):
    started = time.monotonic()
    keep_up("http://127.0.0.1:1/status", 0.3)
    assert 0.3 <= time.monotonic() - started < 5
    assert "explore the dashboard at http://127.0.0.1:1/status (for 0.3 s, or press Ctrl-C)" in capsys.readouterr().out


@pytest.mark.timeout(90)
def test_ctrl_c_during_the_work_stops_the_cluster_and_its_worker_processes():
    import psutil

    # Twice the default size: the work goes on long after "dataframe:" is printed (about 18 s
    # here; at --scale 0.5 only 5 s), so Ctrl-C lands during the work however late this process
    # gets the CPU. Interrupted early, the bigger size costs nothing.
    demo = StreamedProcess(demo_command("--scale", "2.0", "--dashboard-address", "127.0.0.1:0"))
    try:
        demo.wait_for("dataframe:", timeout=60)
        workers = psutil.Process(demo.proc.pid).children(recursive=True)
        assert workers, "the LocalCluster should have started worker processes"
        os.kill(demo.proc.pid, signal.SIGINT)
        assert demo.finish(timeout=45) == 130, demo.output
        gone, alive = psutil.wait_procs(workers, timeout=20)
        assert not alive, f"worker processes left running: {alive}"
    finally:
        demo.stop()
    assert "interrupted: the cluster is stopped" in demo.output


def test_bad_flags_are_refused_with_the_reason():
    done = subprocess.run(demo_command("--keep-up", "-3"), capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "positive number of seconds" in done.stderr


def test_local_demo_runs_with_a_progress_bar():
    done = subprocess.run(demo_command("--local", "--chunks", "8", "--chunk-size", "10000", "--scheduler", "processes"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "100% Completed" in done.stdout
    assert "identical" in done.stdout


def test_demo_queries_give_pandas_results_on_the_local_scheduler():
    """The demo's queries on shoal.dataframe equal the same code on pandas (computed independently here)."""
    import shoal.dataframe as dd

    days, rows = 3, 500
    frame = pd.concat([make_trips(day, rows) for day in range(days)], ignore_index=True)
    trips = dd.from_map(make_trips, range(days), rows=rows, meta=make_trips(0, 2))
    got = trip_queries(trips, dd.from_pandas(make_zones(), npartitions=1))
    zones = make_zones()
    merged = frame.merge(zones, on="zone")
    expected_fare = merged.groupby("borough").fare.mean()
    card = frame[frame.payment == "card"]
    expected_rate = (card.tip / card.fare).groupby(card.pickup.dt.hour).mean()
    by_borough = got["by_borough"].compute(scheduler="sync")
    np.testing.assert_allclose(by_borough.fare.sort_index(), expected_fare.sort_index())
    rate = got["tip_rate_by_hour"].compute(scheduler="sync").sort_index()
    np.testing.assert_allclose(rate.to_numpy(), expected_rate.sort_index().to_numpy())


def test_temperature_statistics_match_numpy():
    import shoal.array as sa

    x = np.random.default_rng(0).normal(10, 3, size=(20, 6, 8))
    got = temperature_statistics(sa.from_array(x, chunks=(5, 3, 4)), sa)
    anomaly = x - x.mean(axis=0)
    np.testing.assert_allclose(got["spread"].compute(scheduler="sync"), anomaly.std(axis=0))
    np.testing.assert_array_equal(got["extreme_days"].compute(scheduler="sync"),
                                  (np.abs(anomaly) > 2 * anomaly.std(axis=0)).sum(axis=0))
