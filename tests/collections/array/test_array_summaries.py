"""unique, bincount, histogram and topk compared with NumPy."""

from __future__ import annotations

import math

import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

rng = np.random.default_rng(8)
V = rng.integers(0, 20, 500)
W = rng.random(500)
F = rng.standard_normal((20, 30))


@pytest.mark.parametrize("chunks", [37, 1, -1])
def test_unique_and_bincount(chunks, sched):
    x = sa.from_array(V, chunks=chunks)
    u = np.unique(x)
    assert isinstance(u, sa.Array) and math.isnan(u.shape[0])
    assert_eq(u, np.unique(V), scheduler=sched)
    assert_eq(sa.unique(sa.from_array(F > 0, chunks=7)), np.unique(F > 0), scheduler=sched)
    assert_eq(sa.bincount(x, split_every=3), np.bincount(V), scheduler=sched)
    assert_eq(np.bincount(x, minlength=30), np.bincount(V, minlength=30), scheduler=sched)
    assert_eq(sa.bincount(x, weights=sa.from_array(W, chunks=50)), np.bincount(V, weights=W), scheduler=sched)


@pytest.mark.parametrize("chunks", [(7, 11), 1])
def test_histogram(chunks, sched):
    x = sa.from_array(F, chunks=chunks)
    counts, edges = sa.histogram(x, bins=9, range=(-2, 2))
    expected_counts, expected_edges = np.histogram(F, bins=9, range=(-2, 2))
    np.testing.assert_array_equal(edges, expected_edges)
    assert_eq(counts, expected_counts, scheduler=sched)
    counts, _ = np.histogram(x, bins=[-5, -1, 0, 0.5, 5])
    assert_eq(counts, np.histogram(F, bins=[-5, -1, 0, 0.5, 5])[0], scheduler=sched)
    # a number of bins without range: the edges come from the data's min and max, lazily
    counts, edges = np.histogram(x, bins=5)
    expected_counts, expected_edges = np.histogram(F, bins=5)
    assert_eq(edges, expected_edges, scheduler=sched)
    assert_eq(counts, expected_counts, scheduler=sched)
    for bins, data_range in ((7, None), ([-5, -1, 0, 0.5, 5], None), (4, (-1, 1))):
        density, _ = sa.histogram(x, bins=bins, range=data_range, density=True)
        assert_eq(density, np.histogram(F, bins=bins, range=data_range, density=True)[0], scheduler=sched)
    # all values equal: NumPy widens the range by 0.5 on each side
    assert_eq(sa.histogram(sa.full((3,), 2.0, chunks=2), bins=3)[1], np.histogram(np.full(3, 2.0), bins=3)[1])
    with pytest.raises(ValueError, match="range="):
        sa.histogram(sa.from_array(np.array([1.0, np.nan]), chunks=1), bins=3)[0].compute(scheduler=sched)


@pytest.mark.parametrize("k", [1, 5, -4, 600])
def test_topk(k, sched):
    x = sa.from_array(F, chunks=(7, 11))
    flat = np.sort(F.ravel())
    expected = flat[::-1][:k] if k > 0 else flat[:-k]
    assert_eq(sa.topk(x, k, split_every=2), expected, scheduler=sched)


def test_summaries_on_processes(scheduler):
    assert_eq(sa.bincount(sa.from_array(V, chunks=60)), np.bincount(V), scheduler=scheduler)
