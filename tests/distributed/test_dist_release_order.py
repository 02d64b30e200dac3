"""A future released right after its dependents were submitted: the release must reach the
scheduler after those submissions (found by the chaos and network tests' tree reductions)."""

from __future__ import annotations

import gc
import threading

import pytest

from shoal.distributed import Client, LocalCluster

pytestmark = pytest.mark.timeout(60)


def square(x):
    return x * x


def add(a, b):
    return a + b


def test_tree_reduction_that_drops_each_level_as_it_goes():
    n = 256
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster, \
            Client(cluster.scheduler_address, set_as_default=False) as client:
        for _ in range(3):  # the release/submit interleaving varies from run to run
            level = client.map(square, range(n))
            while len(level) > 1:
                # Replacing `level` drops the only reference to the previous level's
                # futures just after their dependents were submitted.
                level = [client.submit(add, level[i], level[i + 1]) for i in range(0, len(level), 2)]
            assert level[0].result(timeout=30) == sum(i * i for i in range(n))


def test_future_freed_by_the_garbage_collector_on_the_loop_thread():
    # A future passed as an argument ends up in a reference cycle, so the cyclic
    # garbage collector frees it, on whichever thread it runs: here, deliberately,
    # the client's event loop thread, after the dependent's graph was queued.
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False) as cluster, \
            Client(cluster.scheduler_address, set_as_default=False) as client:
        proceed = threading.Event()

        def collect_on_loop_thread():
            proceed.wait(10)
            gc.collect()

        was_enabled = gc.isenabled()
        gc.disable()
        try:
            first = client.submit(square, 3)
            client.loop.call_soon_threadsafe(collect_on_loop_thread)  # the loop waits in it
            second = client.submit(add, first, 1)  # its graph is queued behind the collection
            del first
            proceed.set()
            assert second.result(timeout=30) == 3 * 3 + 1
        finally:
            if was_enabled:
                gc.enable()
