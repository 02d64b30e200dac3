"""The server-side Bokeh documents of the dashboard, and its startup edge cases."""

from __future__ import annotations

import asyncio
import socket

import pytest
from bokeh.document import Document

from shoal.dashboard import DashboardPlugin
from shoal.dashboard.pages import status_document, workers_document
from shoal.distributed.scheduler import Scheduler
from shoal.distributed.state import SchedulerState
from shoal.taskgraph import Task

CLIENT = "client-1"


def add_all(*values):
    return sum(values)


def run_some(state: SchedulerState, n_done: int) -> list:
    state.add_worker("w1", 2, name="first")
    state.add_worker("w2", 1, name="second")
    graph = {("square-aaaaaaaa3", i): Task(("square-aaaaaaaa3", i), add_all, i) for i in range(10)}
    state.update_graph(CLIENT, graph, list(graph))
    done = []
    for _ in range(n_done):
        ts = next(ts for ts in state.tasks.values() if ts.state == "processing")
        state.handle_task_finished(ts.processing_on.address, ts.key, nbytes=64)
        done.append(ts.key)
    return done


def status_sources(doc: Document) -> dict:
    return {name: doc.select_one({"name": name + "-figure"}) for name in ("task-stream", "progress", "processing", "memory")}


def test_status_document_shows_what_ran():
    state = SchedulerState()
    plugin = DashboardPlugin(state)
    state.add_plugin(plugin)
    done = run_some(state, 4)
    doc = Document()
    status_document(plugin, 500)(doc)
    figures = status_sources(doc)
    stream = figures["task-stream"].renderers[0].data_source.data
    assert sorted(stream["key"]) == sorted(str(k) for k in done)
    assert all(a <= b for a, b in zip(stream["start"], stream["stop"]))
    progress = figures["progress"].renderers[0].data_source.data
    expected = {s: sum(1 for ts in state.tasks.values() if ts.state == s) for s in ("memory", "processing", "queued")}
    row = progress["prefix"].index("square")
    assert {s: progress[s][row] for s in expected} == expected
    workers = figures["processing"].renderers[0].data_source.data
    assert dict(zip(workers["address"], workers["processing"])) == {
        a: len(ws.processing) for a, ws in state.workers.items()}
    # A periodic update sends only the new task-stream entries.
    more = run_some_more(state, 2)
    (callback,) = doc.session_callbacks
    callback.callback()
    stream = figures["task-stream"].renderers[0].data_source.data
    assert sorted(stream["key"]) == sorted(str(k) for k in done + more)


def run_some_more(state, n):
    done = []
    for _ in range(n):
        ts = next(ts for ts in state.tasks.values() if ts.state == "processing")
        state.handle_task_finished(ts.processing_on.address, ts.key, nbytes=64)
        done.append(ts.key)
    return done


def test_workers_document_lists_every_worker():
    state = SchedulerState()
    plugin = DashboardPlugin(state)
    state.add_plugin(plugin)
    run_some(state, 3)
    doc = Document()
    workers_document(plugin, 500)(doc)
    data = doc.select_one({"name": "workers-table"}).source.data
    assert dict(zip(data["address"], data["name"])) == {"w1": "first", "w2": "second"}
    assert dict(zip(data["address"], data["nthreads"])) == {"w1": 2, "w2": 1}
    assert sum(data["in_memory"]) == sum(1 for ts in state.tasks.values() if ts.state == "memory") == 3


def test_busy_port_warns_and_serves_elsewhere():
    async def main():
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            with pytest.warns(RuntimeWarning, match="already in use"):
                scheduler = Scheduler("inproc://", dashboard_address=f"127.0.0.1:{port}")
                await scheduler.start()
            try:
                assert scheduler.status == "running"
                assert scheduler.dashboard.port not in (0, port)
            finally:
                await scheduler.close()

    asyncio.run(main())


def test_bad_address_names_the_argument():
    async def main():
        scheduler = Scheduler("inproc://", dashboard_address="localhost:http")
        with pytest.raises(ValueError, match="dashboard_address='localhost:http'"):
            await scheduler.start()
        await scheduler.close()

    asyncio.run(main())


@pytest.mark.parametrize("address", ["127.0.0.1:70000", "127.0.0.1:-1", "65536"])
def test_a_port_out_of_range_names_the_argument(address):
    async def main():
        scheduler = Scheduler("inproc://", dashboard_address=address)
        try:
            with pytest.raises(ValueError, match=f"dashboard_address={address!r}: port .* outside 0-65535"):
                await scheduler.start()
        finally:
            await scheduler.close()

    asyncio.run(main())


def test_busy_port_without_fallback_serves_no_dashboard_but_the_scheduler_runs():
    from shoal import config

    async def main():
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            with config.set({"dashboard.port-fallback": False}), \
                    pytest.warns(RuntimeWarning, match="serving no dashboard"):
                scheduler = Scheduler("inproc://", dashboard_address=f"127.0.0.1:{port}")
                await scheduler.start()
            try:
                assert scheduler.status == "running"
                assert scheduler.dashboard is None and scheduler.info()["dashboard_link"] is None
            finally:
                await scheduler.close()

    asyncio.run(main())


def _health_through(link: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(link.replace("/status", "/health"), timeout=20) as response:
        return response.read()


def test_every_interface_gives_a_link_a_browser_can_open():
    async def main():
        scheduler = Scheduler("inproc://", dashboard_address="0.0.0.0:0")
        await scheduler.start()
        try:
            link = scheduler.dashboard.link
            assert "0.0.0.0" not in link and link.endswith(f":{scheduler.dashboard.port}/status")
            assert await asyncio.to_thread(_health_through, link) == b"ok"
        finally:
            await scheduler.close()

    asyncio.run(main())


def _has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_an_ipv6_address_in_brackets_is_served_and_linked_in_brackets():
    async def main():
        scheduler = Scheduler("inproc://", dashboard_address="[::1]:0")
        await scheduler.start()
        try:
            assert scheduler.dashboard.link == f"http://[::1]:{scheduler.dashboard.port}/status"
            assert await asyncio.to_thread(_health_through, scheduler.dashboard.link) == b"ok"
        finally:
            await scheduler.close()

    asyncio.run(main())


def test_an_unknown_host_names_the_dashboard_address():
    async def main():
        scheduler = Scheduler("inproc://", dashboard_address="no-such-host.invalid:0")
        try:
            with pytest.raises(OSError, match="dashboard_address='no-such-host.invalid:0'.*not known"):
                await scheduler.start()
        finally:
            await scheduler.close()

    asyncio.run(main())


def test_closing_the_scheduler_stops_open_pages_and_closes_their_websockets():
    import re

    from tornado.httpclient import AsyncHTTPClient
    from tornado.websocket import websocket_connect

    from shoal import config

    async def main():
        with config.set({"dashboard.interval": 0.05}):
            scheduler = Scheduler("inproc://", dashboard_address="127.0.0.1:0")
            await scheduler.start()
        try:
            plugin, port = scheduler.dashboard.plugin, scheduler.dashboard.port
            reads = [0]
            read_stream = plugin.new_task_stream

            def counted(*args, **kwargs):
                reads[0] += 1
                return read_stream(*args, **kwargs)

            plugin.new_task_stream = counted  # every /status update reads the task stream once
            page = (await AsyncHTTPClient().fetch(f"http://127.0.0.1:{port}/status")).body.decode()
            token = re.search(r'"token":"([^"]+)"', page).group(1)
            websocket = await websocket_connect(f"ws://127.0.0.1:{port}/status/ws", subprotocols=["bokeh", token])
            assert await asyncio.wait_for(websocket.read_message(), 10) is not None  # Bokeh's ACK
            deadline = asyncio.get_running_loop().time() + 20
            while reads[0] <= 1 and asyncio.get_running_loop().time() < deadline:  # updates every 0.05 s
                await asyncio.sleep(0.05)
            assert reads[0] > 1  # the page updates while the scheduler runs
        finally:
            await scheduler.close()
        for _ in range(100):  # bounded: the server closes the socket, so None comes soon
            if await asyncio.wait_for(websocket.read_message(), 10) is None:
                break
        else:
            raise AssertionError("the page's websocket stayed open after the scheduler closed")
        after_close = reads[0]
        await asyncio.sleep(0.3)
        assert reads[0] == after_close  # no update runs once the scheduler is closed

    asyncio.run(main())


def test_settings_from_environment_words_are_understood():
    from shoal import config
    from shoal.dashboard.server import Dashboard

    async def main(fallback_word):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            # As an environment variable gives it: SHOAL_DASHBOARD__PORT_FALLBACK=false
            with config.set({"dashboard.port-fallback": fallback_word}), \
                    pytest.warns(RuntimeWarning, match="serving no dashboard"):
                scheduler = Scheduler("inproc://", dashboard_address=f"127.0.0.1:{port}")
                await scheduler.start()
            try:
                assert scheduler.status == "running" and scheduler.dashboard is None
            finally:
                await scheduler.close()

    for word in ("false", "False", "off", "no"):
        asyncio.run(main(word))

    async def bad_interval():
        scheduler = Scheduler("inproc://")
        await scheduler.start()
        try:
            with config.set({"dashboard.interval": "fast"}), \
                    pytest.raises(ValueError, match="dashboard.interval='fast' is not a number of seconds"):
                Dashboard(scheduler, "127.0.0.1:0")
        finally:
            await scheduler.close()

    asyncio.run(bad_interval())


def test_dashboard_address_true_serves_on_the_default_port_or_a_free_one():
    import warnings

    from shoal.dashboard.server import DEFAULT_ADDRESS, parse_address

    async def main():
        with warnings.catch_warnings():
            # 8787 may be taken on this machine: then the fallback warns and serves elsewhere.
            warnings.simplefilter("ignore", RuntimeWarning)
            scheduler = Scheduler("inproc://", dashboard_address=True)
            await scheduler.start()
        try:
            host, port = parse_address(DEFAULT_ADDRESS)
            assert scheduler.dashboard.host == host and scheduler.dashboard.port > 0
            assert await asyncio.to_thread(_health_through, scheduler.dashboard.link) == b"ok"
        finally:
            await scheduler.close()

    asyncio.run(main())


def test_a_busy_port_leaves_no_socket_open():
    import gc
    import warnings

    async def main():
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            scheduler = Scheduler("inproc://", dashboard_address=f"127.0.0.1:{port}")
            await scheduler.start()
            await scheduler.close()

    gc.collect()  # garbage of earlier tests (their sockets) is not this scheduler's
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(main())
        gc.collect()  # an abandoned socket warns when it is collected
    assert any("already in use" in str(w.message) for w in caught)
    assert not [w for w in caught if issubclass(w.category, ResourceWarning) and "socket" in str(w.message)]
