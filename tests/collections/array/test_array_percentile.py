"""percentile, quantile, median and nan-variants compared with NumPy (exact)."""

from __future__ import annotations

import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

rng = np.random.default_rng(10)
A = rng.standard_normal((7, 9))
WITH_NAN = A.copy()
WITH_NAN[2, 3] = np.nan


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_percentiles(axis, keepdims, sched):
    x = sa.from_array(A, chunks=(3, 4))
    w = sa.from_array(WITH_NAN, chunks=(3, 4))
    cases = [
        (np.percentile(x, 30, axis=axis, keepdims=keepdims), np.percentile(A, 30, axis=axis, keepdims=keepdims)),
        (np.percentile(x, [10, 50, 90], axis=axis, keepdims=keepdims),
         np.percentile(A, [10, 50, 90], axis=axis, keepdims=keepdims)),
        (np.quantile(x, 0.25, axis=axis, keepdims=keepdims, method="nearest"),
         np.quantile(A, 0.25, axis=axis, keepdims=keepdims, method="nearest")),
        (np.median(x, axis=axis, keepdims=keepdims), np.median(A, axis=axis, keepdims=keepdims)),
        (np.nanmedian(w, axis=axis, keepdims=keepdims), np.nanmedian(WITH_NAN, axis=axis, keepdims=keepdims)),
        (sa.nanpercentile(w, [5, 95], axis=axis), np.nanpercentile(WITH_NAN, [5, 95], axis=axis)),
    ]
    for lazy, eager in cases:
        assert isinstance(lazy, sa.Array) and lazy.shape == np.shape(eager)
        assert_eq(lazy, eager, scheduler=sched)


def test_percentile_of_ints_and_errors():
    ints = rng.integers(0, 100, size=(5, 6))
    assert_eq(sa.percentile(sa.from_array(ints, chunks=2), 40, axis=0), np.percentile(ints, 40, axis=0))
    with pytest.raises(np.exceptions.AxisError):
        sa.percentile(sa.from_array(ints, chunks=2), 40, axis=2)
    with pytest.raises(ValueError, match="duplicate"):
        sa.percentile(sa.from_array(ints, chunks=2), 40, axis=(0, 0))


CUBE = rng.standard_normal((5, 6, 4))
CUBE_WITH_NAN = CUBE.copy()
CUBE_WITH_NAN[1, 2, :] = np.nan
CUBE_WITH_NAN[0, 0, 0] = np.nan


@pytest.mark.parametrize("axis", [(0, 2), (1, 0), (0, 1, 2), (-1, -2)])
@pytest.mark.parametrize("q", [50, [10, 90], [[10, 20], [30, 40]]], ids=["scalar", "list", "2d"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_percentiles_over_several_axes_and_q_of_any_shape(axis, q, keepdims, sched):
    x = sa.from_array(CUBE, chunks=(2, 4, 3))
    expected = np.percentile(CUBE, q, axis=axis, keepdims=keepdims)
    assert_eq(np.percentile(x, q, axis=axis, keepdims=keepdims), expected, scheduler=sched)
    assert_eq(sa.quantile(x, np.asarray(q) / 100, axis=axis, keepdims=keepdims),
              np.quantile(CUBE, np.asarray(q) / 100, axis=axis, keepdims=keepdims), scheduler=sched)
    assert_eq(np.median(x, axis=axis, keepdims=keepdims), np.median(CUBE, axis=axis, keepdims=keepdims),
              scheduler=sched)
    w = sa.from_array(CUBE_WITH_NAN, chunks=(2, 4, 3))
    assert_eq(np.nanmedian(w, axis=axis, keepdims=keepdims), np.nanmedian(CUBE_WITH_NAN, axis=axis, keepdims=keepdims),
              scheduler=sched)
    if np.ndim(q) < 2:  # (NumPy's own nan-variants lay out a 2-d q over several axes wrongly)
        assert_eq(sa.nanpercentile(w, q, axis=axis, keepdims=keepdims),
                  np.nanpercentile(CUBE_WITH_NAN, q, axis=axis, keepdims=keepdims), scheduler=sched)


@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_median_of_an_empty_array_is_nan_as_in_numpy():
    assert_eq(sa.median(sa.zeros((0,), chunks=1)), np.median(np.zeros(0)))
    assert_eq(sa.median(sa.zeros((0, 3), chunks=1), axis=0), np.median(np.zeros((0, 3)), axis=0))
