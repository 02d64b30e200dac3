"""Where a ready task should run: data locality weighed against occupancy.

The cost of running a task on worker ``w`` is an estimate, in seconds, of
when it could finish there::

    w.occupancy / w.nthreads          # queued work ahead of it, per thread
    + missing_bytes(w) / bandwidth    # inputs w must fetch from peers

Only a handful of workers are ever scored: those already holding some input,
the given extra candidates (an idle worker, or the workers a restriction
allows). Nothing here scans every worker or every task, so a decision costs
O(dependencies x replicas), independent of cluster size — the lesson of
dask/distributed#7256, where recomputing occupancy over all workers took a
third of the scheduler's time.

Root-ish tasks (no inputs, or inputs shared by a wide fan-out) are not placed
by locality at all: their inputs are everywhere or nowhere, and flooding them
onto workers is what blows up memory (dask/distributed#2602). The scheduler
queues them and hands one out whenever a worker has a free slot.
"""

from __future__ import annotations

from typing import Iterable

#: size assumed for a dependency whose size is not known yet
DEFAULT_NBYTES = 1024
#: a task with more inputs than this is never root-ish
ROOTISH_MAX_DEPENDENCIES = 4
#: an input read by at least this many tasks is "shared by a wide fan-out"
ROOTISH_FANOUT = 16


def is_rootish(ts) -> bool:
    """True if ``ts`` should be queued rather than placed by locality.

    >>> from shoal.distributed.state.scheduler_records import TaskState, TaskPrefix
    >>> t = TaskState("a", None, TaskPrefix("a"))
    >>> is_rootish(t)
    True
    >>> t.worker_restrictions = {"tcp://w:1"}
    >>> is_rootish(t)
    False
    """
    if ts.worker_restrictions is not None or ts.resource_restrictions is not None:
        return False
    deps = ts.dependencies
    if not deps:
        return True
    if len(deps) > ROOTISH_MAX_DEPENDENCIES:
        return False
    for dep in deps:
        if len(dep.dependents) < ROOTISH_FANOUT:
            return False
    return True


def worker_cost(ws, missing_bytes: float, bandwidth: float) -> float:
    """Estimated seconds until a new task could finish on ``ws``."""
    return ws.occupancy / ws.nthreads + missing_bytes / bandwidth


def choose_worker(ts, extra: Iterable, valid, bandwidth: float):
    """The cheapest worker for ``ts`` among holders of its inputs and ``extra``.

    ``valid`` is ``None`` (any running worker may run it) or the set of
    workers its restrictions allow. Returns ``None`` when no candidate is
    running. Ties go to the worker holding more input bytes, then to the one
    with fewer tasks in flight.
    """
    local: dict = {}
    total = 0
    for dep in ts.dependencies:
        nbytes = dep.nbytes if dep.nbytes >= 0 else DEFAULT_NBYTES
        total += nbytes
        for ws in dep.who_has:
            if ws.status == "running" and (valid is None or ws in valid):
                local[ws] = local.get(ws, 0) + nbytes
    best = None
    best_rank = None
    for ws in (*local, *extra):
        if ws.status != "running" or (valid is not None and ws not in valid):
            continue
        here = local.get(ws, 0)
        rank = (worker_cost(ws, total - here, bandwidth), -here, len(ws.processing))
        if best_rank is None or rank < best_rank:
            best, best_rank = ws, rank
    return best
