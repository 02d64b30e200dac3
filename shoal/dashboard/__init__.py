"""The live dashboard of a shoal scheduler (Bokeh pages and plain endpoints).

The scheduler imports this package lazily, only when a dashboard is asked
for, so Bokeh is never imported by the scheduler itself.
"""

from shoal import config

#: Settings of the dashboard (``shoal.config.set({"dashboard.graph-limit": 5000})``,
#: or ``SHOAL_DASHBOARD__GRAPH_LIMIT``), read when a scheduler starts its dashboard.
DEFAULTS = {"dashboard": {
    "interval": 0.5,  # seconds between page updates
    "port-fallback": True,  # a busy port: serve on a free one (False: serve none); warns either way
    "graph-limit": 1000,  # /graph draws computations of at most this many tasks
    "straggler-factor": 3.0,  # /stages: a task this many times the stage's median duration
    "straggler-min-seconds": 0.05,  # ... and at least this much longer
    "skew-factor": 3.0,  # /stages: an output this many times the stage's median size
    "skew-min-bytes": 1024,  # ... and at least this much larger
}}
config.update_defaults(DEFAULTS)

from .aggregates import DashboardPlugin  # noqa: E402  (after the defaults they read)
from .server import Dashboard, start_dashboard

__all__ = ["Dashboard", "DashboardPlugin", "start_dashboard"]
