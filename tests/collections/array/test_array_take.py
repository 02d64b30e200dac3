"""Integer-array indexing along one axis and np.take, compared with NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

A = np.arange(60.0).reshape(6, 10)

INDICES = [
    [5, 0, 2, 2], (slice(None), [9, -1, 0]), (1, [3, 4]), ([0],), (None, slice(1, 3), [7, 1]),
    (slice(None), np.array([True, False] * 5)), ([],), (np.arange(6)[::-1], slice(None, None, 2)),
    (slice(None), np.array([3, 3, 3, 3, 3])),
]


@pytest.mark.parametrize("chunks", [(4, 3), 1, -1])
@pytest.mark.parametrize("index", INDICES, ids=repr)
def test_integer_array_indexing(index, chunks, sched):
    x = sa.from_array(A, chunks=chunks)
    result = x[index]
    assert result.shape == A[index].shape
    assert_eq(result, A[index], scheduler=sched)


CUBE = np.arange(120.0).reshape(4, 5, 6)
APART = [
    (0, slice(None), [1, 2]), (0, slice(1, 4), [5, 0, 1]), (1, None, [2, 0]), (slice(None), 0, [1, 3]),
    ([3, 1], slice(None), 0), (2, slice(None), np.array([True, False, True, False, True, True])),
    (0, [4, 4], slice(None)),
]


@pytest.mark.parametrize("chunks", [(2, 3, 4), 1, -1])
@pytest.mark.parametrize("index", APART, ids=repr)
def test_array_axis_goes_first_when_ints_stand_apart_from_it(index, chunks, sched):
    """NumPy's rule: an int and an index array separated by a slice (or None) put the array's axis first,
    so ``x[0, :, [1, 2]]`` has shape (2, 5), not (5, 2)."""
    x = sa.from_array(CUBE, chunks=chunks)
    expected = CUBE[index]
    assert x[index].shape == expected.shape
    assert_eq(x[index], expected, scheduler=sched)
    if any(entry is None for entry in index):
        return  # assignment does not take None in its index
    # assignment follows the same layout for its value
    value = np.arange(float(np.prod(expected.shape))).reshape(expected.shape)
    x[index] = value
    written = CUBE.copy()
    written[index] = value
    assert_eq(x, written, scheduler=sched)


LAZY_INDEX = np.array([9, 0, -1, 3, 3, 7])


@pytest.mark.parametrize("index_chunks", [2, 6, 1])
@pytest.mark.parametrize("select", [
    lambda m, i: m[:, i], lambda m, i: m[i % 6], lambda m, i: m[2, i], lambda m, i: m[i % 6, 1:],
    lambda m, i: m[None, i % 6], lambda m, i: m[1:5, i[::-2]],
], ids=["columns", "rows", "int-and-array", "rows-then-slice", "new-axis", "after-slice"])
def test_lazy_integer_array_indexing(select, index_chunks, sched):
    """``x[:, idx]`` with a lazy integer Array: its values are read only when computed."""
    x = sa.from_array(A, chunks=(4, 3))
    index = sa.from_array(LAZY_INDEX, chunks=index_chunks)
    result, expected = select(x, index), select(A, LAZY_INDEX)
    assert result.shape == expected.shape
    assert_eq(result, expected, scheduler=sched)
    assert_eq(np.take(x, index % 6, axis=0), np.take(A, LAZY_INDEX % 6, axis=0), scheduler=sched)
    assert_eq(np.take(x, index), np.take(A, LAZY_INDEX), scheduler=sched)


def test_lazy_integer_index_of_unknown_length_and_out_of_bounds():
    x = sa.from_array(A, chunks=(4, 3))
    picked = sa.from_array(LAZY_INDEX, chunks=2)
    picked = picked[picked > 2]  # unknown length
    assert np.isnan(x[:, picked].shape[1])
    assert_eq(x[:, picked], A[:, LAZY_INDEX[LAZY_INDEX > 2]])
    assert_eq(CUBE[0, :, [1, 5]], sa.from_array(CUBE, chunks=2)[0, :, sa.from_array(np.array([1, 5]), chunks=1)])
    with pytest.raises(IndexError, match="index 10 is out of bounds for axis 1 with size 10"):
        x[:, sa.from_array(np.array([10]))].compute()


def test_take():
    x = sa.from_array(A, chunks=(4, 3))
    assert_eq(np.take(x, [1, 3], axis=1), np.take(A, [1, 3], axis=1))
    assert_eq(np.take(x, [1, 33, 59]), np.take(A, [1, 33, 59]))
    assert_eq(sa.take(x, np.array([-1, 0]), axis=0), np.take(A, [-1, 0], axis=0))
    assert_eq((x * 2)[[4, 1]].sum(axis=0), (A * 2)[[4, 1]].sum(axis=0))


def test_integer_array_errors_at_build_time():
    x = sa.from_array(A, chunks=(4, 3))
    with pytest.raises(IndexError, match="index 7 is out of bounds for axis 0 with size 6"):
        x[[0, 7]]
    with pytest.raises(IndexError, match="boolean index did not match"):
        x[:, np.array([True, False])]
    with pytest.raises(NotImplementedError, match="more than one integer array"):
        x[[0, 1], [2, 3]]


def test_take_on_processes(scheduler):
    assert_eq(sa.from_array(A, chunks=(4, 3))[[5, 0, 3], 2:], A[[5, 0, 3], 2:], scheduler=scheduler)


@pytest.mark.parametrize("chunks", [(4, 3), 1, -1])
def test_vindex_pointwise(chunks, sched):
    x = sa.from_array(A, chunks=chunks)
    rows, cols = [5, 0, 2, 2, -1], [9, 1, 0, 0, 3]
    assert_eq(x.vindex[rows, cols], A[rows, cols], scheduler=sched)
    R = np.array([[0, 1], [5, 4]])
    C = np.array([[9], [2]])
    assert_eq(x.vindex[R, C], A[R, C], scheduler=sched)
    assert_eq((x * 2).vindex[np.arange(6), np.arange(6)], (A * 2)[np.arange(6), np.arange(6)], scheduler=sched)


def test_vindex_errors():
    x = sa.from_array(A, chunks=(4, 3))
    with pytest.raises(IndexError, match="out of bounds for axis 1 with size 10"):
        x.vindex[[0], [10]]
    with pytest.raises(IndexError, match="broadcast"):
        x.vindex[[0, 1], [1, 2, 3]]
    with pytest.raises(IndexError, match="one integer array per axis"):
        x.vindex[[0, 1]]
