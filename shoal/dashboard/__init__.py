"""The live dashboard of a shoal scheduler (Bokeh pages and plain endpoints).

The scheduler imports this package lazily, only when a dashboard is asked
for, so Bokeh is never imported by the scheduler itself.
"""

from .aggregates import DashboardPlugin
from .server import Dashboard, start_dashboard

__all__ = ["Dashboard", "DashboardPlugin", "start_dashboard"]
