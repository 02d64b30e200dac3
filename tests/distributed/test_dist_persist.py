"""``x.persist()`` and ``shoal.persist(...)`` with a distributed Client keep the results on
the workers, as Dask's do: collections backed by futures, whose data the workers' memory
management (spilling, retirement) looks after. They used to gather every result into the
client's process."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal
import shoal.array as sa
import shoal.dataframe as sd
from shoal.distributed import Client, LocalCluster, futures_of, wait

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster, Client(cluster) as client:
        yield client


def test_array_persist_keeps_its_blocks_on_the_workers(client):
    values = np.arange(60.0).reshape(6, 10)
    persisted = (sa.from_array(values, chunks=(2, 5)) * 2 + 1).persist()
    futures = futures_of(persisted)
    assert len(futures) == 6  # one future per block
    wait(futures, timeout=30)
    held = client.who_has(futures)
    assert set(held) == {f.key for f in futures} and all(held.values())
    np.testing.assert_array_equal(persisted.compute(), values * 2 + 1)
    assert float(persisted.sum().compute()) == float((values * 2 + 1).sum())


def test_top_level_persist_of_several_collections_and_containers(client):
    frame = pd.DataFrame({"a": np.arange(10), "b": np.arange(10) * 0.5})
    values = np.arange(7.0)
    array, (df, plain) = shoal.persist(sa.from_array(values, chunks=3) + 1,
                                       [sd.from_pandas(frame, npartitions=3), "kept"])
    assert plain == "kept"
    assert len(futures_of(array)) == 3 and len(futures_of(df)) == 3
    np.testing.assert_array_equal(array.compute(), values + 1)
    pd.testing.assert_frame_equal(df.compute(), frame)
    assert float(df.b.sum().compute()) == float(frame.b.sum())


def test_persist_with_a_local_scheduler_still_computes_here(client):
    values = np.arange(5.0)
    persisted = (sa.from_array(values, chunks=2) * 3).persist(scheduler="sync")
    assert futures_of(persisted) == []  # held in this process, no cluster involved
    np.testing.assert_array_equal(persisted.compute(scheduler="sync"), values * 3)
