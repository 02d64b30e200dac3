"""Plain HTTP endpoints beside the Bokeh pages: ``/health``, ``/metrics``, ``/json/counts``."""

from __future__ import annotations

import json

from tornado.web import RequestHandler


def prometheus_text(counts: dict) -> str:
    """The counts in Prometheus' text exposition format.

    >>> print(prometheus_text({"tasks": {"memory": 2}, "workers": 1, "threads": 4,
    ...                        "bytes_in_memory": 16}), end="")
    # HELP shoal_tasks Tasks on the scheduler, by state.
    # TYPE shoal_tasks gauge
    shoal_tasks{state="memory"} 2
    # HELP shoal_workers Workers connected to the scheduler.
    # TYPE shoal_workers gauge
    shoal_workers 1
    # HELP shoal_threads Worker threads connected to the scheduler.
    # TYPE shoal_threads gauge
    shoal_threads 4
    # HELP shoal_memory_bytes Bytes of task results held by workers.
    # TYPE shoal_memory_bytes gauge
    shoal_memory_bytes 16
    """
    lines = ["# HELP shoal_tasks Tasks on the scheduler, by state.", "# TYPE shoal_tasks gauge"]
    lines += [f'shoal_tasks{{state="{state}"}} {n}' for state, n in counts["tasks"].items()]
    for name, value, text in (
        ("shoal_workers", counts["workers"], "Workers connected to the scheduler."),
        ("shoal_threads", counts["threads"], "Worker threads connected to the scheduler."),
        ("shoal_memory_bytes", counts["bytes_in_memory"], "Bytes of task results held by workers."),
    ):
        lines += [f"# HELP {name} {text}", f"# TYPE {name} gauge", f"{name} {value}"]
    return "\n".join(lines) + "\n"


class _PluginHandler(RequestHandler):
    def initialize(self, plugin):
        self.plugin = plugin


class HealthHandler(RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.write("ok")


class MetricsHandler(_PluginHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.write(prometheus_text(self.plugin.counts()))


class CountsHandler(_PluginHandler):
    def get(self):
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(self.plugin.counts()))
