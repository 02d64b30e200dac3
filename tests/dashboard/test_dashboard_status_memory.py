"""``/status`` beyond tasks: transfers and spills on the task stream, memory split
managed/unmanaged/spilled against the limit, queued tasks per worker, total CPU."""

from __future__ import annotations

import math

import pytest
from bokeh.document import Document

from shoal.dashboard import DashboardPlugin
from shoal.dashboard.pages import KIND_COLOURS, status_document, workers_document
from shoal.distributed.state import SchedulerState
from shoal.taskgraph import Ref, Task


def make_state():
    state = SchedulerState()
    plugin = DashboardPlugin(state)
    state.add_plugin(plugin)
    state.add_worker("w1", 1, memory_limit=1_000_000)
    state.add_worker("w2", 1)  # no limit: no marker
    return state, plugin


def test_transfers_and_spills_are_marked_on_the_task_stream():
    state, plugin = make_state()
    # Two roots pinned apart, then a task on w2 reading both: w1's result must move.
    graph = {"a-aaaaaaaa": Task("a-aaaaaaaa", len, [1]), "b-bbbbbbbb": Task("b-bbbbbbbb", len, [2]),
             "c-cccccccc": Task("c-cccccccc", max, Ref("a-aaaaaaaa"), Ref("b-bbbbbbbb"))}
    state.update_graph("client", graph, ["c-cccccccc"],
                       workers={"a-aaaaaaaa": ["w1"], "b-bbbbbbbb": ["w2"], "c-cccccccc": ["w2"]})
    state.handle_task_finished("w1", "a-aaaaaaaa", nbytes=5000)
    state.handle_task_finished("w2", "b-bbbbbbbb", nbytes=7000)
    assert state.tasks["c-cccccccc"].processing_on.address == "w2"
    assert plugin.transfer_bytes == 5000  # only a's result moves; b is already on w2
    assert plugin.workers["w2"].transfer_bytes == 5000 and plugin.workers["w1"].sent_bytes == 5000

    # The worker reports what the scheduler cannot see: its fetch and a spill, with times.
    now = plugin.clock()  # events carry wall-clock times, like the scheduler's
    plugin.heartbeat("w2", {"events": [
        {"kind": "transfer", "start": now, "stop": now + 0.5, "nbytes": 5000, "key": "a-aaaaaaaa"},
        {"kind": "spill", "start": now + 1.0, "stop": now + 1.2, "nbytes": 7000, "key": "b-bbbbbbbb"},
    ]})
    state.handle_task_finished("w2", "c-cccccccc", nbytes=8)
    doc = Document()
    status_document(plugin, 500)(doc)
    stream = doc.select_one({"name": "task-stream-figure"}).renderers[0].data_source.data
    rows = list(zip(stream["key"], stream["worker"], stream["kind"], stream["colour"]))
    assert ("a-aaaaaaaa", "w2", "transfer", KIND_COLOURS["transfer"]) in rows
    assert ("b-bbbbbbbb", "w2", "spill", KIND_COLOURS["spill"]) in rows
    computed = sorted(k for k, _, kind, _ in rows if kind == "compute")
    assert computed == sorted(graph)
    spans = {(k, kind): (b - a) for k, kind, a, b in zip(stream["key"], stream["kind"], stream["start"],
                                                          stream["stop"])}
    assert math.isclose(spans["a-aaaaaaaa", "transfer"], 0.5, abs_tol=1e-3)
    assert math.isclose(spans["b-bbbbbbbb", "spill"], 0.2, abs_tol=1e-3)
    assert plugin.workers["w2"].spill_bytes == 7000


def test_memory_queued_and_cpu_per_worker():
    state, plugin = make_state()
    graph = {f"x-{i:08x}": Task(f"x-{i:08x}", len, [i]) for i in range(4)}
    state.update_graph("client", graph, list(graph), workers={k: ["w1"] for k in graph})
    sent_to_w1 = len(state.workers["w1"].processing)
    plugin.heartbeat("w1", {"executing": 1, "managed_bytes": 300_000, "unmanaged_bytes": 200_000,
                            "spilled_bytes": 100_000, "cpu": 95.0})
    plugin.heartbeat("w2", {"cpu": 2.5})
    doc = Document()
    status_document(plugin, 500)(doc)
    data = doc.select_one({"name": "memory-figure"}).renderers[0].data_source.data
    by_worker = {a: i for i, a in enumerate(data["address"])}
    w1, w2 = by_worker["w1"], by_worker["w2"]
    assert (data["managed"][w1], data["unmanaged"][w1], data["spilled"][w1]) == (300_000, 200_000, 100_000)
    assert data["limit_marker"][w1] == 1_000_000 and math.isnan(data["limit_marker"][w2])
    # Without heartbeat fields, managed memory is what the scheduler knows the worker holds.
    assert data["managed"][w2] == 0 and data["spilled"][w2] == 0
    assert data["processing"][w1] == sent_to_w1
    assert data["queued"][w1] == sent_to_w1 - 1 and data["running"][w1] == 1
    cpu = doc.select_one({"name": "cpu-div"}).text
    assert f"{95.0 + 2.5:.0f}% over 2 workers, 2 threads" in cpu

    table = Document()
    workers_document(plugin, 500)(table)
    rows = table.select_one({"name": "workers-table"}).source.data
    assert dict(zip(rows["address"], rows["cpu"])) == {"w1": 95.0, "w2": 2.5}
    assert dict(zip(rows["address"], rows["spilled"]))["w1"] == 100_000


def test_unknown_worker_event_names_the_kinds():
    state, plugin = make_state()
    try:
        plugin.worker_event("w1", "disk", 0.0, 1.0)
    except ValueError as error:
        assert "'disk'" in str(error) and "spill" in str(error) and "transfer" in str(error)
    else:
        raise AssertionError("an unknown event kind must be refused")


def test_spill_counts_in_heartbeats_become_spill_bars():
    """shoal's worker sends cumulative spilled/unspilled counts, not events: each heartbeat
    interval in which they grew is one spill bar on that worker's row."""
    state, plugin = make_state()
    now = plugin.clock()
    beats = [(now, 0, 0), (now + 1, 3, 0), (now + 2, 3, 0), (now + 3, 5, 2)]
    for t, spilled, unspilled in beats:
        plugin.heartbeat("w1", {"time": t, "spilled_count": spilled, "unspilled_count": unspilled,
                                "spilled_bytes": 1000 * (spilled - unspilled), "paused": spilled >= 5})
    spills = [(e[0], e[2] - now, e[3] - now) for e in plugin.task_stream if e[5] == "spill"]
    # Spilled 0 -> 3 between the first two beats; 3 -> 5 and 2 read back between the last two.
    expected = [("3 spilled to disk", 0, 1), ("2 spilled to disk", 2, 3), ("2 read back from disk", 2, 3)]
    assert [label for label, _, _ in spills] == [label for label, _, _ in expected]
    for (_, start, stop), (_, want_start, want_stop) in zip(spills, expected):
        assert start == pytest.approx(want_start) and stop == pytest.approx(want_stop)
    doc = Document()
    workers_document(plugin, 500)(doc)
    rows = doc.select_one({"name": "workers-table"}).source.data
    assert dict(zip(rows["address"], rows["status"])) == {"w1": "paused", "w2": "running"}
    assert dict(zip(rows["address"], rows["spilled"]))["w1"] == 3000



def test_a_worker_sending_spill_events_gets_no_bars_derived_from_its_counts():
    state, plugin = make_state()
    now = plugin.clock()
    plugin.heartbeat("w1", {"time": now, "spilled_count": 0})
    plugin.heartbeat("w1", {"time": now + 1, "spilled_count": 1, "events": [
        {"kind": "spill", "start": now + 0.5, "stop": now + 0.6, "nbytes": 100, "key": "x spilled"}]})
    plugin.heartbeat("w1", {"time": now + 2, "spilled_count": 4})  # its events were dropped: no guessing
    assert [e[0] for e in plugin.task_stream if e[5] == "spill"] == ["x spilled"]
