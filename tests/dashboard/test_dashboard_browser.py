"""The dashboard in a real browser: headless Chromium renders /status, /workers and
/stages (and a performance report) with no console error; the server-side Bokeh
documents behind the open pages hold what the scheduler ran.

Screenshots go to pytest's tmp dir (printed by ``-s``; look at them to see the pages).
"""

from __future__ import annotations

import time

import pytest

from dashboard_browser import console_errors_in_stderr, open_page
from shoal import config
from shoal.distributed import Client, LocalCluster
from shoal.taskgraph.core import key_prefix


def slow_inc(x):
    time.sleep(0.01)
    return x + 1


def add_up(*xs):
    return sum(xs)


@pytest.fixture
def chromium(require_command):
    return require_command("chromium", "chromium")


@pytest.fixture(scope="module")
def computed():
    """A LocalCluster with its dashboard, after a computation of two stages."""
    with LocalCluster(n_workers=2, threads_per_worker=2, processes=False,
                      dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as client:
        incs = client.map(slow_inc, range(24))
        totals = [client.submit(add_up, *incs[i::3]) for i in range(3)]  # each reads many: a wide dependency
        assert client.gather(totals) == [sum(x + 1 for x in range(24)[i::3]) for i in range(3)]
        yield cluster, client, incs, totals


def session_documents(path: str, shoal_scheduler=None):
    """Run on the scheduler's loop: what the open sessions of ``path`` show."""
    server = shoal_scheduler.dashboard._server
    out = []
    for session in server.get_sessions(path):
        doc = session.document
        figures = {}
        for name in ("task-stream", "progress", "processing", "memory", "stage-durations"):
            model = doc.select_one({"name": name + "-figure"})
            if model is not None:
                figures[name] = {k: list(v) for k, v in model.renderers[0].data_source.data.items()}
        out.append(figures)
    return out


def scheduler_prefix_counts(shoal_scheduler=None):
    counts: dict = {}
    for key, ts in shoal_scheduler.state.tasks.items():
        per_state = counts.setdefault(key_prefix(key), {})
        per_state[ts.state] = per_state.get(ts.state, 0) + 1
    return counts


def check_rendered(result: dict, page: str) -> None:
    assert result["documents"] >= 1 and result["roots"] >= 1, f"{page}: no Bokeh document: {result}"
    assert result["idle"], f"{page}: Bokeh never finished rendering: {result}"
    assert result["errors"] == [], f"{page}: browser errors {result['errors']}"
    assert console_errors_in_stderr(result["stderr"]) == [], page


def test_status_renders_and_its_session_matches_the_scheduler(chromium, computed, tmp_path):
    cluster, client, incs, totals = computed
    shot = tmp_path / "status.png"
    result = open_page(chromium, cluster.dashboard_link, shot, inside=lambda: (
        client.run_on_scheduler(session_documents, "/status"), client.run_on_scheduler(scheduler_prefix_counts)))
    check_rendered(result, "/status")
    assert result["canvases"] >= 4  # task stream, progress, tasks and memory per worker
    assert shot.stat().st_size > 10_000
    print("screenshot:", shot)

    sessions, counts = result["inside"]
    assert len(sessions) == 1  # the browser's own session
    figures = sessions[0]
    ran = {str(f.key) for f in incs + totals}
    assert ran <= set(figures["task-stream"]["key"])
    workers = set(client.nthreads())
    assert set(figures["task-stream"]["worker"]) <= workers
    progress = figures["progress"]
    for prefix in ("slow_inc", "add_up"):
        row = progress["prefix"].index(prefix)
        for state in ("memory", "processing", "waiting", "erred"):
            assert progress[state][row] == counts[prefix].get(state, 0), (prefix, state)
    assert progress["memory"][progress["prefix"].index("slow_inc")] == len(incs)


def test_workers_stages_and_graph_render(chromium, computed, tmp_path):
    cluster, client, incs, totals = computed
    base = cluster.dashboard_link.rsplit("/", 1)[0]
    workers = open_page(chromium, base + "/workers", tmp_path / "workers.png")
    check_rendered(workers, "/workers")
    assert workers["table_rows"] == len(client.nthreads())  # one row per worker
    stages = open_page(chromium, base + "/stages", tmp_path / "stages.png", inside=lambda: client.run_on_scheduler(
        session_documents, "/stages"))
    check_rendered(stages, "/stages")
    assert stages["canvases"] >= 2
    (figures,) = stages["inside"]
    shown = set(figures["stage-durations"]["key"])
    assert {str(f.key) for f in incs + totals} <= shown
    labels = set(figures["stage-durations"]["stage"])
    assert len(labels) == 2 and any("slow_inc" in s for s in labels) and any("add_up" in s for s in labels)
    graph = open_page(chromium, base + "/graph", tmp_path / "graph.png")
    check_rendered(graph, "/graph")
    assert graph["canvases"] >= 1
    print("screenshots:", tmp_path)


def test_performance_report_renders_offline(chromium, computed, tmp_path):
    cluster, client, incs, totals = computed
    path = tmp_path / "report.html"
    with client.performance_report(str(path)):
        assert client.gather(client.map(slow_inc, range(100, 110))) == list(range(101, 111))
    result = open_page(chromium, path.as_uri(), tmp_path / "report.png")
    check_rendered(result, "report")
    assert result["canvases"] >= 3  # task stream, groups, memory
    print("screenshot:", tmp_path / "report.png")


def test_graph_above_the_limit_shows_the_message_in_the_browser(chromium, tmp_path):
    with config.set({"dashboard.graph-limit": 10}), \
            LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                         dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as client:
        assert client.gather(client.map(slow_inc, range(30))) == list(range(1, 31))
        base = cluster.dashboard_link.rsplit("/", 1)[0]
        result = open_page(chromium, base + "/graph", tmp_path / "graph-too-large.png",
                           wait_for_text="more than the graph limit of 10",
                           inside=lambda: client.run_on_scheduler(graph_session_nodes))
    check_rendered(result, "/graph")
    assert result["text_found"]
    assert result["inside"] == [0]  # the browser's session got no node at all: nothing to freeze it


def graph_session_nodes(shoal_scheduler=None):
    """Run on the scheduler's loop: the nodes each open /graph session holds."""
    return [len(session.document.select_one({"name": "graph-figure"}).renderers[1].data_source.data["key"])
            for session in shoal_scheduler.dashboard._server.get_sessions("/graph")]
