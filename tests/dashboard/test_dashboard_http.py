"""The dashboard served by a LocalCluster's scheduler, fetched over HTTP."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from shoal.distributed import Client, LocalCluster


def fetch(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=20) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read().decode()


def parse_prometheus(text: str) -> dict:
    """``{(name, labels): value}`` from the text format (comments skipped)."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, value = line.rsplit(" ", 1)
        name, _, labels = name_labels.partition("{")
        samples[(name, labels.rstrip("}"))] = float(value)
    return samples


def square(x):
    return x * x


@pytest.fixture
def cluster_and_client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as client:
        yield cluster, client


def test_dashboard_link_and_health(cluster_and_client):
    cluster, client = cluster_and_client
    link = cluster.dashboard_link
    assert link.startswith("http://127.0.0.1:") and link.endswith("/status")
    assert not link.endswith(":0/status")
    assert client.dashboard_link == link
    status, content_type, body = fetch(link.replace("/status", "/health"))
    assert (status, body) == (200, "ok")
    assert content_type.startswith("text/plain")


def test_counts_and_metrics_match_the_computation(cluster_and_client):
    cluster, client = cluster_and_client
    inputs = list(range(12))
    futures = client.map(square, inputs)
    assert client.gather(futures) == [x * x for x in inputs]
    base = cluster.dashboard_link.rsplit("/", 1)[0]

    counts = json.loads(fetch(base + "/json/counts")[2])
    state = cluster.scheduler.state
    in_memory_on_scheduler = sum(1 for ts in state.tasks.values() if ts.state == "memory")
    assert in_memory_on_scheduler == len(inputs)
    assert counts["tasks"]["memory"] == len(inputs)
    assert counts["tasks"]["processing"] == 0
    assert counts["prefixes"]["square"]["memory"] == len(inputs)
    assert counts["workers"] == len(state.workers) == 2
    assert counts["threads"] == 2
    assert counts["bytes_in_memory"] == sum(ts.nbytes for ts in state.tasks.values() if ts.state == "memory")
    assert sum(w["in_memory"] for w in counts["worker_details"]) == len(inputs)

    samples = parse_prometheus(fetch(base + "/metrics")[2])
    assert samples[("shoal_tasks", 'state="memory"')] == len(inputs)
    assert samples[("shoal_workers", "")] == 2
    assert samples[("shoal_memory_bytes", "")] == counts["bytes_in_memory"]

    half = len(futures) // 2
    del futures[:half]
    # Releasing futures is asynchronous: wait (bounded) until the scheduler forgets them.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(state.tasks) != len(inputs) - half:
        time.sleep(0.02)
    counts = json.loads(fetch(base + "/json/counts")[2])
    assert counts["tasks"]["memory"] == len(state.tasks) == len(inputs) - half


def test_pages_serve_bokeh_documents_without_cdn(cluster_and_client):
    cluster, client = cluster_and_client
    assert client.gather(client.map(square, [1, 2, 3])) == [1, 4, 9]
    base = cluster.dashboard_link.rsplit("/", 1)[0]
    for page in ("/status", "/workers"):
        status, content_type, html = fetch(base + page)
        assert status == 200 and content_type.startswith("text/html")
        assert "/static/js/bokeh.min.js" in html  # BokehJS from this server
        assert "cdn.bokeh.org" not in html and "https://" not in html
    bokehjs = urllib.request.urlopen(base + "/static/js/bokeh.min.js", timeout=20).read()
    assert len(bokehjs) > 100_000


def test_unknown_path_is_404(cluster_and_client):
    cluster, _ = cluster_and_client
    base = cluster.dashboard_link.rsplit("/", 1)[0]
    with pytest.raises(urllib.error.HTTPError) as info:
        fetch(base + "/no-such-page")
    info.value.close()  # the error holds the response and its socket
    assert info.value.code == 404


def test_websocket_origin_is_the_bound_address(cluster_and_client):
    cluster, _ = cluster_and_client
    dashboard = cluster.scheduler.dashboard
    origins = dashboard._server._tornado.websocket_origins
    assert origins == {f"127.0.0.1:{dashboard.port}"}


def test_dashboard_by_default_and_none_when_disabled():
    import warnings

    from shoal import config

    with config.set({"distributed.scheduler.dashboard-address": "127.0.0.1:8787"}):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 8787 may be taken here: then it says so and uses a free port
            with LocalCluster(n_workers=1, processes=False) as cluster:
                link = cluster.dashboard_link
                assert link is not None and link.startswith("http://127.0.0.1:") and link.endswith("/status")
                assert fetch(link)[0] == 200
        for address in (None, False):
            with LocalCluster(n_workers=1, processes=False, dashboard_address=address) as cluster:
                assert cluster.dashboard_link is None
                assert cluster.scheduler.dashboard is None
    with config.set({"distributed.scheduler.dashboard-address": None}):
        with LocalCluster(n_workers=1, processes=False) as cluster:
            assert cluster.dashboard_link is None


def test_json_index_and_dask_path_give_the_same_counts(cluster_and_client):
    cluster, client = cluster_and_client
    inputs = list(range(5))
    futures = client.map(square, inputs)  # held, so the results stay in memory
    assert client.gather(futures) == [x * x for x in inputs]
    base = cluster.dashboard_link.rsplit("/", 1)[0]
    for index in ("/json/", "/json"):
        status, content_type, body = fetch(base + index)
        assert status == 200 and content_type.startswith("application/json")
        assert {"/json/counts", "/json/counts.json"} <= set(json.loads(body)["endpoints"])
    state = cluster.scheduler.state
    for path in ("/json/counts", "/json/counts.json", "/json/counts/"):
        counts = json.loads(fetch(base + path)[2])
        assert counts["tasks"]["memory"] == sum(1 for ts in state.tasks.values() if ts.state == "memory") == len(inputs)
        assert counts["prefixes"]["square"]["memory"] == len(inputs)
    with pytest.raises(urllib.error.HTTPError) as info:
        fetch(base + "/json/no-such-endpoint")
    info.value.close()
    assert info.value.code == 404


def test_plain_endpoints_answer_head_and_a_trailing_slash(cluster_and_client):
    cluster, _ = cluster_and_client
    base = cluster.dashboard_link.rsplit("/", 1)[0]
    for path in ("/health", "/metrics", "/json/counts"):
        request = urllib.request.Request(base + path, method="HEAD")
        with urllib.request.urlopen(request, timeout=20) as response:
            assert response.status == 200 and response.read() == b""
        assert fetch(base + path + "/")[0] == 200
    assert fetch(base + "/health/")[2] == "ok"
    assert fetch(base + "/metrics/")[2].startswith("# HELP shoal_tasks ")


def test_the_root_opens_the_status_page(cluster_and_client):
    cluster, _ = cluster_and_client
    base = cluster.dashboard_link.rsplit("/", 1)[0]
    with urllib.request.urlopen(base + "/", timeout=20) as response:
        assert response.url == base + "/status" and response.status == 200
        assert "<title>shoal: status</title>" in response.read().decode()
