"""The nanny: worker processes restarted when they die, killed past their memory
limit, started afresh by ``client.restart()``, and never left behind."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import psutil
import pytest

from shoal.distributed import Client, KilledWorker, LocalCluster, Scheduler, wait
from shoal.distributed.nanny import Nanny

pytestmark = pytest.mark.timeout(60)


def inc(x):
    return x + 1


def slow_inc(x, delay=0.05):
    time.sleep(delay)
    return x + 1


def inc_once_open(x, gate: str):
    """``x + 1`` once the file ``gate`` exists (bounded wait): work that cannot finish before
    the test opens the gate, whatever the machine's load (worker processes share no memory)."""
    deadline = time.monotonic() + 60
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.01)
    return x + 1


def hog(nbytes, hold):
    """Allocate (and touch) ``nbytes``, keep them resident for ``hold`` s, return their sum."""
    block = np.ones(nbytes // 8)
    time.sleep(hold)
    return float(block.sum())


def wait_until(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def worker_pids(client) -> dict:
    return client.run(os.getpid)


def test_killed_worker_is_replaced_by_its_nanny_and_the_computation_completes(tmp_path):
    gate = str(tmp_path / "gate")
    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
        before = worker_pids(client)
        nannies = {w["nanny"] for w in cluster.scheduler_info()["workers"].values()}
        assert len(nannies) == 2 and None not in nannies
        done = client.map(slow_inc, range(5))
        wait(done, timeout=30)
        # The rest waits for a gate opened after the kill: the computation cannot be over
        # before the worker dies, however slowly this process gets the CPU.
        futures = done + client.map(inc_once_open, range(5, 40), gate=gate)
        total = client.submit(sum, futures)
        assert not total.done()  # killed in the middle of the computation

        victim_address, victim_pid = next(iter(before.items()))
        nanny_pid = psutil.Process(victim_pid).ppid()
        assert nanny_pid in {p.pid for p in cluster.worker_processes.values()}
        os.kill(victim_pid, signal.SIGKILL)
        open(gate, "w").close()

        assert total.result(timeout=60) == sum(x + 1 for x in range(40))
        wait_until(lambda: len(client.nthreads()) == 2 and victim_address not in client.nthreads(),
                   what="a new worker registered")
        after = worker_pids(client)
        assert victim_pid not in after.values() and len(set(after.values())) == 2
        replacement = [pid for pid in after.values() if pid not in before.values()]
        assert [psutil.Process(pid).ppid() for pid in replacement] == [nanny_pid]
        # The same nannies, one of them with a new worker; it computes.
        assert {w["nanny"] for w in cluster.scheduler_info()["workers"].values()} == nannies
        assert client.gather(client.map(inc, range(100, 120))) == [x + 1 for x in range(100, 120)]


def test_task_past_the_memory_limit_kills_workers_until_killed_worker(capfd):
    limit = 200_000_000
    with LocalCluster(n_workers=2, threads_per_worker=1, memory_limit=limit, allowed_failures=2) as cluster, \
            Client(cluster) as client:
        pids = set(worker_pids(client).values())
        others = client.map(slow_inc, range(30), delay=0.01)
        total = client.submit(sum, others)
        hungry = client.submit(hog, 300_000_000, 5.0)  # 300 MB on a 200 MB limit
        with pytest.raises(KilledWorker) as info:
            hungry.result(timeout=60)
        # Killed on two different worker processes, then given up on.
        assert info.value.key == hungry.key and len(set(info.value.workers)) == 2
        assert total.result(timeout=30) == sum(x + 1 for x in range(30))
        assert client.gather(others) == [x + 1 for x in range(30)]
        wait_until(lambda: len(client.nthreads()) == 2, what="both workers back")
        assert client.submit(inc, 1).result(timeout=20) == 2
        assert len(pids & set(worker_pids(client).values())) <= 1  # at least one is a new process
    err = capfd.readouterr().err
    limit_text = f"{limit / 2**20:.2f} MiB"
    kills = re.findall(rf"used ([\d.]+) MiB of its {re.escape(limit_text)} memory limit: terminated", err)
    assert len(kills) == 2, err[-3000:]
    assert all(float(used) > 0.95 * limit / 2**20 for used in kills)


def test_restart_gives_fresh_worker_processes():
    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
        futures = client.map(inc, range(10))
        wait(futures, timeout=20)
        before = worker_pids(client)
        nannies = {p.pid for p in cluster.worker_processes.values()}
        assert client.restart(timeout=30) == 2
        after = worker_pids(client)
        assert len(set(after.values())) == 2 and set(after.values()).isdisjoint(before.values())
        assert set(after).isdisjoint(before)  # new processes listen on new addresses
        assert not any(alive(pid) for pid in before.values())
        assert {psutil.Process(pid).ppid() for pid in after.values()} == nannies
        wait_until(lambda: all(f.status == "cancelled" for f in futures), what="futures cancelled")
        assert client.gather(client.map(inc, range(10))) == [x + 1 for x in range(10)]


def test_nanny_over_tls_restarts_its_worker():
    with LocalCluster(n_workers=1, threads_per_worker=1, security=True) as cluster, Client(cluster) as client:
        [info] = cluster.scheduler_info()["workers"].values()
        # The nanny listens with the worker's credentials; the scheduler reaches it over TLS.
        assert info["nanny"].startswith("tls://") and cluster.scheduler_address.startswith("tls://")
        before = worker_pids(client)
        assert client.restart(timeout=30) == 1
        after = worker_pids(client)
        assert set(after.values()).isdisjoint(before.values())
        assert all(address.startswith("tls://") for address in after)
        assert client.submit(inc, 1).result(timeout=20) == 2


def test_restart_without_nanny_clears_the_same_workers():
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False) as cluster, Client(cluster) as client:
        futures = client.map(inc, range(5))
        wait(futures, timeout=20)
        [worker] = cluster.workers.values()
        assert len(worker.data) == 5
        assert client.restart(timeout=20) == 1
        assert len(worker.data) == 0 and list(client.nthreads()) == [worker.address]
        assert client.gather(client.map(inc, range(5))) == [1, 2, 3, 4, 5]


def test_restart_without_waiting_for_workers_returns_and_they_come_back():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster, Client(cluster) as client:
        futures = client.map(inc, range(5))
        wait(futures, timeout=20)
        assert 0 <= client.restart(timeout=20, wait_for_workers=False) <= 2  # Dask's keyword
        assert all(f.cancelled() for f in futures)
        wait_until(lambda: len(client.nthreads()) == 2, what="both workers registered again")
        assert client.gather(client.map(inc, range(5))) == [x + 1 for x in range(5)]


def test_close_leaves_no_processes_and_a_killed_nanny_takes_its_worker_along():
    me = psutil.Process()
    already = {p.pid for p in me.children(recursive=True)}
    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
        nanny_procs = list(cluster.worker_processes.values())
        pids = worker_pids(client)
        assert {psutil.Process(pid).ppid() for pid in pids.values()} == {p.pid for p in nanny_procs}
        # A nanny killed outright: its worker notices its parent is gone and exits.
        doomed_nanny = nanny_procs[0]
        [doomed_worker] = [pid for pid in pids.values() if psutil.Process(pid).ppid() == doomed_nanny.pid]
        os.kill(doomed_nanny.pid, signal.SIGKILL)
        wait_until(lambda: not alive(doomed_worker), timeout=30, what="the orphaned worker exited")
        wait_until(lambda: len(client.nthreads()) == 1, what="the scheduler dropped it")
        assert client.submit(inc, 2).result(timeout=20) == 3
    started = [p.pid for p in nanny_procs] + list(pids.values())
    assert not any(alive(pid) for pid in started)
    assert {p.pid for p in me.children(recursive=True)} <= already


def test_processes_exit_when_the_cluster_owner_is_killed(tmp_path):
    script = tmp_path / "owner.py"
    script.write_text(textwrap.dedent("""
        import os, sys, time
        import psutil
        from shoal.distributed import LocalCluster
        cluster = LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None)
        print(*[p.pid for p in psutil.Process().children(recursive=True)], flush=True)
        time.sleep(60)
    """))
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: lines.put(owner.stdout.readline()), daemon=True).start()
        started = [int(pid) for pid in lines.get(timeout=40).split()]
        assert len(started) == 2 and all(alive(pid) for pid in started)  # the nanny and its worker
        owner.kill()  # no close(), no atexit: only the watch on the parent can end them
        owner.wait(10)
        wait_until(lambda: not any(alive(pid) for pid in started), timeout=30, what="nanny and worker exited")
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait(10)


def test_nanny_gives_up_on_a_worker_that_keeps_dying(caplog):
    async def main():
        async with Scheduler("tcp://127.0.0.1:0") as scheduler:
            nanny = Nanny(scheduler.address, ["--nthreads", "1"], max_quick_deaths=2, quick_death_seconds=60)
            await nanny.start()
            try:
                first = nanny.worker_pid
                assert scheduler.state.workers[nanny.worker_address].nanny == nanny.address
                os.kill(first, signal.SIGKILL)
                for _ in range(1000):  # bounded: the nanny starts a second worker
                    if nanny.worker_pid not in (None, first) and nanny.worker_address in scheduler.state.workers:
                        break
                    await asyncio.sleep(0.02)
                second = nanny.worker_pid
                assert second not in (None, first) and nanny.deaths == 1 and not nanny.gave_up
                os.kill(second, signal.SIGKILL)
                await asyncio.wait_for(nanny.finished(), 20)
                assert nanny.gave_up and nanny.deaths == 2 and nanny.worker_pid is None
                assert not alive(second)
            finally:
                await nanny.close()

    with caplog.at_level("WARNING", logger="shoal.distributed.nanny"):
        asyncio.run(asyncio.wait_for(main(), 50))
    assert any("giving up" in r.getMessage() for r in caplog.records)


def test_nanny_answers_identity_kill_and_restart_requests():
    from shoal.distributed.rpc import ConnectionPool

    async def main():
        async with Scheduler("tcp://127.0.0.1:0") as scheduler, \
                Nanny(scheduler.address, ["--nthreads", "2", "--name", "kept-name"]) as nanny:
            pool = ConnectionPool(connect_timeout=5)
            try:
                first = nanny.worker_pid
                identity = (await pool.request(nanny.address, {"op": "identity"}, timeout=10))["result"]
                assert identity["type"] == "Nanny" and identity["pid"] == os.getpid()
                assert identity["worker_pid"] == first and identity["worker_address"] in scheduler.state.workers
                ws = scheduler.state.workers[identity["worker_address"]]
                assert (ws.name, ws.nthreads, ws.nanny) == ("kept-name", 2, nanny.address)  # arguments passed on

                assert (await pool.request(nanny.address, {"op": "kill"}, timeout=10))["result"] is None
                assert not alive(first) and nanny.worker_pid is None and nanny.status == "running"
                for _ in range(500):  # bounded: the scheduler drops it, and nobody starts another
                    if not scheduler.state.workers:
                        break
                    await asyncio.sleep(0.02)
                await asyncio.sleep(0.3)
                assert not scheduler.state.workers and nanny.deaths == 0

                reply = await pool.request(nanny.address, {"op": "restart", "timeout": 30}, timeout=40)
                assert reply["result"]["pid"] == nanny.worker_pid not in (None, first)
                assert [w.name for w in scheduler.state.workers.values()] == ["kept-name"]

                reply = await pool.request(nanny.address, {"op": "no-such-op"}, timeout=10)
                assert "no-such-op" in str(reply["error"])
            finally:
                pool.close()

    asyncio.run(asyncio.wait_for(main(), 50))


def test_nanny_memory_limit_takes_sizes_as_the_worker_does():
    # A string limit used to be kept as given, and the watcher failed on it in the background:
    # the limit was never enforced.
    assert Nanny("tcp://127.0.0.1:8786", memory_limit="200MB").memory_limit == 200 * 10**6
    assert Nanny("tcp://127.0.0.1:8786", memory_limit="1 MiB").memory_limit == 2**20
    assert Nanny("tcp://127.0.0.1:8786", memory_limit=None).memory_limit is None
    with pytest.raises(ValueError, match="memory_limit='lots' is not understood"):
        Nanny("tcp://127.0.0.1:8786", memory_limit="lots")


def test_cli_worker_runs_under_a_nanny_and_stops_with_it():
    with LocalCluster(n_workers=0, threads_per_worker=1) as cluster, Client(cluster) as client:
        proc = subprocess.Popen([sys.executable, "-m", "shoal.distributed.cli", "worker", cluster.scheduler_address,
                                 "--nthreads", "1", "--name", "cli-worker", "--memory-limit", "1GB"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                stdin=subprocess.DEVNULL)
        try:
            lines: queue.Queue = queue.Queue()

            def read():
                for line in proc.stdout:
                    lines.put(line)

            threading.Thread(target=read, daemon=True).start()
            deadline = time.monotonic() + 40
            seen = []
            while not any("Nanny at:" in line for line in seen):
                assert time.monotonic() < deadline, f"no 'Nanny at:' line; output: {seen}"
                try:
                    seen.append(lines.get(timeout=1))
                except queue.Empty:
                    pass
            [info] = cluster.scheduler_info()["workers"].values()
            assert info["name"] == "cli-worker" and info["nanny"] is not None
            assert info["memory_limit"] == 10**9  # --memory-limit reached the worker unchanged
            [worker_pid] = worker_pids(client).values()
            assert psutil.Process(worker_pid).ppid() == proc.pid
            # (a builtin: this test module is not importable in a process started without its path)
            assert client.submit(sum, [40, 2]).result(timeout=20) == 42
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
            assert not alive(worker_pid)
            wait_until(lambda: len(client.nthreads()) == 0, what="the scheduler dropped the worker")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def test_cli_nworkers_start_one_nanny_each_and_all_stop_on_sigterm():
    with LocalCluster(n_workers=0, threads_per_worker=1) as cluster, Client(cluster) as client:
        proc = subprocess.Popen([sys.executable, "-m", "shoal.distributed.cli", "worker", cluster.scheduler_address,
                                 "--nworkers", "2", "--nthreads", "1"],
                                stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        try:
            wait_until(lambda: len(client.nthreads()) == 2, timeout=40, what="two workers registered")
            nannies = psutil.Process(proc.pid).children()
            workers = [child for nanny in nannies for child in nanny.children()]
            assert len(nannies) == 2 and len(workers) == 2
            infos = cluster.scheduler_info()["workers"].values()
            assert len({info["nanny"] for info in infos}) == 2 and all(info["nanny"] for info in infos)
            assert sorted(worker_pids(client).values()) == sorted(w.pid for w in workers)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
            wait_until(lambda: not any(alive(p.pid) for p in nannies + workers), timeout=30, what="all exited")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
