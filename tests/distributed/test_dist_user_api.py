"""The distributed user API as a Dask user reaches for it: gather/wait/as_completed
details, bad arguments, LocalCluster and CLI flags (an audit of issue 7)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from shoal.distributed import Client, LocalCluster, Scheduler, Worker, as_completed, wait

pytestmark = pytest.mark.timeout(60)


def inc(x):
    return x + 1


def fail(x):
    raise ValueError(f"failed on {x}")


def wait_for_event(event, x):
    """Block (bounded) until ``event`` is set, then return ``x``."""
    event.wait(10)
    return x


@pytest.fixture
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster:
        yield cluster


@pytest.fixture
def client(cluster):
    with Client(cluster) as client:
        yield client


# ---------------------------------------------------------------- gather
def test_gather_skip_in_a_dict_or_alone_gives_none_not_a_sentinel(client):
    good, bad = client.submit(inc, 1), client.submit(fail, 1)
    wait([good, bad])
    assert client.gather({"a": good, "b": bad}, errors="skip") == {"a": inc(1), "b": None}
    assert client.gather(bad, errors="skip") is None
    assert client.gather([good, bad, [bad, good]], errors="skip") == [inc(1), [inc(1)]]
    with pytest.raises(ValueError, match="failed on 1"):
        client.gather({"a": good, "b": bad})


def test_gather_of_an_iterator_yields_values(client):
    futures = client.map(inc, range(5))
    gathered = client.gather(iter(futures))
    assert not isinstance(gathered, list)
    assert list(gathered) == [inc(i) for i in range(5)]
    # The usual use: values in the order they finish.
    assert sorted(client.gather(as_completed(futures))) == [inc(i) for i in range(5)]


# ---------------------------------------------------------------- futures made inline
def first_plus_one(values):
    return values[0] + 1


def total(values, extra=0):
    return sum(values) + extra


def test_futures_made_inline_as_arguments_are_kept_until_submitted(client):
    """The inner futures here are referenced only by the call's arguments; their release
    used to reach the scheduler before the outer task, which then failed with an unknown key.
    (Each call is a plain statement: inside ``assert``, pytest's rewriting keeps the
    arguments alive and hid the bug.)"""
    for _ in range(3):  # it failed every time, not by a race: a few rounds to be sure
        plain = client.submit(abs, client.submit(abs, -6)).result(10)
        in_list = client.submit(first_plus_one, [client.submit(abs, -6)]).result(10)
        in_tuple = client.submit(first_plus_one, (client.submit(abs, -7),)).result(10)
        in_dict = client.submit(lambda d: d["a"] * 2, {"a": client.submit(abs, -9)}).result(10)
        as_keyword = client.submit(total, [1, 2], extra=client.submit(abs, -10)).result(10)
        comprehension = client.submit(total, [client.submit(inc, i) for i in range(5)]).result(10)
        mapped = client.gather(client.map(total, [[1], [2]], extra=client.submit(abs, -11)))
        assert plain == abs(-6)
        assert in_list == abs(-6) + 1
        assert in_tuple == abs(-7) + 1
        assert in_dict == abs(-9) * 2
        assert as_keyword == 1 + 2 + abs(-10)
        assert comprehension == sum(inc(i) for i in range(5))
        assert mapped == [1 + abs(-11), 2 + abs(-11)]


# ---------------------------------------------------------------- closed clients
def test_submit_on_a_closed_client_raises_instead_of_hanging(cluster):
    client = Client(cluster)
    client.close()
    for call in (lambda: client.submit(inc, 1), lambda: client.map(inc, [1, 2])):
        with pytest.raises(RuntimeError, match="closed"):
            call()


def test_submit_on_an_async_client_not_yet_awaited_says_to_await_it(cluster):
    async def main():
        client = Client(cluster.scheduler_address, asynchronous=True)
        with pytest.raises(RuntimeError, match="await the client"):
            client.submit(inc, 1)
        await client
        try:
            assert await client.submit(inc, 1) == inc(1)
        finally:
            await client.close()

    asyncio.run(main())


# ---------------------------------------------------------------- timeouts
def test_wait_with_futures_as_separate_arguments_says_to_pass_a_list(client):
    x, y = client.submit(inc, 1), client.submit(inc, 2)
    with pytest.raises(TypeError, match=r"wait\(\[x, y\]\)"):
        wait(x, y)
    with pytest.raises(TypeError, match="number of seconds"):
        x.result(timeout="2s")
    with pytest.raises(TypeError, match="number of seconds"):
        as_completed([x], timeout="soon")
    assert wait([x, y], timeout=10).not_done == set()


# ---------------------------------------------------------------- as_completed
def test_as_completed_update_count_and_batches(client):
    futures = client.map(inc, range(6))
    ac = as_completed()
    assert ac.is_empty() and ac.count() == 0
    ac.update(futures[:3])
    ac.add(futures[3])
    assert ac.count() == 4
    seen = []
    for batch in ac.batches():
        assert batch  # a batch holds at least one future
        seen += batch
        if len(seen) == 4:
            ac.update(futures[4:])  # added while iterating: they come out too
    assert sorted(f.result() for f in seen) == [inc(i) for i in range(6)]
    assert ac.is_empty() and not ac.has_ready()
    assert ac.next_batch(block=False) == []
    with pytest.raises(TypeError, match="takes futures"):
        ac.add(3)


def test_as_completed_with_results_and_raise_errors(client):
    good, bad = client.submit(inc, 10), client.submit(fail, 10)
    pairs = dict(as_completed([good, bad], with_results=True, raise_errors=False))
    assert pairs[good] == inc(10)
    assert isinstance(pairs[bad], ValueError) and "failed on 10" in str(pairs[bad])
    with pytest.raises(ValueError, match="failed on 10"):
        list(as_completed([bad], with_results=True))


def test_as_completed_timeout_counts_from_the_call(client):
    event = threading.Event()
    try:
        quick, stuck = client.submit(inc, 0), client.submit(wait_for_event, event, 1, pure=False)
        # Done before the 0.5 s start counting: on a loaded machine even `inc` may take longer.
        assert wait([quick], timeout=30).not_done == set()
        ac = as_completed([quick, stuck], timeout=0.5)
        assert next(ac) is quick
        start = time.monotonic()
        with pytest.raises(TimeoutError, match="1 futures were not done within 0.5 s"):
            next(ac)
        assert time.monotonic() - start < 5
    finally:
        event.set()


def test_as_completed_async_for(cluster):
    async def main():
        async with Client(cluster.scheduler_address, asynchronous=True) as client:
            futures = client.map(inc, range(4))
            seen = [result async for _future, result in as_completed(futures, with_results=True, timeout=20)]
            assert sorted(seen) == [inc(i) for i in range(4)]
            assert [f async for f in as_completed([])] == []

    asyncio.run(main())


# ---------------------------------------------------------------- scatter
def test_scatter_keeps_the_container_type(client):
    from collections import namedtuple

    Pair = namedtuple("Pair", ["low", "high"])
    pair = client.scatter(Pair(1, 2))
    assert type(pair) is Pair and client.gather(list(pair)) == [1, 2]
    values = client.scatter({3, 4, 5})
    assert type(values) is set and sorted(client.gather(list(values))) == [3, 4, 5]
    frozen = client.scatter(frozenset({6}))
    assert type(frozen) is frozenset and client.gather(list(frozen)) == [6]
    assert client.gather(client.scatter(range(3))) == list(range(3))
    assert client.gather(client.scatter([7, 8], direct=True)) == [7, 8]
    with pytest.raises(TypeError, match="iterator"):
        client.scatter(x for x in [1, 2])


# ---------------------------------------------------------------- LocalCluster
@pytest.mark.parametrize("options, error, match", [
    ({"n_workers": -1}, ValueError, "n_workers must be at least 0, got -1"),
    ({"n_workers": "2"}, TypeError, "n_workers must be a whole number, got str"),
    ({"n_workers": 1.5}, TypeError, "n_workers must be a whole number"),
    ({"n_workers": 0, "threads_per_worker": 0}, ValueError, "threads_per_worker must be at least 1"),
    ({"n_workers": 0, "bogus": 1}, TypeError, r"unexpected keyword arguments \['bogus'\]"),
])
def test_local_cluster_refuses_bad_arguments_before_starting(options, error, match):
    with pytest.raises(error, match=match):
        LocalCluster(processes=False, **options)


def test_local_cluster_scale_takes_whole_numbers_only(cluster):
    with pytest.raises(ValueError, match="at least 0"):
        cluster.scale(-1)
    with pytest.raises(TypeError, match="whole number"):
        cluster.scale("3")
    with pytest.raises(TypeError, match="number of workers"):
        cluster.scale(None)
    cluster.scale(3.0)  # an integral float is a count
    assert len(cluster.scheduler_info()["workers"]) == 3
    # Scheduler options still pass through LocalCluster.
    with LocalCluster(n_workers=0, processes=False, allowed_failures=1) as small:
        assert small.scheduler.state.allowed_failures == 1


# ---------------------------------------------------------------- command lines
def test_cli_worker_layout_flags_as_dask():
    import os

    from shoal.distributed.cli import _worker_layout, worker_parser
    from shoal.distributed.cluster import _default_layout

    parser = worker_parser()
    cores = os.cpu_count() or 1

    def layout(*flags):
        return _worker_layout(parser, parser.parse_args(["tcp://127.0.0.1:8786", *flags]))

    assert layout() == (1, cores)
    assert layout("--nthreads", "0") == (1, cores)  # 0 means "pick", as in Dask
    assert layout("--nworkers", "-1", "--nthreads", "1") == (cores, 1)
    # 'auto': what LocalCluster() picks for worker processes.
    assert layout("--nworkers", "auto") == _default_layout(None, None, processes=True)
    for flags in (["--nthreads", "-2"], ["--nworkers", "0"], ["--nworkers", f"-{cores + 1}"]):
        with pytest.raises(SystemExit) as exit_info:
            layout(*flags)
        assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        parser.parse_args(["tcp://127.0.0.1:8786", "--nworkers", "many"])


def test_cli_bad_port_and_local_directory_fail_at_parse(tmp_path, capsys):
    from shoal.distributed.cli import _check_local_directory, scheduler_parser, worker_parser

    for port in ("99999", "-5", "http"):
        with pytest.raises(SystemExit):
            scheduler_parser().parse_args(["--port", port])
        assert "--port" in capsys.readouterr().err
    assert scheduler_parser().parse_args(["--port", "0"]).port == 0
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(SystemExit):
        _check_local_directory(worker_parser(), str(a_file / "sub"))
    assert "--local-directory" in capsys.readouterr().err
    new_directory = tmp_path / "made" / "here"
    _check_local_directory(worker_parser(), str(new_directory))
    assert new_directory.is_dir()


def test_cli_scheduler_bad_dashboard_address_is_one_line_not_a_traceback():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "shoal.distributed.cli", "scheduler", "--port", "0",
                           "--dashboard-address", "nonsense"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "dashboard_address='nonsense'" in done.stderr


# ---------------------------------------------------------------- run, and futures in sets
def worker_name(shoal_worker=None):
    return shoal_worker.name


def test_run_takes_names_one_address_on_error_and_shoal_worker(client):
    info = client.scheduler_info()["workers"]
    names = {address: w["name"] for address, w in info.items()}
    address = sorted(info)[0]
    assert client.run(abs, -1, workers=address) == {address: 1}
    assert client.run(abs, -1, workers=[names[address]]) == {address: 1}
    assert client.run(abs, -1, workers=names[address]) == {address: 1}  # one name
    assert client.run(worker_name) == names
    with pytest.raises(ValueError, match="neither addresses nor names"):
        client.run(abs, -1, workers=["no-such-worker"])
    returned = client.run(fail, 3, on_error="return")
    assert set(returned) == set(info)
    assert all(isinstance(e, ValueError) and "failed on 3" in str(e) for e in returned.values())
    assert client.run(fail, 3, on_error="ignore") == {}
    with pytest.raises(ValueError, match="failed on 3"):
        client.run(fail, 3)
    with pytest.raises(ValueError, match="on_error"):
        client.run(abs, 1, on_error="skip")


def test_futures_inside_sets_are_replaced_by_values(client):
    values = client.submit(sorted, {client.submit(abs, -1), client.submit(abs, -2)}).result(10)
    assert values == sorted({abs(-1), abs(-2)})
    frozen = client.submit(sorted, frozenset({client.submit(abs, -3)})).result(10)
    assert frozen == [abs(-3)]


def test_released_or_foreign_futures_say_so(cluster, client):
    future = client.submit(abs, -1)
    future.release()
    with pytest.raises(ValueError, match="was released"):
        future.result(timeout=5)
    mine = client.submit(abs, -2)
    with Client(cluster) as other:
        with pytest.raises(ValueError, match="belong to another client"):
            other.gather([mine])
    assert mine.result(10) == abs(-2)


# ---------------------------------------------------------------- asynchronous client
def sleep_then(x, delay):
    time.sleep(delay)
    return x


def test_async_client_submits_a_released_key_again(cluster):
    """Releasing a key and submitting it again at once (awaiting the same pure call twice)
    hung: on the loop, the new graph overtook the release, and the scheduler dropped it."""
    import numpy as np

    import shoal.array as da

    async def main():
        async with Client(cluster.scheduler_address, asynchronous=True) as client:
            # Plain statements awaiting the future itself, so it is dropped at once
            # (inside ``assert`` or ``wait_for`` it lives on a while and hid the bug).
            first = await client.submit(abs, -1)
            again = await asyncio.wait_for(client.submit(abs, -1), 10)
            assert first == again == abs(-1)
            x = da.arange(10, chunks=3)
            first = await client.compute(x.sum())
            again = await asyncio.wait_for(client.compute(x.sum()), 10)
            assert first == again == np.arange(10).sum()

    asyncio.run(main())


def test_async_client_compute_sync_dashboard_link_and_progress(cluster):
    import io

    import numpy as np

    import shoal.array as da
    from shoal.distributed import progress

    async def main():
        async with Client(cluster.scheduler_address, asynchronous=True) as client:
            x = da.arange(10, chunks=3)
            assert await client.compute(x.sum(), sync=True) == np.arange(10).sum()
            both = await client.compute([x.sum(), 5], sync=True)
            assert both == [np.arange(10).sum(), 5]
            assert client.dashboard_link == cluster.dashboard_link  # None: this cluster serves none
            futures = client.map(sleep_then, range(4), delay=0.1)
            out = io.StringIO()
            await asyncio.wait_for(progress(futures, file=out, interval=0.02), 20)
            assert all(f.done() for f in futures)
            assert "4 of 4" in out.getvalue()

    asyncio.run(main())


def test_client_dashboard_link_names_the_served_dashboard():
    pytest.importorskip("bokeh")
    with LocalCluster(n_workers=1, processes=False, dashboard_address="127.0.0.1:0") as cluster:
        with Client(cluster) as client:
            assert client.dashboard_link == cluster.dashboard_link
            assert client.dashboard_link.startswith("http://127.0.0.1:")


# ---------------------------------------------------------------- scheduling options
def test_scheduling_options_are_checked_where_they_are_given(client):
    import numpy as np

    import shoal.array as da

    x = da.arange(6, chunks=2)
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['bogus'\]"):
        client.compute(x.sum(), bogus=1)  # was dropped silently
    with pytest.raises(TypeError, match="unexpected keyword"):
        client.persist(x, prority=1)
    with pytest.raises(TypeError, match="priority=.*must be a number"):
        client.submit(inc, 1, priority="high")
    with pytest.raises(ValueError, match="retries=.*whole number >= 0"):
        client.map(inc, [1], retries=-1)
    # The accepted ones still work, and map's batch_size (Dask's) is not passed to the function.
    assert client.compute(x.sum(), retries=1, priority=2).result(10) == np.arange(6).sum()
    assert client.gather(client.map(inc, range(5), batch_size=2)) == [inc(i) for i in range(5)]


def test_get_dataset_default(client):
    assert client.get_dataset("never-published", default=None) is None
    with pytest.raises(KeyError, match="never-published"):
        client.get_dataset("never-published")
    client.publish_dataset(client.submit(inc, 41), name="answer")
    assert client.get_dataset("answer", default=None).result(10) == inc(41)
    with pytest.raises(KeyError, match=r"'missing' is published \(published: 'answer'\)"):
        client.get_dataset("missing")
    client.unpublish_dataset("answer")
    with pytest.raises(KeyError, match=r"\(published: none\)"):
        client.unpublish_dataset("answer")


def test_secede_and_worker_client_outside_a_task_name_themselves():
    from shoal.distributed import secede, worker_client

    with pytest.raises(ValueError, match=r"^secede\(\) was called outside a task"):
        secede()
    with pytest.raises(ValueError, match=r"^worker_client\(\) was called outside a task"):
        with worker_client():
            pass


# ---------------------------------------------------------------- results that cannot travel
def make_lock():
    return threading.Lock()


def test_run_on_scheduler_result_that_cannot_be_sent_is_an_error_not_a_hang():
    from shoal.distributed import Scheduler
    from shoal.distributed.comm import SerializationError

    async def main():
        scheduler = Scheduler("tcp://127.0.0.1:0")  # TCP: inproc:// would not serialize at all
        await scheduler.start()
        try:
            async with Client(scheduler.address, asynchronous=True) as client:
                with pytest.raises(SerializationError, match="_thread.lock"):
                    await asyncio.wait_for(client.run_on_scheduler(make_lock), 10)
                assert await asyncio.wait_for(client.run_on_scheduler(abs, -3), 10) == abs(-3)
        finally:
            await scheduler.close()

    asyncio.run(main())


def test_closed_local_cluster_says_so():
    cluster = LocalCluster(n_workers=1, processes=False)
    cluster.close()
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="is closed"):
        Client(cluster, timeout=20)  # was a ConnectError after the whole timeout
    assert time.monotonic() - start < 5
    with pytest.raises(RuntimeError, match="is closed"):
        cluster.scale(2)  # was an AttributeError
    cluster.close()  # closing twice is fine


def test_published_persisted_collections_come_back_to_another_client(cluster, client):
    import numpy as np
    import pandas as pd

    import shoal.array as sa
    import shoal.dataframe as dd

    x = np.arange(60.0).reshape(6, 10)
    frame = pd.DataFrame({"k": np.arange(40) % 4, "v": np.arange(40.0)})
    array = client.persist(sa.from_array(x, chunks=(3, 5)) * 2)
    means = dd.from_pandas(frame, npartitions=3).groupby("k").v.mean().persist()  # on the cluster too
    client.publish_dataset(array=array, means=means)
    del array, means
    with Client(cluster) as other:
        np.testing.assert_array_equal(other.get_dataset("array").compute(), x * 2)
        pd.testing.assert_series_equal(other.get_dataset("means").compute(), frame.groupby("k").v.mean())
    client.unpublish_dataset("array")
    client.unpublish_dataset("means")


def test_datasets_mapping(cluster, client):
    client.datasets["total"] = client.submit(sum, [1, 2, 3])
    assert "total" in client.datasets and list(client.datasets) == ["total"] and len(client.datasets) == 1
    with Client(cluster) as other:
        assert other.datasets["total"].result(10) == sum([1, 2, 3])
    del client.datasets["total"]
    assert "total" not in client.datasets and len(client.datasets) == 0
    with pytest.raises(KeyError):
        client.datasets["total"]


@pytest.mark.parametrize("address, message", [
    ("127.0.0.1", "has no port"),
    ("tcp://127.0.0.1:99999", "outside 0..65535"),
    ("foo://127.0.0.1:8786", "Unknown comm scheme 'foo'"),
])
def test_cli_worker_bad_scheduler_address_is_a_usage_error(address, message, capsys):
    from shoal.distributed.cli import worker_main

    with pytest.raises(SystemExit) as exit_info:
        worker_main([address, "--nthreads", "1"])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_future_cancelled_and_type(client):
    import numpy as np

    future = client.submit(np.ones, 3)
    assert future.result(10).tolist() == np.ones(3).tolist()
    assert future.type == type(np.ones(3)).__name__ and not future.cancelled()
    event = threading.Event()
    try:
        stuck = client.submit(wait_for_event, event, 2, pure=False)
        stuck.cancel()
        wait_until = time.monotonic() + 10
        while not stuck.cancelled() and time.monotonic() < wait_until:
            time.sleep(0.01)
        assert stuck.cancelled() and stuck.done()
    finally:
        event.set()


def test_progress_notebook_keyword_chooses_the_display(client, monkeypatch):
    import io

    ipython_display = pytest.importorskip("IPython.display")
    from shoal.distributed import progress
    from shoal.schedulers.diagnostics import progress as local_progress

    shown = []

    class Handle:
        def update(self, obj, **kwargs):
            shown.append(obj)

    monkeypatch.setattr(ipython_display, "display", lambda obj, **kwargs: shown.append(obj) or Handle())
    monkeypatch.setattr(local_progress, "_in_jupyter_kernel", lambda: True)
    futures = client.map(inc, range(3))
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    progress(futures, notebook=False)  # in a kernel, yet text as asked
    assert shown == [] and "3 of 3" in out.getvalue()
    monkeypatch.setattr(local_progress, "_in_jupyter_kernel", lambda: False)
    progress(futures, notebook=True)  # outside one, yet HTML as asked
    assert shown and "100% Completed" in shown[-1]["text/html"]


def test_scatter_to_workers_by_name(client):
    info = client.scheduler_info()["workers"]
    address = sorted(info)[1]
    futures = client.scatter([10, 20], workers=info[address]["name"])
    assert client.gather(futures) == [10, 20]
    assert all(holders == [address] for holders in client.who_has(futures).values())
    with pytest.raises(ValueError, match="neither addresses nor names"):
        client.scatter([30], workers=["no-such-worker"])


async def double_later(x, delay=0.01):
    await asyncio.sleep(delay)
    return 2 * x


async def worker_name_later(shoal_worker=None):
    await asyncio.sleep(0)
    return shoal_worker.name


def test_run_async_functions_and_dask_keywords_that_change_nothing(client):
    import numpy as np

    import shoal.array as da

    names = {address: w["name"] for address, w in client.scheduler_info()["workers"].items()}
    assert client.run(double_later, 21, delay=0.02) == {address: 2 * 21 for address in names}
    assert client.run(worker_name_later) == names
    x = da.arange(8, chunks=3)
    # Dask's compute/persist/gather keywords that mean nothing here are accepted, not sent to tasks.
    assert client.compute(x.sum(), traverse=False, fifo_timeout="60s").result(10) == np.arange(8).sum()
    assert client.persist(x, fifo_timeout="0ms").compute().tolist() == np.arange(8).tolist()
    assert client.gather(client.map(inc, [1, 2]), direct=True) == [inc(1), inc(2)]


def test_run_and_scatter_take_one_worker_name_that_is_an_int():
    async def main():
        async with Scheduler("inproc://") as s, Worker(s.address, nthreads=1, name=0) as a, \
                Worker(s.address, nthreads=1, name=1), Client(s.address, asynchronous=True) as c:
            assert await c.run(abs, -1, workers=0) == {a.address: 1}
            [future] = await c.scatter([7], workers=0)
            assert await c.who_has(future) == {future.key: [a.address]} and await future == 7

    asyncio.run(asyncio.wait_for(main(), 60))
