"""A progress bar for local computations, drawn while the engine runs.

In a terminal it redraws one line with ``\\r``::

    [########                                ] | 20% Completed |  1.2s

Inside a Jupyter kernel it shows an HTML ``<progress>`` element instead and
updates it in place. A background thread redraws every ``dt`` seconds, so
the bar moves even while one long task runs; the engine's own thread only
records counts, which keeps the per-task cost to an attribute store.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Hashable, Mapping

from ..callbacks import Callback


class ProgressBar(Callback):
    """Show how many tasks of a local computation have finished.

    Parameters
    ----------
    minimum : float
        Draw nothing unless the computation runs at least this many seconds.
    width : int
        Characters (terminal) or ``em`` (notebook) of the bar.
    dt : float
        Seconds between redraws.
    out : file-like, optional
        Where to write the text bar; default ``sys.stdout`` as it is when a
        computation starts. Giving ``out`` forces the text bar in a notebook.

    >>> import io
    >>> from shoal.taskgraph import DataNode
    >>> from shoal.schedulers import get_scheduler
    >>> out = io.StringIO()
    >>> with ProgressBar(out=out):
    ...     get_scheduler("sync")({"x": DataNode("x", 1)}, "x")
    1
    >>> "100% Completed" in out.getvalue()
    True
    """

    def __init__(self, minimum: float = 0, width: int = 40, dt: float = 0.1, out: Any = None):
        super().__init__()
        if dt <= 0:
            raise ValueError(f"ProgressBar(dt={dt!r}): dt is the redraw interval in seconds and must be positive")
        if width < 1:
            raise ValueError(f"ProgressBar(width={width!r}): width must be at least 1")
        if out is not None and not callable(getattr(out, "write", None)):
            # Found now rather than by the drawing thread, after the work is done.
            raise TypeError(f"ProgressBar(out=...) must be a writable file-like object such as sys.stderr; "
                            f"got {type(out).__name__}")
        self.minimum = minimum
        self.width = width
        self.dt = dt
        self.out = out
        self.last_duration: float = 0.0
        self._graph: Mapping | None = None  # the graph being run, None when idle
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._total = 0
        self._finished = 0
        self._start_time = 0.0
        self._display: _TextDisplay | _NotebookDisplay | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- engine hooks (the engine's thread) --------------------------------

    def start(self, graph: Mapping) -> None:
        if self._graph is not None:
            # A task computing something of its own (a nested computation)
            # must not restart the bar of the computation that holds it.
            return
        self._reset()
        self._graph = graph
        self._total = len(graph)
        self._start_time = time.perf_counter()
        self._thread = threading.Thread(target=self._redraw_until_stopped, name="shoal-progress-bar", daemon=True)
        self._thread.start()

    def posttask(self, key: Hashable, result: Any, graph: Mapping, state: Any, worker_id: int) -> None:
        if graph is self._graph:
            self._finished = state.finished

    def finish(self, graph: Mapping, state: Any, errored: bool) -> None:
        if graph is not self._graph:
            return
        self._finished = state.finished
        self._stop_thread()
        elapsed = time.perf_counter() - self._start_time
        self.last_duration = elapsed
        self._graph = None
        if elapsed < self.minimum:
            return
        with self._lock:
            self._ensure_display().close(self._fraction(), elapsed)

    def __exit__(self, *exc_info) -> None:
        # finish() normally stopped the thread already; this covers a
        # computation that never reached it.
        self._stop_thread()
        self._graph = None
        super().__exit__(*exc_info)

    # -- drawing (the bar's own thread) -------------------------------------

    def _fraction(self) -> float:
        return self._finished / self._total if self._total else 1.0

    def _redraw_until_stopped(self) -> None:
        while not self._stop.wait(self.dt):
            elapsed = time.perf_counter() - self._start_time
            if elapsed < self.minimum:
                continue
            with self._lock:
                if self._stop.is_set():
                    return
                self._ensure_display().show(self._fraction(), elapsed)

    def _ensure_display(self):
        if self._display is None:
            if self.out is None and _in_jupyter_kernel():
                self._display = _NotebookDisplay(self.width)
            else:
                self._display = _TextDisplay(self.out if self.out is not None else sys.stdout, self.width)
        return self._display

    def _stop_thread(self) -> None:
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        if thread is not threading.current_thread():
            thread.join()
        self._thread = None


class _TextDisplay:
    """The bar as one terminal line, rewritten in place with ``\\r``."""

    def __init__(self, out: Any, width: int):
        self.out = out
        self.width = width

    def show(self, fraction: float, elapsed: float) -> None:
        self.out.write("\r" + format_bar(fraction, elapsed, self.width))
        self.out.flush()

    def close(self, fraction: float, elapsed: float) -> None:
        self.out.write("\r" + format_bar(fraction, elapsed, self.width) + "\n")
        self.out.flush()


class _NotebookDisplay:
    """The bar as an HTML ``<progress>`` element in a Jupyter output cell."""

    def __init__(self, width: int):
        from IPython.display import display  # optional, and only ever used in a kernel

        self._display = display
        self.width = width
        self.handle = None

    def _bundle(self, fraction: float, elapsed: float) -> dict:
        percent = int(100 * fraction)
        html = (
            f'<div class="shoal-progress"><progress value="{percent}" max="100" '
            f'style="width: {self.width}em"></progress>'
            f" {percent}% Completed | {format_elapsed(elapsed).strip()}</div>"
        )
        # text/plain for frontends that do not render HTML (and for nbconvert --to script)
        return {"text/html": html, "text/plain": format_bar(fraction, elapsed, self.width)}

    def show(self, fraction: float, elapsed: float) -> None:
        bundle = self._bundle(fraction, elapsed)
        if self.handle is None:
            self.handle = self._display(bundle, raw=True, display_id=True)
        else:
            self.handle.update(bundle, raw=True)

    close = show


def _in_jupyter_kernel() -> bool:
    """True inside a Jupyter kernel (not a plain IPython terminal)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:  # a kernel has always imported IPython by now
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:
        return False
    return type(shell).__name__ == "ZMQInteractiveShell"


def format_bar(fraction: float, elapsed: float, width: int = 40) -> str:
    """One line of the text progress bar.

    >>> format_bar(0.2, 1.234, width=10)
    '[##        ] | 20% Completed |  1.2s'
    """
    fraction = min(max(fraction, 0.0), 1.0)
    bar = "#" * int(width * fraction)
    return f"[{bar:<{width}}] | {int(100 * fraction)}% Completed | {format_elapsed(elapsed)}"


def format_elapsed(seconds: float) -> str:
    """A short, fixed-width-ish duration.

    >>> format_elapsed(1.234), format_elapsed(75.0), format_elapsed(3725.0)
    (' 1.2s', '1min 15.0s', '1hr  2min  5.0s')
    """
    if seconds < 60:
        return f"{seconds:4.1f}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{int(minutes)}min {secs:4.1f}s"
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}hr {minutes:2d}min {secs:4.1f}s"
