"""Plain HTTP endpoints beside the Bokeh pages: ``/health``, ``/metrics``, ``/json/counts``.

``/json/`` lists the JSON endpoints; ``/json/counts.json`` is the name Dask's
dashboard gives the counts, kept so scripts written for it work unchanged.
Each endpoint also answers ``HEAD`` (what load balancers and ``curl -I``
send) and a trailing slash.
"""

from __future__ import annotations

import json

from tornado.web import RequestHandler


def _label(value) -> str:
    """A label value escaped as the exposition format requires (backslash, quote, newline)."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value) -> str:
    if value == float("inf") or value == "+Inf":
        return "+Inf"
    return repr(float(value)) if isinstance(value, float) else str(int(value))


def prometheus_text(counts: dict) -> str:
    """The counts (``DashboardPlugin.counts()``) in Prometheus' text exposition format.

    >>> text = prometheus_text({"tasks": {"memory": 2}, "workers": 1, "threads": 4,
    ...                         "bytes_in_memory": 16})
    >>> print("\\n".join(text.splitlines()[:3]))
    # HELP shoal_tasks Tasks on the scheduler, by state.
    # TYPE shoal_tasks gauge
    shoal_tasks{state="memory"} 2
    """
    lines: list = []

    def family(name: str, kind: str, text: str, samples) -> None:
        lines.extend((f"# HELP {name} {text}", f"# TYPE {name} {kind}"))
        for suffix, labels, value in samples:
            label_text = ",".join(f'{k}="{_label(v)}"' for k, v in labels)
            lines.append(f"{name}{suffix}{{{label_text}}} {_number(value)}" if labels
                         else f"{name}{suffix} {_number(value)}")

    family("shoal_tasks", "gauge", "Tasks on the scheduler, by state.",
           [("", [("state", state)], n) for state, n in counts["tasks"].items()])
    for name, field, text in (
        ("shoal_workers", "workers", "Workers connected to the scheduler."),
        ("shoal_threads", "threads", "Worker threads connected to the scheduler."),
        ("shoal_memory_bytes", "bytes_in_memory", "Bytes of task results held by workers."),
    ):
        family(name, "gauge", text, [("", [], counts[field])])
    if "tasks_finished" in counts:
        family("shoal_tasks_finished_total", "counter", "Tasks computed successfully since the dashboard started.",
               [("", [], counts["tasks_finished"])])
        family("shoal_tasks_erred_total", "counter", "Tasks that raised since the dashboard started.",
               [("", [], counts["tasks_erred"])])
        family("shoal_transfer_bytes_total", "counter",
               "Bytes of task inputs that had to move to the worker running the task.",
               [("", [], counts["transfer_bytes"])])
        histogram = counts["task_duration_seconds"]
        family("shoal_task_duration_seconds", "histogram",
               "Task durations as the scheduler saw them (sent to a worker -> reported done).",
               [("_bucket", [("le", _number(bound))], n) for bound, n in histogram["buckets"]]
               + [("_sum", [], float(histogram["sum"])), ("_count", [], histogram["count"])])
    details = counts.get("worker_details", [])
    for name, field, text in (
        ("shoal_worker_memory_managed_bytes", "managed_bytes", "Bytes of results held in memory, per worker."),
        ("shoal_worker_memory_unmanaged_bytes", "unmanaged_bytes", "Process memory beyond the results, per worker."),
        ("shoal_worker_memory_spilled_bytes", "spilled_bytes", "Bytes of results spilled to disk, per worker."),
        ("shoal_worker_memory_limit_bytes", "memory_limit", "Memory limit per worker (0: none)."),
        ("shoal_worker_processing_tasks", "processing", "Tasks sent to each worker and not finished."),
        ("shoal_worker_queued_tasks", "queued", "Tasks sent to each worker that it is not running yet."),
        ("shoal_worker_threads", "nthreads", "Threads per worker."),
        ("shoal_worker_cpu_percent", "cpu", "CPU use per worker, from its heartbeats (percent)."),
        ("shoal_worker_paused", "paused", "1 when the worker paused (memory past its pause threshold)."),
    ):
        if details and field in details[0]:
            family(name, "gauge", text, [("", [("worker", w["address"])], w[field] or 0) for w in details])
    return "\n".join(lines) + "\n"


class _PluginHandler(RequestHandler):
    def initialize(self, plugin):
        self.plugin = plugin


class HealthHandler(RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.write("ok")

    head = get  # tornado sends the headers of get() without its body


class MetricsHandler(_PluginHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.write(prometheus_text(self.plugin.counts()))

    head = get


class CountsHandler(_PluginHandler):
    def get(self):
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(self.plugin.counts()))

    head = get


#: The JSON endpoints and what each holds (``/json/`` lists them).
JSON_ENDPOINTS = {
    "/json/counts": "tasks by state and by prefix, workers, memory, transfers, task durations",
    "/json/counts.json": "the same counts, at the path Dask's dashboard uses",
}


class JsonIndexHandler(RequestHandler):
    def get(self):
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps({"endpoints": JSON_ENDPOINTS}))

    head = get


class NotFoundHandler(RequestHandler):
    """Any path the dashboard does not serve: 404 with the paths it does."""

    def initialize(self, known: list):
        self.known = known

    def prepare(self):
        self.set_status(404)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"No dashboard page at {self.request.path}. Pages: {', '.join(self.known)}\n")
