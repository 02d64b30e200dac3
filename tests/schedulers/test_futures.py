"""Running graphs on a concurrent.futures.Executor the user brings, as Dask allows:
``scheduler=executor``, ``pool=executor`` and ``config.set(pool=executor)``."""

from __future__ import annotations

import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from operator import add, truediv

import pytest

import shoal
from shoal import compute, config, delayed
from shoal.diagnostics import Profiler
from shoal.schedulers import get_scheduler


def square(x):
    return x * x


@pytest.fixture
def thread_executor():
    with ThreadPoolExecutor(2) as executor:
        yield executor


def tree_sum(n: int):
    """A small tree reduction of n leaves, and its value in plain Python."""
    layer = [delayed(square, pure=True)(i) for i in range(n)]
    while len(layer) > 1:  # halves every pass: bounded by log2(n)
        layer = [delayed(add)(*layer[i:i + 2]) if i + 1 < len(layer) else layer[i] for i in range(0, len(layer), 2)]
    return layer[0], sum(i * i for i in range(n))


def test_scheduler_may_be_a_thread_pool_executor(thread_executor):
    total, expected = tree_sum(33)
    assert total.compute(scheduler=thread_executor) == expected
    assert total.compute(scheduler=thread_executor) == total.compute(scheduler="sync")
    ran_in = delayed(lambda: threading.current_thread().name)().compute(scheduler=thread_executor)
    assert ran_in.startswith("ThreadPoolExecutor")


def test_pool_keyword_and_pool_setting_choose_the_executor(thread_executor):
    where = delayed(lambda: threading.current_thread().name)
    assert where().compute(scheduler="threads", pool=thread_executor).startswith("ThreadPoolExecutor")
    with config.set(pool=thread_executor):
        assert where().compute(scheduler="threads").startswith("ThreadPoolExecutor")
    assert where().compute(scheduler="threads").startswith("shoal-thread")


def test_process_pool_executor_runs_lambdas_and_keeps_error_types():
    with ProcessPoolExecutor(2) as executor:
        doubled = compute(*[delayed(lambda x: 2 * x)(i) for i in range(5)], scheduler=executor)
        assert doubled == tuple(2 * i for i in range(5))
        assert delayed(add)(1, 2).compute(scheduler="processes", pool=executor) == 3
        with pytest.raises(ZeroDivisionError, match="division by zero"):
            delayed(truediv)(1, 0).compute(scheduler=executor)


def test_task_errors_keep_type_and_name_the_task(thread_executor):
    failing = delayed(truediv, name="divide")(1, 0)
    with pytest.raises(ZeroDivisionError) as info:
        failing.compute(scheduler=thread_executor)
    assert any(failing.key in note for note in info.value.__notes__)


def test_compute_inside_a_task_on_the_same_full_executor_does_not_wait_forever():
    with ThreadPoolExecutor(1) as executor:
        @delayed
        def plus_one_computed_inside(x):
            return delayed(add)(x, 1).compute(scheduler=executor)

        results = compute(*[plus_one_computed_inside(i) for i in range(4)], scheduler=executor)
    assert results == tuple(i + 1 for i in range(4))


def test_profiler_sees_each_executor_thread_as_a_worker(thread_executor):
    import time

    with Profiler() as prof:
        compute(*[delayed(time.sleep)(0.05) for _ in range(6)], scheduler=thread_executor)
    assert len(prof.results) == 6
    assert {r.worker_id for r in prof.results} <= {0, 1}


def test_bad_pool_and_worker_counts_are_refused_clearly():
    with pytest.raises(TypeError, match="concurrent.futures.Executor"):
        delayed(add)(1, 2).compute(scheduler="threads", pool=object())
    with pytest.raises(TypeError, match="concurrent.futures.Executor"):
        get_scheduler(3.5)
    for name in ("threads", "processes"):
        with pytest.raises(ValueError, match="num_workers must be at least 1, got 0"):
            shoal.get({"x": 1}, "x", scheduler=name, num_workers=0)
