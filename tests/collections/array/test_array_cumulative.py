"""Cumulative reductions compared with NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

rng = np.random.default_rng(4)
A = rng.integers(1, 4, size=(7, 6))
WITH_NAN = rng.standard_normal((7, 6))
WITH_NAN[2, 3] = np.nan
WITH_NAN[5, 0] = np.nan


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("chunks", [(3, 2), 1, ((2, 5), (6,))])
def test_cumsum_cumprod(axis, chunks, sched):
    x = sa.from_array(A, chunks=chunks)
    assert_eq(np.cumsum(x, axis=axis), np.cumsum(A, axis=axis), scheduler=sched)
    assert_eq(x.cumprod(axis=axis), A.cumprod(axis=axis), scheduler=sched)
    assert_eq(x.cumsum(axis=axis, dtype="f4"), A.cumsum(axis=axis, dtype="f4"), scheduler=sched)
    w = sa.from_array(WITH_NAN, chunks=chunks)
    assert_eq(sa.nancumsum(w, axis=axis), np.nancumsum(WITH_NAN, axis=axis), scheduler=sched)
    assert_eq(np.nancumprod(w, axis=axis), np.nancumprod(WITH_NAN, axis=axis), scheduler=sched)
    assert_eq(np.cumsum(w, axis=axis), np.cumsum(WITH_NAN, axis=axis), scheduler=sched)


def test_one_dimensional_and_axis_none():
    v = np.arange(1, 11)
    x = sa.from_array(v, chunks=3)
    assert_eq(sa.cumsum(x), np.cumsum(v))
    assert_eq(x.cumprod(), v.cumprod())
    assert_eq(sa.cumsum(sa.from_array(A, chunks=(3, 4))), np.cumsum(A))  # axis=None flattens, as in NumPy
    assert_eq(np.cumprod(sa.from_array(A[:3], chunks=2)), np.cumprod(A[:3]))


def test_cumsum_on_processes(scheduler):
    assert_eq(sa.from_array(A, chunks=2).cumsum(axis=0), A.cumsum(axis=0), scheduler=scheduler)
