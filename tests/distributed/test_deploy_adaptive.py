"""``Adaptive`` and ``recommend_workers`` without processes: a stub cluster around a real ``SchedulerState``.

The stub's ``_scale`` only records the worker count asked for, so each test
drives the decision loop step by step (``adapt_once``) and checks what it
asked for, including the hysteresis on shrinking and whole-job steps.
"""

from __future__ import annotations

import asyncio
import math
from operator import add

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.distributed.deploy import Adaptive, recommend_workers
from shoal.distributed.state import SchedulerState
from shoal.taskgraph import Task


class StubScheduler:
    def __init__(self):
        self.state = SchedulerState()


class StubCluster:
    """What Adaptive needs: a scheduler, threads per worker, planned workers and ``_scale``."""

    def __init__(self, threads_per_worker: int = 1, workers_per_job: int = 1):
        self.scheduler = StubScheduler()
        self.threads_per_worker = threads_per_worker
        self.workers_per_job = workers_per_job
        self.planned_workers = 0
        self.scaled_to: list = []

    async def _scale(self, n: int) -> None:
        self.scaled_to.append(n)
        self.planned_workers = math.ceil(n / self.workers_per_job) * self.workers_per_job


def submit_independent_tasks(cluster: StubCluster, n: int) -> None:
    graph = {f"t-{i}": Task(f"t-{i}", add, i, 1) for i in range(n)}
    cluster.scheduler.state.update_graph("client", graph, keys=list(graph))


def release_everything(cluster: StubCluster) -> None:
    state = cluster.scheduler.state
    state.client_releases_keys("client", list(state.tasks))


def steps(adaptive: Adaptive, n: int) -> list:
    return [asyncio.run(adaptive.adapt_once()) for _ in range(n)]


def test_grows_at_once_to_one_thread_per_runnable_task_within_maximum():
    cluster = StubCluster(threads_per_worker=2)
    adaptive = Adaptive(cluster, minimum=0, maximum=3)
    submit_independent_tasks(cluster, 5)
    steps(adaptive, 1)
    assert cluster.scaled_to == [3]  # ceil(5 / 2) = 3, also the maximum
    submit_independent_tasks(cluster, 40)
    steps(adaptive, 3)
    assert cluster.scaled_to == [3]  # already at the maximum: no new request


def test_shrinks_only_after_wait_count_decisions_agree():
    cluster = StubCluster()
    adaptive = Adaptive(cluster, minimum=1, maximum=4, wait_count=3)
    submit_independent_tasks(cluster, 4)
    steps(adaptive, 1)
    assert cluster.scaled_to == [4]
    release_everything(cluster)
    assert steps(adaptive, 2) == [4, 4] and cluster.scaled_to == [4]  # two votes: not yet
    steps(adaptive, 1)
    assert cluster.scaled_to == [4, 1]  # the third: down to the minimum
    assert [(before, after) for _, before, after in adaptive.log] == [(0, 4), (4, 1)]


def test_a_busy_round_resets_the_votes_to_shrink():
    cluster = StubCluster()
    adaptive = Adaptive(cluster, minimum=0, maximum=2, wait_count=2)
    submit_independent_tasks(cluster, 2)
    steps(adaptive, 1)
    release_everything(cluster)
    steps(adaptive, 1)  # one vote to shrink
    submit_independent_tasks(cluster, 2)
    steps(adaptive, 1)  # busy again at the same size: votes reset
    release_everything(cluster)
    steps(adaptive, 1)
    assert cluster.scaled_to == [2]
    steps(adaptive, 1)
    assert cluster.scaled_to == [2, 0]


def test_whole_jobs_are_not_rescaled_for_a_change_inside_one_job():
    cluster = StubCluster(workers_per_job=2)
    adaptive = Adaptive(cluster, minimum=0, maximum=3, wait_count=1)
    submit_independent_tasks(cluster, 3)
    steps(adaptive, 1)
    assert cluster.scaled_to == [3] and cluster.planned_workers == 4  # two jobs of two
    steps(adaptive, 5)  # asks for 3 of the 4: still two jobs, so nothing to do
    assert cluster.scaled_to == [3] and len(adaptive.log) == 1


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="minimum"):
        Adaptive(StubCluster(), minimum=3, maximum=2)
    with pytest.raises(ValueError, match="wait_count"):
        Adaptive(StubCluster(), wait_count=0)


def test_interval_takes_durations_and_bad_types_are_named():
    # Dask's adapt takes its interval as a duration string too.
    assert Adaptive(StubCluster(), interval="500ms").interval == 0.5
    assert Adaptive(StubCluster(), interval="2s").interval == 2.0
    assert Adaptive(StubCluster(), interval="1 min").interval == 60.0
    assert Adaptive(StubCluster(), minimum=1.0, maximum=float("inf")).minimum == 1
    with pytest.raises(TypeError, match=r"adapt\(interval=...\) must be a number of seconds .* 'soon'"):
        Adaptive(StubCluster(), interval="soon")
    with pytest.raises(TypeError, match=r"adapt\(minimum=...\) must be a whole number of workers, got str '2'"):
        Adaptive(StubCluster(), minimum="2")
    with pytest.raises(TypeError, match=r"adapt\(maximum=...\) must be a whole number of workers, got float 2.5"):
        Adaptive(StubCluster(), maximum=2.5)
    with pytest.raises(TypeError, match=r"adapt\(wait_count=...\)"):
        Adaptive(StubCluster(), wait_count=None)


@settings(max_examples=200, deadline=None)
@given(runnable=st.integers(0, 500), waiting=st.integers(0, 50), current=st.integers(0, 50),
       threads=st.integers(1, 16), holding=st.integers(0, 50), minimum=st.integers(0, 10),
       extra=st.integers(0, 40))
def test_recommendation_stays_within_bounds_and_covers_runnable_tasks(runnable, waiting, current, threads, holding,
                                                                      minimum, extra):
    maximum = minimum + extra
    target = recommend_workers(runnable_tasks=runnable, tasks_in_progress=runnable + waiting, current=current,
                               threads_per_worker=threads, workers_holding_data=holding, minimum=minimum,
                               maximum=maximum)
    assert minimum <= target <= maximum
    if runnable > current * threads:  # more work than threads: enough workers for it, or the maximum
        assert target == min(maximum, max(minimum, math.ceil(runnable / threads)))
    if runnable + waiting == 0:  # idle: keep only those holding results
        assert target == min(maximum, max(minimum, holding))
