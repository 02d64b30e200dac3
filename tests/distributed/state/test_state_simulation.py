"""SchedulerState + WorkerStates driven together through an in-memory network.

Random DAGs run to completion under random interleavings; every requested key
must end in memory with the value computed independently in plain Python, and
the scheduler must hold nothing once the client releases everything.
"""

from __future__ import annotations

import random

import pytest

from shoal.distributed.state import KilledWorker, SchedulerState
from shoal.taskgraph import Ref, Task

from state_sim import CLIENT, SimCluster, measure


def add_all(index, *values):
    return index + sum(values) % 1000


def random_dag(rng: random.Random, n: int, max_deps: int = 3):
    """A random DAG as a shoal graph plus ``{key: [dependency keys]}`` for checking."""
    deps: dict = {}
    graph: dict = {}
    for i in range(n):
        key = ("t", i)
        chosen = rng.sample(range(i), k=min(i, rng.randint(0, max_deps))) if i else []
        deps[key] = [("t", j) for j in chosen]
        graph[key] = Task(key, add_all, i, *[Ref(d) for d in deps[key]])
    return graph, deps


def expected_values(deps: dict) -> dict:
    """The DAG's values computed directly, in key order (dependencies come first)."""
    values: dict = {}
    for key in sorted(deps, key=lambda k: k[1]):
        values[key] = key[1] + sum(values[d] for d in deps[key]) % 1000
    return values


@pytest.mark.parametrize("seed", range(8))
def test_random_dags_complete_with_right_values_and_leave_nothing(seed):
    rng = random.Random(seed)
    sim = SimCluster(seed=seed, validate_every=7)
    for i in range(rng.randint(2, 4)):
        sim.add_worker(f"sim://w{i}", nthreads=rng.randint(1, 3), transfer_incoming_count_limit=rng.randint(1, 3))
    graph, deps = random_dag(rng, 120)
    wanted = rng.sample(list(graph), 25)
    sim.submit(graph, wanted)
    sim.run()
    sim.validate()
    expected = expected_values(deps)
    done = {m["key"] for m in sim.client_msgs[CLIENT] if m["op"] == "key-in-memory"}
    assert done == set(wanted)
    for key in wanted:
        assert sim.result(key) == expected[key], key
    # Only wanted keys keep data: everything else was freed on the workers too.
    for address, ws in sim.workers.items():
        assert set(ws.data) <= set(wanted), address
    sim.release(wanted)
    sim.run()
    sim.validate()
    assert sim.s.tasks == {}
    for ws in sim.workers.values():
        assert ws.data == {} and ws.tasks == {}


@pytest.mark.parametrize("seed", range(6))
def test_worker_killed_mid_computation_results_still_right(seed):
    rng = random.Random(100 + seed)
    sim = SimCluster(seed=seed, validate_every=5)
    for i in range(3):
        sim.add_worker(f"sim://w{i}", nthreads=2)
    graph, deps = random_dag(rng, 150)
    wanted = rng.sample(list(graph), 20)
    sim.submit(graph, wanted)
    sim.run(until=lambda: sim.steps >= 60)
    victim = max(sim.s.workers, key=lambda a: len(sim.s.workers[a].has_what))
    sim.kill(victim)
    sim.validate()
    sim.run()
    sim.validate()
    expected = expected_values(deps)
    for key in wanted:
        assert sim.result(key) == expected[key], key
    sim.release(wanted)
    sim.run()
    assert sim.s.tasks == {}
    assert all(not ws.data for a, ws in sim.workers.items() if a not in sim.dead)


def test_killing_every_worker_a_task_runs_on_gives_killed_worker():
    sim = SimCluster(SchedulerState(allowed_failures=2), seed=1)
    sim.add_worker("sim://a", 1)
    graph = {"boom": Task("boom", add_all, 1)}
    sim.submit(graph, ["boom"])
    sim.add_worker("sim://b", 1)
    for _ in range(2):
        (holder,) = [a for a, w in sim.s.workers.items() if w.processing]
        sim.kill(holder)
    (msg,) = [m for m in sim.client_msgs[CLIENT] if m["op"] == "task-erred"]
    assert isinstance(msg["exception"], KilledWorker)
    assert msg["exception"].workers == ["sim://a", "sim://b"]


def test_failing_task_errs_its_dependents_and_nothing_else():
    sim = SimCluster(seed=3, validate_every=1)
    sim.add_worker("sim://w0", 2)
    graph = {
        "ok": Task("ok", add_all, 1),
        "bad": Task("bad", divmod, 1, 0),
        "child": Task("child", add_all, 2, Ref("bad"), Ref("ok")),
    }
    sim.submit(graph, ["child", "ok"])
    sim.run()
    erred = {m["key"]: m for m in sim.client_msgs[CLIENT] if m["op"] == "task-erred"}
    assert set(erred) == {"child"}
    assert erred["child"]["blamed_key"] == "bad"
    assert isinstance(erred["child"]["exception"], ZeroDivisionError)
    assert sim.result("ok") == 1
    sim.release(["child", "ok"])
    sim.run()
    assert sim.s.tasks == {}
    assert all(not ws.tasks for ws in sim.workers.values())


def test_scheduler_cost_per_task_is_measured():
    result = measure(20_000, 2)
    assert result["values_ok"]
    print(f"\nSchedulerState: {result['scheduler_us_per_task']:.1f} us/task over 20,000 tasks")
    # A regression guard far above the measured cost, not a benchmark.
    assert result["scheduler_us_per_task"] < 1000


@pytest.mark.parametrize("seed", range(25))
def test_chaos_kills_joins_releases_and_resubmits(seed):
    """Random worker deaths and arrivals, keys released and resubmitted mid-run."""
    rng = random.Random(1000 + seed)
    sim = SimCluster(SchedulerState(allowed_failures=1000), seed=seed, validate_every=3)
    n_workers = 0

    def join():
        nonlocal n_workers
        sim.add_worker(f"sim://w{n_workers}", nthreads=rng.randint(1, 3),
                       transfer_incoming_count_limit=rng.randint(1, 3))
        n_workers += 1

    for _ in range(rng.randint(1, 3)):
        join()
    graph, deps = random_dag(rng, 100)
    wanted = set(rng.sample(list(graph), 15))
    sim.submit(graph, sorted(wanted))
    for _ in range(12):
        sim.run(until=lambda: rng.random() < 0.05)
        event = rng.choice(["kill", "join", "release", "resubmit", "nothing"])
        alive = [a for a in sim.s.workers]
        if event == "kill" and len(alive) > 1:
            sim.kill(rng.choice(alive))
        elif event == "join":
            join()
        elif event == "release" and wanted:
            gone = set(rng.sample(sorted(wanted), rng.randint(1, len(wanted))))
            wanted -= gone
            sim.release(sorted(gone))
        elif event == "resubmit":
            more = set(rng.sample(list(graph), 5))
            sim.submit(graph, sorted(more - wanted))
            wanted |= more
        sim.validate()
    sim.run()
    sim.validate()
    expected = expected_values(deps)
    for key in wanted:
        assert sim.result(key) == expected[key], key
    sim.release(sorted(wanted))
    sim.run()
    sim.validate()
    assert sim.s.tasks == {}
    for address, ws in sim.workers.items():
        if address not in sim.dead:
            assert ws.tasks == {} and ws.data == {}, address


class FailFirstRun:
    """A task function that raises the first time it runs for each key."""

    def __init__(self):
        self.failed: set = set()

    def __call__(self, index, *values):
        if index not in self.failed:
            self.failed.add(index)
            raise RuntimeError(f"flaky task {index}")
        return add_all(index, *values)


@pytest.mark.parametrize("seed", range(10))
def test_chaos_with_flaky_tasks_retries_and_restrictions(seed):
    rng = random.Random(5000 + seed)
    sim = SimCluster(SchedulerState(allowed_failures=1000), seed=seed, validate_every=3)
    for i in range(3):
        sim.add_worker(f"sim://w{i}", nthreads=rng.randint(1, 2))
    graph, deps = random_dag(rng, 80)
    flaky = FailFirstRun()
    for key in rng.sample(list(graph), 15):
        graph[key] = Task(key, flaky, key[1], *[Ref(d) for d in deps[key]])
    pinned = {key: [rng.choice(list(sim.s.workers))] for key in rng.sample(list(graph), 15)}
    wanted = sorted(rng.sample(list(graph), 12))
    sim.submit(graph, wanted, retries=1, workers=pinned, allow_other_workers=True)
    sim.run(until=lambda: sim.steps >= 40)
    sim.kill(rng.choice(list(sim.s.workers)))
    sim.add_worker("sim://late", nthreads=2)
    sim.run()
    sim.validate()
    erred = [m for m in sim.client_msgs[CLIENT] if m["op"] == "task-erred"]
    assert erred == []  # each flaky task failed once and its one retry succeeded
    expected = expected_values(deps)
    for key in wanted:
        assert sim.result(key) == expected[key], key
    sim.release(wanted)
    sim.run()
    assert sim.s.tasks == {}
