"""The Bokeh documents of ``/status`` and ``/workers``.

Each document reads only the ``DashboardPlugin`` aggregates, in a periodic
callback on the scheduler's loop, and each update is bounded: at most
``MAX_ROWS`` workers or prefixes and the task-stream entries new since the
last update (at most ``MAX_STREAM_UPDATE``).
"""

from __future__ import annotations

import zlib

from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, DataTable, FactorRange, TableColumn
from bokeh.palettes import Category20
from bokeh.plotting import figure

from .aggregates import COUNTED_STATES

MAX_ROWS = 500
MAX_STREAM_UPDATE = 1000
TASK_STREAM_KEPT = 5000
STATE_COLOURS = {"waiting": "#cccccc", "queued": "#999999", "no-worker": "#ff9900",
                 "processing": "#4ca64c", "memory": "#1f77b4", "erred": "#d62728"}
PROGRESS_STATES = [s for s in COUNTED_STATES]


def prefix_colour(prefix: str) -> str:
    """A stable colour per task prefix (the same in every document).

    >>> prefix_colour("inc") == prefix_colour("inc")
    True
    """
    if prefix == "erred":
        return "#000000"
    palette = Category20[20]
    return palette[zlib.crc32(prefix.encode()) % len(palette)]


def _workers_columns(plugin) -> dict:
    details = [wc for _, wc in zip(range(MAX_ROWS), plugin.workers.values())]
    return {
        "address": [wc.address for wc in details],
        "name": [str(wc.name) for wc in details],
        "nthreads": [wc.nthreads for wc in details],
        "memory_limit": [wc.memory_limit or 0 for wc in details],
        "nbytes": [wc.nbytes for wc in details],
        "processing": [wc.processing for wc in details],
        "in_memory": [wc.in_memory for wc in details],
    }


def _progress_columns(plugin) -> dict:
    prefixes = sorted(plugin.prefix_counts.items(), key=lambda item: -sum(item[1].values()))
    prefixes = [(name, c) for name, c in prefixes[:MAX_ROWS] if any(c.values())]
    data = {"prefix": [name for name, _ in prefixes]}
    for state in PROGRESS_STATES:
        data[state] = [c[state] for _, c in prefixes]
    return data


def status_document(plugin, interval_ms: int):
    """Return a function filling a Bokeh document with the ``/status`` page."""
    def make(doc):
        origin = plugin.clock()
        stream = ColumnDataSource({"key": [], "worker": [], "start": [], "stop": [], "prefix": [], "colour": []})
        seen = [max(plugin.task_stream_total - MAX_STREAM_UPDATE, 0)]
        task_stream = figure(title="Task stream (seconds since page opened)", height=300,
                             sizing_mode="stretch_width", y_range=FactorRange(), tools="pan,wheel_zoom,reset",
                             name="task-stream-figure")
        task_stream.hbar(y="worker", left="start", right="stop", height=0.8, color="colour", source=stream)

        progress_source = ColumnDataSource(_progress_columns(plugin))
        progress = figure(title="Progress per task prefix", height=300, sizing_mode="stretch_width",
                          y_range=FactorRange(*progress_source.data["prefix"]), tools="", name="progress-figure")
        progress.hbar_stack(PROGRESS_STATES, y="prefix", height=0.8, source=progress_source,
                            color=[STATE_COLOURS[s] for s in PROGRESS_STATES], legend_label=PROGRESS_STATES)

        workers_source = ColumnDataSource(_workers_columns(plugin))
        processing = figure(title="Processing tasks per worker", height=300, width=450,
                            y_range=FactorRange(*workers_source.data["address"]), tools="", name="processing-figure")
        processing.hbar(y="address", right="processing", height=0.8, source=workers_source, color="#4ca64c")
        memory = figure(title="Bytes in memory per worker", height=300, width=450,
                        y_range=processing.y_range, tools="", name="memory-figure")
        memory.hbar(y="address", right="nbytes", height=0.8, source=workers_source, color="#1f77b4")

        def update():
            entries, seen[0] = plugin.new_task_stream(seen[0], MAX_STREAM_UPDATE)
            if entries:
                stream.stream({
                    "key": [str(e[0]) for e in entries], "worker": [str(e[1]) for e in entries],
                    "start": [e[2] - origin for e in entries], "stop": [e[3] - origin for e in entries],
                    "prefix": [e[4] for e in entries], "colour": [prefix_colour(e[4]) for e in entries],
                }, rollover=TASK_STREAM_KEPT)
            workers = _workers_columns(plugin)
            if list(processing.y_range.factors) != workers["address"]:
                processing.y_range.factors = workers["address"]
            if list(task_stream.y_range.factors) != workers["address"]:
                task_stream.y_range.factors = workers["address"]
            workers_source.data = workers
            progress_data = _progress_columns(plugin)
            if list(progress.y_range.factors) != progress_data["prefix"]:
                progress.y_range.factors = progress_data["prefix"]
            progress_source.data = progress_data

        update()
        doc.title = "shoal: status"
        doc.add_root(column(task_stream, progress, row(processing, memory), sizing_mode="stretch_width"))
        doc.add_periodic_callback(update, interval_ms)

    return make


def workers_document(plugin, interval_ms: int):
    """Return a function filling a Bokeh document with the ``/workers`` table."""
    def make(doc):
        source = ColumnDataSource(_workers_columns(plugin))
        columns = [TableColumn(field=f, title=t) for f, t in (
            ("name", "name"), ("address", "address"), ("nthreads", "threads"),
            ("nbytes", "memory (bytes)"), ("memory_limit", "memory limit"),
            ("processing", "processing"), ("in_memory", "in memory"))]
        table = DataTable(source=source, columns=columns, sizing_mode="stretch_width", name="workers-table")

        def update():
            source.data = _workers_columns(plugin)

        doc.title = "shoal: workers"
        doc.add_root(table)
        doc.add_periodic_callback(update, interval_ms)

    return make
