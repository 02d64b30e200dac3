"""A tiny in-memory "network" that drives a SchedulerState and several WorkerStates.

No sockets, no threads: messages are passed in order through a FIFO, and the
asynchronous parts (a task running on a thread, a fetch from a peer) wait in a
pending list from which a seeded RNG picks what completes next, so every run
explores a different but reproducible interleaving. Tasks really run, as
``node(inputs)``.

Run as a script to measure the scheduler's cost per task:
``python tests/distributed/state/state_sim.py [n_tasks]``.
"""

from __future__ import annotations

import random
import sys
import time
from collections import defaultdict, deque

from shoal.distributed.state import Execute, GatherDep, SchedulerState, ToScheduler, WorkerState

CLIENT = "client-1"


class SimCluster:
    def __init__(self, scheduler: SchedulerState | None = None, *, seed: int = 0, validate_every: int = 0,
                 steal_every: int = 0):
        self.s = scheduler or SchedulerState()
        self.workers: dict = {}
        self.dead: set = set()
        self.client_msgs: dict = defaultdict(list)
        self.inbox: deque = deque()  # ("to-worker"|"to-scheduler", address, msg)
        self.pending: list = []  # ("execute", addr, key, node, inputs) | ("gather", addr, peer, keys)
        self.rng = random.Random(seed)
        self.validate_every = validate_every
        self.steal_every = steal_every  # run a work-stealing round every that many steps (0: never)
        self.ran_on: dict = defaultdict(list)  # key -> addresses it was executed on, in order
        self.scheduler_seconds = 0.0
        self.steps = 0

    # -------------------------------------------------------------- plumbing
    def call(self, method, *args, **kwargs):
        """Call a SchedulerState method, timing it, and deliver what it returns."""
        start = time.perf_counter()
        msgs = method(*args, **kwargs)
        self.scheduler_seconds += time.perf_counter() - start
        for to, msg in msgs:
            if to in self.workers:
                self.inbox.append(("to-worker", to, msg))
            else:
                self.client_msgs[to].append(msg)
        return msgs

    def _instructions(self, address: str, instructions: list) -> None:
        ws = self.workers[address]
        for ins in instructions:
            if type(ins) is Execute:
                self.ran_on[ins.key].append(address)
                node, inputs = ws.execution_inputs(ins.key)
                self.pending.append(("execute", address, ins.key, node, inputs))
            elif type(ins) is GatherDep:
                self.pending.append(("gather", address, ins.peer, list(ins.keys)))
            else:
                assert type(ins) is ToScheduler, ins
                self.inbox.append(("to-scheduler", address, ins.msg))

    def flush(self) -> None:
        """Deliver queued messages until none are left."""
        while self.inbox:
            direction, address, msg = self.inbox.popleft()
            if address in self.dead:
                continue
            if direction == "to-worker":
                self._instructions(address, self.workers[address].handle_scheduler_message(msg))
            else:
                self.call(self.s.handle_worker_message, address, msg)

    def step(self) -> None:
        """Complete one pending execution or fetch, chosen at random."""
        i = self.rng.randrange(len(self.pending))
        self.pending[i], self.pending[-1] = self.pending[-1], self.pending[i]
        event = self.pending.pop()
        kind, address = event[0], event[1]
        if address in self.dead:
            return
        ws = self.workers[address]
        if kind == "execute":
            _, _, key, node, inputs = event
            try:
                value = node(inputs)
            except Exception as exc:
                out = ws.handle_execute_failure(key, exc, exception_text=repr(exc))
            else:
                out = ws.handle_execute_success(key, value, nbytes=8)
        else:
            _, _, peer, keys = event
            if peer in self.dead:
                out = ws.handle_gather_dep_failure(peer, ConnectionError(peer))
            else:
                source = self.workers[peer].data
                out = ws.handle_gather_dep_success(peer, {k: source[k] for k in keys if k in source})
        self._instructions(address, out)
        self.flush()
        self.steps += 1
        if self.steal_every and self.steps % self.steal_every == 0:
            self.balance()
        if self.validate_every and self.steps % self.validate_every == 0:
            self.validate()

    def run(self, max_steps: int = 1_000_000, until=None) -> None:
        """Step until nothing is pending (or ``until()`` is true), at most ``max_steps`` times."""
        self.flush()
        for _ in range(max_steps):
            if not self.pending or (until is not None and until()):
                return
            self.step()
        raise AssertionError(f"simulation did not settle in {max_steps} steps")

    def validate(self) -> None:
        self.s.validate_state()
        for address, ws in self.workers.items():
            if address not in self.dead:
                ws.validate_state()
        # A task with a steal request out is still processing on its victim.
        for ts, (_, victim, _) in self.s.in_flight_steals.items():
            assert ts.state == "processing" and ts.processing_on is victim, (ts, victim)
        # No task runs on two live workers at once (a cancelled run's result is dropped).
        running: dict = {}
        for address, ws in self.workers.items():
            if address not in self.dead:
                for wts in ws.executing:
                    if wts.state == "executing":
                        assert wts.key not in running, (wts.key, running.get(wts.key), address)
                        running[wts.key] = address

    def retire(self, address: str, max_rounds: int = 100_000) -> None:
        """Retire ``address`` gracefully: step the world until the scheduler says it holds
        nothing needed, then remove it (its process is gone from then on)."""
        self.call(self.s.begin_retirement, [address])
        self.flush()
        for _ in range(max_rounds):
            if self.s.retirement_done(address):
                break
            if self.pending:
                self.step()
            self.call(self.s.retirement_step)
            self.flush()
        else:
            raise AssertionError(f"{address} did not finish retiring in {max_rounds} rounds")
        self.dead.add(address)
        self.call(self.s.remove_worker, address, reason="retired")
        self.flush()

    def balance(self) -> None:
        """One work-stealing round: steal requests go out, answers come back, moves happen."""
        self.call(self.s.balance)
        self.flush()

    # -------------------------------------------------------------- actors
    def add_worker(self, address: str, nthreads: int = 1, **kwargs) -> WorkerState:
        ws = self.workers[address] = WorkerState(address, nthreads, **kwargs)
        self.call(self.s.add_worker, address, nthreads, resources=kwargs.get("resources"))
        self.flush()
        return ws

    def kill(self, address: str) -> None:
        self.dead.add(address)
        self.call(self.s.remove_worker, address, reason="killed by the test")
        self.flush()

    def submit(self, graph: dict, keys, **kwargs) -> None:
        self.call(self.s.update_graph, CLIENT, graph, keys, **kwargs)
        self.flush()

    def release(self, keys) -> None:
        self.call(self.s.client_releases_keys, CLIENT, keys)
        self.flush()

    def result(self, key):
        holders = self.s.who_has([key])[key]
        assert holders, f"{key!r} is not in memory anywhere"
        return self.workers[holders[0]].data[key]


def inc(x):
    return x + 1


def measure(n_tasks: int = 20_000, n_workers: int = 2) -> dict:
    """Scheduler seconds per task for ``n_tasks`` independent tasks on ``n_workers`` x 1 thread."""
    from shoal.taskgraph import Task

    sim = SimCluster()
    for i in range(n_workers):
        sim.add_worker(f"sim://w{i}", 1)
    graph = {("inc", i): Task(("inc", i), inc, i) for i in range(n_tasks)}
    keys = list(graph)
    wall = time.perf_counter()
    sim.submit(graph, keys)
    sim.run()
    got = {m["key"] for m in sim.client_msgs[CLIENT] if m["op"] == "key-in-memory"}
    assert got == set(keys), f"{len(set(keys) - got)} keys never finished"
    values_ok = all(sim.result(k) == k[1] + 1 for k in keys[:: max(1, n_tasks // 100)])
    sim.release(keys)
    wall = time.perf_counter() - wall
    assert not sim.s.tasks, f"{len(sim.s.tasks)} tasks left after release"
    return {
        "n_tasks": n_tasks,
        "scheduler_us_per_task": 1e6 * sim.scheduler_seconds / n_tasks,
        "simulation_us_per_task": 1e6 * wall / n_tasks,
        "values_ok": values_ok,
    }


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    result = measure(n)
    print(
        f"{result['n_tasks']} independent tasks, 2 workers x 1 thread: "
        f"SchedulerState {result['scheduler_us_per_task']:.1f} us/task, "
        f"whole simulation (scheduler + workers + running tasks) "
        f"{result['simulation_us_per_task']:.1f} us/task"
    )
