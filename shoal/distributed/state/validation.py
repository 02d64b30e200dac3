"""Consistency checks of the state machines, run by the tests after every step.

Kept apart from the state machines so that they hold only the rules; each
check here restates an invariant from the docstring of ``scheduler_state.py``
or ``worker_state.py`` as code.
"""

from __future__ import annotations

_IN_PROGRESS = ("waiting", "queued", "no-worker", "processing")
_WORKER_STATES = (
    "released", "waiting", "ready", "constrained", "executing", "fetch", "flight",
    "missing", "cancelled", "memory", "error",
)


def _worker_task_needed(ts) -> bool:
    return ts.scheduler_holds or bool(ts.waiters)


def validate_scheduler_state(state) -> None:
    """Check the invariants listed in ``scheduler_state.py``; AssertionError names the task."""
    for key, ts in state.tasks.items():
        where = f"task {key!r} in {ts.state}"
        assert ts.state in ("released", "waiting", "queued", "no-worker", "processing", "memory", "erred"), where
        for dep in ts.dependencies:
            assert ts in dep.dependents, where
            assert dep.key in state.tasks, f"{where}: dependency {dep.key!r} forgotten"
        expected_waiters = {d for d in ts.dependents if d.state in _IN_PROGRESS}
        assert ts.waiters == expected_waiters, f"{where}: waiters {ts.waiters} != {expected_waiters}"
        if ts.state == "waiting":
            assert ts.waiting_on == {d for d in ts.dependencies if d.state != "memory"}, where
            assert ts.waiting_on, f"{where}: nothing to wait on"
        else:
            assert not ts.waiting_on, where
        if ts.state in ("queued", "no-worker", "processing"):
            assert all(d.state == "memory" for d in ts.dependencies), where
        if ts.state == "memory":
            assert ts.who_has, f"{where}: no holder"
        else:
            assert not ts.who_has, f"{where}: holders {ts.who_has}"
        for ws in ts.who_has:
            assert ts in ws.has_what and ws.address in state.workers, where
        if ts.state == "processing":
            ws = ts.processing_on
            assert (ts in ws.processing) != (ts in ws.long_running), where
            assert ts.processing_on.address in state.workers, where
        assert (ts in state.unrunnable) == (ts.state == "no-worker"), where
        if ts.state in ("memory", "waiting", "queued", "processing", "no-worker"):
            assert ts.who_wants or ts.waiters, f"{where}: not needed yet kept"
        if ts.state == "released":
            assert ts.dependents or ts.who_wants or ts.waiters, f"{where}: should be forgotten"
        for cs in ts.who_wants:
            assert ts in cs.wants_what, where
    live = [e for e in state.queue if e[-1].state == "queued" and e[-1].queue_seq == e[-2]]
    queued = [ts for ts in state.tasks.values() if ts.state == "queued"]
    assert len(live) == len(queued) == state.n_queued, (len(live), len(queued), state.n_queued)
    assert not (state.n_queued and state.free_slots), "tasks queued while a worker has a free slot"
    occupancy = 0.0
    for address, ws in state.workers.items():
        for ts in [*ws.processing, *ws.long_running]:
            assert ts.state == "processing" and ts.processing_on is ws, (address, ts)
        for ts in ws.has_what:
            assert ws in ts.who_has, (address, ts)
        assert abs(ws.occupancy - sum(ws.processing.values())) < 1e-6, address
        running = ws.status == "running"
        assert (ws in state.free_slots) == (running and len(ws.processing) < ws.slots), address
        assert (ws in state.idle) == (running and len(ws.processing) < ws.nthreads), address
        assert (ws in state._running) == running, address
        occupancy += ws.occupancy
    assert abs(occupancy - state.total_occupancy) < 1e-6
    assert state.total_nthreads == sum(ws.nthreads for ws in state.workers.values())
    counts = state.task_counts()
    actual: dict = {}
    for ts in state.tasks.values():
        actual[ts.state] = actual.get(ts.state, 0) + 1
    assert counts == actual, (counts, actual)
    for cs in state.clients.values():
        for ts in cs.wants_what:
            assert cs in ts.who_wants and ts.key in state.tasks, (cs.id, ts.key)


def validate_worker_state(state) -> None:
    """Check the invariants listed in ``worker_state.py``; AssertionError names the task."""
    assert len(state.executing) <= state.nthreads, len(state.executing)
    assert len(state.in_flight_workers) <= state.transfer_incoming_count_limit
    in_flight = {k for keys in state.in_flight_workers.values() for k in keys}
    for key, ts in state.tasks.items():
        where = f"worker {state.address!r} task {key!r} in {ts.state}"
        assert ts.state in _WORKER_STATES, where
        assert (key in state.data) == (ts.state == "memory"), where
        running = ts.state == "executing" or ts.cancelled_from == "executing"
        assert (ts in state.executing) + (ts in state.long_running) == running, where
        assert (ts.state == "flight" or ts.cancelled_from == "flight") <= (key in in_flight), where
        if ts.state == "waiting":
            assert ts.waiting_for_data == {d for d in ts.dependencies if d.state != "memory"}, where
        for dep in ts.dependencies:
            assert dep.key in state.tasks and ts in dep.dependents, where
        # An executing task resumed after a cancel already holds its inputs on
        # its thread, so it may or may not still be counted as a waiter.
        must = {d for d in ts.dependents if d.state in ("waiting", "ready", "constrained")}
        may = must | {d for d in ts.dependents if d.state == "executing"}
        assert must <= ts.waiters <= may, f"{where}: waiters {ts.waiters}, expected {must} (+ executing)"
        if ts.state in ("memory", "fetch", "flight", "missing", "waiting", "ready"):
            assert _worker_task_needed(ts), f"{where}: kept but not needed"
        if ts.state == "released":
            assert ts.dependents or _worker_task_needed(ts), f"{where}: should be forgotten"
        if ts.state in ("ready", "constrained", "executing"):
            assert all(d.state == "memory" for d in ts.dependencies) or ts.state == "executing", where
    for name, total in state.total_resources.items():
        used = sum((ts.resources or {}).get(name, 0) for ts in state.executing | state.long_running)
        assert state.available_resources[name] == total - used, name
