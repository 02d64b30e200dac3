"""The dashboard's cost per task: ``client.map`` + ``gather`` with ``/status`` open vs not.

Both cases run the same workload (``size`` independent tasks on a
LocalCluster of 2 worker processes x 1 thread, dashboard served on a free
port). In ``dashboard-status-open-map-gather`` a browser-like client —
``bokeh.client.pull_session`` in a separate process, so it costs the
scheduler what a browser tab costs: a websocket session whose document the
scheduler updates every interval — is connected to ``/status`` for the
whole run; in ``dashboard-status-closed-map-gather`` nobody watches. The
issue's target is open / closed <= 1.15 on shoal; compare the two rows'
``shoal s`` (each row also shows Dask under the same condition)::

    python -m benchmarks.run --case dashboard-status --repeat 5

On a shared, noisy machine the two rows (separate processes, minutes
apart) drift more than the effect measured. ``python -m
benchmarks.cases.dashboard_overhead [tasks] [pairs]`` measures pairs on
one cluster instead, closed then open back to back, and prints the median
of the per-pair ratios.

>>> BROWSER_SCRIPT.count("pull_session")
2
"""

from __future__ import annotations

import atexit
import importlib
import subprocess
import sys
import time
from typing import Any

from .base import BenchmarkCase
from .distributed_futures import inc, map_gather

#: The browser stand-in: opens a session on /status and keeps reading its updates.
BROWSER_SCRIPT = """
import sys
from bokeh.client import pull_session
session = pull_session(url=sys.argv[1])
print("connected", flush=True)
session.loop_until_closed()
"""


class _DashboardCase(BenchmarkCase):
    watched = False

    def task_count(self, size: int) -> int:
        return size

    def setup(self, lib: str, size: int) -> None:
        super().setup(lib, size)
        distributed = importlib.import_module(f"{lib}.distributed")
        self.cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                                dashboard_address="127.0.0.1:0")
        self.client = distributed.Client(self.cluster)
        self.browser = None
        atexit.register(self._close)
        self.client.submit(inc, -1).result()  # both workers warm, functions imported
        if self.watched:
            self.browser = open_browser_like_client(self.cluster.dashboard_link)

    def workload(self, lib: Any) -> list:
        return map_gather(self.client, self.size)

    def expected(self, size: int) -> list:
        return [i + 1 for i in range(size)]

    def _close(self) -> None:
        if self.browser is not None:
            self.browser.kill()
            self.browser.wait(timeout=10)
        self.client.close()
        self.cluster.close()


def open_browser_like_client(link: str, timeout: float = 60.0) -> subprocess.Popen:
    """A process holding a Bokeh session on ``link`` (returns once it is connected)."""
    process = subprocess.Popen([sys.executable, "-c", BROWSER_SCRIPT, link], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + timeout
    line = process.stdout.readline()  # blocks until the session is pulled (or the process dies)
    if line.strip() != "connected" or time.monotonic() > deadline:
        process.kill()
        raise RuntimeError(f"the browser-like client could not open {link} (it printed {line!r})")
    time.sleep(1.0)  # a few periodic updates sent, as with a page left open
    return process


class StatusOpenCase(_DashboardCase):
    name = "dashboard-status-open-map-gather"
    watched = True


class StatusClosedCase(_DashboardCase):
    name = "dashboard-status-closed-map-gather"
    watched = False


def cases() -> list[BenchmarkCase]:
    return [StatusClosedCase(), StatusOpenCase()]


def interleaved(tasks: int = 2000, pairs: int = 7) -> list:
    """Per-pair ratios open / closed of ``map_gather`` on one shoal cluster."""
    import statistics

    from shoal.distributed import Client, LocalCluster

    ratios = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as client:
        client.submit(inc, -1).result()
        expected = [i + 1 for i in range(tasks)]
        for pair in range(pairs):
            start = time.perf_counter()
            assert map_gather(client, tasks) == expected
            closed = time.perf_counter() - start
            browser = open_browser_like_client(cluster.dashboard_link)
            try:
                start = time.perf_counter()
                assert map_gather(client, tasks) == expected
                opened = time.perf_counter() - start
            finally:
                browser.kill()
                browser.wait(timeout=10)
            ratios.append(opened / closed)
            print(f"pair {pair + 1}/{pairs}: closed {closed:.3f} s, open {opened:.3f} s, "
                  f"ratio {opened / closed:.3f}", flush=True)
        print(f"median open/closed over {pairs} pairs of {tasks} tasks: {statistics.median(ratios):.3f}")
    return ratios


if __name__ == "__main__":
    interleaved(*(int(a) for a in sys.argv[1:3]))
