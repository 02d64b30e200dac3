"""x[index] = value compared with the same assignment on a NumPy array."""

from __future__ import annotations

import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

A = np.arange(42.0).reshape(6, 7)


@pytest.mark.parametrize("chunks", [(4, 3), 1, -1])
@pytest.mark.parametrize("index", [
    (slice(1, 5), slice(None, None, 3)), (2,), (slice(None, None, -2), -1), (Ellipsis, slice(2, 3)),
    (slice(4, 1, -1), slice(6, None, -4)), (slice(3, 3),),
], ids=repr)
def test_basic_index_assignment(index, chunks, sched):
    x = sa.from_array(A, chunks=chunks)
    before = x + 0  # made from x before the assignment
    x[index] = -5
    expected = A.copy()
    expected[index] = -5
    assert_eq(x, expected, scheduler=sched)
    assert_eq(before, A, scheduler=sched)  # Arrays made before keep their values


def test_mask_assignment_and_casting(sched):
    x = sa.from_array(A, chunks=(4, 3))
    x[x > 20] = 0
    expected = A.copy()
    expected[expected > 20] = 0
    assert_eq(x, expected, scheduler=sched)
    ints = sa.from_array(np.arange(10), chunks=3)
    ints[np.arange(10) % 3 == 0] = 2.7  # cast to the array's dtype, as NumPy does
    eager = np.arange(10)
    eager[eager % 3 == 0] = 2.7
    assert ints.dtype == eager.dtype
    assert_eq(ints, eager, scheduler=sched)


def test_array_values_that_broadcast_to_the_whole_shape():
    x = sa.from_array(A, chunks=(4, 3))
    row = np.arange(7.0) * 100
    x[x > 30] = sa.from_array(row, chunks=2)
    expected = np.where(A > 30, row, A)
    assert_eq(x, expected)
    with pytest.raises(ValueError, match="broadcast to the whole array"):
        x[x > 3] = np.ones((2, 7))


REGIONS = [
    (slice(None), 0), (slice(1, 3),), (slice(None, None, -2), slice(1, 6, 2)), (2, slice(None, None, -1)),
    (slice(5, 0, -3), 4), (Ellipsis, slice(2, 7, 4)), (slice(3, 3),), (0, 0), (-1,),
]


@pytest.mark.parametrize("chunks", [(4, 3), 1, ((1, 5), (2, 1, 4)), -1])
@pytest.mark.parametrize("index", REGIONS, ids=repr)
def test_array_value_fills_the_selection_as_in_numpy(index, chunks, sched):
    """A value of the selection's shape (or one that broadcasts to it) lands where NumPy puts it."""
    selection_shape = A[index].shape
    rng = np.random.default_rng(len(repr(index)))
    values = [rng.standard_normal(selection_shape), rng.standard_normal(selection_shape[-1:])]
    if selection_shape:
        values.append(rng.standard_normal((1,) * len(selection_shape)))
    for value in values:
        for lazy in (False, True):
            x = sa.from_array(A, chunks=chunks)
            before = x * 1
            x[index] = sa.from_array(value, chunks=2) if lazy else value
            expected = A.copy()
            expected[index] = value
            assert_eq(x, expected, scheduler=sched)
            assert_eq(before, A, scheduler=sched)


ARRAY_INDICES = [
    ([0, 3],), ([5, 0, 5, 2],), (slice(None), [6, -1, 0]), (2, [1, 1, 4]), (slice(4, 0, -2), np.array([3, 0])),
    (np.array([True, False, True, False, False, True]),), (slice(1, None), np.zeros(7, dtype=bool)), ([],),
]


@pytest.mark.parametrize("chunks", [(4, 3), 1, -1])
@pytest.mark.parametrize("index", ARRAY_INDICES, ids=repr)
def test_integer_array_and_one_axis_mask_assignment(index, chunks, sched):
    """``x[[0, 3]] = v``, ``x[:, idx] = v``, ``x[row_mask] = v``: NumPy's result, repeated positions included
    (the last write wins)."""
    selection_shape = A[index].shape
    rng = np.random.default_rng(len(repr(index)))
    values = [7.5, rng.standard_normal(selection_shape)]
    if selection_shape:
        values.append(rng.standard_normal(selection_shape[-1:]))
    for value in values:
        for lazy in (False, True):
            x = sa.from_array(A, chunks=chunks)
            x[index] = sa.from_array(value, chunks=2) if lazy and np.ndim(value) else value
            expected = A.copy()
            expected[index] = value
            assert_eq(x, expected, scheduler=sched)


@pytest.mark.parametrize("chunks", [(4, 3), 1, -1])
def test_lazy_one_dimensional_mask_assignment(chunks, sched):
    """``x[x[:, 0] > 10] = v`` and ``x[:, m] = v`` with a lazy 1-d mask, as in NumPy (values broadcast to the
    selected rows or columns)."""
    x = sa.from_array(A, chunks=chunks)
    expected = A.copy()
    x[x[:, 0] > 10] = -1
    expected[expected[:, 0] > 10] = -1
    x[:, x[0] > 3] = np.arange(6.0)[:, None]
    expected[:, expected[0] > 3] = np.arange(6.0)[:, None]
    x[x[:, 1] < 5] = sa.from_array(np.arange(7.0) * 100, chunks=2)
    expected[expected[:, 1] < 5] = np.arange(7.0) * 100
    assert_eq(x, expected, scheduler=sched)
    with pytest.raises(NotImplementedError, match="1-d boolean mask along one axis"):
        x[1:, x[0] > 3] = 0
    with pytest.raises(IndexError, match="size of axis is 6 but size of corresponding boolean axis is 7"):
        x[x[0] > 3] = 0


def test_array_value_is_cast_and_checked_against_the_selection():
    ints = sa.from_array(np.arange(12).reshape(3, 4), chunks=2)
    ints[:, 1] = [0.5, 10.7, -3.2]  # a list, cast like NumPy casts (truncating)
    expected = np.arange(12).reshape(3, 4)
    expected[:, 1] = [0.5, 10.7, -3.2]
    assert ints.dtype == expected.dtype
    assert_eq(ints, expected)
    x = sa.from_array(A, chunks=(4, 3))
    # (7,) broadcasts to x's whole shape but not to the selection (6,): NumPy refuses, and so do we
    with pytest.raises(ValueError, match=r"\(7,\).*selection's shape \(6,\)"):
        x[:, 0] = np.ones(7)
    with pytest.raises(ValueError, match="selection's shape"):
        x[1:3, 1:3] = np.ones((2, 3))


def test_assignment_errors():
    x = sa.from_array(A, chunks=(4, 3))
    with pytest.raises(IndexError, match="out of bounds"):
        x[9] = 1
    with pytest.raises(NotImplementedError, match="more than one integer array"):
        x[[0, 1], [2, 3]] = 1
    with pytest.raises(NotImplementedError, match="lazy index"):
        x[sa.arange(2, chunks=1)] = 1  # an integer Array
    with pytest.raises(IndexError, match="index 9 is out of bounds for axis 1 with size 7"):
        x[:, [0, 9]] = 1
    with pytest.raises(IndexError, match="boolean index did not match"):
        x[np.array([True, False])] = 1
    with pytest.raises(AttributeError, match="cannot set"):
        x.shape = (7, 6)
