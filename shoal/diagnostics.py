"""Progress bars and profilers for local computations (public names)."""

from .schedulers.callbacks import Callback
from .schedulers.diagnostics import ProgressBar
from .schedulers.diagnostics import Profiler
from .schedulers.diagnostics import ResourceData
from .schedulers.diagnostics import ResourceProfiler
from .schedulers.diagnostics import TaskData
from .schedulers.diagnostics import visualize

__all__ = ["Callback", "ProgressBar", "Profiler", "ResourceData", "ResourceProfiler", "TaskData", "visualize"]
