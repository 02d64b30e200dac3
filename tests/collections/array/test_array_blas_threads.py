"""Block products in worker threads ask OpenBLAS for one thread, for that thread only."""

from __future__ import annotations

import threading

import numpy as np

import shoal.array as sa
from shoal.collections.array.blas_threads import _local_setter, one_blas_thread_in_workers
from shoal.testing import assert_eq


def _blas_threads_seen(inside: bool) -> list:
    """The per-thread BLAS thread count a worker thread sees inside or after the context."""
    setter = _local_setter()
    seen: list = []

    def work():
        before = _current(setter)
        with one_blas_thread_in_workers():
            if inside:
                seen.append(_current(setter))
        if not inside:
            seen.append((_current(setter), before))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=30)
    return seen


def _current(setter) -> int:
    value = setter(1)
    setter(value)
    return value


def test_worker_threads_use_one_blas_thread_and_restore_it():
    setter = _local_setter()
    if setter is None:  # NumPy without OpenBLAS: the context must do nothing
        with one_blas_thread_in_workers():
            assert float((np.eye(2) @ np.eye(2)).sum()) == 2.0
        return
    main_before = _current(setter)
    assert _blas_threads_seen(inside=True) == [1]
    [(after, before)] = _blas_threads_seen(inside=False)
    assert after == before
    with one_blas_thread_in_workers():  # the main thread is left alone
        assert _current(setter) == main_before


def test_matmul_on_threads_matches_numpy():
    a = np.arange(48.0).reshape(8, 6) / 7
    b = np.arange(30.0).reshape(6, 5) - 3
    assert_eq(sa.from_array(a, chunks=(3, 2)) @ sa.from_array(b, chunks=(2, 4)), a @ b, scheduler="threads")
