"""WorkerState without sockets or threads: events in, instructions out."""

from __future__ import annotations

import sys
from operator import add

import pytest

from shoal.distributed.state import Execute, GatherDep, ToScheduler, WorkerState
from shoal.taskgraph import Ref, Task


def inc(x):
    return x + 1


def to_scheduler(instructions, op=None):
    return [i.msg for i in instructions if type(i) is ToScheduler and (op is None or i.msg["op"] == op)]


def executes(instructions):
    return [i.key for i in instructions if type(i) is Execute]


def gathers(instructions):
    return [(i.peer, sorted(i.keys)) for i in instructions if type(i) is GatherDep]


def run(ws, key):
    """Run task ``key`` as the server's thread would, and report success."""
    node, inputs = ws.execution_inputs(key)
    return ws.handle_execute_success(key, node(inputs), nbytes=8)


def compute(ws, key, node, who_has=None, nbytes=None, priority=(0,), **kwargs):
    return ws.handle_compute_task(key, node, priority, who_has or {}, nbytes or {}, **kwargs)


# --------------------------------------------------------------------------- scenarios
# Each returns the WorkerStates it used so that the coverage test can collect
# the transitions they went through.

def scenario_fetch_compute_and_free():
    ws = WorkerState("me", 1)
    out = compute(ws, "y", Task("y", add, Ref("a"), Ref("b")),
                  who_has={"a": ["p1"], "b": ["p1"]}, nbytes={"a": 8, "b": 8})
    # Both inputs come from p1 in one request.
    assert gathers(out) == [("p1", ["a", "b"])] and executes(out) == []
    assert ws.tasks["y"].state == "waiting" and ws.tasks["a"].state == "flight"
    out = ws.handle_gather_dep_success("p1", {"a": 1, "b": 2})
    (added,) = to_scheduler(out, "add-keys")
    assert sorted(added["keys"]) == ["a", "b"]
    assert added["nbytes"] == {"a": sys.getsizeof(1), "b": sys.getsizeof(2)}
    assert executes(out) == ["y"]
    out = run(ws, "y")
    (msg,) = to_scheduler(out, "task-finished")
    assert msg["key"] == "y" and ws.data["y"] == 3 and msg["type"] == "int"
    ws.validate_state()
    ws.handle_free_keys(["a", "b", "y"])
    assert ws.tasks == {} and ws.data == {}
    ws.validate_state()
    return [ws]


def scenario_peers_lacking_data():
    ws = WorkerState("me", 1)
    out = compute(ws, "y", Task("y", inc, Ref("x")), who_has={"x": ["p1", "p2"]})
    ((first, _),) = gathers(out)
    second = "p2" if first == "p1" else "p1"
    out = ws.handle_gather_dep_success(first, {})
    # The first peer did not have it: the scheduler hears so, the other peer is tried.
    assert to_scheduler(out, "missing-data") == [{"op": "missing-data", "key": "x", "errant_worker": first}]
    assert gathers(out) == [(second, ["x"])]
    out = ws.handle_gather_dep_failure(second, OSError("connection reset"))
    assert ws.tasks["x"].state == "missing"
    assert to_scheduler(out, "missing-data")[0]["errant_worker"] == second
    out = ws.handle_update_who_has({"x": ["p3"]})
    assert gathers(out) == [("p3", ["x"])]
    out = ws.handle_gather_dep_success("p3", {"x": 41})
    assert executes(out) == ["y"]
    assert run(ws, "y") and ws.data["y"] == 42
    ws.validate_state()
    return [ws]


def scenario_no_known_holder_asks_the_scheduler():
    ws = WorkerState("me", 1)
    out = compute(ws, "y", Task("y", inc, Ref("x")), who_has={"x": []})
    assert ws.tasks["x"].state == "missing"
    assert to_scheduler(out) == [{"op": "missing-data", "key": "x", "errant_worker": None}]
    ws.handle_free_keys(["y"])  # missing -> released -> forgotten with its dependent
    assert ws.tasks == {}
    return [ws]


def scenario_fetch_queue_released_or_emptied():
    ws = WorkerState("me", 1, transfer_incoming_count_limit=1)
    out = compute(ws, "y", Task("y", add, Ref("a"), Ref("b")), who_has={"a": ["p1"], "b": ["p2"]})
    assert len(gathers(out)) == 1  # one transfer at a time
    waiting_key = "b" if gathers(out)[0][0] == "p1" else "a"
    assert ws.tasks[waiting_key].state == "fetch"
    ws.handle_update_who_has({waiting_key: []})
    assert ws.tasks[waiting_key].state == "missing"
    ws.handle_update_who_has({waiting_key: ["p9"]})
    assert ws.tasks[waiting_key].state == "fetch"
    ws.handle_free_keys(["y"])  # waiting -> released; fetch -> released; flight -> cancelled
    states = {k: ts.state for k, ts in ws.tasks.items()}
    assert states == {("a" if waiting_key == "b" else "b"): "cancelled"}
    in_flight_peer = gathers(out)[0][0]
    ws.handle_gather_dep_success(in_flight_peer, {gathers(out)[0][1][0]: 1})
    assert ws.tasks == {} and ws.data == {}  # the late data was dropped
    ws.validate_state()
    return [ws]


def scenario_cancelled_fetch_resumes():
    ws = WorkerState("me", 1)
    compute(ws, "y", Task("y", inc, Ref("x")), who_has={"x": ["p1"]})
    ws.handle_free_keys(["y"])
    assert ws.tasks["x"].state == "cancelled"
    out = compute(ws, "y", Task("y", inc, Ref("x")), who_has={"x": ["p1"]})
    assert ws.tasks["x"].state == "flight" and gathers(out) == []  # the transfer is still out
    out = ws.handle_gather_dep_success("p1", {"x": 1})
    assert executes(out) == ["y"]
    ws.validate_state()
    return [ws]


def scenario_errors_and_cancelled_execution():
    ws = WorkerState("me", 1)
    out = compute(ws, "bad", Task("bad", divmod, 1, 0))
    assert executes(out) == ["bad"]
    out = ws.handle_execute_failure("bad", ZeroDivisionError("x"), "tb")
    (msg,) = to_scheduler(out)
    assert msg["op"] == "task-erred" and msg["key"] == "bad" and msg["traceback"] == "tb"
    ws.handle_free_keys(["bad"])
    assert ws.tasks == {}

    compute(ws, "slow", Task("slow", inc, 1))
    ws.handle_free_keys(["slow"])
    assert ws.tasks["slow"].state == "cancelled" and len(ws.executing) == 1  # thread still busy
    out = compute(ws, "other", Task("other", inc, 2))
    assert executes(out) == []  # no free thread
    out = ws.handle_execute_success("slow", 2)
    assert to_scheduler(out) == []  # the result of a cancelled task is dropped
    assert executes(out) == ["other"] and "slow" not in ws.tasks

    ws.handle_free_keys(["other"])
    out = compute(ws, "other", Task("other", inc, 2))
    assert ws.tasks["other"].state == "executing" and executes(out) == []  # resumed, not rerun
    out = ws.handle_execute_success("other", 3)
    assert to_scheduler(out, "task-finished")[0]["key"] == "other"
    ws.validate_state()
    return [ws]


def scenario_resumed_attempt_that_fails_runs_again():
    ws = WorkerState("me", 1)
    compute(ws, "b", Task("b", inc, Ref("x")), who_has={"x": ["p1"]})
    ws.handle_gather_dep_success("p1", {"x": 1})
    assert ws.tasks["b"].state == "executing"
    ws.handle_free_keys(["b"])  # the scheduler cancels it (an input it used went stale)...
    compute(ws, "b", Task("b", inc, Ref("x")), who_has={"x": ["p1"]})  # ...and wants it again
    assert ws.tasks["b"].state == "executing"
    # The attempt that began before the cancel fails: not reported, the task runs afresh.
    out = ws.handle_execute_failure("b", RuntimeError("stale run"), "tb")
    assert to_scheduler(out) == [] and executes(out) == ["b"]
    assert len(ws.executing) == 1
    ws.validate_state()
    # The fresh attempt's error is reported, as any error is.
    out = ws.handle_execute_failure("b", RuntimeError("real"), "tb")
    (msg,) = to_scheduler(out)
    assert msg["op"] == "task-erred" and str(msg["exception"]) == "real"
    # And a fresh attempt's success after a resumed failure is reported once.
    ws.handle_free_keys(["b"])
    compute(ws, "b", Task("b", inc, Ref("x")), who_has={"x": ["p1"]})
    ws.handle_free_keys(["b"])
    compute(ws, "b", Task("b", inc, Ref("x")), who_has={"x": ["p1"]})
    out = ws.handle_execute_failure("b", RuntimeError("stale again"), "tb")
    assert executes(out) == ["b"] and to_scheduler(out) == []
    out = run(ws, "b")
    assert [m["key"] for m in to_scheduler(out, "task-finished")] == ["b"] and ws.data["b"] == 2
    ws.validate_state()
    return [ws]


def scenario_priorities_and_resources():
    ws = WorkerState("me", 2, resources={"GPU": 1})
    out = compute(ws, "g1", Task("g1", inc, 1), resources={"GPU": 1}, priority=(0, 1))
    assert executes(out) == ["g1"]
    out = compute(ws, "g2", Task("g2", inc, 2), resources={"GPU": 1}, priority=(0, 2))
    assert executes(out) == [] and ws.tasks["g2"].state == "constrained"
    out = compute(ws, "cpu", Task("cpu", inc, 3), priority=(0, 3))
    assert executes(out) == ["cpu"]  # the second thread is free; no GPU needed
    compute(ws, "late", Task("late", inc, 4), priority=(0, 4))
    assert ws.tasks["late"].state == "ready"
    out = run(ws, "g1")
    assert executes(out) == ["g2"]  # the GPU is free again
    ws.handle_free_keys(["late"])
    assert "late" not in ws.tasks
    compute(ws, "g3", Task("g3", inc, 5), resources={"GPU": 1})
    out = run(ws, "cpu")
    assert ws.tasks["g3"].state == "constrained"
    ws.handle_free_keys(["g3"])
    assert "g3" not in ws.tasks
    ws.validate_state()
    return [ws]


def scenario_acquire_replicas_and_recompute_in_flight():
    ws = WorkerState("me", 1)
    out = ws.handle_acquire_replicas({"r": ["p1"]}, {"r": 100})
    assert gathers(out) == [("p1", ["r"])]
    out = ws.handle_gather_dep_success("p1", {"r": "data"})
    assert to_scheduler(out) == [{"op": "add-keys", "keys": ["r"], "nbytes": {"r": sys.getsizeof("data")}}]
    # Asked to compute a key we already hold: report it again, compute nothing.
    out = compute(ws, "r", Task("r", inc, 1))
    assert to_scheduler(out, "task-finished")[0]["key"] == "r" and executes(out) == []
    ws.validate_state()
    return [ws]


def scenario_asked_to_compute_what_is_in_flight():
    ws = WorkerState("me", 1)
    compute(ws, "y", Task("y", inc, Ref("x")), who_has={"x": ["p1"]})
    # The scheduler lost x's only copy and asks us to compute x ourselves.
    ws.handle_free_keys(["y"])
    out = compute(ws, "x", Task("x", inc, 1))
    assert ws.tasks["x"].state == "flight" and executes(out) == []
    out = ws.handle_gather_dep_failure("p1", OSError("p1 died"))
    assert executes(out) == ["x"]  # computed here, not looked for elsewhere
    out = run(ws, "x")
    assert to_scheduler(out, "task-finished")[0]["key"] == "x" and ws.data["x"] == 2
    ws.validate_state()
    return [ws]


def scenario_input_cancelled_while_executing_here():
    ws = WorkerState("me", 2)
    compute(ws, "x", Task("x", inc, 1))
    ws.handle_free_keys(["x"])  # the scheduler moved x elsewhere; our thread runs on
    assert ws.tasks["x"].state == "cancelled"
    out = compute(ws, "y", Task("y", inc, Ref("x")), who_has={"x": ["p1"]})
    assert gathers(out) == [] and ws.tasks["y"].state == "waiting"
    out = ws.handle_execute_success("x", 2)
    # The cancelled run's result is dropped; the copy the scheduler knows of is fetched.
    assert to_scheduler(out) == [] and gathers(out) == [("p1", ["x"])]
    out = ws.handle_gather_dep_success("p1", {"x": 2})
    assert executes(out) == ["y"]
    ws.validate_state()
    return [ws]


SCENARIOS = [
    scenario_input_cancelled_while_executing_here,
    scenario_asked_to_compute_what_is_in_flight,
    scenario_fetch_compute_and_free,
    scenario_peers_lacking_data,
    scenario_no_known_holder_asks_the_scheduler,
    scenario_fetch_queue_released_or_emptied,
    scenario_cancelled_fetch_resumes,
    scenario_errors_and_cancelled_execution,
    scenario_resumed_attempt_that_fails_runs_again,
    scenario_priorities_and_resources,
    scenario_acquire_replicas_and_recompute_in_flight,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__)
def test_scenario(scenario):
    scenario()


def test_every_transition_in_the_table_is_exercised():
    seen = set()
    for scenario in SCENARIOS:
        for ws in scenario():
            seen |= {(start, finish) for _, start, finish in ws.transition_log}
    table = set(WorkerState.TRANSITIONS)
    assert table - seen == set(), f"never exercised: {sorted(table - seen)}"
    assert seen - table == set(), f"happened outside the table: {sorted(seen - table)}"


# --------------------------------------------------------------------------- fetch batching
def test_fetches_are_batched_per_peer_with_a_cap_on_concurrent_transfers():
    ws = WorkerState("me", 1, transfer_incoming_count_limit=2, transfer_message_bytes_limit=250)
    inputs = {f"i{n}": [f"p{n % 3}"] for n in range(9)}  # three inputs on each of p0, p1, p2
    node = Task("y", lambda *xs: sum(xs), *[Ref(k) for k in inputs])
    out = compute(ws, "y", node, who_has=inputs, nbytes={k: 100 for k in inputs})
    batches = gathers(out)
    # Two peers at a time, at most 250 bytes (two 100-byte inputs) per request.
    assert len(batches) == 2 and len({p for p, _ in batches}) == 2
    assert all(len(keys) == 2 for _, keys in batches)
    served = set()
    for _ in range(20):
        if not ws.in_flight_workers:
            break
        peer = next(iter(ws.in_flight_workers))
        keys = ws.in_flight_workers[peer]
        served |= keys
        out = ws.handle_gather_dep_success(peer, {k: int(k[1:]) for k in keys})
        assert len(ws.in_flight_workers) <= 2
        ws.validate_state()
    assert served == set(inputs)
    assert executes(out) == ["y"]
    node, data = ws.execution_inputs("y")
    assert node(data) == sum(range(9))


def test_ready_tasks_run_highest_priority_first():
    ws = WorkerState("me", 1)
    compute(ws, "block", Task("block", inc, 0), priority=(0,))
    for p in (5, 3, 4):
        compute(ws, f"t{p}", Task(f"t{p}", inc, p), priority=(p,))
    order = []
    key = "block"
    for _ in range(4):
        out = run(ws, key)
        nxt = executes(out)
        if not nxt:
            break
        key = nxt[0]
        order.append(key)
    assert order == ["t3", "t4", "t5"]


def test_paused_worker_starts_nothing_until_resumed():
    ws = WorkerState("me", 1)
    ws.handle_pause()
    out = compute(ws, "x", Task("x", inc, 1))
    assert executes(out) == []
    assert executes(ws.handle_resume()) == ["x"]


def test_unknown_scheduler_message_is_named():
    ws = WorkerState("me", 1)
    with pytest.raises(ValueError, match="'bogus'"):
        ws.handle_scheduler_message({"op": "bogus"})
    with pytest.raises(KeyError, match="'nothing'"):
        ws.execution_inputs("nothing")


def test_seceding_task_gives_its_thread_to_the_next_ready_task():
    ws = WorkerState("me", 1)
    assert executes(compute(ws, "parent", Task("parent", inc, 0))) == ["parent"]
    assert executes(compute(ws, "child", Task("child", inc, 1))) == []
    out = ws.handle_secede("parent")
    assert to_scheduler(out) == [{"op": "long-running", "key": "parent"}]
    assert executes(out) == ["child"]
    ws.validate_state()
    assert to_scheduler(run(ws, "child"), "task-finished")[0]["key"] == "child"
    assert to_scheduler(run(ws, "parent"), "task-finished")[0]["key"] == "parent"
    assert not ws.executing and not ws.long_running
    ws.validate_state()


def test_pushed_data_is_held_reported_and_wakes_waiting_tasks():
    ws = WorkerState("w1", nthreads=1)
    # A task here waits for "x", which the scheduler said to fetch from w2 ...
    instructions = compute(ws, "y", Task("y", inc, Ref("x")), who_has={"x": ["w2"]}, nbytes={"x": 28})
    assert gathers(instructions) == [("w2", ["x"])]
    # ... and a scatter of "z", plus a key waiting on nothing, arrives from a client.
    report, instructions = ws.handle_update_data({"z": 5}, nbytes={"z": 28})
    assert report == {"op": "add-keys", "keys": ["z"], "nbytes": {"z": 28}}
    assert instructions == [] and ws.data["z"] == 5 and ws.tasks["z"].state == "memory"
    # Nothing goes to the scheduler from the worker: it does not know "z" yet.
    assert to_scheduler(instructions) == []
    # Data for a key still being fetched is taken as is; the unsized value is measured.
    ws.handle_gather_dep_failure("w2")  # the fetch failed; "x" is missing now
    report, instructions = ws.handle_update_data({"x": 41})
    assert report["keys"] == ["x"] and report["nbytes"]["x"] == sys.getsizeof(41)
    assert executes(instructions) == ["y"]
    assert run(ws, "y") and ws.data["y"] == 42
    # The scheduler frees a scattered key like any other.
    ws.handle_free_keys(["z"])
    assert "z" not in ws.data
    ws.validate_state()
