"""Bokeh plots of ``Profiler`` and ``ResourceProfiler`` results.

Bokeh is imported only inside these functions: ``import shoal`` stays fast
and never pays for a plotting library it may not use.
"""

from __future__ import annotations

import os
from typing import Any, Iterable

from ...taskgraph.core import key_prefix
from .profile import Profiler, ResourceProfiler


def visualize(
    profilers: Any,
    filename: str | None = "profile.html",
    show: bool = False,
    title: str = "shoal profile",
    width: int = 900,
    save: bool = True,
):
    """Plot one or several profilers as a column sharing one time axis.

    A ``Profiler`` gives one horizontal bar per task on its worker's row,
    coloured by the task's key prefix (hover for key and duration); a
    ``ResourceProfiler`` gives memory (left axis) and CPU (right axis) over
    time. The page is written to ``filename`` with Bokeh's JavaScript inlined,
    so it opens offline; ``filename=None`` (or ``save=False``, Dask's
    spelling) writes nothing. ``show=True`` also
    opens it (inline in a notebook, else in a browser). Returns the Bokeh
    layout.

    >>> from shoal.diagnostics import Profiler, ResourceProfiler
    >>> layout = visualize([Profiler(), ResourceProfiler()], filename=None)
    >>> len(layout.children)
    2
    """
    from bokeh.layouts import column

    if isinstance(profilers, (Profiler, ResourceProfiler)):
        profilers = [profilers]
    profilers = list(profilers)
    if not profilers:
        raise ValueError("visualize() needs at least one Profiler or ResourceProfiler to plot")
    from bokeh.models import DataRange1d

    figures = []
    x_range = DataRange1d(start=0)  # one time axis: every plot scrolls and zooms with the others
    for profiler in profilers:
        if isinstance(profiler, Profiler):
            fig = plot_tasks(profiler.results, x_range=x_range, width=width)
        elif isinstance(profiler, ResourceProfiler):
            fig = plot_resources(profiler.results, x_range=x_range, width=width)
        else:
            raise TypeError(
                f"visualize() plots Profiler and ResourceProfiler objects; got {type(profiler).__name__}. "
                "Pass the profiler itself (not its .results)."
            )
        figures.append(fig)
    figures[0].title.text = f"{title}: {figures[0].title.text}"
    layout = column(*figures)
    if not save:
        filename = None
    if filename is not None:
        from bokeh.io import save as save_html
        from bokeh.resources import INLINE

        save_html(layout, filename=filename, resources=INLINE, title=title)
    if show:
        _show(layout, filename)
    return layout


def plot_tasks(results: Iterable, x_range: Any = None, width: int = 900):
    """A figure with one bar per ``TaskData``: x is time, y the worker."""
    from bokeh.models import ColumnDataSource, HoverTool
    from bokeh.palettes import Category20
    from bokeh.plotting import figure

    from bokeh.models import DataRange1d

    results = list(results)
    palette = Category20[20]
    colour_of: dict[str, str] = {}
    columns: dict[str, list] = {name: [] for name in ("left", "right", "worker", "key", "prefix", "duration", "color")}
    for r in results:
        prefix = key_prefix(r.key) if _is_key(r.key) else str(r.key)
        colour = colour_of.setdefault(prefix, palette[len(colour_of) % len(palette)])
        columns["left"].append(r.start_time)
        columns["right"].append(r.end_time)
        columns["worker"].append(r.worker_id)
        columns["key"].append(str(r.key))
        columns["prefix"].append(prefix)
        columns["duration"].append(r.end_time - r.start_time)
        columns["color"].append(colour)
    workers = sorted(set(columns["worker"])) or [0]
    fig = figure(
        title="tasks",
        x_range=x_range if x_range is not None else DataRange1d(start=0),
        y_range=(workers[0] - 0.5, workers[-1] + 0.5),
        width=width,
        height=min(600, 100 + 30 * len(workers)),
        x_axis_label="time (s)",
        y_axis_label="worker",
        tools="xpan,xwheel_zoom,box_zoom,reset,save",
    )
    source = ColumnDataSource(columns)
    legend = {"legend_field": "prefix"} if results else {}  # bokeh rejects a legend with no entries
    bars = fig.hbar(y="worker", left="left", right="right", height=0.8, color="color", source=source, **legend)
    fig.add_tools(HoverTool(renderers=[bars], tooltips=[("key", "@key"), ("duration", "@duration{0.000000} s")]))
    fig.yaxis.ticker = workers
    fig.ygrid.grid_line_color = None
    if results:
        fig.legend.location = "top_left"
        fig.legend.click_policy = "hide"
    return fig


def plot_resources(results: Iterable, x_range: Any = None, width: int = 900):
    """A figure of memory (MB, left axis) and CPU (%, right axis) over time."""
    from bokeh.models import ColumnDataSource, DataRange1d, HoverTool, LinearAxis, Range1d
    from bokeh.plotting import figure

    results = list(results)
    source = ColumnDataSource(
        {"time": [r.time for r in results], "mem": [r.mem for r in results], "cpu": [r.cpu for r in results]}
    )
    top_mem = max((r.mem for r in results), default=0.0)
    top_cpu = max((r.cpu for r in results), default=0.0)
    fig = figure(
        title="memory and CPU (this process and its children)",
        x_range=x_range if x_range is not None else DataRange1d(start=0),
        y_range=Range1d(0, max(top_mem * 1.1, 1.0)),
        width=width,
        height=300,
        x_axis_label="time (s)",
        y_axis_label="memory (MB)",
        tools="xpan,xwheel_zoom,box_zoom,reset,save",
    )
    fig.extra_y_ranges = {"cpu": Range1d(0, max(top_cpu * 1.1, 100.0))}
    fig.add_layout(LinearAxis(y_range_name="cpu", axis_label="CPU (%)"), "right")
    mem = fig.line("time", "mem", source=source, color="#1f77b4", line_width=2, legend_label="memory")
    fig.line("time", "cpu", source=source, color="#d62728", line_width=2, y_range_name="cpu", legend_label="CPU")
    fig.add_tools(
        HoverTool(renderers=[mem], mode="vline",
                  tooltips=[("time", "@time{0.000} s"), ("memory", "@mem{0.0} MB"), ("CPU", "@cpu{0.0} %")])
    )
    fig.legend.location = "top_left"
    return fig


def _is_key(key: Any) -> bool:
    return type(key) is str or (type(key) is tuple and bool(key) and type(key[0]) is str)


def _show(layout: Any, filename: str | None) -> None:
    from .progress import _in_jupyter_kernel

    if _in_jupyter_kernel() or filename is None:
        from bokeh.io import output_notebook, show

        if _in_jupyter_kernel():
            output_notebook(hide_banner=True)
        show(layout)
    else:
        from bokeh.util.browser import view

        view(os.path.abspath(filename))
