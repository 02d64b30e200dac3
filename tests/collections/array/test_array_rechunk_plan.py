"""rechunk of stored data: new blocks read straight from the source when that costs no more."""

from __future__ import annotations

import numpy as np
import pytest

import shoal.array as sa
from shoal.collections.array.creation import FromArray
from shoal.collections.array.rechunk import Rechunk
from shoal.testing import assert_eq

DATA = np.arange(120.0).reshape(10, 12)


class CountingReader:
    """An array-like without storage chunks that records the shape of every read."""

    def __init__(self, data: np.ndarray, storage_chunks: tuple | None = None):
        self.data, self.shape, self.dtype, self.ndim = data, data.shape, data.dtype, data.ndim
        if storage_chunks is not None:
            self.chunks = storage_chunks
        self.reads: list = []

    def __getitem__(self, index):
        block = self.data[index]
        self.reads.append(block.shape)
        return block


def test_rows_to_columns_of_a_numpy_array_reads_columns_directly(sched):
    x = sa.from_array(DATA, chunks=(1, 12)).rechunk((10, 5))
    plan = x.expr.optimize()
    assert isinstance(plan, FromArray) and plan.chunks == ((10,), (5, 5, 2))
    assert_eq(x, DATA, scheduler=sched)
    assert_eq(x.sum(axis=0), DATA.sum(axis=0), scheduler=sched)


def test_an_array_like_without_storage_chunks_is_read_in_the_new_blocks():
    reader = CountingReader(DATA)
    x = sa.from_array(reader, chunks=(2, 12)).rechunk((10, 4))
    assert_eq(x, DATA, scheduler="sync")
    assert sorted(reader.reads) == [(10, 4)] * 3  # never a whole row block


@pytest.mark.parametrize("new, pushed", [((5, 6), True), ((10, 3), True), ((4, 6), False), ((5, 4), False)])
def test_chunked_storage_is_read_directly_only_on_its_chunk_boundaries(new, pushed, sched):
    reader = CountingReader(DATA, storage_chunks=(5, 3))
    x = sa.from_array(reader, chunks=(5, 3)).rechunk(new)
    plan = x.expr.optimize()
    assert isinstance(plan, FromArray) == pushed
    assert isinstance(plan, Rechunk) != pushed
    assert_eq(x, DATA, scheduler=sched)


def test_rechunk_of_computed_blocks_still_cuts_and_assembles(sched):
    x = (sa.from_array(DATA, chunks=(1, 12)) * 2).rechunk((10, 5))
    assert isinstance(x.expr.optimize(), Rechunk)
    assert_eq(x, DATA * 2, scheduler=sched)
