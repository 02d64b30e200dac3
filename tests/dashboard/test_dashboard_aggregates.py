"""``DashboardPlugin`` aggregates against the ``SchedulerState`` they summarise.

The scheduler is driven directly (no sockets): worker reports are simulated
with ``handle_task_finished``/``handle_task_erred``; the expected counts are
computed here by scanning the state, which the plugin itself never does.
"""

from __future__ import annotations

import random
import time

import pytest

from shoal.dashboard import DashboardPlugin
from shoal.dashboard.aggregates import COUNTED_STATES
from shoal.distributed.state import SchedulerState
from shoal.taskgraph import Ref, Task
from shoal.taskgraph.core import key_prefix

CLIENT = "client-1"


def add_all(*values):
    return sum(values)


def expected_counts(state: SchedulerState) -> dict:
    tasks = dict.fromkeys(COUNTED_STATES, 0)
    prefixes: dict = {}
    for ts in state.tasks.values():
        if ts.state in tasks:
            tasks[ts.state] += 1
            per = prefixes.setdefault(key_prefix(ts.key), dict.fromkeys(COUNTED_STATES, 0))
            per[ts.state] += 1
    processing = {a: len(ws.processing) for a, ws in state.workers.items()}
    nbytes = sum(max(ts.nbytes, 0) for ts in state.tasks.values() if ts.state == "memory")
    return {"tasks": tasks, "prefixes": prefixes, "processing": processing, "nbytes": nbytes,
            "workers": len(state.workers)}


def check(plugin: DashboardPlugin, state: SchedulerState) -> None:
    expected = expected_counts(state)
    counts = plugin.counts(max_prefixes=10_000, max_workers=10_000)
    assert counts["tasks"] == expected["tasks"]
    assert counts["prefixes"] == {p: c for p, c in expected["prefixes"].items() if any(c.values())}
    assert counts["workers"] == expected["workers"]
    assert {w["address"]: w["processing"] for w in counts["worker_details"]} == expected["processing"]
    assert counts["bytes_in_memory"] == expected["nbytes"]
    # Each result is counted once, on one worker holding it (also after its first holder left).
    in_memory = sum(w["in_memory"] for w in counts["worker_details"])
    assert in_memory == expected["tasks"]["memory"]
    assert sum(w["nbytes"] for w in counts["worker_details"]) == expected["nbytes"]


def random_graph(rng: random.Random, batch: int, n: int) -> dict:
    prefix = rng.choice(["load", "clean", "join", "reduce"])
    graph = {}
    for i in range(n):
        key = (f"{prefix}-{batch}", i)
        deps = [Ref((f"{prefix}-{batch}", j)) for j in rng.sample(range(i), k=min(i, rng.randint(0, 2)))]
        graph[key] = Task(key, add_all, i, *deps)
    return graph


def processing_tasks(state: SchedulerState) -> list:
    return [ts for ts in state.tasks.values() if ts.state == "processing"]


@pytest.mark.parametrize("seed", range(6))
def test_aggregates_equal_the_state_through_a_random_workload(seed):
    rng = random.Random(seed)
    state = SchedulerState()
    plugin = DashboardPlugin(state)
    state.add_plugin(plugin)
    workers = [f"sim://w{i}" for i in range(3)]
    for address in workers:
        state.add_worker(address, rng.randint(1, 3))
    wanted: list = []
    next_worker = 3
    for step in range(400):
        action = rng.random()
        if action < 0.08:
            graph = random_graph(rng, step, rng.randint(1, 15))
            keys = rng.sample(list(graph), k=max(1, len(graph) // 3))
            state.update_graph(CLIENT, graph, keys)
            wanted += keys
        elif action < 0.75:
            running = processing_tasks(state)
            if running:
                ts = rng.choice(running)
                if rng.random() < 0.05:
                    state.handle_task_erred(ts.processing_on.address, ts.key, exception=ValueError("boom"))
                else:
                    state.handle_task_finished(ts.processing_on.address, ts.key, nbytes=rng.randint(8, 1000))
        elif action < 0.85 and wanted:
            released = [wanted.pop(rng.randrange(len(wanted))) for _ in range(min(len(wanted), 3))]
            state.client_releases_keys(CLIENT, released)
        elif action < 0.87 and len(state.workers) > 1:
            # A peer fetched some results: replicas, which a worker's departure must not lose.
            in_memory = [ts.key for ts in state.tasks.values() if ts.state == "memory"]
            if in_memory:
                state.handle_add_keys(rng.choice(list(state.workers)), rng.sample(in_memory, min(3, len(in_memory))))
        elif action < 0.90 and len(state.workers) > 1:
            state.remove_worker(rng.choice(list(state.workers)), reason="test")
        elif action < 0.95:
            state.add_worker(f"sim://w{next_worker}", rng.randint(1, 2))
            next_worker += 1
        check(plugin, state)
    state.client_releases_keys(CLIENT, wanted)
    check(plugin, state)
    assert plugin.task_stream_total > 0  # the workload did run tasks


def test_task_stream_records_each_finished_task_once():
    state = SchedulerState()
    plugin = DashboardPlugin(state, task_stream_size=5)
    state.add_plugin(plugin)
    state.add_worker("w1", 1)
    graph = {("inc-aaaaaaaa1", i): Task(("inc-aaaaaaaa1", i), add_all, i) for i in range(8)}
    state.update_graph(CLIENT, graph, list(graph))
    finished = []
    for _ in range(8):
        ts = processing_tasks(state)[0]  # a worker may hold more than one (saturation)
        finished.append(ts.key)
        state.handle_task_finished("w1", ts.key, nbytes=8)
    assert plugin.task_stream_total == 8
    assert [entry[0] for entry in plugin.task_stream] == finished[-5:]  # the ring keeps the newest
    assert all(entry[1] == "w1" and entry[2] <= entry[3] and entry[4] == "inc" for entry in plugin.task_stream)
    entries, total = plugin.new_task_stream(6)
    assert [e[0] for e in entries] == finished[6:] and total == 8
    assert plugin.new_task_stream(total) == ([], 8)


def test_two_hundred_workers_stay_bounded_and_cheap():
    state = SchedulerState()
    plugin = DashboardPlugin(state)
    state.add_plugin(plugin)
    for i in range(200):
        state.add_worker(f"sim://w{i}", 2, name=f"worker-{i}")
    graph = {("work-aaaaaaaa2", i): Task(("work-aaaaaaaa2", i), add_all, i) for i in range(2000)}
    state.update_graph(CLIENT, graph, list(graph))
    for _ in range(2000):
        running = processing_tasks(state)
        if not running:
            break
        for ts in running:
            state.handle_task_finished(ts.processing_on.address, ts.key, nbytes=100)
    check(plugin, state)
    counts = plugin.counts(max_workers=50)
    assert counts["workers"] == 200 and len(counts["worker_details"]) == 50
    assert counts["tasks"]["memory"] == 2000 and counts["bytes_in_memory"] == 200_000
    # Reading the aggregates never touches the tasks: its cost does not grow with them.
    # (This thread's CPU time: wall time would count the moments a loaded machine runs others.)
    start = time.thread_time()
    for _ in range(20):
        plugin.counts()
    assert (time.thread_time() - start) / 20 < 0.05
    # Every hook is O(1): its memory is bounded by live tasks and workers.
    state.client_releases_keys(CLIENT, list(graph))
    assert not plugin._in_memory and not plugin._processing and plugin.nbytes_in_memory == 0
    for i in range(200):
        state.remove_worker(f"sim://w{i}", reason="test")
    assert plugin.workers == {}


def test_prefixes_without_live_tasks_are_dropped_when_a_new_computation_starts():
    from shoal.dashboard import DashboardPlugin
    from shoal.distributed.state import SchedulerState
    from shoal.taskgraph import Task

    state = SchedulerState()
    plugin = DashboardPlugin(state)
    state.add_plugin(plugin)
    state.add_worker("w1", 1)
    for round_number in range(5):  # each round: a prefix of its own, computed then released
        key = f"shuffle-{round_number:032x}-split0"
        state.update_graph("c", {key: Task(key, len, [1])}, [key])
        state.handle_task_finished("w1", key, nbytes=8)
        state.client_releases_keys("c", [key])
    assert len(plugin.prefix_counts) <= 2  # the last round's, and at most the one before
    assert plugin.counts()["prefixes"] == {}


def test_results_of_a_departed_worker_are_counted_on_the_worker_holding_their_copies():
    state = SchedulerState()
    plugin = DashboardPlugin(state)
    state.add_plugin(plugin)
    state.add_worker("sim://a", 1)
    state.add_worker("sim://b", 1)
    graph = {("load-x", i): Task(("load-x", i), add_all, i) for i in range(6)}
    state.update_graph(CLIENT, graph, list(graph))
    for _ in range(len(graph)):  # bounded: one task finishes per turn
        ts = processing_tasks(state)[0]
        state.handle_task_finished(ts.processing_on.address, ts.key, nbytes=100)
    on_a = [ts.key for ts in state.tasks.values() if {ws.address for ws in ts.who_has} == {"sim://a"}]
    assert on_a  # some results live only on a
    state.handle_add_keys("sim://b", on_a)  # what retire_workers does before a leaves
    state.remove_worker("sim://a", reason="retired")
    (b,) = plugin.counts()["worker_details"]
    held_by_b = state.has_what(["sim://b"])["sim://b"]
    assert b["in_memory"] == len(held_by_b) == len(graph)
    assert b["nbytes"] == sum(state.tasks[key].nbytes for key in held_by_b)
