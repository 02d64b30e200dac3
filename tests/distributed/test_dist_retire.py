"""Graceful retirement (client.retire_workers) on real servers: the data a leaving
worker holds is copied first, so every future and persisted collection stays
valid and equal to what plain NumPy/Python computes."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

import shoal.array as sa
from shoal.distributed import Client, LocalCluster, Scheduler, Worker, futures_of, wait
from shoal.distributed.worker import get_worker

pytestmark = pytest.mark.timeout(60)


def square_where(i):
    return i * i, get_worker().name


def slow_square(i, delay=0.3):
    time.sleep(delay)
    return i * i


def run(coroutine_function, timeout=40):
    return asyncio.run(asyncio.wait_for(coroutine_function(), timeout))


async def _wait_until(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached in time")
        await asyncio.sleep(0.01)


def test_retired_worker_hands_over_its_results_and_closes():
    async def main():
        async with Scheduler("inproc://") as s, Worker(s.address, nthreads=1, name="a") as a, \
                Worker(s.address, nthreads=1, name="b") as b, Client(s.address, asynchronous=True) as c:
            futures = [c.submit(square_where, i, workers=["a"]) for i in range(10)]
            results = await c.gather(futures)
            assert results == [(i * i, "a") for i in range(10)]
            assert set(s.state.has_what([a.address])[a.address]) == {f.key for f in futures}

            retired = await c.retire_workers(workers=["a"])
            # As in Dask: {address: what the scheduler knew of the worker as it left}.
            assert list(retired) == [a.address]
            assert retired[a.address]["name"] == "a" and retired[a.address]["nthreads"] == 1
            assert retired[a.address]["memory_limit"] == a.memory_limit
            assert list(s.state.workers) == [b.address]
            await _wait_until(lambda: a.status == "closed")
            # Every result now lives on b, was copied rather than recomputed, and is unchanged.
            assert all(s.state.who_has([f.key])[f.key] == [b.address] for f in futures)
            assert await c.gather(futures) == [(i * i, "a") for i in range(10)]
            assert b.status == "running"

    run(main)


def test_persisted_array_survives_retiring_the_worker_that_holds_it():
    x = np.arange(400.0).reshape(20, 20)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster, Client(cluster) as client:
        client.wait_for_workers(2)
        arr = sa.from_array(x, chunks=(5, 5))
        persisted = client.persist(arr + 1)
        wait(persisted, timeout=30)  # persist returns at once; retire what is held, not what is planned
        assert len(futures_of(persisted)) == 16
        holders = client.has_what()
        busiest = max(holders, key=lambda a: len(holders[a]))
        assert holders[busiest], "something must be held to test the move"
        assert list(client.retire_workers(workers=[busiest])) == [busiest]
        assert busiest not in client.nthreads()
        (rest,) = client.nthreads()
        assert len(client.has_what()[rest]) >= len(holders[busiest])
        np.testing.assert_array_equal(persisted.compute(), x + 1)


def test_retire_waits_for_a_running_task_and_keeps_its_result():
    async def main():
        async with Scheduler("inproc://") as s, Worker(s.address, nthreads=1, name="a") as a, \
                Worker(s.address, nthreads=1, name="b") as b, Client(s.address, asynchronous=True) as c:
            slow = c.submit(slow_square, 7, workers=["a"])
            await _wait_until(lambda: s.state.tasks.get(slow.key) is not None
                              and s.state.tasks[slow.key].state == "processing")
            assert list(await c.retire_workers(workers=["a"])) == [a.address]
            assert s.state.who_has([slow.key])[slow.key] == [b.address]
            assert await slow == 49

    run(main)


def test_retire_without_close_keeps_the_worker_registered_but_idle():
    async def main():
        async with Scheduler("inproc://") as s, Worker(s.address, nthreads=1, name="a") as a, \
                Worker(s.address, nthreads=1, name="b") as b, Client(s.address, asynchronous=True) as c:
            kept = c.submit(square_where, 3, workers=["a"])
            await kept
            assert list(await c.retire_workers(workers=["a"], close=False)) == [a.address]
            assert s.state.workers[a.address].status == "closing" and a.status == "running"
            assert s.state.who_has([kept.key])[kept.key] == [b.address] or \
                b.address in s.state.who_has([kept.key])[kept.key]
            new = await c.submit(square_where, 4)
            assert new == (16, "b")  # a gets no new task
        assert a.status == "closed"

    run(main)


def test_retire_n_picks_idle_workers_and_keeps_the_last_one():
    async def main():
        async with Scheduler("inproc://") as s, Worker(s.address, nthreads=1) as a, \
                Worker(s.address, nthreads=1) as b, Worker(s.address, nthreads=1) as w3, \
                Client(s.address, asynchronous=True) as c:
            futures = c.map(slow_square, range(3), delay=0.0)
            assert await c.gather(futures) == [0, 1, 4]
            retired = await c.retire_workers(n=2)
            assert len(retired) == 2 and len(s.state.workers) == 1
            assert await c.gather(futures) == [0, 1, 4]
            # Without arguments: every idle worker but one, so nothing when one is left.
            assert await c.retire_workers() == {}

    run(main)


def test_retiring_unknown_worker_or_everyone_is_refused_with_a_reason():
    async def main():
        async with Scheduler("inproc://") as s, Worker(s.address, nthreads=1, name="only") as a, \
                Client(s.address, asynchronous=True) as c:
            with pytest.raises(ValueError, match="no worker 'nope'"):
                await c.retire_workers(workers=["nope"])
            kept = c.submit(slow_square, 2, delay=0.0)
            assert await kept == 4
            with pytest.raises(ValueError, match="no other running worker"):
                await c.retire_workers(workers=["only"])
            assert s.state.workers[a.address].status == "running"
            assert await kept == 4

    run(main)


# ---------------------------------------------------------------- LocalCluster.scale / adapt
def _wait_for(condition, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s")
        time.sleep(0.02)


def test_scale_down_retires_gracefully_and_keeps_every_result():
    with LocalCluster(n_workers=3, threads_per_worker=1, processes=False) as cluster, Client(cluster) as client:
        futures = client.map(slow_square, range(12), delay=0.0)
        assert client.gather(futures) == [i * i for i in range(12)]
        assert sum(1 for keys in client.has_what().values() if keys) >= 2  # results are spread
        cluster.scale(1)
        assert len(cluster.workers) == 1 and len(client.nthreads()) == 1
        (holder,) = client.has_what()
        assert len(client.has_what()[holder]) == 12  # everything was copied, nothing dropped
        assert client.gather(futures) == [i * i for i in range(12)]
        cluster.scale(2)
        assert len(client.nthreads()) == 2


def test_adapt_grows_under_a_queue_of_slow_tasks_and_shrinks_back_when_idle():
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False) as cluster, Client(cluster) as client:
        adaptive = cluster.adapt(1, 3, interval=0.05, wait_count=2)
        futures = client.map(slow_square, range(16), delay=0.25)
        _wait_for(lambda: len(cluster.workers) == 3, what="growing to 3 workers")
        assert client.gather(futures) == [i * i for i in range(16)]
        ran_on = {address for address, keys in client.has_what().items() if keys}
        assert len(ran_on) >= 2  # the new workers took part
        # Idle, with results still wanted on several workers: back to the minimum all the
        # same, the results copied to the worker that stays rather than lost or recomputed.
        _wait_for(lambda: len(cluster.workers) == 1, what="shrinking to 1 worker")
        assert len(client.nthreads()) == 1
        (holder,) = client.has_what()
        assert len(client.has_what()[holder]) == 16
        assert client.gather(futures) == [i * i for i in range(16)]
        computed = [k for k, start, finish in cluster.scheduler.state.transition_log if finish == "memory"]
        assert sorted(computed) == sorted(f.key for f in futures)  # each computed once, none again
        sizes = [to for _, _, to in adaptive.log]
        assert max(sizes) == 3 and sizes[-1] == 1
        cluster.scale(2)  # a manual scale stops adapting
        assert cluster._adaptive is None and len(client.nthreads()) == 2


def test_retired_worker_process_and_its_nanny_exit_and_data_stays():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster, Client(cluster) as client:
        futures = client.map(slow_square, range(8), delay=0.0)
        assert client.gather(futures) == [i * i for i in range(8)]
        holders = client.has_what()
        leaving = max(holders, key=lambda a: len(holders[a]))
        name = client.scheduler_info()["workers"][leaving]["name"]
        nanny = cluster.worker_processes[name]  # with nanny=True, the nanny is the process we started
        assert list(client.retire_workers(workers=[leaving])) == [leaving]
        _wait_for(lambda: nanny.poll() is not None, what="the retired worker's nanny exiting")
        assert nanny.returncode == 0  # a clean exit, not restarted
        assert leaving not in client.nthreads() and len(client.nthreads()) == 1
        assert client.gather(futures) == [i * i for i in range(8)]
        # The cluster no longer counts it: scale(2) starts a replacement (it believed it had two).
        cluster.scale(2)
        assert name not in cluster.workers and name not in cluster.worker_processes
        assert len(cluster.workers) == 2 and len(client.nthreads()) == 2
        assert client.gather(futures) == [i * i for i in range(8)]


def test_scale_after_client_retire_workers_replaces_the_retired_in_process_worker():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster, Client(cluster) as client:
        futures = client.map(slow_square, range(6), delay=0.0)
        assert client.gather(futures) == [i * i for i in range(6)]
        (retired,) = client.retire_workers(n=1)
        assert len(client.nthreads()) == 1
        cluster.scale(2)
        assert len(cluster.workers) == 2 and len(client.nthreads()) == 2 and retired not in client.nthreads()
        assert client.gather(futures) == [i * i for i in range(6)]


def test_futures_passed_to_submit_are_released_as_soon_as_dropped():
    """Found while testing adapt: a dropped future must let its data go at once (not when the
    cyclic garbage collector happens to run), or the cluster cannot shrink; and a pure task
    on futures is named by their keys."""
    import gc

    from shoal.distributed import Future
    from shoal.taskgraph.tokenize import tokenize

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False) as cluster, Client(cluster) as client:
        futures = client.map(slow_square, range(5), delay=0.0)
        total = client.submit(sum, futures)
        assert client.submit(sum, futures).key == total.key  # deterministic: same inputs, same key
        assert tokenize(futures[0]) == tokenize(Future(futures[0].key, client))  # by key, not at random
        assert tokenize(futures[0]) != tokenize(futures[1])
        assert total.result() == sum(i * i for i in range(5))
        gc.disable()
        try:
            del futures
            _wait_for(lambda: len(client.refcount) == 1, what="the dropped futures' release")
        finally:
            gc.enable()
        _wait_for(lambda: cluster.scheduler.state.task_counts().get("memory") == 1, what="the scheduler freeing them")


def test_retire_takes_one_name_dasks_keywords_and_refuses_bad_counts_clearly():
    async def main():
        async with Scheduler("inproc://") as s, Worker(s.address, nthreads=1, name=0) as a, \
                Worker(s.address, nthreads=1, name="b") as b, Worker(s.address, nthreads=1, name="c") as w, \
                Client(s.address, asynchronous=True) as c:
            expected = [i * i for i in range(6)]
            futures = c.map(slow_square, range(6), delay=0.0)
            assert await c.gather(futures) == expected
            for bad in ("1", 1.5, True):
                with pytest.raises(TypeError, match=r"retire_workers\(n=...\) must be a whole number"):
                    await c.retire_workers(n=bad)
            with pytest.raises(TypeError, match=r"retire_workers\(timeout=...\) must be a number"):
                await c.retire_workers(workers=["b"], timeout="10s")
            with pytest.raises(TypeError, match=r"restart\(timeout=...\) must be a number"):
                await c.restart(timeout="30")
            assert len(s.state.workers) == 3  # the refused calls retired nobody

            # A single name that is not a string (LocalCluster names workers 0, 1, ...).
            assert list(await c.retire_workers(workers=0)) == [a.address]
            # Dask's spelling: names= and close_workers=.
            assert list(await c.retire_workers(names=["b"], close_workers=False)) == [b.address]
            assert s.state.workers[b.address].status == "closing"
            assert [x for x, ws in s.state.workers.items() if ws.status == "running"] == [w.address]
            # No time limit at all (None) is accepted, as a number of seconds is.
            assert await c.retire_workers(n=0, timeout=None) == {}
            assert await c.gather(futures) == expected

    run(main)
