"""Engine callbacks and the diagnostics built on them, on every local scheduler."""

from __future__ import annotations

import io
import os
import threading
import time
from operator import add, mul

import psutil
import pytest

from shoal.diagnostics import Callback, ProgressBar, Profiler, ResourceData, ResourceProfiler, TaskData, visualize
from shoal.schedulers import get_scheduler
from shoal.schedulers.diagnostics import progress as progress_module
from shoal.taskgraph import DataNode, Ref, Task, key_prefix

NUM_WORKERS = 2
SCHEDULERS = ["sync", "threads", "processes"]
LOAD = "load-parts-0123456789abcdef"
COMBINE = "combine-totals-fedcba9876543210"


def run(scheduler, graph, keys, **kwargs):
    return get_scheduler(scheduler)(graph, keys, num_workers=NUM_WORKERS, **kwargs)


def workers_of(scheduler):
    return 1 if scheduler == "sync" else NUM_WORKERS


def nap(x, seconds):
    time.sleep(seconds)
    return x


def fail(*args):
    raise ValueError("this task fails on purpose")


def make_graph(n=6, seconds=0.0):
    """Load ``n`` numbers, double each, and add them up; returns graph, final key, expected value."""
    graph = {}
    doubled = []
    for i in range(n):
        graph[(LOAD, i)] = Task((LOAD, i), nap, i, seconds) if seconds else DataNode((LOAD, i), i)
        graph[("double", i)] = Task(("double", i), mul, Ref((LOAD, i)), 2)
        doubled.append(Ref(("double", i)))
    graph[COMBINE] = Task(COMBINE, sum, doubled)
    expected = sum(2 * i for i in range(n))
    return graph, COMBINE, expected


def dependencies(graph, key):
    return graph[key].dependencies


class Recorder(Callback):
    """Logs every hook call, from whichever thread the engine uses."""

    def __init__(self):
        super().__init__()
        self.events = []
        self.lock = threading.Lock()

    def _log(self, *event):
        with self.lock:
            self.events.append(event)

    def start(self, graph):
        self._log("start", len(graph))

    def pretask(self, key, graph, state):
        self._log("pretask", key)

    def posttask(self, key, result, graph, state, worker_id):
        self._log("posttask", key, result, worker_id)

    def finish(self, graph, state, errored):
        self._log("finish", errored)


def no_thread_named(name):
    return all(t.name != name for t in threading.enumerate())


# -- the engine's callbacks ----------------------------------------------------


@pytest.mark.parametrize("registration", ["with", "callbacks="])
@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_hooks_fire_in_order(scheduler, registration):
    graph, key, expected = make_graph()
    rec = Recorder()
    if registration == "with":
        with rec:
            result = run(scheduler, graph, key)
    else:
        result = run(scheduler, graph, key, callbacks=[rec])
    assert result == expected
    events = rec.events
    assert events[0] == ("start", len(graph))
    assert events[-1] == ("finish", False)
    assert [e[0] for e in events].count("start") == 1 and [e[0] for e in events].count("finish") == 1
    pre = {e[1]: i for i, e in enumerate(events) if e[0] == "pretask"}
    post = {e[1]: i for i, e in enumerate(events) if e[0] == "posttask"}
    assert sum(e[0] == "pretask" for e in events) == len(graph) == len(pre)
    assert sum(e[0] == "posttask" for e in events) == len(graph) == len(post)
    for k in graph:
        assert pre[k] < post[k]
        for dep in dependencies(graph, k):
            assert post[dep] < pre[k], f"{k!r} was started before its dependency {dep!r} finished"
    for e in events:
        if e[0] == "posttask":
            _, k, value, worker_id = e
            assert 0 <= worker_id < workers_of(scheduler)
    # posttask sees each task's own result
    results = {e[1]: e[2] for e in events if e[0] == "posttask"}
    assert results[key] == expected
    assert results[("double", 3)] == 6


def test_with_block_unregisters():
    graph, key, expected = make_graph(2)
    rec = Recorder()
    with rec:
        run("sync", graph, key)
    seen = len(rec.events)
    assert run("sync", graph, key) == expected
    assert len(rec.events) == seen


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_callback_built_from_functions(scheduler):
    graph, key, expected = make_graph(3)
    started, finished = [], []
    lock = threading.Lock()

    def on_pretask(k, graph, state):
        with lock:
            started.append(k)

    def on_posttask(k, result, graph, state, worker_id):
        with lock:
            finished.append(k)

    with Callback(pretask=on_pretask, posttask=on_posttask):
        assert run(scheduler, graph, key) == expected
    assert sorted(map(repr, started)) == sorted(map(repr, graph))
    assert sorted(map(repr, finished)) == sorted(map(repr, graph))


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_finish_reports_error(scheduler):
    graph = {"a": DataNode("a", 1), "boom": Task("boom", fail, Ref("a"))}
    rec = Recorder()
    with pytest.raises(ValueError, match="fails on purpose"):
        run(scheduler, graph, "boom", callbacks=[rec])
    assert rec.events[0][0] == "start"
    assert rec.events[-1] == ("finish", True)
    assert sum(e[0] == "finish" for e in rec.events) == 1


# -- ProgressBar -----------------------------------------------------------------


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_progress_bar_completes(scheduler):
    graph, key, expected = make_graph(4, seconds=0.01)
    out = io.StringIO()
    bar = ProgressBar(out=out, width=20, dt=0.005)
    with bar:
        assert run(scheduler, graph, key) == expected
    text = out.getvalue()
    last = text.split("\r")[-1]
    assert last.startswith("[" + "#" * 20 + "] | 100% Completed | ")
    assert last.endswith("s\n")
    assert no_thread_named("shoal-progress-bar")


class Screen(io.StringIO):
    """A StringIO that notes that something was drawn on it."""

    def __init__(self):
        super().__init__()
        self.drawn = threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        self.drawn.set()
        return written


def wait_then(x, event):
    event.wait(10)  # bounded
    return x


def test_progress_bar_redraws_while_running_and_is_reusable():
    graph, key, expected = make_graph(4, seconds=0.03)
    out = Screen()
    # The first load waits until the bar has drawn a frame: however late a loaded machine runs
    # the bar's thread, a frame is drawn while the first computation is unfinished.
    graph[(LOAD, 0)] = Task((LOAD, 0), wait_then, 0, out.drawn)
    bar = ProgressBar(out=out, width=10, dt=0.01)
    with bar:
        assert run("sync", graph, key) == expected
        assert run("threads", graph, key) == expected
    text = out.getvalue()
    assert text.count("100% Completed") == 2
    assert text.count("\n") == 2
    # intermediate frames were drawn while tasks slept, and never past 100%
    frames = [f for f in text.split("\r") if f]
    assert len(frames) > 2
    percents = [int(f.split("|")[1].split("%")[0]) for f in frames]
    assert all(0 <= p <= 100 for p in percents)
    assert no_thread_named("shoal-progress-bar")


def test_progress_bar_minimum_suppresses_fast_graphs():
    graph, key, expected = make_graph(3)
    out = io.StringIO()
    with ProgressBar(minimum=10, out=out, dt=0.01):
        assert run("threads", graph, key) == expected
    assert out.getvalue() == ""


def test_progress_bar_on_error_shows_how_far_it_got():
    n_ok = 3
    graph = {f"ok{i}": DataNode(f"ok{i}", i) for i in range(n_ok)}
    graph["boom"] = Task("boom", fail, [Ref(k) for k in list(graph)])
    out = io.StringIO()
    with pytest.raises(ValueError):
        with ProgressBar(out=out, width=8):
            run("sync", graph, "boom")
    percent = int(100 * n_ok / len(graph))  # every input finished, the failing task did not
    last = out.getvalue().split("\r")[-1]
    assert f"| {percent}% Completed" in last and last.endswith("\n")
    assert no_thread_named("shoal-progress-bar")


def test_progress_bar_in_notebook_updates_one_display(monkeypatch):
    """Inside a kernel the bar is one HTML display, updated in place."""
    ipython_display = pytest.importorskip("IPython.display")
    shown = []

    class Handle:
        def update(self, obj, **kwargs):
            shown.append(("update", obj, kwargs))

    def display(obj, **kwargs):
        shown.append(("display", obj, kwargs))
        return Handle()

    monkeypatch.setattr(ipython_display, "display", display)
    monkeypatch.setattr(progress_module, "_in_jupyter_kernel", lambda: True)
    graph, key, expected = make_graph(3, seconds=0.02)
    with ProgressBar(dt=0.005):
        assert run("threads", graph, key) == expected
    assert [s[0] for s in shown].count("display") == 1
    assert shown[0][0] == "display" and shown[0][2]["display_id"] is True
    final = shown[-1][1]["text/html"]
    assert '<progress value="100" max="100"' in final and "100% Completed" in final


def test_progress_bar_in_a_real_jupyter_kernel():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(
        "import time\n"
        "from shoal.taskgraph import Task\n"
        "from shoal.schedulers import get_scheduler\n"
        "from shoal.diagnostics import ProgressBar\n"
        "graph = {f'nap-{i}': Task(f'nap-{i}', time.sleep, 0.02) for i in range(4)}\n"
        "with ProgressBar(dt=0.005):\n"
        "    get_scheduler('threads')(graph, list(graph), num_workers=2)\n"
    ))
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    outputs = nb.cells[0].outputs
    assert [o["output_type"] for o in outputs] == ["display_data"]  # one display, updated in place
    assert '<progress value="100" max="100"' in outputs[0]["data"]["text/html"]
    assert "100% Completed" in outputs[0]["data"]["text/plain"]


# -- Profiler ----------------------------------------------------------------------


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_profiler_records_every_task_once(scheduler):
    graph, key, expected = make_graph(5)
    with Profiler() as prof:
        assert run(scheduler, graph, key) == expected
    assert all(isinstance(r, TaskData) for r in prof.results)
    assert sorted(map(repr, (r.key for r in prof.results))) == sorted(map(repr, graph))
    for r in prof.results:
        assert 0 <= r.start_time <= r.end_time
        assert 0 <= r.worker_id < workers_of(scheduler)
        assert repr(r.task) == repr(graph[r.key])
    ends = [r.end_time for r in prof.results]
    assert ends == sorted(ends)
    by_key = {r.key: r for r in prof.results}
    for k in graph:  # a task is handed out only once its inputs are back
        for dep in dependencies(graph, k):
            assert by_key[dep].end_time <= by_key[k].start_time


def test_profiler_times_cover_the_task():
    seconds = 0.05
    graph = {"sleepy": Task("sleepy", nap, 1, seconds)}
    with Profiler() as prof:
        run("threads", graph, "sleepy")
    (r,) = prof.results
    assert r.end_time - r.start_time >= seconds * 0.9


def test_profiler_accumulates_within_a_block_and_clears():
    graph, key, _ = make_graph(2)
    prof = Profiler()
    with prof:
        run("sync", graph, key)
        run("threads", graph, key)
    assert len(prof.results) == 2 * len(graph)
    ends = [r.end_time for r in prof.results]
    assert ends == sorted(ends)  # one time origin across both computations
    prof.clear()
    assert prof.results == []
    run("sync", graph, key, callbacks=[prof])
    assert len(prof.results) == len(graph)
    with prof:  # a new block starts afresh
        run("sync", graph, key)
    assert len(prof.results) == len(graph)


def nested_compute(x):
    inner = {"inner-a": DataNode("inner-a", x), "inner-b": Task("inner-b", add, Ref("inner-a"), 1)}
    return get_scheduler("sync")(inner, "inner-b")


@pytest.mark.parametrize("scheduler", ["sync", "threads"])
def test_diagnostics_follow_only_the_outer_computation(scheduler):
    graph = {"x": DataNode("x", 1), "y": Task("y", nested_compute, Ref("x"))}
    out = io.StringIO()
    with Profiler() as prof, ProgressBar(out=out, dt=0.005):
        assert run(scheduler, graph, "y") == 2
    assert sorted(r.key for r in prof.results) == ["x", "y"]
    assert out.getvalue().count("100% Completed") == 1


# -- ResourceProfiler ----------------------------------------------------------------


@pytest.mark.parametrize("scheduler", ["sync", "threads"])
def test_resource_profiler_samples_and_stops(scheduler):
    graph, key, expected = make_graph(4, seconds=0.05)  # ~0.2 s of sleeping in all
    with ResourceProfiler(dt=0.01) as rprof:
        assert run(scheduler, graph, key) == expected
        assert no_thread_named("shoal-resource-profiler")  # stopped at finish, not only at exit
    assert len(rprof.results) >= 1
    assert all(isinstance(r, ResourceData) for r in rprof.results)
    times = [r.time for r in rprof.results]
    assert times == sorted(times) and times[0] >= 0
    own_mb = psutil.Process(os.getpid()).memory_info().rss / 1e6
    assert all(0 < r.mem and r.cpu >= 0 for r in rprof.results)
    assert max(r.mem for r in rprof.results) > own_mb / 2
    assert no_thread_named("shoal-resource-profiler")


def test_resource_profiler_counts_worker_processes():
    graph, key, expected = make_graph(4, seconds=0.05)
    with ResourceProfiler(dt=0.01) as rprof:
        assert run("processes", graph, key) == expected
    me = psutil.Process(os.getpid())
    children_mb = sum(c.memory_info().rss for c in me.children(recursive=True)) / 1e6
    own_mb = me.memory_info().rss / 1e6
    assert children_mb > 0, "the processes scheduler should keep its worker processes"
    assert max(r.mem for r in rprof.results) > own_mb + children_mb / 2
    assert no_thread_named("shoal-resource-profiler")


def test_resource_profiler_thread_stops_on_error_and_via_callbacks_argument():
    rprof = ResourceProfiler(dt=0.01)
    graph = {"a": Task("a", nap, 1, 0.03), "boom": Task("boom", fail, Ref("a"))}
    with pytest.raises(ValueError):
        run("threads", graph, "boom", callbacks=[rprof])
    assert no_thread_named("shoal-resource-profiler")
    assert len(rprof.results) >= 1


def test_diagnostics_reject_bad_intervals():
    with pytest.raises(ValueError, match="dt"):
        ResourceProfiler(dt=0)
    with pytest.raises(ValueError, match="dt"):
        ProgressBar(dt=-1)
    with pytest.raises(TypeError, match="writable file-like"):
        ProgressBar(out=3)


def test_callbacks_argument_takes_one_callback_or_several_and_refuses_functions():
    graph, key, expected = make_graph(3)
    seen = []
    one = Callback(posttask=lambda k, result, graph, state, worker_id: seen.append(k))
    assert run("sync", graph, key, callbacks=one) == expected
    assert sorted(map(repr, seen)) == sorted(map(repr, graph))
    with pytest.raises(TypeError, match="callbacks= takes Callback objects"):
        run("sync", graph, key, callbacks=[print])


# -- visualize -------------------------------------------------------------------------


def test_visualize_writes_an_offline_html_file(tmp_path):
    graph, key, expected = make_graph(4, seconds=0.01)
    with Profiler() as prof, ResourceProfiler(dt=0.01) as rprof:
        assert run("threads", graph, key) == expected
    path = tmp_path / "profile.html"
    layout = visualize([prof, rprof], filename=str(path))
    html = path.read_text()
    assert "Bokeh" in html
    assert "cdn.bokeh.org" not in html  # resources inlined, so it opens offline
    prefixes = {key_prefix(k) for k in graph}
    assert prefixes == {"load-parts", "double", "combine-totals"}
    for prefix in prefixes:
        assert f'"{prefix}"' in html  # the prefix column, not just a substring of a key
    tasks, resources = layout.children
    assert tasks.x_range is resources.x_range


def test_profiler_visualize_method(tmp_path):
    graph, key, _ = make_graph(2)
    with Profiler() as prof:
        run("sync", graph, key)
    path = tmp_path / "tasks.html"
    layout = prof.visualize(filename=str(path))
    assert path.exists() and "Bokeh" in path.read_text()
    assert len(layout.children) == 1


def test_visualize_save_false_writes_nothing_as_in_dask(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    graph, key, expected = make_graph(2)
    with Profiler() as prof:
        assert run("sync", graph, key) == expected
    layout = prof.visualize(save=False)  # Dask's keyword: it raised TypeError
    assert len(layout.children) == 1
    assert list(tmp_path.iterdir()) == []
    visualize([prof], filename=str(tmp_path / "kept.html"), save=True)
    assert (tmp_path / "kept.html").exists()


def test_visualize_rejects_other_objects():
    with pytest.raises(TypeError, match="Profiler"):
        visualize([[1, 2]], filename=None)
