"""Diagnostics for local computations, built on the engine's callbacks.

``ProgressBar`` shows how far a computation is; ``Profiler`` records when
each task ran; ``ResourceProfiler`` samples memory and CPU; ``visualize``
plots profilers with Bokeh.
"""

from .plot import visualize
from .profile import Profiler, ResourceData, ResourceProfiler, TaskData
from .progress import ProgressBar

__all__ = ["ProgressBar", "Profiler", "ResourceData", "ResourceProfiler", "TaskData", "visualize"]
