"""One BLAS thread per task when tasks already run in parallel threads.

A threads scheduler on ``n`` cores runs ``n`` block products at once; if
each also asks OpenBLAS for ``n`` threads, ``n * n`` threads fight over
``n`` cores and the whole product gets slower. OpenBLAS (0.3.27 and later,
as shipped in NumPy's wheels) has a *per-thread* setting,
``openblas_set_num_threads_local``, which changes nothing for other threads,
so a task running in a worker thread can ask for one BLAS thread without
touching the user's main thread. Elsewhere (another BLAS, an older OpenBLAS)
this is a no-op.

>>> import numpy as np
>>> with one_blas_thread_in_workers():
...     float((np.ones((2, 2)) @ np.ones((2, 2)))[0, 0])
2.0
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import threading
from typing import Callable, Iterator

__all__ = ["one_blas_thread_in_workers"]

_UNSET = object()
_setter: object = _UNSET
_lock = threading.Lock()


def _find_local_setter() -> Callable[[int], int] | None:
    """``openblas_set_num_threads_local`` from the OpenBLAS that NumPy loaded, or None."""
    importlib.import_module("numpy")  # loads its BLAS, so it shows in the memory map

    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line}
    except OSError:  # not Linux: leave BLAS alone
        return None
    for path in sorted(paths):
        try:
            function = getattr(ctypes.CDLL(path), "openblas_set_num_threads_local")
        except (OSError, AttributeError):
            continue
        function.argtypes = [ctypes.c_int]
        function.restype = ctypes.c_int
        return function
    return None


def _local_setter() -> Callable[[int], int] | None:
    global _setter
    if _setter is _UNSET:
        with _lock:
            if _setter is _UNSET:
                _setter = _find_local_setter()
    return _setter  # type: ignore[return-value]


@contextlib.contextmanager
def one_blas_thread_in_workers() -> Iterator[None]:
    """Inside a non-main thread, OpenBLAS uses one thread for this thread's calls; unset after.

    Unset (0) rather than the previous value: the setter reports the thread's
    *effective* count, so restoring that number would pin the thread to the
    process-wide setting of the moment instead of following it.
    """
    setter = _local_setter() if threading.current_thread() is not threading.main_thread() else None
    if setter is None:
        yield
        return
    setter(1)
    try:
        yield
    finally:
        setter(0)
