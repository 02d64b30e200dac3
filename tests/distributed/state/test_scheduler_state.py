"""SchedulerState without sockets: the scheduler is fed events, its messages inspected.

Worker reports are simulated by calling ``handle_task_finished`` & co directly.
"""

from __future__ import annotations

import pytest

from shoal.distributed.state import (
    KilledWorker, LostDataError, SchedulerPlugin, SchedulerState, UnknownWorkerError,
)
from shoal.distributed.state.errors import UnknownKeyError
from shoal.distributed.state.scheduler_records import task_slots
from shoal.taskgraph import MissingKeyError, Ref, Task

C = "client-1"


def inc(x):
    return x + 1


def add(*xs):
    return sum(xs)


def ops(msgs, op):
    return [(to, m) for to, m in msgs if m["op"] == op]


def computes(msgs):
    """``[(worker, key)]`` of the compute-task messages in ``msgs``."""
    return [(to, m["key"]) for to, m in ops(msgs, "compute-task")]


def freed(msgs):
    """``{worker: set of keys}`` of the free-keys messages in ``msgs``."""
    out: dict = {}
    for to, m in ops(msgs, "free-keys"):
        out.setdefault(to, set()).update(m["keys"])
    return out


class Recorder(SchedulerPlugin):
    def __init__(self):
        self.transitions = []
        self.calls = []

    def transition(self, key, start, finish, **info):
        self.transitions.append((key, start, finish, info))

    def add_worker(self, address, **info):
        self.calls.append(("add_worker", address))

    def remove_worker(self, address, **info):
        self.calls.append(("remove_worker", address))

    def update_graph(self, client, keys, tasks, **info):
        self.calls.append(("update_graph", client, tuple(keys), tuple(tasks)))


def chain_graph():
    """a -> b -> c (c wanted)."""
    return {
        "a": Task("a", inc, 1),
        "b": Task("b", inc, Ref("a")),
        "c": Task("c", inc, Ref("b")),
    }


# --------------------------------------------------------------------------- scenarios
# Each scenario asserts its own behaviour and returns the SchedulerState so that
# test_every_transition_in_the_table_is_exercised can collect what they covered.

def scenario_chain_runs_and_is_forgotten(recorder):
    s = SchedulerState()
    s.add_plugin(recorder)
    s.add_worker("w1", 1)
    msgs = s.update_graph(C, chain_graph(), ["c"])
    assert computes(msgs) == [("w1", "a")]
    assert s.tasks["b"].state == s.tasks["c"].state == "waiting"
    msgs = s.handle_task_finished("w1", "a", nbytes=10)
    assert computes(msgs) == [("w1", "b")]
    msgs = s.handle_task_finished("w1", "b", nbytes=10)
    # b is computing c's input: a is no longer needed, its data is freed; its
    # record stays as lineage so c can be recomputed if its data is lost.
    assert freed(msgs) == {"w1": {"a"}} and s.tasks["a"].state == "released"
    assert computes(msgs) == [("w1", "c")]
    msgs = s.handle_task_finished("w1", "c", nbytes=10)
    assert freed(msgs) == {"w1": {"b"}}
    assert ops(msgs, "key-in-memory") == [(C, {"op": "key-in-memory", "key": "c", "nbytes": 10, "type": ""})]
    assert s.who_has(["c"]) == {"c": ["w1"]} and s.has_what() == {"w1": ["c"]}
    s.validate_state()
    msgs = s.client_releases_keys(C, ["c"])
    assert freed(msgs) == {"w1": {"c"}}
    assert s.tasks == {}
    s.validate_state()
    return s


def scenario_roots_queue(recorder):
    s = SchedulerState()
    s.add_plugin(recorder)
    s.add_worker("w1", 1)
    graph = {("r", i): Task(("r", i), inc, i) for i in range(10)}
    msgs = s.update_graph(C, graph, list(graph))
    assert len(computes(msgs)) == task_slots(1, s.worker_saturation)
    assert s.n_queued == 10 - len(computes(msgs))
    msgs = s.handle_task_finished("w1", computes(msgs)[0][1], nbytes=8)
    assert len(computes(msgs)) == 1
    queued = [k for k, ts in s.tasks.items() if ts.state == "queued"]
    msgs = s.client_releases_keys(C, queued)
    assert all(k not in s.tasks for k in queued) and s.n_queued == 0
    s.validate_state()
    return s


def scenario_no_worker_then_worker_arrives(recorder):
    s = SchedulerState()
    s.add_plugin(recorder)
    s.add_worker("w1", 1)
    graph = {"x": Task("x", inc, 1), "y": Task("y", inc, 2)}
    msgs = s.update_graph(C, graph, ["x", "y"], workers={"x": ["w2"], "y": ["w3"]})
    assert msgs == [] and s.tasks["x"].state == s.tasks["y"].state == "no-worker"
    msgs = s.add_worker("w2", 1)
    assert computes(msgs) == [("w2", "x")]
    s.client_releases_keys(C, ["y"])
    assert "y" not in s.tasks and not s.unrunnable
    s.validate_state()
    return s


def scenario_release_waiting_and_processing(recorder):
    s = SchedulerState()
    s.add_plugin(recorder)
    s.add_worker("w1", 1)
    s.update_graph(C, chain_graph(), ["c"])
    assert s.tasks["a"].state == "processing"
    msgs = s.client_releases_keys(C, ["c"])
    # c and b were waiting, a processing: all go, and a's worker is told to stop it.
    assert freed(msgs) == {"w1": {"a"}}
    assert s.tasks == {} and s.workers["w1"].occupancy == 0
    s.validate_state()
    return s


def scenario_error_propagates_and_is_released(recorder):
    s = SchedulerState()
    s.add_plugin(recorder)
    s.add_worker("w1", 1)
    s.update_graph(C, chain_graph(), ["c", "a"])
    msgs = s.handle_task_erred("w1", "a", exception=ValueError("bad a"), traceback="tb")
    assert s.tasks["a"].state == s.tasks["c"].state == "erred"
    # b erred too, but nobody wants it: it keeps no error, only its lineage.
    assert s.tasks["b"].state == "released"
    reports = {m["key"]: m for _, m in ops(msgs, "task-erred")}
    assert set(reports) == {"a", "c"}
    assert reports["c"]["blamed_key"] == "a" and str(reports["c"]["exception"]) == "bad a"
    msgs = s.client_releases_keys(C, ["c", "a"])
    assert freed(msgs) == {"w1": {"a"}}  # the worker kept the failed task until now
    assert s.tasks == {}
    s.validate_state()
    return s


def scenario_scattered_data(recorder):
    s = SchedulerState()
    s.add_plugin(recorder)
    for w in ("A", "B", "C"):
        s.add_worker(w, 1)
    msgs = s.update_data(C, {"data": ["A", "B"]}, nbytes={"data": 4000}, types={"data": "ndarray"})
    assert msgs == [(C, {"op": "key-in-memory", "key": "data", "nbytes": 4000, "type": "ndarray"})]
    assert sorted(s.who_has(["data"])["data"]) == ["A", "B"] and s.nbytes(["data"]) == {"data": 4000}
    msgs = s.update_graph(C, {"use": Task("use", inc, Ref("data"))}, ["use"])
    assert computes(msgs)[0][0] in ("A", "B")  # where the data already is
    s.client_releases_keys(C, ["use"])
    s.remove_worker("A")
    assert s.tasks["data"].state == "memory"
    msgs = s.remove_worker("B")
    (_, report), = ops(msgs, "task-erred")
    assert isinstance(report["exception"], LostDataError)
    assert report["exception"].workers == ["A", "B"] and "scatter it again" in str(report["exception"])
    s.client_releases_keys(C, ["data"])
    assert s.tasks == {}
    s.validate_state()
    return s


SCENARIOS = [
    scenario_scattered_data,
    scenario_chain_runs_and_is_forgotten,
    scenario_roots_queue,
    scenario_no_worker_then_worker_arrives,
    scenario_release_waiting_and_processing,
    scenario_error_propagates_and_is_released,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__)
def test_scenario(scenario):
    scenario(Recorder())


def test_every_transition_in_the_table_is_exercised():
    recorder = Recorder()
    for scenario in SCENARIOS:
        scenario(recorder)
    seen = {(start, finish) for _, start, finish, _ in recorder.transitions}
    table = set(SchedulerState.TRANSITIONS)
    assert table - seen == set(), f"never exercised: {sorted(table - seen)}"
    assert seen - table == set(), f"happened outside the table: {sorted(seen - table)}"


# --------------------------------------------------------------------------- reference counting
def test_released_key_frees_its_data_and_unneeded_dependencies_but_keeps_shared_ones():
    s = SchedulerState()
    s.add_worker("w1", 2)
    graph = {
        "shared": Task("shared", inc, 1),
        "left": Task("left", inc, Ref("shared")),
        "right": Task("right", inc, Ref("shared")),
    }
    s.update_graph(C, graph, ["left", "right"])
    s.handle_task_finished("w1", "shared", nbytes=8)
    msgs = s.handle_task_finished("w1", "left", nbytes=8)
    assert freed(msgs) == {}  # right still needs shared
    assert s.tasks["shared"].state == "memory"
    msgs = s.client_releases_keys(C, ["left"])
    assert freed(msgs) == {"w1": {"left"}}
    assert s.tasks["shared"].state == "memory"  # right still processing on it
    msgs = s.handle_task_finished("w1", "right", nbytes=8)
    assert freed(msgs) == {"w1": {"shared"}}
    assert s.tasks["shared"].state == "released"  # lineage of right
    msgs = s.client_releases_keys(C, ["right"])
    assert freed(msgs) == {"w1": {"right"}} and s.tasks == {}
    s.validate_state()


def test_two_clients_share_a_key_until_both_release_it():
    s = SchedulerState()
    s.add_worker("w1", 1)
    s.update_graph("c1", {"x": Task("x", inc, 1)}, ["x"])
    msgs = s.update_graph("c2", {"x": Task("x", inc, 1)}, ["x"])
    assert computes(msgs) == []  # same key, same task
    s.handle_task_finished("w1", "x", nbytes=8)
    assert s.client_releases_keys("c1", ["x"]) == []
    assert s.tasks["x"].state == "memory"
    msgs = s.update_graph("c3", {"x": Task("x", inc, 1)}, ["x"])
    assert ops(msgs, "key-in-memory") == [("c3", {"op": "key-in-memory", "key": "x", "nbytes": 8, "type": ""})]
    s.remove_client("c3")
    assert freed(s.remove_client("c2")) == {"w1": {"x"}}
    assert s.tasks == {}


def test_a_graph_may_depend_on_keys_the_scheduler_holds():
    s = SchedulerState()
    s.add_worker("w1", 1)
    s.update_graph(C, {"x": Task("x", inc, 1)}, ["x"])
    s.handle_task_finished("w1", "x", nbytes=8)
    msgs = s.update_graph(C, {"y": Task("y", inc, Ref("x"))}, ["y"])
    (to, msg), = ops(msgs, "compute-task")
    assert msg["who_has"] == {"x": ["w1"]} and msg["nbytes"] == {"x": 8}
    with pytest.raises(UnknownKeyError, match="'gone'"):
        s.update_graph(C, {"z": Task("z", inc, Ref("gone"))}, ["z"])
    with pytest.raises(MissingKeyError):
        s.update_graph(C, {"z": Task("z", inc, 1)}, ["nope"])


# --------------------------------------------------------------------------- placement
def put_in_memory(s, key, worker, nbytes):
    """Run a one-task graph pinned to ``worker`` and report its result there."""
    s.update_graph(C, {key: Task(key, inc, 1)}, [key], workers=[worker])
    s.handle_task_finished(worker, key, nbytes=nbytes)


def occupy(s, worker, n):
    """Keep ``worker`` busy with ``n`` pinned tasks of the default duration."""
    graph = {f"busy-{worker}-{i}": Task(f"busy-{worker}-{i}", inc, i) for i in range(n)}
    s.update_graph(C, graph, list(graph), workers=[worker])


def test_task_goes_where_its_input_bytes_are():
    s = SchedulerState()
    s.add_worker("A", 1)
    s.add_worker("B", 1)
    put_in_memory(s, "big", "A", 1_000_000)
    put_in_memory(s, "small", "B", 1_000)
    msgs = s.update_graph(C, {"y": Task("y", add, Ref("big"), Ref("small"))}, ["y"])
    assert computes(msgs) == [("A", "y")]


def test_task_avoids_a_much_busier_holder_unless_transfer_costs_more():
    bandwidth = 100e6
    s = SchedulerState(bandwidth=bandwidth, default_task_duration=0.5)
    s.add_worker("A", 1)
    s.add_worker("B", 1)
    put_in_memory(s, "x", "A", 1_000_000)  # 0.01 s to move
    occupy(s, "A", 20)  # 10 s of queued work on A's one thread
    msgs = s.update_graph(C, {"y": Task("y", inc, Ref("x"))}, ["y"])
    assert computes(msgs) == [("B", "y")]
    # Moving 5 GB (50 s) costs more than waiting for A's 10 s of work.
    put_in_memory(s, "huge", "A", 5_000_000_000)
    msgs = s.update_graph(C, {"z": Task("z", inc, Ref("huge"))}, ["z"])
    assert computes(msgs) == [("A", "z")]
    s.validate_state()


def test_occupancy_is_kept_incrementally_and_drops_to_zero():
    s = SchedulerState(default_task_duration=0.5)
    s.add_worker("A", 2)
    occupy(s, "A", 4)
    assert s.workers["A"].occupancy == pytest.approx(4 * 0.5)
    for key in [ts.key for ts in list(s.workers["A"].processing)]:
        s.handle_task_finished("A", key, nbytes=1, duration=0.1)
    assert s.workers["A"].occupancy == 0 and s.total_occupancy == pytest.approx(0)


def test_measured_durations_replace_the_default_estimate():
    s = SchedulerState(default_task_duration=0.5)
    s.add_worker("A", 1)
    g = {f"f-{i:08x}": Task(f"f-{i:08x}", inc, i) for i in range(3)}
    keys = list(g)
    s.update_graph(C, {keys[0]: g[keys[0]]}, [keys[0]], workers=["A"])
    s.handle_task_finished("A", keys[0], nbytes=1, duration=2.0)
    s.update_graph(C, {k: g[k] for k in keys[1:]}, keys[1:], workers=["A"])
    assert s.workers["A"].occupancy == pytest.approx(2 * 2.0)


# --------------------------------------------------------------------------- queuing
def test_thousand_roots_on_two_one_thread_workers_are_queued_not_flooded():
    s = SchedulerState()
    s.add_worker("w1", 1)
    s.add_worker("w2", 1)
    graph = {("r", i): Task(("r", i), inc, i) for i in range(1000)}
    msgs = s.update_graph(C, graph, list(graph))
    slots = 2 * task_slots(1, s.worker_saturation)
    sent = computes(msgs)
    assert 2 <= len(sent) <= slots <= 4
    assert s.n_queued == 1000 - len(sent)
    # Higher-priority (earlier in order) roots go first.
    assert {k for _, k in sent} == {("r", i) for i in range(len(sent))}
    finished = set()
    in_flight = list(sent)
    for _ in range(2000):
        if not in_flight:
            break
        worker, key = in_flight.pop(0)
        msgs = s.handle_task_finished(worker, key, nbytes=8)
        finished.add(key)
        in_flight += computes(msgs)
        assert all(len(ws.processing) <= ws.slots for ws in s.workers.values())
        assert len(in_flight) <= slots
    assert finished == set(graph)
    assert s.n_queued == 0
    s.validate_state()


def test_user_priority_jumps_the_queue():
    s = SchedulerState()
    s.add_worker("w1", 1)
    low = {("low", i): Task(("low", i), inc, i) for i in range(10)}
    msgs = s.update_graph(C, low, list(low))
    first = computes(msgs)
    s.update_graph(C, {"urgent": Task("urgent", inc, 0)}, ["urgent"], priority=10)
    msgs = s.handle_task_finished("w1", first[0][1], nbytes=8)
    assert computes(msgs) == [("w1", "urgent")]


def test_new_worker_takes_queued_work():
    s = SchedulerState()
    s.add_worker("w1", 1)
    graph = {("r", i): Task(("r", i), inc, i) for i in range(10)}
    s.update_graph(C, graph, list(graph))
    msgs = s.add_worker("w2", 2)
    assert [w for w, _ in computes(msgs)] == ["w2"] * task_slots(2, s.worker_saturation)


def test_roots_wait_in_the_queue_while_there_are_no_workers():
    s = SchedulerState()
    assert s.update_graph(C, {"r": Task("r", inc, 1)}, ["r"]) == []
    assert s.tasks["r"].state == "queued"
    assert computes(s.add_worker("w1", 1)) == [("w1", "r")]


# --------------------------------------------------------------------------- restrictions
def test_worker_and_resource_restrictions():
    s = SchedulerState()
    s.add_worker("cpu", 4, name="cpu-box")
    s.add_worker("gpu", 1, resources={"GPU": 2})
    graph = {f"g{i}": Task(f"g{i}", inc, i) for i in range(3)}
    msgs = s.update_graph(C, graph, list(graph), resources={"GPU": 1})
    assert {w for w, _ in computes(msgs)} == {"gpu"}
    msgs = s.update_graph(C, {"named": Task("named", inc, 1)}, ["named"], workers=["cpu-box"])
    assert computes(msgs) == [("cpu", "named")]
    msgs = s.update_graph(C, {"big": Task("big", inc, 1)}, ["big"], resources={"GPU": 4})
    assert s.tasks["big"].state == "no-worker"
    msgs = s.add_worker("gpu2", 1, resources={"GPU": 4})
    assert computes(msgs) == [("gpu2", "big")]
    msgs = s.update_graph(C, {"loose": Task("loose", inc, 1)}, ["loose"], workers=["absent"],
                          allow_other_workers=True)
    assert len(computes(msgs)) == 1
    s.validate_state()


# --------------------------------------------------------------------------- retries and cancel
def test_retries_then_success_and_retries_exhausted():
    s = SchedulerState()
    s.add_worker("w1", 1)
    s.update_graph(C, {"flaky": Task("flaky", inc, 1)}, ["flaky"], retries=2)
    for attempt in range(2):
        msgs = s.handle_task_erred("w1", "flaky", exception=OSError(attempt))
        # The failed run is freed on the worker before the retry is sent.
        assert [m["op"] for _, m in msgs] == ["free-keys", "compute-task"]
        assert ops(msgs, "task-erred") == []
    s.handle_task_finished("w1", "flaky", nbytes=8)
    assert s.tasks["flaky"].state == "memory"

    s.update_graph(C, {"doomed": Task("doomed", inc, 1)}, ["doomed"], retries=1)
    s.handle_task_erred("w1", "doomed", exception=OSError("1"))
    msgs = s.handle_task_erred("w1", "doomed", exception=OSError("2"), exception_text="OSError('2')")
    (_, report), = ops(msgs, "task-erred")
    assert report["key"] == "doomed" and str(report["exception"]) == "2"
    msgs = s.retry_keys(C, ["doomed"])
    assert computes(msgs) == [("w1", "doomed")]
    s.validate_state()


def test_retry_reruns_erred_dependencies_first():
    s = SchedulerState()
    s.add_worker("w1", 1)
    s.update_graph(C, chain_graph(), ["c"])
    s.handle_task_erred("w1", "a", exception=ValueError("a"))
    assert s.tasks["c"].state == "erred"
    msgs = s.retry_keys(C, ["c"])
    assert computes(msgs) == [("w1", "a")]
    assert s.tasks["c"].state == "waiting"
    s.handle_task_finished("w1", "a", nbytes=1)
    s.handle_task_finished("w1", "b", nbytes=1)
    msgs = s.handle_task_finished("w1", "c", nbytes=1)
    assert ops(msgs, "key-in-memory")
    s.validate_state()


def test_cancel_stops_the_task_and_tells_the_client():
    s = SchedulerState()
    s.add_worker("w1", 1)
    s.update_graph(C, {"slow": Task("slow", inc, 1)}, ["slow"])
    msgs = s.cancel_keys(C, ["slow"])
    assert (C, {"op": "cancelled-keys", "keys": ["slow"]}) in msgs
    assert freed(msgs) == {"w1": {"slow"}}
    assert s.tasks == {}
    # A late report of the cancelled task is answered with free-keys.
    assert freed(s.handle_task_finished("w1", "slow", nbytes=1)) == {"w1": {"slow"}}


# --------------------------------------------------------------------------- workers
def lineage_graph():
    return {
        "x": Task("x", inc, 1),
        "y": Task("y", inc, Ref("x")),
        "z": Task("z", inc, Ref("y")),
    }


def test_lost_worker_recomputes_lost_inputs_of_a_task_processing_elsewhere():
    s = SchedulerState()
    s.add_worker("A", 1)
    s.add_worker("B", 1)
    s.update_graph(C, lineage_graph(), ["z"], workers={"x": ["A"], "y": ["B"]},
                   allow_other_workers=True)
    s.handle_task_finished("A", "x", nbytes=10)
    assert s.tasks["y"].processing_on.address == "B"
    msgs = s.remove_worker("A")
    # x's only copy died with A: y is stopped on B, x recomputed (on B, the only worker).
    assert freed(msgs) == {"B": {"y"}}
    assert computes(msgs) == [("B", "x")]
    assert s.tasks["y"].state == "waiting"
    s.validate_state()
    assert computes(s.handle_task_finished("B", "x", nbytes=10)) == [("B", "y")]
    assert computes(s.handle_task_finished("B", "y", nbytes=10)) == [("B", "z")]
    assert ops(s.handle_task_finished("B", "z", nbytes=10), "key-in-memory")
    s.validate_state()


def test_lost_worker_reschedules_its_processing_tasks_and_walks_lineage():
    s = SchedulerState()
    s.add_worker("A", 1)
    s.add_worker("B", 1)
    s.update_graph(C, lineage_graph(), ["z"], workers=["A"], allow_other_workers=True)
    s.handle_task_finished("A", "x", nbytes=10)
    s.handle_task_finished("A", "y", nbytes=10)
    assert s.tasks["z"].processing_on.address == "A"
    assert s.tasks["x"].state == "released"  # freed once y had it
    msgs = s.remove_worker("A")
    # z was processing on A and its input y was only on A: walk back to x.
    assert computes(msgs) == [("B", "x")]
    assert s.tasks["z"].suspicious == 1 and s.tasks["z"].killed_on == ["A"]
    assert {k: s.tasks[k].state for k in "xyz"} == {"x": "processing", "y": "waiting", "z": "waiting"}
    s.validate_state()


def test_killed_worker_after_allowed_failures_names_task_and_workers():
    s = SchedulerState(allowed_failures=3)
    for w in ("A", "B", "C", "D"):
        s.add_worker(w, 1)
    s.update_graph(C, {"bomb": Task("bomb", inc, 1)}, ["bomb"])
    died = []
    for _ in range(3):
        worker = s.tasks["bomb"].processing_on.address
        died.append(worker)
        msgs = s.remove_worker(worker)
    (_, report), = ops(msgs, "task-erred")
    err = report["exception"]
    assert isinstance(err, KilledWorker)
    assert err.key == "bomb" and err.workers == died
    assert "'bomb'" in str(err) and all(w in str(err) for w in died)
    assert s.tasks["bomb"].state == "erred"
    assert any(topic == "killed-worker" for _, topic, _ in s.events)
    s.validate_state()


def test_a_death_counts_once_against_the_task_and_leaves_retries_alone():
    s = SchedulerState(allowed_failures=2)
    for w in ("A", "B", "C"):
        s.add_worker(w, 1)
    s.update_graph(C, {"bomb": Task("bomb", inc, 1)}, ["bomb"], retries=5)
    first = s.tasks["bomb"].processing_on.address
    s.remove_worker(first, reason="connection closed")
    assert s.remove_worker(first, reason="missed heartbeats") == []  # the same death, reported again
    assert s.tasks["bomb"].suspicious == 1 and s.tasks["bomb"].killed_on == [first]
    assert s.tasks["bomb"].state == "processing" and s.tasks["bomb"].retries == 5
    second = s.tasks["bomb"].processing_on.address
    msgs = s.remove_worker(second)
    (_, report), = ops(msgs, "task-erred")
    assert report["exception"].workers == [first, second]
    # Retries are for exceptions the task raised (as in Dask): deaths never spend them.
    assert s.tasks["bomb"].state == "erred" and s.tasks["bomb"].retries == 5
    s.validate_state()


def test_a_worker_that_closes_on_purpose_is_not_held_against_its_tasks():
    s = SchedulerState(allowed_failures=1)
    for w in ("A", "B"):
        s.add_worker(w, 1)
    s.update_graph(C, {"slow": Task("slow", inc, 1)}, ["slow"])
    closing = s.tasks["slow"].processing_on.address
    msgs = s.remove_worker(closing, reason="worker closed", expected=True)
    other = ({"A", "B"} - {closing}).pop()
    assert computes(msgs) == [(other, "slow")]  # rescheduled, not failed
    assert s.tasks["slow"].suspicious == 0 and not s.tasks["slow"].killed_on
    msgs = s.remove_worker(other)  # a death, with allowed_failures=1: fails now
    (_, report), = ops(msgs, "task-erred")
    assert isinstance(report["exception"], KilledWorker) and report["exception"].workers == [other]
    s.validate_state()


@pytest.mark.parametrize("bad", [-1, "3", 2.5, None, True])
def test_allowed_failures_must_be_a_whole_number_of_deaths(bad):
    # Checked at once: a bad value used to fail only when a worker died, inside remove_worker.
    with pytest.raises(ValueError, match=r"allowed_failures must be a whole number of worker deaths >= 0"):
        SchedulerState(allowed_failures=bad)


def test_paused_worker_gets_no_new_tasks_until_resumed():
    s = SchedulerState()
    s.add_worker("A", 1)
    s.set_worker_status("A", "paused")
    msgs = s.update_graph(C, {"r": Task("r", inc, 1)}, ["r"])
    assert msgs == [] and s.tasks["r"].state == "queued"
    msgs = s.update_graph(C, {"n": Task("n", inc, Ref("r"))}, ["n"])
    assert computes(s.set_worker_status("A", "running")) == [("A", "r")]
    with pytest.raises(ValueError, match="status"):
        s.set_worker_status("A", "sleepy")
    s.validate_state()


def test_heartbeats_and_stale_workers():
    s = SchedulerState()
    s.add_worker("A", 1, now=100.0)
    s.add_worker("B", 1, now=100.0)
    s.heartbeat_worker("A", now=130.0, metrics={"memory": 5})
    assert s.stale_workers(now=140.0, timeout=30.0) == ["B"]
    assert s.workers["A"].metrics == {"memory": 5}
    s.remove_worker("B")
    with pytest.raises(UnknownWorkerError, match="'B'"):
        s.heartbeat_worker("B")
    with pytest.raises(ValueError, match="already registered"):
        s.add_worker("A", 1)


def test_missing_data_recomputes_or_points_to_another_replica():
    s = SchedulerState()
    s.add_worker("A", 1)
    s.add_worker("B", 1)
    s.add_worker("C", 1)
    put_in_memory(s, "x", "A", 10)
    s.handle_add_keys("B", ["x"], {"x": 10})
    assert sorted(s.who_has(["x"])["x"]) == ["A", "B"]
    msgs = s.handle_missing_data("C", "x", "A")
    assert msgs == [("C", {"op": "update-who-has", "who_has": {"x": ["B"]}})]
    s.update_graph(C, {"y": Task("y", inc, Ref("x"))}, ["y"], workers=["C"])
    msgs = s.handle_missing_data("C", "x", "B")
    # x is lost: y is stopped on C and x recomputed.
    assert freed(msgs) == {"C": {"y"}} and len(computes(msgs)) == 1
    s.validate_state()


# --------------------------------------------------------------------------- plugins and events
def test_plugins_see_workers_graphs_and_transitions_and_cannot_break_the_scheduler():
    class Broken(SchedulerPlugin):
        def transition(self, *args, **kwargs):
            raise RuntimeError("dashboard bug")

    recorder = Recorder()
    s = SchedulerState(event_log_size=5)
    s.add_plugin(Broken())
    s.add_plugin(recorder)
    s.add_worker("A", 1)
    s.update_graph(C, {"x": Task("x", inc, 1)}, ["x"])
    s.handle_task_finished("A", "x", nbytes=1)
    s.remove_worker("A")
    assert recorder.calls[0] == ("add_worker", "A")
    assert recorder.calls[1] == ("update_graph", C, ("x",), ("x",))
    assert recorder.calls[-1] == ("remove_worker", "A")
    assert ("x", "waiting", "processing", {"worker": "A"}) in recorder.transitions
    assert ("x", "processing", "memory", {}) in recorder.transitions
    assert len(s.events) == 5  # bounded
    assert any(topic == "plugin-error" for _, topic, _ in s.events)


def test_worker_messages_dispatch_by_op():
    s = SchedulerState()
    s.add_worker("A", 1)
    s.update_graph(C, {"x": Task("x", inc, 1)}, ["x"])
    msgs = s.handle_worker_message("A", {"op": "task-finished", "key": "x", "nbytes": 3, "duration": 0.1, "type": "int"})
    assert msgs == [(C, {"op": "key-in-memory", "key": "x", "nbytes": 3, "type": "int"})]
    assert s.nbytes() == {"x": 3}
    with pytest.raises(ValueError, match="'bogus'"):
        s.handle_worker_message("A", {"op": "bogus"})


def test_seceded_task_frees_its_slot_for_the_tasks_it_waits_on():
    s = SchedulerState(default_task_duration=0.5)
    s.add_worker("A", 1)
    s.update_graph(C, {"parent": Task("parent", inc, 0)}, ["parent"])
    children = {("child", i): Task(("child", i), inc, i) for i in range(5)}
    msgs = s.update_graph(C, children, list(children))
    assert len(computes(msgs)) == task_slots(1, s.worker_saturation) - 1
    queued_before = s.n_queued
    msgs = s.handle_worker_message("A", {"op": "long-running", "key": "parent"})
    assert len(computes(msgs)) == 1 and s.n_queued == queued_before - 1
    assert s.tasks["parent"].state == "processing"
    assert s.workers["A"].occupancy == pytest.approx(0.5 * len(s.workers["A"].processing))
    s.validate_state()
    # Losing the worker reschedules the seceded task too.
    s.add_worker("B", 1)
    s.remove_worker("A")
    assert s.tasks["parent"].state in ("queued", "processing")  # B's slots may be full
    assert s.tasks["parent"].suspicious == 1
    s.validate_state()
    for _ in range(10):
        if s.tasks["parent"].state == "memory":
            break
        ts = next(iter(s.workers["B"].processing))
        s.handle_task_finished("B", ts.key, nbytes=1)
    assert s.tasks["parent"].state == "memory"
    s.validate_state()


def test_a_restarted_worker_keeps_its_name_when_the_old_entry_goes_late():
    # the new process (same name, new address) registers before the old entry is removed
    s = SchedulerState()
    s.add_worker("tcp://old:1", 1, name="worker-a")
    s.add_worker("tcp://new:2", 1, name="worker-a")
    s.remove_worker("tcp://old:1", reason="restarted")
    msgs = s.update_graph(C, {"x": Task("x", inc, 1)}, ["x"], workers=["worker-a"])
    assert computes(msgs) == [("tcp://new:2", "x")]
    s.validate_state()
