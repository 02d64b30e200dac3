"""End-to-end tests of Scheduler, Worker and Client in one process (inproc://)."""

from __future__ import annotations

import asyncio
import operator
import threading
import time
import traceback
import types
from collections import Counter

import numpy as np
import pytest

import shoal
import shoal.array as da
import shoal.bag as db
from shoal import config
from shoal.distributed import (
    Client, Future, FutureCancelledError, LocalCluster, Scheduler, SchedulerPlugin, Worker, as_completed,
    futures_of, get_worker, wait,
)
from shoal.distributed.comm import ConnectError
from shoal.schedulers import registry

pytestmark = pytest.mark.timeout(60)


def inc(x):
    return x + 1


def slow_inc(x, delay=0.05):
    time.sleep(delay)
    return x + 1


def inc_once_set(x, event):
    """``x + 1`` once ``event`` is set (bounded wait)."""
    event.wait(20)
    return x + 1


class CustomError(Exception):
    pass


def fail(message):
    raise CustomError(message)


@pytest.fixture
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=2, processes=False) as cluster:
        yield cluster


@pytest.fixture
def client(cluster):
    with Client(cluster) as client:
        yield client


def scheduler_tasks(cluster) -> int:
    async def count():
        return len(cluster.scheduler.state.tasks)

    return cluster._loop_thread.run(count, timeout=30)


def wait_until(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.01)


# ---------------------------------------------------------------- futures
def test_submit_result(client):
    future = client.submit(inc, 10)
    assert isinstance(future, Future)
    assert future.result(timeout=10) == 11
    assert future.done() and future.status == "finished"


def test_map_gather_equal_plain_python(client):
    futures = client.map(operator.add, range(200), range(0, 400, 2))
    assert client.gather(futures) == [a + b for a, b in zip(range(200), range(0, 400, 2))]


def test_gather_keeps_structure(client):
    a, b = client.submit(inc, 1), client.submit(inc, 2)
    assert client.gather({"a": a, "rest": [b, 5]}) == {"a": 2, "rest": [3, 5]}


def test_futures_as_arguments(client):
    x = client.submit(inc, 1)
    y = client.submit(inc, x)
    total = client.submit(sum, [x, y, 10])
    z = client.submit(lambda d: d["a"] * 2, {"a": y})
    assert total.result(timeout=10) == 2 + 3 + 10
    assert z.result(timeout=10) == 6


def test_pure_submissions_share_a_key_and_impure_do_not(client):
    assert client.submit(inc, 5).key == client.submit(inc, 5).key
    assert client.submit(inc, 5, pure=False).key != client.submit(inc, 5, pure=False).key


def test_error_reraised_with_type_message_and_traceback(client):
    future = client.submit(fail, "bad input 42")
    with pytest.raises(CustomError, match="bad input 42"):
        future.result(timeout=10)
    assert future.status == "error"
    assert isinstance(future.exception(timeout=5), CustomError)
    tb = future.traceback(timeout=5)
    assert isinstance(tb, types.TracebackType)
    frames = traceback.extract_tb(tb)
    assert (frames[-1].filename, frames[-1].name) == (__file__, "fail") and "raise CustomError" in frames[-1].line
    assert "in fail" in "".join(traceback.format_tb(tb))
    assert client.submit(inc, 1).traceback(timeout=30) is None  # it did not fail
    # Dependents fail with the same error.
    dependent = client.submit(inc, future)
    with pytest.raises(CustomError, match="bad input 42"):
        dependent.result(timeout=10)


def test_result_timeout(client):
    future = client.submit(slow_inc, 1, delay=0.3)
    with pytest.raises(TimeoutError):
        future.result(timeout=0.05)
    assert future.result(timeout=10) == 2


def test_cancel(client):
    future = client.submit(slow_inc, 1, delay=2.0)
    future.cancel()
    wait_until(lambda: future.status == "cancelled")
    with pytest.raises(FutureCancelledError):
        future.result(timeout=5)


def test_add_done_callback_wait_and_as_completed(client):
    done = threading.Event()
    seen = []
    future = client.submit(inc, 100)
    future.add_done_callback(lambda f: (seen.append(f.key), done.set()))
    assert done.wait(10) and seen == [future.key]

    futures = client.map(slow_inc, range(6), delay=0.01)
    result = wait(futures, timeout=10)
    assert result.done == set(futures) and not result.not_done

    futures = client.map(inc, range(10, 20))
    ac = as_completed(futures[:5], with_results=True, timeout=10)
    collected = []
    for i, (f, value) in enumerate(ac):
        collected.append(value)
        if i == 0:
            for other in futures[5:]:
                ac.add(other)  # adding while iterating
    assert sorted(collected) == [x + 1 for x in range(10, 20)]


def test_wait_and_futures_of_a_persisted_collection(client):
    x = np.arange(36.0).reshape(6, 6)
    persisted = client.persist(da.from_array(x, chunks=(3, 2)) * 2)
    futures = futures_of(persisted)
    assert len(futures) == 6 and all(isinstance(f, Future) for f in futures)
    assert futures_of([persisted, futures[0]]) == futures  # each future once
    result = wait(persisted, timeout=10)
    assert result.done == set(futures) and all(f.status == "finished" for f in futures)
    np.testing.assert_array_equal(persisted.compute(), x * 2)


def test_scatter_and_use(client):
    data = np.arange(1000.0)
    [remote] = client.scatter([data])
    assert client.submit(np.sum, remote).result(timeout=10) == data.sum()
    named = client.scatter({"x": 3})
    assert client.submit(inc, named["x"]).result(timeout=10) == 4


def _record_update_graph_keys(cluster) -> list:
    """Keys of every graph the scheduler's state receives from now on."""
    state = cluster.scheduler.state
    seen: list = []
    original = state.update_graph

    def spy(client_id, graph, keys, **options):
        seen.extend(graph)
        return original(client_id, graph, keys, **options)

    state.update_graph = spy
    return seen


def test_scatter_goes_straight_to_one_worker(client, cluster):
    graph_keys = _record_update_graph_keys(cluster)
    big = np.random.default_rng(0).random(50 * 2**20 // 8)  # 50 MB
    remote = client.scatter(big)
    wait([remote], timeout=30)
    holders = client.who_has([remote])[remote.key]
    assert len(holders) == 1
    held = {w.address: w.state.data for w in cluster.workers.values()}
    assert held[holders[0]][remote.key] is big  # in-process: the very object, never copied
    assert remote.key not in graph_keys  # the payload never travelled as a graph node
    assert cluster._loop_thread.run(_no_run_spec, cluster, remote.key, timeout=30)
    total = client.submit(np.sum, remote)
    assert total.result(timeout=30) == big.sum()
    assert graph_keys == [total.key]  # the spy does see graphs
    assert client.submit(operator.getitem, remote, 12345).result(timeout=10) == big[12345]


async def _no_run_spec(cluster, key):
    return cluster.scheduler.state.tasks[key].run_spec is None


def test_scatter_spreads_over_workers_and_respects_workers(client, cluster):
    values = list(range(100, 110))
    futures = client.scatter(values)
    wait(futures, timeout=10)
    who_has = client.who_has(futures)
    assert all(len(who_has[f.key]) == 1 for f in futures)
    assert len({who_has[f.key][0] for f in futures}) == 2  # round-robin over both workers
    assert client.gather(client.map(inc, futures)) == [v + 1 for v in values]
    target = sorted(client.nthreads())[1]
    pinned = client.scatter({"pinned-a": 1, "pinned-b": 2}, workers=target)
    wait(list(pinned.values()), timeout=10)
    assert client.who_has(list(pinned.values())) == {"pinned-a": [target], "pinned-b": [target]}
    with pytest.raises(ValueError, match="tcp://nowhere:1"):
        client.scatter([5], workers=["tcp://nowhere:1"])


def test_scatter_broadcast_reaches_every_worker(client, cluster):
    graph_keys = _record_update_graph_keys(cluster)
    table = {"a": np.arange(10), "b": np.ones(3)}
    remote = client.scatter(table, broadcast=True)
    wait(list(remote.values()), timeout=10)
    workers = sorted(client.nthreads())
    assert {k: sorted(v) for k, v in client.who_has(list(remote.values())).items()} == {"a": workers, "b": workers}
    assert not set(graph_keys) & {"a", "b"}
    total = client.submit(lambda a, b: a.sum() + b.sum(), remote["a"], remote["b"]).result(timeout=10)
    assert total == np.arange(10).sum() + 3.0
    # Data already scattered to one worker is copied to all when broadcast later.
    single = client.scatter(np.arange(7))
    wait([single], timeout=10)
    assert len(client.who_has([single])[single.key]) == 1
    again = client.scatter(np.arange(7), broadcast=True)
    assert again.key == single.key
    assert sorted(client.who_has([again])[again.key]) == workers


def test_queries(client):
    futures = client.map(inc, range(4))
    wait(futures, timeout=10)
    who_has = client.who_has(futures)
    assert set(who_has) == {f.key for f in futures} and all(len(v) == 1 for v in who_has.values())
    nthreads = client.nthreads()
    assert sorted(nthreads.values()) == [2, 2]
    info = client.scheduler_info()
    assert set(info["workers"]) == set(nthreads)
    names = client.run(lambda: get_worker().name)
    assert set(names) == set(nthreads) and all(n.startswith("thread-worker") for n in names.values())
    assert client.run_on_scheduler(lambda: 7) == 7


def test_get_worker_inside_task(client):
    address = client.submit(lambda: get_worker().address).result(timeout=10)
    assert address in client.nthreads()
    with pytest.raises(ValueError, match="outside a task"):
        get_worker()


# ---------------------------------------------------------------- collections
def test_compute_delayed(client):
    @shoal.delayed
    def double(x):
        return 2 * x

    total = shoal.delayed(sum)([double(i) for i in range(10)])
    assert client.compute(total).result(timeout=10) == sum(2 * i for i in range(10))
    assert client.compute([total, 5], sync=True) == [90, 5]


_shared_calls: list = []


def _shared_work(x):
    _shared_calls.append(x)  # in-process workers: the test sees every call
    return x * 10


def test_compute_of_several_collections_shares_their_work(client):
    _shared_calls.clear()
    shared = shoal.delayed(_shared_work, pure=True)(7)
    a = shoal.delayed(operator.add)(shared, 1)
    b = shoal.delayed(operator.mul)(shared, 2)
    fa, fb = client.compute([a, b])
    assert (fa.result(timeout=10), fb.result(timeout=10)) == (7 * 10 + 1, 7 * 10 * 2)
    assert _shared_calls == [7]  # once, not once per collection
    assert client.compute([a, 3, b], sync=True) == [71, 3, 140]


def test_compute_bag_word_count(client):
    lines = ["the quick brown fox", "jumps over the lazy dog", "the end"] * 7
    expected = Counter(w for line in lines for w in line.split())
    bag = db.from_sequence(lines, npartitions=5).map(str.split).flatten().frequencies()
    assert dict(client.compute(bag).result(timeout=10)) == dict(expected)


def test_compute_array_sum(client):
    x = np.random.default_rng(0).random((300, 200))
    arr = da.from_array(x, chunks=(50, 50))
    assert np.isclose(client.compute(arr.sum()).result(timeout=10), x.sum())
    assert np.allclose(client.compute((arr + 1).mean(axis=0), sync=True), (x + 1).mean(axis=0))


def test_persist_then_compute(client):
    x = np.arange(100.0)
    arr = da.from_array(x, chunks=25) * 2
    persisted = client.persist(arr)
    assert np.array_equal(client.compute(persisted, sync=True), x * 2)
    assert np.isclose(client.compute(persisted.sum(), sync=True), (x * 2).sum())


def test_client_is_the_default_scheduler(cluster):
    calls = []

    @shoal.delayed
    def where():
        calls.append(1)
        return get_worker().name

    before = config.get("scheduler", None)
    with Client(cluster) as client:
        assert config.get("scheduler") == "distributed"
        assert where().compute().startswith("thread-worker")  # ran on a worker
        x = np.arange(50.0)
        assert da.from_array(x, chunks=10).sum().compute() == x.sum()
        assert client.get({"a": 1, "b": (inc, "a")}, "b") == 2
    assert config.get("scheduler", None) == before
    assert "distributed" not in registry.scheduler_names()


def test_closing_client_releases_its_tasks(cluster):
    with Client(cluster) as client:
        futures = client.map(slow_inc, range(20), delay=0.02)
        kept = client.submit(inc, 1)
        kept.result(timeout=10)
        assert scheduler_tasks(cluster) > 0
    wait_until(lambda: scheduler_tasks(cluster) == 0)
    del futures, kept


def test_released_future_frees_data(client, cluster):
    future = client.submit(inc, 41)
    assert future.result(timeout=10) == 42
    key = future.key
    del future  # garbage collected: the scheduler is told
    wait_until(lambda: key not in cluster.scheduler.state.tasks)
    # the scheduler forgets first, then tells the workers: their free-keys may still be on its way
    wait_until(lambda: all(key not in w.data for w in cluster.workers.values()))


# ---------------------------------------------------------------- servers
def test_connect_to_nothing_fails_naming_address():
    started = time.monotonic()
    with pytest.raises(ConnectError, match="inproc://nobody-here"):
        Client("inproc://nobody-here", timeout=0.5)
    assert time.monotonic() - started < 5


def test_async_client_and_plugin():
    events = []

    class Recorder(SchedulerPlugin):
        def transition(self, key, start, finish, **info):
            events.append((key, start, finish))

        def add_worker(self, address, **info):
            events.append(("add-worker", address))

    async def main():
        async with Scheduler("inproc://") as s:
            s.add_plugin(Recorder())
            async with Worker(s.address, nthreads=1) as w, Client(s.address, asynchronous=True) as c:
                future = c.submit(inc, 1)
                assert await future == 2
                assert await c.gather(c.map(inc, range(5))) == [1, 2, 3, 4, 5]
                assert ("add-worker", w.address) in events
                assert (future.key, "processing", "memory") in events
                assert any(topic == "add-client" for _, topic, _ in s.events)

    asyncio.run(asyncio.wait_for(main(), 30))


def test_lost_in_process_worker_recomputes():
    async def main():
        async with Scheduler("inproc://") as s, Worker(s.address, nthreads=1) as a:
            async with Client(s.address, asynchronous=True) as c:
                futures = c.map(inc, range(10))
                await c.gather(futures)
                async with Worker(s.address, nthreads=1):
                    await a.close()  # its results are lost and recomputed on the new worker
                    assert await c.gather(futures) == list(range(1, 11))

    asyncio.run(asyncio.wait_for(main(), 30))


def test_published_dataset_outlives_its_client(cluster):
    with Client(cluster) as publisher:
        futures = publisher.map(inc, range(5))
        publisher.publish_dataset(futures, name="incremented")
        assert publisher.list_datasets() == ["incremented"]
        with pytest.raises(KeyError, match="already published"):
            publisher.publish_dataset(futures, name="incremented")
    with Client(cluster) as reader:
        got = reader.get_dataset("incremented")
        assert reader.gather(got) == [1, 2, 3, 4, 5]
        reader.unpublish_dataset("incremented")
        assert reader.list_datasets() == []
        assert reader.gather(got) == [1, 2, 3, 4, 5]  # still held by this client's futures
        with pytest.raises(KeyError, match="No dataset named 'nope'"):
            reader.get_dataset("nope")
        del got
    wait_until(lambda: scheduler_tasks(cluster) == 0)


def test_retries_workers_and_priority_options(client):
    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError(f"attempt {len(attempts)} fails")
        return "ok"

    assert client.submit(flaky, pure=False, retries=2).result(timeout=10) == "ok"
    assert len(attempts) == 3

    target = sorted(client.nthreads())[1]
    futures = client.map(inc, range(8), workers=[target], priority=5)
    assert client.gather(futures) == list(range(1, 9))
    assert all(holders == [target] for holders in client.who_has(futures).values())

    future = client.submit(fail, "still failing", pure=False)
    with pytest.raises(CustomError):
        future.result(timeout=10)
    future.retry()
    with pytest.raises(CustomError):
        future.result(timeout=10)


def test_progress_bar(client):
    import io

    from shoal.distributed import progress

    out = io.StringIO()
    futures = client.map(slow_inc, range(8), delay=0.05)
    bad = client.submit(fail, "for progress", pure=False)
    progress(futures, [bad], file=out, interval=0.02, width=20)
    assert all(f.done() for f in futures) and bad.done()
    frames = out.getvalue().split("\r")
    assert "100% Completed |  9 of 9" in frames[-1] and "(1 erred)" in frames[-1]
    assert len(frames) > 2  # it was redrawn while tasks ran


def test_progress_counts_every_block_of_a_persisted_collection(client):
    import io

    from shoal.distributed import progress

    expected = np.arange(40.0).reshape(8, 5) * 2
    x = client.persist(da.from_array(np.arange(40.0).reshape(8, 5), chunks=(2, 5)) * 2)
    out = io.StringIO()
    progress(x, file=out, interval=0.02)
    n_blocks = 4  # 8 rows in chunks of 2
    assert f"100% Completed |  {n_blocks} of {n_blocks}" in out.getvalue().split("\r")[-1]
    np.testing.assert_array_equal(x.compute(), expected)


def test_progress_in_a_notebook_updates_one_html_display(client, monkeypatch):
    ipython_display = pytest.importorskip("IPython.display")
    from shoal.distributed import progress
    from shoal.schedulers.diagnostics import progress as local_progress

    shown = []
    # The tasks wait until the bar was drawn twice: however the machine's load delays this
    # thread, there are updates while tasks run (asserted below), not only the final one.
    drawn_twice = threading.Event()

    class Handle:
        def update(self, obj, **kwargs):
            shown.append(("update", obj, kwargs))
            drawn_twice.set()

    def display(obj, **kwargs):
        shown.append(("display", obj, kwargs))
        return Handle()

    monkeypatch.setattr(ipython_display, "display", display)
    monkeypatch.setattr(local_progress, "_in_jupyter_kernel", lambda: True)
    futures = client.map(inc_once_set, range(6), event=drawn_twice, pure=False)
    try:
        progress(futures, interval=0.01)
    finally:
        drawn_twice.set()
    assert all(f.done() for f in futures)
    assert [s[0] for s in shown].count("display") == 1 and shown[0][2]["display_id"] is True
    assert len(shown) > 2  # updated while tasks ran
    final = shown[-1][1]["text/html"]
    assert '<progress value="100" max="100"' in final and "100% Completed" in final


def test_futures_inside_delayed_calls(client):
    future = client.submit(inc, 4)
    double = shoal.delayed(lambda x, ys: 2 * x + sum(ys))
    lazy = double(future, [future, 1])
    assert client.compute(lazy).result(timeout=10) == 2 * 5 + 5 + 1
    assert lazy.compute() == 16  # through the client as default scheduler too


def fan_out(n):
    from shoal.distributed import worker_client

    with worker_client() as inner:
        return sum(inner.gather(inner.map(inc, range(n))))


def nested_fan_out(n):
    from shoal.distributed import worker_client

    with worker_client() as inner:
        return sum(inner.gather(inner.map(fan_out, [n] * 3)))


def test_tasks_that_submit_tasks_on_a_single_thread():
    # One worker with one thread: without seceding, the waiting task would
    # hold the only thread its subtasks need.
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False) as cluster, Client(cluster) as client:
        assert client.submit(fan_out, 10).result(timeout=30) == sum(range(1, 11))
        assert client.submit(nested_fan_out, 4).result(timeout=30) == 3 * sum(range(1, 5))
        assert cluster.scheduler.state.workers[next(iter(cluster.scheduler.state.workers))].long_running == set()
