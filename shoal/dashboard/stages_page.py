"""The ``/stages`` page: each stage of the current computation, with its outliers.

Stages are split at wide dependencies (see ``stages.py``). Per stage, one
row of points per finished task on two plots, duration and output size:
stragglers (duration far above the stage median) in red, skewed partitions
(output far above the median) in orange, both in purple; a table sums up
each stage. Each stage sends at most ``MAX_POINTS_PER_STAGE`` ordinary
points (outliers are always sent), so a big stage stays light in the browser.
"""

from __future__ import annotations

import time

from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, DataTable, FactorRange, HoverTool, TableColumn
from bokeh.plotting import figure

from shoal import config

from .stages import readable_prefix, stage_table

MAX_POINTS_PER_STAGE = 2000
OUTLIER_COLOURS = {(False, False): "#1f77b4", (True, False): "#d62728", (False, True): "#ff7f0e",
                   (True, True): "#9467bd"}
OUTLIER_LABELS = {(False, False): "", (True, False): "straggler", (False, True): "skewed",
                  (True, True): "straggler, skewed"}


def stage_label(stage: dict) -> str:
    """``"stage 0: load, inc"`` (at most three prefixes named)."""
    names = list(dict.fromkeys(readable_prefix(p) for p in stage["prefixes"]))
    text = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
    return f"stage {stage['stage']}: {text}"


def stage_columns(table: list) -> tuple[dict, dict]:
    """Point columns (one per task shown) and summary columns (one per stage)."""
    points = {"stage": [], "key": [], "duration": [], "nbytes": [], "colour": [], "outlier": []}
    summary = {"stage": [], "n_tasks": [], "n_finished": [], "median_duration": [], "max_duration": [],
               "n_stragglers": [], "median_nbytes": [], "max_nbytes": [], "n_skewed": []}
    for stage in table:
        label = stage_label(stage)
        ordinary = 0
        for key, duration, nbytes, slow, big in zip(stage["keys"], stage["durations"], stage["nbytes"],
                                                    stage["stragglers"], stage["skewed"]):
            if not (slow or big):
                ordinary += 1
                if ordinary > MAX_POINTS_PER_STAGE:
                    continue
            points["stage"].append(label)
            points["key"].append(str(key))
            points["duration"].append(duration)
            points["nbytes"].append(nbytes)
            points["colour"].append(OUTLIER_COLOURS[slow, big])
            points["outlier"].append(OUTLIER_LABELS[slow, big])
        summary["stage"].append(label)
        summary["n_tasks"].append(stage["n_tasks"])
        summary["n_finished"].append(stage["n_finished"])
        summary["median_duration"].append(round(stage["median_duration"], 6))
        summary["max_duration"].append(round(max(stage["durations"], default=0.0), 6))
        summary["n_stragglers"].append(sum(stage["stragglers"]))
        summary["median_nbytes"].append(stage["median_nbytes"])
        summary["max_nbytes"].append(max(stage["nbytes"], default=0))
        summary["n_skewed"].append(sum(stage["skewed"]))
    return points, summary


def current_stage_table(plugin) -> list:
    return stage_table(
        plugin.computation,
        straggler_factor=float(config.get("dashboard.straggler-factor", 3.0)),
        skew_factor=float(config.get("dashboard.skew-factor", 3.0)),
        min_straggler_seconds=float(config.get("dashboard.straggler-min-seconds", 0.05)),
        min_skew_bytes=int(config.get("dashboard.skew-min-bytes", 1024)),
    )


def stages_document(plugin, interval_ms: int):
    """Return a function filling a Bokeh document with the ``/stages`` page."""
    def make(doc):
        points_data, summary_data = stage_columns(current_stage_table(plugin))
        points = ColumnDataSource(points_data)
        summary = ColumnDataSource(summary_data)
        stages_range = FactorRange(*summary_data["stage"])
        tooltips = [("key", "@key"), ("seconds", "@duration{0.000}"), ("bytes", "@nbytes"), ("", "@outlier")]
        durations = figure(title="Task durations per stage (red: straggler, orange: skewed output)",
                           height=350, sizing_mode="stretch_width", y_range=stages_range,
                           x_axis_label="seconds", tools="pan,wheel_zoom,reset", name="stage-durations-figure")
        dots = durations.scatter(x="duration", y="stage", color="colour", size=7, alpha=0.7, source=points)
        durations.add_tools(HoverTool(renderers=[dots], tooltips=tooltips))
        sizes = figure(title="Output size per task per stage", height=350, sizing_mode="stretch_width",
                       y_range=stages_range, x_axis_label="bytes", tools="pan,wheel_zoom,reset",
                       name="stage-nbytes-figure")
        dots = sizes.scatter(x="nbytes", y="stage", color="colour", size=7, alpha=0.7, source=points)
        sizes.add_tools(HoverTool(renderers=[dots], tooltips=tooltips))
        table = DataTable(source=summary, sizing_mode="stretch_width", height=200, name="stages-table",
                          columns=[TableColumn(field=f, title=t) for f, t in (
                              ("stage", "stage"), ("n_tasks", "tasks"), ("n_finished", "finished"),
                              ("median_duration", "median s"), ("max_duration", "max s"),
                              ("n_stragglers", "stragglers"), ("median_nbytes", "median bytes"),
                              ("max_nbytes", "max bytes"), ("n_skewed", "skewed"))])
        seen = [(plugin.computation, len(plugin.computation.finished), len(plugin.computation.prefix))]
        last = [0.0]

        def update():
            computation = plugin.computation
            now = (computation, len(computation.finished), len(computation.prefix))
            if now == seen[0]:
                return  # nothing finished since the last update: skip the O(tasks) statistics
            # The statistics cost O(finished tasks): a big computation refreshes less
            # often (one more second per 20,000 tasks), so the scheduler's loop stays free.
            clock = time.monotonic()
            if computation is seen[0][0] and clock - last[0] < len(computation.finished) / 20_000:
                return
            seen[0], last[0] = now, clock
            new_points, new_summary = stage_columns(current_stage_table(plugin))
            if list(stages_range.factors) != new_summary["stage"]:
                stages_range.factors = new_summary["stage"]
            points.data = new_points
            summary.data = new_summary

        doc.title = "shoal: stages"
        doc.add_root(column(table, row(durations, sizes, sizing_mode="stretch_width"), sizing_mode="stretch_width"))
        doc.add_periodic_callback(update, interval_ms)

    return make
