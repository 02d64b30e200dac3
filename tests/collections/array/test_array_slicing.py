"""Basic indexing compared with NumPy, bounds errors at build time, and slice pushdown."""

from __future__ import annotations

import numpy as np
import pytest

import shoal.array as sa
from shoal.collections.array.slicing import Slice
from shoal.testing import assert_eq

A = np.arange(9 * 8 * 3).reshape(9, 8, 3).astype(float)

INDICES = [
    0, -1, 4, slice(None), slice(2, 7), slice(None, None, -1), slice(7, 1, -2), slice(-3, None), slice(1, 8, 3),
    slice(5, 2), slice(100, 200), (Ellipsis, 1), (None, 2), (slice(None), None, -2), (3, slice(None, None, -3), 0),
    (Ellipsis,), (None, Ellipsis, None), (slice(1, 3), slice(None), slice(None, None, -1)), (-9, -8, -3),
    (np.int64(2), np.int32(3)),
]


@pytest.mark.parametrize("chunks", [(4, 3, 2), 1, ((2, 7), (1, 6, 1), (3,))])
@pytest.mark.parametrize("index", INDICES, ids=repr)
def test_basic_indexing_matches_numpy(index, chunks, sched):
    x = sa.from_array(A, chunks=chunks)
    result = x[index]
    expected = A[index]
    assert result.shape == expected.shape
    assert_eq(result, expected, scheduler=sched)


def test_chained_indexing_and_zero_dim():
    x = sa.from_array(A, chunks=(4, 3, 2))
    assert_eq(x[1:][::-1][2, 3:], A[1:][::-1][2, 3:])
    assert_eq(x[2, 3, 1], A[2, 3, 1])
    assert_eq(x[2, 3, 1][None], A[2, 3, 1][None])


def test_out_of_bounds_integers_fail_at_build_time_naming_axis_and_size():
    x = sa.from_array(A, chunks=4)
    with pytest.raises(IndexError, match="index 8 is out of bounds for axis 1 with size 8"):
        x[0, 8]
    with pytest.raises(IndexError, match="index -10 is out of bounds for axis 0 with size 9"):
        x[-10]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0, 0]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., ...]


def test_advanced_indexing_says_it_is_not_there_yet():
    x = sa.from_array(A, chunks=4)
    with pytest.raises(NotImplementedError, match="not implemented yet"):
        x[np.array([[0, 1]])]  # a 2-d integer index
    with pytest.raises(NotImplementedError, match="not implemented yet"):
        x[np.ones((9, 8), dtype=bool)]  # a mask over some of the axes only


def test_only_the_needed_blocks_are_read():
    x = sa.from_array(A[:, :, 0], chunks=(3, 4))
    y = x[1:2, 5:]
    graph = y.__shoal_graph__()
    read = {k[1:] for k in graph if isinstance(k, tuple) and k[0] == x.name}
    assert read == {(0, 1)}
    assert_eq(y, A[1:2, 5:, 0])


def test_slice_is_pushed_through_elementwise_ops():
    data = A[:, :, 0]
    x = sa.from_array(data, chunks=(3, 4))  # blocks: 3 x 2
    y = (x + 1)[:3]
    total = y.sum()
    graph = total.__shoal_graph__()
    read = {k[1:] for k in graph if isinstance(k, tuple) and k[0] == x.name}
    assert read == {(0, 0), (0, 1)}  # the other blocks of x are not even in the graph
    # after optimization the slice sits below the addition, on x itself
    plan = y.expr.optimize()
    slices = list(plan.find_operations(Slice))
    assert len(slices) == 1 and slices[0].array._name == x.expr._name
    assert_eq(total, (data + 1)[:3].sum())
    assert_eq(y, (data + 1)[:3])


def test_pushdown_through_broadcasting_keeps_results():
    data = A[:, :, 0]
    row = np.arange(8.0)
    col = np.arange(9.0)[:, None]
    x = sa.from_array(data, chunks=(3, 4))
    r = sa.from_array(row, chunks=3)
    c = sa.from_array(col, chunks=(2, 1))
    for index in [(slice(2, 7), slice(None, None, -3)), (4,), (slice(None), 5), (-1, -1), (slice(None, None, -1),)]:
        assert_eq((x * r + c)[index], (data * row + col)[index])
        assert_eq(np.exp(x - r)[index].sum(), np.exp(data - row)[index].sum())


def test_blocks_indexer():
    x = sa.from_array(A[:, :, 0], chunks=(4, 3))
    assert x.blocks.shape == (3, 3)
    assert_eq(x.blocks[0, 1], A[:4, 3:6, 0])
    assert_eq(x.blocks[-1], A[8:, :, 0])
    assert_eq(x.blocks[::2, 1:], np.concatenate([A[:4, 3:, 0], A[8:, 3:, 0]]))
    assert len(x.blocks.ravel()) == 9
    with pytest.raises(IndexError, match="out of bounds"):
        x.blocks[3]


def test_slicing_on_processes(scheduler):
    x = sa.from_array(A, chunks=(4, 3, 2))
    assert_eq((x * 2)[::-2, 1:5, 0], (A * 2)[::-2, 1:5, 0], scheduler=scheduler)
