"""``/graph`` and ``/stages``: their server-side Bokeh documents over a scheduler state machine."""

from __future__ import annotations

import statistics

from bokeh.document import Document

from shoal import config
from shoal.dashboard import DashboardPlugin
from shoal.dashboard.graph_page import graph_document
from shoal.dashboard.pages import STATE_COLOURS
from shoal.dashboard.stages import split_stages
from shoal.dashboard.stages_page import OUTLIER_COLOURS, stages_document
from shoal.distributed.state import SchedulerState
from shoal.taskgraph import Ref, Task

N = 6


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def shuffle_graph() -> dict:
    """load-i -> inc-i (narrow), every combine-j reads every inc (a shuffle), final reads all combines."""
    graph = {}
    for i in range(N):
        graph[("load-aaaaaaaa", i)] = Task(("load-aaaaaaaa", i), list, [i])
        graph[("inc-bbbbbbbb", i)] = Task(("inc-bbbbbbbb", i), len, Ref(("load-aaaaaaaa", i)))
    for j in range(3):
        graph[("combine-cccccccc", j)] = Task(("combine-cccccccc", j), max,
                                              [Ref(("inc-bbbbbbbb", i)) for i in range(N)])
    graph["final-dddddddd"] = Task("final-dddddddd", max, [Ref(("combine-cccccccc", j)) for j in range(3)])
    return graph


def setup(graph_limit: int = 1000):
    clock = FakeClock()
    state = SchedulerState()
    plugin = DashboardPlugin(state, clock=clock, graph_limit=graph_limit)
    state.add_plugin(plugin)
    state.add_worker("w1", 2)
    state.add_worker("w2", 2)
    graph = shuffle_graph()
    state.update_graph("client", graph, ["final-dddddddd"])
    return state, plugin, clock, graph


def finish(state, clock, key, *, seconds: float, nbytes: int) -> None:
    """``key`` (processing now) ran ``seconds``: the worker's report, as the scheduler server relays it."""
    ts = state.tasks[key]
    assert ts.state == "processing", (key, ts.state)
    clock.now += 0.001
    msg = {"op": "task-finished", "key": key, "nbytes": nbytes, "duration": seconds}
    for plugin in state.plugins:
        plugin.worker_report(ts.processing_on.address, msg)
    state.handle_worker_message(ts.processing_on.address, msg)


def run_stage(state, clock, keys, seconds, nbytes) -> None:
    for key in keys:  # bounded: each key once
        ts = state.tasks[key]
        if ts.state != "processing":  # queued behind the worker slots: run what is processing first
            continue
        finish(state, clock, key, seconds=seconds(key), nbytes=nbytes(key))


def run_everything(state, clock, seconds, nbytes) -> None:
    for _ in range(len(state.tasks) + 1):  # each round finishes at least one task
        processing = [ts.key for ts in state.tasks.values() if ts.state == "processing"]
        if not processing:
            return
        run_stage(state, clock, processing, seconds, nbytes)


def test_split_stages_at_wide_dependencies():
    state, plugin, _, _ = setup()
    comp = plugin.computation
    assert comp.prefix_edges == {("load", "inc"): False, ("inc", "combine"): True, ("combine", "final"): True}
    order = sorted(comp.prefix_order, key=comp.prefix_order.get)
    assert split_stages(order, comp.prefix_edges) == [["load", "inc"], ["combine"], ["final"]]


def test_graph_document_lays_out_by_depth_with_state_colours():
    state, plugin, clock, graph = setup()
    finish(state, clock, ("load-aaaaaaaa", 0), seconds=1, nbytes=10)
    doc = Document()
    graph_document(plugin, 500)(doc)
    figure = doc.select_one({"name": "graph-figure"})
    nodes = figure.renderers[1].data_source.data
    assert sorted(nodes["key"]) == sorted(str(k) for k in graph)
    depth_of = {"load": 0, "inc": 1, "combine": 2, "final": 3}
    for key, prefix, y, state_name, colour in zip(nodes["key"], nodes["prefix"], nodes["y"], nodes["state"],
                                                  nodes["colour"]):
        assert y == -depth_of[prefix]
        task = next(ts for k, ts in state.tasks.items() if str(k) == key)
        assert state_name == task.state
        assert colour == STATE_COLOURS.get(task.state, colour)
    edges = figure.renderers[0].data_source.data
    assert len(edges["xs"]) == sum(len(t.dependencies) for t in graph.values())
    assert not doc.select_one({"name": "graph-message"}).visible


def test_graph_above_the_limit_shows_a_message_instead():
    state, plugin, _, graph = setup(graph_limit=5)
    doc = Document()
    graph_document(plugin, 500)(doc)
    message = doc.select_one({"name": "graph-message"})
    figure = doc.select_one({"name": "graph-figure"})
    assert message.visible and not figure.visible
    assert f"has {len(graph)} tasks, more than the graph limit of 5" in message.text
    assert "dashboard.graph-limit" in message.text
    assert figure.renderers[1].data_source.data["key"] == []


def test_graph_limit_comes_from_config():
    with config.set({"dashboard.graph-limit": 7}):
        assert DashboardPlugin(SchedulerState()).graph_limit == 7


def test_stages_document_marks_stragglers_and_skewed_partitions():
    state, plugin, clock, graph = setup()
    slow = ("inc-bbbbbbbb", 2)  # ten times the others: a straggler
    big = ("load-aaaaaaaa", 4)  # a hundred times the others' output: a skewed partition
    seconds = {k: 1.0 for k in graph}
    seconds[slow] = 10.0
    nbytes = {k: 2000 for k in graph}
    nbytes[big] = 200_000
    run_everything(state, clock, seconds.get, nbytes.get)
    assert state.tasks["final-dddddddd"].state == "memory"

    doc = Document()
    stages_document(plugin, 500)(doc)
    # The document fills itself on its first periodic update; run it as the server would.
    next(iter(doc.session_callbacks)).callback()
    summary = doc.select_one({"name": "stages-table"}).source.data
    assert [s.split(":")[0] for s in summary["stage"]] == ["stage 0", "stage 1", "stage 2"]
    assert summary["n_tasks"] == [2 * N, 3, 1]
    assert summary["n_finished"] == [2 * N, 3, 1]
    assert summary["n_stragglers"] == [1, 0, 0]
    assert summary["n_skewed"] == [1, 0, 0]

    stage0 = [k for k in graph if k[0] in ("load-aaaaaaaa", "inc-bbbbbbbb")]
    assert summary["median_duration"][0] == statistics.median(seconds[k] for k in stage0)
    assert summary["max_duration"][0] == 10.0
    assert summary["max_nbytes"][0] == 200_000
    points = doc.select_one({"name": "stage-durations-figure"}).renderers[0].data_source.data
    colour = dict(zip(points["key"], points["colour"]))
    assert colour[str(slow)] == OUTLIER_COLOURS[True, False]
    assert colour[str(big)] == OUTLIER_COLOURS[False, True]
    ordinary = [c for k, c in colour.items() if k not in (str(slow), str(big))]
    assert set(ordinary) == {OUTLIER_COLOURS[False, False]}
    assert len(points["key"]) == len(graph)


def test_a_graph_submitted_when_idle_starts_a_new_computation():
    state, plugin, clock, graph = setup()
    first = plugin.computation
    run_everything(state, clock, lambda k: 1.0, lambda k: 8)
    state.update_graph("client", {"other-eeeeeeee": Task("other-eeeeeeee", len, [1])}, ["other-eeeeeeee"])
    assert plugin.computation is not first
    assert list(plugin.computation.prefix) == ["other-eeeeeeee"]
    # While work is pending, a new graph joins the current computation.
    state.update_graph("client", {"more-ffffffff": Task("more-ffffffff", len, [2])}, ["more-ffffffff"])
    assert set(plugin.computation.prefix) == {"other-eeeeeeee", "more-ffffffff"}


def test_a_dataframe_shuffle_splits_stages_on_a_cluster():
    import numpy as np
    import pandas as pd

    import shoal.dataframe as dd
    from shoal.dashboard.stages_page import current_stage_table, stage_label
    from shoal.distributed import Client, LocalCluster

    pdf = pd.DataFrame({"k": np.arange(4000) % 37, "x": np.arange(4000.0)})
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address="127.0.0.1:0") as cluster, Client(cluster):
        shuffled = dd.from_pandas(pdf, npartitions=6).shuffle("k")
        sums = shuffled.groupby("k").x.sum().compute()
        pd.testing.assert_series_equal(sums.sort_index(), pdf.groupby("k").x.sum(), check_names=False)
        table = current_stage_table(cluster.scheduler.dashboard.plugin)
    labels = [stage_label(stage) for stage in table]
    shuffle_stage = next(i for i, label in enumerate(labels) if "shuffle" in label)
    # The shuffle's outputs are each read across input partitions: the work after it is a new stage.
    assert len(table) >= 2 and shuffle_stage < len(table) - 1
    assert all(stage["n_finished"] == stage["n_tasks"] > 0 for stage in table)
    assert all(len(label.split(":")[1]) < 60 for label in labels)  # tokens are left out of names
