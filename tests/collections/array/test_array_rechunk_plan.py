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


def _biggest_block(chunks: tuple) -> int:
    return int(np.prod([max(c) for c in chunks]))


@pytest.mark.parametrize("shape, before, after", [
    ((96, 96), (1, 96), (96, 1)),
    ((90, 70), (3, 70), (90, 2)),
    ((40, 30, 6), (1, 30, 6), (40, 1, 3)),
])
def test_fine_rows_to_fine_columns_go_through_a_middle_stage(shape, before, after, sched):
    from shoal.collections.array.rechunk import count_pieces, plan_intermediate_chunks

    data = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    x = sa.from_array(data - 1, chunks=before) + 1  # computed blocks: the rechunk cannot read the source
    y = x.rechunk(after)
    middle = plan_intermediate_chunks(x.chunks, y.chunks)
    assert middle is not None
    assert _biggest_block(middle) <= max(_biggest_block(x.chunks), _biggest_block(y.chunks))
    direct = np.prod([count_pieces(i, o) for i, o in zip(x.chunks, y.chunks)])
    graph = y.__shoal_graph__()
    assert len(graph) < direct / 2  # far fewer tasks than one per direct piece
    assert_eq(y, data, scheduler=sched)
    assert_eq(y.sum(axis=0), data.sum(axis=0), scheduler=sched)


def test_small_or_aligned_rechunks_stay_in_one_stage():
    from shoal.collections.array.rechunk import plan_intermediate_chunks

    assert plan_intermediate_chunks(((2,) * 5, (10,)), ((10,), (2,) * 5)) is None  # 25 pieces: not worth it
    assert plan_intermediate_chunks(((1,) * 1000,), ((10,) * 100,)) is None  # merging only: one piece each


def test_staged_rechunk_on_processes():
    data = np.arange(64 * 64).reshape(64, 64)
    y = (sa.from_array(data, chunks=(1, 64)) * 3).rechunk((64, 1))
    assert_eq(y, data * 3, scheduler="processes")


def _random_chunks(rng: np.random.Generator, length: int) -> tuple:
    cuts = sorted(set(rng.integers(1, length, size=rng.integers(0, length)).tolist())) if length > 1 else []
    bounds = [0, *cuts, length]
    return tuple(b - a for a, b in zip(bounds, bounds[1:]))


def test_staging_forced_on_uneven_and_single_element_chunks(monkeypatch):
    from shoal.collections.array import rechunk as rechunk_module

    monkeypatch.setattr(rechunk_module, "STAGE_MIN_PIECES", 1)
    monkeypatch.setattr(rechunk_module, "STAGE_PIECES_PER_BLOCK", 0)
    rng = np.random.default_rng(7)
    data = np.arange(40 * 36, dtype=np.int64).reshape(40, 36)
    staged = 0
    for n in range(20):
        before = (_random_chunks(rng, 40), _random_chunks(rng, 36))
        after = (_random_chunks(rng, 40), _random_chunks(rng, 36))
        if n % 2:  # fine rows to fine columns, unevenly: where a middle stage pays
            before = ((1,) * 30 + (2, 1, 3, 1, 3), (36,))
            after = ((40,), (1,) * 30 + (2, 4) if n % 4 == 1 else (1,) * 36)
        staged += rechunk_module.plan_intermediate_chunks(before, after) is not None
        y = (sa.from_array(data, chunks=before) + 0).rechunk(after)
        assert y.chunks == after
        assert_eq(y, data, scheduler="sync")
    assert staged > 0  # the forced plan did go through middle stages
