"""Failure handling of the distributed servers: bad messages, silent and dying workers."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

from shoal.distributed import Client, KilledWorker, LocalCluster, Scheduler, Worker
from shoal.distributed.comm import connect

pytestmark = pytest.mark.timeout(60)


def inc(x):
    return x + 1


def die():
    os._exit(1)


def run(coroutine_function, timeout=30):
    return asyncio.run(asyncio.wait_for(coroutine_function(), timeout))


def test_malformed_worker_message_closes_only_that_connection():
    async def main():
        async with Scheduler("inproc://") as s, Worker(s.address, nthreads=1) as good:
            bad = await connect(s.address, timeout=5)
            await bad.write({"op": "register-worker", "address": "inproc://fake", "nthreads": 1})
            assert (await bad.read())["op"] == "registered"
            await bad.write([{"op": "no-such-op"}])
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:  # bounded: the scheduler drops the fake worker
                if "inproc://fake" not in s.state.workers:
                    break
                await asyncio.sleep(0.01)
            assert "inproc://fake" not in s.state.workers
            assert list(s.state.workers) == [good.address]
            bad.abort()
            async with Client(s.address, asynchronous=True) as c:
                assert await c.submit(inc, 1) == 2  # the scheduler goes on serving

    run(main)


def test_bad_registration_is_refused():
    async def main():
        async with Scheduler("inproc://") as s:
            comm = await connect(s.address, timeout=5)
            await comm.write({"op": "register-worker", "address": "inproc://x", "nthreads": 0})
            reply = await comm.read()
            assert reply["op"] == "error" and "nthreads" in reply["message"]
            comm.abort()
            assert (await s.handle_query({"op": "nthreads"})) == {}

    run(main)


def test_silent_worker_is_removed_and_its_work_redone():
    async def main():
        # A timeout 60 heartbeats long, so that a loaded machine's pauses (a whole second of
        # this process off the CPU) never make `alive` look dead.
        async with Scheduler("inproc://", heartbeat_timeout=3.0, check_interval=0.05) as s:
            # heartbeat_interval far above the timeout: this worker looks dead.
            async with Worker(s.address, nthreads=1, heartbeat_interval=60) as silent:
                async with Worker(s.address, nthreads=1, heartbeat_interval=0.05) as alive:
                    started = time.monotonic()
                    while silent.address in s.state.workers and time.monotonic() - started < 20:
                        await asyncio.sleep(0.02)
                    assert silent.address not in s.state.workers
                    assert alive.address in s.state.workers
                    assert any(topic == "remove-worker" for _, topic, _ in s.events)
                    async with Client(s.address, asynchronous=True) as c:
                        assert await c.gather(c.map(inc, range(5))) == [1, 2, 3, 4, 5]

    run(main)


def test_task_that_kills_workers_fails_with_killed_worker():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, allowed_failures=1) as cluster:
        with Client(cluster) as client:
            future = client.submit(die)
            with pytest.raises(KilledWorker) as info:
                future.result(timeout=30)
            assert info.value.key == future.key and len(info.value.workers) == 1
            # Dask's attribute names, on the error as the client receives it.
            assert info.value.task == future.key and info.value.last_worker == info.value.workers[-1]
            assert info.value.allowed_failures == 1
            assert client.submit(inc, 1).result(timeout=30) == 2  # the other worker still serves


def exit_worker_process(x):
    """End this worker's process in the middle of the task, as a crash would (no goodbye sent)."""
    os._exit(1)


def task_record(key, dask_scheduler):
    """Run on the scheduler (on its loop, so nothing changes while read): what it counts
    against ``key``, and the workers it saw leave."""
    ts = dask_scheduler.state.tasks[key]
    removed = [e["worker"] for _, topic, e in dask_scheduler.events if topic == "remove-worker"]
    return {"state": ts.state, "suspicious": ts.suspicious, "retries": ts.retries,
            "killed_on": list(ts.killed_on)}, removed


@pytest.mark.timeout(240)
def test_a_task_that_exits_its_worker_fails_after_exactly_allowed_failures_deaths_every_time():
    allowed = 2
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, allowed_failures=allowed,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        for attempt in range(2):  # bounded: the same count again once the nannies restarted the workers
            client.wait_for_workers(2, timeout=120)
            bomb = client.submit(exit_worker_process, attempt, retries=3)
            with pytest.raises(KilledWorker) as info:
                bomb.result(timeout=120)
            # Each death counted once, on a different worker process; retries (for exceptions) untouched.
            assert info.value.key == bomb.key and len(set(info.value.workers)) == allowed
            record, removed = client.run_on_scheduler(task_record, bomb.key)
            assert record == {"state": "erred", "suspicious": allowed, "retries": 3, "killed_on": info.value.workers}
            assert [w for w in removed if w in info.value.workers] == info.value.workers  # once each
            client.wait_for_workers(2, timeout=120)
            assert client.submit(inc, attempt).result(timeout=60) == inc(attempt)


GATE = threading.Event()  # holds gated_inc until the test opens it (workers are in this process)


def gated_inc(x):
    GATE.wait(20)
    return x + 1


def test_a_worker_closing_on_purpose_mid_task_is_not_counted_against_the_task():
    async def main():
        GATE.clear()
        async with Scheduler("inproc://", allowed_failures=1) as s, Worker(s.address, nthreads=1) as a, \
                Worker(s.address, nthreads=1) as b, Client(s.address, asynchronous=True) as c:
            future = c.submit(gated_inc, 1)
            for _ in range(1000):  # bounded: until the task is processing on a worker
                ts = s.state.tasks.get(future.key)
                if ts is not None and ts.processing_on is not None:
                    break
                await asyncio.sleep(0.01)
            closing = a if ts.processing_on.address == a.address else b
            await closing.close()  # says goodbye first: not a death
            for _ in range(1000):  # bounded: until the scheduler has rescheduled it on the other
                if closing.address not in s.state.workers and ts.processing_on is not None:
                    break
                await asyncio.sleep(0.01)
            assert ts.processing_on is not None, f"the task went {ts.state!r} instead of being rescheduled"
            assert ts.processing_on.address != closing.address
            GATE.set()
            assert await future == inc(1)  # with allowed_failures=1 a death would have failed it
            assert ts.suspicious == 0

    try:
        run(main)
    finally:
        GATE.set()  # never leave a task thread waiting


def test_allowed_failures_comes_from_the_config_as_in_dask():
    from shoal import config

    async def main():
        async with Scheduler("inproc://") as s:
            assert s.state.allowed_failures == 3  # Dask's default
        with config.set({"distributed.scheduler.allowed-failures": 0}):
            async with Scheduler("inproc://") as s:
                assert s.state.allowed_failures == 0
            async with Scheduler("inproc://", allowed_failures=5) as s:  # the keyword wins
                assert s.state.allowed_failures == 5

    run(main)


def test_worker_nthreads_must_be_a_whole_number():
    for bad in ("2", 2.0, None):
        with pytest.raises(TypeError, match="nthreads must be a whole number of threads"):
            Worker("inproc://nowhere", nthreads=bad)
    with pytest.raises(ValueError, match="nthreads must be at least 1"):
        Worker("inproc://nowhere", nthreads=0)


def test_client_without_address_starts_and_stops_its_cluster():
    with Client(n_workers=1, threads_per_worker=1, processes=False) as client:
        cluster = client.cluster
        assert client.submit(inc, 1).result(timeout=10) == 2
    assert cluster.status == "closed" and client.status == "closed"


def test_async_local_cluster():
    async def main():
        async with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, asynchronous=True) as cluster:
            async with Client(cluster, asynchronous=True) as client:
                assert len(await client.nthreads()) == 2
                assert await client.submit(inc, 41) == 42
                await cluster.scale(1)
                assert len(await client.nthreads()) == 1

    run(main)


def test_scale_up_and_down_with_processes():
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True) as cluster, Client(cluster) as client:
        cluster.scale(2)
        assert len(client.nthreads()) == 2
        futures = client.map(inc, range(20))
        assert client.gather(futures) == list(range(1, 21))
        cluster.scale(1)
        assert len(client.nthreads()) == 1
        assert client.gather(futures) == list(range(1, 21))  # lost results are recomputed


def test_worker_reconnects_when_the_scheduler_restarts():
    async def main():
        first = await Scheduler("tcp://127.0.0.1:0")
        address = first.address
        async with Worker(address, nthreads=1, reconnect=True, reconnect_timeout=20) as worker:
            async with Client(address, asynchronous=True) as c:
                assert await c.submit(inc, 1) == 2
            await first.close()
            async with Scheduler(address) as second:  # same port
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:  # bounded wait for the worker to come back
                    if worker.address in second.state.workers:
                        break
                    await asyncio.sleep(0.025)
                assert worker.address in second.state.workers
                async with Client(address, asynchronous=True) as c:
                    assert await c.gather(c.map(inc, range(5))) == [1, 2, 3, 4, 5]
            await worker.close()

    run(main)


def test_worker_without_reconnect_closes_when_the_scheduler_goes():
    async def main():
        async with Scheduler("inproc://") as s:
            worker = await Worker(s.address, nthreads=1)
        await asyncio.wait_for(worker.finished(), 10)
        assert worker.status == "closed"

    run(main)


def _refuse_to_load():
    raise ImportError("this value cannot be loaded here")


class LoadsNowhere:
    def __reduce__(self):
        return (_refuse_to_load, ())


def test_undecodable_graph_fails_the_clients_futures_with_the_reason():
    async def main():
        async with Scheduler("tcp://127.0.0.1:0") as s, Worker(s.address, nthreads=1):
            async with Client(s.address, asynchronous=True) as c:
                future = c.submit(lambda x: x, LoadsNowhere())
                with pytest.raises(OSError, match="could not handle a message.*cannot be loaded here"):
                    await asyncio.wait_for(future, 10)
            async with Client(s.address, asynchronous=True) as other:  # the scheduler goes on serving
                assert await other.submit(inc, 1) == 2

    run(main)


def test_oversized_message_fails_its_future_only():
    import numpy as np

    from shoal import config
    from shoal.distributed.comm import MessageTooLargeError

    async def main():
        async with Scheduler("tcp://127.0.0.1:0") as s, Worker(s.address, nthreads=1):
            async with Client(s.address, asynchronous=True) as c:
                noise = np.random.default_rng(0).random(400_000)  # 3.2 MB that do not compress
                big = c.submit(np.sum, noise)  # over the 1 MiB limit
                small = c.submit(inc, 1)
                with pytest.raises(MessageTooLargeError):
                    await asyncio.wait_for(big, 10)
                assert await asyncio.wait_for(small, 10) == 2

    with config.set({"distributed.comm.max-message-size": "1 MiB"}):
        run(main)


def test_what_a_worker_reports_in_the_batch_that_unregisters_it_still_reaches_the_client():
    # A worker whose task just failed and that closes at once sends both in one batch:
    # [task-erred, unregister]. The scheduler must send what the task-erred caused (the
    # client's error) before it stops serving that worker, or the future waits forever.
    async def main():
        async with Scheduler("inproc://") as s:
            fake = await connect(s.address, timeout=5)
            await fake.write({"op": "register-worker", "address": "inproc://closing-fake", "nthreads": 1})
            assert (await fake.read())["op"] == "registered"
            async with Client(s.address, asynchronous=True) as c:
                future = c.submit(inc, 1, key="erring-then-closing")
                compute = None
                for _ in range(100):  # bounded: the scheduler sends the task to its only worker
                    batch = await asyncio.wait_for(fake.read(), 10)
                    msgs = batch if isinstance(batch, list) else [batch]
                    compute = next((m for m in msgs if m.get("op") == "compute-task"), None)
                    if compute is not None:
                        break
                assert compute is not None and compute["key"] == future.key
                await fake.write([
                    {"op": "task-erred", "key": future.key, "exception": ValueError("boom on the fake worker"),
                     "traceback": None, "exception_text": "ValueError('boom on the fake worker')"},
                    {"op": "unregister"},
                ])
                with pytest.raises(ValueError, match="boom on the fake worker"):
                    await asyncio.wait_for(future, 20)
                assert "inproc://closing-fake" not in s.state.workers
            fake.abort()

    run(main)


def test_what_a_client_asks_in_the_batch_that_closes_it_is_still_carried_out():
    # A client that releases its last futures and closes at once sends both in one batch:
    # [client-releases-keys, close-client]. The workers must still be told to free the data,
    # or they hold it for as long as they live.
    from shoal.taskgraph import Task

    async def main():
        async with Scheduler("inproc://") as s, Worker(s.address, nthreads=1) as w:
            raw = await connect(s.address, timeout=5)
            await raw.write({"op": "register-client", "client": "raw-closing-client"})
            assert (await raw.read())["op"] == "registered"
            await raw.write([{"op": "update-graph", "graph": {"kept-then-released": Task("kept-then-released", inc, 1)},
                              "keys": ["kept-then-released"]}])
            for _ in range(2000):  # bounded: until the worker holds the result
                if "kept-then-released" in w.data:
                    break
                await asyncio.sleep(0.01)
            assert w.data["kept-then-released"] == inc(1)
            await raw.write([{"op": "client-releases-keys", "keys": ["kept-then-released"]}, {"op": "close-client"}])
            for _ in range(2000):  # bounded: until the worker has freed it
                if "kept-then-released" not in w.data:
                    break
                await asyncio.sleep(0.01)
            assert "kept-then-released" not in w.data
            assert "kept-then-released" not in s.state.tasks
            raw.abort()

    run(main)
