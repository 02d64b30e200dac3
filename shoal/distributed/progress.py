"""``progress``: a text progress bar over futures, updated until they are done.

>>> import io
>>> from shoal.distributed import Client, LocalCluster
>>> out = io.StringIO()
>>> with LocalCluster(n_workers=1, processes=False) as cluster, Client(cluster) as client:
...     futures = client.map(abs, range(-3, 3))
...     progress(futures, file=out, width=10)
>>> out.getvalue().rstrip().rsplit("\\r", 1)[-1][:34]
'[##########] | 100% Completed |  6'
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from .graph_futures import _iter_futures
from .future import wait

__all__ = ["progress"]


def progress(*futures: Any, interval: float = 0.1, width: int = 40, file: TextIO | None = None,
             timeout: float | None = None) -> None:
    """Draw ``[####    ] | 50% Completed | 3 of 6 | 1.2s`` until every future is done.

    ``futures``: futures, or lists/dicts of them. Returns when all are done
    (finished, erred or cancelled); ``TimeoutError`` after ``timeout`` seconds.
    """
    found = list(dict.fromkeys(f for value in futures for f in _iter_futures(value)))
    out = file if file is not None else sys.stdout
    start = time.monotonic()
    while True:
        n_done = sum(f.done() for f in found)
        _draw(out, n_done, len(found), time.monotonic() - start, width)
        if n_done == len(found):
            break
        if timeout is not None and time.monotonic() - start > timeout:
            raise TimeoutError(f"{len(found) - n_done} of {len(found)} futures were not done within {timeout} s.")
        try:
            wait(found, timeout=interval)
        except TimeoutError:
            pass
    errors = sum(f.status == "error" for f in found)
    out.write(f" ({errors} erred)\n" if errors else "\n")
    out.flush()


def _draw(out: TextIO, n_done: int, total: int, elapsed: float, width: int) -> None:
    fraction = n_done / total if total else 1.0
    bar = "#" * int(round(fraction * width))
    out.write(f"\r[{bar:<{width}}] | {fraction:4.0%} Completed | {n_done:2d} of {total} | {elapsed:.1f}s")
    out.flush()
