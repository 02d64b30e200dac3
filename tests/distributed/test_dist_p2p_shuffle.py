"""The worker-to-worker ("p2p") shuffle: same results as the task-based shuffle and pandas, on
in-process and process workers; a worker killed mid-shuffle; data bigger than the memory budgets."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as dd
from shoal import config
from shoal.distributed import Client, LocalCluster, get_worker
from shoal.distributed.shuffle.buffer import ShardBuffer
from shoal.distributed.shuffle.limiter import ByteLimiter
from shoal.distributed.shuffle.scheduler_ext import assign_partitions, extension_of

pytestmark = pytest.mark.timeout(60)


def frame(rows: int, seed: int = 0, keys: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"k": rng.integers(0, keys, rows), "v": np.arange(rows),
                         "f": rng.random(rows), "s": rng.choice(["a", "bb", "ccc"], rows)})


def shuffle_stats() -> dict:
    """Run on a worker: its shuffle extension's counters."""
    return get_worker().extensions["shuffle"].stats()


def by_rows(df: pd.DataFrame, index: bool = True) -> pd.DataFrame:
    """Rows in one canonical order (to compare results whose partitioning differs); ``index``:
    the index is part of each row (else dropped, as a merge's index is its own in each partition)."""
    df = df.reset_index(drop=not index)
    return df.sort_values(list(df.columns), kind="stable").reset_index(drop=True)


def wait_until(condition, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture(scope="module", params=[False, True], ids=["inprocess", "processes"])
def client(request):
    with LocalCluster(n_workers=2, threads_per_worker=2, processes=request.param) as cluster, \
            Client(cluster) as client:
        yield client


# ------------------------------------------------------------------ results


def test_p2p_is_the_default_on_a_client_and_explain_names_it(client):
    ddf = dd.from_pandas(frame(100), npartitions=4)
    assert config.get("dataframe.shuffle.method") == "p2p"
    out = ddf.shuffle(on="k", npartitions=3)
    graph = dict(out.__shoal_graph__())
    transfers = [k for k in graph if isinstance(k, tuple) and str(k[0]).endswith("-transfer")]
    barriers = [k for k in graph if isinstance(k, tuple) and str(k[0]).endswith("-barrier")]
    assert len(transfers) == 4 and len(barriers) == 1  # O(partitions): 4 in + 1 + 3 out


def test_explain_prints_the_method(client, capsys):
    dd.from_pandas(frame(100), npartitions=4).set_index("k").explain()
    assert "method='p2p'" in capsys.readouterr().out


def test_shuffle_equals_the_task_based_shuffle_and_pandas(client):
    pdf = frame(5000)
    ddf = dd.from_pandas(pdf, npartitions=7)
    p2p = ddf.shuffle(on="k", npartitions=5).compute()
    tasks = ddf.shuffle(on="k", npartitions=5, shuffle_method="tasks").compute(scheduler="sync")
    pd.testing.assert_frame_equal(p2p, tasks)  # same rows, same order, partition by partition
    pd.testing.assert_frame_equal(by_rows(p2p), by_rows(pdf))
    parts = client.gather(client.compute(ddf.shuffle(on="k", npartitions=5).to_delayed()))
    for part in parts:  # every key lives in one partition
        assert not set(part.k) & set().union(*(set(other.k) for other in parts if other is not part))


def test_set_index_equals_pandas_and_tasks(client):
    pdf = frame(4000, seed=1, keys=1000)
    ddf = dd.from_pandas(pdf, npartitions=6)
    before = sum(s["fetched_outputs"] for s in client.run(shuffle_stats).values())
    p2p = ddf.set_index("k").compute()
    # each output partition was unpacked by its owner (the sort after it is fused onto it)
    assert sum(s["fetched_outputs"] for s in client.run(shuffle_stats).values()) == before
    tasks = ddf.set_index("k", shuffle_method="tasks").compute(scheduler="sync")
    pd.testing.assert_frame_equal(p2p, tasks)
    expected = pdf.set_index("k")
    assert p2p.index.is_monotonic_increasing
    pd.testing.assert_frame_equal(by_rows(p2p), by_rows(expected))


def test_sort_values_equals_pandas(client):
    pdf = frame(3000, seed=2)
    ddf = dd.from_pandas(pdf, npartitions=5)
    got = ddf.sort_values("f").compute()
    pd.testing.assert_frame_equal(got.reset_index(drop=True), pdf.sort_values("f").reset_index(drop=True))
    tasks = ddf.sort_values("f", shuffle_method="tasks").compute(scheduler="sync")
    pd.testing.assert_frame_equal(got, tasks)


def test_hash_merge_equals_pandas(client, capsys):
    left = frame(2000, seed=3, keys=300)
    right = pd.DataFrame({"k": np.arange(0, 300, 2), "w": np.arange(150) * 10})
    got = dd.merge(dd.from_pandas(left, npartitions=5), dd.from_pandas(right, npartitions=3), on="k",
                   broadcast=False)
    got.explain()
    assert capsys.readouterr().out.count("method='p2p'") >= 2  # both sides hash-shuffled
    result = got.compute()
    expected = left.merge(right, on="k")
    pd.testing.assert_frame_equal(by_rows(result, index=False), by_rows(expected, index=False))


def test_drop_duplicates_keep_first_sees_rows_in_input_order(client):
    # the shuffle is stable: the first row of each key in the input is the one kept
    pdf = frame(3000, seed=13, keys=40)
    deduplicated = dd.from_pandas(pdf, npartitions=6).drop_duplicates(subset=["k"], split_out=3)
    assert any(str(k[0]).endswith("-transfer") for k in dict(deduplicated.__shoal_graph__()) if type(k) is tuple)
    got = deduplicated.compute()
    expected = pdf.drop_duplicates(subset=["k"])
    pd.testing.assert_frame_equal(got.sort_values("k"), expected.sort_values("k"))


def test_every_worker_drops_its_shuffle_state_afterwards(client):
    ddf = dd.from_pandas(frame(2000, seed=4), npartitions=4)
    ddf.shuffle(on="k", npartitions=4).compute()
    # no run, and no record of the shuffle once the scheduler has said it is over
    wait_until(lambda: all(s["runs"] == 0 and s["remembered"] == 0 for s in client.run(shuffle_stats).values()),
               what="runs dropped")
    # nor on the scheduler, which stops observing transitions until the next shuffle
    wait_until(lambda: client.run_on_scheduler(_scheduler_shuffle_state) == ({}, False), what="scheduler clean")


def _scheduler_shuffle_state(shoal_scheduler=None):
    extension = extension_of(shoal_scheduler)
    return extension.runs, extension in shoal_scheduler.state.plugins


def _fail_where_key_two_is(part):
    if (part.k == 2).any():
        raise ValueError("boom: key 2")
    return part


def test_a_failed_shuffle_is_cleaned_up_everywhere(client):
    ddf = dd.from_pandas(frame(2000, seed=5, keys=4), npartitions=4)
    broken = ddf.shuffle(on="k", npartitions=4).map_partitions(_fail_where_key_two_is, meta=ddf._meta)
    with pytest.raises(ValueError, match="boom"):
        broken.compute()
    wait_until(lambda: all(s["runs"] == 0 for s in client.run(shuffle_stats).values()), what="runs dropped")


@pytest.mark.parametrize("scheduler", ["sync", "threads"])
def test_p2p_on_a_local_scheduler_exchanges_in_memory_with_the_same_result(scheduler):
    # e.g. compute(scheduler="sync") to debug while a Client (which made p2p the default) is open
    ddf = dd.from_pandas(frame(1000), npartitions=3)
    import shoal.distributed.shuffle as p2p

    p2p.register_with_dataframes()
    got = ddf.shuffle(on="k", npartitions=4, shuffle_method="p2p").compute(scheduler=scheduler)
    expected = ddf.shuffle(on="k", npartitions=4, shuffle_method="tasks").compute(scheduler="sync")
    pd.testing.assert_frame_equal(got, expected)


def test_outputs_unpacked_away_from_their_owner_are_fetched_from_it(monkeypatch):
    from shoal.distributed.shuffle import scheduler_ext

    pin = scheduler_ext.ShuffleSchedulerExtension._pin_outputs

    def pin_to_the_wrong_worker(self, run):
        pin(self, run)  # then move each output task to the next worker of the run
        barrier = self.scheduler.state.tasks[scheduler_ext.barrier_key(run.shuffle_id)]
        for dts in barrier.dependents:
            (owner,) = dts.worker_restrictions
            dts.worker_restrictions = {run.workers[(run.workers.index(owner) + 1) % len(run.workers)]}

    monkeypatch.setattr(scheduler_ext.ShuffleSchedulerExtension, "_pin_outputs", pin_to_the_wrong_worker)
    pdf = frame(3000, seed=10)
    ddf = dd.from_pandas(pdf, npartitions=5)
    expected = ddf.shuffle(on="k", npartitions=4, shuffle_method="tasks").compute(scheduler="sync")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster, Client(cluster) as client:
        got = ddf.shuffle(on="k", npartitions=4).compute()
        assert sum(s["fetched_outputs"] for s in client.run(shuffle_stats).values()) == 4
        wait_until(lambda: all(s["runs"] == 0 for s in client.run(shuffle_stats).values()), what="runs dropped")
    pd.testing.assert_frame_equal(got, expected)


# ------------------------------------------------------------------ a worker lost mid-shuffle


def test_a_worker_killed_during_a_shuffle_restarts_it_with_the_same_result(tmp_path):
    pdf = frame(20_000, seed=6)
    ddf = dd.from_pandas(pdf, npartitions=12)
    expected = ddf.shuffle(on="k", npartitions=6, shuffle_method="tasks").compute(scheduler="sync")
    gate = tmp_path / "gate"
    gate.mkdir()
    held_back = ddf.map_partitions(_three_then_held_back, str(gate), meta=ddf._meta)
    with LocalCluster(n_workers=3, threads_per_worker=1, processes=True) as cluster, Client(cluster) as client:
        client.run(_slow_transfers, 0.25)
        pids = client.run(os.getpid)
        future = client.compute(held_back.shuffle(on="k", npartitions=6))
        state = cluster.scheduler.state
        # a few transfers are done: the run has started and data has moved
        wait_until(lambda: sum(1 for k, ts in list(state.tasks.items())
                               if str(k[0]).endswith("-transfer") and ts.state == "memory") >= 3,
                   timeout=30, what="three transfers done")
        victim = sorted(pids)[0]
        os.kill(pids[victim], signal.SIGKILL)
        (gate / "open").touch()  # only now may the other nine inputs go on: the kill is mid-shuffle
        result = future.result(timeout=45)
        extension = extension_of(cluster.scheduler)
        assert extension.restarts >= 1
        assert any(topic == "shuffle-restart" for _, topic, _ in list(cluster.scheduler.events))
    pd.testing.assert_frame_equal(result, expected)


def _slow_transfers(seconds: float) -> None:
    get_worker().extensions["shuffle"].send_delay = seconds


# A worker must leave while the shuffle still needs it. Sleeps alone leave a window the test
# may miss on a loaded machine (the shuffle finished before the worker left, nothing to
# restart), so the inputs past the first few, or the outputs, wait at a gate the test opens
# once the worker is gone. Every wait is bounded.
def _three_then_held_back(part: pd.DataFrame, gate: str) -> pd.DataFrame:
    """``part``; past the first three calls (counted across processes by the files they
    create in the directory ``gate``), only once ``gate/open`` exists."""
    for slot in range(3):
        try:
            os.close(os.open(os.path.join(gate, f"slot-{slot}"), os.O_CREAT | os.O_EXCL))
            return part
        except FileExistsError:
            continue
    deadline = time.monotonic() + 40
    while not os.path.exists(os.path.join(gate, "open")) and time.monotonic() < deadline:
        time.sleep(0.01)
    return part


class InProcessGate:
    """For in-process workers: the first ``free`` calls of ``pass_`` go through, the others
    wait (bounded) until ``open()``."""

    def __init__(self, free: int):
        self.free, self.lock, self.opened = free, threading.Lock(), threading.Event()

    def pass_(self, part):
        with self.lock:
            self.free -= 1
            free = self.free >= 0
        if not free:
            self.opened.wait(40)
        return part

    def open(self) -> None:
        self.opened.set()


GATE = InProcessGate(0)


def _held_back(part: pd.DataFrame) -> pd.DataFrame:
    return GATE.pass_(part)


def test_a_worker_leaving_during_a_shuffle_in_process():
    pdf = frame(6000, seed=7)
    ddf = dd.from_pandas(pdf, npartitions=8)
    expected = ddf.shuffle(on="k", npartitions=4, shuffle_method="tasks").compute(scheduler="sync")
    global GATE
    GATE = InProcessGate(2)  # two inputs go through; the other six wait until the worker has left
    with LocalCluster(n_workers=3, threads_per_worker=1, processes=False) as cluster, Client(cluster) as client:
        try:
            client.run(_slow_transfers, 0.15)
            future = client.compute(ddf.map_partitions(_held_back, meta=ddf._meta).shuffle(on="k", npartitions=4))
            state = cluster.scheduler.state
            wait_until(lambda: sum(1 for k, ts in list(state.tasks.items())
                                   if str(k[0]).endswith("-transfer") and ts.state == "memory") >= 2,
                       timeout=30, what="two transfers done")
            name = sorted(cluster.workers)[-1]
            worker = cluster.workers[name]
            asyncio.run_coroutine_threadsafe(worker.close(), worker.loop).result(10)
        finally:
            GATE.open()
        result = future.result(timeout=45)
        assert extension_of(cluster.scheduler).restarts >= 1
    pd.testing.assert_frame_equal(result, expected)


def test_a_worker_leaving_after_the_barrier_restarts_the_outputs_still_needed():
    global GATE
    pdf = frame(6000, seed=12)
    ddf = dd.from_pandas(pdf, npartitions=6)
    expected = ddf.shuffle(on="k", npartitions=9, shuffle_method="tasks").compute(scheduler="sync")
    GATE = InProcessGate(0)  # no output is done until the worker has left
    with LocalCluster(n_workers=3, threads_per_worker=1, processes=False) as cluster, Client(cluster) as client:
        try:
            out = ddf.shuffle(on="k", npartitions=9).map_partitions(_held_back, meta=ddf._meta)  # fused onto unpacks
            future = client.compute(out)
            state = cluster.scheduler.state
            wait_until(lambda: any(str(k[0]).endswith("-barrier") and ts.state == "memory"
                                   for k, ts in list(state.tasks.items())), timeout=30, what="the barrier passed")
            name = sorted(cluster.workers)[-1]
            worker = cluster.workers[name]
            asyncio.run_coroutine_threadsafe(worker.close(), worker.loop).result(10)
        finally:
            GATE.open()
        result = future.result(timeout=45)
        assert extension_of(cluster.scheduler).restarts >= 1
    pd.testing.assert_frame_equal(result, expected)


# ------------------------------------------------------------------ larger than memory


def _use_shuffle_settings(settings: dict, directory: str) -> None:
    """Run on a worker: these shuffle settings and spill directory from now on (its process's config)."""
    config.set(settings)
    get_worker().local_directory = directory


@pytest.mark.parametrize("processes", [False, True], ids=["inprocess", "processes"])
def test_a_shuffle_larger_than_the_memory_budgets_spills_with_bounded_memory(tmp_path, processes):
    budget, batch = 128 * 1024, 32 * 1024
    pdf = pd.DataFrame({"k": np.random.default_rng(8).integers(0, 10**6, 200_000),
                        "x": np.random.default_rng(9).random(200_000)})
    nbytes = int(pdf.memory_usage(index=True).sum())
    input_bytes = nbytes // 16
    assert nbytes > 10 * 2 * budget  # ten times the two workers' budgets together
    ddf = dd.from_pandas(pdf, npartitions=16)
    settings = {"distributed.shuffle.memory-budget": budget, "distributed.shuffle.batch-bytes": batch}
    with config.set(settings), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=processes) as cluster, Client(cluster) as client:
        # worker processes read their own config; in-process workers share this one (set above)
        client.run(_use_shuffle_settings, settings if processes else {}, str(tmp_path))
        result = ddf.shuffle(on="k", npartitions=8).compute()
        stats = client.run(shuffle_stats)
        wait_until(lambda: all(s["runs"] == 0 for s in client.run(shuffle_stats).values()), what="runs dropped")
        leftovers = [p for p in os.listdir(tmp_path) if p.startswith("shoal-p2p-")]
    pd.testing.assert_frame_equal(by_rows(result), by_rows(pdf))
    spilled = sum(s["spilled_bytes"] for s in stats.values())
    assert spilled > nbytes // 4, stats  # most of what each received went to disk
    for s in stats.values():
        # held in memory at once: the budget, plus one batch from a peer or one input's local rows
        assert s["peak_memory_bytes"] <= budget + max(batch, input_bytes), stats
    assert leftovers == []  # every file removed once the shuffle was over


def test_tiny_batches_one_in_flight_at_a_time_give_the_same_result():
    pdf = frame(4000, seed=14)
    ddf = dd.from_pandas(pdf, npartitions=6)
    expected = ddf.shuffle(on="k", npartitions=12, shuffle_method="tasks").compute(scheduler="sync")
    settings = {"distributed.shuffle.batch-bytes": 1, "distributed.shuffle.bytes-in-flight": 1}
    with config.set(settings), \
            LocalCluster(n_workers=2, threads_per_worker=2, processes=False) as cluster, Client(cluster):
        got = ddf.shuffle(on="k", npartitions=12).compute()  # one shard per message, each waits for the last
    pd.testing.assert_frame_equal(got, expected)


# ------------------------------------------------------------------ the parts


def test_shard_buffer_spills_past_its_budget_and_returns_input_order(tmp_path):
    buf = ShardBuffer(budget=2000, directory=str(tmp_path))
    parts = {i: pd.DataFrame({"x": np.arange(100) + 1000 * i}) for i in range(6)}  # 800 bytes + index each
    for i in [3, 0, 5, 1, 4, 2]:
        assert buf.add(i, [(0, parts[i])])
        assert buf.memory_bytes <= 2000
    buf.add(4, [(0, parts[4])])  # sent again: replaces, not doubles
    assert buf.spilled_bytes > 0 and buf.peak_memory_bytes > 2000 - 1
    got = buf.take(0)
    pd.testing.assert_frame_equal(pd.concat(got), pd.concat([parts[i] for i in range(6)]))
    with pytest.raises(KeyError, match="already unpacked"):
        buf.take(0)
    buf.close()
    assert os.listdir(tmp_path) == []


def test_byte_limiter_bounds_bytes_in_flight():
    async def run():
        limiter = ByteLimiter(100)
        most = 0

        async def send(n):
            nonlocal most
            await limiter.acquire(n)
            most = max(most, limiter.in_flight)
            await asyncio.sleep(0.001)
            limiter.release(n)

        await asyncio.gather(*(send(n) for n in [40, 30, 50, 70, 20, 150, 10]))
        return most, limiter.in_flight

    most, left = asyncio.run(run())
    assert most <= 150 and left == 0  # 150 alone exceeds the limit, and goes alone


def test_partitions_are_assigned_in_stable_contiguous_blocks():
    workers = ["tcp://a:1", "tcp://b:1", "tcp://c:1"]
    owners = assign_partitions(workers, 8)
    assert owners == assign_partitions(list(workers), 8)
    assert [owners.count(w) for w in workers] == [3, 3, 2]
    assert owners == sorted(owners, key=workers.index)


class _FakeWorker:
    def __init__(self, memory_limit):
        self.memory_limit, self.local_directory, self.handlers = memory_limit, None, {}


def test_the_shard_budget_is_at_most_a_quarter_of_the_worker_memory_limit():
    from shoal.distributed.shuffle import ShuffleWorkerExtension

    with config.set({"distributed.shuffle.memory-budget": "1 GiB"}):
        limited = ShuffleWorkerExtension(_FakeWorker(400 * 2**20)).run_for("s", 1)
        unlimited = ShuffleWorkerExtension(_FakeWorker(None)).run_for("s", 1)
    assert limited.buffer.budget == 100 * 2**20 and unlimited.buffer.budget == 2**30


def test_runs_on_a_worker_replace_older_ones_and_refuse_stale_ones():
    from shoal.distributed.shuffle import ShuffleWorkerExtension

    extension = ShuffleWorkerExtension(_FakeWorker(None))
    first = extension.run_for("s", 3)
    assert extension.run_for("s", 3) is first
    newer = extension.run_for("s", 5)
    assert newer is not first and first.buffer.closed  # the older run's shards are dropped
    assert extension.run_for("s", 4) is None and extension.run_for("s", 3) is None
    extension.forget("s", 5)
    assert extension.run_for("s", 5) is None and extension.runs == {}
    assert sorted(extension.worker.handlers) == ["shuffle-forget", "shuffle-get-output", "shuffle-receive"]


class _FakeScheduler:
    """The parts of a Scheduler the shuffle extension uses, around a real SchedulerState."""

    def __init__(self):
        from shoal.distributed.state import SchedulerState

        self.state = SchedulerState()
        self.sent: list = []
        self.requests: list = []
        self.pool = self

    async def request(self, address, msg, timeout=None):  # the pool's: worker requests are recorded
        self.requests.append((address, msg))

    def send(self, msgs):
        self.sent += msgs

    def add_plugin(self, plugin):
        self.state.add_plugin(plugin)

    def remove_plugin(self, plugin):
        self.state.remove_plugin(plugin)


def test_a_barrier_seeing_a_stale_transfer_sends_it_back_and_starts_again():
    from shoal.distributed.shuffle.scheduler_ext import ShuffleSchedulerExtension, barrier_key, transfer_key
    from shoal.taskgraph import Ref, Task

    scheduler = _FakeScheduler()
    state = scheduler.state
    state.add_worker("w1", nthreads=4)
    graph = {transfer_key("s", i): Task(transfer_key("s", i), int, i) for i in range(2)}
    graph[barrier_key("s")] = Task(barrier_key("s"), list, [Ref(k) for k in list(graph)])
    graph[("s", 0)] = Task(("s", 0), len, Ref(barrier_key("s")))
    state.update_graph("c", graph, keys=[("s", 0)])
    for i in range(2):
        state.handle_task_finished("w1", transfer_key("s", i), nbytes=8)
    assert state.tasks[barrier_key("s")].state == "processing"
    extension = ShuffleSchedulerExtension(scheduler)
    run_id, worker_for = extension.get_or_create("s", 2, 1)
    assert worker_for == ["w1"]

    assert extension.barrier("s", [run_id - 1, run_id]) is None  # transfer 0 sent to an older run
    assert state.tasks[transfer_key("s", 0)].state in ("waiting", "processing")  # computed again
    assert state.tasks[transfer_key("s", 1)].state == "memory"
    assert state.tasks[barrier_key("s")].state == "waiting"
    assert ("w1", {"op": "free-keys", "keys": [transfer_key("s", 0)]}) in scheduler.sent  # its holder drops it

    state.handle_task_finished("w1", transfer_key("s", 0), nbytes=8)
    assert extension.barrier("s", [run_id, run_id]) == (run_id, ["w1"])
    assert state.tasks[("s", 0)].worker_restrictions == {"w1"}  # the output is pinned to its owner

    state.handle_task_finished("w1", barrier_key("s"), nbytes=8)
    assert state.tasks[("s", 0)].state == "processing"

    async def restart():  # what an unpack missing its data asks; the workers are told to forget the run
        extension.restart("s", run_id, "its shards are gone", partition=0)
        await asyncio.sleep(0.01)

    asyncio.run(restart())
    assert scheduler.requests == [("w1", {"op": "shuffle-forget", "shuffle": "s", "run": run_id, "over": False})]
    assert extension.restarts == 1 and extension.runs["s"].dead
    assert state.tasks[("s", 0)].state == "waiting" and state.tasks[barrier_key("s")].state == "waiting"
    assert {state.tasks[transfer_key("s", i)].state for i in range(2)} <= {"waiting", "processing"}
