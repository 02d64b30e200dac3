"""``Client.performance_report``: one standalone HTML file about what ran in a block."""

from __future__ import annotations

import json
import re
import time

import pytest

from shoal.dashboard.report import report_html, start_recording, stop_recording
from shoal.distributed import Client, LocalCluster


def slow_inc(x):
    time.sleep(0.02)
    return x + 1


def add_up(*xs):
    return sum(xs)


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


def bokeh_documents(page: str) -> list:
    """The Bokeh documents embedded in a standalone page (their JSON)."""
    blobs = re.findall(r'<script type="application/json" id="[^"]+">\s*(.*?)\s*</script>', page, re.S)
    assert blobs, "no embedded Bokeh document"
    return [json.loads(blob) for blob in blobs]


def column_values(documents: list, column: str) -> list:
    """Every value of ``column`` in any ColumnDataSource of the documents."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "map":  # Bokeh 3 writes a source's data as {"type": "map", "entries": [...]}
                found.extend(v for name, values in node["entries"] if name == column and isinstance(values, list)
                             for v in values)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(documents)
    return found


def test_report_records_what_ran_in_the_block(client):
    token = client.run_on_scheduler(start_recording)
    futures = client.map(slow_inc, range(8))
    total = client.submit(add_up, *futures)
    assert total.result() == sum(x + 1 for x in range(8))
    data = client.run_on_scheduler(stop_recording, token)
    ran = {entry[0] for entry in data["task_stream"] if entry[5] == "compute"}
    assert ran == {str(f.key) for f in futures} | {str(total.key)}
    assert data["groups"]["slow_inc"][0] == 8 and data["groups"]["add_up"][0] == 1
    assert data["groups"]["slow_inc"][1] >= 8 * 0.02  # the worker measured each sleep
    assert data["tasks_finished"] == 9
    workers = set(client.nthreads())
    assert {entry[1] for entry in data["task_stream"]} <= workers
    assert data["memory"] and set(data["memory"][-1][1]) == workers


def test_performance_report_writes_a_standalone_file(client, tmp_path):
    path = tmp_path / "report.html"
    with client.performance_report(str(path)):
        futures = client.map(slow_inc, range(10, 16))
        assert client.gather(futures) == [x + 1 for x in range(10, 16)]
    page = path.read_text(encoding="utf-8")
    # Standalone: BokehJS is inlined, nothing is fetched from a CDN or a server.
    assert "cdn.bokeh.org" not in page and not re.search(r'<script[^>]+src="http', page)
    assert "Bokeh.embed.embed_items" in page or "embed_items" in page
    documents = bokeh_documents(page)
    keys = column_values(documents, "key")
    assert {str(f.key) for f in futures} <= set(keys)
    assert "slow_inc" in column_values(documents, "group")
    assert "6 tasks computed" in page


def test_report_is_written_when_the_block_raises(client, tmp_path):
    path = tmp_path / "failed.html"
    with pytest.raises(ZeroDivisionError):
        with client.performance_report(str(path)):
            assert client.submit(slow_inc, 100).result() == 101
            1 / 0
    assert "1 tasks computed" in path.read_text(encoding="utf-8")


def test_report_html_of_an_empty_recording():
    now = time.time()
    page = report_html({"started": now, "stopped": now, "task_stream": [], "groups": {}, "memory": [],
                        "tasks_finished": 0, "tasks_erred": 0, "transfer_bytes": 0})
    assert "0 tasks computed" in page and bokeh_documents(page)


def test_performance_report_with_an_asynchronous_client(tmp_path):
    import asyncio

    from shoal.distributed import Scheduler, Worker

    path = tmp_path / "async.html"

    async def main():
        async with Scheduler("inproc://") as s:
            worker = Worker(s.address, nthreads=1)
            await worker.start()
            try:
                async with Client(s.address, asynchronous=True) as c:
                    async with c.performance_report(str(path)):
                        assert await c.submit(slow_inc, 1) == 2
            finally:
                await worker.close()

    asyncio.run(asyncio.wait_for(main(), 30))
    assert "1 tasks computed" in path.read_text(encoding="utf-8")


def test_a_report_path_that_cannot_be_written_fails_before_the_block_runs(client, tmp_path):
    ran = []
    with pytest.raises(FileNotFoundError, match="does not exist"):
        with client.performance_report(str(tmp_path / "missing" / "report.html")):
            ran.append(client.submit(slow_inc, 1).result())
    with pytest.raises(IsADirectoryError, match="is a directory"):
        with client.performance_report(str(tmp_path)):
            ran.append(client.submit(slow_inc, 2).result())
    assert ran == []  # nothing computed for a report that could not have been written


def test_a_pathlib_filename_is_accepted(client, tmp_path):
    path = tmp_path / "pathlib.html"
    with client.performance_report(path):
        assert client.submit(slow_inc, 5).result() == 6
    assert "1 tasks computed" in path.read_text(encoding="utf-8")


def test_stopping_an_unknown_recording_says_what_happened(client):
    token = client.run_on_scheduler(start_recording)
    client.run_on_scheduler(stop_recording, token)
    with pytest.raises(RuntimeError, match="No performance report is recording"):
        client.run_on_scheduler(stop_recording, token)  # the same recording, stopped twice
