"""``performance_report``: one standalone HTML file describing what a block of code ran.

``with client.performance_report("report.html"): ...`` registers a
``ReportPlugin`` on the scheduler (through ``run_on_scheduler``), and on
exit fetches what it recorded and writes one HTML file with BokehJS inlined,
so it opens with no server and no network: the task stream (the same plot
as the local ``Profiler``'s ``visualize()``), the time spent per task group,
and memory per worker over time.

The recording lives on the scheduler while the block runs; what comes back
is bounded (``task_stream_size`` tasks, ``max_samples`` memory samples).
"""

from __future__ import annotations

import html
import itertools
import os
import time
import uuid
from collections import deque
from typing import Any, Hashable

from .aggregates import DashboardPlugin

#: Recorders running on this process's schedulers, by token.
_RECORDERS: dict = {}


class ReportPlugin(DashboardPlugin):
    """A ``DashboardPlugin`` that also keeps totals per task group and memory samples.

    ``sample_interval``: seconds between memory samples (taken on transitions
    and heartbeats, so an idle cluster adds none).
    """

    def __init__(self, state: Any, *, task_stream_size: int = 100_000, sample_interval: float = 0.05,
                 max_samples: int = 20_000, clock=time.time):
        super().__init__(state, task_stream_size=task_stream_size, clock=clock)
        self.started = clock()
        self.sample_interval = sample_interval
        self.groups: dict = {}  # prefix -> [tasks, total seconds, longest seconds]
        self.memory_samples: deque = deque(maxlen=max_samples)  # (time, {worker: managed bytes})
        self._last_sample = -float("inf")

    def transition(self, key: Hashable, start: str, finish: str, **info: Any) -> None:
        total = self.task_stream_total
        super().transition(key, start, finish, **info)
        if self.task_stream_total != total:  # this transition finished a task
            _, _, begin, end, prefix, kind = self.task_stream[-1]
            group = self.groups.setdefault(prefix if kind == "compute" else kind, [0, 0.0, 0.0])
            group[0] += 1
            group[1] += end - begin
            group[2] = max(group[2], end - begin)
        if finish == "memory" or start == "memory":
            self._maybe_sample()

    def heartbeat(self, address: str, metrics: Any) -> None:
        super().heartbeat(address, metrics)
        self._maybe_sample()

    def _maybe_sample(self) -> None:
        now = self.clock()
        if now - self._last_sample >= self.sample_interval:
            self._last_sample = now
            self.memory_samples.append((now, {a: wc.managed for a, wc in self.workers.items()}))

    def result(self) -> dict:
        """Everything the report shows, as plain data (it crosses the network)."""
        self._last_sample = -float("inf")
        self._maybe_sample()  # the state at the end of the block
        return {
            "started": self.started,
            "stopped": self.clock(),
            "task_stream": [(str(key), str(worker), start, stop, prefix, kind)
                            for key, worker, start, stop, prefix, kind in self.task_stream],
            "groups": {prefix: list(values) for prefix, values in self.groups.items()},
            "memory": [(t, dict(sample)) for t, sample in self.memory_samples],
            "tasks_finished": self.tasks_finished,
            "tasks_erred": self.tasks_erred,
            "transfer_bytes": self.transfer_bytes,
        }


def start_recording(shoal_scheduler=None) -> str:
    """Run on the scheduler: start a ``ReportPlugin``; its token."""
    if shoal_scheduler is None:
        raise RuntimeError("start_recording runs on the scheduler through Client.run_on_scheduler.")
    token = uuid.uuid4().hex
    plugin = ReportPlugin(shoal_scheduler.state)
    shoal_scheduler.add_plugin(plugin)
    _RECORDERS[token] = (shoal_scheduler, plugin)
    return token


def stop_recording(token: str, shoal_scheduler=None) -> dict:
    """Run on the scheduler: stop the recording ``token``; what it recorded."""
    if token not in _RECORDERS:
        raise RuntimeError(f"No performance report is recording on this scheduler under token {token!r}: "
                           "it already ended, or the scheduler was restarted since it began. "
                           "Start a new one with client.performance_report(filename).")
    scheduler, plugin = _RECORDERS.pop(token)
    scheduler.remove_plugin(plugin)
    return plugin.result()


# ---------------------------------------------------------------- plots (client side)
def plot_task_stream(task_stream: list, started: float, width: int = 900):
    """The task stream, drawn by the same function as the local ``Profiler``'s
    ``visualize()``: one bar per task on its worker's row, time since the report began."""
    from shoal.schedulers.diagnostics.plot import plot_tasks
    from shoal.schedulers.diagnostics.profile import TaskData

    workers = sorted({entry[1] for entry in task_stream})
    row = {w: i for i, w in enumerate(workers)}
    results = [
        # Transfers and spills are named by their kind so they form their own legend entry.
        TaskData(key if kind == "compute" else kind, None, start - started, stop - started, row[worker])
        for key, worker, start, stop, prefix, kind in task_stream
    ]
    fig = plot_tasks(results, width=width)
    fig.title.text = f"task stream ({len(task_stream)} tasks, transfers and spills)"
    fig.yaxis.major_label_overrides = {i: w for w, i in row.items()}
    fig.name = "report-task-stream"
    return fig


def plot_groups(groups: dict, width: int = 900):
    """Seconds spent per task group (hover: tasks and the longest one)."""
    from bokeh.models import ColumnDataSource, HoverTool
    from bokeh.plotting import figure

    from .pages import prefix_colour

    names = sorted(groups, key=lambda p: groups[p][1])
    source = ColumnDataSource({
        "group": names, "tasks": [groups[p][0] for p in names], "seconds": [groups[p][1] for p in names],
        "longest": [groups[p][2] for p in names], "colour": [prefix_colour(p) for p in names],
    })
    fig = figure(title="time per task group (seconds, summed over tasks)", y_range=names or ["(none)"],
                 width=width, height=min(600, 100 + 25 * max(len(names), 1)), tools="save",
                 x_axis_label="seconds", name="report-groups")
    bars = fig.hbar(y="group", right="seconds", height=0.8, color="colour", source=source)
    fig.add_tools(HoverTool(renderers=[bars], tooltips=[("tasks", "@tasks"), ("seconds", "@seconds{0.000}"),
                                                       ("longest", "@longest{0.000} s")]))
    return fig


def plot_memory(samples: list, started: float, width: int = 900):
    """Bytes of results held per worker over time (one line per worker)."""
    from bokeh.palettes import Category10
    from bokeh.plotting import figure

    fig = figure(title="memory per worker (bytes of results held)", width=width, height=300,
                 x_axis_label="time (s)", y_axis_label="bytes", tools="xpan,xwheel_zoom,reset,save",
                 name="report-memory")
    workers = sorted({w for _, sample in samples for w in sample})
    for worker, colour in zip(workers, itertools.cycle(Category10[10])):
        points = [(t - started, sample[worker]) for t, sample in samples if worker in sample]
        fig.line([p[0] for p in points], [p[1] for p in points], color=colour, line_width=2, legend_label=worker)
    if workers:
        fig.legend.location = "top_left"
    return fig


def report_html(data: dict, title: str = "shoal performance report") -> str:
    """The standalone HTML page of ``data`` (from ``stop_recording``), BokehJS inlined."""
    from bokeh.embed import file_html
    from bokeh.layouts import column
    from bokeh.models import Div
    from bokeh.resources import INLINE

    elapsed = data["stopped"] - data["started"]
    summary = Div(text=(
        f"<h2>{html.escape(title)}</h2><p>{elapsed:.3f} s, {data['tasks_finished']} tasks computed, "
        f"{data['tasks_erred']} erred, {data['transfer_bytes']} bytes transferred between workers.</p>"),
        name="report-summary")
    layout = column(summary, plot_task_stream(data["task_stream"], data["started"]),
                    plot_groups(data["groups"]), plot_memory(data["memory"], data["started"]))
    return file_html(layout, resources=INLINE, title=title)


class performance_report:
    """Record what the scheduler runs inside the block; write ``filename`` on exit.

    Use ``with`` on a synchronous client and ``async with`` on an
    asynchronous one. The file is written even when the block raises (it
    shows what ran up to the error). See ``Client.performance_report``.
    """

    def __init__(self, client, filename: str = "shoal-report.html", title: str = "shoal performance report"):
        self.client = client
        self.filename = os.fspath(filename)
        self.title = title
        self.token = None

    def _check_destination(self) -> None:
        """Refuse a file that cannot be written before the block runs, not after
        (a report lost at the end of a long computation is lost for good)."""
        directory = os.path.dirname(os.path.abspath(self.filename))
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"performance_report cannot write {self.filename!r}: the directory "
                                    f"{directory!r} does not exist; create it first or choose another filename.")
        if os.path.isdir(self.filename):
            raise IsADirectoryError(f"performance_report cannot write {self.filename!r}: it is a directory; "
                                    "give the name of an .html file.")

    def _write(self, data: dict) -> None:
        with open(self.filename, "w", encoding="utf-8") as file:
            file.write(report_html(data, self.title))

    def __enter__(self) -> "performance_report":
        self._check_destination()
        self.token = self.client.run_on_scheduler(start_recording)
        return self

    def __exit__(self, *exc_info) -> None:
        self._write(self.client.run_on_scheduler(stop_recording, self.token))

    async def __aenter__(self) -> "performance_report":
        self._check_destination()
        self.token = await self.client.run_on_scheduler(start_recording)
        return self

    async def __aexit__(self, *exc_info) -> None:
        self._write(await self.client.run_on_scheduler(stop_recording, self.token))
