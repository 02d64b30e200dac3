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


WITH_NAN = np.array([2.5, np.nan, -1.0, 2.5, np.nan, 0.0, -1.0, 7.0])


@pytest.mark.parametrize("data, chunks", [
    (V, 60), (V, 1), (rng.integers(0, 6, (6, 7)), (4, 3)), (rng.integers(0, 6, (6, 7)), ((1, 5), (7,))),
    (WITH_NAN, 3), (np.array(list("mississippi")), 4), (F > 0, 7), (np.array([], dtype=float), 2),
    (np.array([4]), 1),
], ids=["ints", "ints-one-per-block", "2d", "2d-uneven", "nan", "str", "bool", "empty", "one-element"])
def test_unique_return_index_inverse_counts(data, chunks, sched):
    """The three ``return_*`` options of ``numpy.unique``, alone and together, in NumPy's order."""
    x = sa.from_array(data, chunks=chunks)
    options = ["return_index", "return_inverse", "return_counts"]
    for chosen in ([o] for o in options):
        kwargs = dict.fromkeys(chosen, True)
        result, expected = sa.unique(x, split_every=2, **kwargs), np.unique(data, **kwargs)
        assert isinstance(result, tuple) and len(result) == len(expected) == 2
        for lazy, eager in zip(result, expected):
            assert_eq(lazy, eager, scheduler=sched)
    everything = dict.fromkeys(options, True)
    for lazy, eager in zip(np.unique(x, **everything), np.unique(data, **everything)):
        assert_eq(lazy, eager, scheduler=sched)


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


@pytest.mark.parametrize("weights", [rng.random(F.shape), rng.integers(0, 5, F.shape)], ids=["float", "int"])
@pytest.mark.parametrize("kwargs", [
    dict(bins=9, range=(-2, 2)), dict(bins=[-5, -1, 0, 0.5, 5]), dict(bins=6), dict(bins=6, density=True),
    dict(bins=[-5, 0, 5], density=True),
], ids=repr)
def test_weighted_histogram(kwargs, weights, sched):
    """``weights=`` (lazy or NumPy, chunked differently from the data) as in ``numpy.histogram``."""
    x = sa.from_array(F, chunks=(7, 11))
    expected_counts, expected_edges = np.histogram(F, weights=weights, **kwargs)
    for lazy_weights in (sa.from_array(weights, chunks=6), weights):
        counts, edges = sa.histogram(x, weights=lazy_weights, **kwargs)
        assert counts.dtype == expected_counts.dtype
        assert_eq(counts, expected_counts, scheduler=sched)
        assert_eq(edges, expected_edges, scheduler=sched)
    with pytest.raises(ValueError, match="same shape"):
        sa.histogram(x, weights=weights[:5], **kwargs)


@pytest.mark.parametrize("k", [1, 5, -4, 600])
def test_topk_of_the_flattened_array(k, sched):
    x = sa.from_array(F, chunks=(7, 11))
    flat = np.sort(F.ravel())
    expected = flat[::-1][:k] if k > 0 else flat[:-k]
    assert_eq(sa.topk(x, k, axis=None, split_every=2), expected, scheduler=sched)


def _numpy_topk(data: np.ndarray, k: int, axis: int) -> np.ndarray:
    ordered = np.sort(data, axis=axis)
    if k > 0:
        ordered = np.flip(ordered, axis=axis)
    return np.take(ordered, np.arange(min(abs(k), data.shape[axis])), axis=axis)


@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("k", [1, 3, -2, -7, 40])
@pytest.mark.parametrize("chunks", [(7, 11), 1, ((1, 19), (30,)), -1])
def test_topk_along_an_axis_like_dask(k, axis, chunks, sched):
    """``topk(x, k)`` works along the last axis by default (as ``dask.array.topk``), any axis on request."""
    x = sa.from_array(F, chunks=chunks)
    expected = _numpy_topk(F, k, axis)
    for split_every in (2, None):
        result = sa.topk(x, k, axis=axis, split_every=split_every)
        assert result.shape == expected.shape
        assert_eq(result, expected, scheduler=sched)
    assert_eq(x.topk(k, axis=axis), expected, scheduler=sched)


def test_topk_of_other_dtypes_and_errors():
    ints = rng.integers(-50, 50, (4, 9))
    assert_eq(sa.topk(sa.from_array(ints, chunks=2), -3), _numpy_topk(ints, -3, -1))
    days = np.array(["2021-03-01", "2020-01-05", "2022-07-09", "2019-12-31"], dtype="M8[D]")
    assert_eq(sa.topk(sa.from_array(days, chunks=1), 2), _numpy_topk(days, 2, 0))
    x = sa.from_array(F, chunks=5)
    with pytest.raises(ValueError, match="k != 0"):
        sa.topk(x, 0)
    with pytest.raises(np.exceptions.AxisError):
        sa.topk(x, 2, axis=2)
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        sa.topk(x[x > 0], 2)


def test_summaries_on_processes(scheduler):
    assert_eq(sa.bincount(sa.from_array(V, chunks=60)), np.bincount(V), scheduler=scheduler)


@pytest.mark.parametrize("axis", [-1, 0, None])
@pytest.mark.parametrize("k", [1, 3, -2, 40])
@pytest.mark.parametrize("chunks", [(7, 11), 1, ((1, 19), (30,))])
def test_argtopk_like_dask(k, axis, chunks, sched):
    """Positions of the k largest (k < 0: smallest) along the axis, best first; F has no ties."""
    x = sa.from_array(F, chunks=chunks)
    data, along = (F.ravel(), 0) if axis is None else (F, axis)
    order = np.argsort(data, axis=along, kind="stable")
    if k > 0:
        order = np.flip(order, axis=along)
    expected = np.take(order, np.arange(min(abs(k), data.shape[along])), axis=along)
    for result in (sa.argtopk(x, k, axis=axis, split_every=2), x.argtopk(k, axis=axis)):
        assert result.dtype == np.intp and result.shape == expected.shape
        assert_eq(result, expected, scheduler=sched)
