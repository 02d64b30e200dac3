"""``progress``: a progress bar over futures, updated until they are done.

In a terminal it redraws one text line with ``\\r``; inside a Jupyter kernel
it shows one HTML ``<progress>`` element, updated in place (the display of
the local ``ProgressBar``, reused).

>>> import io
>>> from shoal.distributed import Client, LocalCluster
>>> out = io.StringIO()
>>> with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster, Client(cluster) as client:
...     futures = client.map(abs, range(-3, 3))
...     progress(futures, file=out, width=10)
>>> out.getvalue().rstrip().rsplit("\\r", 1)[-1][:34]
'[##########] | 100% Completed |  6'
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from shoal.schedulers.diagnostics import progress as local_progress

from .future import check_timeout, wait
from .graph_futures import futures_of

__all__ = ["progress"]


def progress(*futures: Any, interval: float = 0.1, width: int = 40, file: TextIO | None = None,
             timeout: float | None = None, notebook: bool | None = None) -> Any:
    """Draw ``[####    ] | 50% Completed | 3 of 6 | 1.2s`` until every future is done.

    ``futures``: futures, lists/dicts of them, or collections persisted on
    the cluster (``client.persist(x)``), whose every block's future counts.
    Returns when all are done (finished, erred or cancelled);
    ``TimeoutError`` after ``timeout`` seconds. In a Jupyter kernel, unless
    ``file`` is given, the bar is an HTML ``<progress>`` element;
    ``notebook=True`` or ``False`` chooses (as in Dask). With an
    asynchronous client it returns an awaitable: ``await progress(futures)``
    (waiting in a loop there would block the very loop the futures finish on).
    """
    timeout = check_timeout(timeout, "progress")
    found = futures_of(list(futures))
    if notebook is None:
        notebook = file is None and local_progress._in_jupyter_kernel()
    if notebook:
        display: Any = _NotebookBar(width)
    else:
        display = _TextBar(file if file is not None else sys.stdout, width)
    start = time.monotonic()
    if found and found[0].client.asynchronous:
        return _progress_async(found, display, start, interval, timeout)
    while not _redraw(found, display, start, timeout):
        try:
            wait(found, timeout=interval)
        except TimeoutError:
            pass
    display.close(sum(f.status == "error" for f in found))


async def _progress_async(found: list, display: Any, start: float, interval: float, timeout: float | None) -> None:
    while not _redraw(found, display, start, timeout):
        try:
            await wait(found, timeout=interval)
        except TimeoutError:
            pass
    display.close(sum(f.status == "error" for f in found))


def _redraw(found: list, display: Any, start: float, timeout: float | None) -> bool:
    """Show how many are done; whether all are (``TimeoutError`` once ``timeout`` has passed)."""
    n_done = sum(f.done() for f in found)
    display.show(n_done, len(found), time.monotonic() - start)
    if n_done == len(found):
        return True
    if timeout is not None and time.monotonic() - start > timeout:
        raise TimeoutError(f"{len(found) - n_done} of {len(found)} futures were not done within {timeout} s.")
    return False


def _fraction(n_done: int, total: int) -> float:
    return n_done / total if total else 1.0


class _TextBar:
    """One terminal line, rewritten with ``\\r``; it also counts futures, unlike the local bar."""

    def __init__(self, out: TextIO, width: int):
        self.out = out
        self.width = width

    def show(self, n_done: int, total: int, elapsed: float) -> None:
        fraction = _fraction(n_done, total)
        bar = "#" * int(round(fraction * self.width))
        self.out.write(f"\r[{bar:<{self.width}}] | {fraction:4.0%} Completed | {n_done:2d} of {total} | "
                       f"{elapsed:.1f}s")
        self.out.flush()

    def close(self, n_erred: int) -> None:
        self.out.write(f" ({n_erred} erred)\n" if n_erred else "\n")
        self.out.flush()


class _NotebookBar:
    """The local bar's HTML display (``display(..., display_id=True)`` then ``.update()``)."""

    def __init__(self, width: int):
        self.display = local_progress._NotebookDisplay(width)

    def show(self, n_done: int, total: int, elapsed: float) -> None:
        self.display.show(_fraction(n_done, total), elapsed)

    def close(self, n_erred: int) -> None:
        pass  # the last show() drew the final state; the display stays in the cell
