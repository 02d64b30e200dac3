"""End-to-end tests on TCP with a LocalCluster of 2 worker processes."""

from __future__ import annotations

import operator
import os
import signal
import threading
import time
import traceback
from collections import Counter

import numpy as np
import pytest

import shoal
import shoal.array as da
import shoal.bag as db
from shoal.distributed import Client, LocalCluster, get_worker, wait
from shoal.distributed.comm import ConnectError, SerializationError

pytestmark = pytest.mark.timeout(90)


def inc(x):
    return x + 1


def slow_inc(x, delay=0.05):
    time.sleep(delay)
    return x + 1


def inc_once_open(x, gate: str):
    """``x + 1`` once the file ``gate`` exists (bounded wait): work that cannot finish before
    the test opens the gate, whatever the machine's load (worker processes share no memory)."""
    deadline = time.monotonic() + 60
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.01)
    return x + 1


class CustomError(Exception):
    pass


def fail(message):
    raise CustomError(message)


def worker_pid():
    return os.getpid()


def n_held():
    return len(get_worker().data)


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster:
        yield cluster


@pytest.fixture
def client(cluster):
    with Client(cluster) as client:
        yield client


def on_scheduler(cluster, function):
    async def run():
        return function(cluster.scheduler)

    return cluster._loop_thread.run(run, timeout=10)


def wait_until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)


def test_workers_are_separate_processes(client):
    pids = set(client.run(worker_pid).values())
    assert len(pids) == 2 and os.getpid() not in pids
    assert all(a.startswith("tcp://127.0.0.1:") for a in client.nthreads())


def test_submit_map_gather(client):
    assert client.submit(inc, 1).result(timeout=10) == 2
    futures = client.map(operator.mul, range(300), range(300))
    assert client.gather(futures) == [i * i for i in range(300)]
    y = client.submit(sum, futures)  # futures as arguments: data moves between workers
    assert y.result(timeout=10) == sum(i * i for i in range(300))


def test_numpy_data_round_trip(client):
    x = np.random.default_rng(1).random((500, 400))
    [remote] = client.scatter([x])
    doubled = client.submit(operator.mul, remote, 2)
    assert np.array_equal(doubled.result(timeout=10), x * 2)


def test_errors_keep_type_and_message(client):
    future = client.submit(fail, "bad value 7")
    with pytest.raises(CustomError, match="bad value 7") as info:
        future.result(timeout=10)
    # The worker's traceback travels with the error and shows the user's function.
    tb = future.traceback(timeout=5)
    assert "in fail" in "".join(traceback.format_tb(tb))
    last = traceback.extract_tb(tb)[-1]  # where it was raised, with the source line read here
    assert (last.filename, last.name) == (__file__, "fail") and "raise CustomError" in last.line
    assert "in fail" in "".join(getattr(info.value, "__notes__", []))
    with pytest.raises(ZeroDivisionError):
        client.submit(operator.truediv, 1, 0).result(timeout=10)


def test_unserializable_result_names_key_and_type(client):
    future = client.submit(threading.Lock)
    with pytest.raises(SerializationError, match=r"lock.*cannot be serialized|cannot be serialized.*lock") as info:
        future.result(timeout=10)
    assert repr(future.key) in str(info.value)


def test_collections_equal_eager(client):
    @shoal.delayed
    def square(i):
        return i * i

    assert client.compute(shoal.delayed(sum)([square(i) for i in range(20)]), sync=True) == sum(
        i * i for i in range(20))

    lines = ["a b c", "b c d", "c d e f"] * 11
    bag = db.from_sequence(lines, npartitions=4).map(str.split).flatten().frequencies()
    assert dict(client.compute(bag, sync=True)) == dict(Counter(w for line in lines for w in line.split()))

    x = np.random.default_rng(2).random((400, 300))
    assert np.isclose(client.compute(da.from_array(x, chunks=(100, 100)).sum(), sync=True), x.sum())


def test_client_as_default_scheduler(client):
    x = np.arange(1000.0).reshape(40, 25)
    arr = da.from_array(x, chunks=(10, 5))
    assert np.allclose((arr.T @ arr).compute(), x.T @ x)

    @shoal.delayed
    def pid():
        return os.getpid()

    assert pid().compute() in set(client.run(worker_pid).values())


def test_closing_client_mid_computation_leaves_nothing(cluster):
    client = Client(cluster)
    try:
        futures = client.map(slow_inc, range(40), delay=0.05)
        total = client.submit(sum, futures)
        wait(futures[:2], timeout=10)  # mid-computation
        assert on_scheduler(cluster, lambda s: len(s.state.tasks)) > 0
    finally:
        client.close()
    del futures, total
    wait_until(lambda: on_scheduler(cluster, lambda s: len(s.state.tasks)) == 0)
    with Client(cluster) as other:
        wait_until(lambda: sum(other.run(n_held).values()) == 0)


def test_worker_killed_mid_computation_result_still_correct(tmp_path):
    gate = str(tmp_path / "gate")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster, Client(cluster) as client:
        done = client.map(slow_inc, range(10), delay=0.02)
        wait(done, timeout=30)
        # The other fifty wait for the gate, opened only after the kill: however slowly this
        # process gets the CPU, the computation cannot be over before the worker dies.
        futures = done + client.map(inc_once_open, range(10, 60), gate=gate)
        total = client.submit(sum, futures)
        assert not total.done()  # killed in the middle of the computation
        victim_address, victim_pid = next(iter(client.run(os.getpid).items()))
        os.kill(victim_pid, signal.SIGKILL)  # the worker itself; its nanny starts a new one
        open(gate, "w").close()
        assert total.result(timeout=60) == sum(range(1, 61))
        assert client.gather(futures) == list(range(1, 61))
        deadline = time.monotonic() + 30
        while len(client.nthreads()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = client.nthreads()
        assert len(workers) == 2 and victim_address not in workers


def test_connect_to_closed_port_fails_within_timeout_naming_address():
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    started = time.monotonic()
    with pytest.raises(ConnectError, match=address):
        Client(address, timeout=1.0)
    assert time.monotonic() - started < 6


def fan_out(n):
    from shoal.distributed import worker_client

    with worker_client() as inner:
        return sum(inner.gather(inner.map(slow_inc, range(n), delay=0.01)))


def test_tasks_submitting_tasks_from_worker_processes(client):
    # Two outer tasks occupy both single-threaded workers; they secede so the
    # twenty subtasks they wait for can run.
    outer = client.map(fan_out, [10, 20])
    assert client.gather(outer) == [sum(range(1, 11)), sum(range(1, 21))]


def test_scatter_of_50_mb_goes_to_one_worker_process_not_the_scheduler(client, cluster):
    state = cluster.scheduler.state
    graph_keys: list = []
    original = state.update_graph

    def spy(client_id, graph, keys, **options):
        graph_keys.extend(graph)
        return original(client_id, graph, keys, **options)

    state.update_graph = spy
    try:
        big = np.random.default_rng(2).random(50 * 2**20 // 8)  # 50 MB
        remote = client.scatter(big)
        wait([remote], timeout=60)
        [holder] = client.who_has([remote])[remote.key]
        held = client.run(lambda key: key in get_worker().data, remote.key)
        assert held == {a: a == holder for a in client.nthreads()}
        assert remote.key not in graph_keys  # the payload never went to the scheduler as a task
        assert on_scheduler(cluster, lambda s: s.state.tasks[remote.key].run_spec) is None
        total = client.submit(np.sum, remote)
        assert total.result(timeout=30) == big.sum()
        assert graph_keys == [total.key]  # the spy does see graphs
    finally:
        state.update_graph = original


def test_scatter_broadcast_reaches_every_worker(client):
    table = np.arange(50_000.0)
    [remote] = client.scatter([table], broadcast=True)
    holders = client.who_has([remote])[remote.key]
    assert sorted(holders) == sorted(client.nthreads())
    sums = client.run(lambda key: float(get_worker().data[key].sum()), remote.key)
    assert set(sums.values()) == {table.sum()}
    del remote  # every replica is freed with the last future
    wait_until(lambda: sum(client.run(n_held).values()) == 0)


def test_restart_cancels_everything_and_clears_workers(client):
    futures = client.map(inc, range(10))
    wait(futures, timeout=10)
    assert sum(client.run(n_held).values()) == 10
    assert client.restart(timeout=20) == 2
    wait_until(lambda: all(f.status == "cancelled" for f in futures))
    assert sum(client.run(n_held).values()) == 0
    assert client.gather(client.map(inc, range(10, 15))) == list(range(11, 16))
    assert client.gather(client.map(inc, range(10))) == list(range(1, 11))  # cancelled keys run again
