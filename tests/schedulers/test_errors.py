"""Bad input and failing tasks give clear errors on every scheduler, and never hang."""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from operator import add

import pytest

import shoal
from shoal import config
from shoal.schedulers import get_scheduler, scheduler_names
from shoal.schedulers.errors import RemoteTraceback
from shoal.schedulers.processes import WorkerDiedError
from shoal.taskgraph import CycleError, DataNode, MissingDependencyError, MissingKeyError, Ref, Task

NUM_WORKERS = 2
SHOAL_DIR = os.path.dirname(shoal.__file__)

pytestmark = pytest.mark.timeout(60)  # any hang here is a bug: fail fast, naming the test


def run(scheduler, graph, keys, **kwargs):
    return get_scheduler(scheduler)(graph, keys, num_workers=NUM_WORKERS, **kwargs)


# --- exceptions raised by tasks ---------------------------------------------------------


class PlainError(Exception):
    pass


class FieldError(Exception):
    """Its __init__ takes other arguments than its message: naive pickling garbles it."""

    def __init__(self, field):
        super().__init__(f"bad value in field {field!r}")
        self.field = field


class TwoPartError(Exception):
    """Naive pickling cannot even rebuild this one (``__init__`` needs two arguments)."""

    def __init__(self, what, why):
        super().__init__(f"{what} failed: {why}")
        self.what, self.why = what, why


def check_input(x):
    raise PlainError(f"input {x} is not acceptable")


def users_function(x):
    return check_input(x)  # the error comes from one level deeper


def raise_field_error(x):
    raise FieldError("age")


def raise_two_part_error(x):
    raise TwoPartError("loading", "disk full")


def raise_value_error(x):
    raise ValueError(f"cannot use {x}")


def graph_calling(func):
    return {"x": DataNode("x", 41), "y": Task("y", inc, Ref("x")), "bad": Task("bad", func, Ref("y"))}


def inc(x):
    return x + 1


@pytest.mark.parametrize(
    "func, kind, message",
    [
        (raise_value_error, ValueError, "cannot use 42"),
        (users_function, PlainError, "input 42 is not acceptable"),
        (raise_field_error, FieldError, "bad value in field 'age'"),
        (raise_two_part_error, TwoPartError, "loading failed: disk full"),
    ],
    ids=["builtin", "custom", "custom-init", "custom-two-args"],
)
def test_task_exception_keeps_type_and_message(scheduler, func, kind, message):
    with pytest.raises(kind) as info:
        run(scheduler, graph_calling(func), "bad")
    assert type(info.value) is kind
    assert str(info.value) == message
    assert any("'bad'" in note for note in getattr(info.value, "__notes__", ())), "the note names the task"


def test_custom_exception_attributes_survive(scheduler):
    with pytest.raises(TwoPartError) as info:
        run(scheduler, graph_calling(raise_two_part_error), "bad")
    assert (info.value.what, info.value.why) == ("loading", "disk full")
    with pytest.raises(FieldError) as info:
        run(scheduler, graph_calling(raise_field_error), "bad")
    assert info.value.field == "age"


@pytest.mark.parametrize("scheduler", ["sync", "threads"])
def test_in_process_traceback_ends_in_the_users_function(scheduler):
    with pytest.raises(PlainError) as info:
        run(scheduler, graph_calling(users_function), "bad")
    frames = traceback.extract_tb(info.value.__traceback__)
    assert frames[-1].name == "check_input"
    assert frames[-2].name == "users_function"
    # Nothing of the graph model's call machinery sits between the engine and the user's code.
    assert not [f for f in frames if f.filename.startswith(os.path.join(SHOAL_DIR, "taskgraph"))]


def test_processes_attach_the_remote_traceback():
    with pytest.raises(PlainError, match="input 42 is not acceptable") as info:
        run("processes", graph_calling(users_function), "bad")
    cause = info.value.__cause__
    assert isinstance(cause, RemoteTraceback)
    text = str(cause)
    assert "users_function" in text and "check_input" in text
    assert "PlainError: input 42 is not acceptable" in text


class HoldsALock(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.lock = threading.Lock()  # cannot be pickled


def raise_unpicklable_error(x):
    raise HoldsALock("the message still arrives")


def test_processes_unpicklable_exception_still_reports_type_and_message():
    with pytest.raises(Exception) as info:
        run("processes", graph_calling(raise_unpicklable_error), "bad")
    assert "HoldsALock" in str(info.value) and "the message still arrives" in str(info.value)
    assert any("'bad'" in note for note in getattr(info.value, "__notes__", ()))


def nap(x):
    time.sleep(0.05)
    return x


def test_a_failure_leaves_the_scheduler_usable(scheduler):
    # Many tasks are still running when one fails; their late results must not
    # leak into the next computation.
    graph = {("slow", i): Task(("slow", i), nap, i) for i in range(12)}
    graph["bad"] = Task("bad", raise_value_error, 0)
    with pytest.raises(ValueError, match="cannot use 0"):
        run(scheduler, graph, list(graph))
    follow_up = {("slow", i): Task(("slow", i), add, i, 100) for i in range(12)}
    assert run(scheduler, follow_up, list(follow_up)) == [i + 100 for i in range(12)]


# --- the shape of the graph -------------------------------------------------------------


def test_cycle_is_named(scheduler):
    graph = {"a": Task("a", inc, Ref("b")), "b": Task("b", inc, Ref("a"))}
    with pytest.raises(CycleError) as info:
        run(scheduler, graph, "a")
    assert set(info.value.cycle) == {"a", "b"}
    assert "'a'" in str(info.value) and "'b'" in str(info.value)


def test_three_cycle_inside_a_larger_graph_is_named(scheduler):
    graph = {("in", i): DataNode(("in", i), i) for i in range(10)}
    graph["p"] = Task("p", add, Ref(("in", 0)), Ref("r"))
    graph["q"] = Task("q", inc, Ref("p"))
    graph["r"] = Task("r", add, Ref("q"), Ref(("in", 1)))
    graph["out"] = Task("out", add, Ref("r"), Ref(("in", 2)))
    graph["unrelated"] = Task("unrelated", inc, Ref(("in", 3)))
    with pytest.raises(CycleError) as info:
        run(scheduler, graph, ["unrelated", "out"])
    assert set(info.value.cycle) == {"p", "q", "r"}
    for key in ("'p'", "'q'", "'r'"):
        assert key in str(info.value)


def test_self_dependency_and_dask_style_cycle():
    with pytest.raises(CycleError, match="'a'"):
        shoal.get({"a": Task("a", inc, Ref("a"))}, "a", scheduler="sync")
    with pytest.raises(CycleError) as info:
        shoal.get({"x": (inc, "y"), "y": (inc, "x")}, "x", scheduler="sync")
    assert set(info.value.cycle) == {"x", "y"}


class GraphCollection:
    """The smallest collection: a graph and its output keys."""

    def __init__(self, graph, keys):
        self.graph, self.keys = graph, keys

    def __shoal_graph__(self):
        return self.graph

    def __shoal_keys__(self):
        return self.keys

    def __shoal_postcompute__(self):
        return list, ()


@pytest.mark.parametrize("optimize_graph", [True, False])
def test_cycle_in_a_collection_is_named_by_compute(optimize_graph):
    # With optimize_graph the graph is fused before it runs: the cycle must not
    # disappear into a fused task.
    graph = {
        "x": Task("x", inc, Ref("a")),
        "y": Task("y", inc, Ref("a")),
        "a": Task("a", inc, Ref("b")),
        "b": Task("b", inc, Ref("a")),
    }
    with pytest.raises(CycleError) as info:
        shoal.compute(GraphCollection(graph, ["x", "y"]), scheduler="sync", optimize_graph=optimize_graph)
    assert set(info.value.cycle) == {"a", "b"}


def test_missing_dependency_is_named(scheduler):
    graph = {"x": DataNode("x", 1), "y": Task("y", add, Ref("x"), Ref("not-there"))}
    with pytest.raises(MissingDependencyError) as info:
        run(scheduler, graph, "y")
    assert info.value.missing == "not-there" and info.value.needed_by == "y"
    assert "'not-there'" in str(info.value) and "'y'" in str(info.value)
    assert isinstance(info.value, KeyError)  # what code catching KeyError expects


def test_missing_dependency_hint_suggests_near_keys_but_never_the_task_itself():
    alone = {"y": Task("y", inc, Ref("x"))}
    with pytest.raises(MissingDependencyError) as info:
        run("sync", alone, "y")
    assert "Did you mean" not in str(info.value)
    typo = {"load-data": DataNode("load-data", 1), "total": Task("total", inc, Ref("load_data"))}
    with pytest.raises(MissingDependencyError, match="Did you mean 'load-data'"):
        run("sync", typo, "total")


def test_missing_requested_keys_are_named(scheduler):
    graph = {"x": DataNode("x", 1), ("y", 0): Task(("y", 0), inc, Ref("x"))}
    with pytest.raises(MissingKeyError) as info:
        run(scheduler, graph, ["x", [("y", 1), "z"]])
    assert info.value.missing == [("y", 1), "z"]
    assert "('y', 1)" in str(info.value) and "'z'" in str(info.value)


def test_a_tuple_of_keys_is_one_key_and_the_error_says_to_use_a_list(scheduler):
    graph = {"x": DataNode("x", 1), "y": DataNode("y", 2)}
    with pytest.raises(MissingKeyError, match=r"pass a list: \['x', 'y'\]"):
        run(scheduler, graph, ("x", "y"))
    assert run(scheduler, graph, ["x", "y"]) == [1, 2]


@pytest.mark.parametrize("keys", [{"x": 1}, {"x"}, ["x", {"y"}]])
def test_unhashable_requested_keys_are_refused_clearly(keys):
    with pytest.raises(TypeError, match="cannot be a key of a graph.*list of keys"):
        shoal.get({"x": 1, "y": 2}, keys, scheduler="sync")


@pytest.mark.parametrize("graph", [None, [("x", 1)], "x"])
def test_a_graph_that_is_not_a_mapping_is_refused_clearly(graph):
    with pytest.raises(TypeError, match="A task graph is a mapping of keys to tasks.*got"):
        shoal.get(graph, "x", scheduler="sync")


# --- scheduler names --------------------------------------------------------------------


def test_unknown_scheduler_lists_the_valid_names():
    x = shoal.delayed(inc)(1)
    attempts = [
        lambda: get_scheduler("quantum"),
        lambda: shoal.get({"a": 1}, "a", scheduler="quantum"),
        lambda: x.compute(scheduler="quantum"),
    ]
    for attempt in attempts:
        with pytest.raises(ValueError) as info:
            attempt()
        message = str(info.value)
        assert "'quantum'" in message
        for name in ("sync", "threads", "processes"):
            assert repr(name) in message
    with config.set(scheduler="quantum"):
        with pytest.raises(ValueError, match="'quantum'"):
            x.compute()
    assert {"sync", "threads", "processes"} <= set(scheduler_names())


# --- the processes scheduler: pickling and dying workers --------------------------------


def test_unpicklable_function_names_the_task_and_suggests_threads():
    lock = threading.Lock()

    def locked_inc(x):
        with lock:
            return x + 1

    graph = {"x": DataNode("x", 1), "locked": Task("locked", locked_inc, Ref("x"))}
    with pytest.raises(TypeError) as info:
        run("processes", graph, "locked")
    message = str(info.value)
    assert "'locked'" in message and "threads" in message
    # The same graph is fine where nothing needs pickling.
    assert run("threads", graph, "locked") == 2


def make_lock(x):
    return threading.Lock()


def test_unpicklable_result_names_the_task():
    graph = {"x": DataNode("x", 1), "lock": Task("lock", make_lock, Ref("x"))}
    with pytest.raises(TypeError) as info:
        run("processes", graph, "lock")
    message = str(info.value)
    assert "'lock'" in message and "pickle" in message and "threads" in message


def exit_abruptly(x):
    os._exit(1)


def test_dead_worker_is_reported_and_the_pool_replaced():
    graph = {"x": DataNode("x", 1), "crash": Task("crash", exit_abruptly, Ref("x"))}
    with pytest.raises(WorkerDiedError) as info:
        run("processes", graph, "crash")
    assert "'crash'" in str(info.value)
    # The next computation gets a working pool.
    follow_up = {("sq", i): Task(("sq", i), pow, i, 2) for i in range(20)}
    assert run("processes", follow_up, list(follow_up)) == [i**2 for i in range(20)]


def exit_politely(x):
    sys.exit(x)


def test_sys_exit_in_a_task_raises_system_exit_on_every_scheduler(scheduler):
    # On processes it killed the worker and was reported as a crash ("killed by SIGKILL").
    graph = {"x": DataNode("x", 3), "leave": Task("leave", exit_politely, Ref("x"))}
    with pytest.raises(SystemExit) as info:
        run(scheduler, graph, "leave")
    assert info.value.code == 3
    follow_up = {("sq", i): Task(("sq", i), pow, i, 2) for i in range(5)}
    assert run(scheduler, follow_up, list(follow_up)) == [i**2 for i in range(5)]


def test_dead_worker_report_gives_its_real_exit_code():
    graph = {"x": DataNode("x", 1), "crash": Task("crash", exit_abruptly, Ref("x"))}
    with pytest.raises(WorkerDiedError, match="exited with code 1"):
        run("processes", graph, "crash")
