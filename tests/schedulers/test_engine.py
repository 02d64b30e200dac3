"""The local engine on every executor: same results, memory released, callbacks in order.

Expected values are computed in plain Python, never by shoal.
"""

from __future__ import annotations

import os
import threading
from operator import add, mul

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shoal
from shoal import config
from shoal.schedulers import Callback, get_scheduler
from shoal.schedulers.processes import ProcessExecutor
from shoal.taskgraph import DataNode, Ref, Task

NUM_WORKERS = 2  # the processes pool of this size is shared with the other test modules


def run(scheduler, graph, keys, **kwargs):
    kwargs.setdefault("num_workers", NUM_WORKERS)
    return get_scheduler(scheduler)(graph, keys, **kwargs)


def inc(x):
    return x + 1


def total(*values):
    return sum(values)


def scaled(value, factor=1, offset=0):
    return value * factor + offset


def singleton(i):
    return [i]


# --- fixed graphs, each with its plain-Python expectation -----------------------


def diamond():
    graph = {
        "a": DataNode("a", 3),
        "b": Task("b", inc, Ref("a")),
        "c": Task("c", mul, Ref("a"), 2),
        "d": Task("d", add, Ref("b"), Ref("c")),
    }
    a = 3
    return graph, "d", inc(a) + a * 2


def fan_out_fan_in(width=200):
    graph = {"root": DataNode("root", 5)}
    for i in range(width):
        graph[("mid", i)] = Task(("mid", i), scaled, Ref("root"), factor=i, offset=Ref("root"))
    graph["sink"] = Task("sink", total, *[Ref(("mid", i)) for i in range(width)])
    return graph, "sink", sum(5 * i + 5 for i in range(width))


def binary_tree(leaves: int, leaf=singleton, combine=add):
    """A pairwise reduction of ``leaves`` tasks; returns graph, root key, depth."""
    graph = {}
    level = []
    for i in range(leaves):
        graph[("leaf", i)] = Task(("leaf", i), leaf, i)
        level.append(("leaf", i))
    depth = 0
    while len(level) > 1:
        depth += 1
        above = []
        for j in range(0, len(level), 2):
            k = ("level", depth, j // 2)
            pair = [Ref(x) for x in level[j:j + 2]]
            graph[k] = Task(k, combine, *pair) if len(pair) == 2 else Task(k, combine, pair[0], type(leaf(0))())
            above.append(k)
        level = above
    return graph, level[0], depth


def tree_reduction():
    graph, root, _ = binary_tree(64, leaf=lambda i: i * i)
    return graph, root, sum(i * i for i in range(64))


def long_chain(n=500):
    graph = {("c", 0): DataNode(("c", 0), 0)}
    for i in range(1, n):
        graph[("c", i)] = Task(("c", i), inc, Ref(("c", i - 1)))
    return graph, ("c", n - 1), n - 1


def shared_intermediates():
    data = list(range(10))
    graph = {
        "x": DataNode("x", data),
        "s": Task("s", sum, Ref("x")),
        "m": Task("m", max, Ref("x")),
        "f1": Task("f1", add, Ref("s"), Ref("m")),
        "f2": Task("f2", mul, Ref("s"), Ref("m")),
    }
    s, m = sum(data), max(data)
    return graph, ["f1", "f2", "s"], [s + m, s * m, s]


def dask_style():
    graph = {
        "x": 1,
        "y": (inc, "x"),
        "z": (add, "y", (inc, "x")),
        "w": (total, *["x", "y", "z"]),
        "listed": (sum, ["x", "y", (mul, "z", 10)]),
        "alias": "w",
        ("t", 0): (mul, "z", 2),
    }
    return graph, ["alias", ("t", 0), "listed"], evaluate_dask_style(graph, ["alias", ("t", 0), "listed"])


def nested_key_lists():
    graph = {("p", i): Task(("p", i), mul, i, i) for i in range(4)}
    graph["sum"] = Task("sum", total, *[Ref(("p", i)) for i in range(4)])
    keys = [[("p", 0), [("p", 1), "sum"]], ("p", 3), [], [[("p", 0)]]]
    return graph, keys, [[0, [1, 0 + 1 + 4 + 9]], 9, [], [[0]]]


def evaluate_dask_style(graph, keys):
    """A deliberately naive recursive evaluator of Dask-style graphs."""

    def value_of(expr):
        if type(expr) is tuple and expr and callable(expr[0]):
            return expr[0](*[value_of(a) for a in expr[1:]])
        if type(expr) is list:
            return [value_of(a) for a in expr]
        try:
            if expr in graph:
                return value_of(graph[expr])
        except TypeError:
            pass
        return expr

    if type(keys) is list:
        return [evaluate_dask_style(graph, k) for k in keys]
    return value_of(graph[keys])


FIXED_GRAPHS = {
    "diamond": diamond,
    "fan-out-fan-in": fan_out_fan_in,
    "tree-reduction": tree_reduction,
    "chain": long_chain,
    "shared-intermediates": shared_intermediates,
    "dask-style": dask_style,
    "nested-key-lists": nested_key_lists,
}


@pytest.mark.parametrize("name", FIXED_GRAPHS)
def test_fixed_graphs_give_the_plain_python_result(scheduler, name):
    graph, keys, expected = FIXED_GRAPHS[name]()
    assert run(scheduler, graph, keys) == expected


def test_the_dask_style_expectation_is_itself_right():
    # The naive evaluator is the reference for the dask-style case: check it by hand once.
    x = 1
    y = x + 1
    z = y + (x + 1)
    assert dask_style()[2] == [x + y + z, z * 2, x + y + z * 10]


@st.composite
def random_dags(draw):
    n = draw(st.integers(min_value=1, max_value=30))
    edges = [sorted(draw(st.sets(st.integers(0, i - 1), max_size=4))) if i else [] for i in range(n)]
    constants = draw(st.lists(st.integers(-1000, 1000), min_size=n, max_size=n))
    requested = sorted(draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=4)))
    return edges, constants, requested


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_dags())
def test_random_dags_give_identical_results_on_every_scheduler(dag):
    edges, constants, requested = dag
    graph = {}
    values = []
    for i, deps in enumerate(edges):
        graph[("n", i)] = Task(("n", i), total, constants[i], *[Ref(("n", j)) for j in deps])
        values.append(constants[i] + sum(values[j] for j in deps))
    keys = [("n", i) for i in requested]
    expected = [values[i] for i in requested]
    for scheduler in ("sync", "threads", "processes"):
        assert run(scheduler, graph, keys) == expected, scheduler


def test_a_single_key_and_duplicate_keys(scheduler):
    graph, key, expected = diamond()
    assert run(scheduler, graph, key) == expected
    assert run(scheduler, graph, [key, key, "a"]) == [expected, expected, 3]
    assert run(scheduler, graph, []) == []


# --- release of intermediates ------------------------------------------------------


def track_peak():
    """A callback recording the most results the engine held at once."""
    peak = {"live": 0}

    def posttask(key, result, graph, state, worker_id):
        peak["live"] = max(peak["live"], len(state.results))

    return Callback(posttask=posttask), peak


def tasks_in_flight_at_most(scheduler: str, workers: int) -> int:
    """How many tasks the executor may run at once (see the executors' ``max_in_flight``)."""
    if scheduler == "sync":
        return 1
    if scheduler == "threads":
        return 2 * workers  # ThreadExecutor queues one extra task per worker
    return ProcessExecutor.max_batch * workers  # one batch of up to max_batch per worker


@pytest.mark.parametrize(
    "scheduler, workers",
    # One processes pool size is enough: each new size starts its own processes.
    [("sync", 1), ("threads", 1), ("threads", 2), ("threads", 4), ("processes", NUM_WORKERS)],
)
def test_peak_live_results_on_a_1000_leaf_tree_reduction(scheduler, workers):
    """Live results stay near ``depth + in-flight tasks``, not near the graph size.

    The engine runs the tree in ``order()`` priority (depth first), so while a
    branch is finished it holds one partial result per level (``depth + 1``).
    On top of that each task in flight may hold its own result and a finished
    sibling waiting for it, hence ``2 * in_flight``. For sync that is tiny, for
    threads ``4 * workers``; the processes executor sends batches of up to
    ``ProcessExecutor.max_batch`` tasks, so there the in-flight term is
    ``max_batch * workers``. Without release the peak would be every node
    (about 2,000).
    """
    graph, root, depth = binary_tree(1000)
    callback, peak = track_peak()
    result = run(scheduler, graph, root, num_workers=workers, callbacks=[callback])
    assert result == list(range(1000))
    bound = depth + 1 + 2 * tasks_in_flight_at_most(scheduler, workers)
    assert peak["live"] <= bound, f"peak {peak['live']} live results > bound {bound}"
    assert bound < len(graph) // 4  # the bound itself is far below holding everything


def test_only_requested_keys_remain_and_none_are_released_early(scheduler):
    graph, root, depth = binary_tree(100)
    requested = [("leaf", 7), ("level", 1, 3), ("level", 3, 0), root]
    seen_results = {}

    def finish(graph, state, errored):
        seen_results.update(state.results)

    result = run(scheduler, graph, requested, callbacks=[Callback(finish=finish)])
    assert result == [[7], [6, 7], list(range(8)), list(range(100))]
    assert set(seen_results) == set(requested)


# --- callbacks -----------------------------------------------------------------------


class Recorder(Callback):
    def __init__(self):
        self.events = []
        self.errored = None

    def start(self, graph):
        self.events.append(("start", None))

    def pretask(self, key, graph, state):
        self.events.append(("pretask", key))

    def posttask(self, key, result, graph, state, worker_id):
        self.events.append(("posttask", key))

    def finish(self, graph, state, errored):
        self.events.append(("finish", None))
        self.errored = errored


def test_callbacks_fire_in_order(scheduler):
    graph, key, expected = fan_out_fan_in(width=50)
    recorder = Recorder()
    assert run(scheduler, graph, key, callbacks=[recorder]) == expected
    events = recorder.events
    assert events[0] == ("start", None)
    assert events[-1] == ("finish", None)
    assert recorder.errored is False
    position = {event: i for i, event in enumerate(events)}
    assert len(position) == len(events), "an event fired twice"
    for k in graph:
        assert position[("pretask", k)] < position[("posttask", k)]
    # A task starts only after every dependency has finished.
    for k, node in graph.items():
        for dep in node.dependencies:
            assert position[("posttask", dep)] < position[("pretask", k)]


class DaskStyleRecorder(Callback):
    """Written for Dask: it overrides the underscored hook names."""

    def __init__(self):
        super().__init__()
        self.events = []

    def _start(self, graph):
        self.events.append("start")

    def _start_state(self, graph, state):
        self.events.append(("start_state", state.finished, state.total))

    def _pretask(self, key, graph, state):
        self.events.append("pretask")

    def _posttask(self, key, result, graph, state, worker_id):
        self.events.append("posttask")

    def _finish(self, graph, state, errored):
        self.events.append(("finish", errored))


def test_start_state_hook_and_dask_style_underscored_hooks(scheduler):
    graph, key, expected = fan_out_fan_in(width=10)
    states = []
    from_functions = Callback(start_state=lambda graph, state: states.append((state.finished, state.total)))
    dask_style = DaskStyleRecorder()
    assert run(scheduler, graph, key, callbacks=[from_functions, dask_style]) == expected
    assert states == [(0, len(graph))]
    events = dask_style.events
    assert events[:2] == ["start", ("start_state", 0, len(graph))]
    assert events[-1] == ("finish", False)
    assert events.count("pretask") == events.count("posttask") == len(graph)


def test_dask_style_state_indexing_says_which_attributes_to_use():
    graph, key, expected = diamond()
    seen = []

    def pretask(key, graph, state):
        seen.append(state.finished)
        state["cache"]

    with pytest.raises(TypeError, match=r"state\['cache'\].*state.results"):
        run("sync", graph, key, callbacks=[Callback(pretask=pretask)])
    assert seen == [0]


def explode(x):
    raise ValueError("boom")


def test_finish_reports_an_error(scheduler):
    graph = {"a": DataNode("a", 1), "bad": Task("bad", explode, Ref("a"))}
    recorder = Recorder()
    with pytest.raises(ValueError, match="boom"):
        run(scheduler, graph, "bad", callbacks=[recorder])
    assert recorder.events[0] == ("start", None)
    assert recorder.events[-1] == ("finish", None)
    assert ("posttask", "bad") not in recorder.events
    assert recorder.errored is True


def test_globally_registered_callbacks_fire(scheduler):
    graph, key, expected = diamond()
    recorder = Recorder()
    with recorder:
        assert run(scheduler, graph, key) == expected
    assert recorder.events[0][0] == "start" and recorder.events[-1][0] == "finish"
    assert {k for kind, k in recorder.events if kind == "posttask"} == set(graph)
    recorder.events.clear()
    run(scheduler, graph, key)
    assert recorder.events == []  # unregistered on leaving the block


# --- workers -------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 3])
def test_threads_worker_ids_are_within_num_workers(workers):
    graph, key, expected = fan_out_fan_in(width=60)
    ids = set()
    callback = Callback(posttask=lambda key, result, graph, state, worker_id: ids.add(worker_id))
    assert run("threads", graph, key, num_workers=workers, callbacks=[callback]) == expected
    assert ids and ids <= set(range(workers))


def test_processes_worker_ids_and_pids():
    graph = {("pid", i): Task(("pid", i), os.getpid) for i in range(40)}
    ids = set()
    callback = Callback(posttask=lambda key, result, graph, state, worker_id: ids.add(worker_id))
    pids = run("processes", graph, list(graph), num_workers=NUM_WORKERS, callbacks=[callback])
    assert ids <= set(range(NUM_WORKERS))
    assert os.getpid() not in pids
    assert 1 <= len(set(pids)) <= NUM_WORKERS


def wait_for_partner(barrier):
    barrier.wait()  # raises BrokenBarrierError after the barrier's timeout
    return threading.get_ident()


def test_threads_run_tasks_concurrently():
    # Two tasks that can only finish together: proves two threads really run at once.
    barrier = threading.Barrier(2, timeout=20)
    graph = {("meet", i): Task(("meet", i), wait_for_partner, barrier) for i in range(2)}
    idents = run("threads", graph, list(graph), num_workers=2)
    assert len(set(idents)) == 2


def test_num_workers_from_config():
    graph, key, expected = fan_out_fan_in(width=30)
    ids = set()
    callback = Callback(posttask=lambda key, result, graph, state, worker_id: ids.add(worker_id))
    with config.set({"num-workers": 3}):
        assert get_scheduler("threads")(graph, key, callbacks=[callback]) == expected
    assert ids <= {0, 1, 2}


# --- nested computations ---------------------------------------------------------------


def nested_compute(n, scheduler):
    """A task that itself computes a graph."""
    inner = {("i", j): Task(("i", j), mul, j, n) for j in range(5)}
    inner["s"] = Task("s", total, *[Ref(("i", j)) for j in range(5)])
    return shoal.get(inner, "s", scheduler=scheduler)


def nested_delayed(n):
    parts = [shoal.delayed(mul, pure=True)(j, n) for j in range(5)]
    return shoal.delayed(sum)(parts).compute(scheduler="threads")


@pytest.mark.timeout(30)
def test_nested_compute_in_a_full_thread_pool_does_not_deadlock():
    # One worker thread: a nested computation waiting on the same pool would hang forever.
    for workers in (1, 2):
        graph = {("outer", n): Task(("outer", n), nested_compute, n, "threads") for n in range(6)}
        graph.update({("d", n): Task(("d", n), nested_delayed, n) for n in range(6)})
        expected = [sum(j * n for j in range(5)) for n in range(6)] * 2
        assert run("threads", graph, list(graph), num_workers=workers) == expected


@pytest.mark.timeout(60)
def test_nested_compute_inside_a_worker_process():
    graph = {("outer", n): Task(("outer", n), nested_compute, n, "processes") for n in range(3)}
    assert run("processes", graph, list(graph)) == [sum(j * n for j in range(5)) for n in range(3)]


# --- several computations at once ----------------------------------------------------------


def slow_square(i):
    import time

    time.sleep(0.002)
    return i * i


@pytest.mark.timeout(60)
def test_concurrent_computations_from_several_threads(scheduler):
    # Shared pools must serve (or queue) computations started from different threads.
    results, errors = {}, []

    def compute(t):
        graph = {("sq", t, i): Task(("sq", t, i), slow_square, i + t) for i in range(40)}
        try:
            results[t] = run(scheduler, graph, list(graph))
        except Exception as exc:  # reported below, with the thread that saw it
            errors.append((t, exc))

    threads = [threading.Thread(target=compute, args=(t,)) for t in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a computation hung"
    assert errors == []
    assert results == {t: [(i + t) ** 2 for i in range(40)] for t in range(3)}


@pytest.mark.timeout(60)
def test_a_callback_may_compute_on_the_same_scheduler(scheduler):
    graph, key, expected = diamond()
    inner, inner_key, inner_expected = shared_intermediates()
    seen = []

    def posttask(k, result, graph, state, worker_id):
        if k == "b":
            seen.append(run(scheduler, inner, inner_key))

    assert run(scheduler, graph, key, callbacks=[Callback(posttask=posttask)]) == expected
    assert seen == [inner_expected]
