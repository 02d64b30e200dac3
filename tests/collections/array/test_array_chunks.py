"""normalize_chunks and the chunk arithmetic, with property tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shoal.array as sa
from shoal import config
from shoal.collections.array.chunks import (
    blockdims_from_blockshape, chunk_boundaries, common_chunks, normalize_chunks, parse_bytes, slices_from_chunks,
)
from shoal.collections.array.rechunk import overlapping_pieces
from shoal.collections.array.slicing import slice_axis_plan
from shoal.testing import assert_eq


def test_int_tuple_dict_and_whole_axis():
    assert normalize_chunks(3, (7, 4)) == ((3, 3, 1), (3, 1))
    assert normalize_chunks((3, -1), (7, 4)) == ((3, 3, 1), (4,))
    assert normalize_chunks((None, 2), (7, 4)) == ((7,), (2, 2))
    assert normalize_chunks({1: 3}, (7, 4)) == ((7,), (3, 1))
    assert normalize_chunks({-1: 3}, (7, 4)) == ((7,), (3, 1))
    assert normalize_chunks(((3, 4), (1, 3)), (7, 4)) == ((3, 4), (1, 3))
    assert normalize_chunks(((3, 4), 2), (7, 4)) == ((3, 4), (2, 2))
    assert normalize_chunks(5, (0,)) == ((0,),)
    assert normalize_chunks(5, ()) == ()


def test_chunks_that_do_not_sum_to_the_shape_name_axis_sum_and_shape():
    with pytest.raises(ValueError, match=r"axis 1 sum to 5, but the shape is 4"):
        normalize_chunks(((7,), (2, 3)), (7, 4))


def test_bad_specs_are_explained():
    with pytest.raises(ValueError, match="2 axes, but the array has 3"):
        normalize_chunks((2, 2), (4, 4, 4))
    with pytest.raises(ValueError, match="must be positive"):
        normalize_chunks(0, (4,))
    with pytest.raises(ValueError, match="not an axis"):
        normalize_chunks({3: 2}, (4,))
    with pytest.raises(ValueError, match="Unknown chunk spec"):
        normalize_chunks("big", (4,))


def test_unknown_lengths_are_nan():
    chunks = normalize_chunks(((math.nan, math.nan), (3,)), (math.nan, 3))
    assert math.isnan(chunks[0][0]) and chunks[1] == (3,)


def test_auto_chunks_respect_the_configured_byte_limit():
    with config.set({"array.chunk-size": "8kB"}):
        chunks = normalize_chunks("auto", (1000, 1000), dtype="f8")
    biggest = max(chunks[0]) * max(chunks[1]) * 8
    assert biggest <= 8000
    assert sum(chunks[0]) == 1000 and sum(chunks[1]) == 1000
    # a short axis is kept whole and the other axis gets the rest of the budget
    chunks = normalize_chunks(("auto", "auto"), (10, 10**6), limit="800kB", dtype="f8")
    assert chunks[0] == (10,) and max(chunks[1]) * 10 * 8 <= 800_000
    assert config.get("array.chunk-size") == "128MiB"


@pytest.mark.parametrize("size", ["8kB", "64 KiB", "1MB"])
def test_a_byte_size_is_auto_with_that_limit(size):
    """``chunks='64MiB'`` as in Dask: the blocks 'auto' picks under that many bytes."""
    assert normalize_chunks(size, (1000, 1000), dtype="f8") == normalize_chunks(
        "auto", (1000, 1000), limit=size, dtype="f8")
    x = sa.ones((300, 200), chunks=size)
    assert max(x.chunks[0]) * max(x.chunks[1]) * 8 <= parse_bytes(size)
    assert_eq(x, np.ones((300, 200)))
    assert sa.ones((300, 200), chunks=5).rechunk(size).chunks == x.chunks


def test_fractional_chunk_lengths_are_refused():
    with pytest.raises(ValueError, match="2.5 for axis 0 is not a whole number"):
        normalize_chunks((2.5, 3), (5, 6))
    with pytest.raises(ValueError, match="byte size"):
        normalize_chunks("12 parsecs", (5,), dtype="f8")


def test_auto_needs_a_dtype():
    with pytest.raises(ValueError, match="dtype"):
        normalize_chunks("auto", (10,))


def test_parse_bytes():
    assert parse_bytes("128MiB") == 128 * 2**20
    assert parse_bytes("2 GB") == 2 * 10**9
    assert parse_bytes(17) == 17
    with pytest.raises(ValueError, match="bytes"):
        parse_bytes("lots")


shapes = st.lists(st.integers(0, 40), min_size=1, max_size=3)


@settings(max_examples=60, deadline=None)
@given(shapes, st.data())
def test_blockdims_cover_the_shape(shape, data):
    blockshape = [data.draw(st.integers(1, 50)) for _ in shape]
    chunks = blockdims_from_blockshape(shape, blockshape)
    for blocks, n, b in zip(chunks, shape, blockshape):
        assert sum(blocks) == n
        assert all(0 < c <= b for c in blocks) or blocks == (0,)
    assert normalize_chunks(tuple(blockshape), tuple(shape)) == chunks


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=6), st.lists(st.integers(1, 6), min_size=1, max_size=6))
def test_common_chunks_refine_both_cuts(a, b):
    total = min(sum(a), sum(b))
    a = tuple(blockdims_from_blockshape((total,), (a[0],))[0])
    b = tuple(blockdims_from_blockshape((total,), (b[0],))[0])
    common = common_chunks(a, b)
    assert sum(common) == total
    cuts = set(chunk_boundaries(common))
    assert set(chunk_boundaries(a)) <= cuts and set(chunk_boundaries(b)) <= cuts
    assert cuts == set(chunk_boundaries(a)) | set(chunk_boundaries(b))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=5), st.integers(-12, 12), st.integers(-12, 12),
       st.sampled_from([1, 2, 3, -1, -2, -5]))
def test_slice_plan_selects_what_numpy_selects(blocks, start, stop, step):
    blocks = tuple(blocks)
    data = np.arange(sum(blocks))
    pieces = np.split(data, np.cumsum(blocks)[:-1])
    s = slice(start, stop, step)
    plan = slice_axis_plan(blocks, s)
    got = np.concatenate([pieces[b][local] for b, local in plan])
    np.testing.assert_array_equal(got, data[s])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=5), st.integers(1, 7))
def test_rechunk_pieces_rebuild_every_output_block(blocks, new_size):
    blocks = tuple(blocks)
    data = np.arange(sum(blocks))
    pieces = np.split(data, np.cumsum(blocks)[:-1])
    out_blocks = blockdims_from_blockshape((sum(blocks),), (new_size,))[0]
    rebuilt = []
    for i in range(len(out_blocks)):
        rebuilt.extend(np.concatenate([pieces[b][s] for b, s, _ in overlapping_pieces(blocks, out_blocks, i)]))
    np.testing.assert_array_equal(rebuilt, data)


def test_slices_from_chunks():
    assert slices_from_chunks(((2, 3), (4,)), (1, 0)) == (slice(2, 5), slice(0, 4))
