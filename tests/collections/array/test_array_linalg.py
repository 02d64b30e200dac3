"""Matrix products compared with NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

rng = np.random.default_rng(3)
A = rng.standard_normal((7, 5))
B = rng.standard_normal((5, 6))
V = rng.standard_normal(5)


@pytest.mark.parametrize("chunks", [((3, 2), (2, 3)), 1, -1])
def test_matmul_and_dot(chunks, sched):
    x = sa.from_array(A, chunks=chunks[0] if isinstance(chunks, tuple) else chunks)
    y = sa.from_array(B, chunks=chunks[1] if isinstance(chunks, tuple) else chunks)
    v = sa.from_array(V, chunks=2)
    assert_eq(x @ y, A @ B, scheduler=sched)
    assert_eq(np.matmul(x, y), A @ B, scheduler=sched)
    assert_eq(np.dot(x, y), A @ B, scheduler=sched)
    assert_eq(x.dot(v), A @ V, scheduler=sched)
    assert_eq(v @ y, V @ B, scheduler=sched)
    assert_eq(v @ v, V @ V, scheduler=sched)
    assert_eq(A @ y, A @ B, scheduler=sched)  # ndarray on the left
    assert_eq(x @ B, A @ B, scheduler=sched)
    assert_eq(x @ x.T, A @ A.T, scheduler=sched)


def test_matmul_dtypes_and_errors():
    ints = rng.integers(0, 5, size=(4, 4))
    x = sa.from_array(ints, chunks=3)
    assert_eq(x @ x, ints @ ints)
    assert_eq(x @ sa.from_array(A[:4, :4], chunks=2), ints @ A[:4, :4])
    with pytest.raises(ValueError, match="mismatch"):
        sa.ones((3, 4)) @ sa.ones((3, 4))
    with pytest.raises(ValueError, match="scalars"):
        sa.matmul(sa.ones(3), 2)


def test_matmul_on_processes(scheduler):
    assert_eq(sa.from_array(A, chunks=3) @ sa.from_array(B, chunks=2), A @ B, scheduler=scheduler)
