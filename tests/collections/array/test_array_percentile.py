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
    with pytest.raises(NotImplementedError, match="several axes"):
        sa.percentile(sa.from_array(ints, chunks=2), 40, axis=(0, 1))
