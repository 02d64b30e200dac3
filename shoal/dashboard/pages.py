"""The Bokeh documents of ``/status`` and ``/workers``.

``/status`` shows the task stream (a bar per task on its worker's row,
coloured by prefix; transfers red, disk spills brown, errors black), the
progress per prefix, running and queued tasks per worker, memory per worker
split into managed / unmanaged / spilled bytes with its limit marked, and
the total CPU of the workers (from their heartbeats).

Each document reads only the ``DashboardPlugin`` aggregates, in a periodic
callback on the scheduler's loop, and each update is bounded: at most
``MAX_ROWS`` workers or prefixes and the task-stream entries new since the
last update (at most ``MAX_STREAM_UPDATE``).
"""

from __future__ import annotations

import zlib

import math

from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, DataTable, Div, FactorRange, HoverTool, TableColumn
from bokeh.palettes import Category20
from bokeh.plotting import figure

from .aggregates import COUNTED_STATES

MAX_ROWS = 500
MAX_STREAM_UPDATE = 1000
TASK_STREAM_KEPT = 5000
STATE_COLOURS = {"waiting": "#cccccc", "queued": "#999999", "no-worker": "#ff9900",
                 "processing": "#4ca64c", "memory": "#1f77b4", "erred": "#d62728"}
PROGRESS_STATES = [s for s in COUNTED_STATES]
#: Task stream colours of what is not a computed task (computed tasks take their prefix's colour).
KIND_COLOURS = {"transfer": "#e41a1c", "spill": "#8c564b", "erred": "#000000"}
#: Prefix colours: Category20 without its reds and browns, which mark transfers and spills.
PREFIX_PALETTE = [c for c in Category20[20] if c not in ("#d62728", "#ff9896", "#8c564b", "#c49c94")]
MEMORY_PARTS = ["managed", "unmanaged", "spilled"]
MEMORY_COLOURS = ["#1f77b4", "#aec7e8", "#8c564b"]


def stream_colour(prefix: str, kind: str) -> str:
    """The colour of a task stream bar.

    >>> stream_colour("transfer", "transfer")
    '#e41a1c'
    >>> stream_colour("inc", "compute") == prefix_colour("inc")
    True
    """
    return KIND_COLOURS.get(kind) or prefix_colour(prefix)


def prefix_colour(prefix: str) -> str:
    """A stable colour per task prefix (the same in every document).

    >>> prefix_colour("inc") == prefix_colour("inc")
    True
    """
    if prefix == "erred":
        return "#000000"
    return PREFIX_PALETTE[zlib.crc32(prefix.encode()) % len(PREFIX_PALETTE)]


def _workers_columns(plugin) -> dict:
    details = [wc for _, wc in zip(range(MAX_ROWS), plugin.workers.values())]
    return {
        "address": [wc.address for wc in details],
        "name": [str(wc.name) for wc in details],
        "nthreads": [wc.nthreads for wc in details],
        "memory_limit": [wc.memory_limit or 0 for wc in details],
        "nbytes": [wc.nbytes for wc in details],
        "processing": [wc.processing for wc in details],
        "queued": [wc.queued for wc in details],
        "running": [wc.processing - wc.queued for wc in details],
        "in_memory": [wc.in_memory for wc in details],
        "managed": [wc.managed for wc in details],
        "unmanaged": [wc.unmanaged_bytes for wc in details],
        "spilled": [wc.spilled_bytes for wc in details],
        # NaN draws no limit marker for a worker without a limit.
        "limit_marker": [wc.memory_limit or math.nan for wc in details],
        "cpu": [wc.cpu for wc in details],
        "transfer_bytes": [wc.transfer_bytes for wc in details],
        "sent_bytes": [wc.sent_bytes for wc in details],
        "status": ["paused" if wc.paused else "running" for wc in details],
    }


def cpu_text(plugin) -> str:
    """The total CPU line of ``/status``."""
    workers = plugin.workers.values()
    total = sum(wc.cpu for wc in workers)
    threads = sum(wc.nthreads for wc in workers)
    return (f"<b>Total CPU</b>: {total:.0f}% over {len(plugin.workers)} workers, {threads} threads "
            f"&nbsp; <b>bytes transferred</b>: {plugin.transfer_bytes}")


def _progress_columns(plugin) -> dict:
    prefixes = sorted(plugin.prefix_counts.items(), key=lambda item: -sum(item[1].values()))
    prefixes = [(name, c) for name, c in prefixes[:MAX_ROWS] if any(c.values())]
    data = {"prefix": [name for name, _ in prefixes]}
    for state in PROGRESS_STATES:
        data[state] = [c[state] for _, c in prefixes]
    return data


class ThreadLanes:
    """Give each task stream bar a lane (row) of its worker, one per thread.

    Bars come after the fact, so the lane is the first one of the worker
    free at the bar's start (interval partitioning); past ``nthreads + 2``
    lanes (transfers and spills overlap tasks) the lane freed first is reused.

    >>> lanes = ThreadLanes()
    >>> [lanes.place("w", 2, start, stop) for start, stop in [(0, 2), (1, 3), (2.5, 4)]]
    ['w 0', 'w 1', 'w 0']
    """

    def __init__(self):
        self.ends: dict = {}  # worker -> [stop time of the last bar in each lane]

    def place(self, worker: str, nthreads: int, start: float, stop: float) -> str:
        ends = self.ends.setdefault(worker, [])
        lane = next((i for i, end in enumerate(ends) if end <= start), None)
        if lane is None:
            if len(ends) < max(nthreads, 1) + 2:
                ends.append(stop)
                return f"{worker} {len(ends) - 1}"
            lane = min(range(len(ends)), key=ends.__getitem__)
        ends[lane] = max(ends[lane], stop)
        return f"{worker} {lane}"

    def rows(self, workers: list) -> list:
        """Every lane of ``workers`` (in their order) that holds a bar."""
        return [f"{w} {i}" for w in workers for i in range(len(self.ends.get(w, ())))]


def status_document(plugin, interval_ms: int):
    """Return a function filling a Bokeh document with the ``/status`` page."""
    def make(doc):
        origin = plugin.clock()
        stream = ColumnDataSource({"key": [], "worker": [], "lane": [], "start": [], "stop": [], "prefix": [],
                                   "kind": [], "colour": []})
        lanes = ThreadLanes()
        seen = [max(plugin.task_stream_total - MAX_STREAM_UPDATE, 0)]
        task_stream = figure(title="Task stream: one row per worker thread (seconds since page opened; "
                                   "red: transfer, brown: spill, black: error)", height=350,
                             sizing_mode="stretch_width", y_range=FactorRange(), tools="pan,wheel_zoom,reset",
                             name="task-stream-figure")
        bars = task_stream.hbar(y="lane", left="start", right="stop", height=0.8, color="colour", source=stream)
        task_stream.add_tools(HoverTool(renderers=[bars], tooltips=[("key", "@key"), ("kind", "@kind")]))

        progress_source = ColumnDataSource(_progress_columns(plugin))
        progress = figure(title="Progress per task prefix", height=300, sizing_mode="stretch_width",
                          y_range=FactorRange(*progress_source.data["prefix"]), tools="", name="progress-figure")
        progress.hbar_stack(PROGRESS_STATES, y="prefix", height=0.8, source=progress_source,
                            color=[STATE_COLOURS[s] for s in PROGRESS_STATES], legend_label=PROGRESS_STATES)

        workers_source = ColumnDataSource(_workers_columns(plugin))
        processing = figure(title="Tasks per worker: running, queued on the worker", height=300, width=450,
                            y_range=FactorRange(*workers_source.data["address"]), tools="", name="processing-figure")
        processing.hbar_stack(["running", "queued"], y="address", height=0.8, source=workers_source,
                              color=["#4ca64c", "#999999"], legend_label=["running", "queued"])
        memory = figure(title="Memory per worker: managed, unmanaged, spilled (| limit)", height=300, width=450,
                        y_range=processing.y_range, tools="", name="memory-figure")
        memory.hbar_stack(MEMORY_PARTS, y="address", height=0.8, source=workers_source, color=MEMORY_COLOURS,
                          legend_label=MEMORY_PARTS)
        memory.scatter(x="limit_marker", y="address", marker="dash", angle=math.pi / 2, size=30,
                       line_width=3, color="#d62728", source=workers_source)
        cpu = Div(text=cpu_text(plugin), name="cpu-div")

        def update():
            entries, seen[0] = plugin.new_task_stream(seen[0], MAX_STREAM_UPDATE)
            if entries:
                entries.sort(key=lambda e: e[2])  # by start: lanes are filled in time order
                threads = {w: wc.nthreads for w, wc in plugin.workers.items()}
                stream.stream({
                    "key": [str(e[0]) for e in entries], "worker": [str(e[1]) for e in entries],
                    "lane": [lanes.place(str(e[1]), threads.get(e[1], 1), e[2], e[3]) for e in entries],
                    "start": [e[2] - origin for e in entries], "stop": [e[3] - origin for e in entries],
                    "prefix": [e[4] for e in entries], "kind": [e[5] for e in entries],
                    "colour": [stream_colour(e[4], e[5]) for e in entries],
                }, rollover=TASK_STREAM_KEPT)
            workers = _workers_columns(plugin)
            if list(processing.y_range.factors) != workers["address"]:
                processing.y_range.factors = workers["address"]
            stream_rows = lanes.rows(workers["address"])
            if list(task_stream.y_range.factors) != stream_rows:
                task_stream.y_range.factors = stream_rows
            workers_source.data = workers
            progress_data = _progress_columns(plugin)
            if list(progress.y_range.factors) != progress_data["prefix"]:
                progress.y_range.factors = progress_data["prefix"]
            progress_source.data = progress_data
            text = cpu_text(plugin)
            if cpu.text != text:
                cpu.text = text

        update()
        doc.title = "shoal: status"
        doc.add_root(column(cpu, task_stream, progress, row(processing, memory), sizing_mode="stretch_width"))
        doc.add_periodic_callback(update, interval_ms)

    return make


def workers_document(plugin, interval_ms: int):
    """Return a function filling a Bokeh document with the ``/workers`` table."""
    def make(doc):
        source = ColumnDataSource(_workers_columns(plugin))
        columns = [TableColumn(field=f, title=t) for f, t in (
            ("name", "name"), ("address", "address"), ("status", "status"), ("nthreads", "threads"),
            ("managed", "managed bytes"), ("unmanaged", "unmanaged bytes"), ("spilled", "spilled bytes"),
            ("memory_limit", "memory limit"), ("cpu", "CPU %"), ("processing", "processing"),
            ("queued", "queued"), ("in_memory", "in memory"), ("transfer_bytes", "bytes received"),
            ("sent_bytes", "bytes sent"))]
        table = DataTable(source=source, columns=columns, sizing_mode="stretch_width", name="workers-table")

        def update():
            source.data = _workers_columns(plugin)

        doc.title = "shoal: workers"
        doc.add_root(table)
        doc.add_periodic_callback(update, interval_ms)

    return make
