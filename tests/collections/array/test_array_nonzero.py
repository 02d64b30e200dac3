"""Positions of true elements (argwhere, nonzero, flatnonzero, where(condition)) compared with NumPy."""

from __future__ import annotations

import math

import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

rng = np.random.default_rng(11)
CASES = [
    (rng.standard_normal((7, 6)) > 0.3, (3, 4)),
    (rng.standard_normal((7, 6)) > 0.3, 1),
    (rng.integers(0, 3, (4, 3, 5)), (1, 2, 2)),
    (rng.integers(0, 3, 17), 5),
    (np.zeros((5, 4)), 2),  # nothing true
    (np.ones(1, dtype=bool), 1),
    (np.array([0.0, np.nan, -0.0, 2.5]), ((1, 3),)),  # nan is non-zero; -0.0 is zero
]
IDS = ["2d", "2d-single-elements", "3d-ints", "1d", "all-zero", "one-element", "floats"]


@pytest.mark.parametrize("data, chunks", CASES, ids=IDS)
def test_nonzero_and_where_with_one_argument(data, chunks, sched):
    x = sa.from_array(data, chunks=chunks)
    expected = np.nonzero(data)
    for result in (sa.where(x), np.nonzero(x), x.nonzero(), np.where(x)):
        assert isinstance(result, tuple) and len(result) == data.ndim
        assert all(math.isnan(r.shape[0]) for r in result)
        for lazy, eager in zip(result, expected):
            assert_eq(lazy, eager, scheduler=sched)
    # the positions select the same elements NumPy's do
    assert_eq(x.vindex[tuple(p.compute() for p in sa.where(x))], data[expected], scheduler=sched)


@pytest.mark.parametrize("data, chunks", CASES, ids=IDS)
def test_argwhere_and_flatnonzero(data, chunks, sched):
    x = sa.from_array(data, chunks=chunks)
    assert_eq(np.argwhere(x), np.argwhere(data), scheduler=sched)
    assert_eq(np.flatnonzero(x), np.flatnonzero(data), scheduler=sched)
    assert_eq(np.argwhere(x > 1).compute_chunk_sizes().shape, np.argwhere(data > 1).shape)


def test_argwhere_of_a_zero_dimensional_array():
    assert_eq(np.argwhere(sa.from_array(np.float64(3.0))), np.argwhere(np.float64(3.0)))
    assert_eq(np.argwhere(sa.from_array(np.int64(0))), np.argwhere(np.int64(0)))


def test_nonzero_errors():
    x = sa.from_array(np.arange(10.0), chunks=3)
    with pytest.raises(ValueError, match="0d"):
        sa.from_array(np.float64(1.0)).nonzero()
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        sa.where(x[x > 3])
    with pytest.raises(ValueError, match="both or neither"):
        sa.where(x > 3, x)


def test_nonzero_on_processes(scheduler):
    data = rng.standard_normal((6, 5)) > 0
    assert_eq(np.nonzero(sa.from_array(data, chunks=2))[1], np.nonzero(data)[1], scheduler=scheduler)
