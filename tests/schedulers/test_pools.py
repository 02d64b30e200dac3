"""PoolsBySize: the shared pool cache of the threads and processes schedulers."""

from __future__ import annotations

import threading

from shoal.schedulers.pools import PoolsBySize


class FakePool:
    def __init__(self, num_workers: int):
        self.num_workers = num_workers


def test_one_pool_per_size_until_discarded():
    pools = PoolsBySize(FakePool)
    two, three = pools.get(2), pools.get(3)
    assert (two.num_workers, three.num_workers) == (2, 3)
    assert pools.get(2) is two and pools.get(3) is three
    pools.discard(two)
    replacement = pools.get(2)
    assert replacement is not two and replacement.num_workers == 2
    assert pools.get(3) is three  # discarding one size leaves the others
    pools.discard(two)  # already gone: nothing to do
    assert pools.get(2) is replacement


def test_take_all_empties_the_cache():
    pools = PoolsBySize(FakePool)
    made = {pools.get(1), pools.get(4)}
    assert set(pools.take_all()) == made
    assert pools.take_all() == []
    assert pools.get(1) not in made


def test_threads_asking_at_once_share_one_pool():
    made = []
    lock = threading.Lock()

    def make(num_workers: int) -> FakePool:
        with lock:
            made.append(num_workers)
        return FakePool(num_workers)

    pools = PoolsBySize(make)
    start = threading.Barrier(8)
    got = []

    def ask():
        start.wait(timeout=30)
        got.append(pools.get(5))

    askers = [threading.Thread(target=ask) for _ in range(8)]
    for t in askers:
        t.start()
    for t in askers:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in askers)
    assert made == [5] and len(got) == 8 and all(pool is got[0] for pool in got)

