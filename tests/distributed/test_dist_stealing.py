"""Work stealing on a real scheduler and workers.

One worker holds the input and got every task of a long-task workload before
a second worker joined. Placement never moves a task once sent, so without
stealing the newcomer stays idle; with stealing the queued tasks spread.
Assertions are on where tasks ran (time depends on the machine); the wall
times are printed (``pytest -s``) as the measurement.
"""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from shoal.distributed import Client, Scheduler, Worker
from shoal.distributed.worker import get_worker

pytestmark = pytest.mark.timeout(60)

N_TASKS = 8
TASK_SECONDS = 0.15

#: set once the helper worker has registered. The holder's first task waits for it: on a
#: loaded machine the holder could otherwise run through its whole queue (in wall time,
#: sleeping) before the helper's start (CPU time on the event loop) lets it steal anything.
helper_joined = threading.Event()


def slow_total(x, i):
    """A long task (sleeping, so threads really overlap) that says where it ran."""
    helper_joined.wait(30)  # bounded; set at once in every test but the one that gates on it
    time.sleep(TASK_SECONDS)
    return int(x.sum()) + i, get_worker().name


async def _wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached in time")
        await asyncio.sleep(0.01)


async def _run_workload(stealing: bool) -> tuple:
    """``(results, wall seconds, scheduler)``: everything first on 'holder', then 'helper' joins."""
    x = np.arange(1000)
    helper_joined.clear()
    async with Scheduler("inproc://", work_stealing=stealing, work_stealing_interval=0.02) as s, \
            Worker(s.address, nthreads=1, name="holder") as holder, \
            Client(s.address, asynchronous=True) as client:
        [fx] = await client.scatter([x], workers=[holder.address])
        start = time.perf_counter()
        futures = [client.submit(slow_total, fx, i) for i in range(N_TASKS)]
        await _wait_until(lambda: len(s.state.workers[holder.address].processing) == N_TASKS)
        try:
            async with Worker(s.address, nthreads=1, name="helper"):
                helper_joined.set()  # registered: the holder may go on, the helper may steal
                results = await client.gather(futures)
        finally:
            helper_joined.set()  # never leave a worker thread waiting
        return results, time.perf_counter() - start, s


def test_stealing_spreads_queued_tasks_to_a_worker_that_joined_later():
    results_on, wall_on, s_on = asyncio.run(asyncio.wait_for(_run_workload(True), 40))
    results_off, wall_off, s_off = asyncio.run(asyncio.wait_for(_run_workload(False), 40))
    expected = [int(np.arange(1000).sum()) + i for i in range(N_TASKS)]
    assert [value for value, _ in results_on] == expected
    assert [value for value, _ in results_off] == expected

    ran_on = [where for _, where in results_on]
    ran_off = [where for _, where in results_off]
    # Without stealing nothing moves once placed: the helper never runs a task.
    assert ran_off == ["holder"] * N_TASKS
    # With stealing the helper takes a real share of the queue (the holder
    # had started one task when the helper joined, so at most N-1 can move).
    assert ran_on.count("helper") >= 2, ran_on
    assert ran_on.count("holder") >= 1, ran_on
    assert s_on.state.n_steals == ran_on.count("helper")
    assert s_off.state.n_steals == 0
    print(f"\n{N_TASKS} tasks x {TASK_SECONDS} s, all placed on one worker before a second joined: "
          f"stealing on {wall_on:.2f} s ({ran_on.count('helper')} moved), stealing off {wall_off:.2f} s")


def test_stealing_keeps_restricted_tasks_where_they_must_run():
    helper_joined.set()  # no gate here: the restriction alone must keep the tasks on the holder

    async def main():
        async with Scheduler("inproc://", work_stealing=True, work_stealing_interval=0.02) as s, \
                Worker(s.address, nthreads=1, name="holder") as holder, \
                Client(s.address, asynchronous=True) as client:
            futures = [client.submit(slow_total, np.arange(10), i, workers=[holder.address]) for i in range(4)]
            await _wait_until(lambda: len(s.state.workers[holder.address].processing) == 4)
            async with Worker(s.address, nthreads=1, name="helper"):
                results = await client.gather(futures)
            assert [r for r, _ in results] == [45 + i for i in range(4)]
            assert {w for _, w in results} == {"holder"}
            assert s.state.n_steals == 0

    asyncio.run(asyncio.wait_for(main(), 40))
