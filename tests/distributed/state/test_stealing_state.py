"""Work stealing as pure state machines: SchedulerState.balance, the victim's
confirmation (WorkerState.handle_steal_request) and every race around it.

A steal only happens once the victim says it released the task, so tasks are
never run twice at once and never lost; random workloads with stealing on
end with the same values as plain Python.
"""

from __future__ import annotations

import random

import pytest

from shoal.distributed.state import Execute, SchedulerState, ToScheduler, WorkerState
from shoal.distributed.state.stealing import plan_steals
from shoal.taskgraph import Ref, Task

from state_sim import CLIENT, SimCluster
from test_state_simulation import expected_values, random_dag


def plus(x, i):
    return x + i


def fan_out(n: int, source: str = "x") -> dict:
    """``n`` tasks each reading ``source``: placed by locality, next to it."""
    return {("t", i): Task(("t", i), plus, Ref(source), i) for i in range(n)}


def loaded_cluster(n_tasks: int = 6, thief_threads: int = 1, plugin_class=None, **state_options) -> SimCluster:
    """w0 (1 thread) holds ``x`` and got every task; w1 joins afterwards, idle."""
    sim = SimCluster(SchedulerState(**state_options), seed=0)
    if plugin_class is not None:
        sim.plugin = plugin_class(sim.s)
        sim.s.add_plugin(sim.plugin)
    sim.add_worker("sim://w0", 1)
    sim.workers["sim://w0"].handle_update_data({"x": 100}, nbytes={"x": 8})
    sim.call(sim.s.update_data, CLIENT, {"x": ["sim://w0"]}, {"x": 8})
    sim.submit(fan_out(n_tasks), list(fan_out(n_tasks)))
    assert len(sim.s.workers["sim://w0"].processing) == n_tasks
    sim.add_worker("sim://w1", thief_threads)
    return sim


def steal_requests(msgs):
    return [(to, m) for to, m in msgs if m["op"] == "steal-request"]


# ---------------------------------------------------------------- the policy
def test_idle_worker_steals_queued_tasks_and_results_are_right():
    sim = loaded_cluster(n_tasks=6, thief_threads=2)
    sim.balance()
    w0, w1 = sim.s.workers["sim://w0"], sim.s.workers["sim://w1"]
    assert len(w1.processing) == 2 and len(w0.processing) == 4
    assert sim.s.n_steals == 2 and not sim.s.in_flight_steals
    sim.validate()
    sim.run()
    keys = list(fan_out(6))
    for i, key in enumerate(keys):
        assert sim.result(key) == 100 + i
        assert len(sim.ran_on[key]) == 1, key  # each ran exactly once
    moved = {k for k in keys if sim.ran_on[k] == ["sim://w1"]}
    assert len(moved) == 2
    # The lowest-priority tasks move: the ones w0 would have started last.
    by_priority = sorted(keys, key=lambda k: sim.s.tasks[k].priority)
    assert moved == set(by_priority[-2:])


def test_steals_only_the_queue_never_more_than_free_threads():
    sim = loaded_cluster(n_tasks=3, thief_threads=8)
    msgs = sim.s.balance()
    # w0 runs one task on its one thread; the two others wait and may move.
    assert len(steal_requests(msgs)) == 2
    # A second round while the answers are out asks for nothing more.
    assert steal_requests(sim.s.balance()) == []


def test_no_steal_without_idle_worker_or_saturated_worker():
    sim = SimCluster(seed=0)
    sim.add_worker("sim://w0", 2)
    sim.add_worker("sim://w1", 2)
    sim.submit({"a": Task("a", plus, 1, 1), "b": Task("b", plus, 1, 2)}, ["a", "b"])
    assert sim.s.balance() == []


def test_moving_big_inputs_for_a_short_wait_is_not_worth_it():
    # 1 GB input at 100 MB/s is 10 s of transfer; the queue ahead is 5 x 0.5 s.
    sim = SimCluster(SchedulerState(bandwidth=100e6), seed=0)
    sim.add_worker("sim://w0", 1)
    sim.workers["sim://w0"].handle_update_data({"x": 100}, nbytes={"x": 10**9})
    sim.call(sim.s.update_data, CLIENT, {"x": ["sim://w0"]}, {"x": 10**9})
    sim.submit(fan_out(6), list(fan_out(6)))
    sim.add_worker("sim://w1", 1)
    assert steal_requests(sim.s.balance()) == []
    # The same tasks known to take 100 s each: waiting is far worse than moving.
    prefix = sim.s.tasks[("t", 0)].prefix
    prefix.add_duration(100.0)
    w0 = sim.s.workers["sim://w0"]
    for ts in list(w0.processing):  # re-estimate the queue with the measured duration
        w0.occupancy += 100.0 - w0.processing[ts]
        sim.s.total_occupancy += 100.0 - w0.processing[ts]
        w0.processing[ts] = 100.0
    assert len(steal_requests(sim.s.balance())) == 1


def test_restricted_task_is_not_stolen_by_a_worker_it_may_not_run_on():
    sim = SimCluster(seed=0)
    sim.add_worker("sim://w0", 1)
    graph = {("t", i): Task(("t", i), plus, 1, i) for i in range(4)}
    sim.submit(graph, list(graph), workers=["sim://w0"])
    sim.add_worker("sim://w1", 1)
    assert steal_requests(sim.s.balance()) == []


def test_task_allowed_on_other_workers_is_stolen_and_runs_once():
    # workers=[w0] with allow_other_workers=True: w0 is a preference, as in Dask an idle
    # worker may take the queue (it stayed on w0 while w1 idled).
    sim = SimCluster(seed=0)
    sim.add_worker("sim://w0", 1)
    graph = {("t", i): Task(("t", i), plus, 1, i) for i in range(4)}
    sim.submit(graph, list(graph), workers=["sim://w0"], allow_other_workers=True)
    assert len(sim.s.workers["sim://w0"].processing) == 4
    sim.add_worker("sim://w1", 1)
    requests = steal_requests(sim.call(sim.s.balance))
    assert len(requests) == 1 and {to for to, _ in requests} == {"sim://w0"}
    sim.flush()
    assert sim.s.n_steals == 1 and len(sim.s.workers["sim://w1"].processing) == 1
    sim.run()
    for key in graph:
        assert sim.result(key) == plus(1, key[1]) and len(sim.ran_on[key]) == 1
    assert sum(ran == ["sim://w1"] for ran in sim.ran_on.values()) >= 1


def test_paused_worker_gives_away_all_it_has_not_started():
    sim = loaded_cluster(n_tasks=4, thief_threads=4)
    sim.call(sim.s.set_worker_status, "sim://w0", "paused")
    msgs = sim.call(sim.s.balance)
    assert len(steal_requests(msgs)) == 4  # the scheduler does not know which one started
    sim.flush()
    # w0 had started one task: it keeps that one, the other three moved.
    assert sim.s.n_steals == 3 and sim.s.n_steals_refused == 1


# ---------------------------------------------------------------- the handshake and its races
def _state_pair():
    """A SchedulerState with victim w0 (1 thread; holds x; 3 tasks reading x, one executing)
    and w1 idle, joined afterwards. Returns the scheduler, w0's WorkerState and w0's instructions."""
    s = SchedulerState()
    w0 = WorkerState("w0", 1)
    s.add_worker("w0", 1)
    w0.handle_update_data({"x": 100}, nbytes={"x": 8})
    s.update_data(CLIENT, {"x": ["w0"]}, {"x": 8})
    graph = {k: Task(k, plus, Ref("x"), i) for i, k in enumerate(["a", "b", "c"])}
    instructions = []
    for to, m in s.update_graph(CLIENT, graph, list(graph)):
        if to == "w0":
            instructions += w0.handle_scheduler_message(m)
    assert len(s.workers["w0"].processing) == 3
    s.add_worker("w1", 1)
    return s, w0, instructions


def _answers(instructions):
    return [i.msg for i in instructions if type(i) is ToScheduler and i.msg["op"] == "steal-response"]


def test_victim_that_started_the_task_keeps_it():
    s, w0, instructions = _state_pair()
    executing = [i.key for i in instructions if type(i) is Execute]
    assert len(executing) == 1
    # Ask for the executing task explicitly: the victim refuses, nothing moves.
    ts = s.tasks[executing[0]]
    s.in_flight_steals[ts] = (99, s.workers["w0"], s.workers["w1"])
    (answer,) = _answers(w0.handle_steal_request(executing[0], id=99))
    assert answer["released"] is False and answer["state"] == "executing"
    assert s.handle_steal_response("w0", **{k: v for k, v in answer.items() if k != "op"}) == []
    assert ts.processing_on is s.workers["w0"] and s.n_steals_refused == 1
    s.validate_state()


def test_task_finished_before_the_answer_arrives_is_not_moved():
    s, w0, instructions = _state_pair()
    requests = steal_requests(s.balance())
    assert requests
    to, request = requests[0]
    key = request["key"]
    # The victim runs it before reading the request (its thread freed up).
    s.handle_task_finished("w0", key, nbytes=8)
    assert s.tasks[key].state == "memory" and s.tasks[key] not in s.in_flight_steals
    assert s.handle_steal_response("w0", key, id=request["id"], released=False) == []
    s.validate_state()


def test_stale_or_foreign_answers_are_ignored():
    s, w0, instructions = _state_pair()
    (to, request), *_ = steal_requests(s.balance())
    key = request["key"]
    assert s.handle_steal_response("w0", key, id=request["id"] + 1000, released=True) == []
    assert s.handle_steal_response("w1", key, id=request["id"], released=True) == []
    assert s.tasks[key].processing_on is s.workers["w0"]
    assert s.tasks[key] in s.in_flight_steals  # still waiting for the real answer
    s.validate_state()


def test_victim_dies_before_answering_task_is_rescheduled_once():
    s, w0, instructions = _state_pair()
    requests = steal_requests(s.balance())
    keys = {m["key"] for _, m in requests}
    s.handle_add_keys("w1", ["x"], {"x": 8})  # the scattered input survives on w1
    msgs = s.remove_worker("w0", reason="test")
    assert not s.in_flight_steals
    for key in keys:
        assert s.tasks[key].state in ("processing", "queued")
        assert s.tasks[key].processing_on in (None, s.workers["w1"])
    assert all(to == "w1" for to, m in msgs if m["op"] == "compute-task")
    s.validate_state()


def test_thief_gone_before_confirmation_task_is_placed_again():
    s, w0, instructions = _state_pair()
    (to, request), *_ = steal_requests(s.balance())
    key = request["key"]
    s.remove_worker("w1", reason="test")
    (answer,) = _answers(w0.handle_steal_request(key, id=request["id"]))
    assert answer["released"] is True
    msgs = s.handle_steal_response("w0", **{k: v for k, v in answer.items() if k != "op"})
    # Back on the only worker left, sent to it again (it had dropped it).
    assert s.tasks[key].processing_on is s.workers["w0"] or s.tasks[key].state == "queued"
    sent = [m["key"] for to, m in msgs if m["op"] == "compute-task"]
    if s.tasks[key].state == "processing":
        assert sent == [key]
    s.validate_state()


def test_task_released_and_resubmitted_while_steal_in_flight_runs_once():
    s, w0, instructions = _state_pair()
    (to, request), *_ = steal_requests(s.balance())
    key = request["key"]
    out = s.client_releases_keys(CLIENT, [key])
    assert s.tasks.get(key) is None and not s.in_flight_steals
    out += s.update_graph(CLIENT, {key: Task(key, plus, 1, 7)}, [key])
    # The victim reads in order: the steal request, then free-keys, then compute-task.
    inst = w0.handle_steal_request(key, id=request["id"])
    for to, m in out:
        if to == "w0":
            inst += w0.handle_scheduler_message(m)
    for answer in _answers(inst):
        assert s.handle_steal_response("w0", **{k: v for k, v in answer.items() if k != "op"}) == []
    ts = s.tasks[key]
    holders = [w for w in ("w0", "w1") if ts.processing_on is s.workers[w]]
    assert len(holders) == 1
    if holders == ["w0"]:
        assert w0.tasks[key].run_spec is not None  # w0 still means to run it
    s.validate_state()


# ---------------------------------------------------------------- random workloads
@pytest.mark.parametrize("seed", range(12))
def test_random_workloads_with_stealing_lose_nothing_and_run_each_task_once(seed):
    rng = random.Random(7000 + seed)
    sim = SimCluster(seed=seed, validate_every=3, steal_every=rng.randint(1, 4))
    sim.add_worker("sim://w0", nthreads=rng.randint(1, 2))
    graph, deps = random_dag(rng, 120, max_deps=2)
    # Fan-outs (< 16 wide, so placed by locality): every reader goes where its source is.
    for src in rng.sample(range(120), 3):
        for j in range(10):
            key = ("f", src, j)
            graph[key] = Task(key, plus, Ref(("t", src)), j)
    wanted = sorted(rng.sample([k for k in graph if k[0] == "t"], 30)) + sorted(k for k in graph if k[0] == "f")
    sim.submit(graph, wanted)
    for i in range(1, rng.randint(2, 4)):  # helpers join after everything was placed
        sim.run(until=lambda: rng.random() < 0.1)
        sim.add_worker(f"sim://w{i}", nthreads=rng.randint(1, 3), transfer_incoming_count_limit=rng.randint(1, 3))
    sim.run()
    sim.validate()
    expected = expected_values(deps)
    for key in wanted:
        want = expected[key] if key[0] == "t" else expected[("t", key[1])] + key[2]
        assert sim.result(key) == want, key
    for key, where in sim.ran_on.items():
        assert len(where) == 1, (key, where)  # never run twice
    assert not sim.s.in_flight_steals
    sim.release(wanted)
    sim.run()
    sim.validate()
    assert sim.s.tasks == {}
    assert all(ws.tasks == {} and ws.data == {} for ws in sim.workers.values())


@pytest.mark.parametrize("seed", range(10))
def test_random_workloads_with_stealing_kills_and_releases_end_right(seed):
    rng = random.Random(9000 + seed)
    sim = SimCluster(SchedulerState(allowed_failures=1000), seed=seed, validate_every=2, steal_every=1)
    n = 0

    def join():
        nonlocal n
        sim.add_worker(f"sim://w{n}", nthreads=rng.randint(1, 3))
        n += 1

    join()
    graph, deps = random_dag(rng, 100)
    wanted = set(rng.sample(list(graph), 15))
    sim.submit(graph, sorted(wanted))
    for _ in range(10):
        sim.run(until=lambda: rng.random() < 0.08)
        event = rng.choice(["kill", "join", "join", "release", "resubmit", "pause", "resume"])
        alive = list(sim.s.workers)
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
        elif event in ("pause", "resume") and alive:
            sim.call(sim.s.set_worker_status, rng.choice(alive), "paused" if event == "pause" else "running")
            sim.flush()
        sim.validate()
    for address in list(sim.s.workers):
        sim.call(sim.s.set_worker_status, address, "running")
    sim.flush()
    sim.run()
    sim.validate()
    expected = expected_values(deps)
    for key in wanted:
        assert sim.result(key) == expected[key], key
    sim.release(sorted(wanted))
    sim.run()
    sim.validate()
    assert sim.s.tasks == {}


def test_plan_is_empty_when_everything_is_already_in_flight():
    sim = loaded_cluster(n_tasks=4, thief_threads=3)
    assert len(plan_steals(sim.s, {})) == 3
    sim.s.balance()
    assert plan_steals(sim.s, sim.s.in_flight_steals) == []


# ---------------------------------------------------------------- graceful retirement
def test_retiring_the_only_holder_copies_its_results_first():
    sim = SimCluster(seed=0, validate_every=1)
    sim.add_worker("sim://w0", 1)
    graph = {("r", i): Task(("r", i), plus, 10 * i, 1) for i in range(4)}
    sim.submit(graph, list(graph))
    sim.run()
    sim.add_worker("sim://w1", 1)
    assert all(sim.s.who_has([k])[k] == ["sim://w0"] for k in graph)
    sim.retire("sim://w0")
    assert list(sim.s.workers) == ["sim://w1"]
    for i, key in enumerate(graph):
        assert sim.s.who_has([key])[key] == ["sim://w1"]
        assert sim.workers["sim://w1"].data[key] == 10 * i + 1
        assert len(sim.ran_on[key]) == 1  # copied, not recomputed
    sim.validate()


def test_retiring_worker_gets_no_new_tasks_and_hands_on_its_queue():
    sim = loaded_cluster(n_tasks=5, thief_threads=1)
    sim.call(sim.s.handle_add_keys, "sim://w1", ["x"], {"x": 8})  # x is on both
    sim.workers["sim://w1"].handle_update_data({"x": 100}, nbytes={"x": 8})
    msgs = sim.call(sim.s.begin_retirement, ["sim://w0"])
    assert sim.s.workers["sim://w0"].status == "closing"
    assert len(steal_requests(msgs)) == 5  # all its tasks; the one it started stays
    sim.flush()
    assert len(sim.s.workers["sim://w0"].processing) == 1
    more = {("m", i): Task(("m", i), plus, Ref("x"), i) for i in range(3)}
    sim.submit(more, list(more))
    assert all(sim.s.tasks[k].processing_on.address == "sim://w1" for k in more)
    sim.retire("sim://w0")
    sim.run()
    for key in [*fan_out(5), *more]:
        assert sim.result(key) == 100 + key[1]
        assert len(sim.ran_on[key]) == 1, key
    sim.validate()


def test_cannot_retire_the_last_worker_holding_results():
    sim = SimCluster(seed=0)
    sim.add_worker("sim://w0", 1)
    sim.submit({"a": Task("a", plus, 1, 1)}, ["a"])
    sim.run()
    with pytest.raises(ValueError, match="no other running worker"):
        sim.s.begin_retirement(["sim://w0"])
    assert sim.s.workers["sim://w0"].status == "running"


def test_cancelled_retirement_runs_tasks_again():
    sim = SimCluster(seed=0)
    sim.add_worker("sim://w0", 1)
    sim.add_worker("sim://w1", 1)
    sim.call(sim.s.begin_retirement, ["sim://w0"])
    sim.flush()
    sim.call(sim.s.cancel_retirement, "sim://w0")
    assert sim.s.workers["sim://w0"].status == "running" and not sim.s.retiring
    sim.validate()


@pytest.mark.parametrize("seed", range(8))
def test_random_workloads_retiring_workers_mid_run_lose_nothing_and_recompute_nothing(seed):
    rng = random.Random(11_000 + seed)
    sim = SimCluster(seed=seed, validate_every=3, steal_every=rng.choice([0, 2]))
    for i in range(3):
        sim.add_worker(f"sim://w{i}", nthreads=rng.randint(1, 2))
    graph, deps = random_dag(rng, 100)
    wanted = sorted(rng.sample(list(graph), 20))
    sim.submit(graph, wanted)
    for address in rng.sample(sorted(sim.s.workers), 2):
        sim.run(until=lambda: rng.random() < 0.05)
        sim.retire(address)
        sim.validate()
        if rng.random() < 0.5:
            sim.add_worker(f"sim://late-{address[-1]}", nthreads=1)
    sim.run()
    sim.validate()
    expected = expected_values(deps)
    for key in wanted:
        assert sim.result(key) == expected[key], key
    for key, where in sim.ran_on.items():
        assert len(where) == 1, (key, where)  # nothing was lost, so nothing ran again
    sim.release(wanted)
    sim.run()
    assert sim.s.tasks == {}


def test_observers_see_a_stolen_task_leave_its_victim_and_run_on_its_thief():
    from shoal.dashboard import DashboardPlugin

    sim = loaded_cluster(n_tasks=6, thief_threads=2, plugin_class=DashboardPlugin)
    plugin = sim.plugin

    def per_worker():
        shown = {w["address"]: w["processing"] for w in plugin.counts(max_workers=100)["worker_details"]}
        return shown, {a: len(ws.processing) for a, ws in sim.s.workers.items()}

    shown, actual = per_worker()
    assert shown == actual == {"sim://w0": 6, "sim://w1": 0}
    sim.balance()
    shown, actual = per_worker()
    assert sim.s.n_steals == 2
    assert shown == actual == {"sim://w0": 4, "sim://w1": 2}
    transitions = [e for e in sim.s.events if e[1] == "steal"]
    assert [e[2]["thief"] for e in transitions] == ["sim://w1", "sim://w1"]


@pytest.mark.parametrize("seed", range(8))
def test_workers_dying_during_a_retirement_lose_no_result(seed):
    """A copy's target or the retiring worker itself dies midway: results are recomputed
    from lineage where needed, and every wanted key still ends right."""
    rng = random.Random(13_000 + seed)
    sim = SimCluster(SchedulerState(allowed_failures=1000), seed=seed, validate_every=2, steal_every=2)
    for i in range(4):
        sim.add_worker(f"sim://w{i}", nthreads=rng.randint(1, 2))
    graph, deps = random_dag(rng, 80)
    wanted = sorted(rng.sample(list(graph), 15))
    sim.submit(graph, wanted)
    sim.run(until=lambda: rng.random() < 0.1)
    leaving = rng.choice(sorted(sim.s.workers))
    sim.call(sim.s.begin_retirement, [leaving])
    sim.flush()
    for _ in range(10_000):
        if leaving not in sim.s.workers or sim.s.retirement_done(leaving):
            break
        if rng.random() < 0.05:  # someone dies: maybe a copy's target, maybe the leaver
            alive = sorted(sim.s.workers)
            if len(alive) > 2:
                sim.kill(rng.choice(alive))
        if sim.pending:
            sim.step()
        sim.call(sim.s.retirement_step)
        sim.flush()
        sim.validate()
    if leaving in sim.s.workers:
        assert sim.s.retirement_done(leaving), "the retirement never finished"
        sim.dead.add(leaving)
        sim.call(sim.s.remove_worker, leaving, reason="retired")
        sim.flush()
    assert not sim.s.retiring
    sim.run()
    sim.validate()
    expected = expected_values(deps)
    for key in wanted:
        assert sim.result(key) == expected[key], key
    sim.release(wanted)
    sim.run()
    assert sim.s.tasks == {}
