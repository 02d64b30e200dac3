"""``/metrics`` read by a strict parser of Prometheus' text exposition format,
compared with the scheduler's own state after a known computation."""

from __future__ import annotations

import math
import re
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from shoal.dashboard import DashboardPlugin
from shoal.dashboard.http_handlers import prometheus_text
from shoal.distributed import Client, LocalCluster
from shoal.distributed.state import SchedulerState
from shoal.taskgraph import Ref, Task

# ---------------------------------------------------------------- a strict exposition-format parser
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*"'
_SAMPLE = re.compile(rf"^({_NAME})(?:\{{((?:{_LABEL})(?:,{_LABEL})*)?\}})? (\S+)(?: (-?\d+))?$")
_VALUE = re.compile(r"^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|[+-]Inf|NaN)$")
_SUFFIXES = {"counter": ("",), "gauge": ("",), "untyped": ("",), "histogram": ("_bucket", "_sum", "_count"),
             "summary": ("", "_sum", "_count")}


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), text)


def parse_exposition(text: str) -> dict:
    """``{family: {"type", "help", "samples": {(sample name, labels tuple): float}}}``.

    Raises AssertionError on anything the format forbids: a sample before or
    outside its family's TYPE, a family declared twice, a duplicate series,
    a malformed line or value, non-cumulative histogram buckets.
    """
    assert text.endswith("\n"), "the exposition must end with a newline"
    families: dict = {}
    current = None
    for number, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {number}: {line!r}"
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert re.fullmatch(_NAME, name), where
            family = families.setdefault(name, {"type": None, "help": None, "samples": {}})
            assert family["help"] is None, f"HELP given twice, {where}"
            family["help"] = help_text
            continue
        if line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert kind in _SUFFIXES, where
            family = families.setdefault(name, {"type": None, "help": None, "samples": {}})
            assert family["type"] is None and not family["samples"], f"TYPE must come once, before samples: {where}"
            family["type"], current = kind, name
            continue
        assert not line.startswith("#") or line.startswith("# "), where
        if line.startswith("#") or not line.strip():
            continue
        match = _SAMPLE.match(line)
        assert match, f"malformed sample, {where}"
        sample_name, labels_text, value = match.group(1), match.group(2) or "", match.group(3)
        assert _VALUE.match(value), f"malformed value, {where}"
        assert current is not None, f"sample before any TYPE, {where}"
        kind = families[current]["type"]
        assert any(sample_name == current + suffix for suffix in _SUFFIXES[kind]), \
            f"sample {sample_name} outside its family {current}, {where}"
        labels = tuple(sorted((k, _unescape(v)) for k, v in re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                                                       labels_text)))
        assert len({k for k, _ in labels}) == len(labels), f"repeated label, {where}"
        series = (sample_name, labels)
        assert series not in families[current]["samples"], f"duplicate series, {where}"
        families[current]["samples"][series] = float(value.replace("Inf", "inf"))
    for name, family in families.items():
        if family["type"] == "histogram":
            _check_histogram(name, family["samples"])
    return families


def _check_histogram(name: str, samples: dict) -> None:
    buckets = sorted((float(dict(labels)["le"].replace("Inf", "inf")), value)
                     for (sample, labels), value in samples.items() if sample == name + "_bucket")
    assert buckets and buckets[-1][0] == math.inf, f"{name} needs a +Inf bucket"
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), f"{name} buckets must be cumulative"
    assert buckets[-1][1] == samples[(name + "_count", ())], f"{name}: +Inf bucket != _count"
    assert (name + "_sum", ()) in samples


def value(families: dict, family: str, sample: str | None = None, **labels) -> float:
    key = (sample or family, tuple(sorted(labels.items())))
    return families[family]["samples"][key]


def test_the_parser_refuses_what_the_format_forbids():
    good = '# HELP a x\n# TYPE a gauge\na{w="q\\"x"} 1\n'
    assert value(parse_exposition(good), "a", w='q"x') == 1
    for bad in ("a 1\n",  # no TYPE
                "# TYPE a gauge\na 1\na 2\n",  # duplicate series
                "# TYPE a gauge\na one\n",  # not a number
                "# TYPE a gauge\nb 1\n",  # outside its family
                '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'):
        with pytest.raises(AssertionError):
            parse_exposition(bad)


# ---------------------------------------------------------------- the scheduler's state, no network
def test_metrics_of_a_state_machine_equal_its_state():
    state = SchedulerState()
    plugin = DashboardPlugin(state)
    state.add_plugin(plugin)
    state.add_worker("w1", 2, name="one", memory_limit=10_000)
    state.add_worker("w2", 1, name="two")
    graph = {f"load-{i:08x}aaaa": Task(f"load-{i:08x}aaaa", sum, [i]) for i in range(4)}
    graph["total-bbbbbbbb"] = Task("total-bbbbbbbb", sum, [Ref(k) for k in list(graph)])
    state.update_graph("c", graph, ["total-bbbbbbbb"])
    sizes, ran_on = {}, {}
    for step in range(5):
        processing = [ts for ts in state.tasks.values() if ts.state == "processing"]
        assert processing, f"step {step}: nothing to run"
        ts = processing[0]
        sizes[ts.key], ran_on[ts.key] = 100 * (len(sizes) + 1), ts.processing_on.address
        state.handle_task_finished(ran_on[ts.key], ts.key, nbytes=sizes[ts.key], duration=0.01)
    plugin.heartbeat("w1", {"managed_bytes": 700, "unmanaged_bytes": 300, "spilled_bytes": 50, "cpu": 75.0,
                            "executing": 0})
    families = parse_exposition(prometheus_text(plugin.counts()))

    for name in ("memory", "processing", "waiting", "queued", "erred"):
        assert value(families, "shoal_tasks", state=name) == state.task_counts().get(name, 0)
    assert value(families, "shoal_workers") == len(state.workers) == 2
    assert value(families, "shoal_threads") == 3
    in_memory = [ts for ts in state.tasks.values() if ts.state == "memory"]
    assert value(families, "shoal_memory_bytes") == sum(ts.nbytes for ts in in_memory)
    assert value(families, "shoal_tasks_finished_total") == 5
    # The total ran on one worker; the loads computed elsewhere had to move there.
    runner = ran_on["total-bbbbbbbb"]
    moved = sum(sizes[k] for k in sizes if k != "total-bbbbbbbb" and ran_on[k] != runner)
    assert 0 < moved < sum(sizes.values())  # both workers computed loads
    assert value(families, "shoal_transfer_bytes_total") == moved
    assert value(families, "shoal_task_duration_seconds", "shoal_task_duration_seconds_count") == 5
    # Heartbeat metrics win over the scheduler's own bytes where given.
    assert value(families, "shoal_worker_memory_managed_bytes", worker="w1") == 700
    assert value(families, "shoal_worker_memory_unmanaged_bytes", worker="w1") == 300
    assert value(families, "shoal_worker_memory_spilled_bytes", worker="w1") == 50
    assert value(families, "shoal_worker_memory_limit_bytes", worker="w1") == 10_000
    assert value(families, "shoal_worker_cpu_percent", worker="w1") == 75.0
    # Only the total stays in memory (the loads were released once it ran).
    assert [ts.key for ts in in_memory] == ["total-bbbbbbbb"]
    held_by_w2 = sizes["total-bbbbbbbb"] if runner == "w2" else 0
    assert value(families, "shoal_worker_memory_managed_bytes", worker="w2") == held_by_w2


# ---------------------------------------------------------------- a real cluster over HTTP
def slow_block(i):
    time.sleep(0.06)
    return np.full(1000, i, dtype="int64")


def slow_total(*blocks):
    time.sleep(0.06)
    return int(sum(int(b.sum()) for b in blocks))


def stream_entries(kind: str, shoal_scheduler=None) -> list:
    """Run on the scheduler's loop: the dashboard's task stream entries of ``kind``."""
    return [e for e in shoal_scheduler.dashboard.plugin.task_stream if e[5] == kind]


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=20) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return response.read().decode()


@pytest.fixture
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address="127.0.0.1:0") as cluster:
        yield cluster


def test_metrics_over_http_equal_the_scheduler_after_a_known_computation(cluster):
    with Client(cluster) as client:
        a, b = sorted(client.nthreads())
        on_a = [client.submit(slow_block, i, workers=[a]) for i in range(3)]
        on_b = [client.submit(slow_block, i, workers=[b]) for i in range(3, 6)]
        total = client.submit(slow_total, *on_a, *on_b, workers=[b])
        assert total.result() == sum(sum([i] * 1000) for i in range(6))
        base = cluster.dashboard_link.rsplit("/", 1)[0]
        families = parse_exposition(fetch(base + "/metrics"))
        state = cluster.scheduler.state

        counts = state.task_counts()
        for name in ("memory", "processing", "waiting", "queued", "erred"):
            assert value(families, "shoal_tasks", state=name) == counts.get(name, 0)
        assert value(families, "shoal_tasks", state="memory") == 7
        assert value(families, "shoal_workers") == len(state.workers) == 2
        assert value(families, "shoal_threads") == 2
        in_memory = [ts for ts in state.tasks.values() if ts.state == "memory"]
        assert value(families, "shoal_memory_bytes") == sum(ts.nbytes for ts in in_memory)
        # The three blocks computed on a moved to b for the total; each holds 1000 int64s.
        moved = sum(state.tasks[f.key].nbytes for f in on_a)
        assert moved >= 3 * np.full(1000, 0, dtype="int64").nbytes
        assert value(families, "shoal_transfer_bytes_total") == moved
        # Seven tasks, each sleeping 0.06 s: none is in a bucket up to 0.05 s.
        hist = "shoal_task_duration_seconds"
        assert value(families, hist, hist + "_count") == 7
        assert value(families, hist, hist + "_bucket", le="0.05") == 0
        assert value(families, hist, hist + "_bucket", le="+Inf") == 7
        assert value(families, hist, hist + "_sum") >= 7 * 0.06
        assert value(families, "shoal_tasks_finished_total") == 7
        # b fetched a's blocks: its heartbeats carry the transfers, drawn on b's row.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # bounded: heartbeats come every second
            transfers = client.run_on_scheduler(stream_entries, "transfer")
            if transfers:
                break
            time.sleep(0.05)
        assert transfers and {e[1] for e in transfers} == {b}
        limits = {ws.address: ws.memory_limit or 0 for ws in state.workers.values()}
        for address, limit in limits.items():
            assert value(families, "shoal_worker_memory_limit_bytes", worker=address) == limit
            assert value(families, "shoal_worker_processing_tasks", worker=address) == 0


def test_unknown_paths_give_404(cluster):
    base = cluster.dashboard_link.rsplit("/", 1)[0]
    for path in ("/nope", "/status/extra/thing", "/metrics2"):
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(base + path, timeout=20)
        assert info.value.code == 404
        assert "/status" in info.value.read().decode()  # says which pages exist
        info.value.close()  # the error holds the response's socket
    with urllib.request.urlopen(base + "/health", timeout=20) as response:
        assert response.read() == b"ok"
    for page in ("/status", "/workers", "/graph", "/stages"):
        with urllib.request.urlopen(base + page, timeout=20) as response:
            assert response.status == 200 and b"bokeh" in response.read().lower()
