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
        x[1:3] = np.ones((2, 7))


def test_assignment_errors():
    x = sa.from_array(A, chunks=(4, 3))
    with pytest.raises(IndexError, match="out of bounds"):
        x[9] = 1
    with pytest.raises(NotImplementedError, match="integer arrays"):
        x[[0, 1]] = 1
    with pytest.raises(AttributeError, match="cannot set"):
        x.shape = (7, 6)
