"""Gaps a Dask user hits in the distributed API, closed: what ``retire_workers`` returns,
``Client.run`` of ``async def`` functions and Dask's ``dask_worker``/``dask_scheduler``
parameters, collections ``from_delayed`` a list of Futures, and the top-level
``performance_report``. Every expected value is computed here with plain Python/pandas."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pandas as pd
import pytest

from shoal.distributed import Client, LocalCluster
from shoal.distributed.worker import get_worker

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        yield cluster


@pytest.fixture
def client(cluster):
    with Client(cluster) as client:
        yield client


def wait_for(condition, timeout=20.0, what="the condition"):
    """Poll ``condition`` until true (bounded in time); fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


# ---------------------------------------------------------------- Client.run
async def where_coroutine_runs(dask_worker):
    """Awaited on the worker's own loop: that loop runs it, on its thread, and get_worker()
    inside names this worker (not another in-process worker sharing the loop)."""
    await asyncio.sleep(0)
    on_worker_loop = asyncio.get_running_loop() is dask_worker.loop
    return on_worker_loop, get_worker() is dask_worker, dask_worker.name


def where_function_runs(dask_worker):
    """A plain function runs on a thread of its own, not the worker's event loop."""
    try:
        asyncio.get_running_loop()
        on_a_loop = True
    except RuntimeError:
        on_a_loop = False
    return on_a_loop, get_worker() is dask_worker, dask_worker.name


def test_run_awaits_async_functions_on_the_workers_event_loop(client):
    names = {address: w["name"] for address, w in client.scheduler_info()["workers"].items()}
    assert client.run(where_coroutine_runs) == {address: (True, True, name) for address, name in names.items()}
    assert client.run(where_function_runs) == {address: (False, True, name) for address, name in names.items()}


async def sleep_then_double(x, delay):
    await asyncio.sleep(delay)
    return 2 * x


def returns_a_coroutine(x):
    return sleep_then_double(x, 0)


def test_run_async_results_errors_and_coroutines_returned_by_plain_functions(client):
    addresses = sorted(client.scheduler_info()["workers"])
    assert client.run(sleep_then_double, 21, delay=0.01) == {a: 2 * 21 for a in addresses}
    assert client.run(returns_a_coroutine, 5) == {a: 2 * 5 for a in addresses}

    async def fails(x):
        raise ValueError(f"async failure {x}")

    with pytest.raises(ValueError, match="async failure 3"):
        client.run(fails, 3)
    returned = client.run(fails, 4, on_error="return")
    assert sorted(returned) == addresses
    assert all(isinstance(e, ValueError) and str(e) == "async failure 4" for e in returned.values())
    with pytest.raises(TypeError, match="function must be callable"):
        client.run("not a function")
    # Dask's nanny= keyword is the run's, never passed on to the function.
    assert client.run(sleep_then_double, 1, delay=0, nanny=False) == {a: 2 for a in addresses}
    with pytest.raises(NotImplementedError, match=r"nanny=True"):
        client.run(sleep_then_double, 1, delay=0, nanny=True)


async def mark_worker(value, dask_worker):
    await asyncio.sleep(0)
    dask_worker.parity_test_mark = value


def read_mark(shoal_worker):
    return getattr(shoal_worker, "parity_test_mark", None)


def test_run_async_without_waiting_runs_in_the_background(client):
    addresses = sorted(client.scheduler_info()["workers"])
    assert client.run(mark_worker, "marked", wait=False) == {a: None for a in addresses}
    wait_for(lambda: client.run(read_mark) == {a: "marked" for a in addresses}, what="the background runs")


def test_run_on_scheduler_gives_dask_scheduler_and_shoal_scheduler(client, cluster):
    def address_of(dask_scheduler):
        return dask_scheduler.address

    def both(shoal_scheduler, dask_scheduler):
        return shoal_scheduler is dask_scheduler

    async def identity_after_a_yield(dask_scheduler):
        await asyncio.sleep(0)  # awaited on the scheduler's loop, and still given the scheduler
        return id(dask_scheduler)

    assert client.run_on_scheduler(address_of) == cluster.scheduler.address
    assert client.run_on_scheduler(both) is True
    # in one process: the very scheduler object (a task count read at two moments could differ)
    assert client.run_on_scheduler(identity_after_a_yield) == id(cluster.scheduler)


# ---------------------------------------------------------------- retire_workers
def test_retire_workers_returns_each_workers_info_keyed_by_address():
    with LocalCluster(n_workers=3, threads_per_worker=2, processes=False, memory_limit="1GB",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.wait_for_workers(3)
        futures = client.map(abs, range(-6, 0))
        expected = [abs(i) for i in range(-6, 0)]
        assert client.gather(futures) == expected
        before = client.scheduler_info()["workers"]
        retired = client.retire_workers(n=2)
        assert isinstance(retired, dict) and len(retired) == 2
        for address, info in retired.items():
            assert address in before and address not in client.nthreads()
            assert info["name"] == before[address]["name"]
            assert info["nthreads"] == 2 and info["memory_limit"] == 10**9
        assert len(client.nthreads()) == 1
        assert client.gather(futures) == expected  # their results were moved, not lost


# ---------------------------------------------------------------- performance_report
def test_performance_report_without_any_client_says_to_create_one(tmp_path, monkeypatch):
    from shoal.distributed import client as client_module
    from shoal.distributed import performance_report

    monkeypatch.setattr(client_module, "_current_clients", [])  # as in a fresh process: no client open
    target = tmp_path / "report.html"
    report = performance_report(filename=target)  # made before any client: fine
    with pytest.raises(ValueError, match=r"no Client is open: create one first"):
        with report:
            pass
    assert not target.exists()


def test_performance_report_made_before_the_client_records_the_default_client(cluster, tmp_path):
    from shoal.distributed import performance_report

    target = tmp_path / "report.html"
    report = performance_report(filename=str(target))
    with Client(cluster) as client:
        inputs = [f"report-{i}" for i in range(5)]  # fresh keys: exactly these five run in the block
        with report:
            assert client.gather(client.map(len, inputs)) == [len(s) for s in inputs]
    page = target.read_text()
    assert f"{len(inputs)} tasks computed" in page and "report-task-stream" in page


def test_performance_report_asks_for_async_with_on_an_asynchronous_client(cluster, tmp_path):
    from shoal.distributed import performance_report

    async def main():
        async with Client(cluster.scheduler.address, asynchronous=True) as client:
            with pytest.raises(TypeError, match="async with"):
                with performance_report(filename=str(tmp_path / "sync.html"), client=client):
                    pass
            async with performance_report(filename=str(tmp_path / "async.html"), client=client):
                assert await client.submit(len, "abc") == len("abc")
        return (tmp_path / "async.html").read_text()

    page = asyncio.run(asyncio.wait_for(main(), 40))
    assert "1 tasks computed" in page


# ---------------------------------------------------------------- from_delayed(list of futures)
MADE: list = []  # which partitions ran: workers are in this process (processes=False)


def make_part(i):
    MADE.append(i)
    return pd.DataFrame({"x": np.arange(i, i + 4), "y": [float(i)] * 4}, index=np.arange(4 * i, 4 * i + 4))


def test_dataframe_from_delayed_futures_builds_on_their_keys(client):
    import shoal.dataframe as dd

    parts = [make_part(i) for i in range(5)]
    expected = pd.concat(parts)
    MADE.clear()
    futures = client.map(make_part, range(5))
    client.gather(futures)
    frame = dd.from_delayed(futures)  # meta from the first future's result
    assert frame.npartitions == len(futures)
    pd.testing.assert_frame_equal(frame.compute(), expected)
    pd.testing.assert_series_equal(frame.groupby("y").x.sum().compute(), expected.groupby("y").x.sum())
    with_meta = dd.from_delayed(futures, meta=parts[0].iloc[:0], divisions=[0, 4, 8, 12, 16, 19])
    assert with_meta.known_divisions
    pd.testing.assert_frame_equal(with_meta.loc[5:13].compute(), expected.loc[5:13])
    assert sorted(MADE) == list(range(5))  # each partition computed once, by client.map only
    # Scattered pandas objects too, mixed with a Delayed.
    from shoal import delayed

    scattered = client.scatter(parts[:2])
    mixed = dd.from_delayed([*scattered, delayed(make_part)(2)])
    pd.testing.assert_frame_equal(mixed.compute(), pd.concat(parts[:3]))


def test_dataframe_from_delayed_future_of_the_wrong_shape_names_the_partition(client):
    import shoal.dataframe as dd
    from shoal.collections.dataframe.meta import MetaMismatchError

    good = client.scatter(make_part(0))
    other = client.scatter(make_part(1).rename(columns={"y": "z"}))
    with pytest.raises(MetaMismatchError, match=r"partition 1.* returned columns \['x', 'z'\]"):
        dd.from_delayed([good, other]).compute()
    with pytest.raises(TypeError, match=r"from_delayed: item 1 is a DataFrame, not a Delayed or a distributed Future"):
        dd.from_delayed([good, make_part(1)])


def test_bag_and_array_from_delayed_futures(client):
    import shoal.array as sa
    import shoal.bag as db

    pieces = [[1, 2], [3], [4, 5, 6]]
    futures = client.scatter(pieces)
    bag = db.from_delayed(futures)
    flat = [x for piece in pieces for x in piece]
    assert bag.npartitions == len(pieces)
    assert bag.compute() == flat
    assert bag.map(lambda x: x * x).sum().compute() == sum(x * x for x in flat)
    assert db.from_delayed(futures[1]).compute() == pieces[1]
    assert db.Item.from_delayed(client.submit(sum, flat)).compute() == sum(flat)

    block = client.submit(np.arange, 12.0)
    array = sa.from_delayed(block, shape=(12,), dtype=float)
    np.testing.assert_array_equal((array.reshape(3, 4) + 1).compute(), np.arange(12.0).reshape(3, 4) + 1)
    assert array.sum().compute() == np.arange(12.0).sum()


def test_dataframe_from_delayed_futures_of_an_asynchronous_client_asks_for_meta():
    # Without meta= the first piece's result would be needed now; an asynchronous
    # client cannot give it without blocking its loop (the meta became a coroutine).
    import shoal.dataframe as dd
    from shoal.distributed import Scheduler, Worker

    parts = [make_part(i) for i in range(2)]

    async def main():
        async with Scheduler("inproc://") as s, Worker(s.address, nthreads=1), \
                Client(s.address, asynchronous=True) as c:
            futures = c.map(make_part, range(2))
            await c.gather(futures)
            with pytest.raises(TypeError, match=r"from_delayed: Future .* asynchronous Client.*pass meta="):
                dd.from_delayed(futures)
            frame = dd.from_delayed(futures, meta=parts[0].iloc[:0])
            pd.testing.assert_frame_equal(await c.compute(frame), pd.concat(parts))

    asyncio.run(asyncio.wait_for(main(), 30))
